// ebpf-beginners hello_world / bcc "Hello World": print a trace line on every execve.
//
//   b = BPF(text=program)
//   syscall = b.get_syscall_fnname("execve")
//   b.attach_kprobe(event=syscall, fn_name="hello")
//   b.trace_print()
import ArgumentParser
import ExampleSupport
import SwiftBCC

@main
struct HelloWorld: ExampleCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print \"Hello World!\" through trace_pipe every time a program is executed.")

    @OptionGroup var limits: RunOptions

    func run() throws {
        let program = #"""
        int hello(void *ctx) {
            bpf_trace_printk("Hello World!\n");
            return 0;
        }
        """#
        let b = try BPF(text: program)
        let run = limits.start()
        let syscall = b.getSyscallFnName("execve")
        do {
            try b.attachKprobe(event: syscall, fnName: "hello")
        } catch BPFError.kprobesUnavailable(_, _, let tracepoint?) {
            warn("HelloWorld: this kernel has no kprobes; attaching hello to the tracepoint \(tracepoint) instead of \(syscall)")
            try b.attachTracepoint(tp: tracepoint, fnName: "hello")
        }
        try run.tracePrint(b)
        b.cleanup()
    }
}
