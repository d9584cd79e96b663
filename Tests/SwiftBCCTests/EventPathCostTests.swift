import Foundation
import Glibc
@testable import SwiftBCC
import Testing

extension KernelSuite {
    /// The per-event path must not allocate: counted with uprobes on malloc and swift_slowAlloc
    /// on the polling thread, consuming 0 and then N waiting events. (Retains are not counted
    /// here: a debug build retains closure contexts that the optimizer removes; the release
    /// benchmark EventPathBench covers speed.)
    @Suite("Event path cost", .requiresBPF, .requiresUprobes)
    struct EventPathCostTests {
        static let counted: [(library: String, symbol: String)] = [
            ("c", "malloc"), ("/opt/swift/usr/lib/swift/linux/libswiftCore.so", "swift_slowAlloc"),
        ]

        /// Calls counted while consuming `n` events already waiting in the buffers.
        func callsConsuming(_ n: Int, src: EventSource, counter: CallCounter, consume: () throws -> Void) throws -> [UInt64] {
            src.fire(n)
            return try counter.measure(consume)
        }

        @Test("Typed perf buffer callbacks allocate nothing per event (malloc, swift_slowAlloc)")
        func perfTyped() throws {
            let src = EventSource()
            let b = try BPF(text: EventSource.perfProgram, cflags: src.cflags)
            defer { b.cleanup() }
            var sum = 0
            try b["events"].openPerfBuffer(of: TestEvent.self, pageCount: 64) { _, e in sum &+= Int(e.seq) }
            let counter = try CallCounter(thread: currentTid(), symbols: Self.counted)
            try b.perfBufferConsume()
            let base = try callsConsuming(0, src: src, counter: counter) { try b.perfBufferConsume() }
            let n = 2000
            let busy = try callsConsuming(n, src: src, counter: counter) { try b.perfBufferConsume() }
            #expect(sum == n * (n - 1) / 2, "every event was delivered")
            #expect(busy[1] == base[1], "swift_slowAlloc: \(base[1]) without events, \(busy[1]) with \(n)")
            #expect(busy[0] == base[0], "malloc: \(base[0]) without events, \(busy[0]) with \(n)")
        }

        @Test("Control: a callback that copies each event is seen allocating once per event")
        func control() throws {
            let src = EventSource()
            let b = try BPF(text: EventSource.perfProgram, cflags: src.cflags)
            defer { b.cleanup() }
            var kept = 0
            try b["events"].openPerfBuffer(pageCount: 64) { _, data in kept &+= Array(data).count }
            let counter = try CallCounter(thread: currentTid(), symbols: Self.counted)
            try b.perfBufferConsume()
            let base = try callsConsuming(0, src: src, counter: counter) { try b.perfBufferConsume() }
            let n = 1000
            let busy = try callsConsuming(n, src: src, counter: counter) { try b.perfBufferConsume() }
            #expect(busy[1] >= base[1] + UInt64(n), "swift_slowAlloc: \(base[1]) without events, \(busy[1]) with \(n)")
            #expect(busy[0] >= base[0] + UInt64(n), "malloc: \(base[0]) without events, \(busy[0]) with \(n)")
        }

        @Test("Raw perf buffer callbacks with loadEvent allocate nothing per event")
        func perfRaw() throws {
            let src = EventSource()
            let b = try BPF(text: EventSource.perfProgram, cflags: src.cflags)
            defer { b.cleanup() }
            var sum = 0
            try b["events"].openPerfBuffer(pageCount: 64) { cpu, data in sum &+= Int(try data.loadEvent(as: TestEvent.self).seq) }
            let counter = try CallCounter(thread: currentTid(), symbols: Self.counted)
            try b.perfBufferConsume()
            let base = try callsConsuming(0, src: src, counter: counter) { try b.perfBufferConsume() }
            let n = 2000
            let busy = try callsConsuming(n, src: src, counter: counter) { try b.perfBufferConsume() }
            #expect(sum == n * (n - 1) / 2)
            #expect(busy == base, "malloc, swift_slowAlloc: \(base) without events, \(busy) with \(n)")
        }

        @Test("Typed ring buffer callbacks allocate nothing per event", .requiresRingBuffers)
        func ringTyped() throws {
            let src = EventSource()
            let b = try BPF(text: EventSource.program(tables: "BPF_RINGBUF_OUTPUT(events, 64);",
                                                      submit: "events.ringbuf_output(&d, sizeof(d), 0);"),
                            cflags: src.cflags)
            defer { b.cleanup() }
            var sum = 0
            try b["events"].openRingBuffer(of: TestEvent.self) { e in sum &+= Int(e.seq) }
            let counter = try CallCounter(thread: currentTid(), symbols: Self.counted)
            try b.ringBufferConsume()
            let base = try callsConsuming(0, src: src, counter: counter) { try b.ringBufferConsume() }
            let n = 2000
            let busy = try callsConsuming(n, src: src, counter: counter) { try b.ringBufferConsume() }
            #expect(sum == n * (n - 1) / 2)
            #expect(busy == base, "malloc, swift_slowAlloc: \(base) without events, \(busy) with \(n)")
        }

        @Test("The direct readers allocate nothing per event (perf and ring)", .requiresRingBuffers)
        func direct() throws {
            let src = EventSource()
            let b = try BPF(text: EventSource.program(tables: "BPF_RINGBUF_OUTPUT(ring, 64);\nBPF_PERF_OUTPUT(perf);",
                                                      submit: "ring.ringbuf_output(&d, sizeof(d), 0); perf.perf_submit(args, &d, sizeof(d));"),
                            cflags: src.cflags)
            defer { b.cleanup() }
            let ring = try b["ring"].ringBufferReader()
            let perf = try b["perf"].perfBufferReader(pageCount: 64)
            var ringSum = 0, perfSum = 0
            let counter = try CallCounter(thread: currentTid(), symbols: Self.counted)
            func consume() throws {
                _ = try ring.consume(as: TestEvent.self) { ringSum &+= Int($0.seq) }
                _ = try perf.consume(as: TestEvent.self) { _, e in perfSum &+= Int(e.seq) }
            }
            try consume()
            let base = try callsConsuming(0, src: src, counter: counter, consume: consume)
            let n = 2000
            let busy = try callsConsuming(n, src: src, counter: counter, consume: consume)
            #expect(ringSum == n * (n - 1) / 2 && perfSum == n * (n - 1) / 2, "every event was delivered")
            #expect(busy == base, "malloc, swift_slowAlloc: \(base) without events, \(busy) with \(n)")
        }
    }
}
