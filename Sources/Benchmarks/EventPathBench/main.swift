// Measures SwiftBCC's event path: the user-space cost of consuming events that wait in perf
// and ring buffers, per path (typed callback, raw callback + loadEvent, dynamic event(data),
// async stream). Run it in release:
//
//   swift run -c release EventPathBench --events 200000
//
// Each getpgid(2) call of this process makes the BPF program submit `--batch` events, so
// filling the buffers costs little; only consuming them is timed. The consumer thread is
// pinned to the CPU that produced the events.
import ArgumentParser
import Foundation
import Glibc
import SwiftBCC

struct Event: BitwiseCopyable {
    var tgid: UInt32
    var seq: Int32
    var ts: UInt64
    var comm: InlineArray<16, CChar>
}

@main
struct EventPathBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Time the per-event cost of consuming perf and ring buffer events.")

    @Option(help: "Events per measurement.")
    var events = 200_000

    @Option(help: "Events the BPF program submits per getpgid call.")
    var batch = 100

    @Option(help: "Measurements per path (the best is reported).")
    var rounds = 5

    @Option(help: "Run only this path: perf-typed, perf-raw, perf-dynamic, ring-typed.")
    var only: String?

    func wants(_ path: String) -> Bool { only == nil || only == path }

    func program(_ table: String, _ submit: String) -> String {
        """
        struct data_t { u32 tgid; s32 seq; u64 ts; char comm[16]; };
        \(table)
        TRACEPOINT_PROBE(syscalls, sys_enter_getpgid) {
            u32 tgid = bpf_get_current_pid_tgid() >> 32;
            if (tgid != TGID || args->pid < BASE) return 0;
            struct data_t d = {};
            d.tgid = tgid;
            d.ts = bpf_ktime_get_ns();
            bpf_get_current_comm(&d.comm, sizeof(d.comm));
            for (int i = 0; i < BATCH; i++) {
                d.seq = i;
                \(submit)
            }
            return 0;
        }
        """
    }

    static let base: Int32 = 0x3000_0000

    func fill() {
        for _ in 0..<(events / batch) { _ = getpgid(Self.base) }
    }

    var cflags: [String] { ["-DTGID=\(getpid())", "-DBASE=\(Self.base)", "-DBATCH=\(batch)"] }

    /// Best nanoseconds per event over the rounds; `consume` drains the buffers.
    func measure(_ name: String, received: () -> Int, reset: () -> Void, consume: () throws -> Void) rethrows {
        var best = Double.infinity
        for _ in 0..<rounds {
            reset()
            fill()
            let start = DispatchTime.now().uptimeNanoseconds
            try consume()
            let ns = Double(DispatchTime.now().uptimeNanoseconds - start)
            let n = received()
            if n != (events / batch) * batch { print("\(name): received \(n) of \((events / batch) * batch) (lost some)") }
            best = min(best, ns / Double(max(n, 1)))
        }
        print("\(name.padding(toLength: 34, withPad: " ", startingAt: 0)) \(String(format: "%8.1f", best)) ns/event  "
              + "\(String(format: "%6.2f", 1000 / best)) M events/s")
    }

    func run() throws {
        pinToCPU(0)
        print("events per round: \((events / batch) * batch), best of \(rounds) rounds, consumer pinned to CPU 0")
        let pages = 1 << Int(ceil(log2(Double(events * 48 / 4096 + 1))))

        // Perf buffer, typed callback.
        if wants("perf-typed") {
            let b = try BPF(text: program("BPF_PERF_OUTPUT(events);", "events.perf_submit(args, &d, sizeof(d));"), cflags: cflags)
            var n = 0
            var sum = 0
            try b["events"].openPerfBuffer(of: Event.self, pageCount: pages) { _, e in
                n += 1
                sum &+= Int(e.seq)
            }
            try measure("perf buffer, typed callback", received: { n }, reset: { n = 0 }) { try b.perfBufferConsume() }
            b.cleanup()
        }
        // Perf buffer, raw callback + loadEvent.
        if wants("perf-raw") {
            let b = try BPF(text: program("BPF_PERF_OUTPUT(events);", "events.perf_submit(args, &d, sizeof(d));"), cflags: cflags)
            var n = 0
            var sum = 0
            try b["events"].openPerfBuffer(pageCount: pages) { _, data in
                n += 1
                sum &+= Int(try data.loadEvent(as: Event.self).seq)
            }
            try measure("perf buffer, raw + loadEvent", received: { n }, reset: { n = 0 }) { try b.perfBufferConsume() }
            b.cleanup()
        }
        // Perf buffer, dynamic event(data) (allocates: for comparison).
        if wants("perf-dynamic") {
            let b = try BPF(text: program("BPF_PERF_OUTPUT(events);", "events.perf_submit(args, &d, sizeof(d));"), cflags: cflags)
            let table = try b["events"]
            var n = 0
            var sum = 0
            try table.openPerfBuffer(pageCount: pages) { _, data in
                n += 1
                sum &+= Int(try table.event(data)["seq"]?.int ?? 0)
            }
            try measure("perf buffer, dynamic event(data)", received: { n }, reset: { n = 0 }) { try b.perfBufferConsume() }
            b.cleanup()
        }
        // Ring buffer, typed callback.
        if wants("ring-typed") {
            let b = try BPF(text: program("BPF_RINGBUF_OUTPUT(events, \(pages));", "events.ringbuf_output(&d, sizeof(d), 0);"),
                            cflags: cflags)
            var n = 0
            var sum = 0
            try b["events"].openRingBuffer(of: Event.self) { e in
                n += 1
                sum &+= Int(e.seq)
            }
            try measure("ring buffer, typed callback", received: { n }, reset: { n = 0 }) { try b.ringBufferConsume() }
            b.cleanup()
        }
    }

    func pinToCPU(_ cpu: Int) {
        typealias Affinity = @convention(c) (pid_t, Int, UnsafeMutableRawPointer?) -> Int32
        guard let sym = dlsym(nil, "sched_setaffinity") else { return }
        var set = cpu_set_t()
        withUnsafeMutableBytes(of: &set) { $0[cpu / 8] |= UInt8(1 << (cpu % 8)) }
        _ = unsafeBitCast(sym, to: Affinity.self)(0, MemoryLayout<cpu_set_t>.size, &set)
    }
}
