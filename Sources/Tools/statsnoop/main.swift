// statsnoop: trace stat() syscalls. A port of bcc's tools/statsnoop.py
// (/usr/sbin/statsnoop-bpfcc): same flags, header and rows, and the same syscalls: stat, statx,
// statfs, newstat and newlstat, where the kernel has them (glibc's stat() is newfstatat, which
// the Python tool does not trace either).
//
// Attach paths: kprobes + kretprobes on those syscall functions (the Python tool's), else their
// syscalls:sys_enter_* / sys_exit_* tracepoints.
import ArgumentParser
import BCCTools
import Glibc
import SwiftBCC

struct Statsnoop: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "statsnoop",
        abstract: "Trace stat() syscalls",
        discussion: """
        examples:
            ./statsnoop           # trace all stat() syscalls
            ./statsnoop -t        # include timestamps
            ./statsnoop -x        # only show failed stats
            ./statsnoop -p 181    # only trace PID 181
        """)

    @Flag(name: [.customShort("t"), .customLong("timestamp")], help: "include timestamp on output")
    var timestamp = false

    @Flag(name: [.customShort("x"), .customLong("failed")], help: "only show failed stats")
    var failed = false

    @Option(name: [.customShort("p"), .customLong("pid")], help: "trace this PID only")
    var pid: Int?

    @OptionGroup var common: CommonOptions

    /// The syscalls traced, in the Python tool's order.
    static let syscalls = ["stat", "statx", "statfs", "newstat", "newlstat"]

    static let common = #"""
    #include <uapi/linux/ptrace.h>
    #include <uapi/linux/limits.h>
    #include <linux/sched.h>

    struct val_t {
        const char *fname;
    };

    struct data_t {
        u32 pid;
        u64 ts_ns;
        int ret;
        char comm[TASK_COMM_LEN];
        char fname[NAME_MAX];
    };

    BPF_HASH(infotmp, u32, struct val_t);
    BPF_PERF_OUTPUT(events);

    static __always_inline int trace_entry(const char __user *filename)
    {
        struct val_t val = {};
        u64 pid_tgid = bpf_get_current_pid_tgid();
        u32 pid = pid_tgid >> 32;
        u32 tid = (u32)pid_tgid;

        FILTER
        val.fname = filename;
        infotmp.update(&tid, &val);

        return 0;
    }

    static __always_inline int statsnoop_return(void *ctx, int ret)
    {
        u64 pid_tgid = bpf_get_current_pid_tgid();
        u32 tid = (u32)pid_tgid;
        struct val_t *valp;

        valp = infotmp.lookup(&tid);
        if (valp == 0) {
            // missed entry
            return 0;
        }

        struct data_t data = {.pid = pid_tgid >> 32};
        bpf_probe_read_user_str(&data.fname, sizeof(data.fname), (void *)valp->fname);
        bpf_get_current_comm(&data.comm, sizeof(data.comm));
        data.ts_ns = bpf_ktime_get_ns();
        data.ret = ret;

        events.perf_submit(ctx, &data, sizeof(data));
        infotmp.delete(&tid);

        return 0;
    }

    """#

    static let kprobeText = #"""
    int syscall__stat_entry(struct pt_regs *ctx, const char __user *filename)
    {
        return trace_entry(filename);
    }

    int syscall__statx_entry(struct pt_regs *ctx, int dfd, const char __user *filename)
    {
        return trace_entry(filename);
    }

    int trace_return(struct pt_regs *ctx)
    {
        return statsnoop_return(ctx, PT_REGS_RC(ctx));
    }
    """#

    /// TRACEPOINT_PROBEs for each syscall in `names` (their path argument's name differs).
    static func tracepointText(_ names: [String]) -> String {
        names.map { name in
            let arg = name == "statfs" ? "pathname" : "filename"
            return """
            TRACEPOINT_PROBE(syscalls, sys_enter_\(name)) { return trace_entry((const char __user *)args->\(arg)); }
            TRACEPOINT_PROBE(syscalls, sys_exit_\(name)) { return statsnoop_return(args, args->ret); }

            """
        }.joined()
    }

    func program(_ variant: String) -> String {
        var text = ProgramText(Self.common + variant)
        text.filter("FILTER", skipIf: pid.map { "pid != \($0)" })
        return text.text
    }

    struct Event: BitwiseCopyable {
        var pid: UInt32
        var tsNs: UInt64
        var ret: Int32
        var comm: InlineArray<16, CChar>
        var fname: InlineArray<255, CChar>
    }

    func run() throws {
        let prefix = BPF.getSyscallPrefix()
        let present = BPF.ksymnames(Self.syscalls.map { prefix + $0 })
        let kprobeSyscalls = Self.syscalls.filter { present[prefix + $0] != nil }
        let tracepointSyscalls = Self.syscalls.filter {
            BPF.tracepointExists(category: "syscalls", event: "sys_enter_" + $0)
                && BPF.tracepointExists(category: "syscalls", event: "sys_exit_" + $0)
        }
        let paths = [
            AttachPath(.kprobe, targets: kprobeSyscalls.map { prefix + $0 }.joined(separator: ", "),
                       program: program(Self.kprobeText)) { b in
                for name in kprobeSyscalls {
                    try b.attachKprobe(event: prefix + name, fnName: name == "statx" ? "syscall__statx_entry" : "syscall__stat_entry")
                    try b.attachKretprobe(event: prefix + name, fnName: "trace_return")
                }
            },
            AttachPath(.tracepoint, targets: tracepointSyscalls.map { "syscalls:sys_enter_" + $0 }.joined(separator: ", ")
                            + " and their sys_exit_",
                       program: program(Self.tracepointText(tracepointSyscalls))) { _ in },
        ]
        if common.ebpf {
            print(AttachSelection.firstAvailable(try common.choose(paths)).program)
            return
        }
        let (b, _) = try AttachSelection.load(tool: "statsnoop", paths: try common.choose(paths))

        let session = ToolSession(tool: "statsnoop", maxEvents: common.maxEvents)
        var startTs: UInt64 = 0
        // The options as locals: an ArgumentParser property read costs microseconds (generic
        // metadata on every access), too much for once per event.
        let timestamp = self.timestamp
        let failed = self.failed
        try b["events"].openPerfBuffer(of: Event.self, pageCount: 64) { _, e in
            if e.ret >= 0 && failed { return }
            if startTs == 0 { startTs = e.tsNs }
            session.row { r in
                if timestamp { r.left(14) { $0.fixedDelta(e.tsNs, since: startTs, scale: 9, digits: 9) } }
                r.left(7) { $0.decimal(UInt64(e.pid)) }
                r.space()
                r.left(16) { $0.cString(e.comm) }
                r.space()
                r.fdAndErrno(Int64(e.ret))
                r.space()
                r.cString(e.fname)
            }
        }
        try session.pollLoop(b, header: (timestamp ? pad("TIME(s)", 14) : "") + "\(pad("PID", 7)) \(pad("COMM", 16)) \(padLeft("FD", 4)) \(padLeft("ERR", 3)) PATH")
        b.cleanup()
    }
}

Statsnoop.runTool()
