import Foundation
@testable import SwiftBCC

/// Runs each body on a thread of its own (not the Swift concurrency pool) and waits up to
/// `timeout` seconds for all of them. False when some are still running then — a deadlock:
/// they are left behind, so the caller must not wait for anything they hold; `abandon(_:)`
/// keeps process exit from cleaning up their `BPF`.
func runThreads(timeout: Double, _ bodies: [@Sendable () -> Void]) -> Bool {
    let done = DispatchSemaphore(value: 0)
    for body in bodies {
        Thread.detachNewThread {
            body()
            done.signal()
        }
    }
    let deadline = DispatchTime.now() + timeout
    for _ in bodies where done.wait(timeout: deadline) == .timedOut { return false }
    return true
}

/// Leaves `bpf` to deadlocked threads: process exit will not try to clean it up (and hang).
func abandon(_ bpf: BPF) { Registry.remove(bpf) }

/// A value several threads set and a test reads afterwards.
final class Shared<Value: Sendable>: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: Value
    init(_ value: Value) { stored = value }
    var value: Value {
        get { lock.withLock { stored } }
        set { lock.withLock { stored = newValue } }
    }
}
