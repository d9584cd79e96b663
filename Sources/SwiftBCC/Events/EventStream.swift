internal import CBCC
import Glibc

/// One element of an event stream: a sample, or a count of samples that were lost.
public enum BufferEvent<Value: Sendable>: Sendable {
    /// A sample and the CPU whose perf buffer it came through (-1 for ring buffers, which are
    /// shared by all CPUs).
    case sample(Value, cpu: Int)
    /// `count` samples were lost on `cpu` (-1: ring buffer or unknown): the kernel found the
    /// perf buffer full, or the stream's own buffer was full because the consumer fell behind.
    case lost(UInt64, cpu: Int)

    /// The sample, or nil for `.lost`.
    public var value: Value? {
        if case let .sample(v, _) = self { return v }
        return nil
    }
}

extension BufferEvent: Equatable where Value: Equatable {}

extension Table {
    /// The events of this `BPF_PERF_OUTPUT` or `BPF_RINGBUF_OUTPUT` table as an async sequence
    /// of `T` values (size-checked against the program's struct, like `loadEvent(as:)`).
    ///
    /// ```swift
    /// for try await event in try b["events"].events(as: Event.self) {
    ///     if case let .sample(e, cpu) = event { print(cpu, e.pid) }
    /// }
    /// ```
    ///
    /// Opening the buffer happens now (events are captured from this call on); an error in
    /// opening ends the sequence with that error. A thread of its own (never the cooperative
    /// pool) polls the buffer and feeds the sequence. The sequence ends — and the buffer is
    /// closed — within milliseconds when the consuming task is cancelled or stops iterating,
    /// or when `cleanup()` runs, and when SIGINT/SIGTERM arrives (normally, as a poll ends:
    /// `for try await` loops end and the program goes on; see `Interrupts`).
    /// Samples the kernel dropped, and samples dropped because more than `bufferLimit` were
    /// waiting for the consumer, come as `.lost` elements in place.
    ///
    /// - Parameters:
    ///   - type: the Swift mirror of the C struct each event holds; its size is checked
    ///     against each event's.
    ///   - pageCount: pages per CPU for a perf buffer (power of two); ignored for ring buffers.
    ///   - bufferLimit: samples kept waiting for the consumer before further ones are dropped.
    ///
    /// Python: `open_perf_buffer`/`open_ring_buffer` + a `perf_buffer_poll`/`ring_buffer_poll`
    /// loop (no async twin).
    public func events<T: BitwiseCopyable & Sendable>(as type: T.Type, pageCount: Int = 8,
                                                      bufferLimit: Int = 4096) -> AsyncThrowingStream<BufferEvent<T>, any Error> {
        makeEventStream(pageCount: pageCount, bufferLimit: bufferLimit, checkType: { try $0.checkEventType(T.self) }) {
            try $0.loadEvent(as: T.self)
        }
    }

    /// The events of this table as copies of their raw bytes (see `events(as:)`).
    public func events(pageCount: Int = 8, bufferLimit: Int = 4096) -> AsyncThrowingStream<BufferEvent<[UInt8]>, any Error> {
        makeEventStream(pageCount: pageCount, bufferLimit: bufferLimit, checkType: { _ in }) { Array($0) }
    }

