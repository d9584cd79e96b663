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
/// into the file) with libbcc's own rules (addresses in kernel space, no data symbols;
/// ``KernelSymbolScan``), once per process. The front end then decides exactly as it would have, so the compiled program
/// is the same (tests compare the instructions). When /proc/kallsyms cannot be read, or
/// `SWIFTBCC_KALLSYMS=full`, libbcc's own function runs.
enum KallsymsShortcut {
    /// The names libbcc's front end resolves through its kernel symbol cache.
    static let names = ["bpf_probe_read_kernel", "bpf_probe_read_user"]

    /// Whether the shortcut answers: on unless `SWIFTBCC_KALLSYMS=full`.
    static var enabledByEnvironment: Bool {
        getenv("SWIFTBCC_KALLSYMS").map { String(cString: $0) } != "full"
    }

    /// The scan's result, once per process: nil when /proc/kallsyms cannot be opened.
    static let found: [KernelSymbolScan.Symbol]? = KernelSymbolScan.scan(path: "/proc/kallsyms", wanted: Set(names))

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
}
