import SwiftBCC

/// The probe patterns funccount and stackcount take, as their Python originals parse them:
///
/// - `func`, `p::func`: kernel functions (kprobes)
/// - `lib:func`, `p:lib:func`, `/path:func`: functions of a library or binary (uprobes)
/// - `t:cat:event`: kernel tracepoints
/// - `u:lib:probe`: USDT probes of a library or binary
///
/// `*` is a wildcard (the pattern must match the whole name) unless `-r` makes the pattern a
/// regular expression (matched from the start of the name, Python's `re.match`).
public struct ProbeSpec: Sendable, Equatable {
    /// What a pattern names, by its prefix (`p`, `t`, `u`).
    public enum Kind: String, Sendable {
        /// `p`: kprobes (no library) or uprobes (with a library).
        case function = "p"
        /// `t`: tracepoints.
        case tracepoint = "t"
        /// `u`: USDT probes.
        case usdt = "u"
    }

    /// Kernel or user functions, tracepoints or USDT probes.
    public let kind: Kind
    /// The library or binary, resolved to its path; empty for kernel probes.
    public let library: String
    /// The regular expression names are matched against.
    public let pattern: String

    /// A parsed pattern: its kind, the resolved library (empty for the kernel) and the regular expression.
    public init(kind: Kind, library: String, pattern: String) {
        self.kind = kind
        self.library = library
        self.pattern = pattern
    }

    /// Kernel functions (needs kprobes).
    public var isKprobe: Bool { kind == .function && library.isEmpty }
    /// Functions of a user binary.
    public var isUprobe: Bool { kind == .function && !library.isEmpty }
    /// Probes that fire in the kernel: kprobes and tracepoints (a pid filter is then applied
    /// in the program; uprobes and USDT get the pid at attach time).
    public var isKernelProbe: Bool { kind == .tracepoint || isKprobe }

    /// Parses `text`; `resolve` finds a library or binary's path (default: `BPF.findLibrary`,
    /// then `BPF.findExe`).
    /// - Throws: `ToolError` with the Python tool's message for a bad type, too many `:`, or a
    ///   library that cannot be found.
    public static func parse(_ text: String, regex: Bool,
                             resolve: (String) -> String? = ProbeSpec.findBinary) throws -> ProbeSpec {
        var parts = text.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
        switch parts.count {
        case 1: parts = ["p", "", parts[0]]
        case 2: parts = ["p", parts[0], parts[1]]
        case 3:
            if parts[0] == "t" { parts = ["t", "", parts[1] + ":" + parts[2]] }
            guard ["p", "t", "u"].contains(parts[0]) else {
                throw ToolError("Type must be 'p', 't', or 'u', but got \(parts[0])")
            }
        default:
            throw ToolError("Too many ':'-separated components in pattern \(text)")
        }
        let kind = Kind(rawValue: parts[0])!
        var pattern = parts[2]
        if !regex { pattern = "^" + pattern.replacing("*", with: ".*") + "$" }
        guard !pattern.isEmpty else { throw ToolError("empty pattern in \(text)") }
        do { _ = try Regex(pattern) } catch {
            throw ToolError("invalid regular expression \(pattern) in pattern \(text)")
        }
        var library = parts[1]
        if (kind == .function && !library.isEmpty) || kind == .usdt {
            guard !library.isEmpty, let path = resolve(library), !path.isEmpty else {
                throw ToolError("unable to find library \(library)")
            }
            library = path
        }
        return ProbeSpec(kind: kind, library: library, pattern: pattern)
    }

    /// A library (`c`, `libc.so.6`) through ld.so.cache, else an executable in `$PATH` or a path.
    public static func findBinary(_ name: String) -> String? {
        BPF.findLibrary(name) ?? BPF.findExe(name)
    }

    /// Whether `name` matches the pattern from its start (Python's `re.match`).
    public func matches(_ name: String) -> Bool {
        guard let regex = try? Regex(pattern) else { return false }
        return name.prefixMatch(of: regex) != nil
    }

    /// The error for a kernel-function pattern on a kernel without kprobes, or nil when kprobes
    /// exist or the pattern is not a kernel function.
    public func kprobeUnavailableError(tool: String, original: String) -> ToolError? {
        guard isKprobe, let reason = AttachSelection.unavailableReason(.kprobe) else { return nil }
        return ToolError("'\(original)' names kernel functions, which need kprobes, and \(reason). "
            + "Count a tracepoint instead (t:category:event, e.g. t:syscalls:sys_enter_read; "
            + "list them with `ls /sys/kernel/tracing/events`), a user function (lib:func) or a USDT probe "
            + "(u:lib:probe), or run \(tool) on a kernel with kprobes.")
    }

    /// Checks `count` probes against the probe limit (`BCC_PROBE_LIMIT`, default 1000), as the
    /// Python tools' `verify_limit`.
    public static func verifyLimit(_ count: Int) throws {
        let limit = BPF.probeLimit
        if count > limit { throw ToolError("maximum of \(limit) probes allowed, attempted \(count)") }
    }
}

extension ProbeSpec {
    /// The USDT context for a `u:` spec (process `pid`'s probes of the library when `pid` is
    /// given, else the library's) and the names of its probes that match the pattern, in the
    /// order libbcc lists them (without a pid, only probes of the library itself).
    public func usdtMatches(pid: Int?) throws -> (USDT, [String]) {
        let context = try pid.map { try USDT(pid: Int32($0), path: library) } ?? USDT(path: library)
        var names: [String] = []
        for probe in context.enumerateProbes() {
            if pid == nil && probe.binPath != library { continue }
            if matches(probe.name) && !names.contains(probe.name) { names.append(probe.name) }
        }
        return (context, names)
    }
}

/// The summary loop funccount and stackcount share: print every `interval` seconds until
/// `duration` seconds have passed or a stop signal arrives, then once more and stop.
public enum IntervalLoop {
    /// Runs `summary(exiting)` after each interval; `exiting` is true for the last one.
    public static func run(session: ToolSession, interval: Int, duration: Int?, summary: (Bool) throws -> Void) rethrows {
        var seconds = 0
        while true {
            var exiting = !session.sleep(Double(interval))
            if !exiting { seconds += interval }
            if let duration, seconds >= duration { exiting = true }
            try summary(exiting)
            if exiting { return }
        }
    }
}
