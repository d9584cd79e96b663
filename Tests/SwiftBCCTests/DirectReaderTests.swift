import Foundation
import Glibc
@testable import SwiftBCC
import Testing

extension KernelSuite {
    /// `RingBufferReader` and `PerfBufferReader`, which map the buffers and read their records
    /// in Swift, checked against libbcc's readers (libbpf's ring_buffer, libbcc's perf_reader)
    /// on the same events: every sample submitted to a "direct" table is submitted to a
    /// "callback" table too, in the same tracepoint run.
    @Suite("Direct ring and perf readers", .requiresBPF, .requiresRingBuffers)
    struct DirectReaderTests {
        static let tables = """
            BPF_RINGBUF_OUTPUT(direct_ring, 1);
            BPF_RINGBUF_OUTPUT(callback_ring, 1);
            BPF_RINGBUF_OUTPUT(discards, 1);
            BPF_PERF_OUTPUT(direct_perf);
            BPF_PERF_OUTPUT(callback_perf);
            """
        // The same sample to four tables; to `discards` every sample reserved, the odd ones discarded.
        static let submit = """
            direct_ring.ringbuf_output(&d, sizeof(d), 0);
            callback_ring.ringbuf_output(&d, sizeof(d), 0);
            direct_perf.perf_submit(args, &d, sizeof(d));
            callback_perf.perf_submit(args, &d, sizeof(d));
            struct data_t *r = discards.ringbuf_reserve(sizeof(struct data_t));
            if (r) {
                __builtin_memcpy(r, &d, sizeof(d));
                if (seq % 2) discards.ringbuf_discard(r, 0); else discards.ringbuf_submit(r, 0);
            }
            """
        static let program = EventSource.program(tables: tables, submit: submit)

        struct PerfSample: Equatable {
            var cpu: Int
            var event: TestEvent
        }

        /// Per CPU, in order.
        static func byCPU(_ samples: [PerfSample]) -> [Int: [TestEvent]] {
            Dictionary(grouping: samples, by: \.cpu).mapValues { $0.map(\.event) }
        }

        @Test("both readers get what libbcc's readers get on the same events, in the same order, through many wrap-arounds of one-page buffers")
        func sameAsLibbcc() throws {
            let src = EventSource()
            let b = try BPF(text: Self.program, cflags: src.cflags)
            defer { b.cleanup() }
            let ring = try b["direct_ring"].ringBufferReader()
            let discards = try b["discards"].ringBufferReader()
            let perf = try b["direct_perf"].perfBufferReader(pageCount: 1)
            var viaCallbackRing: [TestEvent] = []
            var viaCallbackPerf: [PerfSample] = []
            var callbackLost: UInt64 = 0
            try b["callback_ring"].openRingBuffer(of: TestEvent.self) { viaCallbackRing.append($0) }
            try b["callback_perf"].openPerfBuffer(of: TestEvent.self, pageCount: 1, lostCallback: { callbackLost += $0 }) {
                viaCallbackPerf.append(PerfSample(cpu: $0, event: $1))
            }
            var direct: [TestEvent] = [], directPerf: [PerfSample] = [], kept: [Int32] = []
            var directLost: UInt64 = 0
            // 30 rounds of 40 samples: 1,200 samples of 40 bytes through a 4 KiB ring (records of
            // 40 bytes in the ring buffer, 48 in the perf buffer: neither divides the page).
            let rounds = 30, perRound = 40
            for round in 0..<rounds {
                src.fire(perRound, from: round * perRound)
                #expect(try ring.consume(as: TestEvent.self) { direct.append($0) } == perRound)
                _ = try discards.consume(as: TestEvent.self) { kept.append($0.seq) }
                _ = try perf.consume(as: TestEvent.self, lost: { _, n in directLost += n }) { cpu, e in
                    directPerf.append(PerfSample(cpu: cpu, event: e))
                }
                _ = try b.ringBufferConsume()
                _ = try b.perfBufferConsume()
            }
            let all = (0..<Int32(rounds * perRound)).map { $0 }
            #expect(direct.map(\.seq) == all)
            #expect(direct == viaCallbackRing)
            #expect(kept == all.filter { $0 % 2 == 0 }, "discarded samples are skipped")
            #expect(directPerf.map(\.event.seq).sorted() == all)
            #expect(Self.byCPU(directPerf) == Self.byCPU(viaCallbackPerf))
            #expect(directLost == 0 && callbackLost == 0 && perf.lostSamples == 0)
            #expect(direct.allSatisfy { $0.tgid == UInt32(getpid()) && cString($0.comm) == currentThreadComm() })
            // Nothing left, and a consume of an empty ring returns 0.
            #expect(try ring.consume { _ in } == 0)
            #expect(try perf.consume { _, _ in } == 0)
        }

