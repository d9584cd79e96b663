internal import CBCC
import Glibc

extension Table {
    /// Opens this `BPF_RINGBUF_OUTPUT` table: the program's `events.ringbuf_output(...)` /
    /// `ringbuf_submit(...)` samples then reach `callback` during `ringBufferPoll` /
    /// `ringBufferConsume`. A program may open several ring buffers; one poll serves them all.
    ///
    /// ```swift
    /// try b["events"].openRingBuffer { data in
    ///     let event = try data.loadEvent(as: Event.self)
    ///     print(event.pid)
    /// }
    /// while true { try b.ringBufferPoll() }   // Ctrl-C ends it (or: try b.pollLoop())
    /// ```
    ///
    /// `callback` gets the sample's bytes in place, valid only during the call. It runs on the
    /// polling thread, one sample at a time (polls from several threads take turns), and may
    /// use the `BPF` and its tables but not poll or open ring buffers. If it throws,
    /// consumption stops at that sample and the poll rethrows the error; later samples stay in
    /// the ring for the next poll.
    ///
    /// - Throws: `.wrongTableKind` unless this is a RingBuf table, `.invalidArgument` when it
    ///   is open already or when called from inside a ring buffer callback, `.systemCall` when
    ///   libbpf cannot map it.
    ///
    /// Python: `b["events"].open_ring_buffer(callback, ctx=None)`; libbcc: `bpf_new_ringbuf`,
    /// `bpf_add_ringbuf`.
    public func openRingBuffer(callback: @escaping (UnsafeRawBufferPointer) throws -> Void) throws {
        _ = try openRing(in: nil, callback: callback)
    }

    /// A ring group of its own for an event stream over this table.
    func openPrivateRing(callback: @escaping (UnsafeRawBufferPointer) throws -> Void) throws -> RingReader {
        let group = RingReader(isPrivate: true)
        do {
            return try openRing(in: group, callback: callback)
        } catch {
            bpf?.eventReaders.removePrivateRing(group)
            throw error
        }
    }

    /// Adds this table's ring to `group` (the shared one when nil). The table is reserved and
    /// its fd duplicated under the `BPF`'s lock; the ring is added with no lock held, because
    /// adding waits for a running consumption, whose callbacks may need the `BPF`'s lock.
    private func openRing(in group: RingReader?,
                          callback: @escaping (UnsafeRawBufferPointer) throws -> Void) throws -> RingReader {
        try requireKind(.ringBuf, "RingBuf (BPF_RINGBUF_OUTPUT)")
        let bpf = try liveBPF()
        let readers = bpf.eventReaders
        let (reserved, fd) = try bpf.state.withLock { _ throws -> ((reader: RingReader, draining: [RingReader]), Int32) in
            let fd = fcntl(try liveFD(), F_DUPFD_CLOEXEC, 0)
            guard fd >= 0 else {
                throw BPFError.systemCall(name: "fcntl(F_DUPFD_CLOEXEC)", errno: .current,
                                          detail: "could not duplicate the fd of ring buffer \(name)")
            }
            do { return (try readers.reserveRing(name, in: group), fd) } catch { Glibc.close(fd); throw error }
        }
        let g = reserved.reader
        defer { readers.endRingUse(g) }
        // A stream closed just before may still be consuming this map: let it finish, so the
        // samples fired from now on reach this reader only.
        for old in reserved.draining { old.waitForConsumption() }
        do {
            try g.add(table: name, mapFD: fd, box: RingCallbackBox(state: CallbackState(), callback: callback))
        } catch {
            readers.unreserveRing(name)
            throw error
        }
        return g
    }

    /// True while a ring buffer (or an event stream) is open on this table.
    public var isRingBufferOpen: Bool {
        guard let bpf, !bpf.isClosed else { return false }
        return bpf.eventReaders.ringContains(name)
    }
}

extension BPF {
    /// Waits up to `timeout` milliseconds (negative or `Int.max`: until samples arrive) for
    /// samples in the open ring buffers and runs their callbacks on this thread. Returns early
    /// on `cleanup()`, and on SIGINT/SIGTERM (returning 0): then `BPF.isInterrupted` is true,
    /// and a program that polls again anyway ends by the signal (see `Interrupts`).
    ///
    /// - Returns: the number of samples consumed.
    /// - Throws: the first error a callback threw; `.invalidArgument` when no ring buffer is
    ///   open or when called from inside a perf or ring buffer callback; `.closed` after
    ///   `cleanup()`; `.interrupted` only after `Interrupts.request(signal:)`.
    ///
    /// Python: `b.ring_buffer_poll(timeout=-1)`; libbcc: `bpf_consume_ringbuf` (the wait is
    /// SwiftBCC's own `poll(2)` on the ring buffer maps, so Ctrl-C and `cleanup()` can end it).
    @discardableResult
    public func ringBufferPoll(timeout: Int = -1) throws -> Int {
        try CallbackThread.refusePoll("ringBufferPoll")
        let group = try eventReaders.beginRingUse()
        defer { eventReaders.endRingUse(group) }
        if timeout == 0 { return try pollRing(group, timeout: 0, extraWake: -1) }
        return try Interrupts.waiting(or: 0) { try pollRing(group, timeout: timeout, extraWake: -1) }
    }

    /// Consumes every available sample of the open ring buffers without waiting.
    /// - Returns: the number of samples consumed.
    /// Python: `b.ring_buffer_consume()`; libbcc: `bpf_consume_ringbuf`.
    @discardableResult
    public func ringBufferConsume() throws -> Int {
        try CallbackThread.refusePoll("ringBufferConsume")
        let group = try eventReaders.beginRingUse()
        defer { eventReaders.endRingUse(group) }
        guard !group.isEmpty else { throw Self.noRingBuffers }
        return try consumeRing(group)
    }

    static let noRingBuffers = BPFError.invalidArgument(
        "No ring buffers to poll: open one first with b[\"events\"].openRingBuffer { data in ... } on a BPF_RINGBUF_OUTPUT table.")

    func pollRing(_ group: RingReader, timeout: Int, extraWake: Int32) throws -> Int {
        try pollRingOutcome(group, timeout: timeout, extraWake: extraWake).1
    }

    func pollRingOutcome(_ group: RingReader, timeout: Int, extraWake: Int32) throws -> (EventWait.Outcome, Int) {
        let fds = group.fds
        guard !fds.isEmpty else { throw Self.noRingBuffers }
        let outcome = try EventWait.wait(fds: fds, wake: (eventReaders.wake.fd, extraWake), timeoutMs: timeout) { _ in }
        guard case .ready = outcome else { return (outcome, 0) }
        return (outcome, try consumeRing(group))
    }

    func consumeRing(_ group: RingReader) throws -> Int {
        if group.isRetired { return 0 }
        let n = group.consume()
        if let error = group.takeError() { throw error }
        // A callback closed the group (cleanup()): its callbacks refused the rest.
        if n < 0 && group.isRetired { return 0 }
        if n < 0 {
            throw BPFError.systemCall(name: "bpf_consume_ringbuf", errno: Errno(-n), detail: "reading the ring buffers failed")
        }
        return Int(n)
    }
}
