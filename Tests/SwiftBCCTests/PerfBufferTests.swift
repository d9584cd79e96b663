import Foundation
import Glibc
@testable import SwiftBCC
import Testing

struct TestFailure: Error, Equatable {
    let seq: Int32
}

extension KernelSuite {
    @Suite("Perf buffers", .requiresBPF)
    struct PerfBufferTests {
        /// Polls until `done()` or the deadline.
        func poll(_ b: BPF, timeout: Double = 10, until done: () -> Bool) throws {
            let deadline = Date().addingTimeInterval(timeout)
            while !done() && Date() < deadline { try b.perfBufferPoll(timeout: 100) }
        }

        @Test("N getpgid calls from this process arrive as exactly N perf events, decoded correctly")
        func exactlyN() throws {
            let src = EventSource()
            let b = try BPF(text: EventSource.perfProgram, cflags: src.cflags)
            defer { b.cleanup() }
            let n = 300
            var seqs: [Int32] = []
            var cpus = Set<Int>()
            var bad: [String] = []
            let comm = currentThreadComm()
            let t0 = clock_gettime_ns(CLOCK_MONOTONIC)
            try b["events"].openPerfBuffer(of: TestEvent.self) { cpu, e in
                seqs.append(e.seq)
                cpus.insert(cpu)
                if e.tgid != UInt32(getpid()) { bad.append("tgid \(e.tgid)") }
                if cString(e.comm) != comm { bad.append("comm \(cString(e.comm)) != \(comm)") }
                if e.ts < t0 { bad.append("ts \(e.ts) < \(t0)") }
            }
            #expect(try b["events"].isPerfBufferOpen)
            src.fire(n)
            try poll(b) { seqs.count >= n }
            // Nothing more trickles in.
            try b.perfBufferPoll(timeout: 50)
            #expect(seqs.count == n)
            #expect(seqs.sorted() == (0..<Int32(n)).map { $0 })
            #expect(bad.isEmpty, "\(bad.prefix(5))")
            #expect(cpus.isSubset(of: Set(CPUs.online)))
        }

        @Test("The raw callback gets the CPU and the kernel's bytes; loadEvent checks the size")
        func rawCallback() throws {
            let src = EventSource()
            let b = try BPF(text: EventSource.perfProgram, cflags: src.cflags)
            defer { b.cleanup() }
            var sizes: [Int] = []
            var seqs: [Int32] = []
            try b["events"].openPerfBuffer { cpu, data in
                sizes.append(data.count)
                seqs.append(try data.loadEvent(as: TestEvent.self).seq)
                #expect(throws: BPFError.eventTooShort(type: "(TestEvent, TestEvent)", expected: 64, got: data.count)) {
                    try data.loadEvent(as: (TestEvent, TestEvent).self)
                }
                // The dynamic field offsets from libbcc's field list agree with the C struct.
                #expect(try data.cString(fromByteOffset: 16, count: 16) == currentThreadComm())
            }
            src.fire(5)
            try poll(b) { seqs.count >= 5 }
            #expect(seqs == [0, 1, 2, 3, 4] || seqs.sorted() == [0, 1, 2, 3, 4])
            // perf pads raw samples so that size + 4 is a multiple of 8: 32 bytes come as 36.
            #expect(sizes.allSatisfy { $0 >= MemoryLayout<TestEvent>.size && $0 < MemoryLayout<TestEvent>.size + 8 })
        }

