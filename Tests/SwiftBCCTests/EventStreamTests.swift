import Foundation
import Glibc
@testable import SwiftBCC
import Testing

/// Samples and lost counts seen by a consumer task.
final class Counts: @unchecked Sendable {
    private let lock = NSLock()
    private var s = 0
    private var l: UInt64 = 0
    func add(samples: Int = 0, lost: UInt64 = 0) { lock.withLock { s += samples; l += lost } }
    var samples: Int { lock.withLock { s } }
    var lost: UInt64 { lock.withLock { l } }
    var total: Int { lock.withLock { s + Int(l) } }
}

/// Names of this process's threads (their comm).
func threadNames() -> [String] {
    FileIO.listDirectory("/proc/self/task").compactMap { FileIO.read("/proc/self/task/\($0)/comm")?.trimmingTrailingNewlines }
}

struct StreamTimeout: Error, CustomStringConvertible {
    let seconds: Double
    var description: String { "the stream did not deliver what the test waited for within \(seconds) s" }
}

/// Runs `body` (which iterates a stream), cancelling it after `seconds`: a stream that never
/// delivers fails the test instead of hanging it.
func withDeadline<T: Sendable>(_ seconds: Double = 20, _ body: @escaping @Sendable () async throws -> T) async throws -> T {
    try await withThrowingTaskGroup(of: T?.self) { group in
        group.addTask { try await body() }
        group.addTask {
            try? await Task.sleep(for: .seconds(seconds))
            return nil
        }
        let first = try await group.next()!
        group.cancelAll()
        guard let value = first else { throw StreamTimeout(seconds: seconds) }
        return value
    }
}

extension KernelSuite {
    @Suite("Event streams", .requiresBPF)
    struct EventStreamTests {
        @Test("for try await over a perf buffer gets exactly N typed samples; breaking out closes the buffer")
        func perfStream() async throws {
            let src = EventSource()
            let b = try BPF(text: EventSource.perfProgram, cflags: src.cflags)
            defer { b.cleanup() }
            let table = try b["events"]
            let n = 200
            let seqs = try await withDeadline {
                let stream = table.events(as: TestEvent.self)
                #expect(table.isPerfBufferOpen)
                #expect(eventually { threadNames().contains("swiftbcc-events") })
                src.fire(n)
                var seqs: [Int32] = []
                for try await event in stream {
                    guard case let .sample(e, cpu) = event else { Issue.record("unexpected \(event)"); continue }
                    #expect(e.tgid == UInt32(getpid()))
                    #expect(CPUs.online.contains(cpu))
                    seqs.append(e.seq)
                    if seqs.count == n { break }
                }
                return seqs
            }
            #expect(seqs.sorted() == (0..<Int32(n)).map { $0 })
            // Once the stream is gone, its thread closes the buffer and ends.
            #expect(eventually { !table.isPerfBufferOpen })
            #expect(eventually { !threadNames().contains("swiftbcc-events") })
        }

        @Test("A ring buffer stream gets N samples in order")
        func ringStream() async throws {
            try #require(Probe.ringBuffers.ok, "\(Probe.ringBuffers.reason)")
            let src = EventSource()
            let b = try BPF(text: EventSource.ringProgram, cflags: src.cflags)
            defer { b.cleanup() }
            let table = try b["events"]
            let seqs = try await withDeadline {
                let stream = table.events(as: TestEvent.self)
                #expect(table.isRingBufferOpen)
                src.fire(100)
                var seqs: [Int32] = []
                for try await event in stream {
                    if case let .sample(e, cpu) = event {
                        #expect(cpu == -1)
                        seqs.append(e.seq)
                    }
                    if seqs.count == 100 { break }
                }
                return seqs
            }
            #expect(seqs == (0..<100).map { $0 })
            #expect(eventually { !table.isRingBufferOpen })
        }

        @Test("The raw stream yields copies of the bytes")
        func rawStream() async throws {
            let src = EventSource()
            let b = try BPF(text: EventSource.perfProgram, cflags: src.cflags)
            defer { b.cleanup() }
            let stream = try b["events"].events()
            src.fire(1)
            let first = try await withDeadline { () -> BufferEvent<[UInt8]>? in
                for try await event in stream { return event }
                return nil
            }
            let bytes = try #require(first?.value)
            let e = try bytes.withUnsafeBytes { try $0.loadEvent(as: TestEvent.self) }
            #expect(e.seq == 0 && e.tgid == UInt32(getpid()))
        }

        // The bounds below are generous (a loaded machine or an emulated VM is slow): the streams
        // poll without a timeout, so ending at all is what shows the wake-up works.
        @Test("Cancelling the consuming task ends the stream promptly and closes the buffer")
        func cancellation() async throws {
            let b = try BPF(text: EventSource.perfProgram, cflags: EventSource().cflags)
            defer { b.cleanup() }
            let table = try b["events"]
            let stream = table.events(as: TestEvent.self)
            let consumer = Task { () -> Date in
                do { for try await _ in stream {} } catch {}
                return Date()
            }
            try await Task.sleep(for: .milliseconds(200))
            let cancelledAt = Date()
            consumer.cancel()
            let endedAt = try await withDeadline(10) { await consumer.value }
            #expect(endedAt.timeIntervalSince(cancelledAt) < 5)
            #expect(eventually(timeout: 5) { !table.isPerfBufferOpen })
        }

