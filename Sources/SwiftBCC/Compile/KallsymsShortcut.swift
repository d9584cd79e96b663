internal import CBCC
import Glibc
import Synchronization

/// The answer libbcc's clang front end wants from /proc/kallsyms, found without reading it all.
///
/// Every compile, libbcc's front end (`DoMiscWorkAround` and `check_bpf_probe_read_user` in
/// b_frontend_action.cc) asks a kernel symbol cache whether `bpf_probe_read_kernel` (and, for a
/// program that calls `bpf_probe_read_user`, whether that) is a kernel symbol, to choose between
/// the new probe-read helpers and `bpf_probe_read`. The cache loads the whole of /proc/kallsyms
/// (`bcc_procutils_each_ksym`: about 120,000 lines the kernel formats one by one, each kept as
/// C++ strings, sorted, then indexed by name) and is thrown away after the compile: about 0.2 s
/// of CPU and 12 MiB of peak RSS, more than half of a hello-world cold start, in every BCC
/// binding (bcc#2367).
///
/// SwiftBCC points libbcc.so.0's PLT slot for `bcc_procutils_each_ksym` at ``replacement``,
/// which hands the cache only the symbols the front end looks up, found by a scan of
/// /proc/kallsyms that stops at the last of them (they are near each other, a fifth of the way
/// into the file) with libbcc's own rules (addresses in kernel space, no data symbols), once
/// per process. The front end then decides exactly as it would have, so the compiled program
/// is the same (tests compare the instructions). When /proc/kallsyms cannot be read, or
/// `SWIFTBCC_KALLSYMS=full`, libbcc's own function runs.
enum KallsymsShortcut {
    /// The names libbcc's front end resolves through its kernel symbol cache.
    static let names = ["bpf_probe_read_kernel", "bpf_probe_read_user"]

    /// One symbol as `bcc_procutils_each_ksym` reports it.
    struct Symbol: Equatable, Sendable {
        var name: String
        var module: String
        var address: UInt64
    }

    /// Whether the shortcut answers: on unless `SWIFTBCC_KALLSYMS=full`.
    static var enabledByEnvironment: Bool {
        getenv("SWIFTBCC_KALLSYMS").map { String(cString: $0) } != "full"
    }

    /// The scan's result, once per process: nil when /proc/kallsyms cannot be opened.
    static let found: [Symbol]? = scan(path: "/proc/kallsyms", wanted: Set(names))

    /// Whether an installed shortcut answers (tests turn it off to compare with libbcc's scan).
    static let active = Atomic<Bool>(true)

    /// How many times the shortcut answered, and how many times libbcc's own function ran.
    static let answered = Atomic<Int>(0)
    static let passedOn = Atomic<Int>(0)

    nonisolated(unsafe) private static var original: UnsafeMutableRawPointer?

    /// Installs ``replacement`` in the library opened as `handle`; false when it has no such
    /// slot (another libbcc build) and nothing changed. Called once, under the compiler's lock.
    static func install(handle: UnsafeMutableRawPointer?) -> Bool {
        guard enabledByEnvironment else { return false }
        let target = unsafeBitCast(replacement, to: UnsafeMutableRawPointer.self)
        guard let previous = swiftbcc_replace_plt_slot(handle, "bcc_procutils_each_ksym", target) else { return false }
        original = previous
        return true
    }

    /// `bcc_procutils_each_ksym` for libbcc.so.0: the symbols the front end looks up, or
    /// libbcc's own function when the scan could not read /proc/kallsyms.
    static let replacement: @convention(c) (bcc_procutils_ksymcb?, UnsafeMutableRawPointer?) -> Int32 = { callback, payload in
        guard KallsymsShortcut.active.load(ordering: .relaxed), let symbols = KallsymsShortcut.found, let callback else {
            KallsymsShortcut.passedOn.add(1, ordering: .relaxed)
            guard let original = KallsymsShortcut.original else { return -1 }
            typealias EachKsym = @convention(c) (bcc_procutils_ksymcb?, UnsafeMutableRawPointer?) -> Int32
            return unsafeBitCast(original, to: EachKsym.self)(callback, payload)
        }
        KallsymsShortcut.answered.add(1, ordering: .relaxed)
        for s in symbols {
            s.name.withCString { name in s.module.withCString { module in callback(name, module, s.address, payload) } }
        }
        return 0
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
