import Glibc

// Text output helpers, shared by this library (histograms, captured stderr passed through),
// the examples and ports of Python tools (`ljust`, `rjust`, `writeAll` are public; `printb`
// and the `"\(s, width: -16)"` interpolation are in Porting/Printing.swift).

/// `s` left-aligned in a field of `width` characters (C's `%-Ns`, Python's `str.ljust`);
/// never truncated.
public func ljust(_ s: String, _ width: Int) -> String {
    s.count >= width ? s : s + String(repeating: " ", count: width - s.count)
}

/// `s` right-aligned in a field of `width` characters (C's `%Ns`, Python's `str.rjust`);
/// never truncated.
public func rjust(_ s: String, _ width: Int) -> String {
    s.count >= width ? s : String(repeating: " ", count: width - s.count) + s
}

/// Writes all of `bytes` to file descriptor `fd` (retrying short writes and EINTR), as they
/// are: no encoding, no stdio buffer (call `fflush(nil)` first to keep the order with `print`).
public func writeAll(_ bytes: [UInt8], to fd: Int32) {
    bytes.withUnsafeBytes { buf in
        var offset = 0
        while offset < buf.count {
            let n = write(fd, buf.baseAddress! + offset, buf.count - offset)
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { break }
            offset += n
        }
    }
}

/// Writes `message` to stderr as one line (a newline is added when missing), or hands it to
/// `BPF.logHandler` when one is set.
package func warnLine(_ message: String) {
    logWarning(message.hasSuffix("\n") ? String(message.dropLast()) : message)
}

private let warned = LockedBox<Set<String>>([])

/// Writes `message` to stderr as one line, once per process.
func warnOnce(_ message: String) {
    guard warned.withLock({ $0.insert(message).inserted }) else { return }
    warnLine(message)
}
