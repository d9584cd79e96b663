import Foundation
import Glibc
@testable import SwiftBCC
import Testing

@Suite("Porting helpers")
struct PortingTests {
    @Test("printf widths in interpolation: negative left-aligns (%-16s), positive right-aligns (%6d); never truncates")
    func widths() {
        let comm = "bash"
        let pid = 42
        #expect("\(comm, width: -8)|\(pid, width: 6)|" == "bash    |    42|")
        #expect("\("toolongforit", width: 4)|\("x", width: 0)|\("y", width: -1)" == "toolongforit|x|y")
        #expect(ljust("ab", 4) == "ab  " && rjust("ab", 4) == "  ab")
    }

    @Test("printb writes bytes as they are (not UTF-8 decoded), after what print wrote, flushed, with a newline")
    func printbBytes() throws {
        let box = try ScriptSandbox()
        let script = try box.write("printb.swift", #"""
            import SwiftBCC
            print("text first", terminator: " ")
            printb([0x66, 0xff, 0x6f, 0x00, 0x6f])
            printb(cString: [0x63, 0x6f, 0x6d, 0x6d, 0, 0x78, 0x78])
            printb([0x21], nl: false)
            writeAll([0x2e], to: 1)

            """#)
        let (status, child) = try box.run(script)
        #expect(status == 0, "stderr: \(child.stderr)")
        let bytes = try [UInt8](Data(contentsOf: child.stdoutURL))
        #expect(bytes == Array("text first ".utf8) + [0x66, 0xff, 0x6f, 0x00, 0x6f, 10] + Array("comm\n!.".utf8))
    }
}

extension KernelSuite {
    @Suite("attachSyscall", .requiresBPF)
    struct AttachSyscallTests {
        init() { TracePipeLock.acquire() }

        @Test("attachSyscall attaches a kprobe on the syscall function, or the sys_enter tracepoint with one stderr line; the program runs either way", .tags(.vmLane))
        func syscallProbe() throws {
            let marker = uniqueMarker("sys")
            let fn = uniqueFunctionName("on_sys")
            let b = try BPF(text: """
                int \(fn)(void *ctx) {
                    if ((bpf_get_current_pid_tgid() >> 32) != \(getpid())) return 0;
                    bpf_trace_printk("\(marker)\\n");
                    return 0;
                }
                """)
            defer { b.cleanup() }
            let (attached, stderr) = try capturingStderr { try b.attachSyscall("getppid", fnName: fn) }
            if Probe.kprobes.ok {
                #expect(attached == .kprobe(event: b.getSyscallFnName("getppid")))
                #expect(stderr.isEmpty)
                #expect(b.numOpenKprobes == 1)
            } else {
                #expect(attached == .tracepoint("syscalls:sys_enter_getppid"))
                #expect(stderr == "SwiftBCC warning: this kernel has no kprobes; attaching \(fn) to the tracepoint "
                    + "syscalls:sys_enter_getppid instead of \(b.getSyscallFnName("getppid"))\n")
                #expect(b.numOpenTracepoints == 1)
            }
            #expect(try waitForTrace(b, containing: marker) { _ = getppid() } != nil)
        }

        @Test("fallbackToTracepoint: false keeps attachKprobe's error; a non-syscall function has no tracepoint to fall back to",
              .enabled(if: !Probe.kprobes.ok, "this kernel has kprobes: nothing to fall back from"))
        func noFallback() throws {
            let b = try BPF(text: "int f(void *ctx) { return 0; }")
            defer { b.cleanup() }
            #expect(throws: BPFError.self) {
                try b.attachKprobe(event: b.getSyscallFnName("getppid"), fnName: "f", fallbackToTracepoint: false)
            }
            #expect(throws: BPFError.self) {
                try b.attachKprobe(event: "vfs_read", fnName: "f", fallbackToTracepoint: true)
            }
            #expect(b.numOpenTracepoints == 0)
        }

        @Test("BPF.logHandler gets SwiftBCC's warning lines instead of stderr; nil restores stderr",
              .enabled(if: !Probe.kprobes.ok, "this kernel has kprobes: attachSyscall warns about nothing"))
        func logHandler() throws {
            let box = try ScriptSandbox()
            let script = try box.write("log.swift", #"""
                import SwiftBCC
                BPF.logHandler = { print("LOG: \($0)") }
                let b = try BPF(text: "#warning \"clang-line-to-handler\"\nint f(void *ctx) { return 0; }")
                try b.attachSyscall("getppid", fnName: "f")
                BPF.logHandler = nil
                try b.attachSyscall("getpgid", fnName: "f")

                """#)
            let (status, child) = try box.run(script)
            #expect(status == 0, "stderr: \(child.stderr)")
            let getppid = "SwiftBCC warning: this kernel has no kprobes; attaching f to the tracepoint syscalls:sys_enter_getppid instead of "
            #expect(child.stdoutLines.contains { $0.hasPrefix("LOG: " + getppid) }, "stdout: \(child.stdout)")
            #expect(!child.stderr.contains("sys_enter_getppid"), "stderr: \(child.stderr)")
            // What libbcc passes on (clang's warning) reaches the handler too, line by line.
            #expect(child.stdoutLines.contains { $0.hasPrefix("LOG: ") && $0.contains("warning: \"clang-line-to-handler\"") },
                    "stdout: \(child.stdout)")
            #expect(!child.stderr.contains("clang-line-to-handler"), "stderr: \(child.stderr)")
            #expect(child.stderr.split(separator: "\n").allSatisfy { !$0.contains("SwiftBCC warning") || $0.contains("sys_enter_getpgid") },
                    "a headers warning, if any, went to the handler: \(child.stderr)")
            #expect(child.stderr.contains("attaching f to the tracepoint syscalls:sys_enter_getpgid"), "stderr: \(child.stderr)")
        }
    }
}
