// learning-ebpf chapter2 hello-tail.py: a BPF_PROG_ARRAY of per-syscall handlers, tail-called
// from the sys_enter raw tracepoint; execve prints "Executing a program", timer calls print
// what they do.
//
//   b = BPF(text=program)
//   b.attach_raw_tracepoint(tp="sys_enter", fn_name="hello")
//   ignore_fn = b.load_func("ignore_opcode", BPF.RAW_TRACEPOINT)
//   exec_fn = b.load_func("hello_exec", BPF.RAW_TRACEPOINT)
//   timer_fn = b.load_func("hello_timer", BPF.RAW_TRACEPOINT)
//   prog_array = b.get_table("syscall")
//   for i in range(len(prog_array)):
//       prog_array[ct.c_int(i)] = ct.c_int(ignore_fn.fd)
//   prog_array[ct.c_int(59)] = ct.c_int(exec_fn.fd)
//   prog_array[ct.c_int(222)] = ct.c_int(timer_fn.fd)   # ... 223, 224, 225, 226
//   b.trace_print()
import ArgumentParser
import ExampleSupport
import SwiftBCC

/// Syscall numbers of this architecture (the original hard-codes x86_64's).
#if arch(arm64)
let execveNR = 221, timerCreateNR = 107, timerDeleteNR = 111
#else
let execveNR = 59, timerCreateNR = 222, timerDeleteNR = 226
#endif

@main
struct HelloTail: ExampleCommand {
    static let configuration = CommandConfiguration(
        abstract: "Tail-call a handler per syscall from the sys_enter raw tracepoint and print execs and timer calls.")

    @OptionGroup var limits: RunOptions

    func run() throws {
        let program = #"""
        BPF_PROG_ARRAY(syscall, 500);

        int hello(struct bpf_raw_tracepoint_args *ctx) {
            int opcode = ctx->args[1];
            syscall.call(ctx, opcode);
            bpf_trace_printk("Another syscall: %d", opcode);
            return 0;
        }

        int hello_exec(void *ctx) {
            bpf_trace_printk("Executing a program");
            return 0;
        }

        int hello_timer(struct bpf_raw_tracepoint_args *ctx) {
            int opcode = ctx->args[1];
            switch (opcode) {
                case TIMER_CREATE:
                    bpf_trace_printk("Creating a timer");
                    break;
                case TIMER_DELETE:
                    bpf_trace_printk("Deleting a timer");
                    break;
                default:
                    bpf_trace_printk("Some other timer operation");
                    break;
            }
            return 0;
        }

        int ignore_opcode(void *ctx) {
            return 0;
        }
        """#
        let b = try BPF(text: program, cflags: ["-DTIMER_CREATE=\(timerCreateNR)", "-DTIMER_DELETE=\(timerDeleteNR)"])
        let run = limits.start()

        let ignoreFn = try b.loadFunction("ignore_opcode", type: .rawTracepoint)
        let execFn = try b.loadFunction("hello_exec", type: .rawTracepoint)
        let timerFn = try b.loadFunction("hello_timer", type: .rawTracepoint)

        let progArray = try b.table("syscall")

        // Ignore all syscalls initially
        for i in 0..<(try progArray.count) {
            try progArray.setFunction(i, ignoreFn)
        }

        // Only enable few syscalls which are of the interest
        try progArray.setFunction(execveNR, execFn)
        for nr in timerCreateNR...timerDeleteNR {
            try progArray.setFunction(nr, timerFn)
        }

        // Attached once the array is filled (the original attaches first, so every syscall in
        // between prints "Another syscall").
        try b.attachRawTracepoint(tp: "sys_enter", fnName: "hello")

        try run.tracePrint(b)
        b.cleanup()
    }
}