    func makeEventStream<Value: Sendable>(pageCount: Int, bufferLimit: Int, checkType: (Table) throws -> Void,
                                          decode: @escaping (UnsafeRawBufferPointer) throws -> Value)
        -> AsyncThrowingStream<BufferEvent<Value>, any Error> {
        let (stream, continuation) = AsyncThrowingStream.makeStream(
            of: BufferEvent<Value>.self, throwing: (any Error).self,
            bufferingPolicy: .bufferingOldest(Swift.max(1, bufferLimit)))
        do {
            try checkType(self)
            let bpf = try liveBPF()
            let feeder = StreamFeeder(continuation)
            let cancel = WakeFD()
            switch kind {
            case .perfEventArray:
                let entry = try openPerfBuffer(pageCount: pageCount, wakeupEvents: 1, isPrivate: true, callback: { cpu, data in
                    feeder.yield(.sample(try decode(data), cpu: cpu), cpu: cpu)
                }, lostCallback: { cpu, n in feeder.lost(n, cpu: cpu) })
                // Ending the stream closes the buffer at once (the table can be opened again
                // right away) and wakes the thread, which frees the readers when it lets go.
                continuation.onTermination = { [self] _ in
                    cancel.signal()
                    closePerfEntry(entry)
                }
                do { try EventThread.start { [self] in
                    defer { closePerfEntry(entry) }
                    feeder.run {
                        while true {
                            let inUse = try bpf.eventReaders.beginPerfUse(only: entry)
                            defer { bpf.eventReaders.endPerfUse(inUse) }
                            if inUse.isEmpty { return }
                            if case .woken = try bpf.pollPerf(inUse, timeout: -1, extraWake: cancel.fd) { return }
                        }
                    }
                } } catch { closePerfEntry(entry); throw error }
            case .ringBuf:
                let group = try openPrivateRing { data in feeder.yield(.sample(try decode(data), cpu: -1), cpu: -1) }
                continuation.onTermination = { _ in
                    cancel.signal()
                    bpf.eventReaders.removePrivateRing(group)
                }
                do { try EventThread.start {
                    defer { bpf.eventReaders.removePrivateRing(group) }
                    feeder.run {
                        while true {
                            let g = try bpf.eventReaders.beginRingUse(group)
                            defer { bpf.eventReaders.endRingUse(g) }
                            if g.isRetired { return }
                            if case .woken = try bpf.pollRingOutcome(g, timeout: -1, extraWake: cancel.fd).0 { return }
                        }
                    }
                } } catch { bpf.eventReaders.removePrivateRing(group); throw error }
            default:
                throw BPFError.wrongTableKind(table: name, kind: kind.pythonClassName,
                                              expected: "PerfEventArray (BPF_PERF_OUTPUT) or RingBuf (BPF_RINGBUF_OUTPUT)")
            }
        } catch {
            continuation.finish(throwing: error)
        }
        return stream
    }
}

/// Feeds one stream from its polling thread (only that thread calls it): yields samples,
/// counts what the bounded buffer drops and reports it, per CPU, as `.lost` elements as soon
/// as there is room again.
final class StreamFeeder<Value: Sendable>: @unchecked Sendable {
    typealias Continuation = AsyncThrowingStream<BufferEvent<Value>, any Error>.Continuation
    let continuation: Continuation
    /// Samples dropped per CPU and not reported yet.
    private var dropped: [Int: UInt64] = [:]
    private var anyDropped = false

    init(_ continuation: Continuation) { self.continuation = continuation }

    /// Reports pending drops; false when the buffer is still full.
    private func flushDropped() -> Bool {
        for (cpu, n) in dropped.sorted(by: { $0.key < $1.key }) where n > 0 {
            switch continuation.yield(.lost(n, cpu: cpu)) {
            case .enqueued: dropped[cpu] = 0
            default: return false
            }
        }
        anyDropped = false
        return true
    }

    func yield(_ event: BufferEvent<Value>, cpu: Int) {
        if anyDropped && !flushDropped() {
            dropped[cpu, default: 0] += 1
            return
        }
        if case .dropped = continuation.yield(event) {
            dropped[cpu, default: 0] += 1
            anyDropped = true
        }
    }

    func lost(_ count: UInt64, cpu: Int) {
        dropped[cpu, default: 0] += count
        anyDropped = true
        _ = flushDropped()
    }

    /// Runs the poll loop and ends the stream: normally when the loop returns (cancelled or
    /// closed) or a stop signal ended it, with the error it throws otherwise (a decoding error).
    func run(_ loop: () throws -> Void) {
        do {
            try loop()
            continuation.finish()
        } catch BPFError.closed {
            continuation.finish()
        } catch BPFError.interrupted {
            Interrupts.reportStop()
            continuation.finish()
        } catch {
            continuation.finish(throwing: error)
        }
    }
}

/// A detached pthread for a stream's poll loop, so blocking polls never occupy the Swift
/// concurrency pool.
enum EventThread {
    private final class Start {
        let body: () -> Void
        init(_ body: @escaping () -> Void) { self.body = body }
    }

    static func start(_ body: @escaping @Sendable () -> Void) throws {
        let ctx = Unmanaged.passRetained(Start(body)).toOpaque()
        var thread = pthread_t()
        let rc = pthread_create(&thread, nil, { ctx in
            _ = swiftbcc_set_thread_name("swiftbcc-events")
            let start = Unmanaged<Start>.fromOpaque(ctx!).takeRetainedValue()
            start.body()
            return nil
        }, ctx)
        guard rc == 0 else {
            Unmanaged<Start>.fromOpaque(ctx).release()
            throw BPFError.systemCall(name: "pthread_create", errno: Errno(rc), detail: "could not start the event stream's thread")
        }
        pthread_detach(thread)
    }
}
