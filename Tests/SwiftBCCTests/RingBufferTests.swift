import Foundation
import Glibc
@testable import SwiftBCC
import Testing

extension KernelSuite {
    @Suite("Ring buffers", .requiresBPF, .requiresRingBuffers)
    struct RingBufferTests {
        func poll(_ b: BPF, timeout: Double = 10, until done: () -> Bool) throws {
            let deadline = Date().addingTimeInterval(timeout)
            while !done() && Date() < deadline { try b.ringBufferPoll(timeout: 100) }
        }

        @Test("N getpgid calls from this process arrive as exactly N ring buffer samples, in order, decoded correctly")
        func exactlyN() throws {
            let src = EventSource()
            let b = try BPF(text: EventSource.ringProgram, cflags: src.cflags)
            defer { b.cleanup() }
            let n = 300
            var events: [TestEvent] = []
            var sizes = Set<Int>()
            try b["events"].openRingBuffer { data in
                sizes.insert(data.count)
                events.append(try data.loadEvent(as: TestEvent.self))
            }
            #expect(try b["events"].isRingBufferOpen)
            src.fire(n)
            try poll(b) { events.count >= n }
            #expect(try b.ringBufferPoll(timeout: 50) == 0)
            #expect(events.count == n)
            // One ring for all CPUs: samples come in submission order.
            #expect(events.map(\.seq) == (0..<Int32(n)).map { $0 })
            #expect(events.allSatisfy { $0.tgid == UInt32(getpid()) })
            #expect(events.allSatisfy { cString($0.comm) == currentThreadComm() })
            #expect(zip(events, events.dropFirst()).allSatisfy { $0.ts <= $1.ts })
            #expect(sizes == [MemoryLayout<TestEvent>.size])
        }

        @Test("Several ring buffers in one program: one poll serves them all, each sample to its table's callback")
        func twoRings() throws {
            let src = EventSource()
            let b = try BPF(text: EventSource.program(
                tables: "BPF_RINGBUF_OUTPUT(even, 4);\nBPF_RINGBUF_OUTPUT(odd, 4);",
                submit: "if (seq % 2) odd.ringbuf_output(&d, sizeof(d), 0); else { "
                    + "struct data_t *r = even.ringbuf_reserve(sizeof(struct data_t)); "
                    + "if (r) { __builtin_memcpy(r, &d, sizeof(d)); even.ringbuf_submit(r, 0); } }"),
                            cflags: src.cflags)
            defer { b.cleanup() }
            var even: [Int32] = [], odd: [Int32] = []
            try b["even"].openRingBuffer(of: TestEvent.self) { even.append($0.seq) }
            try b["odd"].openRingBuffer(of: TestEvent.self) { odd.append($0.seq) }
            src.fire(40)
            try poll(b) { even.count + odd.count >= 40 }
            #expect(even == Array(stride(from: 0, to: 40, by: 2)))
            #expect(odd == Array(stride(from: 1, to: 40, by: 2)))
        }

        @Test("A callback that throws stops consumption at that sample; the error comes out of ringBufferPoll; the rest stays")
        func throwingCallback() throws {
            let src = EventSource()
            let b = try BPF(text: EventSource.ringProgram, cflags: src.cflags)
            defer { b.cleanup() }
            var seen: [Int32] = []
            try b["events"].openRingBuffer(of: TestEvent.self) { e in
                seen.append(e.seq)
                if e.seq == 3 { throw TestFailure(seq: 3) }
            }
            src.fire(10)
            #expect(throws: TestFailure(seq: 3)) {
                let deadline = Date().addingTimeInterval(10)
                while Date() < deadline { try b.ringBufferPoll(timeout: 100) }
            }
            #expect(seen == [0, 1, 2, 3])
            // Nothing was dropped: the next poll goes on with 4.
            try poll(b) { seen.count >= 10 }
            #expect(seen == (0..<10).map { $0 })
        }

