// bcc examples/tracing/hello_perf_output.py: on every clone(), send the pid, a timestamp and
// the command through a perf buffer and print them with the time since the first event.
//
//   b = BPF(text=prog)
//   b.attach_kprobe(event=b.get_syscall_fnname("clone"), fn_name="hello")
//   print("%-18s %-16s %-6s %s" % ("TIME(s)", "COMM", "PID", "MESSAGE"))
//   def print_event(cpu, data, size):
//       event = b["events"].event(data)
//       ...
//       printb(b"%-18.9f %-16s %-6d %s" % (time_s, event.comm, event.pid, b"Hello, perf_output!"))
//   b["events"].open_perf_buffer(print_event)
//   while 1: b.perf_buffer_poll()
//
// Where the kernel has no kprobes, hello is attached to the syscalls:sys_enter_clone
// tracepoint instead (the same events).
import ArgumentParser
import ExampleSupport
import Foundation
import SwiftBCC

/// `struct data_t` of the program (C pads `pid` to 8 bytes before `ts`).
struct Data: BitwiseCopyable {
    var pid: UInt32
    var ts: UInt64
    var comm: InlineArray<16, CChar>
}

@main
struct HelloPerfOutput: ExampleCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print \"Hello, perf_output!\" with the time, command and pid of every clone(), through a perf buffer.")

    @OptionGroup var limits: RunOptions

    func run() throws {
        let prog = #"""
        #include <linux/sched.h>

        // define output data structure in C
        struct data_t {
            u32 pid;
            u64 ts;
            char comm[TASK_COMM_LEN];
        };
        BPF_PERF_OUTPUT(events);

        int hello(struct pt_regs *ctx) {
            struct data_t data = {};

            data.pid = bpf_get_current_pid_tgid();
            data.ts = bpf_ktime_get_ns();
            bpf_get_current_comm(&data.comm, sizeof(data.comm));

            events.perf_submit(ctx, &data, sizeof(data));

            return 0;
        }
        """#
        let b = try BPF(text: prog)
        let run = limits.start()
        let syscall = b.getSyscallFnName("clone")
        try attachKprobeOrTracepoint(b, event: syscall, fnName: "hello", example: "HelloPerfOutput")

        print("\(ljust("TIME(s)", 18)) \(ljust("COMM", 16)) \(ljust("PID", 6)) MESSAGE")
        var start: UInt64 = 0
        try b["events"].openPerfBuffer(of: Data.self) { _, event in
            guard !run.isDone else { return }
            if start == 0 { start = event.ts }
            let timeS = Double(event.ts &- start) / 1_000_000_000
            run.emit("\(String(format: "%-18.9f", timeS)) \(ljust(cString(event.comm), 16)) "
                + "\(ljust(String(event.pid), 6)) Hello, perf_output!")
        }
        try run.pollLoop { try b.perfBufferPoll(timeout: $0) }
        b.cleanup()
    }
}
