import Foundation
import Glibc
@testable import SwiftBCC
import Testing

/// Pins the calling thread to `cpu` while `body` runs (glibc's `sched_setaffinity`, which
/// Swift's Glibc module leaves out without _GNU_SOURCE, found with dlsym).
func onCPU<T>(_ cpu: Int, _ body: () throws -> T) rethrows -> T {
    typealias Affinity = @convention(c) (pid_t, Int, UnsafeMutableRawPointer) -> Int32
    let handle = dlopen(nil, RTLD_NOW)
    guard let get = dlsym(handle, "sched_getaffinity"), let set = dlsym(handle, "sched_setaffinity") else {
        return try body()
    }
    let getAffinity = unsafeBitCast(get, to: Affinity.self), setAffinity = unsafeBitCast(set, to: Affinity.self)
    let tid = pid_t(currentTid())
    var old = [UInt8](repeating: 0, count: 128), one = [UInt8](repeating: 0, count: 128)
    one[cpu / 8] = UInt8(1 << (cpu % 8))
    _ = getAffinity(tid, old.count, &old)
    _ = setAffinity(tid, one.count, &one)
    defer { _ = setAffinity(tid, old.count, &old) }
    return try body()
}

extension KernelSuite {
    @Suite("Python parity: programs", .requiresBPF)
    struct ParityKernelTests {
        static let counterProgram = """
            BPF_PERF_ARRAY(clk, NCPU);
            BPF_ARRAY(seen, u64, 4);
            TRACEPOINT_PROBE(syscalls, sys_enter_getppid) {
                if ((bpf_get_current_pid_tgid() >> 32) != TGID) return 0;
                struct bpf_perf_event_value v = {};
                int i0 = 0, i1 = 1, i2 = 2, i3 = 3;
                int r = clk.perf_counter_value(CUR_CPU_IDENTIFIER, &v, sizeof(v));
                if (r == 0) {
                    seen.update(&i0, &v.counter);
                    seen.update(&i1, &v.enabled);
                } else {
                    seen.increment(i3);
                }
                u64 c = clk.perf_read(CUR_CPU_IDENTIFIER);
                seen.update(&i2, &c);
                return 0;
            }
            """

        static func spin(_ seconds: Double) {
            let end = Date().addingTimeInterval(seconds)
            var x: UInt64 = 0
            while Date() < end { x &+= 1 }
            _ = x
        }

        @Test("openPerfEvent: a software counter stored in a BPF_PERF_ARRAY, read by the program, grows")
        func perfEventCounter() throws {
            let b = try BPF(text: Self.counterProgram, cflags: ["-DNCPU=\(CPUs.possible.count)", "-DTGID=\(getpid())"])
            defer { b.cleanup() }
            let clk = try b["clk"], seen = try b["seen"]
            let before = KernelObjects.openPerfEventFDs()
            let cpus = try clk.openPerfEvent(type: PerfType.software, config: PerfSWConfig.cpuClock)
            #expect(cpus == CPUs.online.map(Int32.init))
            #expect(clk.openPerfEventCPUs == cpus)
            let opened = KernelObjects.openPerfEventFDs().subtracting(before)
            #expect(opened.count == cpus.count)
            let cpu = CPUs.online[0]
            let (first, second, read1, read2) = onCPU(cpu) { () -> (UInt64, UInt64, UInt64, UInt64) in
                _ = getppid()
                let c1 = (try? seen.u64(at: 0)) ?? 0, r1 = (try? seen.u64(at: 2)) ?? 0
                Self.spin(0.05)
                _ = getppid()
                return (c1, (try? seen.u64(at: 0)) ?? 0, r1, (try? seen.u64(at: 2)) ?? 0)
            }
            #expect(try seen.u64(at: 3) == 0, "perf_counter_value failed")
            #expect(first > 0)
            #expect(second > first + 10_000_000, "cpu-clock grew by \(second &- first) ns over 50 ms")
            #expect(try seen.u64(at: 1) > 0)
            #expect(read1 > 0 && Int64(bitPattern: read1) > 0 && read2 > read1)
            #expect(throws: BPFError.self) { try clk.openPerfEvent(type: PerfType.software, config: PerfSWConfig.cpuClock) }
            clk.closePerfEvent()
            #expect(clk.openPerfEventCPUs.isEmpty)
            #expect(KernelObjects.openPerfEventFDs().isDisjoint(with: opened))
            _ = getppid()
            #expect(try seen.u64(at: 3) > 0, "the program still read a counter after closePerfEvent")
            #expect(throws: BPFError.wrongTableKind(table: "seen", kind: "Array (openPerfEvent)", expected: "PerfEventArray (BPF_PERF_ARRAY)")) {
                try seen.openPerfEvent(type: PerfType.software, config: PerfSWConfig.cpuClock)
            }
        }

