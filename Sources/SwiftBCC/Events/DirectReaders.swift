internal import CBCC
import Glibc
import Synchronization

// Readers that map a ring buffer or a perf buffer themselves and read its records in Swift,
// in the caller's code: `consume` is inlinable and takes a non-escaping closure, so the
// compiler specializes the loop for the handler and inlines it (no per-event indirect call, no
// callback box, no lock per event). The record formats and memory orderings are the kernel's
// (kernel/bpf/ringbuf.c, include/uapi/linux/perf_event.h) as libbpf's ring_buffer__consume
// and libbcc's perf_reader_event_read read them.

/// A `BPF_RINGBUF_OUTPUT` table read directly: the ring is mapped into this process and
/// `consume` walks its records in your code, with no libbpf callback.
///
/// ```swift
/// let reader = try b["events"].ringBufferReader()
/// while !BPF.isInterrupted {
///     try reader.poll(timeout: 100, as: Event.self) { event in print(event.pid) }
/// }
/// ```
///
/// The fastest way to read events (docs/Performance.md, "Event path"): `consume` and `poll` are
/// inlinable and take a non-escaping closure, so in a release build the compiler inlines your
/// handler into the loop over the records. Samples come in the order the kernel committed their
/// reservations, as with libbpf's reader; a discarded sample is skipped. The reader is not
/// `Sendable`: one thread reads it at a time, which is what lets it take no lock per event.
///
/// Opening one reserves the table: `openRingBuffer`, `events(as:)` or a second reader on it
/// fail until ``close()`` (or the reader's deinit). After the `BPF`'s `cleanup()` the samples
/// already in the ring can still be consumed; `poll` then returns 0 at once.
///
/// Python has none (its `open_ring_buffer` runs a ctypes callback per sample); libbpf:
/// `ring_buffer__consume`, which this replaces.
public final class RingBufferReader {
    @usableFromInline let consumerPosition: UnsafeMutablePointer<Atomic<UInt64>>
    @usableFromInline let producerPosition: UnsafeMutablePointer<Atomic<UInt64>>
    /// The first data page; the kernel maps the data twice in a row, so a record that wraps
    /// around the end of the ring is contiguous here.
    @usableFromInline let data: UnsafeRawPointer
    @usableFromInline let mask: UInt64
    @usableFromInline var isClosed = false
    /// Set while `consume` runs: a `close()` from the handler waits until it returns.
    @usableFromInline var isConsuming = false
    @usableFromInline var closeRequested = false
    /// The table's name.
    public let table: String
    private let mapFD: Int32
    private let consumerMapping: UnsafeMutableRawPointer
    private let producerMapping: (UnsafeMutableRawPointer, Int)
    private weak var bpf: BPF?

    init(table: Table) throws {
        try table.requireKind(.ringBuf, "RingBuf (BPF_RINGBUF_OUTPUT)")
        let (bpf, fd) = try table.reserveForDirectReader("ring buffer reader")
        let name = table.name
        let page = Int(getpagesize())
        let size = table.maxEntries
        func fail(_ call: String) -> BPFError {
            let e = BPFError.systemCall(name: "\(call)(ring buffer \(name))", errno: .current,
                                        detail: "could not map the ring buffer of \(size) bytes")
            Glibc.close(fd)
            bpf.eventReaders.releaseDirect(name)
            return e
        }
        guard size > 0, size & (size - 1) == 0 else { throw fail("max_entries") }
        guard let consumer = mmap(nil, page, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0), consumer != MAP_FAILED else {
            throw fail("mmap")
        }
        let producerLength = page + 2 * size
        guard let producer = mmap(nil, producerLength, PROT_READ, MAP_SHARED, fd, off_t(page)), producer != MAP_FAILED else {
            let e = fail("mmap")
            munmap(consumer, page)
            throw e
        }
        self.table = name
        self.mapFD = fd
        self.bpf = bpf
        consumerMapping = consumer
        producerMapping = (producer, producerLength)
        consumerPosition = consumer.assumingMemoryBound(to: Atomic<UInt64>.self)
        producerPosition = producer.assumingMemoryBound(to: Atomic<UInt64>.self)
        data = UnsafeRawPointer(producer + page)
        mask = UInt64(size - 1)
    }

    deinit { close() }

