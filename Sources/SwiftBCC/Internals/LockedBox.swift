import Glibc

/// A value and the mutex that guards it, as swift-nio's `NIOLockedValueBox`: the state is
/// reachable only inside `withLock`, so "called with the lock held" is something the compiler
/// checks, not a comment. Not recursive: a `withLock` inside another on the same box is a
/// programming error and stops the process with a message instead of deadlocking.
final class LockedBox<State>: @unchecked Sendable {
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>
    private var state: State

    init(_ state: State) {
        self.state = state
        mutex = .allocate(capacity: 1)
        var attr = pthread_mutexattr_t()
        pthread_mutexattr_init(&attr)
        pthread_mutexattr_settype(&attr, Int32(PTHREAD_MUTEX_ERRORCHECK))
        pthread_mutex_init(mutex, &attr)
        pthread_mutexattr_destroy(&attr)
    }

    deinit {
        pthread_mutex_destroy(mutex)
        mutex.deallocate()
    }

    /// Runs `body` with the state, holding the lock.
    func withLock<R>(_ body: (inout State) throws -> R) rethrows -> R {
        let rc = pthread_mutex_lock(mutex)
        precondition(rc == 0, "SwiftBCC internal error: LockedBox<\(State.self)> locked again by the thread holding it")
        defer { pthread_mutex_unlock(mutex) }
        return try body(&state)
    }
}