        @Test("cleanup() ends the stream normally and promptly")
        func cleanupEnds() async throws {
            try #require(Probe.ringBuffers.ok, "\(Probe.ringBuffers.reason)")
            let b = try BPF(text: EventSource.ringProgram, cflags: EventSource().cflags)
            let perf = try BPF(text: EventSource.perfProgram, cflags: EventSource().cflags)
            let streams = [try b["events"].events(), try perf["events"].events()]
            for stream in streams {
                let consumer = Task { () -> (Date, Bool) in
                    do {
                        for try await _ in stream {}
                        return (Date(), true)
                    } catch {
                        return (Date(), false)
                    }
                }
                try await Task.sleep(for: .milliseconds(200))
                let cleanedAt = Date()
                b.cleanup()
                perf.cleanup()
                let (endedAt, normally) = try await withDeadline(10) { await consumer.value }
                #expect(normally)
                #expect(endedAt.timeIntervalSince(cleanedAt) < 5)
            }
        }

        @Test("Samples the consumer had no room for come as .lost in the stream: samples + lost == sent")
        func consumerLost() async throws {
            let src = EventSource()
            let b = try BPF(text: EventSource.perfProgram, cflags: src.cflags)
            defer { b.cleanup() }
            let stream = try b["events"].events(as: TestEvent.self, bufferLimit: 4)
            src.fire(50)
            try await Task.sleep(for: .milliseconds(300))
            let (samples, lost) = try await withDeadline { () -> (Int, UInt64) in
                var samples = 0
                var lost: UInt64 = 0
                var sentTrailer = false
                for try await event in stream {
                    switch event {
                    case .sample: samples += 1
                    case let .lost(n, _): lost += n
                    }
                    if samples == 4 && !sentTrailer {
                        // The stream reports the drops when the next sample comes.
                        src.fire(1, from: 50)
                        sentTrailer = true
                    }
                    if samples + Int(lost) >= 51 { break }
                }
                return (samples, lost)
            }
            #expect(samples >= 5)
            #expect(lost >= 1)
            #expect(samples + Int(lost) == 51)
        }

        @Test("Samples the kernel drops (1-page perf buffer, 500 samples per call) come as .lost: samples + lost == sent")
        func kernelLost() async throws {
            let src = EventSource()
            let b = try BPF(text: EventSource.program(
                tables: "BPF_PERF_OUTPUT(events);",
                submit: """
                    int reps = seq < 1000 ? 500 : 1;
                    for (int i = 0; i < 500; i++) { if (i >= reps) break; events.perf_submit(args, &d, sizeof(d)); }
                    """), cflags: src.cflags)
            defer { b.cleanup() }
            let stream = try b["events"].events(as: TestEvent.self, pageCount: 1, bufferLimit: 1 << 20)
            let counts = Counts()
            let consumer = Task {
                for try await event in stream {
                    switch event {
                    case .sample: counts.add(samples: 1)
                    case let .lost(n, _): counts.add(lost: n)
                    }
                }
            }
            defer { consumer.cancel() }
            // The stream's thread and the sender share CPU 0: while a call's 500 samples are
            // written (BPF programs are not preempted) nothing reads the 4 KiB buffer.
            #expect(eventually { pinThreads(named: "swiftbcc-events", to: 0) == 1 })
            onCPU(0) { src.fire(4) }
            var sent = 2000
            // The kernel writes the LOST record with the next sample that fits: send single
            // samples until everything sent is accounted for.
            let deadline = Date().addingTimeInterval(20)
            var trailer = 1000
            while counts.total < sent && Date() < deadline {
                try await Task.sleep(for: .milliseconds(200))
                if counts.total < sent {
                    onCPU(0) { src.fire(1, from: trailer) }
                    trailer += 1
                    sent += 1
                }
            }
            try await Task.sleep(for: .milliseconds(100))
            #expect(counts.lost > 0)
            #expect(counts.total == sent)
        }

        @Test("Opening errors end the stream with the error; a type of the wrong size too")
        func openErrors() async throws {
            let b = try BPF(text: EventSource.perfProgram + "\nBPF_HASH(h, u32, u32);", cflags: EventSource().cflags)
            defer { b.cleanup() }
            await #expect(throws: BPFError.wrongTableKind(table: "h", kind: "HashTable",
                                                          expected: "PerfEventArray (BPF_PERF_OUTPUT) or RingBuf (BPF_RINGBUF_OUTPUT)")) {
                for try await _ in try b["h"].events() {}
            }
            await #expect(throws: BPFError.self) {
                for try await _ in try b["events"].events(as: UInt16.self) {}
            }
            #expect(try !b["events"].isPerfBufferOpen)
        }
    }
}