    /// Unmaps the ring and releases the table (another reader or `openRingBuffer` may open it
    /// then). Idempotent; `consume` and `poll` throw `.closed` afterwards. Called from the
    /// handler, it takes effect when `consume` returns (after the sample being handled).
    public func close() {
        guard !isClosed else { return }
        if isConsuming {
            closeRequested = true
            return
        }
        isClosed = true
        munmap(consumerMapping, Int(getpagesize()))
        munmap(producerMapping.0, producerMapping.1)
        Glibc.close(mapFD)
        bpf?.eventReaders.releaseDirect(table)
    }

    @usableFromInline static let busyBit: UInt32 = 1 << 31
    @usableFromInline static let discardBit: UInt32 = 1 << 30

    /// Runs `body` on every sample in the ring now, in order, without waiting, and returns how
    /// many it ran on. `body` gets the sample's bytes in place (valid only during the call).
    /// When it throws, the sample it threw on is consumed (as libbpf does), the later ones stay
    /// for the next call, and the error is rethrown.
    /// - Throws: `.closed` after ``close()``, and what `body` throws.
    @inlinable @discardableResult
    public func consume(_ body: (UnsafeRawBufferPointer) throws -> Void) throws -> Int {
        if isClosed || closeRequested { throw BPFError.closed }
        isConsuming = true
        defer {
            isConsuming = false
            if closeRequested { close() }
        }
        var count = 0
        // Only this reader writes the consumer position.
        var position = consumerPosition.pointee.load(ordering: .relaxed)
        while true {
            let produced = producerPosition.pointee.load(ordering: .acquiring)
            if position >= produced { return count }
            while position < produced {
                let header = data + Int(position & mask)
                let length = header.assumingMemoryBound(to: Atomic<UInt32>.self).pointee.load(ordering: .acquiring)
                // Reserved, not yet committed: later samples wait behind it.
                if length & Self.busyBit != 0 { return count }
                let size = length & ~(Self.busyBit | Self.discardBit)
                position &+= (UInt64(size) &+ 8 &+ 7) & ~7
                if length & Self.discardBit == 0 {
                    // The handler closed the reader: stop before the next sample.
                    if closeRequested { return count }
                    do {
                        try body(UnsafeRawBufferPointer(start: header + 8, count: Int(size)))
                    } catch {
                        consumerPosition.pointee.store(position, ordering: .releasing)
                        throw error
                    }
                    count &+= 1
                }
                consumerPosition.pointee.store(position, ordering: .releasing)
            }
        }
    }

    /// ``consume(_:)`` with each sample read as `T` (`loadEvent(as:)`: at least `T`'s size,
    /// read unaligned, no allocation). The size of `T` is checked against the table's C struct
    /// on the first call with `T`.
    @inlinable @discardableResult
    public func consume<T: BitwiseCopyable>(as type: T.Type, _ body: (T) throws -> Void) throws -> Int {
        try checkEventType(T.self)
        return try consume { data in try body(try data.loadEvent(as: T.self)) }
    }

    /// Waits up to `timeout` milliseconds (negative: until samples arrive) for samples, then
    /// consumes them as ``consume(_:)``. Returns 0 at once after the `BPF`'s `cleanup()`, and on
    /// SIGINT/SIGTERM (then `BPF.isInterrupted` is true), as `ringBufferPoll` does.
    @inlinable @discardableResult
    public func poll(timeout: Int = -1, _ body: (UnsafeRawBufferPointer) throws -> Void) throws -> Int {
        guard try waitForSamples(timeout: timeout) else { return 0 }
        return try consume(body)
    }

    /// ``poll(timeout:_:)`` with each sample read as `T`, as ``consume(as:_:)``.
    @inlinable @discardableResult
    public func poll<T: BitwiseCopyable>(timeout: Int = -1, as type: T.Type, _ body: (T) throws -> Void) throws -> Int {
        guard try waitForSamples(timeout: timeout) else { return 0 }
        return try consume(as: T.self, body)
    }

    /// Waits for the ring to be readable: false on timeout, cleanup or a stop signal.
    @usableFromInline
    func waitForSamples(timeout: Int) throws -> Bool {
        if isClosed { throw BPFError.closed }
        let hasData = producerPosition.pointee.load(ordering: .acquiring) != consumerPosition.pointee.load(ordering: .relaxed)
        if hasData || timeout == 0 { return hasData }
        return try DirectReading.wait(for: [mapFD], of: bpf, timeout: timeout)
    }