        @Test("Misuse: wrong kinds, double opens, polls without ring buffers, and use after cleanup")
        func misuse() throws {
            let b = try BPF(text: "BPF_PERF_OUTPUT(events);\nBPF_RINGBUF_OUTPUT(ring, 4);")
            defer { b.cleanup() }
            #expect(throws: BPF.noRingBuffers) { try b.ringBufferPoll(timeout: 0) }
            #expect(throws: BPF.noRingBuffers) { try b.ringBufferConsume() }
            #expect(throws: BPFError.wrongTableKind(table: "events", kind: "PerfEventArray", expected: "RingBuf (BPF_RINGBUF_OUTPUT)")) {
                try b["events"].openRingBuffer { _ in }
            }
            try b["ring"].openRingBuffer { _ in }
            #expect(throws: BPFError.self) { try b["ring"].openRingBuffer { _ in } }
            #expect(try b.ringBufferConsume() == 0)
            #expect(try b.ringBufferPoll(timeout: 0) == 0)
            b.cleanup()
            #expect(throws: BPFError.closed) { try b.ringBufferPoll(timeout: 0) }
            #expect(throws: BPFError.closed) { try b["ring"] }
        }

        @Test("A timeout too large for the clock (Int.max) waits without end instead of trapping")
        func hugeTimeout() throws {
            let src = EventSource()
            let b = try BPF(text: EventSource.ringProgram, cflags: src.cflags)
            defer { b.cleanup() }
            var seqs: [Int32] = []
            try b["events"].openRingBuffer(of: TestEvent.self) { seqs.append($0.seq) }
            try pollWithHugeTimeouts(src, seen: { seqs }) { _ = try b.ringBufferPoll(timeout: $0) }
            #expect(seqs == [0, 1, 2])
        }

        @Test("Polling or opening a ring buffer from inside a ring callback is a typed error, not a repeat of the sample")
        func reentry() throws {
            let src = EventSource()
            let b = try BPF(text: EventSource.program(tables: "BPF_RINGBUF_OUTPUT(events, 8);\nBPF_RINGBUF_OUTPUT(other, 4);",
                                                      submit: "events.ringbuf_output(&d, sizeof(d), 0);"), cflags: src.cflags)
            defer { b.cleanup() }
            var seqs: [Int32] = []
            var errors: [String] = []
            try b["events"].openRingBuffer(of: TestEvent.self) { e in
                seqs.append(e.seq)
                errors.append(invalidArgumentWord { _ = try b.ringBufferPoll(timeout: 0) })
                errors.append(invalidArgumentWord { _ = try b.ringBufferConsume() })
                errors.append(invalidArgumentWord { try b["other"].openRingBuffer { _ in } })
            }
            src.fire(2)
            try poll(b) { seqs.count >= 2 }
            #expect(seqs == [0, 1])
            #expect(errors == Array(repeating: ["ringBufferPoll", "ringBufferConsume", "Cannot"], count: 2).flatMap { $0 })
            #expect(try !b["other"].isRingBufferOpen)
            try b["other"].openRingBuffer { _ in }
            #expect(try b["other"].isRingBufferOpen)
        }

        @Test("A callback that calls into the BPF while another thread opens a ring buffer or cleans up does not deadlock",
              arguments: ["openRingBuffer", "cleanup"])
        func callbackVersusOtherThread(_ other: String) throws {
            let src = EventSource()
            let b = try BPF(text: EventSource.program(tables: "BPF_RINGBUF_OUTPUT(events, 8);\nBPF_RINGBUF_OUTPUT(other, 4);",
                                                      submit: "events.ringbuf_output(&d, sizeof(d), 0);"), cflags: src.cflags)
            let events = try b["events"]
            let inCallback = DispatchSemaphore(value: 0)
            let seenSeq = Shared<Int64?>(nil)
            let seenOpen = Shared<Bool?>(nil)
            try events.openRingBuffer { (data: UnsafeRawBufferPointer) throws in
                inCallback.signal()
                // Give the other thread time to take the BPF's locks and wait for the ring's.
                usleep(200_000)
                // Python's idiom, b["events"].event(data): the BPF's lock, then the readers' lock.
                seenSeq.value = try b["events"].event(data)["seq"]?.int
                seenOpen.value = events.isRingBufferOpen
            }
            src.fire(1)
            let polled = Shared<Result<Int, any Error>?>(nil)
            let opened = Shared<Result<Void, any Error>?>(nil)
            let poller: @Sendable () -> Void = {
                polled.value = Result<Int, any Error> { try b.ringBufferPoll(timeout: 10_000) }
            }
            let intruder: @Sendable () -> Void = {
                inCallback.wait()
                if other == "cleanup" {
                    b.cleanup()
                } else {
                    opened.value = Result<Void, any Error> { try b["other"].openRingBuffer { _ in } }
                }
            }
            let finished = runThreads(timeout: 20, [poller, intruder])
            guard finished else {
                abandon(b)
                Issue.record("deadlock: the poll thread and \(other) were still waiting after 20 s")
                return
            }
            defer { b.cleanup() }
            if other == "cleanup" {
                // The callback ran on after cleanup(): its decoding failed with .closed, which the poll rethrows.
                if case let .failure(error) = polled.value { #expect(error as? BPFError == .closed) }
                #expect(throws: BPFError.closed) { try b.ringBufferPoll(timeout: 0) }
            } else {
                #expect(try polled.value?.get() == 1)
                #expect(seenSeq.value == 0)
                #expect(seenOpen.value == true)
                #expect(throws: Never.self) { try opened.value?.get() }
                #expect(try b["other"].isRingBufferOpen)
            }
        }

        @Test("cleanup() from another thread ends a blocking ringBufferPoll, long before its timeout")
        func cleanupEndsPoll() throws {
            let b = try BPF(text: EventSource.ringProgram, cflags: EventSource().cflags)
            try b["events"].openRingBuffer { _ in }
            try expectCleanupEndsPoll(b) { _ = try b.ringBufferPoll(timeout: 60_000) }
        }
    }
}
