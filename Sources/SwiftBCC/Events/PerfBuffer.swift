internal import CBCC
import Glibc

extension Table {
    /// The live `BPF` that owns this table, or `.closed`.
    func liveBPF() throws -> BPF {
        guard let bpf, !bpf.isClosed else { throw BPFError.closed }
        return bpf
    }

    @usableFromInline
    func requireKind(_ expected: TableKind, _ what: String) throws {
        guard kind == expected else {
            throw BPFError.wrongTableKind(table: name, kind: kind.pythonClassName, expected: what)
        }
    }

    /// Opens a perf buffer on every online CPU for this `BPF_PERF_OUTPUT` table: the program's
    /// `events.perf_submit(ctx, &data, sizeof(data))` then reaches `callback` during
    /// `perfBufferPoll`/`perfBufferConsume`.
    ///
    /// ```swift
    /// try b["events"].openPerfBuffer { cpu, data in
    ///     let event = try data.load(as: Event.self)   // size-checked, no copy
    ///     print(cpu, event.pid)
    /// }
    /// while true { try b.perfBufferPoll() }   // Ctrl-C ends it (or: try b.pollLoop())
    /// ```
    ///
    /// `callback` gets the CPU and the kernel's bytes in place: the buffer is valid only during
    /// the call (copy what you keep). It runs on the thread that polls, never on two threads at
    /// once (polls of one buffer from several threads take turns), and may use the `BPF` and
    /// its tables but not poll. If it throws, the poll stops and rethrows the error; the rest
    /// of that CPU's batch is dropped.
    ///
    /// - Parameters:
    ///   - pageCount: pages per CPU buffer, a power of two (Python's `page_cnt`, default 8), at
    ///     most 262144 with 4 KiB pages (libbcc sizes the mapping in a C `int`).
    ///   - lostCallback: called with the number of samples the kernel dropped because a buffer
    ///     was full; without it libbcc prints "Possibly lost N samples" to stderr.
    ///   - wakeupEvents: samples per wakeup; above 1, use `perfBufferConsume()` for the rest.
    ///   - callback: called with the CPU and the bytes of each sample, as described above.
    /// - Throws: `.wrongTableKind` unless this is a `BPF_PERF_OUTPUT` (PerfEventArray) table,
    ///   `.invalidArgument` for a bad page count or `wakeupEvents`, or a buffer already open,
    ///   `.systemCall` when the kernel refuses a perf event or its mmap.
    ///
    /// Python: `b["events"].open_perf_buffer(callback, page_cnt=8, lost_cb=None, wakeup_events=1)`;
    /// libbcc: `bpf_open_perf_buffer_opts`, `bpf_update_elem`.
    public func openPerfBuffer(pageCount: Int = 8, lostCallback: ((UInt64) throws -> Void)? = nil,
                               wakeupEvents: Int = 1,
                               callback: @escaping (Int, UnsafeRawBufferPointer) throws -> Void) throws {
        _ = try openPerfBuffer(pageCount: pageCount, wakeupEvents: wakeupEvents, isPrivate: false,
                               callback: callback, lostCallback: lostCallback.map { lost in { _, n in try lost(n) } })
    }

