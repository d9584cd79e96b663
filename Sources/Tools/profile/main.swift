// profile: sample stack traces at a timed interval. A port of bcc's tools/profile.py
// (/usr/sbin/profile-bpfcc): same flags, header, multi-line and folded (-f) output, exit behaviour.
//
// Attach path: a software perf event (PERF_COUNT_SW_CPU_CLOCK) on every CPU, or on -C's, at -F
// Hertz (default 49) or every -c events, as the Python tool's only one.
import ArgumentParser
import BCCTools
import Glibc
import SwiftBCC

/// `1,2,3`: a comma-separated list of non-negative integers (Python's `positive_int_list`).
func positiveIntList(_ text: String) throws -> [Int] {
    try text.split(separator: ",", omittingEmptySubsequences: false).map { part in
        guard let v = Int(part) else { throw ValidationError("must be an integer list: \(text)") }
        guard v >= 0 else { throw ValidationError("must be positive: \(part)") }
        return v
    }
}

struct Profile: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "profile",
        abstract: "Profile CPU stack traces at a timed interval",
        discussion: """
        examples:
            ./profile             # profile stack traces at 49 Hertz until Ctrl-C
            ./profile -F 99       # profile stack traces at 99 Hertz
            ./profile -c 1000000  # profile stack traces every 1 in a million events
            ./profile 5           # profile at 49 Hertz for 5 seconds only
            ./profile -f 5        # output in folded format for flame graphs
            ./profile -p 185      # only profile process with PID 185
            ./profile -L 185      # only profile thread with TID 185
            ./profile -U          # only show user space stacks (no kernel)
            ./profile -K          # only show kernel space stacks (no user)
            ./profile --cgroupmap mappath  # only trace cgroups in this BPF map
            ./profile --mntnsmap mappath   # only trace mount namespaces in the map
        """)

    @Option(name: [.customShort("p"), .customLong("pid")],
            help: "profile process with one or more comma separated PIDs only", transform: positiveIntList)
    var pid: [Int]?

    @Option(name: [.customShort("L"), .customLong("tid")],
            help: "profile thread with one or more comma separated TIDs only", transform: positiveIntList)
    var tid: [Int]?

    @Flag(name: [.customShort("U"), .customLong("user-stacks-only")],
          help: "show stacks from user space only (no kernel space stacks)")
    var userStacksOnly = false

    @Flag(name: [.customShort("K"), .customLong("kernel-stacks-only")],
          help: "show stacks from kernel space only (no user space stacks)")
    var kernelStacksOnly = false

    @Option(name: [.customShort("F"), .customLong("frequency")], help: "sample frequency, Hertz")
    var frequency: Int?

    @Option(name: [.customShort("c"), .customLong("count")], help: "sample period, number of events")
    var count: Int?

    @Flag(name: [.customShort("d"), .customLong("delimited")], help: "insert delimiter between kernel/user stacks")
    var delimited = false

    @Flag(name: [.customShort("a"), .customLong("annotations")], help: "add _[k] annotations to kernel frames")
    var annotations = false

    @Flag(name: [.customShort("I"), .customLong("include-idle")], help: "include CPU idle stacks")
    var includeIdle = false

    @Flag(name: [.customShort("f"), .customLong("folded")],
          help: "output folded format, one line per stack (for flame graphs)")
    var folded = false

    @Option(name: .customLong("stack-storage-size"),
            help: "the number of unique stack traces that can be stored and displayed (default 16384)")
    var stackStorageSize: Int = 16384

    @Argument(help: "duration of trace, in seconds")
    var duration: Int = 99_999_999

    @Option(name: [.customShort("C"), .customLong("cpu")], help: "cpu number to run profile on")
    var cpu: Int = -1

    @Option(name: .customLong("cgroupmap"), help: "trace cgroups in this BPF map only")
    var cgroupmap: String?

    @Option(name: .customLong("mntnsmap"), help: "trace mount namespaces in this BPF map only")
    var mntnsmap: String?

    @OptionGroup var common: CommonOptions

    func validate() throws {
        if pid != nil && tid != nil { throw ValidationError("argument -L/--tid: not allowed with argument -p/--pid") }
        if userStacksOnly && kernelStacksOnly {
            throw ValidationError("argument -K/--kernel-stacks-only: not allowed with argument -U/--user-stacks-only")
        }
        if frequency != nil && count != nil { throw ValidationError("argument -c/--count: not allowed with argument -F/--frequency") }
        if let frequency, frequency < 0 { throw ValidationError("argument -F/--frequency: must be positive") }
        if let count, count < 0 { throw ValidationError("argument -c/--count: must be positive") }
        if stackStorageSize < 1 { throw ValidationError("argument --stack-storage-size: must be nonzero") }
        if duration < 1 { throw ValidationError("argument duration: must be nonzero") }
        if cpu < -1 { throw ValidationError("argument -C/--cpu: a CPU number, or -1 for all CPUs") }
    }

    var style: StackStyle {
        StackStyle(userOnly: userStacksOnly, kernelOnly: kernelStacksOnly, delimited: delimited,
                   annotations: annotations, folded: folded)
    }

    static let text = #"""
    #include <uapi/linux/ptrace.h>
    #include <uapi/linux/bpf_perf_event.h>
    #include <linux/sched.h>

    struct key_t {
        u32 pid;
        u64 kernel_ip;
        int user_stack_id;
        int kernel_stack_id;
        char name[TASK_COMM_LEN];
    };
    BPF_HASH(counts, struct key_t);
    BPF_STACK_TRACE(stack_traces, STACK_STORAGE_SIZE);

    int do_perf_event(struct bpf_perf_event_data *ctx) {
        u64 id = bpf_get_current_pid_tgid();
        u32 tgid = id >> 32;
        u32 pid = id;

        if (IDLE_FILTER)
            return 0;
        if (!(THREAD_FILTER))
            return 0;
        if (container_should_be_filtered())
            return 0;

        struct key_t key = {.pid = tgid};
        bpf_get_current_comm(&key.name, sizeof(key.name));
        key.user_stack_id = USER_STACK_GET;
        key.kernel_stack_id = KERNEL_STACK_GET;

        if (key.kernel_stack_id >= 0) {
            // The sampled instruction itself, when it is a kernel address (the kernel stack
            // starts at its caller).
            u64 ip = PT_REGS_IP(&ctx->regs);
            u64 page_offset;
    #if defined(CONFIG_X86_64) && defined(__PAGE_OFFSET_BASE)
            page_offset = __PAGE_OFFSET_BASE;
    #elif defined(CONFIG_X86_64) && defined(__PAGE_OFFSET_BASE_L4)
    #if defined(CONFIG_DYNAMIC_MEMORY_LAYOUT) && defined(CONFIG_X86_5LEVEL)
            page_offset = __PAGE_OFFSET_BASE_L5;
    #else
            page_offset = __PAGE_OFFSET_BASE_L4;
    #endif
    #else
            page_offset = PAGE_OFFSET;
    #endif
            if (ip > page_offset)
                key.kernel_ip = ip;
        }

        counts.increment(key);
        return 0;
    }
    """#

    func program() throws -> String {
        var text = ProgramText(Self.text)
        text.replace("IDLE_FILTER", with: includeIdle ? "0" : "pid == 0")
        if let pid {
            text.replace("THREAD_FILTER", with: pid.map { "tgid == \($0)" }.joined(separator: " || "))
        } else if let tid {
            text.replace("THREAD_FILTER", with: tid.map { "pid == \($0)" }.joined(separator: " || "))
        } else {
            text.replace("THREAD_FILTER", with: "1")
        }
        text.replace("STACK_STORAGE_SIZE", with: String(stackStorageSize))
        let gets = style.stackGets(ctx: "&ctx->regs")
        text.replace("USER_STACK_GET", with: gets.user)
        text.replace("KERNEL_STACK_GET", with: gets.kernel)
        text.prepend(try Containers.filterText(cgroupMap: cgroupmap, mountNamespaceMap: mntnsmap))
        return text.text
    }

    struct Key: BitwiseCopyable {
        var pid: UInt32
        var kernelIP: UInt64
        var userStackID: Int32
        var kernelStackID: Int32
        var name: InlineArray<16, CChar>
    }

    /// Python's `-F 0` and `-c 0` mean "not given": 49 Hertz.
    var sampling: (freq: UInt64, period: UInt64) {
        if let frequency, frequency > 0 { return (UInt64(frequency), 0) }
        if let count, count > 0 { return (0, UInt64(count)) }
        return (49, 0)
    }

    var header: String {
        let s = sampling
        let sample = s.freq > 0 ? "\(s.freq) Hertz" : "every \(s.period) events"
        let thread = pid.map { "PID [\($0.map(String.init).joined(separator: ", "))]" }
            ?? tid.map { "TID [\($0.map(String.init).joined(separator: ", "))]" } ?? "all threads"
        var line = "Sampling at \(sample) of \(thread) by \(style.context) stack"
        if cpu >= 0 { line += " on CPU#\(cpu)" }
        line += duration < 99_999_999 ? " for \(duration) secs." : "... Hit Ctrl-C to end."
        return line
    }

    func run() throws {
        let s = sampling
        let cpuNumber = Int32(cpu)
        let text = try program()
        if common.ebpf {
            if !folded { emitLine(header) }
            print(text)
            return
        }
        if let attach = common.attach {
            throw ToolError("--attach \(attach.rawValue): profile has one attach path, a software perf event (cpu-clock).")
        }
        let b = try BPF(text: text)
        defer { b.cleanup() }
        try b.attachPerfEvent(evType: PerfType.software, evConfig: PerfSWConfig.cpuClock, fnName: "do_perf_event",
                              samplePeriod: s.period, sampleFreq: s.freq, cpu: cpuNumber)
        if !folded { emitLine(header) }

        let session = ToolSession(tool: "profile", duration: Double(duration), maxEvents: common.maxEvents)
        session.sleep(Double(duration))
        if !folded { emitLine("") }
        try printSummary(b, session: session)
    }

    func printSummary(_ b: BPF, session: ToolSession) throws {
        let style = self.style
        let counts = try b.hashTable("counts", key: Key.self, value: UInt64.self)
        let stacks = try b["stack_traces"]
        var missing = 0
        var collision = false
        for (k, v) in sortedByValue(try counts.items()) {
            let record = StackRecord(
                comm: cText(k.name), pid: k.pid, userStackID: k.userStackID, kernelStackID: k.kernelStackID,
                user: try StackIDs.frames(stacks, k.userStackID).map { b.sym($0, pid: Int32(bitPattern: k.pid)) },
                kernel: k.kernelStackID < 0 ? [] :
                    ((k.kernelIP != 0 ? [k.kernelIP] : []) + (try StackIDs.frames(stacks, k.kernelStackID))).map { b.ksym($0) },
                value: v)
            let lost = style.missing(record)
            missing += lost.count
            collision = collision || lost.contains(-EEXIST)
            for line in style.lines(record) {
                if session.maxEvents.map({ session.rows >= $0 }) ?? false { break }
                session.row(line)
            }
        }
        if missing > 0 {
            warn("WARNING: \(missing) stack traces could not be displayed." + (collision ? " Consider increasing --stack-storage-size." : ""))
        }
    }
}

Profile.runTool()
