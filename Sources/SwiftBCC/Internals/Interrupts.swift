import Glibc
import Synchronization

/// Ctrl-C and SIGTERM for event loops.
///
/// The first time a SwiftBCC call blocks waiting for the kernel (a trace_pipe read, a perf or
/// ring buffer poll), SwiftBCC installs handlers for SIGINT and SIGTERM, unless the program
/// has installed its own. From then on either signal makes the waiting call return, with
/// `BPFError.interrupted` (or normally, for `tracePrint()`), and every later blocking call
/// returns at once: the program winds down, its `BPF` objects clean up, and it exits 0.
/// This plays the part of Python's KeyboardInterrupt in a BCC tool's main loop.
public enum Interrupts {
    /// The signal that arrived, or nil.
    public static var pendingSignal: Int32? {
        let s = pending.load(ordering: .acquiring)
        return s == 0 ? nil : s
    }

    /// Installs the SIGINT/SIGTERM handlers now (they are otherwise installed lazily by the
    /// first blocking call). Signals whose disposition the program changed are left alone.
    public static func install() {
        installLock.withLock {
            guard !installed else { return }
            installed = true
            var fds: [Int32] = [-1, -1]
            guard pipe(&fds) == 0 else { return }
            for fd in fds {
                _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
                _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
            }
            wakeReadFD = fds[0]
            wakeWriteFD = fds[1]
            // Initialize every global the handler touches now: a lazy global's first access
            // (swift_once) must not happen inside a signal handler.
            _ = pending.load(ordering: .relaxed)
            unblock()
            for sig in [SIGINT, SIGTERM] {
                var old = sigaction()
                sigaction(sig, nil, &old)
                // Leave a handler the program installed alone; replace only the default.
                if old.__sigaction_handler.sa_handler != nil { continue }
                var action = sigaction()
                // Async-signal-safe: a lock-free atomic store and write(2); errno is restored so
                // the interrupted code's errno survives (a full pipe sets EAGAIN).
                action.__sigaction_handler.sa_handler = { sig in
                    let savedErrno = errno
                    Interrupts.pending.store(sig, ordering: .releasing)
                    var byte: UInt8 = 1
                    _ = Glibc.write(Interrupts.wakeWriteFD, &byte, 1)
                    errno = savedErrno
                }
                sigemptyset(&action.sa_mask)
                action.sa_flags = SA_RESTART
                sigaction(sig, &action, nil)
            }
        }
    }

    /// Unblocks SIGINT and SIGTERM on the calling thread. A blocked mask is inherited across
    /// exec (a test runner or service manager may pass one on), and a blocked signal would
    /// never reach the handler.
    static func unblock() {
        var set = sigset_t()
        sigemptyset(&set)
        sigaddset(&set, SIGINT)
        sigaddset(&set, SIGTERM)
        pthread_sigmask(SIG_UNBLOCK, &set, nil)
    }

    /// Test hook and programmatic stop: behave as if `signal` had arrived.
    public static func request(signal: Int32 = SIGTERM) {
        install()
        pending.store(signal, ordering: .releasing)
        var byte: UInt8 = 1
        _ = Glibc.write(wakeWriteFD, &byte, 1)
    }

    /// Forgets a stop signal that arrived, so blocking calls wait again.
    public static func reset() {
        pending.store(0, ordering: .releasing)
        guard wakeReadFD >= 0 else { return }
        var buf = [UInt8](repeating: 0, count: 64)
        while Glibc.read(wakeReadFD, &buf, buf.count) > 0 {}
    }

    /// Throws `.interrupted` if a stop signal has arrived.
    static func check() throws {
        if let s = pendingSignal { throw BPFError.interrupted(signal: s) }
    }

    /// The `monotonicMs()` time `timeoutMs` from now; `Int64.max` (never) for a negative
    /// timeout or one too large to add (such a wait is as good as forever).
    static func deadline(afterMs timeoutMs: Int) -> Int64 {
        guard timeoutMs >= 0 else { return .max }
        let (sum, overflow) = monotonicMs().addingReportingOverflow(Int64(timeoutMs))
        return overflow ? .max : sum
    }

    /// `poll(2)`'s timeout for waiting until `deadline`: -1 for `Int64.max`, else the
    /// milliseconds left (0 once past), clamped to `Int32`; a wait longer than that loops.
    static func pollTimeout(until deadline: Int64) -> Int32 {
        deadline == .max ? -1 : Int32(clamping: max(0, deadline - monotonicMs()))
    }

    static func monotonicMs() -> Int64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Int64(ts.tv_sec) * 1000 + Int64(ts.tv_nsec) / 1_000_000
    }

    static let pending = Atomic<Int32>(0)
    nonisolated(unsafe) static var wakeReadFD: Int32 = -1
    nonisolated(unsafe) static var wakeWriteFD: Int32 = -1
    private static let installLock = Lock()
    nonisolated(unsafe) private static var installed = false
}
