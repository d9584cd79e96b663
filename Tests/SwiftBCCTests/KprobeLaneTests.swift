import Foundation
import Glibc
@testable import SwiftBCC
import Testing

/// Addresses of every kprobe in the kernel, PMU- or tracefs-made, from
/// `/sys/kernel/debug/kprobes/list` ("ffffffff8123  k  __do_sys_getppid+0x0  [FTRACE]": the
/// name shown is any alias of the address, so compare addresses).
func activeKprobes() -> Set<UInt64> {
    Set((FileIO.read("/sys/kernel/debug/kprobes/list") ?? "").split(separator: "\n").compactMap {
        $0.split(separator: " ").first.flatMap { UInt64($0, radix: 16) }
    })
}

/// True when a kprobe sits at `function` + `offset`.
func hasKprobe(on function: String, offset: UInt64 = 0) -> Bool {
    guard let addr = BPF.ksymname(function) else { return false }
    return activeKprobes().contains(addr + offset)
}

func kprobeEvents() -> [String] {
    guard let root = Tracefs.root else { return [] }
    return (FileIO.read(root + "/kprobe_events") ?? "").split(separator: "\n").map(String.init)
}

/// True when no kprobe on `function` exists and no kprobe_events entry of process `pid` remains.
func noKprobesLeft(on function: String, pid: Int32 = getpid()) -> Bool {
    !hasKprobe(on: function)
        && !kprobeEvents().contains { $0.contains("_bcc_\(pid) ") }
}

extension KernelSuite {
    /// Real kprobes: run in the VM lane (scripts/vm-test) on Debian's 6.1 kernel; skipped, with
    /// the probe's reason, on a kernel without kprobes.
    @Suite("Kprobes", .requiresKprobes, .tags(.vmLane))
    struct KprobeTests {
        let tgid = getpid()

        func filter() -> String { "if ((bpf_get_current_pid_tgid() >> 32) != \(tgid)) return 0;" }

        @Test("kprobe fires on entry and kretprobe reads the return value")
        func entryAndReturn() throws {
            let marker = uniqueMarker()
            let b = try BPF(text: """
                #include <uapi/linux/ptrace.h>
                int on_entry(struct pt_regs *ctx) { \(filter()) bpf_trace_printk("\(marker) entry\\n"); return 0; }
                int on_return(struct pt_regs *ctx) {
                    \(filter())
                    bpf_trace_printk("\(marker) ret %ld\\n", PT_REGS_RC(ctx));
                    return 0;
                }
                """)
            defer { b.cleanup() }
            let event = b.getSyscallFnName("getppid")
            try b.attachKprobe(event: event, fnName: "on_entry")
            try b.attachKretprobe(event: event, fnName: "on_return")
            #expect(b.numOpenKprobes == 2)
            #expect(try waitForTrace(b, containing: "\(marker) entry") { _ = getppid() } != nil)
            let ret = try #require(try waitForTrace(b, containing: "\(marker) ret") { _ = getppid() })
            #expect(ret.message == "\(marker) ret \(getppid())")
        }

        @Test("eventOff attaches inside the function and fires")
        func eventOffset() throws {
            let marker = uniqueMarker()
            let b = try BPF(text: "int at_off(void *ctx) { \(filter()) bpf_trace_printk(\"\(marker)\\n\"); return 0; }")
            defer { b.cleanup() }
            let event = b.getSyscallFnName("getppid")
            // The first instruction boundary after the entry: the kernel refuses the others.
            var attachedAt: UInt64?
            for off in UInt64(1)...32 {
                if (try? b.attachKprobe(event: event, fnName: "at_off", eventOff: off)) != nil {
                    attachedAt = off
                    break
                }
            }
            let off = try #require(attachedAt, "no offset in 1...32 of \(event) took a kprobe")
            #expect(hasKprobe(on: event, offset: off), "no kprobe at \(event)+\(off) in kprobes/list")
            #expect(try waitForTrace(b, containing: marker) { _ = getppid() } != nil)
        }