    private var checkedType: ObjectIdentifier?

    /// Checks `T`'s size against the table's C struct once (`DirectReading.check`).
    @usableFromInline
    func checkEventType<T>(_ type: T.Type) throws {
        try DirectReading.check(T.self, table, of: bpf, last: &checkedType)
    }
}

/// A `BPF_PERF_OUTPUT` table read directly: one perf event and mapped ring per online CPU,
/// opened and read by SwiftBCC in your code, with no libbcc callback.
///
/// ```swift
/// let reader = try b["events"].perfBufferReader(pageCount: 64)
/// while !BPF.isInterrupted {
///     try reader.poll(timeout: 100, as: Event.self) { cpu, event in print(cpu, event.pid) }
/// }
/// ```
///
/// As ``RingBufferReader``, the fastest way to read perf events: `consume` and `poll` are
/// inlinable over a non-escaping handler, take no lock per event, and hand each sample's bytes
/// in place (a record that wraps around the end of a CPU's ring is copied once into the
/// reader's own buffer, as libbcc's reader does). Samples come per CPU in the kernel's order,
/// CPU by CPU. The kernel's lost-sample records (a full ring) go to the `lost` handler, or,
/// without one, to stderr as libbcc prints them ("Possibly lost N samples"); ``lostSamples``
/// counts them either way.
///
/// Opening one stores its perf events' fds in the table (as `openPerfBuffer` does) and
/// reserves it: `openPerfBuffer`, `events(as:)` or a second reader on it fail until
/// ``close()``, which removes the fds from the table, disables and closes the events.
///
/// Python has none (its `open_perf_buffer` runs a ctypes callback per sample); libbcc:
/// `bpf_open_perf_buffer` and `perf_reader_event_read`, which this replaces.
public final class PerfBufferReader {
    @usableFromInline
    struct Ring {
        @usableFromInline let cpu: Int
        /// The perf_event_mmap_page, then the data pages.
        @usableFromInline let base: UnsafeMutableRawPointer
        @usableFromInline let data: UnsafeRawPointer
        @usableFromInline let size: Int
        let fd: Int32
        let length: Int
    }

    @usableFromInline let rings: ContiguousArray<Ring>
    /// Where a record that wraps around the end of a ring is put together (a record is at most
    /// 65535 bytes: its header's size is a u16).
    @usableFromInline let scratch: UnsafeMutableRawPointer
    @usableFromInline var isClosed = false
    /// Set while `consume` runs: a `close()` from a handler waits until it returns.
    @usableFromInline var isConsuming = false
    @usableFromInline var closeRequested = false
    @usableFromInline var lostCount: UInt64 = 0
    /// Samples the kernel reported lost (its rings were full), over the reader's life.
    public var lostSamples: UInt64 { lostCount }
    /// The table's name.
    public let table: String
    private let mapFD: Int32
    private let pollFDs: ContiguousArray<Int32>
    private weak var bpf: BPF?

    // struct perf_event_mmap_page: data_head at 1024, data_tail at 1032.
    @usableFromInline static let headOffset = 1024
    @usableFromInline static let tailOffset = 1032
    @usableFromInline static let recordSample: UInt32 = 9  // PERF_RECORD_SAMPLE
    @usableFromInline static let recordLost: UInt32 = 2  // PERF_RECORD_LOST

