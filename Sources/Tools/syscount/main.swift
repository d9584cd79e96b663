// syscount: summarize syscall counts and latencies. A port of bcc's tools/syscount.py
// (/usr/sbin/syscount-bpfcc): same flags, summaries and exit behaviour.
//
// Attach path: the raw_syscalls:sys_enter / sys_exit tracepoints (the Python tool's only one).
// Syscall names come from BCCTools' x86_64 table (Python's table stops at 334, rseq, and
// prints later numbers as "[unknown: N]" unless ausyscall is installed). -c PPID reads the
// parent at the running kernel's BTF offsets.
import ArgumentParser
import BCCTools
import Glibc
import SwiftBCC

struct Syscount: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "syscount",
        abstract: "Summarize syscall counts and latencies.")

    @Option(name: [.customShort("p"), .customLong("pid")], help: "trace only this pid")
    var pid: Int?

    @Option(name: [.customShort("t"), .customLong("tid")], help: "trace only this tid")
    var tid: Int?

    @Option(name: [.customShort("c"), .customLong("ppid")], help: "trace only child of this pid")
    var ppid: Int?

    @Option(name: [.customShort("i"), .customLong("interval")], help: "print summary at this interval (seconds)")
    var interval: Int?

    @Option(name: [.customShort("d"), .customLong("duration")], help: "total duration of trace, in seconds")
    var duration: Int?

    @Option(name: [.customShort("T"), .customLong("top")], help: "print only the top syscalls by count or latency")
    var top: Int = 10

    @Flag(name: [.customShort("x"), .customLong("failures")], help: "trace only failed syscalls (return < 0)")
    var failures = false

    @Option(name: [.customShort("e"), .customLong("errno")],
            help: "trace only syscalls that return this error (numeric or EPERM, etc.)",
            transform: { text in
                guard let code = ErrnoNames.parse(text) else { throw ValidationError("couldn't map \(text) to an errno") }
                return code
            })
    var errno: Int?

    @Flag(name: [.customShort("L"), .customLong("latency")], help: "collect syscall latency")
    var latency = false

    @Flag(name: [.customShort("m"), .customLong("milliseconds")], help: "display latency in milliseconds (default: microseconds)")
    var milliseconds = false

    @Flag(name: [.customShort("P"), .customLong("process")], help: "count by process and not by syscall")
    var process = false

    @Flag(name: [.customShort("l"), .customLong("list")], help: "print list of recognized syscalls and exit")
    var list = false

    @Option(name: .customLong("syscall"), help: "trace this syscall only (use option -l to get all recognized syscalls)")
    var syscall: String?

    @OptionGroup var common: CommonOptions

    func validate() throws {
        if let interval, interval < 1 { throw ValidationError("--interval must be at least 1 second") }
        if let duration, duration < 1 { throw ValidationError("--duration must be at least 1 second") }
        if top < 0 { throw ValidationError("--top must not be negative") }
    }

    static let text = #"""
    #include <linux/sched.h>

    #ifdef LATENCY
    struct data_t {
        u64 count;
        u64 total_ns;
    };

    BPF_HASH(start, u64, u64);
    BPF_HASH(data, u32, struct data_t);
    #else
    BPF_HASH(data, u32, u64);
    #endif

    static __always_inline int syscount_skip(long id)
    {
        u64 pid_tgid = bpf_get_current_pid_tgid();
        u32 pid = pid_tgid >> 32;
        u32 tid = (u32)pid_tgid;

    #ifdef FILTER_SYSCALL_NR
        if (id != FILTER_SYSCALL_NR)
            return 1;
    #endif

    #ifdef FILTER_PID
        if (pid != FILTER_PID)
            return 1;
    #endif

    #ifdef FILTER_TID
        if (tid != FILTER_TID)
            return 1;
    #endif

    #ifdef FILTER_PPID
        u32 ppid = bcctools_task_ppid((void *)bpf_get_current_task());
        if (ppid != FILTER_PPID)
            return 1;
    #endif
        return 0;
    }

    #ifdef LATENCY
    TRACEPOINT_PROBE(raw_syscalls, sys_enter) {
        u64 pid_tgid = bpf_get_current_pid_tgid();
        if (syscount_skip(args->id))
            return 0;

        u64 t = bpf_ktime_get_ns();
        start.update(&pid_tgid, &t);
        return 0;
    }
    #endif

    TRACEPOINT_PROBE(raw_syscalls, sys_exit) {
        u64 pid_tgid = bpf_get_current_pid_tgid();
        if (syscount_skip(args->id))
            return 0;

    #ifdef FILTER_FAILED
        if (args->ret >= 0)
            return 0;
    #endif

    #ifdef FILTER_ERRNO
        if (args->ret != -FILTER_ERRNO)
            return 0;
    #endif

    #ifdef BY_PROCESS
        u32 key = pid_tgid >> 32;
    #else
        u32 key = args->id;
    #endif

    #ifdef LATENCY
        struct data_t *val, zero = {};
        u64 *start_ns = start.lookup(&pid_tgid);
        if (!start_ns)
            return 0;

        val = data.lookup_or_try_init(&key, &zero);
        if (val) {
            lock_xadd(&val->count, 1);
            lock_xadd(&val->total_ns, bpf_ktime_get_ns() - *start_ns);
        }
    #else
        u64 *val, zero = 0;
        val = data.lookup_or_try_init(&key, &zero);
        if (val) {
            lock_xadd(val, 1);
        }
    #endif
        return 0;
    }
    """#

    func program(syscallNumber: Int?) -> String {
        var text = ProgramText(Self.text)
        if let pid {
            text.define("FILTER_PID", String(pid))
        } else if let tid {
            text.define("FILTER_TID", String(tid))
        } else if let ppid {
            text.define("FILTER_PPID", String(ppid))
        }
        if failures { text.define("FILTER_FAILED") }
        if let errno, errno != 0 { text.define("FILTER_ERRNO", String(errno)) }
        if latency { text.define("LATENCY") }
        if process { text.define("BY_PROCESS") }
        if let syscallNumber { text.define("FILTER_SYSCALL_NR", String(syscallNumber)) }
        if ppid != nil && pid == nil && tid == nil { text.prepend(KernelFields.cHelpers([.ppid])) }
        return text.text
    }

    struct Latency: BitwiseCopyable {
        var count: UInt64
        var totalNs: UInt64
    }

    static func commForPID(_ pid: UInt32) -> String {
        guard let comm = readSmallFile("/proc/\(pid)/comm") else { return "[unknown]" }
        return comm.trimmingCharacters()
    }

    func aggregate(_ key: UInt32) -> String {
        process ? "\(pad(String(key), 6)) \(pad(Self.commForPID(key), 15))" : Syscalls.name(Int(key))
    }

    func run() throws {
        var syscallNumber: Int?
        if let syscall {
            guard let nr = Syscalls.number(syscall) else {
                emitLine("Error: syscall '\(syscall)' not found. Exiting.")
                throw ExitCode(1)
            }
            syscallNumber = nr
        }
        if list {
            let names = Syscalls.names.values.sorted()
            for start in stride(from: 0, to: names.count, by: 4) {
                emitLine(names[start..<min(start + 4, names.count)].map { pad($0, 22) }.joined(separator: "   "))
            }
            return
        }
        let path = AttachPath(.tracepoint, targets: "raw_syscalls:sys_enter, raw_syscalls:sys_exit",
                              program: program(syscallNumber: syscallNumber)) { _ in }
        if common.ebpf {
            print(try common.choose([path])[0].program)
            return
        }
        let (b, _) = try AttachSelection.load(tool: "syscount", paths: try common.choose([path]))
        let interval = self.interval ?? duration ?? 99_999_999

        let failed = failures ? "failed " : ""
        if let syscall {
            emitLine("Tracing \(failed)syscall '\(syscall)'... Ctrl+C to quit.")
        } else {
            emitLine("Tracing \(failed)syscalls, printing top \(top)... Ctrl+C to quit.")
        }
        let session = ToolSession(tool: "syscount")
        let aggName = process ? "PID    COMM" : "SYSCALL"
        var seconds = 0
        while true {
            var exiting = !session.sleep(Double(interval))
            if !exiting { seconds += interval }
            if let duration, seconds >= duration { exiting = true }
            try printStats(b, aggName: aggName)
            if exiting {
                emitLine("Detaching...")
                break
            }
        }
        b.cleanup()
    }

    func printStats(_ b: BPF, aggName: String) throws {
        emitLine("[\(TimeFormat.now("%H:%M:%S"))]")
        if latency {
            let data = try b.hashTable("data", key: UInt32.self, value: Latency.self)
            emitLine("\(pad(aggName, 22)) \(padLeft("COUNT", 8)) \(padLeft(milliseconds ? "TIME (ms)" : "TIME (us)", 16))")
            for (k, v) in try data.items().sorted(by: { $0.value.totalNs > $1.value.totalNs }).prefix(top) where k != 0xFFFF_FFFF {
                let time = Double(v.totalNs) / (milliseconds ? 1e6 : 1e3)
                emitLine("\(pad(aggregate(k), 22)) \(cformat("%8llu", v.count)) " + cformat(milliseconds ? "%16.6f" : "%16.3f", time))
            }
            emitLine("")
            try data.clear()
        } else {
            let data = try b.hashTable("data", key: UInt32.self, value: UInt64.self)
            emitLine("\(pad(aggName, 22)) \(padLeft("COUNT", 8))")
            for (k, v) in try data.items().sorted(by: { $0.value > $1.value }).prefix(top) where k != 0xFFFF_FFFF {
                emitLine("\(pad(aggregate(k), 22)) \(cformat("%8llu", v))")
            }
            emitLine("")
            try data.clear()
        }
    }
}

extension String {
    func trimmingCharacters() -> String {
        var s = Substring(self)
        while let last = s.last, last.isWhitespace { s = s.dropLast() }
        while let first = s.first, first.isWhitespace { s = s.dropFirst() }
        return String(s)
    }
}

Syscount.runTool()
