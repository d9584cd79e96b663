internal import CBCC
import Glibc

/// The perf buffers and ring buffers a `BPF` has open, and the polls running on them: the
/// registry holds the readers (`PerfReader`, `RingReader`) and its own state only.
///
/// Polls run without the `BPF`'s lock (callbacks may call back into the `BPF` from any
/// thread). A reader that is closed while a poll uses it is retired and freed by the last poll
/// to let go of it, so a reader is never freed under a running callback; `close()` (from
/// `cleanup()`) wakes every poll through `wake`.
///
/// Lock order (docs/Architecture.md): `BPF.state`, then this registry's `state`, then a ring
/// reader's `manager`, then its `rings`. Callbacks run holding only a perf reader's read lock or
/// a ring reader's `manager`, and may take `BPF.state` and the registry's state from there; so
/// nobody waits for a reader's read lock or `manager` while holding `BPF.state` or the
/// registry's state (adding a ring and polling happen with neither held; freeing happens when
/// no poll uses the reader).
/// A reader whose polls the registry counts (`EventReaders.State.use`): `registryUses` is read
/// and written only under the registry's lock.
protocol RegistryCounted: AnyObject {
    var registryUses: Int { get set }
}

final class EventReaders: @unchecked Sendable {
    struct State {
        var perf: [PerfReader] = [] {
            didSet { publicPerf = perf.filter { !$0.isPrivate } }
        }
        /// `perf` but the event streams' own: what `perfBufferPoll` reads, kept so a poll
        /// takes it without building an array.
        private(set) var publicPerf: [PerfReader] = []
        var ring = RingReader(isPrivate: false)
        var privateRings: [RingReader] = []
        /// The tables with a ring buffer open (or being opened), and their readers.
        var ringTables: [String: RingReader] = [:]
        /// Retired private ring readers still in use by a poll, by table: a new reader on the
        /// same table waits for their running consumption first (`RingReader.waitForConsumption`).
        var draining: [String: [RingReader]] = [:]
        var isClosed = false
        /// Tables read by a `RingBufferReader` or `PerfBufferReader` (which map them themselves).
        var directTables: Set<String> = []
        /// Event struct types by table name (`Table.eventType()`).
        var eventTypes: [String: TypeDescription] = [:]

        /// Counts one more poll (or ring add) using `reader`. The count lives in the reader,
        /// guarded by this state's lock: no hashing per poll.
        func use(_ reader: some RegistryCounted) { reader.registryUses += 1 }

        /// Ends one use; true when that was the last use.
        func endUse(_ reader: some RegistryCounted) -> Bool {
            reader.registryUses = max(reader.registryUses - 1, 0)
            return reader.registryUses == 0
        }

        func inUse(_ reader: some RegistryCounted) -> Bool { reader.registryUses > 0 }

        /// Closes a reader: stops its callbacks now, frees it now or at the end of its last use.
        func retire(_ reader: PerfReader) {
            reader.retire()
            if !inUse(reader) { reader.free() }
        }

        mutating func retire(_ reader: RingReader) {
            reader.retire()
            if inUse(reader) {
                for table in reader.tables { draining[table, default: []].append(reader) }
            } else {
                reader.free()
            }
        }

        /// Frees a retired ring reader whose last use ended.
        mutating func free(_ reader: RingReader) {
            for table in draining.keys { draining[table]?.removeAll { $0 === reader } }
            draining = draining.filter { !$0.value.isEmpty }
            reader.free()
        }
    }

    let state = LockedBox(State())
    /// Signalled by `close()`: every poll returns.
    let wake = WakeFD()

    var isClosed: Bool { state.withLock { $0.isClosed } }

    // MARK: Perf buffers

    func perfEntry(_ table: String) -> PerfReader? {
        state.withLock { $0.perf.first { $0.table == table } }
    }

    func add(_ reader: PerfReader) throws {
        try state.withLock { s in
            if s.isClosed { throw BPFError.closed }
            s.perf.append(reader)
        }
    }

    /// Removes this perf buffer (if it is still registered); it is freed now, or by the last
    /// poll still using it. Returns false when it was removed already.
    @discardableResult
    func removePerf(_ reader: PerfReader) -> Bool {
        state.withLock { s in
            guard let i = s.perf.firstIndex(where: { $0 === reader }) else { return false }
            s.perf.remove(at: i)
            s.retire(reader)
            return true
        }
    }

