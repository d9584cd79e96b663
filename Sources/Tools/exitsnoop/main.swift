// exitsnoop: trace all process termination (exit, fatal signal). A port of bcc's
// tools/exitsnoop.py (/usr/sbin/exitsnoop-bpfcc): same flags, header and rows.
//
// Attach path: the sched:sched_process_exit tracepoint (the Python tool's only one). The task's
// tgid, pid, parent, exit code and start time are read at the running kernel's BTF offsets
// (KernelFields): with another kernel's headers Python's exitsnoop reads them at wrong offsets
// and filters every exit out.
import ArgumentParser
import BCCTools
import Glibc
import SwiftBCC

struct Exitsnoop: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "exitsnoop",
        abstract: "Trace all process termination (exit, fatal signal)",
        discussion: """
        examples:
            exitsnoop                # trace all process termination
            exitsnoop -x             # trace only fails, exclude exit(0)
            exitsnoop -t             # include timestamps (local time)
            exitsnoop --utc          # include timestamps (UTC)
            exitsnoop -p 181         # only trace PID 181
            exitsnoop --label=exit   # label each output line with 'exit'
            exitsnoop --per-thread   # trace per thread termination
        """)

    @Flag(name: [.customShort("t"), .customLong("timestamp")], help: "include timestamp (local time default)")
    var timestamp = false

    @Flag(name: .customLong("utc"), help: "include timestamp in UTC (-t implied)")
    var utc = false

    @Option(name: [.customShort("p"), .customLong("pid")], help: "trace this PID only")
    var pid: Int?

    @Option(name: .customLong("label"), help: "label each line")
    var label: String?

    @Flag(name: [.customShort("x"), .customLong("failed")], help: "trace only fails, exclude exit(0)")
    var failed = false

    @Flag(name: .customLong("per-thread"), help: "trace per thread termination")
    var perThread = false

    /// Python's hidden --timespec (RHEL 7's struct timespec start_time): accepted; this port
    /// reads start_time at its BTF offset as the u64 it is on every kernel since 3.17.
    @Flag(name: .customLong("timespec"), help: .hidden)
    var timespec = false

    @OptionGroup var common: CommonOptions

    static let text = #"""
    #include <linux/sched.h>

    struct data_t {
        u64 start_time;
        u64 exit_time;
        u32 pid;
        u32 tid;
        u32 ppid;
        int exit_code;
        u32 sig_info;
        char task[TASK_COMM_LEN];
    };

    BPF_PERF_OUTPUT(events);

    TRACEPOINT_PROBE(sched, sched_process_exit)
    {
        void *task = (void *)bpf_get_current_task();
        u32 tgid = bcctools_task_tgid(task);
        u32 tpid = bcctools_task_pid(task);
        int exit_code = bcctools_task_exit_code(task);
        if (FILTER_PID || FILTER_EXIT_CODE) { return 0; }

        struct data_t data = {};

        data.start_time = bcctools_task_start_time(task);
        data.exit_time = bpf_ktime_get_ns();
        data.pid = tgid;
        data.tid = tpid;
        data.ppid = bcctools_task_ppid(task);
        data.exit_code = exit_code >> 8;
        data.sig_info = exit_code & 0xFF;
        bpf_get_current_comm(&data.task, sizeof(data.task));

        events.perf_submit(args, &data, sizeof(data));
        return 0;
    }
    """#

    var program: String {
        var text = ProgramText(Self.text)
        let filterPID: String
        if let pid {
            filterPID = perThread ? "tgid != \(pid)" : "!(tgid == \(pid) && tpid == tgid)"
        } else {
            filterPID = perThread ? "0" : "tpid != tgid"
        }
        text.replace("FILTER_PID", with: filterPID)
        text.replace("FILTER_EXIT_CODE", with: failed ? "exit_code == 0" : "0")
        text.prepend(KernelFields.cHelpers([.tgid, .pid, .ppid, .exitCode, .startTime]))
        return text.text
    }

    struct Event: BitwiseCopyable {
        var startTime: UInt64
        var exitTime: UInt64
        var pid: UInt32
        var tid: UInt32
        var ppid: UInt32
        var exitCode: Int32
        var sigInfo: UInt32
        var task: InlineArray<16, CChar>
    }

    func run() throws {
        let timestamp = self.timestamp || utc
        let path = AttachPath(.tracepoint, targets: "sched:sched_process_exit", program: program) { _ in }
        if common.ebpf {
            print(try common.choose([path])[0].program)
            return
        }
        let (b, _) = try AttachSelection.load(tool: "exitsnoop", paths: try common.choose([path]))

        var header = ""
        if timestamp { header += pad("TIME-" + (utc ? "UTC" : TimeFormat.zoneName), 13) }
        if label != nil { header += pad("LABEL", 6) }
        header += "\(pad("PCOMM", 16)) \(pad("PID", 7)) \(pad("PPID", 7)) \(pad("TID", 7)) \(pad("AGE(s)", 7)) \(pad("EXIT_CODE", 10))"

        let session = ToolSession(tool: "exitsnoop", maxEvents: common.maxEvents)
        var seen = false
        // The options as locals: an ArgumentParser property read costs microseconds (generic
        // metadata on every access), too much for once per event.
        let utc = self.utc
        let label = self.label
        let pid = self.pid
        try b["events"].openPerfBuffer(of: Event.self) { _, e in
            seen = true
            session.row { r in
                if timestamp { r.left(13) { $0.append(TimeFormat.nowMillis(utc: utc)) } }
                if let label { r.left(6) { $0.append(label.isEmpty ? "exit" : label) } }
                r.left(16) { $0.cString(e.task) }
                r.space()
                r.left(7) { $0.decimal(UInt64(e.pid)) }
                r.space()
                r.left(7) { $0.decimal(UInt64(e.ppid)) }
                r.space()
                r.left(7) { $0.decimal(UInt64(e.tid)) }
                r.space()
                r.left(7) { $0.fixed(e.exitTime &- e.startTime, scale: 9, digits: 2) }
                r.space()
                if e.sigInfo == 0 {
                    if e.exitCode == 0 { r.byte(UInt8(ascii: "0")) } else { r.append("code "); r.decimal(signed: Int64(e.exitCode)) }
                } else {
                    let sig = Int(e.sigInfo & 0x7f)
                    if sig != 0 { r.append("signal \(sig) (\(SignalNames.name(sig)))") }
                    if e.sigInfo & 0x80 != 0 { r.append(", core dumped ") }
                }
            }
        }
        // With -p the Python tool returns after the first poll that delivered its events.
        try session.pollLoop(b, header: header, until: { pid != nil && seen })
        if session.signal != nil { emitLine("") }
        b.cleanup()
    }
}

Exitsnoop.runTool()
