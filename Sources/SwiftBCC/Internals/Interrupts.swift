import Glibc
import Synchronization

/// Ctrl-C, SIGTERM, SIGHUP and SIGQUIT for event loops.
///
/// The first time a SwiftBCC call blocks waiting for the kernel (a trace_pipe read, a perf or
/// ring buffer poll), SwiftBCC installs handlers for SIGINT, SIGTERM, SIGHUP (a closed
/// terminal or ssh session) and SIGQUIT (Ctrl-\\), unless the program has installed its own
/// (or ignores one, as under nohup): each stops the program the same way, so it detaches and
/// exits 0 instead of dying with its probes, programs and XDP attachments still in the kernel. From then on, the rule is the same for every public blocking call
/// (`tracePrint`, `traceReadline`, `traceFields`, `perfBufferPoll`, `ringBufferPoll`,
/// `pollLoop`):
///
/// 1. A wait in progress when the signal arrives, or the first one started after it, flushes
///    stdout and returns normally (`traceReadline`/`traceFields` return nil,
///    `ringBufferPoll` returns 0). `BPF.isInterrupted` is then true: `while !BPF.isInterrupted
///    { try b.perfBufferPoll() }` ends, the program's `BPF` objects clean up, and it exits 0.
///    `tracePrint()` and `pollLoop` end by themselves. This plays the part of Python's
///    KeyboardInterrupt in a BCC tool's main loop.
/// 2. A program that waits again after that (`while true { try b.perfBufferPoll() }`) was told
///    to stop and did not: the wait (`traceReadline`, `traceFields`, `perfBufferPoll`,
///    `ringBufferPoll`; `tracePrint` and `pollLoop` just return at once) flushes stdout and
///    re-raises the signal with its default action, so the process ends by that signal as it
///    would have without SwiftBCC's handler (exit status 130 for Ctrl-C in a shell), with no
///    Swift error and no backtrace. The kernel detaches the probes and closes the buffers with
///    the process.
/// 3. A stop asked for with `Interrupts.request(signal:)` (no real signal) never ends the
///    process: a wait started after it was reported throws `BPFError.interrupted` instead.
///
/// Event streams (`events(as:)`) end normally on a stop signal too (a `for try await` loop
/// ends and the program goes on). Nonblocking calls (`perfBufferConsume`, `ringBufferConsume`,
/// timeout 0 reads) work as usual after a stop, so a program may drain what is left.
public enum Interrupts {
    /// The signals that stop a SwiftBCC program cleanly.
    public static let stopSignals: [Int32] = [SIGINT, SIGTERM, SIGHUP, SIGQUIT]

    /// The signal that arrived, or nil.
    public static var pendingSignal: Int32? {
        let s = pending.load(ordering: .acquiring)
        return s == 0 ? nil : s
    }

    /// Installs the handlers of `stopSignals` now (they are otherwise installed lazily by the
    /// first blocking call). Signals whose disposition the program changed are left alone.
    public static func install() {
        // Every wait calls this: once installed, it costs one atomic load, not a lock.
        if ready.load(ordering: .acquiring) { return }
        installLock.withLock {
            guard !ready.load(ordering: .acquiring) else { return }
            defer { ready.store(true, ordering: .releasing) }
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
            _ = delivered.load(ordering: .relaxed)
            // The stop signals are blocked on this thread while the handlers go in, and the
            // old dispositions are all read (and /proc/self/maps parsed, once) before any is
            // replaced: a SIGQUIT that arrives meanwhile waits for its new handler instead of
            // reaching the Swift runtime's backtracer, which crashes the process on it.
            var stops = stopSet()
            pthread_sigmask(SIG_BLOCK, &stops, nil)
            defer { unblock() }
            let runtime = swiftRuntimeRange()
            let replaced = stopSignals.filter { sig in
                var old = sigaction()
                sigaction(sig, nil, &old)
                // Leave a handler the program installed (or SIG_IGN, as under nohup) alone; replace
                // the default, and the Swift runtime's crash backtracer, which takes SIGQUIT.
                return old.__sigaction_handler.sa_handler == nil || isInRange(old, runtime)
            }
            var action = sigaction()
            // Async-signal-safe: a lock-free atomic store and write(2); errno is restored so
            // the interrupted code's errno survives (a full pipe sets EAGAIN).
            action.__sigaction_handler.sa_handler = { sig in
                let savedErrno = errno
                Interrupts.delivered.store(true, ordering: .releasing)
                Interrupts.pending.store(sig, ordering: .releasing)
                var byte: UInt8 = 1
                _ = Glibc.write(Interrupts.wakeWriteFD, &byte, 1)
                errno = savedErrno
            }
            sigemptyset(&action.sa_mask)
            action.sa_flags = SA_RESTART
            for sig in replaced { sigaction(sig, &action, nil) }
        }
    }

    /// Where libswiftCore is mapped (/proc/self/maps: "start-end perms offset dev inode path").
    private static func swiftRuntimeRange() -> [Range<UInt>] {
        (FileIO.read("/proc/self/maps") ?? "").split(separator: "\n").compactMap { line in
            guard line.hasSuffix("libswiftCore.so") else { return nil }
            let bounds = line.prefix { $0 != " " }.split(separator: "-").compactMap { UInt($0, radix: 16) }
            return bounds.count == 2 && bounds[0] < bounds[1] ? bounds[0]..<bounds[1] : nil
        }
    }