    /// The readers a poll reads, each marked in use until `endPerfUse`.
    func beginPerfUse(only table: PerfReader? = nil) throws -> [PerfReader] {
        try state.withLock { s in
            if s.isClosed { throw BPFError.closed }
            let readers = table.map { $0.isRetired ? [] : [$0] } ?? s.publicPerf
            for r in readers { s.use(r) }
            return readers
        }
    }

    func endPerfUse(_ readers: [PerfReader]) {
        state.withLock { s in
            for r in readers where s.endUse(r) && r.isRetired { r.free() }
        }
    }

    // MARK: Ring buffers

    func ringContains(_ table: String) -> Bool {
        state.withLock { $0.ringTables[table] != nil }
    }

    /// Reserves `table` for a ring buffer in `reader` (the shared one when nil, else a private
    /// one, registered here) and marks the reader in use until `endRingUse`: the caller then adds
    /// the ring without holding any lock, and calls `unreserveRing` if that fails. Returns too
    /// the retired readers of the table whose consumption may still run: wait for them
    /// (`waitForConsumption`) before adding the ring.
    func reserveRing(_ table: String, in reader: RingReader? = nil) throws -> (reader: RingReader, draining: [RingReader]) {
        try state.withLock { s in
            if s.isClosed { throw BPFError.closed }
            if s.ringTables[table] != nil || s.directTables.contains(table) {
                throw BPFError.invalidArgument("Ring buffer \(table) is open already; open each ring buffer once.")
            }
            let r = reader ?? s.ring
            if r.isPrivate { s.privateRings.append(r) }
            s.ringTables[table] = r
            s.use(r)
            return (r, s.draining[table] ?? [])
        }
    }

    func unreserveRing(_ table: String) {
        state.withLock { _ = $0.ringTables.removeValue(forKey: table) }
    }

    func removePrivateRing(_ reader: RingReader) {
        state.withLock { s in
            guard !reader.isRetired else { return }
            s.privateRings.removeAll { $0 === reader }
            s.ringTables = s.ringTables.filter { $0.value !== reader }
            s.retire(reader)
        }
    }

    func beginRingUse(_ reader: RingReader? = nil) throws -> RingReader {
        try state.withLock { s in
            if s.isClosed { throw BPFError.closed }
            let r = reader ?? s.ring
            s.use(r)
            return r
        }
    }

    func endRingUse(_ reader: RingReader) {
        state.withLock { s in
            if s.endUse(reader) && reader.isRetired { s.free(reader) }
        }
    }

    // MARK: Direct readers

    /// Reserves `table` for a `RingBufferReader` or `PerfBufferReader`: fails when a callback
    /// reader, an event stream or another direct reader has it.
    func reserveDirect(_ table: String, what: String) throws {
        try state.withLock { s in
            if s.isClosed { throw BPFError.closed }
            if s.ringTables[table] != nil || s.perf.contains(where: { $0.table == table }) || s.directTables.contains(table) {
                throw BPFError.invalidArgument("Cannot open a \(what) on table \(table): it is open already "
                    + "(a callback, an event stream or another reader reads it); close that first.")
            }
            s.directTables.insert(table)
        }
    }

    func releaseDirect(_ table: String) {
        state.withLock { _ = $0.directTables.remove(table) }
    }

    func hasDirect(_ table: String) -> Bool {
        state.withLock { $0.directTables.contains(table) }
    }

    // MARK: Event types

    func cachedEventType(_ table: String) -> TypeDescription? {
        state.withLock { $0.eventTypes[table] }
    }

    func cacheEventType(_ type: TypeDescription, for table: String) {
        state.withLock { $0.eventTypes[table] = type }
    }

    // MARK: Close

    /// Closes every perf and ring buffer (those in use when their polls return) and wakes every
    /// poll. Idempotent. Called by `cleanup()` after the probes are detached.
    func close() {
        state.withLock { s in
            guard !s.isClosed else { return }
            s.isClosed = true
            wake.signal()
            for r in s.perf { s.retire(r) }
            s.perf.removeAll()
            let shared = s.ring
            s.retire(shared)
            for r in s.privateRings { s.retire(r) }
            s.privateRings.removeAll()
            s.ringTables.removeAll()
        }
    }
}

extension PerfReader: RegistryCounted {}
extension RingReader: RegistryCounted {}