        @Test("a full perf buffer: the same samples arrive and the same number is reported lost as with libbcc's reader; a full ring drops the same samples")
        func lostSamples() throws {
            let src = EventSource()
            let b = try BPF(text: Self.program, cflags: src.cflags)
            defer { b.cleanup() }
            let ring = try b["direct_ring"].ringBufferReader()
            let perf = try b["direct_perf"].perfBufferReader(pageCount: 1)
            var callbackRing: [Int32] = [], callbackPerf: [PerfSample] = [], callbackLost: UInt64 = 0
            try b["callback_ring"].openRingBuffer(of: TestEvent.self) { callbackRing.append($0.seq) }
            try b["callback_perf"].openPerfBuffer(of: TestEvent.self, pageCount: 1, lostCallback: { callbackLost += $0 }) {
                callbackPerf.append(PerfSample(cpu: $0, event: $1))
            }
            // Pinned, so both perf tables see every sample on one CPU's ring.
            let n = 300
            onCPU(0) { src.fire(n) }
            var directRing: [Int32] = [], directPerf: [PerfSample] = [], directLost: UInt64 = 0
            func drain() throws {
                _ = try ring.consume(as: TestEvent.self) { directRing.append($0.seq) }
                _ = try perf.consume(as: TestEvent.self, lost: { _, n in directLost += n }) {
                    directPerf.append(PerfSample(cpu: $0, event: $1))
                }
                _ = try b.ringBufferConsume()
                _ = try b.perfBufferConsume()
            }
            try drain()
            // The kernel writes its lost record before the next sample that fits.
            onCPU(0) { src.fire(1, from: n) }
            try drain()
            #expect(!directRing.isEmpty && directRing.count < n, "a 4 KiB ring holds about 100 of \(n) samples")
            #expect(directRing == callbackRing)
            #expect(directPerf == callbackPerf)
            #expect(directLost > 0)
            #expect(directLost == callbackLost)
            #expect(perf.lostSamples == directLost)
            #expect(UInt64(directPerf.count) + directLost == UInt64(n + 1))
            #expect(directPerf.last?.event.seq == Int32(n))
        }

        @Test("a handler that throws: its sample is consumed, the error comes out, the rest stays for the next consume")
        func throwingHandler() throws {
            struct Stop: Error {}
            let src = EventSource()
            let b = try BPF(text: Self.program, cflags: src.cflags)
            defer { b.cleanup() }
            let ring = try b["direct_ring"].ringBufferReader()
            let perf = try b["direct_perf"].perfBufferReader()
            onCPU(0) { src.fire(10) }
            var seen: [Int32] = []
            #expect(throws: Stop.self) {
                try ring.consume(as: TestEvent.self) { e in
                    seen.append(e.seq)
                    if e.seq == 4 { throw Stop() }
                }
            }
            #expect(try ring.consume(as: TestEvent.self) { seen.append($0.seq) } == 5)
            #expect(seen == (0..<10).map { Int32($0) })
            var perfSeen: [Int32] = []
            #expect(throws: Stop.self) {
                try perf.consume(as: TestEvent.self) { _, e in
                    perfSeen.append(e.seq)
                    if e.seq == 6 { throw Stop() }
                }
            }
            #expect(try perf.consume(as: TestEvent.self) { _, e in perfSeen.append(e.seq) } == 3)
            #expect(perfSeen == (0..<10).map { Int32($0) })