    private static func isInRange(_ action: sigaction, _ ranges: [Range<UInt>]) -> Bool {
        guard let handler = unsafeBitCast(action.__sigaction_handler.sa_handler, to: UnsafeRawPointer?.self),
              UInt(bitPattern: handler) > 1 else { return false }
        let address = UInt(bitPattern: handler)
        return ranges.contains { $0.contains(address) }
    }

    /// Unblocks the stop signals on the calling thread. A blocked mask is inherited across
    /// exec (a test runner or service manager may pass one on), and a blocked signal would
    /// never reach the handler.
    static func unblock() {
        var set = stopSet()
        pthread_sigmask(SIG_UNBLOCK, &set, nil)
    }

    /// `stopSignals` as a signal set.
    private static func stopSet() -> sigset_t {
        var set = sigset_t()
        sigemptyset(&set)
        for sig in stopSignals { sigaddset(&set, sig) }
        return set
    }

    /// `unblock()` for a wait: a system call only when the calling thread is not the last one
    /// that unblocked (an event loop's thread pays it once, not on every poll).
    static func unblockForWait() {
        let me = UInt(bitPattern: Int(bitPattern: pthread_self()))
        if lastUnblocked.load(ordering: .relaxed) == me { return }
        unblock()
        lastUnblocked.store(me, ordering: .relaxed)
    }

    /// Test hook and programmatic stop: behave as if `signal` had arrived.
    public static func request(signal: Int32 = SIGTERM) {
        install()
        pending.store(signal, ordering: .releasing)
        var byte: UInt8 = 1
        _ = Glibc.write(wakeWriteFD, &byte, 1)
    }

    /// Sleeps `seconds`, or until a stop signal arrives (or has arrived: then at once); true
    /// when the time passed, false on the signal. For a program's own wait between reads,
    /// e.g. a counting tool's interval: it sleeps in one wait on the handlers' wake pipe, so
    /// the signal ends it without a race and the time passes without wakeups (a loop of
    /// short sleeps that checks `pendingSignal` wakes every slice). Installs the handlers.
    /// Python: `sleep(seconds)` ended by `KeyboardInterrupt`.
    @discardableResult
    public static func sleep(_ seconds: Double) -> Bool {
        install()
        unblockForWait()
        let ms = seconds.isFinite ? max(0, (seconds * 1000).rounded(.up)) : Double(Int64.max)
        let end = ms >= 1e15 ? Int64.max : Self.deadline(afterMs: Int(ms))
        while pendingSignal == nil {
            let left = pollTimeout(until: end)
            if left == 0 { return true }
            if wakeReadFD < 0 {  // no wake pipe (pipe(2) failed at install): slices
                usleep(UInt32(left < 0 ? 500_000 : min(left, 500) * 1000))
                continue
            }
            var wake = pollfd(fd: wakeReadFD, events: Int16(POLLIN), revents: 0)
            _ = poll(&wake, 1, left)  // EINTR: the handler ran; the loop sees the signal
        }
        return false
    }

    /// Forgets a stop signal that arrived, so blocking calls wait again.
    public static func reset() {
        pending.store(0, ordering: .releasing)
        delivered.store(false, ordering: .releasing)
        reported.store(false, ordering: .releasing)
        guard wakeReadFD >= 0 else { return }
        var buf = [UInt8](repeating: 0, count: 64)
        while Glibc.read(wakeReadFD, &buf, buf.count) > 0 {}
    }

    /// Throws `.interrupted` if a stop signal has arrived (after flushing stdout, so that what
    /// the program printed survives however it ends).
    static func check() throws {
        if let s = pendingSignal {
            fflush(nil)
            throw BPFError.interrupted(signal: s)
        }
    }

    /// Called by a public blocking call before it waits (rules 2 and 3 above): once a stop was
    /// reported to the program, a new wait ends the process by the signal, or throws
    /// `.interrupted` for a stop that `request(signal:)` asked for.
    static func beginWait() throws {
        guard let s = pendingSignal, reported.load(ordering: .acquiring) else { return }
        if delivered.load(ordering: .acquiring) { endProcess(by: s) }
        fflush(nil)
        throw BPFError.interrupted(signal: s)
    }

    /// Called when a public blocking call returns because of the stop signal (rule 1).
    static func reportStop() {
        fflush(nil)
        reported.store(true, ordering: .releasing)
    }

    /// Flushes stdout and ends the process by `sig`'s default action.
    static func endProcess(by sig: Int32) -> Never {
        fflush(nil)
        signal(sig, SIG_DFL)
        unblock()
        raise(sig)
        _exit(128 + sig)
    }

    /// Runs a public blocking call under the rule above: `interrupted` is its result when the
    /// stop signal ended (or came before) its wait.
    static func waiting<T>(or interrupted: T, _ body: () throws -> T) throws -> T {
        try beginWait()
        do {
            return try body()
        } catch BPFError.interrupted {
            reportStop()
            return interrupted
        }
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
    /// A stop signal came from outside (the handler), not from `request(signal:)`.
    static let delivered = Atomic<Bool>(false)
    /// A public blocking call returned because of the pending stop signal.
    static let reported = Atomic<Bool>(false)
    nonisolated(unsafe) static var wakeReadFD: Int32 = -1
    nonisolated(unsafe) static var wakeWriteFD: Int32 = -1
    private static let installLock = Lock()
    /// `install()` has run.
    private static let ready = Atomic<Bool>(false)
    /// The thread (`pthread_self`) that last unblocked the stop signals for a wait.
    private static let lastUnblocked = Atomic<UInt>(0)
}