    func openPerfBuffer(pageCount: Int, wakeupEvents: Int, isPrivate: Bool,
                        callback: @escaping (Int, UnsafeRawBufferPointer) throws -> Void,
                        lostCallback: ((Int, UInt64) throws -> Void)?) throws -> PerfReader {
        try requireKind(.perfEventArray, "PerfEventArray (BPF_PERF_OUTPUT)")
        guard pageCount > 0, pageCount & (pageCount - 1) == 0 else {
            throw BPFError.invalidArgument("Perf buffer page count must be a power of two (1, 2, 4, 8, ...), not \(pageCount).")
        }
        let maxPages = Self.maxPerfPageCount
        guard pageCount <= maxPages else {
            throw BPFError.invalidArgument("Perf buffer page count \(pageCount) is too large: libbcc maps (pages + 1) "
                + "* \(Int(getpagesize())) bytes per CPU as a C int, so use at most \(maxPages) pages.")
        }
        guard wakeupEvents >= 1, wakeupEvents <= Int(Int32.max) else {
            throw BPFError.invalidArgument("wakeupEvents must be between 1 and \(Int32.max), not \(wakeupEvents).")
        }
        let bpf = try liveBPF()
        let fd = try liveFD()
        let readers = bpf.eventReaders
        return try bpf.state.withLock { _ in
            if readers.perfEntry(name) != nil || readers.hasDirect(name) {
                throw BPFError.invalidArgument("A perf buffer is already open on table \(name); "
                    + "call closePerfBuffer() before opening it again.")
            }
            let cpus = CPUs.online
            let state = CallbackState()
            var opened = ContiguousArray<OpaquePointer>()
            var boxes: [PerfCallbackBox] = []
            func undo() {
                for (r, cpu) in zip(opened, cpus) {
                    var key = Int32(cpu)
                    _ = bpf_delete_elem(fd, &key)
                    perf_reader_free(UnsafeMutableRawPointer(r))
                }
                for b in boxes { Unmanaged.passUnretained(b).release() }
            }
            for cpu in cpus {
                let box = PerfCallbackBox(cpu: cpu, state: state, callback: callback, lostCallback: lostCallback)
                let ctx = Unmanaged.passRetained(box).toOpaque()
                var opts = bcc_perf_buffer_opts(pid: -1, cpu: Int32(cpu), wakeup_events: Int32(wakeupEvents))
                let result = LibBCC.call("bpf_open_perf_buffer", passThrough: false) {
                    bpf_open_perf_buffer_opts(perfRawCallback, lostCallback == nil ? nil : perfLostCallback,
                                              ctx, Int32(pageCount), &opts)
                }
                let reader: UnsafeMutableRawPointer
                switch result {
                case .success(let r): reader = r
                case .failure(let failure):
                    Unmanaged.passUnretained(box).release()
                    undo()
                    throw BPFError.from(.system(name: "bpf_open_perf_buffer(\(name), cpu \(cpu))",
                                                operation: "opening a perf buffer on CPU \(cpu) for table \(name)"),
                                        failure, hint: "could not open perf buffer")
                }
                let r = OpaquePointer(reader)
                var key = Int32(cpu)
                var value = perf_reader_fd(r)
                if case .failure(let failure) = LibBCC.call("bpf_update_elem", { bpf_update_elem(fd, &key, &value, 0) }) {
                    perf_reader_free(reader)
                    Unmanaged.passUnretained(box).release()
                    undo()
                    throw BPFError.from(.system(name: "bpf_update_elem(\(name)[\(cpu)])"), failure,
                                        hint: "could not store the perf buffer's fd in the table")
                }
                opened.append(r)
                boxes.append(box)
            }
            let entry = PerfReader(table: name, mapFD: fd, cpus: cpus, readers: opened, boxes: boxes,
                                        state: state, isPrivate: isPrivate)
            do { try readers.add(entry) } catch { undo(); throw error }
            return entry
        }
    }

    /// The largest power-of-two page count whose mapping, (pages + 1) pages, libbcc can size
    /// (`perf_reader_mmap` computes it in a C `int`): 262144 with 4 KiB pages.
    static var maxPerfPageCount: Int {
        let limit = Int(Int32.max) / Int(getpagesize()) - 1
        return 1 << (Int.bitWidth - 1 - limit.leadingZeroBitCount)
    }

    /// Closes this table's perf buffers: removes them from the table (the program's
    /// `perf_submit` then fails with ENOENT) and frees the readers, now or when a poll using
    /// them returns. Python: `del b["events"][cpu]` for each CPU (`PerfEventArray.__delitem__`);
    /// libbcc: `perf_reader_free`.
    public func closePerfBuffer() throws {
        try requireKind(.perfEventArray, "PerfEventArray (BPF_PERF_OUTPUT)")
        let bpf = try liveBPF()
        guard let entry = bpf.eventReaders.perfEntry(name), !entry.isPrivate else {
            throw BPFError.invalidArgument("No perf buffer is open on table \(name); nothing to close.")
        }
        closePerfEntry(entry)
    }

