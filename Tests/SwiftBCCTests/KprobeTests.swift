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
    /// On a kernel without kprobes (the 6.18 host), the typed error and its hint.
    @Suite("Kernel without kprobes")
    struct NoKprobesTests {
        @Test("attachKprobe names the tracepoint to use", .requiresNoKprobes)
        func noKprobesError() throws {
            let fn = uniqueFunctionName("nk")
            let b = try BPF(text: "int \(fn)(void *ctx) { return 0; }")
            defer { b.cleanup() }
            let event = b.getSyscallFnName("execve")
            #expect {
                try b.attachKprobe(event: event, fnName: fn)
            } throws: { error in
                guard case BPFError.kprobesUnavailable(let ev, let isReturn, let tp) = error else { return false }
                let text = String(describing: error)
                return ev == event && !isReturn && tp == "syscalls:sys_enter_execve"
                    && text.contains("this kernel has no kprobe support")
                    && text.contains("syscalls:sys_enter_execve")
            }
            #expect {
                try b.attachKretprobe(event: event, fnName: fn)
            } throws: { error in
                error as? BPFError == .kprobesUnavailable(event: event, isReturnProbe: true,
                                                          suggestedTracepoint: "syscalls:sys_exit_execve")
            }
            #expect(b.numOpenKprobes == 0)
            // The failed attaches unloaded what they loaded.
            #expect(!loadedProgramNames().contains(fn))
        }

        @Test("auto-attach of kprobe__ fails the same typed way, and the failed init cleans up", .requiresNoKprobes)
        func autoAttachNoKprobes() {
            let name = uniqueFunctionName("ak")
            #expect {
                try BPF(text: "int kprobe__sys_getppid(void *ctx) { return 0; } int \(name)(void *c) { return 0; }")
            } throws: { error in
                guard case BPFError.kprobesUnavailable(let event, false, "syscalls:sys_enter_getppid") = error else {
                    return false
                }
                return event == BPF.getSyscallPrefix() + "getppid"
            }
            #expect(eventually { !loadedProgramNames().contains("sys_getppid") })
        }
    }
}
