internal import CBCC
import Glibc

/// One table's open perf buffer: a libbcc perf reader (mmapped ring + perf event fd) per online
/// CPU, and the callback boxes libbcc hands back.
final class PerfBufferEntry: @unchecked Sendable {
    let table: String
    let mapFD: Int32
    let cpus: [Int]
    let readers: ContiguousArray<OpaquePointer>
    let fds: ContiguousArray<Int32>
    let boxes: [PerfCallbackBox]
    let state: CallbackState
    /// Owned by an event stream, which polls it on its own thread: `perfBufferPoll` skips it.
    let isPrivate: Bool
    /// Polls using the readers now (guarded by `EventReaders.lock`).
    var users = 0
    var isRetired = false
    /// Held while one of the readers is read (its callbacks run): taken only by polls, which
    /// are never started from inside a callback and hold no other SwiftBCC lock meanwhile.
    private let readLock = Lock(recursive: false)

    init(table: String, mapFD: Int32, cpus: [Int], readers: ContiguousArray<OpaquePointer>,
         boxes: [PerfCallbackBox], state: CallbackState, isPrivate: Bool) {
        self.table = table
        self.mapFD = mapFD
        self.cpus = cpus
        self.readers = readers
        self.fds = ContiguousArray(readers.map { perf_reader_fd($0) })
        self.boxes = boxes
        self.state = state
        self.isPrivate = isPrivate
    }

    /// Reads reader `index`, running its callbacks on this thread, and returns the first error
    /// a callback threw. Reads of one buffer are serialized: its callbacks never run on two
    /// threads at once (polling threads may read different CPUs' readers), and a poll waits for
    /// another thread's read instead of skipping the reader (libbcc's own guard makes a
    /// concurrent `perf_reader_event_read` of the same reader return at once, which could leave
    /// a sample that arrived meanwhile waiting for the next wakeup).
    @inline(__always)
    func read(_ index: Int) -> (any Error)? {
        readLock.withLock { CallbackThread.dispatching { perf_reader_event_read(readers[index]) } }
        return state.takeError()
    }

    /// Frees the readers (unmaps the rings, disables and closes the perf events) and releases
    /// the boxes. Only once no poll uses them.
    func free() {
        for r in readers { perf_reader_free(UnsafeMutableRawPointer(r)) }
        for b in boxes { Unmanaged.passUnretained(b).release() }
    }
}

/// A libbpf `ring_buffer` manager and the ring buffer maps added to it. The `BPF`'s shared one
/// is Python's `_ringbuf_manager`; each event stream over a ring buffer has its own.
///
/// Locking: `bpf_consume_ringbuf` runs the user's callbacks, which may call back into the
/// `BPF` (`b["events"].event(data)` takes the `BPF`'s lock and the readers' lock). So it runs
/// under `consumeLock` alone, and no thread ever waits for `consumeLock` while it holds another
/// SwiftBCC lock: `add` is called with none held, and closing the group only flips atomics
/// (`closeCallbacks`). `free()` runs only once no poll or add uses the group.
final class RingGroup: @unchecked Sendable {
    struct Entry {
        let table: String
        /// The group's own duplicate of the map's fd (closed by `free()`), so the module's
        /// destruction by a concurrent `cleanup()` cannot close it under libbpf.
        let mapFD: Int32
        let box: RingCallbackBox
    }

    /// libbpf's manager (guarded by `consumeLock`).
    private var manager: OpaquePointer?
    /// Guarded by `stateLock`.
    private var entries: [Entry] = []
    private var ringFDs: ContiguousArray<Int32> = []
    /// The thread running `bpf_consume_ringbuf` now (guarded by `stateLock`).
    private var consumer: pthread_t?
    let isPrivate: Bool
    /// Held across `bpf_consume_ringbuf` and `bpf_add_ringbuf` (libbpf's manager is not
    /// thread-safe): consumption is serialized, and a ring is added between two consumptions.
    private let consumeLock = Lock(recursive: false)
    /// Guards `entries`, `ringFDs` and `consumer`; held only briefly, never while calling out.
    private let stateLock = Lock(recursive: false)
    /// Polls and adds using the group now (guarded by `EventReaders.lock`).
    var users = 0
    var isRetired = false

    init(isPrivate: Bool) { self.isPrivate = isPrivate }

    var fds: ContiguousArray<Int32> { stateLock.withLock { ringFDs } }
    var isEmpty: Bool { stateLock.withLock { entries.isEmpty } }

    /// Adds a ring buffer map, taking ownership of `mapFD` (closed on failure, else by `free()`);
    /// the box is retained until `free()`. Waits for a running consumption to finish: call it
    /// holding no other SwiftBCC lock, with the group in use (`EventReaders.reserveRing`).
    func add(table: String, mapFD: Int32, box: RingCallbackBox) throws {
        let isConsumer = stateLock.withLock { consumer.map { pthread_equal($0, pthread_self()) != 0 } ?? false }
        if isConsumer {
            Glibc.close(mapFD)
            throw BPFError.invalidArgument("Cannot open ring buffer \(table) from inside a ring buffer callback; "
                + "open every ring buffer before polling.")
        }
        try consumeLock.withLock {
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
            stateLock.withLock {
                entries.append(Entry(table: table, mapFD: mapFD, box: box))
                ringFDs.append(mapFD)
            }
        }
    }

    /// Consumes every available sample of every ring in the group, running the callbacks on
    /// this thread. Returns libbpf's result: the number of samples, or a negative errno.
    func consume() -> Int32 {
        consumeLock.withLock {
            guard let manager else { return 0 }
            stateLock.withLock { consumer = pthread_self() }
            defer { stateLock.withLock { consumer = nil } }
            return CallbackThread.dispatching { bpf_consume_ringbuf(manager) }
        }
    }

