// killsnoop: trace signals issued by the kill() syscall. A port of bcc's tools/killsnoop.py
// (/usr/sbin/killsnoop-bpfcc): same flags, header and rows.
//
// Attach paths: kprobe + kretprobe on the kill syscall function (the Python tool's), else the
// syscalls:sys_enter_kill / sys_exit_kill tracepoints.
import ArgumentParser
import BCCTools
import Glibc
import SwiftBCC

struct Killsnoop: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "killsnoop",
        abstract: "Trace signals issued by the kill() syscall",
        discussion: """
        examples:
            ./killsnoop           # trace all kill() signals
            ./killsnoop -x        # only show failed kills
            ./killsnoop -p 181    # only trace PID 181
            ./killsnoop -T 189    # only trace target PID 189
            ./killsnoop -s 9      # only trace signal 9
        """)

    @Flag(name: [.customShort("x"), .customLong("failed")], help: "only show failed kill syscalls")
    var failed = false

    @Option(name: [.customShort("p"), .customLong("pid")], help: "trace this PID only which is the sender of signal")
    var pid: Int?

    @Option(name: [.customShort("T"), .customLong("tpid")], help: "trace this target PID only which is the receiver of signal")
    var tpid: Int?

    @Option(name: [.customShort("s"), .customLong("signal")], help: "trace this signal only")
    var signal: Int?

    @OptionGroup var common: CommonOptions

    static let common = #"""
    #include <uapi/linux/ptrace.h>
    #include <linux/sched.h>

    struct val_t {
       u32 pid;
       int sig;
       int tpid;
       char comm[TASK_COMM_LEN];
    };

    struct data_t {
       u32 pid;
       int tpid;
       int sig;
       int ret;
       char comm[TASK_COMM_LEN];
    };

    BPF_HASH(infotmp, u32, struct val_t);
    BPF_PERF_OUTPUT(events);

    static __always_inline int killsnoop_entry(int tpid, int sig)
    {
        u64 pid_tgid = bpf_get_current_pid_tgid();
        u32 pid = pid_tgid >> 32;
        u32 tid = (u32)pid_tgid;

        TPID_FILTER
        PID_FILTER
        SIGNAL_FILTER

        struct val_t val = {.pid = pid};
        if (bpf_get_current_comm(&val.comm, sizeof(val.comm)) == 0) {
            val.tpid = tpid;
            val.sig = sig;
            infotmp.update(&tid, &val);
        }

        return 0;
    }

    static __always_inline int killsnoop_return(void *ctx, int ret)
    {
        struct data_t data = {};
        struct val_t *valp;
        u64 pid_tgid = bpf_get_current_pid_tgid();
        u32 pid = pid_tgid >> 32;
        u32 tid = (u32)pid_tgid;

        valp = infotmp.lookup(&tid);
        if (valp == 0) {
            // missed entry
            return 0;
        }

        bpf_probe_read_kernel(&data.comm, sizeof(data.comm), valp->comm);
        data.pid = pid;
        data.tpid = valp->tpid;
        data.ret = ret;
        data.sig = valp->sig;

        events.perf_submit(ctx, &data, sizeof(data));
        infotmp.delete(&tid);

        return 0;
    }

    """#

    static let kprobeText = #"""
    int syscall__kill(struct pt_regs *ctx, int tpid, int sig)
    {
        return killsnoop_entry(tpid, sig);
    }

    int do_ret_sys_kill(struct pt_regs *ctx)
    {
        return killsnoop_return(ctx, PT_REGS_RC(ctx));
    }
    """#

    static let tracepointText = #"""
    TRACEPOINT_PROBE(syscalls, sys_enter_kill)
    {
        return killsnoop_entry(args->pid, args->sig);
    }

    TRACEPOINT_PROBE(syscalls, sys_exit_kill)
    {
        return killsnoop_return(args, args->ret);
    }
    """#

    func program(_ variant: String) -> String {
        var text = ProgramText(Self.common + variant)
        text.filter("TPID_FILTER", skipIf: tpid.map { "tpid != \($0)" })
        text.filter("PID_FILTER", skipIf: pid.map { "pid != \($0)" })
        text.filter("SIGNAL_FILTER", skipIf: signal.map { "sig != \($0)" })
        return text.text
    }

    struct Event: BitwiseCopyable {
        var pid: UInt32
        var tpid: Int32
        var sig: Int32
        var ret: Int32
        var comm: InlineArray<16, CChar>
    }

    /// The PID column width: the digits of /proc/sys/kernel/pid_max plus one (6 when unreadable).
    static var pidWidth: Int {
        guard let text = readSmallFile("/proc/sys/kernel/pid_max")?.filter({ !$0.isWhitespace }), !text.isEmpty else { return 6 }
        return text.count + 1
    }

    func run() throws {
        let syscall = BPF.getSyscallPrefix() + "kill"
        let paths = [
            AttachPath(.kprobe, targets: "\(syscall) entry and return", program: program(Self.kprobeText)) { b in
                try b.attachKprobe(event: syscall, fnName: "syscall__kill")
                try b.attachKretprobe(event: syscall, fnName: "do_ret_sys_kill")
            },
            AttachPath(.tracepoint, targets: "syscalls:sys_enter_kill, syscalls:sys_exit_kill",
                       program: program(Self.tracepointText)) { _ in },
        ]
        if common.ebpf {
            print(AttachSelection.firstAvailable(try common.choose(paths)).program)
            return
        }
        let (b, _) = try AttachSelection.load(tool: "killsnoop", paths: try common.choose(paths))
        let width = Self.pidWidth

        let session = ToolSession(tool: "killsnoop", maxEvents: common.maxEvents)
        // The options as locals: an ArgumentParser property read costs microseconds (generic
        // metadata on every access), too much for once per event.
        let failed = self.failed
        try b["events"].openPerfBuffer(of: Event.self) { _, e in
            if failed && e.ret >= 0 { return }
            session.row { r in
                r.left(9) { $0.clock() }
                r.space()
                r.left(width) { $0.decimal(UInt64(e.pid)) }
                r.space()
                r.left(16) { $0.cString(e.comm) }
                r.space()
                r.left(4) { $0.decimal(signed: Int64(e.sig)) }
                r.space()
                r.left(width) { $0.decimal(signed: Int64(e.tpid)) }
                r.space()
                r.decimal(signed: Int64(e.ret))
            }
        }
        try session.pollLoop(b, header: "\(pad("TIME", 9)) \(pad("PID", width)) \(pad("COMM", 16)) \(pad("SIG", 4)) \(pad("TPID", width)) RESULT")
        b.cleanup()
    }
}

Killsnoop.runTool()
