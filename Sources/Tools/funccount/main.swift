// funccount: count functions, tracepoints and USDT probes. A port of bcc's tools/funccount.py
// (/usr/sbin/funccount-bpfcc): same flags, pattern syntax, header, table, intervals and exit
// behaviour.
//
// Attach paths: what the pattern names (ProbeSpec): `t:cat:event` tracepoints, `lib:func` and
// `/path:func` uprobes, `u:lib:probe` USDT probes, and `func` / `p::func` kernel functions,
// which need kprobes (on a kernel without them this is an error saying so and what to use
// instead). One BPF function per match, each counting into its own slot of an array.
import ArgumentParser
import BCCTools
import Glibc
import SwiftBCC

struct Funccount: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "funccount",
        abstract: "Count functions, tracepoints, and USDT probes",
        discussion: """
        examples:
            ./funccount 'vfs_*'             # count kernel fns starting with "vfs"
            ./funccount -r '^vfs.*'         # same as above, using regular expressions
            ./funccount -Ti 5 'vfs_*'       # output every 5 seconds, with timestamps
            ./funccount -d 10 'vfs_*'       # trace for 10 seconds only
            ./funccount -p 185 'vfs_*'      # count vfs calls for PID 181 only
            ./funccount t:sched:sched_fork  # count calls to the sched_fork tracepoint
            ./funccount -p 185 u:node:gc*   # count all GC USDT probes in node, PID 185
            ./funccount c:malloc            # count all malloc() calls in libc
            ./funccount go:os.*             # count all "os.*" calls in libgo
            ./funccount -p 185 go:os.*      # count all "os.*" calls in libgo, PID 185
            ./funccount ./test:read*        # count "read*" calls in the ./test binary
            ./funccount -c 1 'vfs_*'        # count vfs calls on CPU 1 only
        """)

    @Option(name: [.customShort("p"), .customLong("pid")], help: "trace this PID only")
    var pid: Int?

    @Option(name: [.customShort("i"), .customLong("interval")], help: "summary interval, seconds")
    var interval: Int?

    @Option(name: [.customShort("d"), .customLong("duration")], help: "total duration of trace, seconds")
    var duration: Int?

    @Flag(name: [.customShort("T"), .customLong("timestamp")], help: "include timestamp on output")
    var timestamp = false

    @Flag(name: [.customShort("r"), .customLong("regexp")], help: "use regular expressions. Default is \"*\" wildcards only.")
    var regexp = false

    @Flag(name: [.customShort("D"), .customLong("debug")], help: "print BPF program before starting (for debugging purposes)")
    var debug = false

    @Option(name: [.customShort("c"), .customLong("cpu")], help: "trace this CPU only")
    var cpu: Int?

    @Argument(help: "search expression for events")
    var pattern: String

    @OptionGroup var common: CommonOptions

    func validate() throws {
        if let interval, interval < 1 { throw ValidationError("--interval must be at least 1 second") }
        if let duration, duration < 1 { throw ValidationError("--duration must be at least 1 second") }
        if let pid, pid < 0 { throw ValidationError("--pid must not be negative") }
        if let cpu, cpu < 0 { throw ValidationError("--cpu must not be negative") }
    }

    func function(_ index: Int) -> String {
        var filters: [String] = []
        if let pid { filters.append("u32 pid = bpf_get_current_pid_tgid() >> 32; if (pid != \(pid)) { return 0; }") }
        if let cpu { filters.append("u32 cpu = bpf_get_smp_processor_id(); if (cpu != \(cpu)) { return 0; }") }
        return """
        int trace_count_\(index)(void *ctx) {
            \(filters.joined(separator: "\n    "))
            int loc = \(index);
            counts.atomic_increment(loc);
            return 0;
        }

        """
    }

    /// The names to count (one BPF function each) and, for `u:`, the USDT context.
    func locations(_ spec: ProbeSpec) throws -> ([String], USDT?) {
        switch spec.kind {
        case .function where spec.library.isEmpty:
            let functions = try BPF.getKprobeFunctions(spec.pattern).sorted()
            try ProbeSpec.verifyLimit(functions.count)
            return (functions, nil)
        case .function:
            // One uprobe per address, and one address per name (aliases and duplicates skipped).
            let symbols = try BPF.getUserFunctionsAndAddresses(spec.library, symRe: spec.pattern)
            try ProbeSpec.verifyLimit(symbols.count)
            var addresses = Set<UInt64>(), names: [String] = [], seen = Set<String>()
            for s in symbols where !addresses.contains(s.address) && !seen.contains(s.name) {
                addresses.insert(s.address)
                seen.insert(s.name)
                names.append(s.name)
            }
            return (names, nil)
        case .tracepoint:
            let tps = try BPF.getTracepoints(spec.pattern)
            try ProbeSpec.verifyLimit(tps.count)
            return (tps, nil)
        case .usdt:
            let (context, names) = try spec.usdtMatches(pid: pid)
            try ProbeSpec.verifyLimit(names.count)
            for (i, name) in names.enumerated() { try context.enableProbe(probe: name, fnName: "trace_count_\(i)") }
            return (names, context)
        }
    }

    func run() throws {
        let spec = try ProbeSpec.parse(pattern, regex: regexp)
        if let attach = common.attach {
            throw ToolError("--attach \(attach.rawValue): funccount attaches what the pattern names (t:, lib:, u:, or a kernel function).")
        }
        if let error = spec.kprobeUnavailableError(tool: "funccount", original: pattern), !common.ebpf { throw error }
        let (names, usdt) = try locations(spec)
        var text = "#include <uapi/linux/ptrace.h>\n\nBPF_ARRAY(counts, u64, \(max(names.count, 1)));\n"
        for i in names.indices { text += function(i) }
        if debug || common.ebpf {
            if let usdt { print(try usdt.getText()) }
            print(text)
            if common.ebpf { return }
        }
        if names.isEmpty { throw ToolError("No functions matched by pattern \(spec.pattern)") }

        let b = try BPF(text: text, usdtContexts: usdt.map { [$0] } ?? [])
        defer { b.cleanup() }
        let uprobePid = Int32(pid.map { $0 > 0 ? $0 : -1 } ?? -1)
        for (i, name) in names.enumerated() {
            let fn = "trace_count_\(i)"
            switch spec.kind {
            case .function where spec.library.isEmpty: try b.attachKprobe(event: name, fnName: fn)
            case .function: try b.attachUprobe(name: spec.library, sym: name, fnName: fn, pid: uprobePid)
            case .tracepoint: try b.attachTracepoint(tp: name, fnName: fn)
            case .usdt: break  // attached with the program
            }
        }
        let counts = try b.arrayTable("counts", value: UInt64.self)
        try counts.zero()
        emitLine("Tracing \(names.count) functions for \"\(pattern)\"... Hit Ctrl-C to end.")

        let session = ToolSession(tool: "funccount", maxEvents: common.maxEvents)
        try IntervalLoop.run(session: session, interval: interval ?? duration ?? 99_999_999, duration: duration) { exiting in
            emitLine("")
            if timestamp { emitLine(pad(TimeFormat.now("%H:%M:%S"), 8)) }
            emitLine("\(pad("FUNC", 36)) \(padLeft("COUNT", 8))")
            let items = try counts.items().map { (key: $0.index, value: $0.value) }
            for (index, value) in sortedByValue(items) where value != 0 && index < names.count {
                session.row("\(pad(names[index], 36)) \(cformat("%8llu", value))")
            }
            if exiting {
                emitLine("Detaching...")
            } else {
                try counts.zero()
            }
        }
    }
}

Funccount.runTool()
