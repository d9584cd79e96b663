import Glibc
@testable import SwiftBCC
import Testing

extension KernelSuite {
    @Suite("Load", .requiresBPF)
    struct LoadTests {
        @Test("loadFunction caches per name and type")
        func caching() throws {
            let b = try BPF(text: "int f(void *ctx) { return 0; }")
            defer { b.cleanup() }
            let a = try b.loadFunction("f", type: .kprobe)
            let again = try b.loadFunction("f", type: .kprobe)
            let other = try b.loadFunction("f", type: .tracepoint)
            #expect(a == again)
            #expect(a.fd >= 0)
            #expect(other.fd != a.fd)
            #expect(other.type == .tracepoint)
            #expect(try b.loadFunctions(type: .kprobe) == [a])
        }

        @Test("the kernel names a program as KernelObjects.programName says (libbcc's prefixes dropped)")
        func kernelProgramNames() throws {
            // kmod_ret__ and bpf_iter__ functions are not auto-attached, so they load as socket
            // filters here; TRACEPOINT_PROBE's tracepoint__ function is auto-attached.
            let suffix = String(UInt32.random(in: 0x1000_0000...0xffff_ffff), radix: 16)
            let functions = ["kmod_ret__m\(suffix)", "bpf_iter__i\(suffix)", "plain_\(suffix)"]
            let b = try BPF(text: functions.map { "int \($0)(void *ctx) { return 0; }" }.joined(separator: "\n")
                + "\nTRACEPOINT_PROBE(syscalls, sys_enter_getppid) { return 0; }")
            defer { b.cleanup() }
            for fn in functions { try b.loadFunction(fn, type: .socketFilter) }
            let loaded = Set(KernelObjects.programs().map(\.name))
            #expect(KernelObjects.programName(forFunction: functions[0]) == "m" + suffix)
            #expect(KernelObjects.programName(forFunction: functions[1]) == "i" + suffix)
            for fn in functions {
                #expect(loaded.contains(KernelObjects.programName(forFunction: fn)), "\(fn) not among \(loaded.sorted())")
            }
            #expect(loaded.contains(KernelObjects.programName(forFunction: "tracepoint__syscalls__sys_enter_getppid")))
        }

        @Test("an unknown function throws, listing the module's functions")
        func unknownFunction() throws {
            let b = try BPF(text: "int alpha(void *ctx) { return 0; }\nint beta(void *ctx) { return 0; }")
            defer { b.cleanup() }
            #expect(throws: BPFError.functionNotFound(name: "gamma", available: ["alpha", "beta"])) {
                try b.loadFunction("gamma", type: .kprobe)
            }
        }

        @Test("a verifier rejection carries the verifier log")
        func verifierRejection() throws {
            let b = try BPF(text: """
                int bad(struct pt_regs *ctx) {
                    volatile u64 *p = (u64 *)((char *)ctx + 4096);
                    return *p;
                }
                """)
            defer { b.cleanup() }
            let (result, stderrText) = capturingStderr { Result { try b.loadFunction("bad", type: .kprobe) } }
            guard case .failure(BPFError.loadFailed(let fn, let type, let err, let log)) = result else {
                Issue.record("expected loadFailed, got \(result)")
                return
            }
            #expect(fn == "bad")
            #expect(type == .kprobe)
            #expect(err == EACCES)
            #expect(log.contains("invalid bpf_context access"), "log: \(log)")
            #expect(!stderrText.contains("invalid bpf_context access"))
        }

        /// Every program type that takes a plain `return 0` program without an attach target
        /// loads; the rest fail with a typed error, never a crash.
        @Test("every program type libbcc knows can be asked for", arguments: ProgramType.allKnown)
        func everyType(type: ProgramType) throws {
            let b = try BPF(text: "int f(void *ctx) { return 0; }")
            defer { b.cleanup() }
            let plain: Set<ProgramType> = [.socketFilter, .kprobe, .schedCls, .schedAct, .tracepoint, .xdp,
                                           .perfEvent, .cgroupSkb, .cgroupSock, .lwtIn, .lwtOut, .lwtXmit,
                                           .sockOps, .skSkb, .cgroupDevice, .skMsg, .rawTracepoint,
                                           .cgroupSysctl, .rawTracepointWritable, .flowDissector]
            do {
                let fn = try b.loadFunction("f", type: type)
                #expect(fn.fd >= 0)
            } catch let error as BPFError {
                guard case .loadFailed(_, let t, let code, _) = error else {
                    Issue.record("unexpected error \(error)")
                    return
                }
                #expect(t == type)
                #expect(code != 0)
                #expect(!plain.contains(type), "\(type) should load: \(error)")
            }
        }
    }
}