    init(table: Table, pageCount: Int, wakeupEvents: Int) throws {
        try table.requireKind(.perfEventArray, "PerfEventArray (BPF_PERF_OUTPUT)")
        guard pageCount > 0, pageCount & (pageCount - 1) == 0 else {
            throw BPFError.invalidArgument("Perf buffer page count must be a power of two (1, 2, 4, 8, ...), not \(pageCount).")
        }
        guard pageCount <= 1 << 20 else {
            throw BPFError.invalidArgument("Perf buffer page count \(pageCount) is too large: use at most \(1 << 20) pages per CPU.")
        }
        guard wakeupEvents >= 1, wakeupEvents <= Int(Int32.max) else {
            throw BPFError.invalidArgument("wakeupEvents must be between 1 and \(Int32.max), not \(wakeupEvents).")
        }
        let (bpf, fd) = try table.reserveForDirectReader("perf buffer reader")
        let name = table.name
        let page = Int(getpagesize())
        var opened = ContiguousArray<Ring>()
        func undo() {
            Self.close(opened, mapFD: fd)
            Glibc.close(fd)
            bpf.eventReaders.releaseDirect(name)
        }
        for cpu in CPUs.online {
            let eventFD = swiftbcc_perf_output_open(Int32(cpu), Int32(wakeupEvents))
            guard eventFD >= 0 else {
                let e = BPFError.systemCall(name: "perf_event_open(cpu \(cpu))", errno: .current,
                                            detail: "could not open the perf event of perf buffer \(name) on CPU \(cpu)")
                undo()
                throw e
            }
            let length = (pageCount + 1) * page
            guard let base = mmap(nil, length, PROT_READ | PROT_WRITE, MAP_SHARED, eventFD, 0), base != MAP_FAILED else {
                let e = BPFError.systemCall(name: "mmap(perf buffer \(name), cpu \(cpu))", errno: .current,
                                            detail: "could not map \(pageCount) pages; fewer pages, or raise RLIMIT_MEMLOCK / "
                                                + "kernel.perf_event_mlock_kb")
                Glibc.close(eventFD)
                undo()
                throw e
            }
            opened.append(Ring(cpu: cpu, base: base, data: UnsafeRawPointer(base + page), size: pageCount * page,
                               fd: eventFD, length: length))
            var key = Int32(cpu)
            var value = eventFD
            if bpf_update_elem(fd, &key, &value, 0) != 0 {
                let e = BPFError.systemCall(name: "bpf_update_elem(\(name)[\(cpu)])", errno: .current,
                                            detail: "could not store the perf event's fd in the table")
                undo()
                throw e
            }
            if swiftbcc_perf_event_enable(eventFD, 1) != 0 {
                let e = BPFError.systemCall(name: "ioctl(PERF_EVENT_IOC_ENABLE, cpu \(cpu))", errno: .current,
                                            detail: "could not enable the perf event of perf buffer \(name)")
                undo()
                throw e
            }
        }
        rings = opened
        pollFDs = ContiguousArray(opened.map(\.fd))
        scratch = UnsafeMutableRawPointer.allocate(byteCount: 1 << 16, alignment: 8)
        self.table = name
        self.mapFD = fd
        self.bpf = bpf
    }

    private static func close(_ rings: ContiguousArray<Ring>, mapFD: Int32) {
        for r in rings {
            var key = Int32(r.cpu)
            _ = bpf_delete_elem(mapFD, &key)
            _ = swiftbcc_perf_event_enable(r.fd, 0)
            munmap(r.base, r.length)
            Glibc.close(r.fd)
        }
    }

    deinit {
        close()
        scratch.deallocate()
    }

    /// Removes the perf events from the table, disables, unmaps and closes them, and releases
    /// the table. Idempotent; `consume` and `poll` throw `.closed` afterwards. Called from a
    /// handler, it takes effect when `consume` returns (after the record being handled).
    public func close() {
        guard !isClosed else { return }
        if isConsuming {
            closeRequested = true
            return
        }
        isClosed = true
        Self.close(rings, mapFD: mapFD)
        Glibc.close(mapFD)
        bpf?.eventReaders.releaseDirect(table)
    }

