// opensnoop: trace open() syscalls. A port of bcc's tools/opensnoop.py
// (/usr/sbin/opensnoop-bpfcc): same flags, header and rows.
//
// Attach paths, in order: kretfuncs (fexit) on the open/openat/openat2 syscall functions (the
// Python tool's first choice), kprobes + kretprobes on them, else the syscalls:sys_enter_open*/
// sys_exit_open* tracepoints. -F walks the working directory's dentries at the running kernel's
// BTF offsets (KernelFields).
import ArgumentParser
import BCCTools
import Glibc
import SwiftBCC

struct Opensnoop: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "opensnoop",
        abstract: "Trace open() syscalls",
        discussion: """
        examples:
            ./opensnoop                        # trace all open() syscalls
            ./opensnoop -T                     # include timestamps
            ./opensnoop -U                     # include UID
            ./opensnoop -x                     # only show failed opens
            ./opensnoop -p 181                 # only trace PID 181
            ./opensnoop -t 123                 # only trace TID 123
            ./opensnoop -u 1000                # only trace UID 1000
            ./opensnoop -d 10                  # trace for 10 seconds only
            ./opensnoop -n main                # only print process names containing "main"
            ./opensnoop -e                     # show extended fields
            ./opensnoop -f O_WRONLY -f O_RDWR  # only print calls for writing
            ./opensnoop -F                     # show full path for an open file with relative path
            ./opensnoop --cgroupmap mappath    # only trace cgroups in this BPF map
            ./opensnoop --mntnsmap mappath     # only trace mount namespaces in the map
        """)

    @Flag(name: [.customShort("T"), .customLong("timestamp")], help: "include timestamp on output")
    var timestamp = false

    @Flag(name: [.customShort("U"), .customLong("print-uid")], help: "print UID column")
    var printUID = false

    @Flag(name: [.customShort("x"), .customLong("failed")], help: "only show failed opens")
    var failed = false

    @Option(name: [.customShort("p"), .customLong("pid")], help: "trace this PID only")
    var pid: Int?

    @Option(name: [.customShort("t"), .customLong("tid")], help: "trace this TID only")
    var tid: Int?

    @Option(name: .customLong("cgroupmap"), help: "trace cgroups in this BPF map only")
    var cgroupmap: String?

    @Option(name: .customLong("mntnsmap"), help: "trace mount namespaces in this BPF map only")
    var mntnsmap: String?

    @Option(name: [.customShort("u"), .customLong("uid")], help: "trace this UID only")
    var uid: Int?

    @Option(name: [.customShort("d"), .customLong("duration")], help: "total duration of trace in seconds")
    var duration: Int?

    @Option(name: [.customShort("n"), .customLong("name")], help: "only print process names containing this name")
    var name: String?

    @Flag(name: [.customShort("e"), .customLong("extended_fields")], help: "show extended fields")
    var extendedFields = false

    @Option(name: [.customShort("f"), .customLong("flag_filter")], help: "filter on flags argument (e.g., O_WRONLY)")
    var flagFilter: [String] = []

    @Flag(name: [.customShort("F"), .customLong("full-path")], help: "show full path for an open file with relative path")
    var fullPath = false

    @Option(name: [.customShort("b"), .customLong("buffer-pages")],
            help: "size of the perf ring buffer (must be a power of two number of pages and defaults to 64)")
    var bufferPages: Int = 64

    @OptionGroup var common: CommonOptions

    func validate() throws {
        for flag in flagFilter where !flag.hasPrefix("O_") || OpenFlags.values[flag] == nil {
            throw ValidationError("Bad flag: \(flag)")
        }
        if bufferPages < 1 || bufferPages & (bufferPages - 1) != 0 {
            throw ValidationError("--buffer-pages must be a power of two, not \(bufferPages)")
        }
        if let duration, duration < 1 { throw ValidationError("--duration must be at least 1 second") }
    }

    static let header = #"""
    #include <uapi/linux/ptrace.h>
    #include <uapi/linux/limits.h>
    #include <linux/sched.h>

    #define MAX_ENTRIES 32

    enum event_type {
        EVENT_ENTRY,
        EVENT_END,
    };

    struct val_t {
        u64 id;
        char comm[TASK_COMM_LEN];
        const char *fname;
        int flags;
    };

    struct data_t {
        u64 id;
        u64 ts;
        u32 uid;
        int ret;
        char comm[TASK_COMM_LEN];
        enum event_type type;
        char name[NAME_MAX];
        int flags;
    };

    BPF_PERF_OUTPUT(events);

    static __always_inline void opensnoop_submit(void *ctx, struct data_t *data)
    {
        SUBMIT_DATA
    }

    """#

    /// Entry (remember the name and flags) and return (submit) for the kprobe and tracepoint paths.
    static let entryReturn = #"""
    BPF_HASH(infotmp, u64, struct val_t);

    static __always_inline int opensnoop_entry(const char __user *filename, int flags)
    {
        struct val_t val = {};
        u64 id = bpf_get_current_pid_tgid();
        u32 pid = id >> 32; // PID is higher part
        u32 tid = id;       // Cast and get the lower part
        u32 uid = bpf_get_current_uid_gid();

        PID_TID_FILTER
        UID_FILTER
        FLAGS_FILTER

        if (container_should_be_filtered()) {
            return 0;
        }

        if (bpf_get_current_comm(&val.comm, sizeof(val.comm)) == 0) {
            val.id = id;
            val.fname = filename;
            val.flags = flags;
            infotmp.update(&id, &val);
        }

        return 0;
    }

    static __always_inline int opensnoop_return(void *ctx, int ret)
    {
        u64 id = bpf_get_current_pid_tgid();
        struct val_t *valp;
        struct data_t data = {};

        u64 tsp = bpf_ktime_get_ns();

        valp = infotmp.lookup(&id);
        if (valp == 0) {
            // missed entry
            return 0;
        }

        bpf_probe_read_kernel(&data.comm, sizeof(data.comm), valp->comm);
        bpf_probe_read_user_str(&data.name, sizeof(data.name), (void *)valp->fname);
        data.id = valp->id;
        data.ts = tsp / 1000;
        data.uid = bpf_get_current_uid_gid();
        data.flags = valp->flags;
        data.ret = ret;

        opensnoop_submit(ctx, &data);

        infotmp.delete(&id);

        return 0;
    }

    """#

    static let kprobeText = #"""
    int syscall__trace_entry_open(struct pt_regs *ctx, const char __user *filename, int flags)
    {
        return opensnoop_entry(filename, flags);
    }

    int syscall__trace_entry_openat(struct pt_regs *ctx, int dfd, const char __user *filename, int flags)
    {
        return opensnoop_entry(filename, flags);
    }

    int trace_return(struct pt_regs *ctx)
    {
        return opensnoop_return(ctx, PT_REGS_RC(ctx));
    }

    """#

    static let kprobeOpenat2Text = #"""
    #include <uapi/linux/openat2.h>
    int syscall__trace_entry_openat2(struct pt_regs *ctx, int dfd, const char __user *filename, struct open_how *how)
    {
        struct open_how h = {};
        bpf_probe_read_user(&h, sizeof(h), how);
        return opensnoop_entry(filename, h.flags);
    }

    """#

    static func tracepointText(openat2: Bool) -> String {
        var text = #"""
        TRACEPOINT_PROBE(syscalls, sys_enter_open)
        {
            return opensnoop_entry((const char __user *)args->filename, args->flags);
        }

        TRACEPOINT_PROBE(syscalls, sys_enter_openat)
        {
            return opensnoop_entry((const char __user *)args->filename, args->flags);
        }

        TRACEPOINT_PROBE(syscalls, sys_exit_open)
        {
            return opensnoop_return(args, args->ret);
        }

        TRACEPOINT_PROBE(syscalls, sys_exit_openat)
        {
            return opensnoop_return(args, args->ret);
        }

        """#
        if openat2 {
            text += #"""
            #include <uapi/linux/openat2.h>
            TRACEPOINT_PROBE(syscalls, sys_enter_openat2)
            {
                struct open_how h = {};
                bpf_probe_read_user(&h, sizeof(h), (void *)args->how);
                return opensnoop_entry((const char __user *)args->filename, h.flags);
            }

            TRACEPOINT_PROBE(syscalls, sys_exit_openat2)
            {
                return opensnoop_return(args, args->ret);
            }

            """#
        }
        return text
    }

    static let kfuncBody = #"""
        u64 id = bpf_get_current_pid_tgid();
        u32 pid = id >> 32; // PID is higher part
        u32 tid = id;       // Cast and get the lower part
        u32 uid = bpf_get_current_uid_gid();

        PID_TID_FILTER
        UID_FILTER
        FLAGS_FILTER
        if (container_should_be_filtered()) {
            return 0;
        }

        struct data_t data = {};
        bpf_get_current_comm(&data.comm, sizeof(data.comm));

        u64 tsp = bpf_ktime_get_ns();

        bpf_probe_read_user_str(&data.name, sizeof(data.name), (void *)filename);
        data.id    = id;
        data.ts    = tsp / 1000;
        data.uid   = bpf_get_current_uid_gid();
        data.flags = flags;
        data.ret   = ret;

        opensnoop_submit(ctx, &data);

        return 0;
    }

    """#

    static func kfuncText(open: String, openat: String, openat2: String?) -> String {
        var text = """
        KRETFUNC_PROBE(\(open), struct pt_regs *regs, int ret)
        {
            const char __user *filename = (char *)PT_REGS_PARM1(regs);
            int flags = PT_REGS_PARM2(regs);
        \(kfuncBody)
        KRETFUNC_PROBE(\(openat), struct pt_regs *regs, int ret)
        {
            const char __user *filename = (char *)PT_REGS_PARM2(regs);
            int flags = PT_REGS_PARM3(regs);
        \(kfuncBody)
        """
        if let openat2 {
            text += """
            #include <uapi/linux/openat2.h>
            KRETFUNC_PROBE(\(openat2), struct pt_regs *regs, int ret)
            {
                const char __user *filename = (char *)PT_REGS_PARM2(regs);
                struct open_how how = {};
                bpf_probe_read_user(&how, sizeof(struct open_how), (struct open_how *)PT_REGS_PARM3(regs));
                int flags = how.flags;
            \(kfuncBody)
            """
        }
        return text
    }

    static let submitSimple = "events.perf_submit(ctx, data, sizeof(*data));"

    static let submitFullPath = #"""
    data->type = EVENT_ENTRY;
        events.perf_submit(ctx, data, sizeof(*data));

        if (data->name[0] != '/') { // relative path
            void *dentry = bcctools_task_pwd((void *)bpf_get_current_task());
            int i;

            for (i = 1; i < MAX_ENTRIES; i++) {
                bpf_probe_read_kernel(&data->name, sizeof(data->name), (void *)bcctools_dentry_name(dentry));
                data->type = EVENT_ENTRY;
                events.perf_submit(ctx, data, sizeof(*data));

                void *parent = bcctools_dentry_parent(dentry);
                if (dentry == parent || !parent) { // root directory
                    break;
                }

                dentry = parent;
            }
        }

        data->type = EVENT_END;
        events.perf_submit(ctx, data, sizeof(*data));
    """#

    func program(_ body: String) throws -> String {
        var text = ProgramText(Self.header + body)
        text.replace("SUBMIT_DATA", with: fullPath ? Self.submitFullPath : Self.submitSimple)
        TaskFilter(pid: pid, tid: tid, uid: uid).apply(to: &text)
        let mask = flagFilter.reduce(0) { $0 | (OpenFlags.values[$1] ?? 0) }
        text.filter("FLAGS_FILTER", skipIf: flagFilter.isEmpty ? nil : "!(flags & \(mask))")
        text.prepend(try Containers.filterText(cgroupMap: cgroupmap, mountNamespaceMap: mntnsmap))
        if fullPath { text.prepend(KernelFields.cHelpers([.workingDirectory])) }
        return text.text
    }

    struct Event: BitwiseCopyable {
        var id: UInt64
        var ts: UInt64
        var uid: UInt32
        var ret: Int32
        var comm: InlineArray<16, CChar>
        var type: Int32
        var name: InlineArray<255, CChar>
        var flags: Int32
    }

    func paths() throws -> [AttachPath] {
        let prefix = BPF.getSyscallPrefix()
        let open = prefix + "open", openat = prefix + "openat"
        let openat2: String? = BPF.ksymnames([prefix + "openat2"]).isEmpty ? nil : prefix + "openat2"
        let tpOpenat2 = BPF.tracepointExists(category: "syscalls", event: "sys_enter_openat2")
        let fns = [open, openat] + (openat2.map { [$0] } ?? [])
        return [
            AttachPath(.kfunc, targets: fns.joined(separator: ", "),
                       program: try program(Self.kfuncText(open: open, openat: openat, openat2: openat2))) { _ in },
            AttachPath(.kprobe, targets: fns.joined(separator: ", "),
                       program: try program(Self.entryReturn + Self.kprobeText + (openat2 != nil ? Self.kprobeOpenat2Text : ""))) { b in
                try b.attachKprobe(event: open, fnName: "syscall__trace_entry_open")
                try b.attachKretprobe(event: open, fnName: "trace_return")
                try b.attachKprobe(event: openat, fnName: "syscall__trace_entry_openat")
                try b.attachKretprobe(event: openat, fnName: "trace_return")
                if let openat2 {
                    try b.attachKprobe(event: openat2, fnName: "syscall__trace_entry_openat2")
                    try b.attachKretprobe(event: openat2, fnName: "trace_return")
                }
            },
            AttachPath(.tracepoint, targets: "syscalls:sys_enter_open, openat\(tpOpenat2 ? ", openat2" : "") and their sys_exit_",
                       program: try program(Self.entryReturn + Self.tracepointText(openat2: tpOpenat2))) { _ in },
        ]
    }

    func run() throws {
        let paths = try paths()
        if common.ebpf {
            print(AttachSelection.firstAvailable(try common.choose(paths)).program)
            return
        }
        let (b, _) = try AttachSelection.load(tool: "opensnoop", paths: try common.choose(paths))

        var header = ""
        if timestamp { header += pad("TIME(s)", 14) }
        if printUID { header += pad("UID", 6) }
        header += "\(pad(tid != nil ? "TID" : "PID", 6)) \(pad("COMM", 16)) \(padLeft("FD", 4)) \(padLeft("ERR", 3)) "
        if extendedFields { header += pad("FLAGS", 9) }
        header += "PATH"

        let session = ToolSession(tool: "opensnoop", duration: duration.map(Double.init), maxEvents: common.maxEvents)
        var initialTs: UInt64 = 0
        var entries: [UInt64: [String]] = [:]
        // The options as locals: an ArgumentParser property read costs microseconds (generic
        // metadata on every access), too much for once per event.
        let timestamp = self.timestamp
        let printUID = self.printUID
        let failed = self.failed
        let tid = self.tid
        let name = self.name
        let extendedFields = self.extendedFields
        let fullPath = self.fullPath
        try b["events"].openPerfBuffer(of: Event.self, pageCount: bufferPages) { _, event in
            if fullPath && event.type == 0 {
                entries[event.id, default: []].append(cText(event.name))
                return
            }
            defer { if fullPath { entries[event.id] = nil } }
            if initialTs == 0 { initialTs = event.ts }
            if failed && event.ret >= 0 { return }
            if let name, !cText(event.comm).contains(name) { return }
            session.row { r in
                if timestamp { r.left(14) { $0.fixedDelta(event.ts, since: initialTs, scale: 6, digits: 9) } }
                if printUID { r.left(6) { $0.decimal(UInt64(event.uid)) } }
                r.left(6) { $0.decimal(tid != nil ? event.id & 0xffff_ffff : event.id >> 32) }
                r.space()
                r.left(16) { $0.cString(event.comm) }
                r.space()
                r.fdAndErrno(Int64(event.ret))
                r.space()
                if extendedFields { r.append(cformat("%08o ", Int32(event.flags))) }
                if fullPath { r.append(Self.joinPath((entries[event.id] ?? []).reversed())) } else { r.cString(event.name) }
            }
        }
        try session.pollLoop(b, header: header)
        b.cleanup()
    }

    /// Python's `os.path.join(*parts)`: an absolute part starts over.
    static func joinPath(_ parts: [String]) -> String {
        var result = ""
        for part in parts {
            if part.hasPrefix("/") { result = part }
            else if result.isEmpty || result.hasSuffix("/") { result += part }
            else { result += "/" + part }
        }
        return result
    }
}

Opensnoop.runTool()
