import Foundation
import Glibc
@testable import SwiftBCC
import Testing

extension KernelSuite {
    @Suite("Cleanup", .requiresBPF)
    struct CleanupTests {
        func program(_ tp: String, _ raw: String, _ plain: String) -> String {
            """
            int \(tp)(void *ctx) { return 0; }
            int \(raw)(void *ctx) { return 0; }
            int \(plain)(void *ctx) { return 0; }
            TRACEPOINT_PROBE(syscalls, sys_enter_getppid) { return 0; }
            """
        }

        @Test("cleanup() detaches and unloads everything, and is idempotent")
        func cleanupLeavesNothing() throws {
            let (tp, raw, plain) = (uniqueFunctionName("ct"), uniqueFunctionName("cr"), uniqueFunctionName("cp"))
            let perfBefore = KernelObjects.openPerfEventFDs()
            let b = try BPF(text: program(tp, raw, plain))
            try b.attachTracepoint(tp: "syscalls:sys_enter_getpid", fnName: tp)
            try b.attachRawTracepoint(tp: "sys_enter", fnName: raw)
            try b.loadFunction(plain, type: .socketFilter)
            try b.traceOpen()
            let names = loadedProgramNames()
            #expect(names.contains(tp))
            #expect(names.contains(raw))
            #expect(names.contains(plain))
            let opened = KernelObjects.openPerfEventFDs().subtracting(perfBefore)
            #expect(opened.count == 2)
            b.cleanup()
            b.cleanup()
            #expect(eventually { Set(loadedProgramNames()).isDisjoint(with: [tp, raw, plain]) })
            #expect(opened.isDisjoint(with: KernelObjects.openPerfEventFDs()))
            #expect(b.numOpenTracepoints == 0 && b.numOpenRawTracepoints == 0)
            #expect(throws: BPFError.closed) { try b.loadFunction(plain, type: .kprobe) }
            #expect(throws: BPFError.closed) { try b.attachTracepoint(tp: "syscalls:sys_enter_getpid", fnName: tp) }
        }

        @Test("a BPF that goes out of scope leaves nothing behind")
        func deinitLeavesNothing() throws {
            let (tp, raw, plain) = (uniqueFunctionName("dt"), uniqueFunctionName("dr"), uniqueFunctionName("dp"))
            let perfBefore = KernelObjects.openPerfEventFDs()
            var opened: Set<Int32> = []
            do {
                let b = try BPF(text: program(tp, raw, plain))
                try b.attachTracepoint(tp: "syscalls:sys_enter_getpid", fnName: tp)
                try b.attachRawTracepoint(tp: "sys_enter", fnName: raw)
                #expect(loadedProgramNames().contains(tp))
                opened = KernelObjects.openPerfEventFDs().subtracting(perfBefore)
            }
            #expect(opened.count == 2)
            #expect(eventually { Set(loadedProgramNames()).isDisjoint(with: [tp, raw, plain]) })
            #expect(opened.isDisjoint(with: KernelObjects.openPerfEventFDs()))
        }

        @Test("a failed attach leaves the BPF usable and attaches nothing")
        func failedAttach() throws {
            let b = try BPF(text: "int f(void *ctx) { return 0; }")
            defer { b.cleanup() }
            #expect(throws: BPFError.self) { try b.attachTracepoint(tp: "nosuch:event", fnName: "f") }
            #expect(throws: BPFError.self) { try b.attachTracepoint(tp: "syscalls:sys_enter_getppid", fnName: "missing") }
            try b.attachTracepoint(tp: "syscalls:sys_enter_getppid", fnName: "f")
            #expect(b.numOpenTracepoints == 1)
        }
    }
}