    /// Runs `body` with the CPU and the bytes (in place, valid only during the call) of every
    /// sample in the rings now, CPU by CPU, without waiting; returns how many it ran on. The
    /// kernel's lost-sample records go to `lost` (CPU, count) or, when it is nil, to stderr.
    /// When a handler throws, the record it threw on is consumed, the later ones stay for the
    /// next call, and the error is rethrown.
    /// - Throws: `.closed` after ``close()``, and what the handlers throw.
    @inlinable @discardableResult
    public func consume(lost: ((Int, UInt64) throws -> Void)? = nil,
                        _ body: (Int, UnsafeRawBufferPointer) throws -> Void) throws -> Int {
        if isClosed || closeRequested { throw BPFError.closed }
        isConsuming = true
        defer {
            isConsuming = false
            if closeRequested { close() }
        }
        var count = 0
        for ring in rings {
            let head = (ring.base + Self.headOffset).assumingMemoryBound(to: Atomic<UInt64>.self)
            let tailPointer = (ring.base + Self.tailOffset).assumingMemoryBound(to: Atomic<UInt64>.self)
            let mask = UInt64(ring.size - 1)
            // Only this reader writes the tail.
            var tail = tailPointer.pointee.load(ordering: .relaxed)
            while true {
                let written = head.pointee.load(ordering: .acquiring)
                if tail == written { break }
                while tail != written {
                    // A handler closed the reader: stop before the next record.
                    if closeRequested { break }
                    let offset = Int(tail & mask)
                    // Records are 8-byte aligned in a ring of whole pages: a header never wraps.
                    var record = ring.data + offset
                    let size = Int(record.loadUnaligned(fromByteOffset: 6, as: UInt16.self))
                    if size < 8 {
                        // Not a record: give up on what is in this ring now rather than loop.
                        tail = written
                        break
                    }
                    if offset + size > ring.size {
                        let first = ring.size - offset
                        scratch.copyMemory(from: record, byteCount: first)
                        (scratch + first).copyMemory(from: ring.data, byteCount: size - first)
                        record = UnsafeRawPointer(scratch)
                    }
                    tail &+= UInt64(size)
                    let type = record.loadUnaligned(as: UInt32.self)
                    do {
                        if type == Self.recordSample, size >= 12 {
                            let raw = Int(record.loadUnaligned(fromByteOffset: 8, as: UInt32.self))
                            try body(ring.cpu, UnsafeRawBufferPointer(start: record + 12, count: Swift.min(raw, size - 12)))
                            count &+= 1
                        } else if type == Self.recordLost, size >= 24 {
                            let n = record.loadUnaligned(fromByteOffset: 16, as: UInt64.self)
                            lostCount &+= n
                            if let lost { try lost(ring.cpu, n) } else { Self.reportLost(n) }
                        }
                    } catch {
                        tailPointer.pointee.store(tail, ordering: .releasing)
                        throw error
                    }
                }
                tailPointer.pointee.store(tail, ordering: .releasing)
                if closeRequested { return count }
            }
        }
        return count
    }

    /// ``consume(lost:_:)`` with each sample read as `T` (`loadEvent(as:)`). The size of `T` is
    /// checked against the table's C struct on the first call with `T`.
    @inlinable @discardableResult
    public func consume<T: BitwiseCopyable>(as type: T.Type, lost: ((Int, UInt64) throws -> Void)? = nil,
                                            _ body: (Int, T) throws -> Void) throws -> Int {
        try checkEventType(T.self)
        return try consume(lost: lost) { cpu, data in try body(cpu, try data.loadEvent(as: T.self)) }
    }

    /// Waits up to `timeout` milliseconds (negative: until samples arrive) for a CPU's ring to
    /// have samples, then consumes every ring as ``consume(lost:_:)``. Returns 0 at once after
    /// the `BPF`'s `cleanup()`, and on SIGINT/SIGTERM (then `BPF.isInterrupted` is true), as
    /// `perfBufferPoll` does.
    @inlinable @discardableResult
    public func poll(timeout: Int = -1, lost: ((Int, UInt64) throws -> Void)? = nil,
                     _ body: (Int, UnsafeRawBufferPointer) throws -> Void) throws -> Int {
        guard try waitForSamples(timeout: timeout) else { return 0 }
        return try consume(lost: lost, body)
    }

    /// ``poll(timeout:lost:_:)`` with each sample read as `T`, as ``consume(as:lost:_:)``.
    @inlinable @discardableResult
    public func poll<T: BitwiseCopyable>(timeout: Int = -1, as type: T.Type, lost: ((Int, UInt64) throws -> Void)? = nil,
                                         _ body: (Int, T) throws -> Void) throws -> Int {
        guard try waitForSamples(timeout: timeout) else { return 0 }
        return try consume(as: T.self, lost: lost, body)
    }

    /// Whether any ring has records now.
    @usableFromInline
    var hasRecords: Bool {
        for ring in rings {
            let head = (ring.base + Self.headOffset).assumingMemoryBound(to: Atomic<UInt64>.self).pointee.load(ordering: .acquiring)
            let tail = (ring.base + Self.tailOffset).assumingMemoryBound(to: Atomic<UInt64>.self).pointee.load(ordering: .relaxed)
            if head != tail { return true }
        }
        return false
    }

