internal import CBCC
import Glibc
import Synchronization

/// Marks the threads that are running event callbacks (reading a perf buffer or consuming a
/// ring buffer), so that a poll started from inside a callback is refused: it would read the
/// same buffer again under the running read (libbcc and libbpf would deliver the sample that
/// is being handled once more) or wait for a read lock another callback's thread holds.
enum CallbackThread {
    private static let key: pthread_key_t = {
        var key = pthread_key_t()
        pthread_key_create(&key, nil)
        return key
    }()

    /// True on a thread that is inside an event callback now.
    static var isInside: Bool { pthread_getspecific(key) != nil }

    /// Runs `body`, which reads a buffer and so runs its callbacks, marked as such.
    @inline(__always)
    static func dispatching<T>(_ body: () throws -> T) rethrows -> T {
        let outer = pthread_getspecific(key)
        pthread_setspecific(key, UnsafeRawPointer(bitPattern: 1))
        defer { pthread_setspecific(key, outer) }
        return try body()
    }

    /// Throws when called from inside an event callback.
    static func refusePoll(_ function: String) throws {
        if isInside {
            throw BPFError.invalidArgument("\(function) was called from inside a perf or ring buffer callback; "
                + "return from the callback and poll again from the polling loop.")
        }
    }
}

/// What one open buffer's callbacks share: whether a callback has thrown (so the rest of the
/// poll stops), and that first error, rethrown by the poll.
///
/// Nothing here runs per event except one relaxed atomic load.
final class CallbackState: @unchecked Sendable {
    static let failed: UInt8 = 1
    static let closed: UInt8 = 2
    /// Non-zero when a callback has thrown (`failed`) or the buffer was closed (`closed`):
    /// callbacks are skipped while it is set.
    let stopped = Atomic<UInt8>(0)
    private let error = LockedBox<(any Error)?>(nil)

    /// Records the first error since the last `takeError()` and stops delivery.
    func record(_ error: any Error) {
        self.error.withLock { if $0 == nil { $0 = error } }
        stopped.bitwiseOr(Self.failed, ordering: .acquiringAndReleasing)
    }

    /// Stops delivery for good: the buffer was closed (possibly from inside a callback).
    func close() {
        stopped.bitwiseOr(Self.closed, ordering: .acquiringAndReleasing)
    }

    /// The recorded error, if any; clears it and resumes delivery (unless closed).
    func takeError() -> (any Error)? {
        guard stopped.load(ordering: .acquiring) & Self.failed != 0 else { return nil }
        let e = error.withLock { e -> (any Error)? in
            defer { e = nil }
            return e
        }
        stopped.bitwiseAnd(~Self.failed, ordering: .acquiringAndReleasing)
        return e
    }
}

/// The context libbcc hands back to the perf reader callbacks of one CPU's buffer: the user's
/// closures and the CPU. Passed to C unretained (the owning `PerfReader` keeps it alive),
/// and read in the callback through `_withUnsafeGuaranteedRef`, so an event costs no retain,
/// release or allocation on the Swift side.
final class PerfCallbackBox {
    let cpu: Int
    let callback: (Int, UnsafeRawBufferPointer) throws -> Void
    let lostCallback: ((Int, UInt64) throws -> Void)?
    let state: CallbackState

    init(cpu: Int, state: CallbackState, callback: @escaping (Int, UnsafeRawBufferPointer) throws -> Void,
         lostCallback: ((Int, UInt64) throws -> Void)?) {
        self.cpu = cpu
        self.state = state
        self.callback = callback
        self.lostCallback = lostCallback
    }

    @inline(__always)
    func deliver(_ raw: UnsafeMutableRawPointer?, _ size: Int32) {
        if state.stopped.load(ordering: .relaxed) != 0 { return }
        do {
            try callback(cpu, UnsafeRawBufferPointer(start: raw, count: Int(size)))
        } catch {
            state.record(error)
        }
    }

    @inline(__always)
    func deliverLost(_ count: UInt64) {
        if state.stopped.load(ordering: .relaxed) != 0 { return }
        guard let lostCallback else { return }
        do {
            try lostCallback(cpu, count)
        } catch {
            state.record(error)
        }
    }
}

/// The perf reader's raw sample callback (`perf_reader_raw_cb`). Never lets an error through.
let perfRawCallback: @convention(c) (UnsafeMutableRawPointer?, UnsafeMutableRawPointer?, Int32) -> Void = { cookie, raw, size in
    guard let cookie else { return }
    Unmanaged<PerfCallbackBox>.fromOpaque(cookie)._withUnsafeGuaranteedRef { $0.deliver(raw, size) }
}

/// The perf reader's lost-samples callback (`perf_reader_lost_cb`).
let perfLostCallback: @convention(c) (UnsafeMutableRawPointer?, UInt64) -> Void = { cookie, lost in
    guard let cookie else { return }
    Unmanaged<PerfCallbackBox>.fromOpaque(cookie)._withUnsafeGuaranteedRef { $0.deliverLost(lost) }
}

/// The context of one ring buffer's sample callback; as `PerfCallbackBox`, without a CPU.
final class RingCallbackBox {
    let callback: (UnsafeRawBufferPointer) throws -> Void
    let state: CallbackState

    init(state: CallbackState, callback: @escaping (UnsafeRawBufferPointer) throws -> Void) {
        self.state = state
        self.callback = callback
    }

    /// 0 to go on; a negative value makes libbpf stop consuming (the sample counts as consumed).
    @inline(__always)
    func deliver(_ raw: UnsafeMutableRawPointer?, _ size: Int) -> Int32 {
        if state.stopped.load(ordering: .relaxed) != 0 { return -1 }
        do {
            try callback(UnsafeRawBufferPointer(start: raw, count: size))
            return 0
        } catch {
            state.record(error)
            return -1
        }
    }
}

/// The ring buffer sample callback (`ring_buffer_sample_fn`).
let ringSampleCallback: @convention(c) (UnsafeMutableRawPointer?, UnsafeMutableRawPointer?, Int) -> Int32 = { cookie, raw, size in
    guard let cookie else { return 0 }
    return Unmanaged<RingCallbackBox>.fromOpaque(cookie)._withUnsafeGuaranteedRef { $0.deliver(raw, size) }
}
