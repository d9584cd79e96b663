// learning-ebpf chapter 2 hello-buffer.py: for every execve, send the pid, uid, command and a
// message to user space through a perf buffer and print them.
//
//   b = BPF(text=program)
//   b.attach_kprobe(event=b.get_syscall_fnname("execve"), fn_name="hello")
//   def print_event(cpu, data, size):
//       data = b["output"].event(data)
//       print(f"{data.pid} {data.uid} {data.command.decode()} {data.message.decode()}")
//   b["output"].open_perf_buffer(print_event)
//   while True: b.perf_buffer_poll()
//
// Where the kernel has no kprobes, hello is attached to the syscalls:sys_enter_execve
// tracepoint instead (the same events).
import ArgumentParser
import ExampleSupport
import SwiftBCC

/// `struct data_t` of the program, field for field.
struct Data: BitwiseCopyable {
    var pid: UInt32
    var uid: UInt32
    var command: InlineArray<16, CChar>
    var message: InlineArray<12, CChar>
}

@main
struct HelloBuffer: ExampleCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print the pid, uid and command of every program executed, sent through a perf buffer.")

    @OptionGroup var limits: RunOptions

    func run() throws {
        let program = #"""
        BPF_PERF_OUTPUT(output);

        struct data_t {
           u32 pid;
           u32 uid;
           char command[16];
           char message[12];
        };

        int hello(void *ctx) {
           struct data_t data = {};
           char message[12] = "Hello World";

           data.pid = bpf_get_current_pid_tgid() >> 32;
           data.uid = bpf_get_current_uid_gid() & 0xFFFFFFFF;

           bpf_get_current_comm(&data.command, sizeof(data.command));
           bpf_probe_read_kernel(&data.message, sizeof(data.message), message);

           output.perf_submit(ctx, &data, sizeof(data));

           return 0;
        }
        """#
        let b = try BPF(text: program)
        let run = limits.start()
        let syscall = b.getSyscallFnName("execve")
        try attachKprobeOrTracepoint(b, event: syscall, fnName: "hello", example: "HelloBuffer")
        try b["output"].openPerfBuffer(of: Data.self) { _, data in
            guard !run.isDone else { return }
            run.emit("\(data.pid) \(data.uid) \(cString(data.command)) \(cString(data.message))")
        }
        try run.pollLoop { try b.perfBufferPoll(timeout: $0) }
        b.cleanup()
    }
}