    /// Waits for a ring to be readable: false on timeout, cleanup or a stop signal.
    @usableFromInline
    func waitForSamples(timeout: Int) throws -> Bool {
        if isClosed { throw BPFError.closed }
        if hasRecords { return true }
        guard timeout != 0 else { return false }
        return try DirectReading.wait(for: pollFDs, of: bpf, timeout: timeout)
    }

    @usableFromInline
    static func reportLost(_ n: UInt64) {
        passOnLibbccOutput("Possibly lost \(n) samples\n")
    }

    private var checkedType: ObjectIdentifier?

    /// Checks `T`'s size against the table's C struct once (`DirectReading.check`).
    @usableFromInline
    func checkEventType<T>(_ type: T.Type) throws {
        try DirectReading.check(T.self, table, of: bpf, last: &checkedType)
    }
}

/// What the two direct readers share besides the table reservation.
enum DirectReading {
    /// Waits until one of `fds` is readable: false on timeout, on the `BPF`'s cleanup (or when it
    /// is gone) and on a stop signal (as `ringBufferPoll` and `perfBufferPoll` return then).
    static func wait(for fds: ContiguousArray<Int32>, of bpf: BPF?, timeout: Int) throws -> Bool {
        guard let bpf, !bpf.isClosed else { return false }
        return try Interrupts.waiting(or: false) {
            try EventWait.wait(fds: fds, wake: (bpf.eventReaders.wake.fd, -1), timeoutMs: timeout) { _ in } == .ready
        }
    }

    /// Checks `T`'s size against `table`'s C struct unless `last` says `T` was checked already;
    /// a reader is read as one type. After the `BPF`'s cleanup there is no table to check against
    /// (and `loadEvent` still checks each sample's size).
    static func check<T>(_ type: T.Type, _ table: String, of bpf: BPF?, last: inout ObjectIdentifier?) throws {
        let id = ObjectIdentifier(T.self)
        guard last != id, let bpf, !bpf.isClosed else { return }
        try bpf.table(table).checkEventType(T.self)
        last = id
    }
}

extension Table {
    /// Reserves the table for a direct reader (`what`, for the error) and duplicates its fd,
    /// under the `BPF`'s lock: the reader owns the duplicate.
    func reserveForDirectReader(_ what: String) throws -> (BPF, Int32) {
        let bpf = try liveBPF()
        let fd = try bpf.state.withLock { _ throws -> Int32 in
            let fd = fcntl(try liveFD(), F_DUPFD_CLOEXEC, 0)
            guard fd >= 0 else {
                throw BPFError.systemCall(name: "fcntl(F_DUPFD_CLOEXEC)", errno: .current,
                                          detail: "could not duplicate the fd of table \(name) for a \(what)")
            }
            do {
                try bpf.eventReaders.reserveDirect(name, what: what)
            } catch {
                Glibc.close(fd)
                throw error
            }
            return fd
        }
        return (bpf, fd)
    }

    /// A ``RingBufferReader`` on this `BPF_RINGBUF_OUTPUT` table: the ring mapped into this
    /// process and read by inlinable Swift code instead of a callback per sample.
    /// - Throws: `.wrongTableKind` unless this is a RingBuf table, `.invalidArgument` when it is
    ///   open already (a callback, a stream or a reader), `.systemCall` when the map cannot be
    ///   mapped.
    public func ringBufferReader() throws -> RingBufferReader {
        try RingBufferReader(table: self)
    }

    /// A ``PerfBufferReader`` on this `BPF_PERF_OUTPUT` table: a perf event and mapped ring
    /// per online CPU, read by inlinable Swift code instead of a callback per sample.
    /// - Parameters:
    ///   - pageCount: pages per CPU ring, a power of two (default 8, as `openPerfBuffer`).
    ///   - wakeupEvents: samples per wakeup of `poll` (default 1).
    /// - Throws: `.wrongTableKind` unless this is a PerfEventArray table, `.invalidArgument` for
    ///   a bad page count or `wakeupEvents` or when the table is open already, `.systemCall`
    ///   when the kernel refuses a perf event or its mapping.
    public func perfBufferReader(pageCount: Int = 8, wakeupEvents: Int = 1) throws -> PerfBufferReader {
        try PerfBufferReader(table: self, pageCount: pageCount, wakeupEvents: wakeupEvents)
    }
}