        @Test("maxActive: a kretprobe with maxactive fires; its kprobe_events entry goes on detach")
        func maxActive() throws {
            let marker = uniqueMarker()
            let b = try BPF(text: """
                #include <uapi/linux/ptrace.h>
                int on_ret(struct pt_regs *ctx) { \(filter()) bpf_trace_printk("\(marker)\\n"); return 0; }
                """)
            defer { b.cleanup() }
            let event = b.getSyscallFnName("getppid")
            try b.attachKretprobe(event: event, fnName: "on_ret", maxActive: 8)
            // maxactive is not expressible through the perf kprobe PMU: libbcc writes it to
            // kprobe_events as "r8:kprobes/r_<event>_bcc_<pid> <event>".
            let entry = kprobeEvents().first { $0.contains("_bcc_\(tgid) ") }
            #expect(entry?.hasPrefix("r8:") == true, "kprobe_events: \(kprobeEvents())")
            #expect(try waitForTrace(b, containing: marker) { _ = getppid() } != nil)
            try b.detachKretprobe(event: event)
            #expect(noKprobesLeft(on: event))
        }

        @Test("kprobe__ and kretprobe__ functions are auto-attached (syscall names fixed)")
        func autoAttach() throws {
            let marker = uniqueMarker()
            let b = try BPF(text: """
                #include <uapi/linux/ptrace.h>
                int kprobe__sys_getppid(struct pt_regs *ctx) { \(filter()) bpf_trace_printk("\(marker) in\\n"); return 0; }
                int kretprobe__sys_getppid(struct pt_regs *ctx) { \(filter()) bpf_trace_printk("\(marker) out\\n"); return 0; }
                """)
            defer { b.cleanup() }
            #expect(b.numOpenKprobes == 2)
            #expect(try waitForTrace(b, containing: "\(marker) in") { _ = getppid() } != nil)
            #expect(try waitForTrace(b, containing: "\(marker) out") { _ = getppid() } != nil)
        }

        @Test("detach stops the probe; cleanup leaves no kprobe and no kprobe_events entry")
        func detachAndCleanup() throws {
            let marker = uniqueMarker()
            let b = try BPF(text: "int probe_a(void *ctx) { \(filter()) bpf_trace_printk(\"\(marker)\\n\"); return 0; }")
            let event = b.getSyscallFnName("getppid")
            try b.attachKprobe(event: event, fnName: "probe_a")
            #expect(hasKprobe(on: event))
            #expect(try waitForTrace(b, containing: marker) { _ = getppid() } != nil)
            try b.detachKprobe(event: event, fnName: "probe_a")
            #expect(b.numOpenKprobes == 0)
            _ = getppid()
            #expect(try waitForTrace(b, containing: marker, timeout: 0.5) == nil)
            #expect(throws: BPFError.notAttached(kind: "kprobe", target: event)) { try b.detachKprobe(event: event) }
            try b.attachKprobe(event: event, fnName: "probe_a")
            try b.attachKretprobe(event: event, fnName: "probe_a", maxActive: 4)
            b.cleanup()
            #expect(eventually { noKprobesLeft(on: event) }, "left: \(activeKprobes()) \(kprobeEvents())")
        }

        @Test("a kprobe on a missing function says it is not traceable")
        func kprobeMissing() throws {
            let b = try BPF(text: "int f(void *ctx) { return 0; }")
            defer { b.cleanup() }
            #expect {
                try b.attachKprobe(event: "no_such_function_swiftbcc", fnName: "f")
            } throws: { error in
                guard case BPFError.attachFailed(let kind, let target, _, _, _, let hint) = error else { return false }
                return kind == "kprobe" && target == "no_such_function_swiftbcc" && hint?.contains("not traceable") == true
            }
            #expect(b.numOpenKprobes == 0)
        }

