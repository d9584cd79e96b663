// bashreadline: print entered bash commands from all running shells. A port of bcc's
// tools/bashreadline.py (/usr/sbin/bashreadline-bpfcc): same flags, header and rows.
//
// Attach path: a uretprobe on readline() in /bin/bash (Debian's bash exports it; readline is
// linked in statically), or in the library `-s` names. Only tasks whose comm is "bash" are
// reported, as in the Python tool.
import ArgumentParser
import BCCTools
import Glibc
import SwiftBCC

struct Bashreadline: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bashreadline",
        abstract: "Print entered bash commands from all running shells")

    /// `-s` without a value (Python's `nargs="?"` const).
    static let defaultShared = "/lib/libreadline.so"

    @Option(name: [.customShort("s"), .customLong("shared")],
            help: "specify the location of libreadline.so library. Default is \(defaultShared)")
    var shared: String?

    @OptionGroup var common: CommonOptions

    static let text = #"""
    #include <uapi/linux/ptrace.h>
    #include <linux/sched.h>

    struct str_t {
        u32 pid;
        char str[80];
    };

    BPF_PERF_OUTPUT(events);

    int printret(struct pt_regs *ctx)
    {
        const char *line = (const char *)PT_REGS_RC(ctx);
        if (!line)
            return 0;
        char comm[TASK_COMM_LEN] = {};
        bpf_get_current_comm(&comm, sizeof(comm));
        if (comm[0] != 'b' || comm[1] != 'a' || comm[2] != 's' || comm[3] != 'h' || comm[4] != 0)
            return 0;
        struct str_t data = {};
        data.pid = bpf_get_current_pid_tgid() >> 32;
        bpf_probe_read_user(&data.str, sizeof(data.str), line);
        events.perf_submit(ctx, &data, sizeof(data));
        return 0;
    }
    """#

    struct Event: BitwiseCopyable {
        var pid: UInt32
        var str: InlineArray<80, CChar>
    }

    func run() throws {
        let binary = shared ?? "/bin/bash"
        let path = AttachPath(.uprobe, targets: "\(binary) readline (return)", program: Self.text) { b in
            try b.attachUretprobe(name: binary, sym: "readline", fnName: "printret")
        }
        if common.ebpf {
            print(try common.choose([path])[0].program)
            return
        }
        let (b, _) = try AttachSelection.load(tool: "bashreadline", paths: try common.choose([path]))

        let session = ToolSession(tool: "bashreadline", maxEvents: common.maxEvents)
        try b["events"].openPerfBuffer(of: Event.self) { _, e in
            session.row { r in
                r.left(9) { $0.clock() }; r.space()
                r.left(7) { $0.decimal(UInt64(e.pid)) }; r.space()
                r.cString(e.str)
            }
        }
        try session.pollLoop(b, header: "\(pad("TIME", 9)) \(pad("PID", 7)) COMMAND")
        b.cleanup()
    }

    /// The command line with a bare `-s`/`--shared` (last, or before another option) given
    /// Python's const value, which ArgumentParser's options cannot take optionally.
    static func arguments(_ raw: [String]) -> [String] {
        var out: [String] = []
        var i = 0
        while i < raw.count {
            let a = raw[i]
            out.append(a)
            if a == "--" { out += raw[(i + 1)...]; break }
            if a == "-s" || a == "--shared" {
                let next = i + 1 < raw.count ? raw[i + 1] : nil
                if next == nil || next!.hasPrefix("-") { out.append(defaultShared) }
            }
            i += 1
        }
        return out
    }
}

Bashreadline.runTool(arguments: Bashreadline.arguments(Array(CommandLine.arguments.dropFirst())))
