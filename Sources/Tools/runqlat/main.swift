// runqlat: summarize run queue (scheduler) latency as a histogram. A port of bcc's
// tools/runqlat.py (/usr/sbin/runqlat-bpfcc): same flags, histograms and exit behaviour.
//
// Attach paths: the raw tracepoints sched_wakeup, sched_wakeup_new and sched_switch (what the
// Python tool uses where raw tracepoints exist); else kprobes on ttwu_do_wakeup,
// wake_up_new_task and finish_task_switch (its other path). The tasks' pid, tgid, state and
// pid namespace are read at the running kernel's BTF offsets (Python compiles `prev->__state`
// against the headers, wrong where they are another kernel's).
import ArgumentParser
import BCCTools
import Glibc
import SwiftBCC

struct Runqlat: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "runqlat",
        abstract: "Summarize run queue (scheduler) latency as a histogram",
        discussion: """
        examples:
            ./runqlat            # summarize run queue latency as a histogram
            ./runqlat 1 10       # print 1 second summaries, 10 times
            ./runqlat -mT 1      # 1s summaries, milliseconds, and timestamps
            ./runqlat -P         # show each PID separately
            ./runqlat -p 185     # trace PID 185 only
        """)

    @Flag(name: [.customShort("T"), .customLong("timestamp")], help: "include timestamp on output")
    var timestamp = false

    @Flag(name: [.customShort("m"), .customLong("milliseconds")], help: "millisecond histogram")
    var milliseconds = false

    @Flag(name: [.customShort("P"), .customLong("pids")], help: "print a histogram per process ID")
    var pids = false

    @Flag(name: .customLong("pidnss"), help: "print a histogram per PID namespace")
    var pidnss = false

    @Flag(name: [.customShort("L"), .customLong("tids")], help: "print a histogram per thread ID")
    var tids = false

    @Option(name: [.customShort("p"), .customLong("pid")], help: "trace this PID only")
    var pid: Int?

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
    typedef struct pid_key {
        u32 id;
        u64 slot;
    } pid_key_t;

    typedef struct pidns_key {
        u32 id;
        u64 slot;
    } pidns_key_t;

    BPF_HASH(start, u32);
    STORAGE

    // record enqueue timestamp
    static int trace_enqueue(u32 tgid, u32 pid)
    {
        if (FILTER || pid == 0)
            return 0;
        u64 ts = bpf_ktime_get_ns();
        start.update(&pid, &ts);
        return 0;
    }

    // task_active_pid_ns(task)->ns.inum: pid->numbers[pid->level].ns
    static __always_inline unsigned int pid_namespace(void *task)
    {
        void *pid = bcctools_read_ptr(task, RUNQLAT_OFF_TASK_THREAD_PID);
        u32 level = bcctools_read_u32(pid, RUNQLAT_OFF_PID_LEVEL);
        void *ns = bcctools_read_ptr(pid, RUNQLAT_OFF_PID_NUMBERS + (u64)level * RUNQLAT_UPID_SIZE + RUNQLAT_OFF_UPID_NS);
        return ns ? bcctools_read_u32(ns, RUNQLAT_OFF_PIDNS_INUM) : 0;
    }

    // calculate latency: prev is switched out (still runnable: ivcsw), next runs
    static __always_inline int trace_switch(void *prev, u32 next_tgid, u32 next_pid)
    {
        u32 pid, tgid;

        // ivcsw: treat like an enqueue event and store timestamp
        if (RUNQLAT_TASK_STATE(prev) == TASK_RUNNING) {
            tgid = bcctools_task_tgid(prev);
            pid = bcctools_task_pid(prev);
            if (!(FILTER || pid == 0)) {
                u64 ts = bpf_ktime_get_ns();
                start.update(&pid, &ts);
            }
        }

        tgid = next_tgid;
        pid = next_pid;
        if (FILTER || pid == 0)
            return 0;
        u64 *tsp, delta;

        // fetch timestamp and calculate delta
        tsp = start.lookup(&pid);
        if (tsp == 0) {
            return 0;   // missed enqueue
        }
        delta = bpf_ktime_get_ns() - *tsp;
        FACTOR

        // store as histogram
        STORE

        start.delete(&pid);
        return 0;
    }
    """#

    static let rawTracepointText = #"""

    RAW_TRACEPOINT_PROBE(sched_wakeup)
    {
        // TP_PROTO(struct task_struct *p)
        void *p = (void *)ctx->args[0];
        return trace_enqueue(bcctools_task_tgid(p), bcctools_task_pid(p));
    }

    RAW_TRACEPOINT_PROBE(sched_wakeup_new)
    {
        // TP_PROTO(struct task_struct *p)
        void *p = (void *)ctx->args[0];
        return trace_enqueue(bcctools_task_tgid(p), bcctools_task_pid(p));
    }

    RAW_TRACEPOINT_PROBE(sched_switch)
    {
        // TP_PROTO(bool preempt, struct task_struct *prev, struct task_struct *next, ...)
        void *prev = (void *)ctx->args[1];
        void *next = (void *)ctx->args[2];
        return trace_switch(prev, bcctools_task_tgid(next), bcctools_task_pid(next));
    }
    """#

    static let kprobeText = #"""

    int trace_wake_up_new_task(struct pt_regs *ctx)
    {
        void *p = (void *)PT_REGS_PARM1(ctx);
        return trace_enqueue(bcctools_task_tgid(p), bcctools_task_pid(p));
    }

    int trace_ttwu_do_wakeup(struct pt_regs *ctx)
    {
        // ttwu_do_wakeup(struct rq *rq, struct task_struct *p, int wake_flags, ...)
        void *p = (void *)PT_REGS_PARM2(ctx);
        return trace_enqueue(bcctools_task_tgid(p), bcctools_task_pid(p));
    }

    int trace_run(struct pt_regs *ctx)
    {
        // finish_task_switch(struct task_struct *prev): current is the task now running
        void *prev = (void *)PT_REGS_PARM1(ctx);
        u64 id = bpf_get_current_pid_tgid();
        return trace_switch(prev, id >> 32, (u32)id);
    }
    """#

    var label: String { milliseconds ? "msecs" : "usecs" }

    /// The section header Python prints per histogram: "tid", "pid", "pidns" or none.
    var section: String { (pids || tids) ? (tids ? "tid" : "pid") : pidnss ? "pidns" : "" }

    func program(_ entries: String) -> String {
        var text = ProgramText(Self.text + entries)
        text.replace("FILTER", with: pid.map { "tgid != \($0)" } ?? "0")
        text.replace("FACTOR", with: milliseconds ? "delta /= 1000000;" : "delta /= 1000;")
        if pids || tids {
            text.replace("STORAGE", with: "BPF_HISTOGRAM(dist, pid_key_t);")
            text.replace("STORE", with: "pid_key_t key = {.id = \(tids ? "pid" : "tgid"), .slot = bpf_log2l(delta)}; dist.increment(key);")
        } else if pidnss {
            text.replace("STORAGE", with: "BPF_HISTOGRAM(dist, pidns_key_t);")
            // As Python's: the namespace of the task switched out.
            text.replace("STORE", with: "pidns_key_t key = {.id = pid_namespace(prev), .slot = bpf_log2l(delta)}; dist.atomic_increment(key);")
        } else {
            text.replace("STORAGE", with: "BPF_HISTOGRAM(dist);")
            text.replace("STORE", with: "dist.atomic_increment(bpf_log2l(delta));")
        }
        let hasState = StructOffsets.has("task_struct", "__state")
        let stateSize = StructOffsets.btf("task_struct", hasState ? "__state" : "state")?.size ?? (hasState ? 4 : 8)
        let upidSize = StructOffsets.btf("upid", "ns").map { String($0.offset + 8) } ?? "sizeof(struct upid)"
        text.prepend(KernelFields.cHelpers([.tgid, .pid])
            + "#include <linux/nsproxy.h>\n#include <linux/pid_namespace.h>\n"
            + StructOffsets.defines([
                .init("RUNQLAT_OFF_TASK_STATE", "task_struct", hasState ? "__state" : "state"),
                .init("RUNQLAT_OFF_TASK_THREAD_PID", "task_struct", "thread_pid"),
                .init("RUNQLAT_OFF_PID_LEVEL", "pid", "level"),
                .init("RUNQLAT_OFF_PID_NUMBERS", "pid", "numbers"),
                .init("RUNQLAT_OFF_UPID_NS", "upid", "ns"),
                .init("RUNQLAT_OFF_PIDNS_INUM", "pid_namespace", "ns.inum"),
            ])
            + "#define RUNQLAT_UPID_SIZE (\(upidSize))\n"
            + "#define RUNQLAT_TASK_STATE(t) bcctools_read_\(stateSize == 4 ? "u32" : "u64")(t, RUNQLAT_OFF_TASK_STATE)\n")
        return text.text
    }

    func paths() -> [AttachPath] {
        [
            AttachPath(.tracepoint, targets: "raw tracepoints sched_wakeup, sched_wakeup_new, sched_switch",
                       program: program(Self.rawTracepointText)) { _ in },
            AttachPath(.kprobe, targets: "ttwu_do_wakeup, wake_up_new_task, finish_task_switch",
                       program: program(Self.kprobeText)) { b in
                try b.attachKprobe(event: "ttwu_do_wakeup", fnName: "trace_ttwu_do_wakeup")
                try b.attachKprobe(event: "wake_up_new_task", fnName: "trace_wake_up_new_task")
                let attached = try b.attachKprobe(eventRe: #"^finish_task_switch$|^finish_task_switch\.isra\.\d$"#, fnName: "trace_run")
                if attached.isEmpty { throw ToolError("no finish_task_switch function to put a kprobe on") }
            },
        ]
    }

    func run() throws {
        let paths = try common.choose(paths())
        if common.ebpf {
            print(AttachSelection.firstAvailable(paths).program)
            return
        }
        let (b, _) = try AttachSelection.load(tool: "runqlat", paths: paths)
        defer { b.cleanup() }
        emitLine("Tracing run queue latency... Hit Ctrl-C to end.")
        let dist = try b["dist"]
        let label = self.label, section = self.section
        try IntervalOutput.run(tool: "runqlat", interval: interval, count: count, timestamp: timestamp,
                               maxOutputs: common.maxEvents) {
            // Python: section_print_fn=int.
            emit(try dist.log2HistText(valType: label, sectionHeader: section,
                                       sectionPrintFn: { v in v.int.map(String.init) ?? v.uint.map(String.init) ?? v.description }))
            try dist.clear()
        }
    }
}

Runqlat.runTool()