    /// Stops every callback of the group (it is being closed); takes no lock a callback may
    /// wait for, so it may run while the group's callbacks do.
    func closeCallbacks() {
        for e in stateLock.withLock({ entries }) { e.box.state.close() }
    }

    /// The first error a callback of the group recorded, if any.
    func takeError() -> (any Error)? {
        for e in stateLock.withLock({ entries }) {
            if let error = e.box.state.takeError() { return error }
        }
        return nil
    }

    /// Frees the manager (unmapping the rings), closes the fds and releases the boxes. Only
    /// once no poll or add uses the group, so `consumeLock` is free.
    func free() {
        consumeLock.withLock {
            if let manager { bpf_free_ringbuf(manager) }
            manager = nil
            stateLock.withLock {
                for e in entries {
                    Glibc.close(e.mapFD)
                    Unmanaged.passUnretained(e.box).release()
                }
                entries.removeAll()
                ringFDs.removeAll()
            }
        }
    }
}

/// The perf buffers and ring buffers a `BPF` has open, and the polls running on them.
///
/// Polls run without the `BPF`'s lock (callbacks may call back into the `BPF` from any
/// thread). An entry that is closed while a poll uses it is retired and freed by the last poll
/// to let go of it, so a reader is never freed under a running callback; `close()` (from
/// `cleanup()`) wakes every poll through `wake`.
final class EventReaders: @unchecked Sendable {
    let lock = Lock()
    private(set) var perf: [PerfBufferEntry] = []
    private(set) var ring = RingGroup(isPrivate: false)
    private(set) var privateRings: [RingGroup] = []
    /// The tables with a ring buffer open (or being opened), and their groups.
    private var ringTables: [String: RingGroup] = [:]
    private(set) var isClosed = false
    /// Signalled by `close()`: every poll returns.
    let wake = WakeFD()
    /// Event struct types by table name (`Table.eventType()`).
    var eventTypes: [String: TypeDescription] = [:]

    // MARK: Perf buffers

    func perfEntry(_ table: String) -> PerfBufferEntry? {
        lock.withLock { perf.first { $0.table == table } }
    }

    func add(_ entry: PerfBufferEntry) throws {
        try lock.withLock {
            if isClosed { throw BPFError.closed }
            perf.append(entry)
        }
    }

    /// Removes this perf buffer (if it is still registered); it is freed now, or by the last
    /// poll still using it. Returns false when it was removed already.
    @discardableResult
    func removePerf(_ entry: PerfBufferEntry) -> Bool {
        lock.withLock {
            guard let i = perf.firstIndex(where: { $0 === entry }) else { return false }
            perf.remove(at: i)
            retire(entry)
            return true
        }
    }

    private func retire(_ entry: PerfBufferEntry) {
        entry.isRetired = true
        entry.state.close()
        if entry.users == 0 { entry.free() }
    }

    /// The entries a poll reads, each marked in use until `endUse`.
    func beginPerfUse(only table: PerfBufferEntry? = nil) throws -> [PerfBufferEntry] {
        try lock.withLock {
            if isClosed { throw BPFError.closed }
            let entries = table.map { $0.isRetired ? [] : [$0] } ?? perf.filter { !$0.isPrivate }
            for e in entries { e.users += 1 }
            return entries
        }
    }

    func endPerfUse(_ entries: [PerfBufferEntry]) {
        lock.withLock {
            for e in entries {
                e.users -= 1
                if e.users == 0 && e.isRetired { e.free() }
            }
        }
    }

    // MARK: Ring buffers

    func ringContains(_ table: String) -> Bool {
        lock.withLock { ringTables[table] != nil }
    }

    /// Reserves `table` for a ring buffer in `group` (the shared one when nil, else a private
    /// one, registered here) and marks the group in use until `endRingUse`: the caller then adds
    /// the ring without holding any lock, and calls `unreserveRing` if that fails.
    func reserveRing(_ table: String, in group: RingGroup? = nil) throws -> RingGroup {
        try lock.withLock {
            if isClosed { throw BPFError.closed }
            if ringTables[table] != nil {
                throw BPFError.invalidArgument("Ring buffer \(table) is open already; open each ring buffer once.")
            }
            let g = group ?? ring
            if g.isPrivate { privateRings.append(g) }
            ringTables[table] = g
            g.users += 1
            return g
        }
    }

    func unreserveRing(_ table: String) {
        lock.withLock { _ = ringTables.removeValue(forKey: table) }
    }

    func removePrivateRing(_ group: RingGroup) {
        lock.withLock {
            guard !group.isRetired else { return }
            privateRings.removeAll { $0 === group }
            ringTables = ringTables.filter { $0.value !== group }
            retire(group)
        }
    }

    private func retire(_ group: RingGroup) {
        group.isRetired = true
        group.closeCallbacks()
        if group.users == 0 { group.free() }
    }

    func beginRingUse(_ group: RingGroup? = nil) throws -> RingGroup {
        try lock.withLock {
            if isClosed { throw BPFError.closed }
            let g = group ?? ring
            g.users += 1
            return g
        }
    }

    func endRingUse(_ group: RingGroup) {
        lock.withLock {
            group.users -= 1
            if group.users == 0 && group.isRetired { group.free() }
        }
    }

    // MARK: Close

    /// Closes every perf and ring buffer (those in use when their polls return) and wakes every
    /// poll. Idempotent. Called by `cleanup()` after the probes are detached.
    func close() {
        lock.withLock {
            guard !isClosed else { return }
            isClosed = true
            wake.signal()
            for e in perf { retire(e) }
            perf.removeAll()
            retire(ring)
            for g in privateRings { retire(g) }
            privateRings.removeAll()
            ringTables.removeAll()
        }
    }
}