        @Test("reducer: per-CPU values combined from CPU 0 on, dynamic and typed")
        func reducer() throws {
            let b = try BPF(text: "BPF_PERCPU_ARRAY(pc, u64, 2); BPF_PERCPU_HASH(ph, u32, u32); BPF_ARRAY(plain, u64, 1);")
            defer { b.cleanup() }
            let n = CPUs.possible.count
            let values = (0..<n).map { UInt64(3 * $0 + 1) }
            try b["pc"].update(0, values)
            let sum = try #require(try b["pc"].lookup(0) { a, c in try b["pc"].leafType.encode(a.uint! + c.uint!) })
            #expect(sum.uint == values.reduce(0, +))
            #expect(try b["pc"].lookup(1, reducer: { a, _ in a })?.uint == 0)
            let typed = try b.perCPUArrayTable("pc", value: UInt64.self)
            #expect(try typed.lookup(0, reducer: Swift.max) == values.max())
            var order: [UInt64] = []
            _ = try typed.lookup(0) { a, c in order.append(c); return a &+ c }
            #expect(order == Array(values.dropFirst()))
            #expect(try typed.items(reducer: +).map(\.value) == [values.reduce(0, +), 0])
            let hash = try b.perCPUHashTable("ph", key: UInt32.self, value: UInt32.self)
            try hash.update(7, (0..<n).map { UInt32($0 + 2) })
            #expect(try hash.lookup(7, reducer: +) == UInt32((0..<n).map { $0 + 2 }.reduce(0, +)))
            #expect(try hash.lookup(8, reducer: +) == nil)
            #expect(try b["ph"].items { a, _ in a }.map { $0.key.uint } == [7])
            #expect(throws: BPFError.self) { try b["plain"].lookup(0) { a, _ in a } }
        }

        @Test("stripLeadingZero: is Python's label for strip:")
        func stripLeadingZero() throws {
            let b = try BPF(text: "BPF_HISTOGRAM(h);")
            defer { b.cleanup() }
            let h = try b["h"]
            try h.update(Int32(4), UInt64(3))
            try h.update(Int32(6), UInt64(1))
            let stripped = try h.log2HistText(stripLeadingZero: true)
            #expect(stripped == (try h.log2HistText(strip: true)))
            #expect(stripped != (try h.log2HistText()))
            #expect(try h.log2HistText(stripLeadingZero: false) == (try h.log2HistText()))
            #expect(try h.linearHistText(stripLeadingZero: true) == (try h.linearHistText(strip: true)))
            #expect(!stripped.contains("0 -> 1 "))
        }

        @Test("kprobePoll polls perf buffers as perfBufferPoll does")
        func kprobePoll() throws {
            let b = try BPF(text: """
                BPF_PERF_OUTPUT(events);
                TRACEPOINT_PROBE(syscalls, sys_enter_getppid) {
                    u32 tgid = bpf_get_current_pid_tgid() >> 32;
                    if (tgid != TGID) return 0;
                    events.perf_submit(args, &tgid, sizeof(tgid));
                    return 0;
                }
                """, cflags: ["-DTGID=\(getpid())"])
            defer { b.cleanup() }
            #expect(throws: BPFError.self) { try b.kprobePoll(timeout: 0) }
            var got: [UInt32] = []
            try b["events"].openPerfBuffer { _, data in got.append(data.load(as: UInt32.self)) }
            _ = getppid()
            let deadline = Date().addingTimeInterval(5)
            while got.isEmpty && Date() < deadline { try b.kprobePoll(timeout: 100) }
            #expect(got == [UInt32(getpid())])
        }

        @Test("freeBCCMemory after loading: libbcc still compiles and loads afterwards")
        func freeBCCMemory() throws {
            let b = try BPF(text: "int f(void *ctx) { return 0; }")
            defer { b.cleanup() }
            try b.loadFunction("f", type: .tracepoint)
            #expect(b.freeBCCMemory() == 0)
            let c = try BPF(text: "BPF_ARRAY(a, u64, 1); int g(void *ctx) { int k = 0; a.increment(k); return 0; }")
            defer { c.cleanup() }
            #expect(try c.loadFunction("g", type: .tracepoint).fd >= 0)
        }

        @Test("detachKprobeEvent of an event this BPF has not attached throws notAttached")
        func detachKprobeEventNotAttached() throws {
            let b = try BPF(text: "int f(void *ctx) { return 0; }")
            defer { b.cleanup() }
            #expect(throws: BPFError.notAttached(kind: "kprobe event", target: "p_do_nothing_here")) {
                try b.detachKprobeEvent("p_do_nothing_here")
            }
        }

        @Test("detachKprobeEvent by Python's event name, one function or all", .requiresKprobes, .tags(.vmLane))
        func detachKprobeEvent() throws {
            let b = try BPF(text: "int f1(void *ctx) { return 0; } int f2(void *ctx) { return 0; }")
            defer { b.cleanup() }
            let event = b.getSyscallFnName("getppid")
            try b.attachKprobe(event: event, fnName: "f1")
            try b.attachKprobe(event: event, fnName: "f2")
            #expect(b.numOpenKprobes == 1)
            try b.detachKprobeEvent("p_" + event, fnName: "f1")
            #expect(b.state.withLock { $0.attachments.get(KprobeAttachment.self, "p_" + event)?.fds.keys.sorted() } == ["f2"])
            #expect(throws: BPFError.self) { try b.detachKprobeEvent("p_" + event, fnName: "f1") }
            try b.detachKprobeEvent("p_" + event)
            #expect(b.numOpenKprobes == 0)
            #expect(throws: BPFError.self) { try b.detachKprobeEvent("p_" + event) }
        }
    }
}
