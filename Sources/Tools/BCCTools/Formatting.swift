import Glibc

// Column padding and number formatting as Python's `%` operator and C's printf do them.

/// `s` left-aligned in `width` columns (`%-16s`, Python's `str.ljust`); never truncated.
public func pad(_ s: String, _ width: Int) -> String {
    // Python pads by code points; counting scalars is also cheaper than counting Characters.
    let n = s.unicodeScalars.count
    return n >= width ? s : s + String(repeating: " ", count: width - n)
}

/// `s` right-aligned in `width` columns (`%4s`); never truncated.
public func padLeft(_ s: String, _ width: Int) -> String {
    let n = s.unicodeScalars.count
    return n >= width ? s : String(repeating: " ", count: width - n) + s
}

/// printf-style formatting of numbers: `cformat("%-14.9f", x)`, `cformat("%08o", flags)`.
/// Pass Swift strings through ``pad(_:_:)``/``padLeft(_:_:)`` instead of `%s`.
public func cformat(_ format: String, _ args: any CVarArg...) -> String {
    withVaList(args) { list in
        var buffer = [CChar](repeating: 0, count: 256)
        let n = Int(vsnprintf(&buffer, buffer.count, format, list))
        if n >= buffer.count {
            buffer = [CChar](repeating: 0, count: n + 1)
            return withVaList(args) { again in
                _ = vsnprintf(&buffer, buffer.count, format, again)
                return String(decoding: buffer.prefix(n).map { UInt8(bitPattern: $0) }, as: UTF8.self)
            }
        }
        return String(decoding: buffer.prefix(max(0, n)).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}

/// A C char array from an event (`char comm[16]`) as a String, up to its first NUL, bytes that
/// are not UTF-8 replaced (Python's `.decode('utf-8', 'replace')`).
public func cText<T: BitwiseCopyable>(_ chars: T) -> String {
    withUnsafeBytes(of: chars) { raw in
        let end = raw.firstIndex(of: 0) ?? raw.count
        return String(decoding: raw[0..<end], as: UTF8.self)
    }
}

/// Writes `line` and a newline to stdout and flushes, so a reader of a pipe or file sees each
/// row as it happens.
public func emitLine(_ line: String) {
    print(line)
    fflush(nil)
}

/// Writes `text` to stdout without a newline (Python's `print(..., end="")`).
public func emit(_ text: String) {
    print(text, terminator: "")
    fflush(nil)
}

/// Writes `message` as one line on stderr.
public func warn(_ message: String) {
    fflush(nil)
    let line = message.hasSuffix("\n") ? message : message + "\n"
    var bytes = Array(line.utf8)
    var offset = 0
    while offset < bytes.count {
        let n = bytes.withUnsafeMutableBytes { write(2, $0.baseAddress! + offset, $0.count - offset) }
        if n < 0 && errno == EINTR { continue }
        if n <= 0 { break }
        offset += n
    }
}

/// The contents of a small text file (a /proc or /sys entry), or nil when it cannot be read.
public func readSmallFile(_ path: String, limit: Int = 65536) -> String? {
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { return nil }
    defer { close(fd) }
    var bytes: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 4096)
    while bytes.count < limit {
        let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        if n < 0 && errno == EINTR { continue }
        if n <= 0 { break }
        bytes.append(contentsOf: chunk[0..<n])
    }
    return String(decoding: bytes, as: UTF8.self)
}
