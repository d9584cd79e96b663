internal import CBCC
import Glibc

extension BPF {
    /// CLOCK_MONOTONIC in nanoseconds, the clock `bpf_ktime_get_ns()` reads, so user space can
    /// compare its own times with the kernel's. Python returns a float of nanoseconds; this is
    /// the exact integer. Python: `BPF.monotonic_time()`; libc: `clock_gettime(CLOCK_MONOTONIC)`.
    public static func monotonicTime() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)  // cannot fail for CLOCK_MONOTONIC with a valid pointer
        return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
    }

    /// Gives back to the system the memory libbcc no longer needs (the pages of its own code
    /// and LLVM's that compiling used), as tools do once every program is loaded and attached.
    /// Python calls it nowhere itself; neither does SwiftBCC. Returns libbcc's result (0 on
    /// success, negative when it found nothing it could release), and 0 without calling it
    /// when there is nothing to release: no compile has opened libbcc's compiler (a warm start
    /// from the compile cache maps no LLVM), or it was opened without `RTLD_DEEPBIND` (under a
    /// sanitizer), where libbcc's function would bind to the linked `libbcc_bpf` and release
    /// that library's pages instead of LLVM's.
    /// Python: `b.free_bcc_memory()`; libbcc: `bcc_free_memory`.
    @discardableResult
    public func freeBCCMemory() -> Int32 {
        guard Compiler.isLoaded, Compiler.api.deep_bound != 0 else { return 0 }
        return Compiler.api.bcc_free_memory!()
    }

    /// The number of probes a regex attach may open: `BCC_PROBE_LIMIT` when set, else 1000.
    /// Same as ``BPF/probeLimit``. Python: `BPF.get_probe_limit()`.
    public static func getProbeLimit() -> Int { probeLimit }

    /// Deprecated in Python, kept for programs written against it: the same as
    /// ``perfBufferPoll(timeout:)``. Python: `b.kprobe_poll(timeout=-1)`.
    public func kprobePoll(timeout: Int = -1) throws { try perfBufferPoll(timeout: timeout) }
}

/// A command-line argument kept as its bytes, to compare with what the kernel or a probe
/// reports (a `comm`, a path) without decoding either side. Python: `bcc.utils.ArgString`.
///
/// ```swift
/// let name = ArgString(CommandLine.arguments[1])
/// if event.comm.prefix(while: { $0 != 0 }).elementsEqual(name.bytes) { ... }
/// ```
public struct ArgString: Sendable, Hashable, CustomStringConvertible {
    /// The argument's bytes (UTF-8, as the file system encoding on Linux). Python: `bytes(arg)`.
    public let bytes: [UInt8]

    /// The argument's UTF-8 bytes. Python: `ArgString(arg)`.
    public init(_ arg: String) { bytes = Array(arg.utf8) }
    /// An argument from its bytes, as they are.
    public init(bytes: [UInt8]) { self.bytes = bytes }

    /// The argument as text (invalid UTF-8 shown as U+FFFD). Python: `str(arg)`.
    public var description: String { String(decoding: bytes, as: UTF8.self) }
}
