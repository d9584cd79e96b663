import Glibc

/// A mutex that guards no Swift state but serializes an operation on something outside Swift:
/// fds 1 and 2 while stderr is captured, a libbcc object that is not thread-safe (a symbol
/// cache, a USDT context), libbcc's static callback buffers. State guarded by a lock lives in a
/// `LockedBox` instead. Not recursive: locking it again on the thread holding it is a
/// programming error and stops the process with a message instead of deadlocking. The one
/// exception is `StderrCapture`'s lock (`recursive: true`): captures nest (a capture around
/// code that captures), each restoring the fd the outer one set.
final class Lock: @unchecked Sendable {
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>

    init(recursive: Bool = false) {
        mutex = .allocate(capacity: 1)
        var attr = pthread_mutexattr_t()
        pthread_mutexattr_init(&attr)
        pthread_mutexattr_settype(&attr, Int32(recursive ? PTHREAD_MUTEX_RECURSIVE : PTHREAD_MUTEX_ERRORCHECK))
        pthread_mutex_init(mutex, &attr)
        pthread_mutexattr_destroy(&attr)
    }

    deinit {
        pthread_mutex_destroy(mutex)
        mutex.deallocate()
    }

    func withLock<T>(_ body: () throws -> T) rethrows -> T {
        let rc = pthread_mutex_lock(mutex)
        precondition(rc == 0, "SwiftBCC internal error: a Lock was locked again by the thread holding it")
        defer { pthread_mutex_unlock(mutex) }
        return try body()
    }
}
