internal import CBCC
import Glibc

/// A level-triggered wake-up: an eventfd that, once signalled, stays readable until reset.
/// `cleanup()` signals the `BPF`'s to end every poll; an event stream signals its own when the
/// consuming task is cancelled.
final class WakeFD: @unchecked Sendable {
    let fd: Int32

    init() {
        fd = eventfd(0, Int32(EFD_CLOEXEC | EFD_NONBLOCK))
    }

    func signal() {
        guard fd >= 0 else { return }
        var one: UInt64 = 1
        _ = Glibc.write(fd, &one, 8)
    }

    var isSignalled: Bool {
        guard fd >= 0 else { return false }
        var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        return poll(&p, 1, 0) == 1
    }

    deinit {
        if fd >= 0 { Glibc.close(fd) }
    }
}

/// Waiting for perf and ring buffer fds without blocking Ctrl-C, `cleanup()` or cancellation.
enum EventWait {
    enum Outcome {
        /// At least one buffer fd is readable; `ready(i)` says which.
        case ready
        /// The timeout passed.
        case timedOut
        /// A wake fd fired (cleanup, close or cancellation).
        case woken
    }

    /// Waits until one of `fds` is readable, one of `wake` fires, `timeoutMs` passes (< 0, or
    /// too large to add to the clock: forever) or SIGINT/SIGTERM arrives (throws
    /// `.interrupted`). `onReady` is called with the index of each readable fd, in order. No
    /// heap allocation: the pollfd array is on the stack. A timeout of 0 does not wait, so it
    /// ignores a stop signal: after Ctrl-C a program can still drain what is ready.
    static func wait(fds: ContiguousArray<Int32>, wake: (Int32, Int32), timeoutMs: Int,
                     onReady: (Int) -> Void) throws -> Outcome {
        Interrupts.install()
        Interrupts.unblockForWait()
        let interruptible = timeoutMs != 0
        if interruptible { try Interrupts.check() }
        let n = fds.count
        let total = n + 3
        return try withUnsafeTemporaryAllocation(of: pollfd.self, capacity: total) { pfds in
            for i in 0..<n { pfds[i] = pollfd(fd: fds[i], events: Int16(POLLIN), revents: 0) }
            pfds[n] = pollfd(fd: wake.0, events: Int16(POLLIN), revents: 0)
            pfds[n + 1] = pollfd(fd: wake.1, events: Int16(POLLIN), revents: 0)
            pfds[n + 2] = pollfd(fd: Interrupts.wakeReadFD, events: Int16(POLLIN), revents: 0)
            let deadline = Interrupts.deadline(afterMs: timeoutMs)
            while true {
                let remaining = Interrupts.pollTimeout(until: deadline)
                let r = poll(pfds.baseAddress, nfds_t(total), remaining)
                if r < 0 {
                    if errno == EINTR { if interruptible { try Interrupts.check() }; continue }
                    throw BPFError.systemCall(name: "poll", errno: .current, detail: "waiting for perf or ring buffer events")
                }
                if interruptible { try Interrupts.check() }
                if pfds[n].revents != 0 || pfds[n + 1].revents != 0 { return .woken }
                // A clamped slice of a longer wait ran out: wait on.
                if r == 0 { if remaining == Int32.max { continue } else { return .timedOut } }
                var any = false
                for i in 0..<n where pfds[i].revents != 0 {
                    any = true
                    onReady(i)
                }
                if any { return .ready }
                // Only the interrupt pipe woke us without a pending signal (a reset race): wait on.
                if remaining == 0 { return .timedOut }
            }
        }
    }
}
