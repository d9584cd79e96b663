// gethostlatency: show latency for getaddrinfo/gethostbyname[2] calls. A port of bcc's
// tools/gethostlatency.py (/usr/sbin/gethostlatency-bpfcc): same flags, header and rows.
//
// Attach path: uprobes and uretprobes on libc's getaddrinfo, gethostbyname and gethostbyname2
// (the Python tool's; there is no other).
import ArgumentParser
import BCCTools
import Glibc
import SwiftBCC

struct Gethostlatency: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gethostlatency",
        abstract: "Show latency for getaddrinfo/gethostbyname[2] calls",
        discussion: """
        examples:
            ./gethostlatency           # time getaddrinfo/gethostbyname[2] calls
            ./gethostlatency -p 181    # only trace PID 181
        """)

    @Option(name: [.customShort("p"), .customLong("pid")], help: "trace this PID only")
    var pid: Int32 = -1

    @OptionGroup var common: CommonOptions

    func validate() throws {
        if pid < -1 { throw ValidationError("--pid: \(pid) is not a process id") }
    }

    // Entry saves the host name argument and the start time per thread; the return emits the
    // latency. The same functions serve all three lookups (the name is the first argument).
    static let text = #"""
    #include <uapi/linux/ptrace.h>
    #include <linux/sched.h>

    struct val_t {
        u32 pid;
        char comm[TASK_COMM_LEN];
        char host[80];
        u64 ts;
    };

    struct data_t {
        u32 pid;
        u64 delta;
        char comm[TASK_COMM_LEN];
        char host[80];
    };

    BPF_HASH(start, u32, struct val_t);
    BPF_PERF_OUTPUT(events);

    int do_entry(struct pt_regs *ctx)
    {
        const char *name = (const char *)PT_REGS_PARM1(ctx);
        if (!name)
            return 0;
        u64 pid_tgid = bpf_get_current_pid_tgid();
        u32 tid = (u32)pid_tgid;
        struct val_t val = {};
        if (bpf_get_current_comm(&val.comm, sizeof(val.comm)) != 0)
            return 0;
        bpf_probe_read_user(&val.host, sizeof(val.host), name);
        val.pid = pid_tgid >> 32;
        val.ts = bpf_ktime_get_ns();
        start.update(&tid, &val);
        return 0;
    }

    int do_return(struct pt_regs *ctx)
    {
        u64 now = bpf_ktime_get_ns();
        u32 tid = (u32)bpf_get_current_pid_tgid();
        struct val_t *valp = start.lookup(&tid);
        if (valp == 0)
            return 0;   // missed the entry
        struct data_t data = {};
        bpf_probe_read_kernel(&data.comm, sizeof(data.comm), valp->comm);
        bpf_probe_read_kernel(&data.host, sizeof(data.host), (void *)valp->host);
        data.pid = valp->pid;
        data.delta = now - valp->ts;
        events.perf_submit(ctx, &data, sizeof(data));
        start.delete(&tid);
        return 0;
    }
    """#

    struct Event: BitwiseCopyable {
        var pid: UInt32
        var delta: UInt64
        var comm: InlineArray<16, CChar>
        var host: InlineArray<80, CChar>
    }

    static let functions = ["getaddrinfo", "gethostbyname", "gethostbyname2"]

    func run() throws {
        let pid = self.pid
        let path = AttachPath(.uprobe, targets: "libc " + Self.functions.joined(separator: ", "), program: Self.text) { b in
            for fn in Self.functions {
                try b.attachUprobe(name: "c", sym: fn, fnName: "do_entry", pid: pid)
                try b.attachUretprobe(name: "c", sym: fn, fnName: "do_return", pid: pid)
            }
        }
        if common.ebpf {
            print(try common.choose([path])[0].program)
            return
        }
        let (b, _) = try AttachSelection.load(tool: "gethostlatency", paths: try common.choose([path]))

        let session = ToolSession(tool: "gethostlatency", maxEvents: common.maxEvents)
        try b["events"].openPerfBuffer(of: Event.self) { _, e in
            // Python's "%-9s %-7d %-16s %10.2f %s" % (time, pid, comm, delta / 1e6, host).
            session.row { r in
                r.left(9) { $0.clock() }; r.space()
                r.left(7) { $0.decimal(UInt64(e.pid)) }; r.space()
                r.left(16) { $0.cString(e.comm) }; r.space()
                r.right(10) { $0.fixed(e.delta, scale: 6, digits: 2) }; r.space()
                r.cString(e.host)
            }
        }
        try session.pollLoop(b, header: "\(pad("TIME", 9)) \(pad("PID", 7)) \(pad("COMM", 16)) \(padLeft("LATms", 10)) HOST")
        b.cleanup()
    }
}

Gethostlatency.runTool()