    func closePerfEntry(_ entry: PerfReader) {
        guard let bpf, !bpf.isClosed else { return }
        bpf.state.withLock { _ in
            guard bpf.eventReaders.removePerf(entry) else { return }
            for cpu in entry.cpus {
                var key = Int32(cpu)
                _ = bpf_delete_elem(entry.mapFD, &key)
            }
        }
    }

    /// True while a perf buffer is open on this table.
    public var isPerfBufferOpen: Bool {
        guard let bpf, !bpf.isClosed else { return false }
        return bpf.eventReaders.perfEntry(name) != nil
    }
}

extension BPF {
    /// Waits up to `timeout` milliseconds (negative or `Int.max`: until events arrive) for
    /// events in the open perf buffers and runs their callbacks on this thread. Returns early on
    /// `cleanup()` (from another thread or a callback), and on SIGINT/SIGTERM: then
    /// `BPF.isInterrupted` is true, and a program that polls again anyway ends by the signal
    /// (see `Interrupts`), so `while true { try b.perfBufferPoll() }` ends on Ctrl-C.
    ///
    /// - Throws: the first error a callback threw; `.invalidArgument` when no perf buffer is
    ///   open or when called from inside a perf or ring buffer callback; `.closed` after
    ///   `cleanup()`; `.interrupted` only after `Interrupts.request(signal:)`.
    ///
    /// Python: `b.perf_buffer_poll(timeout=-1)`; libbcc: `perf_reader_event_read` (the wait is
    /// SwiftBCC's own `poll(2)`, so Ctrl-C and `cleanup()` can end it).
    public func perfBufferPoll(timeout: Int = -1) throws {
        try CallbackThread.refusePoll("perfBufferPoll")
        let entries = try eventReaders.beginPerfUse()
        defer { eventReaders.endPerfUse(entries) }
        guard !entries.isEmpty else {
            throw BPFError.invalidArgument("No perf buffers to poll: open one first with "
                + "b[\"events\"].openPerfBuffer { cpu, data in ... } on a BPF_PERF_OUTPUT table.")
        }
        if timeout == 0 {
            try pollPerf(entries, timeout: 0, extraWake: -1)
        } else {
            try Interrupts.waiting(or: ()) { _ = try pollPerf(entries, timeout: timeout, extraWake: -1) }
        }
    }

    /// Reads every open perf buffer now, whether or not it signalled readiness; catches the
    /// remainder when `wakeupEvents` > 1. Throws as `perfBufferPoll`.
    /// Python: `b.perf_buffer_consume()`; libbcc: `perf_reader_event_read` (as `perf_reader_consume`).
    public func perfBufferConsume() throws {
        try CallbackThread.refusePoll("perfBufferConsume")
        let entries = try eventReaders.beginPerfUse()
        defer { eventReaders.endPerfUse(entries) }
        guard !entries.isEmpty else {
            throw BPFError.invalidArgument("No perf buffers to consume: open one first with openPerfBuffer.")
        }
        for e in entries {
            for i in e.readers.indices {
                if let error = e.read(i) { throw error }
            }
        }
    }

    /// Waits for and reads `entries`; the caller holds them in use.
    @discardableResult
    func pollPerf(_ entries: [PerfReader], timeout: Int, extraWake: Int32) throws -> EventWait.Outcome {
        // One flat fd list; `ready` maps a ready fd index back to its entry and reader.
        var fds = ContiguousArray<Int32>()
        if entries.count == 1 {
            fds = entries[0].fds
        } else {
            for e in entries { fds.append(contentsOf: e.fds) }
        }
        var failure: (any Error)?
        let outcome = try EventWait.wait(fds: fds, wake: (eventReaders.wake.fd, extraWake), timeoutMs: timeout) { index in
            guard failure == nil else { return }
            var i = index
            for e in entries {
                if i < e.readers.count {
                    failure = e.read(i)
                    return
                }
                i -= e.readers.count
            }
        }
        if let failure { throw failure }
        return outcome
    }
}