        @Test("The typed open checks the Swift type's size against libbcc's struct layout")
        func typedSizeMismatch() throws {
            let b = try BPF(text: EventSource.perfProgram, cflags: EventSource().cflags)
            defer { b.cleanup() }
            let layout = try #require(try b["events"].eventType())
            #expect(layout.size == 32)
            #expect(layout.fields.map(\.name) == ["tgid", "seq", "ts", "comm"])
            #expect(layout.fields.map(\.offset) == [0, 4, 8, 16])
            #expect(throws: BPFError.sizeMismatch(table: "events", what: "event type UInt64", expected: 32, got: 8,
                                                  layout: layout.layout)) {
                try b["events"].openPerfBuffer(of: UInt64.self) { _, _ in }
            }
            #expect(try !b["events"].isPerfBufferOpen)
        }

        @Test("A flooded 1-page perf buffer reports the lost samples: received + lost == sent")
        func lostSamples() throws {
            let src = EventSource()
            let b = try BPF(text: EventSource.perfProgram, cflags: src.cflags)
            defer { b.cleanup() }
            var received = 0
            var lost: UInt64 = 0
            try b["events"].openPerfBuffer(of: TestEvent.self, pageCount: 1, lostCallback: { lost += $0 }) { _, _ in
                received += 1
            }
            // 4 KiB per CPU holds about a hundred 40-byte samples: 3000 without reading overflow it.
            let flood = 3000
            src.fire(flood)
            try b.perfBufferPoll(timeout: 100)
            // The kernel writes the LOST record with the next sample that fits: send more, one at a time.
            var sent = flood
            let deadline = Date().addingTimeInterval(10)
            while (lost == 0 || received + Int(lost) < sent) && Date() < deadline {
                src.fire(1, from: sent)
                sent += 1
                try b.perfBufferPoll(timeout: 20)
                try b.perfBufferConsume()
            }
            #expect(lost > 0)
            #expect(received > 0)
            #expect(received + Int(lost) == sent)
        }

        @Test("A callback that throws stops the poll; the error comes out of perfBufferPoll; polling goes on after")
        func throwingCallback() throws {
            let src = EventSource()
            let b = try BPF(text: EventSource.perfProgram, cflags: src.cflags)
            defer { b.cleanup() }
            var seen: [Int32] = []
            try b["events"].openPerfBuffer(of: TestEvent.self) { _, e in
                seen.append(e.seq)
                if e.seq == 2 { throw TestFailure(seq: e.seq) }
            }
            src.fire(4)
            var caught: (any Error)?
            let deadline = Date().addingTimeInterval(10)
            while caught == nil && Date() < deadline {
                do { try b.perfBufferPoll(timeout: 100) } catch { caught = error }
            }
            #expect(caught as? TestFailure == TestFailure(seq: 2))
            #expect(seen.contains(2))
            #expect(seen.last == 2, "no callback runs after the throwing one: \(seen)")
            // The next events are delivered again.
            src.fire(1, from: 10)
            try poll(b) { seen.contains(10) }
            #expect(seen.contains(10))
        }

        @Test("Wrong table kinds, bad page counts, double opens and polls without buffers are typed errors")
        func misuse() throws {
            let b = try BPF(text: """
                BPF_PERF_OUTPUT(events);
                BPF_RINGBUF_OUTPUT(ring, 4);
                BPF_HASH(h, u32, u32);
                """)
            defer { b.cleanup() }
            #expect(throws: BPFError.invalidArgument("No perf buffers to poll: open one first with "
                + "b[\"events\"].openPerfBuffer { cpu, data in ... } on a BPF_PERF_OUTPUT table.")) {
                try b.perfBufferPoll(timeout: 0)
            }
            #expect(throws: BPFError.wrongTableKind(table: "h", kind: "HashTable", expected: "PerfEventArray (BPF_PERF_OUTPUT)")) {
                try b["h"].openPerfBuffer { _, _ in }
            }
            #expect(throws: BPFError.wrongTableKind(table: "ring", kind: "RingBuf", expected: "PerfEventArray (BPF_PERF_OUTPUT)")) {
                try b["ring"].openPerfBuffer { _, _ in }
            }
            #expect(throws: BPFError.self) { try b["events"].openPerfBuffer(pageCount: 3) { _, _ in } }
            // Powers of two too large for libbcc's C int mapping size, and wakeups beyond its
            // int, are typed errors rather than traps in a conversion.
            let tooMany = Table.maxPerfPageCount * 2
            #expect(throws: BPFError.invalidArgument("Perf buffer page count \(tooMany) is too large: libbcc maps "
                + "(pages + 1) * \(getpagesize()) bytes per CPU as a C int, so use at most \(Table.maxPerfPageCount) pages.")) {
                try b["events"].openPerfBuffer(pageCount: tooMany) { _, _ in }
            }
            for pages in [1 << 31, 1 << 62] {
                #expect(throws: BPFError.self) { try b["events"].openPerfBuffer(pageCount: pages) { _, _ in } }
            }
            #expect(throws: BPFError.invalidArgument("wakeupEvents must be between 1 and 2147483647, not 2147483648.")) {
                try b["events"].openPerfBuffer(wakeupEvents: Int(Int32.max) + 1) { _, _ in }
            }
            #expect(try !b["events"].isPerfBufferOpen)
            #expect(throws: BPFError.self) { try b["events"].closePerfBuffer() }
            try b["events"].openPerfBuffer { _, _ in }
            #expect(throws: BPFError.self) { try b["events"].openPerfBuffer { _, _ in } }
            try b.perfBufferPoll(timeout: 0)
            try b.perfBufferConsume()
            // Every CPU's entry holds the reader's perf event fd until closed.
            #expect(try b["events"].rawKeys().count == CPUs.possible.count)
        }

        @Test("closePerfBuffer and cleanup free the readers' perf event fds")
        func closeFreesReaders() throws {
            // Only this BPF's own fds are checked: other tests of this process may open and close
            // perf events meanwhile (an event stream's thread frees its readers after the test).
            let b = try BPF(text: EventSource.perfProgram, cflags: EventSource().cflags)
            defer { b.cleanup() }
            let tracepoint = Set(b.state.withLock { $0.attachments.all(TracepointAttachment.self).map(\.fd.fd) })
            #expect(tracepoint.count == 1 && tracepoint.isSubset(of: openPerfEventFDs()))
            try b["events"].openPerfBuffer { _, _ in }
            let readers = Set(try #require(b.eventReaders.perfEntry("events")).fds)
            #expect(readers.count == CPUs.online.count)
            #expect(readers.isSubset(of: openPerfEventFDs()))
            try b["events"].closePerfBuffer()
            #expect(readers.isDisjoint(with: openPerfEventFDs()))
            #expect(try !b["events"].isPerfBufferOpen)
            // Open again, then cleanup() closes it with the rest.
            try b["events"].openPerfBuffer { _, _ in }
            let reopened = Set(try #require(b.eventReaders.perfEntry("events")).fds)
            #expect(reopened.isSubset(of: openPerfEventFDs()))
            b.cleanup()
            #expect(reopened.union(tracepoint).isDisjoint(with: openPerfEventFDs()))
            #expect(throws: BPFError.closed) { try b.perfBufferPoll(timeout: 0) }
        }

        @Test("cleanup() from another thread ends a blocking perfBufferPoll, long before its timeout")
        func cleanupEndsPoll() throws {
            let b = try BPF(text: EventSource.perfProgram, cflags: EventSource().cflags)
            try b["events"].openPerfBuffer { _, _ in }
            try expectCleanupEndsPoll(b) { try b.perfBufferPoll(timeout: 60_000) }
        }

        @Test("With wakeupEvents above the events sent, poll is not woken; perfBufferConsume reads them")
        func wakeupEvents() throws {
            let src = EventSource()
            let b = try BPF(text: EventSource.perfProgram, cflags: src.cflags)
            defer { b.cleanup() }
            var seqs: [Int32] = []
            try b["events"].openPerfBuffer(of: TestEvent.self, wakeupEvents: 64) { _, e in seqs.append(e.seq) }
            onCPU(0) { src.fire(3) }
            try b.perfBufferPoll(timeout: 200)
            #expect(seqs.isEmpty, "the 3 samples are below the wakeup watermark")
            try b.perfBufferConsume()
            #expect(seqs == [0, 1, 2])
        }

        @Test("A timeout too large for the clock (Int.max) waits without end instead of trapping")
        func hugeTimeout() throws {
            let src = EventSource()
            let b = try BPF(text: EventSource.perfProgram, cflags: src.cflags)
            defer { b.cleanup() }
            var seqs: [Int32] = []
            try b["events"].openPerfBuffer(of: TestEvent.self) { _, e in seqs.append(e.seq) }
            try pollWithHugeTimeouts(src, seen: { seqs }) { try b.perfBufferPoll(timeout: $0) }
            #expect(seqs.sorted() == [0, 1, 2])
        }

        @Test("Two threads polling and consuming the same perf buffer get each event once, one callback at a time",
              .enabled(if: CPUs.online.count >= 2, "needs two online CPUs"))
        func concurrentPolls() throws {
            let src = EventSource()
            let b = try BPF(text: EventSource.perfProgram, cflags: src.cflags)
            defer { b.cleanup() }
            final class Record: @unchecked Sendable {
                let lock = NSLock()
                var seqs: [Int32] = []
                var running = 0
                var overlaps = 0
            }
            let record = Record()
            try b["events"].openPerfBuffer(of: TestEvent.self) { _, e in
                record.lock.withLock {
                    record.running += 1
                    if record.running > 1 { record.overlaps += 1 }
                }
                // A slow callback, so that the other thread comes in while it runs.
                usleep(2000)
                record.lock.withLock {
                    record.seqs.append(e.seq)
                    record.running -= 1
                }
            }
            // Samples waiting in two CPUs' buffers: one thread may read one while the other reads the other.
            let cpus = CPUs.online.prefix(2)
            let n = 30
            for (i, cpu) in cpus.enumerated() { onCPU(cpu) { src.fire(n, from: i * n) } }
            let stop = Shared(false)
            let errors = Shared<[String]>([])
            let poller: @Sendable () -> Void = {
                while !stop.value {
                    do { try b.perfBufferPoll(timeout: 10) } catch { errors.value.append("\(error)") }
                }
            }
            let consumer: @Sendable () -> Void = {
                while !stop.value {
                    do { try b.perfBufferConsume() } catch { errors.value.append("\(error)") }
                }
            }
            let watcher: @Sendable () -> Void = {
                _ = eventually(timeout: 20) { record.lock.withLock { record.seqs.count >= 2 * n } }
                usleep(100_000)
                stop.value = true
            }
            guard runThreads(timeout: 60, [poller, consumer, watcher]) else {
                abandon(b)
                Issue.record("the polling threads did not end")
                return
            }
            let seqs = record.lock.withLock { record.seqs }
            #expect(seqs.sorted() == (0..<Int32(2 * n)).map { $0 })
            #expect(record.overlaps == 0, "callbacks of one buffer ran on two threads at once \(record.overlaps) times")
            #expect(errors.value.isEmpty, "\(errors.value.prefix(3))")
        }

        @Test("Polling from inside a perf callback is a typed error (the poll runs in the polling loop)")
        func reentry() throws {
            let src = EventSource()
            let b = try BPF(text: EventSource.program(tables: "BPF_PERF_OUTPUT(events);\nBPF_RINGBUF_OUTPUT(ring, 4);",
                                                      submit: "events.perf_submit(args, &d, sizeof(d));"), cflags: src.cflags)
            defer { b.cleanup() }
            var seqs: [Int32] = []
            var refused: [String] = []
            try b["ring"].openRingBuffer { _ in }
            try b["events"].openPerfBuffer(of: TestEvent.self) { _, e in
                seqs.append(e.seq)
                refused.append(invalidArgumentWord { try b.perfBufferPoll(timeout: 0) })
                refused.append(invalidArgumentWord { try b.perfBufferConsume() })
                refused.append(invalidArgumentWord { _ = try b.ringBufferPoll(timeout: 0) })
            }
            src.fire(2)
            try poll(b) { seqs.count >= 2 }
            try b.perfBufferConsume()
            #expect(seqs.sorted() == [0, 1], "each sample once")
            #expect(refused == Array(repeating: ["perfBufferPoll", "perfBufferConsume", "ringBufferPoll"], count: 2).flatMap { $0 })
        }

        // Ctrl-C rule (Interrupts): the wait a stop ends returns normally (as tracePrint does),
        // so `while true { try b.perfBufferPoll() }` no longer dies of an uncaught error; after
        // a programmatic stop (no real signal) a new wait throws .interrupted. The real-signal
        // half (a new wait ends the process by the signal) runs in a child: ScriptRunnerTests.
        @Test("A stop signal ends a blocking perfBufferPoll normally; BPF.isInterrupted says so; a later wait after a programmatic stop throws .interrupted")
        func interrupted() async throws {
            let b = try BPF(text: EventSource.perfProgram, cflags: EventSource().cflags)
            defer { b.cleanup() }
            try b["events"].openPerfBuffer { _, _ in }
            defer { Interrupts.reset() }
            let poller = Task.detached { () -> (any Error)? in
                do { try b.perfBufferPoll(timeout: 10_000) } catch { return error }
                return nil
            }
            try await Task.sleep(for: .milliseconds(200))
            let started = Date()
            Interrupts.request(signal: SIGINT)
            let error = await poller.value
            #expect(error == nil, "\(String(describing: error))")
            #expect(Date().timeIntervalSince(started) < 5, "the stop ended the 10 s wait")
            #expect(BPF.isInterrupted)
            #expect(Interrupts.pendingSignal == SIGINT)
            #expect(throws: BPFError.interrupted(signal: SIGINT)) { try b.perfBufferPoll(timeout: 10_000) }
            // A nonblocking poll or consume still reads what is ready.
            try b.perfBufferPoll(timeout: 0)
            try b.perfBufferConsume()
        }

        @Test("Interrupts.sleep sleeps its time, and a stop signal ends it at once (false), also one that came before")
        func interruptibleSleep() async throws {
            defer { Interrupts.reset() }
            var started = Date()
            #expect(Interrupts.sleep(0.2))
            #expect(Date().timeIntervalSince(started) >= 0.19)
            let sleeper = Task.detached { Interrupts.sleep(10) }
            try await Task.sleep(for: .milliseconds(200))
            started = Date()
            Interrupts.request(signal: SIGTERM)
            #expect(await sleeper.value == false)
            #expect(Date().timeIntervalSince(started) < 5, "the stop ended the 10 s sleep")
            started = Date()
            #expect(Interrupts.sleep(10) == false)
            #expect(Date().timeIntervalSince(started) < 1, "a stop that came before ends the sleep at once")
        }

        @Test("A callback may close its own buffer or clean up the BPF without a crash")
        func closeFromCallback() throws {
            let src = EventSource()
            let b = try BPF(text: EventSource.perfProgram, cflags: src.cflags)
            defer { b.cleanup() }
            var count = 0
            let events = try b["events"]
            try events.openPerfBuffer(of: TestEvent.self) { _, _ in
                count += 1
                if count == 1 { try events.closePerfBuffer() }
            }
            src.fire(3)
            try poll(b) { count >= 1 }
            #expect(throws: BPFError.self) { try b.perfBufferPoll(timeout: 50) }
            #expect(count == 1, "no callback runs after its buffer is closed")
            #expect(!events.isPerfBufferOpen)
            try events.openPerfBuffer(of: TestEvent.self) { _, _ in
                count += 1
                b.cleanup()
            }
            src.fire(3)
            let deadline = Date().addingTimeInterval(10)
            while count < 2 && Date() < deadline { try? b.perfBufferPoll(timeout: 100) }
            #expect(count == 2)
            #expect(throws: BPFError.closed) { try b.perfBufferPoll(timeout: 0) }
        }
    }
}

