// execsnoop: trace new processes via exec() syscalls. A port of bcc's tools/execsnoop.py
// (/usr/sbin/execsnoop-bpfcc): same flags, header and rows.
//
// Attach paths: kprobe + kretprobe on the execve syscall function (the Python tool's), else the
// syscalls:sys_enter_execve / sys_exit_execve tracepoints. The PPID is read at the running
// kernel's BTF offsets (KernelFields), so it is right even with another kernel's headers.
// Events go through a BPF ring buffer where only an exec's return record wakes the reader (Linux
// 5.8+; one wakeup per exec, Python's perf buffer takes one per argument too), else a perf buffer.
import ArgumentParser
import BCCTools
import Glibc
import SwiftBCC

struct Execsnoop: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "execsnoop",
        abstract: "Trace exec() syscalls",
        discussion: """
        examples:
            ./execsnoop                      # trace all exec() syscalls
            ./execsnoop -x                   # include failed exec()s
            ./execsnoop -T                   # include time (HH:MM:SS)
            ./execsnoop -P 181               # only trace new processes whose parent PID is 181
            ./execsnoop -U                   # include UID
            ./execsnoop -u 1000              # only trace UID 1000
            ./execsnoop -u user              # get user UID and trace only them
            ./execsnoop -t                   # include timestamps
            ./execsnoop -q                   # add "quotemarks" around arguments
            ./execsnoop -n main              # only print command lines containing "main"
            ./execsnoop -l tpkg              # only print command where arguments contains "tpkg"
            ./execsnoop --cgroupmap mappath  # only trace cgroups in this BPF map
            ./execsnoop --mntnsmap mappath   # only trace mount namespaces in the map
        """)

    @Flag(name: [.customShort("T"), .customLong("time")], help: "include time column on output (HH:MM:SS)")
    var time = false

    @Flag(name: [.customShort("t"), .customLong("timestamp")], help: "include timestamp on output")
    var timestamp = false

    @Flag(name: [.customShort("x"), .customLong("fails")], help: "include failed exec()s")
    var fails = false

    @Option(name: .customLong("cgroupmap"), help: "trace cgroups in this BPF map only")
    var cgroupmap: String?

    @Option(name: .customLong("mntnsmap"), help: "trace mount namespaces in this BPF map only")
    var mntnsmap: String?

    @Option(name: [.customShort("u"), .customLong("uid")], help: ArgumentHelp("trace this UID only", valueName: "USER"),
            transform: { text in
                guard let uid = parseUID(text) else { throw ValidationError("'\(text)' is not valid UID or user entry") }
                return uid
            })
    var uid: Int?

    @Flag(name: [.customShort("q"), .customLong("quote")], help: "Add quotemarks (\") around arguments.")
    var quote = false

    @Option(name: [.customShort("n"), .customLong("name")], help: "only print commands matching this name (regex), any arg")
    var name: String?

    @Option(name: [.customShort("l"), .customLong("line")], help: "only print commands where arg contains this line (regex)")
    var line: String?

    @Flag(name: [.customShort("U"), .customLong("print-uid")], help: "print UID column")
    var printUID = false

    @Option(name: .customLong("max-args"), help: "maximum number of arguments parsed and displayed, defaults to 20")
    var maxArgs: Int = 20

    @Option(name: [.customShort("P"), .customLong("ppid")], help: "trace this parent PID only")
    var ppid: Int?

    /// `--perf-buffer` (hidden): a perf buffer even where ring buffers work, as Python's tool
    /// (a wakeup per argument record as well as per exec).
    @Flag(name: .customLong("perf-buffer"), help: .hidden)
    var perfBuffer = false

    @OptionGroup var common: CommonOptions

    func validate() throws {
        if maxArgs < 1 { throw ValidationError("--max-args must be at least 1") }
        if let name { _ = try regex(name, "--name") }
        if let line { _ = try regex(line, "--line") }
    }

    func regex(_ pattern: String, _ option: String) throws -> Regex<AnyRegexOutput> {
        do { return try Regex(pattern) } catch { throw ValidationError("\(option): invalid regular expression: \(pattern)") }
    }

    static let common = #"""
    #include <uapi/linux/ptrace.h>
    #include <linux/sched.h>
    #include <linux/fs.h>

    #define ARGSIZE  128

    enum event_type {
        EVENT_ARG,
        EVENT_RET,
    };

    struct data_t {
        u32 pid;  // PID as in the userspace term (i.e. task->tgid in kernel)
        u32 ppid; // Parent PID as in the userspace term (i.e task->real_parent->tgid in kernel)
        u32 uid;
        char comm[TASK_COMM_LEN];
        enum event_type type;
        char argv[ARGSIZE];
        int retval;
    };

    EVENTS_OUTPUT

    static int __submit_arg(void *ctx, void *ptr, struct data_t *data)
    {
        bpf_probe_read_user(data->argv, sizeof(data->argv), ptr);
        SUBMIT_ARG(data);
        return 1;
    }

    static int submit_arg(void *ctx, void *ptr, struct data_t *data)
    {
        const char *argp = NULL;
        bpf_probe_read_user(&argp, sizeof(argp), ptr);
        if (argp) {
            return __submit_arg(ctx, (void *)(argp), data);
        }
        return 0;
    }

    static __always_inline int execsnoop_enter(void *ctx, const char __user *filename,
                                               const char __user *const __user *__argv)
    {
        u32 uid = bpf_get_current_uid_gid() & 0xffffffff;

        UID_FILTER

        if (container_should_be_filtered()) {
            return 0;
        }

        // create data here and pass to submit_arg to save stack space (#555)
        struct data_t data = {};
        data.pid = bpf_get_current_pid_tgid() >> 32;
        data.ppid = bcctools_task_ppid((void *)bpf_get_current_task());

        PPID_FILTER

        bpf_get_current_comm(&data.comm, sizeof(data.comm));
        data.type = EVENT_ARG;

        __submit_arg(ctx, (void *)filename, &data);

        // skip first arg, as we submitted filename
        #pragma unroll
        for (int i = 1; i < MAXARG; i++) {
            if (submit_arg(ctx, (void *)&__argv[i], &data) == 0)
                 goto out;
        }

        // handle truncated argument list (copied, not read with bpf_probe_read_user: the
        // string is on the BPF stack, and reading it as user memory fails on current kernels)
        __builtin_memcpy(data.argv, "...", 4);
        SUBMIT_ARG(&data);
    out:
        return 0;
    }

    static __always_inline int execsnoop_return(void *ctx, int ret)
    {
        if (container_should_be_filtered()) {
            return 0;
        }

        struct data_t data = {};
        u32 uid = bpf_get_current_uid_gid() & 0xffffffff;
        UID_FILTER

        data.pid = bpf_get_current_pid_tgid() >> 32;
        data.uid = uid;
        data.ppid = bcctools_task_ppid((void *)bpf_get_current_task());

        PPID_FILTER

        bpf_get_current_comm(&data.comm, sizeof(data.comm));
        data.type = EVENT_RET;
        data.retval = ret;
        SUBMIT_RET(&data);

        return 0;
    }

    """#

    static let kprobeText = #"""
    int syscall__execve(struct pt_regs *ctx,
        const char __user *filename,
        const char __user *const __user *__argv,
        const char __user *const __user *__envp)
    {
        return execsnoop_enter(ctx, filename, __argv);
    }

    int do_ret_sys_execve(struct pt_regs *ctx)
    {
        return execsnoop_return(ctx, PT_REGS_RC(ctx));
    }
    """#

    static let tracepointText = #"""
    TRACEPOINT_PROBE(syscalls, sys_enter_execve)
    {
        return execsnoop_enter(args, (const char __user *)args->filename,
                               (const char __user *const __user *)args->argv);
    }

    TRACEPOINT_PROBE(syscalls, sys_exit_execve)
    {
        return execsnoop_return(args, args->ret);
    }
    """#

    /// The program with `variant`'s probes. With `ringBuffer` its events go to a BPF ring
    /// buffer in which only an exec's return record wakes the reader (its argument records,
    /// written before it, do not): one wakeup per exec where a perf buffer (Python's) takes
    /// one per argument too. Without, the perf buffer Python's tool uses.
    func program(_ variant: String, ringBuffer: Bool) throws -> String {
        var text = ProgramText(Self.common + variant)
        if ringBuffer {
            text.replace("EVENTS_OUTPUT", with: "BPF_RINGBUF_OUTPUT(events, \(Self.ringPages));")
            text.replace("SUBMIT_ARG(data);", with: "events.ringbuf_output(data, sizeof(struct data_t), BPF_RB_NO_WAKEUP);")
            text.replace("SUBMIT_ARG(&data);", with: "events.ringbuf_output(&data, sizeof(data), BPF_RB_NO_WAKEUP);")
            text.replace("SUBMIT_RET(&data);", with: "events.ringbuf_output(&data, sizeof(data), BPF_RB_FORCE_WAKEUP);")
        } else {
            text.replace("EVENTS_OUTPUT", with: "BPF_PERF_OUTPUT(events);")
            text.replace("SUBMIT_ARG(data);", with: "events.perf_submit(ctx, data, sizeof(struct data_t));")
            text.replace("SUBMIT_ARG(&data);", with: "events.perf_submit(ctx, &data, sizeof(data));")
            text.replace("SUBMIT_RET(&data);", with: "events.perf_submit(ctx, &data, sizeof(data));")
        }
        text.replace("MAXARG", with: String(maxArgs))
        text.filter("UID_FILTER", skipIf: uid.map { "uid != \($0)" })
        text.filter("PPID_FILTER", skipIf: ppid.map { "data.ppid != \($0)" })
        text.prepend(try Containers.filterText(cgroupMap: cgroupmap, mountNamespaceMap: mntnsmap))
        text.prepend(KernelFields.cHelpers([.ppid]))
        return text.text
    }

    struct Event: BitwiseCopyable {
        var pid: UInt32
        var ppid: UInt32
        var uid: UInt32
        var comm: InlineArray<16, CChar>
        var type: Int32
        var argv: InlineArray<128, CChar>
        var retval: Int32
    }

    /// The ring buffer's size in pages (shared by all CPUs; the perf buffer has 64 per CPU).
    static let ringPages = 128

    func run() throws {
        let syscall = BPF.getSyscallPrefix() + "execve"
        let ring = !perfBuffer && FeatureSupport.ringBufferMaps.isSupported
        let paths = [
            AttachPath(.kprobe, targets: "\(syscall) entry and return", program: try program(Self.kprobeText, ringBuffer: ring)) { b in
                try b.attachKprobe(event: syscall, fnName: "syscall__execve")
                try b.attachKretprobe(event: syscall, fnName: "do_ret_sys_execve")
            },
            AttachPath(.tracepoint, targets: "syscalls:sys_enter_execve, syscalls:sys_exit_execve",
                       program: try program(Self.tracepointText, ringBuffer: ring)) { _ in },
        ]
        if common.ebpf {
            print(AttachSelection.firstAvailable(try common.choose(paths)).program)
            return
        }
        let (b, _) = try AttachSelection.load(tool: "execsnoop", paths: try common.choose(paths))
        let nameRegex = try name.map { try regex($0, "--name") }
        let lineRegex = try line.map { try regex($0, "--line") }

        var header = ""
        if time { header += pad("TIME", 9) }
        if timestamp { header += pad("TIME(s)", 8) }
        if printUID { header += pad("UID", 6) }
        header += "\(pad("PCOMM", 16)) \(pad("PID", 7)) \(pad("PPID", 7)) \(padLeft("RET", 3)) ARGS"

        let session = ToolSession(tool: "execsnoop", maxEvents: common.maxEvents)
        let start = TimeFormat.wallSeconds()
        var argv: [UInt32: [String]] = [:]
        // The options as locals: an ArgumentParser property read costs microseconds (generic
        // metadata on every access), too much for once per event.
        let time = self.time
        let timestamp = self.timestamp
        let fails = self.fails
        let quote = self.quote
        let printUID = self.printUID
        let onEvent = { (event: Event) in
            if event.type == 0 {
                argv[event.pid, default: []].append(cText(event.argv))
                return
            }
            defer { argv[event.pid] = nil }
            var args = argv[event.pid] ?? []
            var skip = event.retval != 0 && !fails
            if let nameRegex, cText(event.comm).firstMatch(of: nameRegex) == nil { skip = true }
            if let lineRegex, args.joined(separator: " ").firstMatch(of: lineRegex) == nil { skip = true }
            if quote { args = args.map { "\"" + $0.replacing("\"", with: "\\\"") + "\"" } }
            guard !skip else { return }
            let ppid = event.ppid > 0 ? Int(event.ppid) : Self.procPPID(event.pid)
            session.row { r in
                if time { r.left(9) { $0.clock() } }
                if timestamp { r.append(cformat("%-8.3f", TimeFormat.wallSeconds() - start)) }
                if printUID { r.left(6) { $0.decimal(UInt64(event.uid)) } }
                r.left(16) { $0.cString(event.comm) }; r.space()
                r.left(7) { $0.decimal(UInt64(event.pid)) }; r.space()
                r.left(7) { if ppid > 0 { $0.decimal(UInt64(ppid)) } else { $0.byte(UInt8(ascii: "?")) } }; r.space()
                r.right(3) { $0.decimal(signed: Int64(event.retval)) }; r.space()
                for (i, arg) in args.enumerated() {
                    if i > 0 { r.space() }
                    r.append(arg.contains("\n") ? arg.replacing("\n", with: "\\n") : arg)
                }
            }
        }
        if ring {
            try b["events"].openRingBuffer(of: Event.self, callback: onEvent)
        } else {
            try b["events"].openPerfBuffer(of: Event.self, pageCount: 64) { _, event in onEvent(event) }
        }
        try session.pollLoop(b, header: header)
        b.cleanup()
    }

    /// The PPid line of /proc/<pid>/status (the Python tool's fallback when the kernel gave 0).
    static func procPPID(_ pid: UInt32) -> Int {
        guard let status = readSmallFile("/proc/\(pid)/status") else { return 0 }
        for line in status.split(separator: "\n") where line.hasPrefix("PPid:") {
            return Int(line.dropFirst(5).filter { !$0.isWhitespace }) ?? 0
        }
        return 0
    }
}

Execsnoop.runTool()
