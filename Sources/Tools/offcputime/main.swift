// offcputime: summarize off-CPU time by stack trace. A port of bcc's tools/offcputime.py
// (/usr/sbin/offcputime-bpfcc): same flags, header, multi-line and folded (-f) output, exit behaviour.
//
// Attach paths, in the order tried: a kprobe on finish_task_switch (Python's only one: it runs
// on the CPU the next task starts on, reads `prev` and the current task's stack); the
// sched:sched_switch tracepoint, which runs in the task going off CPU: its stack ids and comm
// are stored with its start time and counted when it is switched back in. The task fields
// (pid, tgid, flags, state) are read at the running kernel's BTF offsets.
import ArgumentParser
import BCCTools
import Glibc
import SwiftBCC

struct Offcputime: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "offcputime",
        abstract: "Summarize off-CPU time by stack trace",
        discussion: """
        examples:
            ./offcputime             # trace off-CPU stack time until Ctrl-C
            ./offcputime 5           # trace for 5 seconds only
            ./offcputime -f 5        # 5 seconds, and output in folded format
            ./offcputime -m 1000     # trace only events that last more than 1000 usec
            ./offcputime -M 10000    # trace only events that last less than 10000 usec
            ./offcputime -p 185      # only trace threads for PID 185
            ./offcputime -t 188      # only trace thread 188
            ./offcputime -u          # only trace user threads (no kernel)
            ./offcputime -k          # only trace kernel threads (no user)
            ./offcputime -U          # only show user space stacks (no kernel)
            ./offcputime -K          # only show kernel space stacks (no user)
        """)

    @Option(name: [.customShort("p"), .customLong("pid")], help: "trace this PID only")
    var pid: Int?

    @Option(name: [.customShort("t"), .customLong("tid")], help: "trace this TID only")
    var tid: Int?

    @Flag(name: [.customShort("u"), .customLong("user-threads-only")], help: "user threads only (no kernel threads)")
    var userThreadsOnly = false

    @Flag(name: [.customShort("k"), .customLong("kernel-threads-only")], help: "kernel threads only (no user threads)")
    var kernelThreadsOnly = false

    @Flag(name: [.customShort("U"), .customLong("user-stacks-only")],
          help: "show stacks from user space only (no kernel space stacks)")
    var userStacksOnly = false

    @Flag(name: [.customShort("K"), .customLong("kernel-stacks-only")],
          help: "show stacks from kernel space only (no user space stacks)")
    var kernelStacksOnly = false

    @Flag(name: [.customShort("d"), .customLong("delimited")], help: "insert delimiter between kernel/user stacks")
    var delimited = false

    @Flag(name: [.customShort("f"), .customLong("folded")], help: "output folded format")
    var folded = false

    @Option(name: .customLong("stack-storage-size"),
            help: "the number of unique stack traces that can be stored and displayed (default 1024)")
    var stackStorageSize: Int = 1024

    @Argument(help: "duration of trace, in seconds")
    var duration: Int = 99_999_999

    @Option(name: [.customShort("m"), .customLong("min-block-time")],
            help: "the amount of time in microseconds over which we store traces (default 1)")
    var minBlockTime: UInt64 = 1

    @Option(name: [.customShort("M"), .customLong("max-block-time")],
            help: "the amount of time in microseconds under which we store traces (default U64_MAX)")
    var maxBlockTime: UInt64 = UInt64.max

    @Option(name: .customLong("state"),
            help: "filter on this thread state bitmask (eg, 2 == TASK_UNINTERRUPTIBLE) see include/linux/sched.h")
    var state: UInt32?

    @OptionGroup var common: CommonOptions

    func validate() throws {
        let threadOptions = [pid != nil, tid != nil, userThreadsOnly, kernelThreadsOnly].filter { $0 }.count
        if threadOptions > 1 {
            throw ValidationError("-p/--pid, -t/--tid, -u/--user-threads-only and -k/--kernel-threads-only are mutually exclusive")
        }
        if userStacksOnly && kernelStacksOnly {
            throw ValidationError("argument -K/--kernel-stacks-only: not allowed with argument -U/--user-stacks-only")
        }
        if let pid, pid < 0 { throw ValidationError("argument -p/--pid: must be positive") }
        if let tid, tid < 0 { throw ValidationError("argument -t/--tid: must be positive") }
        if stackStorageSize < 1 { throw ValidationError("argument --stack-storage-size: must be nonzero") }
        if duration < 1 { throw ValidationError("argument duration: must be nonzero") }
        if minBlockTime < 1 { throw ValidationError("argument -m/--min-block-time: must be nonzero") }
        if maxBlockTime < 1 { throw ValidationError("argument -M/--max-block-time: must be nonzero") }
    }

    var style: StackStyle {
        StackStyle(userOnly: userStacksOnly, kernelOnly: kernelStacksOnly, delimited: delimited, folded: folded)
    }

    /// Declarations both paths share, and the helpers that read `task_struct`'s flags and state
    /// at BTF offsets (`__state` on 5.14 and later, `state` before).
    static let sharedText = #"""
    struct key_t {
        u32 pid;
        u32 tgid;
        int user_stack_id;
        int kernel_stack_id;
        char name[TASK_COMM_LEN];
    };
    BPF_HASH(counts, struct key_t);
    BPF_STACK_TRACE(stack_traces, STACK_STORAGE_SIZE);

    struct warn_event_t {
        u32 pid;
        u32 tgid;
        u32 t_start;
        u32 t_end;
    };
    BPF_PERF_OUTPUT(warn_events);

    #define MINBLOCK_US MINBLOCK_US_VALUEULL
    #define MAXBLOCK_US MAXBLOCK_US_VALUEULL

    static __always_inline u32 offcpu_task_flags(void *task) {
        return bcctools_read_u32(task, OFFCPU_OFF_TASK_FLAGS);
    }
    static __always_inline u64 offcpu_task_state(void *task) {
        return OFFCPU_READ_STATE(task, OFFCPU_OFF_TASK_STATE);
    }

    // Counts `delta_ns` for `key` unless out of the -m/-M range; warns about a negative one.
    static __always_inline int offcpu_account(void *ctx, struct key_t *key, u64 t_start, u64 t_end) {
        if (t_start > t_end) {
            struct warn_event_t event = {
                .pid = key->pid,
                .tgid = key->tgid,
                .t_start = t_start,
                .t_end = t_end,
            };
            warn_events.perf_submit(ctx, &event, sizeof(event));
            return 0;
        }
        u64 delta = (t_end - t_start) / 1000;
        if ((delta < MINBLOCK_US) || (delta > MAXBLOCK_US))
            return 0;
        counts.increment(*key, delta);
        return 0;
    }
    """#

    /// finish_task_switch(prev): runs in the task being switched in, whose stack is the one
    /// it went off CPU with.
    static let kprobeText = #"""
    BPF_HASH(start, u32);

    int oncpu(struct pt_regs *ctx, struct task_struct *prev) {
        void *task = (void *)prev;
        u32 pid = bcctools_task_pid(task);
        u32 tgid = bcctools_task_tgid(task);
        u64 ts, *tsp;

        if ((THREAD_FILTER) && (STATE_FILTER)) {
            ts = bpf_ktime_get_ns();
            start.update(&pid, &ts);
        }

        pid = bpf_get_current_pid_tgid();
        tgid = bpf_get_current_pid_tgid() >> 32;
        tsp = start.lookup(&pid);
        if (tsp == 0)
            return 0;
        u64 t_start = *tsp;
        u64 t_end = bpf_ktime_get_ns();
        start.delete(&pid);

        struct key_t key = {};
        key.pid = pid;
        key.tgid = tgid;
        key.user_stack_id = USER_STACK_GET;
        key.kernel_stack_id = KERNEL_STACK_GET;
        bpf_get_current_comm(&key.name, sizeof(key.name));
        return offcpu_account(ctx, &key, t_start, t_end);
    }
    """#

    /// sched_switch: runs in the task going off CPU (`prev`); its stacks and comm are taken now
    /// and counted when `next_pid` of a later switch is that task.
    static let tracepointText = #"""
    struct start_t {
        u64 ts;
        struct key_t key;
    };
    BPF_HASH(start, u32, struct start_t);

    TRACEPOINT_PROBE(sched, sched_switch) {
        void *task = (void *)bpf_get_current_task();
        u64 id = bpf_get_current_pid_tgid();
        u32 pid = id;
        u32 tgid = id >> 32;

        if ((THREAD_FILTER) && (STATE_FILTER)) {
            struct start_t s = {};
            s.ts = bpf_ktime_get_ns();
            s.key.pid = pid;
            s.key.tgid = tgid;
            s.key.user_stack_id = USER_STACK_GET;
            s.key.kernel_stack_id = KERNEL_STACK_GET;
            bpf_get_current_comm(&s.key.name, sizeof(s.key.name));
            start.update(&pid, &s);
        }

        u32 next = args->next_pid;
        struct start_t *sp = start.lookup(&next);
        if (sp == 0)
            return 0;
        u64 t_start = sp->ts;
        struct key_t key = sp->key;
        start.delete(&next);
        return offcpu_account(args, &key, t_start, bpf_ktime_get_ns());
    }
    """#

    /// `task_struct`'s flags and state offsets (and how to read the state) from BTF, else the headers.
    static var taskOffsets: String {
        let btf = KernelBTF.vmlinux
        let flags = btf?.memberOffset("task_struct", "flags").map { String($0.offset) } ?? "offsetof(struct task_struct, flags)"
        let state: String
        let read: String
        if let btf, let m = btf.memberOffset("task_struct", "__state") ?? btf.memberOffset("task_struct", "state") {
            state = String(m.offset)
            read = m.size == 8 ? "bcctools_read_u64" : "bcctools_read_u32"
        } else {
            state = "offsetof(struct task_struct, __state)"
            read = "bcctools_read_u32"
        }
        return "#define OFFCPU_OFF_TASK_FLAGS (\(flags))\n#define OFFCPU_OFF_TASK_STATE (\(state))\n"
            + "#define OFFCPU_READ_STATE \(read)\n"
    }

    func program(_ body: String) -> String {
        var text = ProgramText("#include <uapi/linux/ptrace.h>\n#include <linux/sched.h>\n"
            + KernelFields.cHelpers([.pid, .tgid]) + Self.taskOffsets + Self.sharedText + body)
        let thread: String
        if let pid {
            thread = "tgid == \(pid)"
        } else if let tid {
            thread = "pid == \(tid)"
        } else if userThreadsOnly {
            thread = "!(offcpu_task_flags(task) & PF_KTHREAD)"
        } else if kernelThreadsOnly {
            thread = "offcpu_task_flags(task) & PF_KTHREAD"
        } else {
            thread = "1"
        }
        text.replace("THREAD_FILTER", with: thread)
        if let state {
            text.replace("STATE_FILTER", with: state == 0 ? "offcpu_task_state(task) == 0" : "offcpu_task_state(task) & \(state)")
        } else {
            text.replace("STATE_FILTER", with: "1")
        }
        text.replace("STACK_STORAGE_SIZE", with: String(stackStorageSize))
        text.replace("MINBLOCK_US_VALUE", with: String(minBlockTime))
        text.replace("MAXBLOCK_US_VALUE", with: String(maxBlockTime))
        let gets = style.stackGets(ctx: body == Self.kprobeText ? "ctx" : "args")
        text.replace("USER_STACK_GET", with: gets.user)
        text.replace("KERNEL_STACK_GET", with: gets.kernel)
        return text.text
    }

    static let kprobeRe = #"^finish_task_switch$|^finish_task_switch\.isra\.\d$"#

    var paths: [AttachPath] {
        [
            AttachPath(.kprobe, targets: "finish_task_switch", program: program(Self.kprobeText)) { b in
                try b.attachKprobe(eventRe: Self.kprobeRe, fnName: "oncpu")
            },
            AttachPath(.tracepoint, targets: "sched:sched_switch", program: program(Self.tracepointText)) { _ in },
        ]
    }

    struct Key: BitwiseCopyable {
        var pid: UInt32
        var tgid: UInt32
        var userStackID: Int32
        var kernelStackID: Int32
        var name: InlineArray<16, CChar>
    }

    struct WarnEvent: BitwiseCopyable {
        var pid: UInt32
        var tgid: UInt32
        var tStart: UInt32
        var tEnd: UInt32
    }

    var header: String {
        let thread = pid.map { "PID \($0)" } ?? tid.map { "TID \($0)" }
            ?? (userThreadsOnly ? "user threads" : kernelThreadsOnly ? "kernel threads" : "all threads")
        return "Tracing off-CPU time (us) of \(thread) by \(style.context) stack"
            + (duration < 99_999_999 ? " for \(duration) secs." : "... Hit Ctrl-C to end.")
    }

    func run() throws {
        if kernelThreadsOnly && userStacksOnly {
            warn("ERROR: Displaying user stacks for kernel threads doesn't make sense.")
            throw ExitCode(2)
        }
        let paths = try common.choose(self.paths)
        if common.ebpf {
            print(AttachSelection.firstAvailable(paths).program)
            return
        }
        let (b, _) = try AttachSelection.load(tool: "offcputime", paths: paths)
        defer { b.cleanup() }
        if !folded { emitLine(header) }

        try b["warn_events"].openPerfBuffer(of: WarnEvent.self) { _, e in
            warn("WARN: Skipped an event with negative duration: pid:\(e.pid), tgid:\(e.tgid), off-cpu:\(e.tStart), on-cpu:\(e.tEnd)")
        }
        let session = ToolSession(tool: "offcputime", duration: Double(duration), maxEvents: common.maxEvents)
        try session.pollLoop(b)
        if !folded { emitLine("") }
        try printSummary(b, session: session)
    }

    func printSummary(_ b: BPF, session: ToolSession) throws {
        let style = self.style
        let counts = try b.hashTable("counts", key: Key.self, value: UInt64.self)
        let stacks = try b["stack_traces"]
        var missing = 0
        var enomem = false
        for (k, v) in sortedByValue(try counts.items()) {
            // User stacks are symbolized by tgid (one symbol cache per process, not per thread).
            let record = StackRecord(
                comm: cText(k.name), pid: k.pid, userStackID: k.userStackID, kernelStackID: k.kernelStackID,
                user: try StackIDs.frames(stacks, k.userStackID).map { b.sym($0, pid: Int32(bitPattern: k.tgid)) },
                kernel: try StackIDs.frames(stacks, k.kernelStackID).map { b.ksym($0) },
                value: v)
            let lost = style.missing(record)
            missing += lost.count
            enomem = enomem || lost.contains(-ENOMEM)
            for line in style.lines(record) {
                if session.maxEvents.map({ session.rows >= $0 }) ?? false { break }
                session.row(line)
            }
        }
        if missing > 0 {
            warn("WARNING: \(missing) stack traces lost and could not be displayed."
                + (enomem ? " Consider increasing --stack-storage-size." : ""))
        }
    }
}

Offcputime.runTool()
