import Glibc

/// A scan of /proc/kallsyms for a few names that stops once it has them, with the rules of
/// libbcc's `bcc_procutils_each_ksym` (kernel-space addresses, no data symbols): what the
/// compile's ``KallsymsShortcut``, ``BPF/getSyscallPrefix()`` and ``BPF/ksymnames(_:)`` ask,
/// without the whole file that libbcc's symbol cache reads, sorts and indexes.
enum KernelSymbolScan {
    /// One symbol as `bcc_procutils_each_ksym` reports it.
    struct Symbol: Equatable, Sendable {
        var name: String
        var module: String
        var address: UInt64
    }

    /// Reads `path` (kallsyms format: `address type name [module]`) until every name in
    /// `wanted` was seen, keeping the lines `bcc_procutils_each_ksym` would report for them:
    /// address neither 0 nor all ones and in kernel space, type not a data symbol
    /// (`b B d D r R`). Nil when the file cannot be opened.
    /// With `untilAny`, the scan stops at the first of them instead (for names of which a
    /// kernel has at most one, as the syscall prefixes' `<prefix>bpf`).
    static func scan(path: String, wanted: Set<String>, untilAny: Bool = false) -> [Symbol]? {
        let fd = Glibc.open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        let names = wanted.map { Array($0.utf8) }
        var symbols: [Symbol] = []
        var remaining = wanted
        var pending: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 64 * 1024)
        while !remaining.isEmpty {
            let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0, errno == EINTR { continue }
            if n <= 0 { break }
            pending.append(contentsOf: buffer[0..<n])
            var lineStart = 0
            while let newline = pending[lineStart...].firstIndex(of: UInt8(ascii: "\n")) {
                if let symbol = parse(pending[lineStart..<newline], names: names) {
                    symbols.append(symbol)
                    remaining.remove(symbol.name)
                    if untilAny { return symbols }
                }
                lineStart = newline + 1
            }
            pending.removeFirst(lineStart)
        }
        return symbols
    }

    /// The symbol on one kallsyms line if its name is one of `names` and
    /// `bcc_procutils_each_ksym` reports it; nil otherwise (allocating nothing then).
    static func parse(_ line: ArraySlice<UInt8>, names: [[UInt8]]) -> Symbol? {
        func isSpace(_ b: UInt8) -> Bool { b == 0x20 || b == 0x09 }
        var i = line.startIndex
        var address: UInt64 = 0
        var digits = 0
        while i < line.endIndex, !isSpace(line[i]) {
            let b = line[i]
            let v: UInt8
            switch b {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): v = b - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): v = b - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): v = b - UInt8(ascii: "A") + 10
            default: return nil
            }
            guard digits < 16 else { return nil }
            address = address << 4 | UInt64(v)
            digits += 1
            i += 1
        }
        guard digits > 0, address != 0, address != .max, address >= 0x00ff_ffff_ffff_ffff else { return nil }
        i += 1
        guard i < line.endIndex, !"bBdDrR".utf8.contains(line[i]) else { return nil }
        i += 2
        guard i < line.endIndex else { return nil }
        let nameStart = i
        while i < line.endIndex, !isSpace(line[i]) { i += 1 }
        let name = line[nameStart..<i]
        guard names.contains(where: { $0.elementsEqual(name) }) else { return nil }
        var module = "kernel"
        while i < line.endIndex, isSpace(line[i]) { i += 1 }
        if i < line.endIndex, line[i] == UInt8(ascii: "["), let close = line[i...].firstIndex(of: UInt8(ascii: "]")) {
            module = String(decoding: line[(i + 1)..<close], as: UTF8.self)
        }
        return Symbol(name: String(decoding: name, as: UTF8.self), module: module, address: address)
    }
}
