// cpudist: summarize on- (or -O off-) CPU time per task as a histogram. A port of bcc's
// tools/cpudist.py (/usr/sbin/cpudist-bpfcc): same flags, histograms and exit behaviour.
//
// Attach paths: a kprobe on finish_task_switch (as the Python tool), else the raw tracepoint
// sched_switch, which passes the tasks switched out and in. The tasks' pid and tgid are read at
// the running kernel's BTF offsets.
import ArgumentParser
import BCCTools
import Glibc
import SwiftBCC

struct Cpudist: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cpudist",
        abstract: "Summarize on- and off-CPU time per task as a histogram.",
        discussion: """
        examples:
            cpudist              # summarize on-CPU time as a histogram
            cpudist -O           # summarize off-CPU time as a histogram
            cpudist 1 10         # print 1 second summaries, 10 times
            cpudist -mT 1        # 1s summaries, milliseconds, and timestamps
            cpudist -P           # show each PID separately
            cpudist -p 185       # trace PID 185 only
            cpudist -I           # include CPU idle time
            cpudist -e           # show extension summary (average/total/count)
        """)

    @Flag(name: [.customShort("O"), .customLong("offcpu")], help: "measure off-CPU time")
    var offcpu = false

    @Flag(name: [.customShort("T"), .customLong("timestamp")], help: "include timestamp on output")
    var timestamp = false

    @Flag(name: [.customShort("m"), .customLong("milliseconds")], help: "millisecond histogram")
    var milliseconds = false

    @Flag(name: [.customShort("P"), .customLong("pids")], help: "print a histogram per process ID")
    var pids = false

    @Flag(name: [.customShort("L"), .customLong("tids")], help: "print a histogram per thread ID")
    var tids = false

    @Option(name: [.customShort("p"), .customLong("pid")], help: "trace this PID only")
    var pid: Int?

    @Flag(name: [.customShort("I"), .customLong("include-idle")], help: "include CPU idle time")
    var includeIdle = false

    @Flag(name: [.customShort("e"), .customLong("extension")], help: "show extension summary (average/total/count)")
    var extension_ = false

    @Argument(help: "output interval, in seconds")
    var interval: Int = IntervalOutput.forever

    @Argument(help: "number of outputs")
    var count: Int = IntervalOutput.forever

    @OptionGroup var common: CommonOptions

    func validate() throws {
        try validateIntervalCount(interval, count)
        if let pid, pid < 0 { throw ValidationError("--pid must not be negative") }
    }

    static let text = #"""
    typedef struct entry_key {
        u32 pid;
        u32 cpu;
    } entry_key_t;

    typedef struct pid_key {
        u64 id;
        u64 slot;
    } pid_key_t;

    typedef struct ext_val {
        u64 total;
        u64 count;
    } ext_val_t;

    BPF_HASH(start, entry_key_t, u64, MAX_PID);
    STORAGE

    static inline void store_start(u32 tgid, u32 pid, u32 cpu, u64 ts)
    {
        if (PID_FILTER)
            return;

        if (IDLE_FILTER)
            return;

        entry_key_t entry_key = { .pid = pid, .cpu = cpu };
        start.update(&entry_key, &ts);
    }

    static inline void update_hist(u32 tgid, u32 pid, u32 cpu, u64 ts)
    {
        if (PID_FILTER)
            return;

        if (IDLE_FILTER)
            return;

        entry_key_t entry_key = { .pid = pid, .cpu = cpu };
        u64 *tsp = start.lookup(&entry_key);
        if (tsp == 0)
            return;

        if (ts < *tsp) {
            // Probably a clock issue where the recorded on-CPU event had a
            // timestamp later than the recorded off-CPU event, or vice versa.
            return;
        }
        u64 delta = ts - *tsp;
        FACTOR
        STORE
    }

    // prev leaves the CPU, the task tgid/pid comes on
    static __always_inline int cpudist_switch(void *prev, u32 tgid, u32 pid)
    {
        u64 ts = bpf_ktime_get_ns();
        u32 cpu = bpf_get_smp_processor_id();

        u32 prev_pid = bcctools_task_pid(prev);
        u32 prev_tgid = bcctools_task_tgid(prev);
    #ifdef ONCPU
        update_hist(prev_tgid, prev_pid, cpu, ts);
    #else
        store_start(prev_tgid, prev_pid, cpu, ts);
    #endif

    #ifdef ONCPU
        store_start(tgid, pid, cpu, ts);
    #else
        update_hist(tgid, pid, cpu, ts);
    #endif

        return 0;
    }
    """#

    static let kprobeText = #"""

    int sched_switch(struct pt_regs *ctx)
    {
        // finish_task_switch(struct task_struct *prev): current is the task now running
        void *prev = (void *)PT_REGS_PARM1(ctx);
        u64 pid_tgid = bpf_get_current_pid_tgid();
        return cpudist_switch(prev, pid_tgid >> 32, (u32)pid_tgid);
    }
    """#

    static let rawTracepointText = #"""

    int rawtp_sched_switch(struct bpf_raw_tracepoint_args *ctx)
    {
        // TP_PROTO(bool preempt, struct task_struct *prev, struct task_struct *next, ...)
        void *prev = (void *)ctx->args[1];
        void *next = (void *)ctx->args[2];
        return cpudist_switch(prev, bcctools_task_tgid(next), bcctools_task_pid(next));
    }
    """#

    var label: String { milliseconds ? "msecs" : "usecs" }

    func program(_ entry: String) -> String {
        var text = ProgramText(Self.text + entry)
        if !offcpu { text.define("ONCPU") }
        text.replace("PID_FILTER", with: pid.map { "tgid != \($0)" } ?? "0")
        text.replace("IDLE_FILTER", with: includeIdle ? "0" : "pid == 0")
        text.replace("FACTOR", with: milliseconds ? "delta /= 1000000;" : "delta /= 1000;")
        var storage = "", store = ""
        if pids || tids {
            storage += "BPF_HISTOGRAM(dist, pid_key_t, MAX_PID);"
            store += """

                pid_key_t key = {.id = \(tids ? "pid" : "tgid"), .slot = bpf_log2l(delta)};
                dist.increment(key);

                """
        } else {
            storage += "BPF_HISTOGRAM(dist);"
            store += "dist.atomic_increment(bpf_log2l(delta));"
        }
        if extension_ {
            storage += "BPF_ARRAY(extension, ext_val_t, 1);"
            store += """

                u32 index = 0;
                ext_val_t *ext_val = extension.lookup(&index);
                if (ext_val) {
                    lock_xadd(&ext_val->total, delta);
                    lock_xadd(&ext_val->count, 1);
                }

                """
        }
        text.replace("STORAGE", with: storage)
        text.replace("STORE", with: store)
        text.prepend(KernelFields.cHelpers([.tgid, .pid]))
        return text.text
    }

    func paths() -> [AttachPath] {
        [
            AttachPath(.kprobe, targets: "finish_task_switch", program: program(Self.kprobeText)) { b in
                let attached = try b.attachKprobe(eventRe: #"^finish_task_switch$|^finish_task_switch\.isra\.\d$"#, fnName: "sched_switch")
                if attached.isEmpty { throw ToolError("no finish_task_switch function to put a kprobe on") }
            },
            AttachPath(.tracepoint, targets: "raw tracepoint sched_switch", program: program(Self.rawTracepointText)) { b in
                try b.attachRawTracepoint(tp: "sched_switch", fnName: "rawtp_sched_switch")
            },
        ]
    }

    /// Python's `pid_to_comm`: `"<pid> <contents of /proc/<pid>/comm>"` (its newline included, so
    /// a blank line follows the section line, as in Python's output), or the pid alone.
    static func pidToComm(_ pid: Int64) -> String {
        guard let comm = readSmallFile("/proc/\(pid)/comm") else { return String(pid) }
        return "\(pid) \(comm)"
    }

    func run() throws {
        let paths = try common.choose(paths())
        if common.ebpf {
            print(AttachSelection.firstAvailable(paths).program)
            return
        }
        let maxPID = readSmallFile("/proc/sys/kernel/pid_max").flatMap { Int($0.filter { !$0.isWhitespace }) } ?? 32768
        let (b, _) = try AttachSelection.load(tool: "cpudist", paths: paths, cflags: ["-DMAX_PID=\(maxPID)"])
        defer { b.cleanup() }
        emitLine("Tracing \(offcpu ? "off" : "on")-CPU time... Hit Ctrl-C to end.")
        let dist = try b["dist"]
        let ext = extension_ ? try b.arrayTable("extension", value: ExtensionValue.self) : nil
        let label = self.label
        let section = (pids || tids) ? (tids ? "tid" : "pid") : ""
        try IntervalOutput.run(tool: "cpudist", interval: interval, count: count, timestamp: timestamp,
                               maxOutputs: common.maxEvents) {
            emit(try dist.log2HistText(valType: label, sectionHeader: section,
                                       sectionPrintFn: { v in Self.pidToComm(v.int ?? Int64(bitPattern: v.uint ?? 0)) }))
            if let ext {
                let v = try ext.lookup(0) ?? ExtensionValue()
                if let line = IntervalOutput.extensionSummary(total: v.total, count: v.count, label: label) {
                    emit(line)
                }
                try ext.clear()
            }
            try dist.clear()
        }
    }
}

Cpudist.runTool()
