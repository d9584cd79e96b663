// learning-ebpf chapter 2 hello-file-ring-buffer.py: for every openat(), send the command,
// file name and directory fd through a ring buffer and print "command - filename".
//
//   b = BPF(text=program)     # TRACEPOINT_PROBE(syscalls, sys_enter_openat) auto-attaches
//   def print_event(cpu, data, size):
//       ev = b["output"].event(data)
//       print(f"{ev.command.decode('utf-8')} - {ev.filename.decode('utf-8', 'replace')}")
//   b["output"].open_ring_buffer(print_event)
//   while True: b.ring_buffer_poll()
//
// The original also calls bpf_trace_printk twice per event, which only fills trace_pipe (the
// Python program never reads it); this port leaves those calls out so that it does not
// flood trace_pipe for everything else on the machine.
import ArgumentParser
import ExampleSupport
import SwiftBCC

/// `struct event_t` of the program.
struct Event: BitwiseCopyable {
    var command: InlineArray<16, CChar>
    var filename: InlineArray<256, CChar>
    var dfd: Int32
}

@main
struct HelloRingBuffer: ExampleCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print the command and file name of every openat(), sent through a ring buffer.")

    @OptionGroup var limits: RunOptions

    func run() throws {
        let program = #"""
        BPF_RINGBUF_OUTPUT(output, 1);

        struct event_t {
           char command[16];
           char filename[256];
           int dfd;
        };

        TRACEPOINT_PROBE(syscalls, sys_enter_openat)
        {
          struct event_t event = {};

          event.dfd = args->dfd;
          bpf_probe_read_user_str(&event.filename, sizeof(event.filename), args->filename);
          bpf_get_current_comm(&event.command, sizeof(event.command));

          output.ringbuf_output(&event, sizeof(event), 0);

          return 0;
        }
        """#
        let b = try BPF(text: program)
        let run = limits.start()
        try b["output"].openRingBuffer(of: Event.self) { ev in
            guard !run.isDone else { return }
            run.emit("\(cString(ev.command)) - \(cString(ev.filename))")
        }
        try run.pollLoop { try b.ringBufferPoll(timeout: $0) }
        b.cleanup()
    }
}
