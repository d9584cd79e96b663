// stackcount: count events and their stack traces. A port of bcc's tools/stackcount.py
// (/usr/sbin/stackcount-bpfcc): same flags, pattern syntax, header, multi-line and folded (-f)
// output, intervals and exit behaviour.
//
// Attach paths: what the pattern names (ProbeSpec): `t:cat:event` tracepoints, `lib:func`
// uprobes, `u:lib:probe` USDT probes, and `func` / `p::func` kernel functions, which need
// kprobes (on a kernel without them this is an error saying so and what to use instead).
import ArgumentParser
import BCCTools
import Glibc
import SwiftBCC

struct Stackcount: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stackcount",
        abstract: "Count events and their stack traces",
        discussion: """
        examples:
            ./stackcount submit_bio         # count kernel stack traces for submit_bio
            ./stackcount -d ip_output       # include a user/kernel stack delimiter
            ./stackcount -s ip_output       # show symbol offsets
            ./stackcount -sv ip_output      # show offsets and raw addresses (verbose)
            ./stackcount 'tcp_send*'        # count stacks for funcs matching tcp_send*
            ./stackcount -r '^tcp_send.*'   # same as above, using regular expressions
            ./stackcount -Ti 5 ip_output    # output every 5 seconds, with timestamps
            ./stackcount -p 185 ip_output   # count ip_output stacks for PID 185 only
            ./stackcount -c 1 put_prev_entity   # count put_prev_entity stacks for CPU 1 only
            ./stackcount -p 185 c:malloc    # count stacks for malloc in PID 185
            ./stackcount t:sched:sched_fork # count stacks for sched_fork tracepoint
            ./stackcount -p 185 u:node:*    # count stacks for all USDT probes in node
            ./stackcount -K t:sched:sched_switch   # kernel stacks only
            ./stackcount -U t:sched:sched_switch   # user stacks only
        """)

    @Option(name: [.customShort("p"), .customLong("pid")], help: "trace this PID only")
    var pid: Int?

    @Option(name: [.customShort("c"), .customLong("cpu")], help: "trace this CPU only")
    var cpu: Int?

    @Option(name: [.customShort("i"), .customLong("interval")], help: "summary interval, seconds")
    var interval: Int?

    @Option(name: [.customShort("D"), .customLong("duration")], help: "total duration of trace, seconds")
    var duration: Int?

    @Flag(name: [.customShort("T"), .customLong("timestamp")], help: "include timestamp on output")
    var timestamp = false

    @Flag(name: [.customShort("r"), .customLong("regexp")], help: "use regular expressions. Default is \"*\" wildcards only.")
    var regexp = false

    @Flag(name: [.customShort("s"), .customLong("offset")], help: "show address offsets")
    var offset = false

    @Flag(name: [.customShort("P"), .customLong("perpid")], help: "display stacks separately for each process")
    var perpid = false

    @Flag(name: [.customShort("K"), .customLong("kernel-stacks-only")], help: "kernel stack only")
    var kernelStacksOnly = false

    @Flag(name: [.customShort("U"), .customLong("user-stacks-only")], help: "user stack only")
    var userStacksOnly = false

    @Flag(name: [.customShort("v"), .customLong("verbose")], help: "show raw addresses")
    var verbose = false

    @Flag(name: [.customShort("d"), .customLong("delimited")], help: "insert delimiter between kernel/user stacks")
    var delimited = false

    @Flag(name: [.customShort("f"), .customLong("folded")], help: "output folded format")
    var folded = false

    @Flag(name: .customLong("debug"), help: "print BPF program before starting (for debugging purposes)")
    var debug = false

    @Argument(help: "search expression for events")
    var pattern: String

    @OptionGroup var common: CommonOptions

    func validate() throws {
        if kernelStacksOnly && userStacksOnly {
            throw ValidationError("-K and -U are mutually exclusive. If you want both stacks, that is the default.")
        }
        if let interval, interval < 1 { throw ValidationError("--interval must be at least 1 second") }
        if let duration, duration < 1 { throw ValidationError("--duration must be at least 1 second") }
        if let pid, pid < 0 { throw ValidationError("--pid must not be negative") }
        if let cpu, cpu < 0 { throw ValidationError("--cpu must not be negative") }
    }

    var kernelStack: Bool { !userStacksOnly }
    var userStack: Bool { !kernelStacksOnly }
    /// A pid implies -P (the key then holds the pid), as in the Python tool.
    var perProcess: Bool { perpid || (pid ?? 0) > 0 }
    var needDelimiter: Bool { delimited && !(kernelStacksOnly || userStacksOnly) }

    static let header = #"""
    #include <uapi/linux/ptrace.h>
    #include <linux/sched.h>

    struct key_t {
        // no pid (thread ID) so that we do not needlessly split this key
        u32 tgid;
        int kernel_stack_id;
        int user_stack_id;
        char name[TASK_COMM_LEN];
    };

    BPF_HASH(counts, struct key_t);
    // Python's tool keeps both kinds in one 1024-bucket map, where a user stack and a kernel stack
    // that hash to the same bucket lose the second one (-EEXIST, printed without its frames; the
    // VM lane once printed a count with its user frames and none of its kernel ones). One map each.
    BPF_STACK_TRACE(kernel_stacks, 1024);
    BPF_STACK_TRACE(user_stacks, 1024);

    """#

    func function(_ name: String, spec: ProbeSpec) -> String {
        var filters: [String] = []
        if spec.isKernelProbe, let pid {
            filters.append("u32 pid = bpf_get_current_pid_tgid() >> 32; if (pid != \(pid)) { return 0; }")
        }
        if spec.isKernelProbe, let cpu {
            filters.append("if (bpf_get_smp_processor_id() != \(cpu)) { return 0; }")
        }
        let user = userStack ? "key.user_stack_id = user_stacks.get_stackid(ctx, BPF_F_USER_STACK);" : "key.user_stack_id = -1;"
        let kernel = kernelStack ? "key.kernel_stack_id = kernel_stacks.get_stackid(ctx, 0);" : "key.kernel_stack_id = -1;"
        return """
        int \(name)(void *ctx) {
            \(filters.joined(separator: "\n    "))
            struct key_t key = {};
            key.tgid = \(perProcess ? "bpf_get_current_pid_tgid() >> 32" : "0xffffffff");
            \(perProcess ? "bpf_get_current_comm(&key.name, sizeof(key.name));" : "")
            \(user)
            \(kernel)
            counts.atomic_increment(key);
            return 0;
        }

        """
    }

    struct Key: BitwiseCopyable {
        var tgid: UInt32
        var kernelStackID: Int32
        var userStackID: Int32
        var name: InlineArray<16, CChar>
    }

    func run() throws {
        let spec = try ProbeSpec.parse(pattern, regex: regexp)
        if let attach = common.attach {
            throw ToolError("--attach \(attach.rawValue): stackcount attaches what the pattern names (t:, lib:, u:, or a kernel function).")
        }
        var text = Self.header
        var usdt: USDT?
        var usdtCount = 0
        if spec.kind == .usdt {
            let (context, names) = try spec.usdtMatches(pid: pid)
            for (i, name) in names.enumerated() {
                text += function("trace_count_\(i)", spec: spec)
                try context.enableProbe(probe: name, fnName: "trace_count_\(i)")
            }
            usdt = context
            usdtCount = names.count
        } else {
            text += function("trace_count", spec: spec)
        }
        if debug || common.ebpf {
            if let usdt { print(try usdt.getText()) }
            print(text)
            if common.ebpf { return }
        }
        if spec.kind == .usdt && usdtCount == 0 { throw ToolError("No functions matched by pattern \(spec.pattern)") }
        if let error = spec.kprobeUnavailableError(tool: "stackcount", original: pattern) { throw error }
        // Nothing to attach: say so before compiling (Python compiles, then finds no match).
        let none = ToolError("No functions matched by pattern \(spec.pattern)")
        if spec.kind == .tracepoint, try BPF.getTracepoints(spec.pattern).isEmpty { throw none }
        if spec.isUprobe, try BPF.getUserFunctionsAndAddresses(spec.library, symRe: spec.pattern).isEmpty { throw none }
        // (Kernel functions: attachKprobe(eventRe:) says so itself; listing them twice is slow.)

        let b = try BPF(text: text, usdtContexts: usdt.map { [$0] } ?? [])
        defer { b.cleanup() }
        let matched: Int
        switch spec.kind {
        case .function where spec.library.isEmpty:
            try b.attachKprobe(eventRe: spec.pattern, fnName: "trace_count")
            matched = b.numOpenKprobes
        case .function:
            try b.attachUprobe(name: spec.library, symRe: spec.pattern, fnName: "trace_count", pid: Int32(pid ?? -1))
            matched = b.numOpenUprobes
        case .tracepoint:
            try b.attachTracepoint(tpRe: spec.pattern, fnName: "trace_count")
            matched = b.numOpenTracepoints
        case .usdt:
            matched = usdtCount
        }
        if matched == 0 { throw ToolError("No functions matched by pattern \(spec.pattern)") }
        if !folded { emitLine("Tracing \(matched) functions for \"\(pattern)\"... Hit Ctrl-C to end.") }

        let session = ToolSession(tool: "stackcount", maxEvents: common.maxEvents)
        try IntervalLoop.run(session: session, interval: interval ?? duration ?? 99_999_999, duration: duration) { exiting in
            if !folded { emitLine("") }
            if timestamp { emitLine(pad(TimeFormat.now("%H:%M:%S"), 8)) }
            try printCounts(b, session: session)
            if exiting && !folded { emitLine("Detaching...") }
        }
    }

    func frame(_ addr: UInt64, _ name: String) -> String {
        "  " + (verbose ? cformat("%-16llx ", addr) : "") + name
    }

    func printCounts(_ b: BPF, session: ToolSession) throws {
        let counts = try b.hashTable("counts", key: Key.self, value: UInt64.self)
        let kernelStacks = try b["kernel_stacks"], userStacks = try b["user_stacks"]
        for (k, v) in sortedByValue(try counts.items()) {
            let user = try StackIDs.frames(userStacks, k.userStackID)
            let kernel = try StackIDs.frames(kernelStacks, k.kernelStackID)
            let pid = Int32(bitPattern: k.tgid)
            var lines: [String] = []
            if folded {
                let parts = [cText(k.name)] + user.reversed().map { b.sym($0, pid: pid) } + (needDelimiter ? ["-"] : [])
                    + kernel.reversed().map { b.ksym($0) }
                lines.append(parts.joined(separator: ";") + " \(v)")
            } else {
                lines += kernel.map { frame($0, b.ksym($0, showOffset: offset)) }
                if needDelimiter { lines.append("    --") }
                lines += user.map { frame($0, b.sym($0, pid: pid, showOffset: offset)) }
                if self.pid == nil && k.tgid != 0xFFFF_FFFF { lines.append("    \(cText(k.name)) [\(k.tgid)]") }
                lines.append("    \(v)")
                lines.append("")
            }
            for line in lines {
                if session.maxEvents.map({ session.rows >= $0 }) ?? false { break }
                session.row(line)
            }
        }
        try counts.clear()
    }
}

Stackcount.runTool()
