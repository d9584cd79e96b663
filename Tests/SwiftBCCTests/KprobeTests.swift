import Foundation
import Glibc
@testable import SwiftBCC
import Testing

/// The syscall prefix, read straight from /proc/kallsyms.
func kallsymsSyscallPrefix() -> String? {
    guard let text = FileIO.read("/proc/kallsyms") else { return nil }
    let names = Set(text.split(separator: "\n").compactMap { $0.split(separator: " ").dropFirst(2).first.map(String.init) })
    return BPF.syscallPrefixes.first { names.contains($0 + "bpf") }
}

@Suite("Syscall names")
struct SyscallNameTests {
    @Test("getSyscallFnName uses the prefix /proc/kallsyms has")
    func syscallFnName() throws {
        let prefix = try #require(kallsymsSyscallPrefix(), "no syscall symbols readable in /proc/kallsyms")
        #expect(BPF.getSyscallPrefix() == prefix)
        #if arch(x86_64)
        #expect(prefix == "__x64_sys_")
        #endif
        #expect(BPF.ksymname(prefix + "execve") != nil)
        #expect(BPF.ksymname("no_such_kernel_symbol_swiftbcc") == nil)
    }

    @Test("fixSyscallFnName rewrites any known prefix", .requiresBPF)
    func fixSyscall() throws {
        let b = try BPF(text: "int f(void *ctx) { return 0; }")
        defer { b.cleanup() }
        let prefix = BPF.getSyscallPrefix()
        #expect(b.getSyscallFnName("execve") == prefix + "execve")
        #expect(b.fixSyscallFnName("sys_clone") == prefix + "clone")
        #expect(b.fixSyscallFnName("__x64_sys_clone") == prefix + "clone")
        #expect(b.fixSyscallFnName("do_sys_open") == "do_sys_open")
    }

    @Test("the tracepoint that replaces a syscall kprobe")
    func alternative() {
        #expect(BPF.tracepointAlternative(forKprobe: "__x64_sys_execve") == "syscalls:sys_enter_execve")
        #expect(BPF.tracepointAlternative(forKprobe: "__x64_sys_execve", isReturn: true) == "syscalls:sys_exit_execve")
        #expect(BPF.tracepointAlternative(forKprobe: "sys_clone") == "syscalls:sys_enter_clone")
        #expect(BPF.tracepointAlternative(forKprobe: "vfs_read") == nil)
    }

    @Test("ksym translates a kernel address back to its name")
    func ksym() throws {
        let addr = try #require(BPF.ksymname(BPF.getSyscallPrefix() + "getppid"))
        // Several aliases (__x64_sys_getppid, __ia32_sys_getppid) may share the address.
        #expect(BPF.ksym(addr).hasSuffix("_sys_getppid"))
        let full = BPF.ksym(addr, showModule: true, showOffset: true)
        #expect(full.hasSuffix("_sys_getppid+0x0 [kernel]"), "\(full)")
        #expect(BPF.ksym(1) == "[unknown]")
    }
}

extension KernelSuite {
    @Suite("Kprobes")
    struct KprobeTests {
        @Test("without kprobes, attachKprobe names the tracepoint to use", .requiresNoKprobes)
        func noKprobesError() throws {
            let b = try BPF(text: "int hello(void *ctx) { return 0; }")
            defer { b.cleanup() }
            let event = b.getSyscallFnName("execve")
            #expect {
                try b.attachKprobe(event: event, fnName: "hello")
            } throws: { error in
                guard case BPFError.kprobesUnavailable(let ev, let isReturn, let tp) = error else { return false }
                let text = String(describing: error)
                return ev == event && !isReturn && tp == "syscalls:sys_enter_execve"
                    && text.contains("this kernel has no kprobe support")
                    && text.contains("syscalls:sys_enter_execve")
            }
            #expect {
                try b.attachKretprobe(event: event, fnName: "hello")
            } throws: { error in
                error as? BPFError == .kprobesUnavailable(event: event, isReturnProbe: true,
                                                          suggestedTracepoint: "syscalls:sys_exit_execve")
            }
            #expect(b.numOpenKprobes == 0)
        }

        @Test("auto-attach of kprobe__ fails the same typed way without kprobes", .requiresNoKprobes)
        func autoAttachNoKprobes() {
            let name = uniqueFunctionName("ak")
            #expect(throws: BPFError.self) {
                try BPF(text: "int kprobe__sys_getppid(void *ctx) { return 0; } int \(name)(void *c) { return 0; }")
            }
            // The failed init cleaned up: nothing of it is loaded.
            #expect(!loadedProgramNames().contains("sys_getppid"))
        }

        @Test("kprobe and kretprobe attach, count and detach", .requiresKprobes)
        func kprobeAttach() throws {
            let b = try BPF(text: "int on_entry(void *ctx) { return 0; }\nint on_return(void *ctx) { return 0; }")
            defer { b.cleanup() }
            let event = b.getSyscallFnName("getppid")
            try b.attachKprobe(event: event, fnName: "on_entry")
            try b.attachKretprobe(event: event, fnName: "on_return", maxActive: 16)
            #expect(b.numOpenKprobes == 2)
            try b.detachKprobe(event: event)
            try b.detachKretprobe(event: event, fnName: "on_return")
            #expect(b.numOpenKprobes == 0)
            #expect(throws: BPFError.notAttached(kind: "kprobe", target: event)) { try b.detachKprobe(event: event) }
        }

        @Test("a kprobe on a missing function says it is not traceable", .requiresKprobes)
        func kprobeMissing() throws {
            let b = try BPF(text: "int f(void *ctx) { return 0; }")
            defer { b.cleanup() }
            #expect {
                try b.attachKprobe(event: "no_such_function_swiftbcc", fnName: "f")
            } throws: { error in
                guard case BPFError.attachFailed(let kind, let target, _, _, _, let hint) = error else { return false }
                return kind == "kprobe" && target == "no_such_function_swiftbcc" && hint?.contains("not traceable") == true
            }
        }
    }
}
