import Foundation
import Glibc
@testable import SwiftBCC
import Testing

/// Bad inputs get typed errors that say what is wrong and how to fix it.
extension KernelSuite {
    @Suite("Bad inputs", .requiresBPF)
    struct BadInputTests {
        @Test("a call to an undeclared function names it, the program and clang's warning")
        func undeclaredHelper() throws {
            let b = try BPF(text: "int f(void *ctx) { no_such_helper(1); return 0; }")
            defer { b.cleanup() }
            #expect {
                try b.loadFunction("f", type: .tracepoint)
            } throws: { error in
                guard case let .undefinedFunction(name, function, diagnostics)? = error as? BPFError else { return false }
                return name == "no_such_helper" && function == "f" && diagnostics.contains("implicit declaration")
                    && "\(error)".contains("neither a BPF helper nor a function the program defines")
            }
        }

        @Test("an unbounded loop: the error says what the verifier objected to, with its log")
        func unboundedLoop() throws {
            let b = try BPF(text: "int f(void *ctx) { volatile int i = 0; while (1) { i++; } return 0; }")
            defer { b.cleanup() }
            #expect {
                try b.loadFunction("f", type: .tracepoint)
            } throws: { error in
                guard case let .loadFailed(_, _, _, log)? = error as? BPFError else { return false }
                let text = "\(error)"
                // The verdict ("infinite loop detected at insn 2", or the instruction limit on
                // other kernels) is quoted from the log, which follows.
                guard let verdict = BPFError.verifierVerdict(BPFError.verifierLines(log)) else { return false }
                return text.contains("the verifier says \"\(verdict)\" (its log follows)") && log.contains(verdict)
                    && (verdict.contains("loop") || verdict.contains("too large"))
            }
        }

        @Test("maps the kernel refuses at compile time name the map, the reason and the fix")
        func refusedMaps() throws {
            #expect {
                try BPF(text: "BPF_HASH(h0, u32, u64, 0); int f(void *ctx) { u32 k = 0; h0.lookup(&k); return 0; }")
            } throws: { error in
                guard case let .mapCreationFailed(map, code, hint, detail)? = error as? BPFError else { return false }
                return map == "h0" && code == .EINVAL && hint.contains("at least 1") && detail.contains("could not open bpf map")
                    && !"\(error)".contains("clang")
            }
            #expect {
                try BPF(text: "BPF_RINGBUF_OUTPUT(r3, 3); int f(void *ctx) { return 0; }")
            } throws: { error in
                guard case let .mapCreationFailed(map, code, hint, _)? = error as? BPFError else { return false }
                return map == "r3" && code == .EINVAL && hint.contains("power of two")
            }
        }

        @Test("unknown and malformed cflags are errors, before libbcc sees them")
        func badCflags() throws {
            let program = "int f(void *ctx) { return 0; }"
            for (flags, expected) in [(["--no-such-flag"], "Unknown or unsupported cflag \"--no-such-flag\""),
                                      (["-I"], "cflag -I needs a value"),
                                      (["-I", "-DX=1"], "cflag -I needs a value"),
                                      (["DX=1"], "is not a flag"),
                                      (["-DA\u{0}B"], "NUL")] {
                #expect("\(flags)") {
                    try BPF(text: program, cflags: flags)
                } throws: { error in
                    guard case let .invalidArgument(message)? = error as? BPFError else { return false }
                    return message.contains(expected)
                }
            }
            // Good flags still compile.
            let b = try BPF(text: "int f(void *ctx) { return VALUE; }", cflags: ["-DVALUE=0", "-I", "/tmp", "-Wno-unused", "-O2"])
            b.cleanup()
        }

        @Test("a function name with a NUL inside is an error, not cut short")
        func nulInName() throws {
            let b = try BPF(text: "int f(void *ctx) { return 0; }")
            defer { b.cleanup() }
            #expect {
                try b.loadFunction("f\u{0}ghost", type: .tracepoint)
            } throws: { error in
                guard case let .invalidArgument(message)? = error as? BPFError else { return false }
                return message.contains("NUL") && message.contains("\"f\"")
            }
            #expect(throws: BPFError.self) { try b.attachTracepoint(tp: "syscalls:sys_enter_getppid\u{0}x", fnName: "f") }
            #expect(b.numOpenTracepoints == 0)
        }

        @Test("every call after cleanup() throws .closed")
        func closedEverywhere() throws {
            let b = try BPF(text: "int f(void *ctx) { return 0; } int x(struct xdp_md *ctx) { return XDP_PASS; }")
            let fn = try b.loadFunction("f", type: .tracepoint)
            b.cleanup()
            let calls: [(String, () throws -> Void)] = [
                ("loadFunctions", { _ = try b.loadFunctions(type: .tracepoint) }),
                ("loadFunction", { _ = try b.loadFunction("f", type: .tracepoint) }),
                ("attachXDP", { try b.attachXDP(dev: "lo", fnName: "x") }),
                ("attachXDP(fn:)", { try b.attachXDP(dev: "lo", fn: fn) }),
                ("attachTracepoint", { try b.attachTracepoint(tp: "syscalls:sys_enter_getppid", fnName: "f") }),
                ("detachTracepoint", { try b.detachTracepoint(tp: "syscalls:sys_enter_getppid") }),
                ("attachRawTracepoint", { try b.attachRawTracepoint(tp: "sys_enter", fnName: "f") }),
                ("attachUprobe", { _ = try b.attachUprobe(name: "c", sym: "getpid", fnName: "f") }),
                ("attachKprobe", { try b.attachKprobe(event: "do_nanosleep", fnName: "f") }),
                ("detachKprobe", { try b.detachKprobe(event: "do_nanosleep") }),
                ("attachPerfEvent", { _ = try b.attachPerfEvent(evType: PerfType.software, evConfig: PerfSWConfig.cpuClock,
                                                                fnName: "f", sampleFreq: 9) }),
                ("attachRawSocket", { _ = try b.attachRawSocket(fn: fn, dev: "lo") }),
                ("table", { _ = try b.table("t") }),
                ("dumpFunction", { _ = try b.dumpFunction("f") }),
                ("traceOpen", { try b.traceOpen() }),
                ("perfBufferPoll", { try b.perfBufferPoll(timeout: 0) }),
            ]
            for (name, call) in calls {
                #expect(throws: BPFError.closed, "\(name)") { try call() }
            }
        }

        @Test("a uprobe or perf event on a pid that does not exist names the pid")
        func missingPid() throws {
            let child = try Child("/bin/true", [])
            _ = child.wait(timeout: 10)
            let pid = child.process.processIdentifier
            #expect(kill(pid, 0) != 0)
            let b = try BPF(text: "int f(void *ctx) { return 0; }")
            defer { b.cleanup() }
            #expect {
                _ = try b.attachUprobe(name: "c", sym: "getpid", fnName: "f", pid: pid)
            } throws: { error in
                guard case let .attachFailed(kind, _, _, code, _, hint?)? = error as? BPFError else { return false }
                return kind == "uprobe" && code == .ESRCH && hint.contains("no process \(pid)")
            }
            #expect {
                _ = try b.attachPerfEvent(evType: PerfType.software, evConfig: PerfSWConfig.cpuClock, fnName: "f",
                                          sampleFreq: 9, pid: pid)
            } throws: { error in
                guard case let .attachFailed(kind, _, _, code, _, hint?)? = error as? BPFError else { return false }
                return kind == "perf event" && code == .ESRCH && hint.contains("no process \(pid)")
            }
            #expect(b.numOpenUprobes == 0 && b.numOpenPerfEvents == 0)
        }

        /// Can user nobody run the built examples (the checkout must be readable by others)?
        static let nobodyCanRunExamples: Bool = {
            guard let path = try? examplePath("HelloMap") else { return false }
            return (try? runCommand("/usr/bin/setpriv", ["--reuid=65534", "--regid=65534", "--clear-groups",
                                                         "/usr/bin/test", "-x", path]))?.status == 0
        }()

        @Test("a map created without privileges names the map and the privileges it needs",
              .enabled(if: nobodyCanRunExamples, "user nobody cannot run the built examples here"))
        func mapWithoutPrivileges() throws {
            let r = try runCommand("/usr/bin/setpriv", ["--reuid=65534", "--regid=65534", "--clear-groups",
                                                        try examplePath("HelloMap"), "--count", "1"], timeout: 60)
            #expect(r.status == 1, "\(r.output)")
            #expect(r.output.contains("The kernel refused to create map clones, which the program declares: "
                + "Operation not permitted (EPERM); creating BPF maps needs super-user privileges"), "\(r.output)")
            #expect(!r.output.contains("clang reported errors"), "\(r.output)")
        }
    }
}
