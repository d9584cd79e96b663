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
    /// success, negative when it found nothing it could release).
    /// Python: `b.free_bcc_memory()`; libbcc: `bcc_free_memory`.
    @discardableResult
    public func freeBCCMemory() -> Int32 { bcc_free_memory() }

    /// The number of probes a regex attach may open: `BCC_PROBE_LIMIT` when set, else 1000.
    /// Same as ``BPF/probeLimit``. Python: `BPF.get_probe_limit()`.
    public static func getProbeLimit() -> Int { probeLimit }

    /// Deprecated in Python, kept for programs written against it: the same as
    /// ``perfBufferPoll(timeout:)``. Python: `b.kprobe_poll(timeout=-1)`.
    public func kprobePoll(timeout: Int = -1) throws { try perfBufferPoll(timeout: timeout) }

    /// Detaches every function attached to kprobe event `evName`, the name Python gives it
    /// (`p_<event>` or `r_<event>`, with `+` and `.` as `_`), and removes the event once none is
    /// left. Throws `.notAttached` when this `BPF` has no such event.
    /// Python: `b.detach_kprobe_event(ev_name)`; libbcc: `bpf_close_perf_event_fd`, `bpf_detach_kprobe`.
    public func detachKprobeEvent(_ evName: String) throws {
        try detachKprobeEvent(evName, fnName: nil)
    }

    /// Detaches function `fnName` from kprobe event `evName` (all of them when nil), removing the
    /// event when no function is left. Python: `b.detach_kprobe_event_by_fn(ev_name, fn_name)`.
    public func detachKprobeEvent(_ evName: String, fnName: String?) throws {
        try lock.withLock {
            guard var byFn = kprobeFDs[evName], !byFn.isEmpty else {
                throw BPFError.notAttached(kind: "kprobe event", target: evName)
            }
            let names = fnName.map { [$0] } ?? byFn.keys.sorted()
            for name in names {
                guard let fd = byFn.removeValue(forKey: name) else {
                    throw BPFError.notAttached(kind: "kprobe event", target: "\(evName) (function \(name))")
                }
                _ = bpf_close_perf_event_fd(fd)
            }
            guard byFn.isEmpty else {
                kprobeFDs[evName] = byFn
                return
            }
            kprobeFDs.removeValue(forKey: evName)
            let ((res, err), output) = StderrCapture.capture { () -> (Int32, Int32) in
                let res = bpf_detach_kprobe(evName)
                return (res, errno)
            }
            if res < 0 {
                throw BPFError.systemCall(name: "bpf_detach_kprobe(\(evName))", errno: err, detail: output.text)
            }
        }
    }
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

    public init(_ arg: String) { bytes = Array(arg.utf8) }
    public init(bytes: [UInt8]) { self.bytes = bytes }

    /// The argument as text (invalid UTF-8 shown as U+FFFD). Python: `str(arg)`.
    public var description: String { String(decoding: bytes, as: UTF8.self) }
}
