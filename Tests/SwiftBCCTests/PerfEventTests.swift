import Foundation
import Glibc
@testable import SwiftBCC
import Testing

extension KernelSuite {
    @Suite("Perf events", .requiresBPF)
    struct PerfEventTests {
        static let program = """
            #include <uapi/linux/bpf_perf_event.h>
            BPF_ARRAY(samples, u64, 256);
            int on_sample(struct bpf_perf_event_data *ctx) {
                u32 cpu = bpf_get_smp_processor_id();
                u64 *p = samples.lookup(&cpu);
                if (p) __sync_fetch_and_add(p, 1);
                return 0;
            }
            """

        /// Keeps every CPU busy for `seconds`, so that cpu-clock samples land everywhere.
        static func spinAllCPUs(_ seconds: Double) {
            let n = CPUs.online.count
            DispatchQueue.concurrentPerform(iterations: n) { _ in
                let end = Date().addingTimeInterval(seconds)
                var x: UInt64 = 0
                while Date() < end { x &+= 1 }
                _ = x
            }
        }

        @Test("software cpu-clock sampling on every CPU: samples > 0 per CPU; detach closes them")
        func cpuClockEveryCPU() throws {
            let before = KernelObjects.openPerfEventFDs()
            let b = try BPF(text: Self.program)
            defer { b.cleanup() }
            let cpus = try b.attachPerfEvent(evType: PerfType.software, evConfig: PerfSWConfig.cpuClock,
                                             fnName: "on_sample", sampleFreq: 199)
            #expect(cpus == CPUs.online.map(Int32.init))
            let opened = KernelObjects.openPerfEventFDs().subtracting(before)
            #expect(opened.count == cpus.count)
            #expect(b.numOpenPerfEvents == 1)
            Self.spinAllCPUs(0.6)
            let samples = try b["samples"]
            for cpu in cpus {
                #expect(try samples.u64(at: UInt32(cpu)) > 0, "no samples on CPU \(cpu)")
            }
            #expect(throws: BPFError.alreadyAttached(kind: "perf event", target: "type 1 config 0")) {
                try b.attachPerfEvent(evType: PerfType.software, evConfig: PerfSWConfig.cpuClock,
                                      fnName: "on_sample", sampleFreq: 99)
            }
            try b.detachPerfEvent(evType: PerfType.software, evConfig: PerfSWConfig.cpuClock)
            #expect(opened.isDisjoint(with: KernelObjects.openPerfEventFDs()))
            let frozen = try cpus.map { try samples.u64(at: UInt32($0)) }
            Self.spinAllCPUs(0.2)
            #expect(try cpus.map { try samples.u64(at: UInt32($0)) } == frozen)
        }

        @Test("raw perf_event_attr form on one CPU, with a sample period")
        func rawAttrOneCPU() throws {
            let b = try BPF(text: Self.program)
            defer { b.cleanup() }
            let attr = PerfEventAttr(type: PerfType.software, config: PerfSWConfig.cpuClock, samplePeriod: 1_000_000)
            #expect(attr.cValue.size > 0)
            let cpus = try b.attachPerfEventRaw(attr: attr, fnName: "on_sample", cpu: 0)
            #expect(cpus == [0])
            Self.spinAllCPUs(0.4)
            let samples = try b["samples"]
            #expect(try samples.u64(at: 0) > 0)
            for cpu in CPUs.online where cpu != 0 {
                #expect(try samples.u64(at: UInt32(cpu)) == 0, "CPU \(cpu) sampled though only CPU 0 was attached")
            }
        }

        @Test("invalid perf event arguments give typed errors")
        func badArguments() throws {
            let b = try BPF(text: Self.program)
            defer { b.cleanup() }
            #expect(throws: BPFError.self) {
                try b.attachPerfEvent(evType: PerfType.software, evConfig: PerfSWConfig.cpuClock, fnName: "on_sample",
                                      samplePeriod: 10, sampleFreq: 10)
            }
            #expect(throws: BPFError.self) {
                try b.attachPerfEvent(evType: PerfType.software, evConfig: PerfSWConfig.cpuClock, fnName: "on_sample")
            }
            #expect {
                try b.attachPerfEvent(evType: 1000, evConfig: 0, fnName: "on_sample", sampleFreq: 10)
            } throws: { error in
                guard case BPFError.attachFailed(kind: "perf event", _, _, _, _, _) = error else { return false }
                return true
            }
            #expect(b.numOpenPerfEvents == 0)
            #expect(throws: BPFError.notAttached(kind: "perf event", target: "type 1 config 0")) {
                try b.detachPerfEvent(evType: 1, evConfig: 0)
            }
        }
    }
}
