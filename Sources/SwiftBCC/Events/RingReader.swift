internal import CBCC
import Glibc
import Synchronization

/// A libbpf `ring_buffer` manager and the ring buffer maps added to it. The `BPF`'s shared one
/// is Python's `_ringbuf_manager`; each event stream over a ring buffer has its own.
///
/// Locking: `bpf_consume_ringbuf` runs the user's callbacks, which may call back into the
/// `BPF` (`b["events"].event(data)` takes the `BPF`'s state lock and the registry's). So it runs
/// with `manager` locked alone, and no thread ever waits for `manager` while it holds another
/// SwiftBCC lock: `add` is called with none held, and closing the group only flips atomics
/// (`retire`). `free()` runs only once no poll or add uses the group.
final class RingReader: @unchecked Sendable {
    struct Entry {
        let table: String
        /// The group's own duplicate of the map's fd (closed by `free()`), so the module's
        /// destruction by a concurrent `cleanup()` cannot close it under libbpf.
        let mapFD: Int32
        let box: RingCallbackBox
    }

    /// libbpf's manager, locked across `bpf_consume_ringbuf` and `bpf_add_ringbuf` (libbpf's
    /// manager is not thread-safe): consumption is serialized, and a ring is added between two
    /// consumptions. The user's callbacks run with this lock held.
    private let manager = LockedBox<OpaquePointer?>(nil)
    private struct Rings {
        var entries: [Entry] = []
        var fds: ContiguousArray<Int32> = []
        /// The thread running `bpf_consume_ringbuf` now.
        var consumer: pthread_t?
    }
    /// Held only briefly, never while calling out (callbacks may read it: `add` from a callback).
    private let rings = LockedBox(Rings())
    let isPrivate: Bool
    /// Set once, when the group is closed (its callbacks are stopped then).
    private let retired = Atomic<Bool>(false)
    var isRetired: Bool { retired.load(ordering: .acquiring) }
    /// The polls (and ring adds) using this reader now: `EventReaders`' count, read and written
    /// only under its lock.
    var registryUses = 0

    init(isPrivate: Bool) { self.isPrivate = isPrivate }

    var fds: ContiguousArray<Int32> { rings.withLock { $0.fds } }
    var isEmpty: Bool { rings.withLock { $0.entries.isEmpty } }

    /// Adds a ring buffer map, taking ownership of `mapFD` (closed on failure, else by `free()`);
    /// the box is retained until `free()`. Waits for a running consumption to finish: call it
    /// holding no other SwiftBCC lock, with the group in use (`EventReaders.reserveRing`).
    func add(table: String, mapFD: Int32, box: RingCallbackBox) throws {
        let isConsumer = rings.withLock { $0.consumer.map { pthread_equal($0, pthread_self()) != 0 } ?? false }
        if isConsumer {
            Glibc.close(mapFD)
            throw BPFError.invalidArgument("Cannot open ring buffer \(table) from inside a ring buffer callback; "
                + "open every ring buffer before polling.")
        }
        try manager.withLock { manager in
            let ctx = Unmanaged.passRetained(box).toOpaque()
            let added: Result<Void, CallFailure>
            if let manager {
                // libbpf returns a negative errno here.
                added = LibBCC.call("bpf_add_ringbuf") { () -> Int32 in
                    let rc = bpf_add_ringbuf(manager, mapFD, ringSampleCallback, ctx)
                    if rc < 0 { Glibc.errno = -rc }
                    return rc
                }.map { _ in () }
            } else {
                added = LibBCC.call("bpf_new_ringbuf") { bpf_new_ringbuf(mapFD, ringSampleCallback, ctx) }
                    .map { manager = OpaquePointer($0) }
            }
            if case .failure(let failure) = added {
                Unmanaged.passUnretained(box).release()
                Glibc.close(mapFD)
                throw BPFError.from(.system(name: "bpf_add_ringbuf(\(table))"), failure, hint: "could not open the ring buffer")
            }
            rings.withLock {
                $0.entries.append(Entry(table: table, mapFD: mapFD, box: box))
                $0.fds.append(mapFD)
            }
        }
    }

    /// Consumes every available sample of every ring in the group, running the callbacks on
    /// this thread. Returns libbpf's result: the number of samples, or a negative errno.
    /// A retired reader consumes nothing: a sample its stopped callbacks saw would be consumed
    /// and lost for the reader that replaced it on the same map.
    func consume() -> Int32 {
        manager.withLock { manager in
            guard let manager, !isRetired else { return 0 }
            rings.withLock { $0.consumer = pthread_self() }
            defer { rings.withLock { $0.consumer = nil } }
            return CallbackThread.dispatching { bpf_consume_ringbuf(manager) }
        }
    }

    /// Waits until a consumption running now (on another thread) is over. After `retire()`,
    /// a reader that replaces this one on the same ring map calls it before the ring is added,
    /// so no sample can reach this reader's stopped callbacks (which would consume it: libbpf
    /// counts a sample a callback refused as consumed). Never waits on its own consumer thread.
    func waitForConsumption() {
        let isConsumer = rings.withLock { $0.consumer.map { pthread_equal($0, pthread_self()) != 0 } ?? false }
        if isConsumer { return }
        manager.withLock { _ in }
    }

    /// The tables whose rings this reader has.
    var tables: [String] { rings.withLock { $0.entries.map(\.table) } }

    /// Marks the group closed and stops its callbacks; takes no lock a callback may wait for,
    /// so it may run while the group's callbacks do. `free()` follows when no poll uses it.
    func retire() {
        retired.store(true, ordering: .releasing)
        for e in rings.withLock({ $0.entries }) { e.box.state.close() }
    }

    /// The first error a callback of the group recorded, if any.
    func takeError() -> (any Error)? {
        for e in rings.withLock({ $0.entries }) {
            if let error = e.box.state.takeError() { return error }
        }
        return nil
    }

    /// Frees the manager (unmapping the rings), closes the fds and releases the boxes. Only
    /// once no poll or add uses the group, so `manager` is not locked by a consumer.
    func free() {
        manager.withLock { manager in
            if let m = manager { bpf_free_ringbuf(m) }
            manager = nil
            rings.withLock { r in
                for e in r.entries {
                    Glibc.close(e.mapFD)
                    Unmanaged.passUnretained(e.box).release()
                }
                r.entries.removeAll()
                r.fds.removeAll()
            }
        }
    }
}