            // A handler that closes its reader: the close waits for consume to return, after
            // that sample; the reader is closed then and the table free.
            onCPU(0) { src.fire(3, from: 10) }
            #expect(try ring.consume { _ in ring.close() } == 1)
            #expect(throws: BPFError.self) { try ring.consume { _ in } }
            #expect(try perf.consume { _, _ in perf.close() } == 1)
            #expect(throws: BPFError.self) { try perf.consume { _, _ in } }
            let again = try b["direct_ring"].ringBufferReader()
            #expect(try again.consume { _ in } == 2, "the two samples after the one handled are still in the ring")
        }

        @Test("poll waits for samples, times out, returns at once after cleanup; readers reserve their tables until closed; typed errors")
        func lifecycle() throws {
            let src = EventSource()
            let b = try BPF(text: Self.program, cflags: src.cflags)
            defer { b.cleanup() }
            let ring = try b["direct_ring"].ringBufferReader()
            let perf = try b["direct_perf"].perfBufferReader()

            // A timeout with nothing to read.
            var start = Date()
            #expect(try ring.poll(timeout: 200) { _ in } == 0)
            #expect(try perf.poll(timeout: 200) { _, _ in } == 0)
            #expect(Date().timeIntervalSince(start) >= 0.35)
            // Samples fired from another thread end a wait.
            let fireLater = Thread { usleep(200_000); src.fire(3) }
            fireLater.start()
            var got = 0
            let deadline = Date().addingTimeInterval(10)
            while got < 3 && Date() < deadline { got += try ring.poll(timeout: 5000) { _ in } }
            #expect(got == 3)
            got = 0
            while got < 3 && Date() < deadline { got += try perf.poll(timeout: 5000) { _, _ in } }
            #expect(got == 3)

            // Reserved: the callback readers, streams and a second reader are refused.
            #expect(throws: BPFError.self) { try b["direct_ring"].openRingBuffer { _ in } }
            #expect(throws: BPFError.self) { try b["direct_ring"].ringBufferReader() }
            #expect(throws: BPFError.self) { try b["direct_perf"].openPerfBuffer { _, _ in } }
            #expect(throws: BPFError.self) { try b["direct_perf"].perfBufferReader() }
            #expect(throws: BPFError.self) { try b["callback_perf"].perfBufferReader(pageCount: 3) }
            #expect(throws: BPFError.self) { try b["callback_perf"].perfBufferReader(wakeupEvents: 0) }
            let wrongKind = try #require(throws: BPFError.self) { try b["direct_perf"].ringBufferReader() }
            guard case .wrongTableKind = wrongKind else { Issue.record("\(wrongKind)"); return }
            // Closed: the table is free again, and its perf slots now hold the callback reader's fds.
            ring.close()
            perf.close()
            #expect(throws: BPFError.self) { try ring.consume { _ in } }
            #expect(throws: BPFError.self) { try perf.consume { _, _ in } }
            var viaCallback = 0
            try b["direct_ring"].openRingBuffer { _ in viaCallback += 1 }
            try b["direct_perf"].openPerfBuffer { _, _ in viaCallback += 1 }
            src.fire(2, from: 10)
            _ = try b.ringBufferConsume()
            _ = try b.perfBufferConsume()
            #expect(viaCallback == 4)

            // After cleanup what is in the ring can still be read (the kept samples 0, 2, 10),
            // and then a poll returns at once.
            let late = try b["discards"].ringBufferReader()
            b.cleanup()
            var kept: [Int32] = []
            #expect(try late.poll(timeout: 5000, as: TestEvent.self) { kept.append($0.seq) } == 3)
            #expect(kept == [0, 2, 10])
            start = Date()
            #expect(try late.poll(timeout: 5000) { _ in } == 0)
            #expect(Date().timeIntervalSince(start) < 2)
        }
    }
}