/// The perf event fds this process has open now.
func openPerfEventFDs() -> Set<Int32> { KernelObjects.openPerfEventFDs() }

/// Runs `poll` (a blocking poll with a long timeout) on a thread, calls `b.cleanup()` 300 ms
/// later, and expects the poll to return because of it: after the cleanup and long before its
/// own timeout. The bound is generous (a loaded machine or an emulated VM is slow); what
/// matters is that the poll does not wait its timeout out.
func expectCleanupEndsPoll(_ b: BPF, sourceLocation: SourceLocation = #_sourceLocation,
                           _ poll: @escaping @Sendable () throws -> Void) throws {
    let cleanupAt = Shared<Date?>(nil)
    let returnedAt = Shared<Date?>(nil)
    let finished = runThreads(timeout: 30, [
        {
            try? poll()
            returnedAt.value = Date()
        },
        {
            usleep(300_000)
            cleanupAt.value = Date()
            b.cleanup()
        },
    ])
    guard finished else {
        abandon(b)
        Issue.record("the poll did not return within 30 s of cleanup()", sourceLocation: sourceLocation)
        return
    }
    let cleanup = try #require(cleanupAt.value, sourceLocation: sourceLocation)
    let returned = try #require(returnedAt.value, sourceLocation: sourceLocation)
    #expect(returned >= cleanup, "the poll returned before cleanup()", sourceLocation: sourceLocation)
    #expect(returned.timeIntervalSince(cleanup) < 10, sourceLocation: sourceLocation)
}

func clock_gettime_ns(_ clock: clockid_t) -> UInt64 {
    var ts = timespec()
    clock_gettime(clock, &ts)
    return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
}
