import Glibc

extension BPF {
    /// True once SIGINT or SIGTERM has arrived (or `Interrupts.request(signal:)` was called):
    /// the condition for a main loop, `while !BPF.isInterrupted { try b.perfBufferPoll() }`.
    /// Python: catching `KeyboardInterrupt`.
    public static var isInterrupted: Bool { Interrupts.pendingSignal != nil }

    /// The main loop of a tool: polls every open perf buffer and ring buffer, running their
    /// callbacks, until SIGINT or SIGTERM arrives or the `BPF` is cleaned up, then returns
    /// normally (so the program cleans up and exits 0), with stdout flushed.
    ///
    /// ```swift
    /// try b["events"].openPerfBuffer { cpu, data in print(cpu, data.count) }
    /// try b.pollLoop()
    /// ```
    ///
    /// `timeout` (milliseconds, negative: none) bounds each wait, and `body`, when given, runs
    /// after each poll (Python's loop body after `b.perf_buffer_poll(timeout)`, e.g. printing
    /// a histogram every second with `timeout: 1000`). With both perf and ring buffers open,
    /// each poll waits on the perf buffers for at most 50 ms and then drains the rings.
    ///
    /// Any other loop ends on Ctrl-C with `BPF.isInterrupted` as its condition:
    /// `while !BPF.isInterrupted { if let f = try b.traceFields() { ... } }`.
    ///
    /// - Throws: what a callback or `body` throws; `.invalidArgument` when no buffer is open.
    ///
    /// Python: `while True: b.perf_buffer_poll()` (or `ring_buffer_poll`) with
    /// `except KeyboardInterrupt: exit()`.
    public func pollLoop(timeout: Int = -1, _ body: () throws -> Void = {}) throws {
        Interrupts.install()
        try loopUntilInterrupted {
            try pollBuffers(timeout: timeout, caller: "pollLoop")
            if !Self.isInterrupted { try body() }
        }
    }

    /// One poll of every open perf buffer and ring buffer, running their callbacks: what
    /// ``pollLoop(timeout:_:)`` does each time round, for a loop of a program's own that
    /// should not care which kind its events come in. `timeout` (milliseconds, negative:
    /// none) bounds the wait; with both kinds open it waits on the perf buffers for at most
    /// 50 ms and then drains the rings. Returns early on `cleanup()` and on SIGINT/SIGTERM,
    /// as ``perfBufferPoll(timeout:)`` and ``ringBufferPoll(timeout:)`` do.
    ///
    /// - Throws: what a callback throws, and what those two throw; `.invalidArgument` when
    ///   no buffer is open.
    ///
    /// Python: `b.perf_buffer_poll(timeout)` or `b.ring_buffer_poll(timeout)`, whichever the
    /// program's buffers are.
    public func pollBuffers(timeout: Int = -1) throws {
        try pollBuffers(timeout: timeout, caller: "pollBuffers")
    }

    private func pollBuffers(timeout: Int, caller: String) throws {
        // Which kinds are open (event streams' own perf buffers do not count), in one lock.
        let (perf, ringReader) = eventReaders.state.withLock { (!$0.publicPerf.isEmpty, $0.ring) }
        let ring = !ringReader.isEmpty
        switch (perf, ring) {
        case (true, true):
            try perfBufferPoll(timeout: timeout < 0 ? 50 : min(timeout, 50))
            if !Self.isInterrupted { _ = try ringBufferPoll(timeout: 0) }
        case (true, false): try perfBufferPoll(timeout: timeout)
        case (false, true): _ = try ringBufferPoll(timeout: timeout)
        case (false, false):
            throw BPFError.invalidArgument("\(caller): no perf or ring buffer is open; open one first with "
                + "b[\"events\"].openPerfBuffer { ... } or openRingBuffer { ... }.")
        }
    }

    private func loopUntilInterrupted(_ body: () throws -> Void) throws {
        defer { fflush(nil) }
        while !Self.isInterrupted && !isClosed {
            do {
                try body()
            } catch BPFError.interrupted {
                return
            } catch BPFError.closed where isClosed {
                return
            }
        }
    }
}
