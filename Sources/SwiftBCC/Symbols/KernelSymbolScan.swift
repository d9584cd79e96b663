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
        line.withUnsafeBufferPointer { bytes -> Symbol? in
            let f = KallsymsLine(bytes, 0..<bytes.count)
            guard f.address.count > 0, f.address.count <= 16, f.type.count == 1 else { return nil }
            var address: UInt64 = 0
            for b in bytes[f.address] {
                let v: UInt8
                switch b {
                case UInt8(ascii: "0")...UInt8(ascii: "9"): v = b - UInt8(ascii: "0")
                case UInt8(ascii: "a")...UInt8(ascii: "f"): v = b - UInt8(ascii: "a") + 10
                case UInt8(ascii: "A")...UInt8(ascii: "F"): v = b - UInt8(ascii: "A") + 10
                default: return nil
                }
                address = address << 4 | UInt64(v)
            }
            guard address != 0, address != .max, address >= 0x00ff_ffff_ffff_ffff,
                  !"bBdDrR".utf8.contains(bytes[f.type.lowerBound]), !f.name.isEmpty else { return nil }
            let name = UnsafeBufferPointer(rebasing: bytes[f.name])
            guard names.contains(where: { $0.elementsEqual(name) }) else { return nil }
            var module = "kernel"
            if let open = f.rest.first, bytes[open] == UInt8(ascii: "["),
               let close = bytes[f.rest].firstIndex(of: UInt8(ascii: "]")) {
                module = String(decoding: UnsafeBufferPointer(rebasing: bytes[(open + 1)..<close]), as: UTF8.self)
            }
            return Symbol(name: String(decoding: name, as: UTF8.self), module: module, address: address)
        }
    }
}

/// The fields of one /proc/kallsyms line, `address type name [module]` with spaces or tabs
/// between them, as ranges of `bytes` (empty when the line has fewer fields); `rest` is what
/// follows the name's separators (the `[module]`). Shared by ``KernelSymbolScan`` and
/// `BPF.kprobeCandidates`, which read the file as bytes.
struct KallsymsLine {
    var address: Range<Int>
    var type: Range<Int>
    var name: Range<Int>
    var rest: Range<Int>

    init(_ bytes: UnsafeBufferPointer<UInt8>, _ line: Range<Int>) {
        var i = line.lowerBound
        func isSpace(_ b: UInt8) -> Bool { b == 0x20 || b == 0x09 }
        func skipSpaces() { while i < line.upperBound, isSpace(bytes[i]) { i += 1 } }
        func field() -> Range<Int> {
            let start = i
            while i < line.upperBound, !isSpace(bytes[i]) { i += 1 }
            return start..<i
        }
        skipSpaces(); address = field()
        skipSpaces(); type = field()
        skipSpaces(); name = field()
        skipSpaces(); rest = i..<line.upperBound
    }
}