        @Test("a killed process's kprobe_events entries are reaped by the next BPF")
        func killedProcessLeavesNothing() throws {
            // Python BCC attaches a kretprobe with maxactive (a kprobe_events entry), then is SIGKILLed.
            let python = "/usr/bin/python3"
            try #require(FileManager.default.isExecutableFile(atPath: python), "needs /usr/bin/python3 with python3-bpfcc")
            let script = """
                import sys, time
                from bcc import BPF
                b = BPF(text="int f(void *ctx) { return 0; }")
                b.attach_kretprobe(event=b.get_syscall_fnname("getppid"), fn_name="f", maxactive=4)
                print("ready", flush=True)
                time.sleep(600)
                """
            let child = try Child(python, ["-c", script])
            #expect(eventually(timeout: 120) { child.stdout.contains("ready") }, "stderr: \(child.stderr)")
            let pid = child.process.processIdentifier
            #expect(kprobeEvents().contains { $0.contains("_bcc_\(pid) ") }, "kprobe_events: \(kprobeEvents())")
            kill(pid, SIGKILL)
            _ = child.wait(timeout: 10)
            // The dead process's entry is still there until someone reaps it.
            let b = try BPF(text: "int g(void *ctx) { return 0; }")
            b.cleanup()
            #expect(!kprobeEvents().contains { $0.contains("_bcc_\(pid) ") }, "kprobe_events: \(kprobeEvents())")
        }
    }

    /// Programs that read kernel structs: right only with the running kernel's own headers
    /// (the VM lane); skipped on the 6.18 host, whose headers are 6.1's.
    @Suite("Kernel structs", .requiresExactKernelHeaders, .tags(.vmLane))
    struct KernelStructTests {
        @Test("task->tgid and task->real_parent->tgid read through the headers match getpid/getppid")
        func taskStruct() throws {
            let marker = uniqueMarker()
            let b = try BPF(text: """
                #include <linux/sched.h>
                TRACEPOINT_PROBE(syscalls, sys_enter_getppid) {
                    if ((bpf_get_current_pid_tgid() >> 32) != \(getpid())) return 0;
                    struct task_struct *t = (struct task_struct *)bpf_get_current_task();
                    u32 tgid = t->tgid;
                    u32 ppid = t->real_parent->tgid;
                    bpf_trace_printk("\(marker) %u %u\\n", tgid, ppid);
                    return 0;
                }
                """)
            defer { b.cleanup() }
            let f = try #require(try waitForTrace(b, containing: marker) { _ = getppid() })
            #expect(f.message == "\(marker) \(getpid()) \(getppid())")
        }
    }

    /// The examples' kprobe paths (VM lane): no tracepoint fallback may happen.
    @Suite("Kprobe examples", .requiresKprobes, .tags(.vmLane))
    struct KprobeExampleTests {
        init() { TracePipeLock.acquire() }

        @Test("HelloWorld attaches a real kprobe to execve and prints Hello World!")
        func helloWorldKprobe() throws {
            try drainTracePipe()
            let child = try Child(try examplePath("HelloWorld"), ["--count", "3"])
            var sawProbe = false
            let status = child.drive(timeout: 120) {
                sawProbe = sawProbe || hasKprobe(on: BPF.getSyscallPrefix() + "execve")
                execTrue()
            }
            #expect(status == 0, "stderr: \(child.stderr)")
            #expect(sawProbe, "no kprobe on execve appeared in kprobes/list")
            #expect(!child.stderr.contains("no kprobes"), "fell back: \(child.stderr)")
            #expect(child.stdoutLines.count == 3)
            #expect(child.stdoutLines.allSatisfy { $0.hasSuffix("Hello World!") }, "stdout: \(child.stdout)")
            #expect(eventually { !hasKprobe(on: BPF.getSyscallPrefix() + "execve") })
        }

        @Test("HelloMap counts clone() calls per uid through a real kprobe on clone")
        func helloMapKprobe() throws {
            let clone = BPF.getSyscallPrefix() + "clone"
            let child = try Child(try examplePath("HelloMap"), ["--count", "3", "--interval", "0.5"])
            var sawProbe = false
            let status = child.drive(timeout: 120) {
                sawProbe = sawProbe || hasKprobe(on: clone)
                forkSome()
            }
            #expect(status == 0, "stderr: \(child.stderr)")
            #expect(sawProbe, "no kprobe on \(clone) appeared in kprobes/list")
            #expect(!child.stderr.contains("no kprobes"), "fell back: \(child.stderr)")
            let last = try #require(child.stdoutLines.last, "stdout: \(child.stdout)")
            #expect(last.contains("ID \(getuid()): "), "stdout: \(child.stdout)")
            #expect(eventually { !hasKprobe(on: clone) })
        }

        @Test("SIGKILL of HelloWorld leaves no kprobe behind")
        func helloWorldKilled() throws {
            let child = try Child(try examplePath("HelloWorld"), [])
            #expect(eventually(timeout: 120) {
                execTrue()
                return !child.stdoutLines.isEmpty
            }, "stderr: \(child.stderr)")
            kill(child.process.processIdentifier, SIGKILL)
            _ = child.wait(timeout: 10)
            #expect(eventually { noKprobesLeft(on: BPF.getSyscallPrefix() + "execve", pid: child.process.processIdentifier) })
        }
    }
}
