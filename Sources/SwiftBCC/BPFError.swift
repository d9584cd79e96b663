import Glibc

/// The one error type of SwiftBCC. Each case says what failed and carries what is needed to
/// fix it: clang's diagnostics, the verifier log, the errno and a hint, the paths searched.
/// `description` starts with one sentence that says what went wrong and what to do.
public enum BPFError: Error, CustomStringConvertible, Sendable, Equatable {
    /// clang rejected the program. `diagnostics` is what clang printed (libbcc writes it to fd 2).
    case compileFailed(source: String, diagnostics: String)
    /// libbcc found no kernel headers for the running kernel.
    case kernelHeadersNotFound(release: String, searched: [String], package: String, diagnostics: String)
    /// `BPF(srcFile:)` (or `hdrFile:`) names a file that does not exist.
    case sourceFileNotFound(path: String, searched: [String])
    /// Neither or both of `text:` and `srcFile:` were given, or another argument is invalid.
    case invalidArgument(String)
    /// The program has no function with this name.
    case functionNotFound(name: String, available: [String])
    /// The kernel refused to load a function; `verifierLog` holds the verifier's log and hints.
    case loadFailed(function: String, type: ProgramType, errno: Errno, verifierLog: String)
    /// The operation needs privileges this process lacks.
    case permissionDenied(operation: String, errno: Errno)
    /// This kernel has no kprobe support (no kprobe PMU and no `kprobe_events`).
    case kprobesUnavailable(event: String, isReturnProbe: Bool, suggestedTracepoint: String?)
    /// An attach call failed; `detail` is what libbcc printed, `hint` how to fix it.
    case attachFailed(kind: String, target: String, function: String, errno: Errno, detail: String, hint: String?)
    /// A detach was asked for something this `BPF` has not attached.
    case notAttached(kind: String, target: String)
    /// The same target was attached twice where the kernel allows it once.
    case alreadyAttached(kind: String, target: String)
    /// Neither /sys/kernel/tracing nor /sys/kernel/debug/tracing is mounted.
    case tracefsUnavailable(searched: [String])
    /// A tracepoint "category:event" that the kernel does not have.
    case tracepointNotFound(tracepoint: String)
    /// A uprobe's binary: no library `lib<name>.so`, no executable `name` in `$PATH`, no such path.
    case binaryNotFound(name: String, pid: Int32)
    /// A binary has no symbol by this name (or none matching a regular expression).
    case symbolNotFound(symbol: String, binary: String)
    /// libbcc could not read the USDT probes of a process or binary.
    case usdtContextFailed(target: String)
    /// `enableProbe` named a probe the context's binaries do not have (or could not enable).
    case usdtProbeNotFound(probe: String, target: String, available: [String], detail: String)
    /// The kernel refused an operation although this process has the BPF capabilities: the
    /// kernel (its configuration, lockdown, a security module or a sandbox) does not allow it.
    case kernelRefused(operation: String, errno: Errno, detail: String, hint: String)
    /// libbcc could not generate the USDT argument readers.
    case usdtArgumentsFailed(detail: String)
    /// A blocking call (trace_pipe read, poll) returned because SIGINT or SIGTERM arrived.
    case interrupted(signal: Int32)
    /// The program declares no table with this name.
    case tableNotFound(name: String, available: [String])
    /// A key or value's size differs from libbcc's layout of the table.
    case sizeMismatch(table: String, what: String, expected: Int, got: Int, layout: String)
    /// An operation that needs another kind of table (e.g. `openPerfBuffer` on a hash).
    case wrongTableKind(table: String, kind: String, expected: String)
    /// An event's bytes are fewer than the type it is decoded as.
    case eventTooShort(type: String, expected: Int, got: Int)
    /// libbcc's event field list has a field whose C type SwiftBCC cannot size.
    case unsupportedEventField(table: String, field: String, type: String)
    /// The `BPF` object was cleaned up; it can no longer be used.
    case closed
    /// libbcc's key/leaf type description (or a C type name) could not be understood.
    case invalidTypeDescription(description: String, detail: String)
    /// A dynamic value could not be decoded into the Swift type (member missing, type or range mismatch).
    case decodingFailed(type: String, detail: String)
    /// A Swift value could not be encoded as the table's C key or value type.
    case encodingFailed(type: String, detail: String)
    /// An array table index outside `0..<count` (negative indices count from the end, as in Python).
    case indexOutOfRange(table: String, index: Int, count: Int)
    /// A system call failed.
    case systemCall(name: String, errno: Errno, detail: String)
    /// The kernel refused to create a map the program declares (libbcc creates the maps while
    /// compiling); `hint` says what to change, `detail` is what libbcc printed.
    case mapCreationFailed(map: String, errno: Errno, hint: String, detail: String)
    /// A BPF function calls `name`, which is neither a BPF helper nor a function the program
    /// defines (clang warned of an implicit declaration, and the kernel rejects the call).
    case undefinedFunction(name: String, function: String, diagnostics: String)
    /// libbcc's compiler (`library`, libbcc.so.0, opened on the first compile that the compile
    /// cache cannot serve) could not be loaded; `detail` is what `dlopen` or `dlsym` said.
    case compilerUnavailable(library: String, detail: String)
    /// libbcc's compiler (clang or LLVM) crashed compiling `source` in the child process that
    /// `BPF.compilesInChild` runs: `termination` says how it ended (a signal, LLVM's fatal-error
    /// exit), `diagnostics` is what it printed.
    case compilerCrashed(source: String, termination: String, diagnostics: String)

    /// What failed and how to fix it, as one sentence or a short paragraph, with the diagnostics,
    /// log or errno the case carries.
    public var description: String {
        switch self {
        case let .compileFailed(source, diagnostics):
            return "Failed to compile BPF module \(source): clang reported errors; fix them in the "
                + "program text (diagnostics below).\n" + diagnostics.trimmingTrailingNewlines
        case let .kernelHeadersNotFound(release, searched, package, diagnostics):
            var s = "Unable to find kernel headers for the running kernel \(release): looked in "
                + searched.joined(separator: ", ")
                + "; install them (apt-get install \(package)"
                + (package.hasSuffix(release) ? "" : ": this kernel has no Debian headers package of its own, so "
                    + "use the nearest ones; programs that read kernel structs may then read wrong offsets")
                + ") and link them as /lib/modules/\(release)/build "
                + "and /lib/modules/\(release)/source, or point BCC_KERNEL_SOURCE at a kernel source tree."
            if !diagnostics.isEmpty { s += "\n" + diagnostics.trimmingTrailingNewlines }
            return s
        case let .sourceFileNotFound(path, searched):
            return "Could not find file \(path): looked at " + searched.joined(separator: ", ")
                + "; pass an absolute path or one relative to the current directory."
        case let .invalidArgument(message):
            return message
        case let .functionNotFound(name, available):
            return "Unknown program \(name): the BPF module defines "
                + (available.isEmpty ? "no functions" : available.joined(separator: ", "))
                + "; check the function name."
        case let .loadFailed(function, type, code, log):
            var s = "Failed to load BPF program \(function) as \(type): \(code)"
            let verifier = Self.verifierLines(log)
            if code == .EPERM && verifier.isEmpty {
                s += "; need super-user privileges (CAP_BPF and CAP_PERFMON, or root) to run"
            } else if let verdict = Self.verifierVerdict(verifier) {
                s += "; the verifier says \"\(verdict)\" (its log follows)"
            } else if !verifier.isEmpty {
                s += "; the verifier's log follows"
            } else if code == .E2BIG {
                s += "; the kernel refused the program as too large without a verifier log: split it into smaller "
                    + "functions (tail calls) or bound its loops"
            } else {
                s += "; the kernel gave no verifier log: check that the program type suits the function "
                    + "(some types need an attach type or an attach target)"
            }
            s += "."
            if !log.isEmpty { s += "\n" + log.trimmingTrailingNewlines }
            return s
        case let .permissionDenied(operation, code):
            return "\(operation) failed with \(code.name): need super-user privileges "
                + "(root, or CAP_BPF, CAP_PERFMON and CAP_SYS_ADMIN) to run."
        case let .kprobesUnavailable(event, isReturn, tracepoint):
            var s = "Cannot attach \(isReturn ? "kretprobe" : "kprobe") to \(event): this kernel has no kprobe "
                + "support (CONFIG_KPROBES is off: no kprobe PMU and no kprobe_events in tracefs)"
            if let tracepoint {
                s += "; use the tracepoint \(tracepoint) instead, e.g. attachTracepoint(tp: \"\(tracepoint)\", fnName: ...)."
            } else {
                s += "; use a tracepoint (see BPF.getTracepoints) or a kfunc where the kernel allows it."
            }
            return s
        case let .attachFailed(kind, target, function, code, detail, hint):
            var s = "Failed to attach BPF program \(function) to \(kind) \(target)"
            if code != .none { s += ": \(code)" }
            s += "; " + (hint ?? "check that the target exists and this process is privileged") + "."
            if !detail.isEmpty { s += "\n" + detail.trimmingTrailingNewlines }
            return s
        case let .notAttached(kind, target):
            return "\(kind.prefix(1).uppercased() + kind.dropFirst()) \(target) is not attached by this BPF object; "
                + "nothing to detach."
        case let .alreadyAttached(kind, target):
            return "\(kind.prefix(1).uppercased() + kind.dropFirst()) \(target) has been attached already; "
                + "detach it first."
        case let .tracefsUnavailable(searched):
            return "tracefs is not mounted (looked at \(searched.joined(separator: ", "))); "
                + "mount it with: mount -t tracefs tracefs /sys/kernel/tracing."
        case let .tracepointNotFound(tp):
            return "Tracepoint \(tp) does not exist on this kernel; list them with BPF.getTracepoints(\".*\") "
                + "or look in /sys/kernel/tracing/events."
        case let .binaryNotFound(name, pid):
            if name.contains("/") {
                return "Binary \(name) does not exist; give the path of an executable or shared library."
            }
            return "Could not find library lib\(name).so\(pid > 0 ? " in process \(pid)" : " in ld.so.cache") "
                + "nor an executable \(name) in PATH; give a full path, e.g. /usr/bin/\(name)."
        case let .symbolNotFound(symbol, binary):
            return "Could not determine the address of symbol \(symbol) in \(binary): it has no such function symbol; "
                + "list them with BPF.getUserFunctions(\"\(binary)\", symRe: \".*\") or nm -D."
        case let .usdtContextFailed(target):
            return "USDT failed to instrument \(target): the process or binary does not exist or cannot be read; "
                + "check the pid or path (list a binary's probes with tplist-bpfcc or readelf -n)."
        case let .usdtProbeNotFound(probe, target, available, detail):
            var s = "Failed to enable USDT probe \(probe) in \(target): "
                + (available.isEmpty ? "it has no USDT probes (built without <sys/sdt.h> probes, or a runtime without --enable-dtrace)"
                                     : "its probes are " + available.joined(separator: ", "))
                + "; a probe with a semaphore can only be enabled for a pid (USDT(pid:))."
            if !detail.isEmpty { s += "\n" + detail }
            return s
        case let .kernelRefused(operation, code, detail, hint):
            var s = "The kernel refused to \(operation): \(code), although this "
                + "process has the privileges BPF needs (CAP_SYS_ADMIN, or CAP_BPF and CAP_PERFMON); \(hint)."
            if !detail.isEmpty { s += "\n" + detail.trimmingTrailingNewlines }
            return s
        case let .usdtArgumentsFailed(detail):
            var s = "Cannot generate USDT probe arguments; a probe in a shared library with several locations needs "
                + "a pid (USDT(pid:))."
            if !detail.isEmpty { s += "\n" + detail }
            return s
        case let .interrupted(signal):
            let name = [SIGINT: "SIGINT", SIGTERM: "SIGTERM", SIGHUP: "SIGHUP", SIGQUIT: "SIGQUIT"][signal] ?? "signal"
            return "Interrupted by signal \(signal) (\(name))."
        case let .tableNotFound(name, available):
            return "The BPF program has no table named \(name); it declares "
                + (available.isEmpty ? "no tables" : available.joined(separator: ", ")) + "."
        case let .sizeMismatch(table, what, expected, got, layout):
            return "Table \(table): the \(what) is \(got) bytes but libbcc's layout is \(expected) bytes; "
                + "make the Swift type match the C type, padding included. libbcc's layout: \(layout)"
        case let .wrongTableKind(table, kind, expected):
            return "Table \(table) is a \(kind); this operation needs a \(expected)."
        case let .eventTooShort(type, expected, got):
            return "The event has \(got) bytes, fewer than the \(expected) bytes of \(type); "
                + "make the Swift type match the C struct the program submits."
        case let .unsupportedEventField(table, field, type):
            return "Cannot decode field \(field) of table \(table)'s events: its C type \"\(type)\" is not a "
                + "scalar or an array of scalars; decode the event into a Swift struct with data.loadEvent(as:) instead."
        case let .compilerUnavailable(library, detail):
            return "Cannot load libbcc's compiler \(library): \(detail); install it "
                + "(apt-get install libbpfcc, which Debian's libbpfcc-dev depends on), or start from a "
                + "compile cache entry made where it is installed."
        case let .compilerCrashed(source, termination, diagnostics):
            var s = "libbcc's compiler crashed compiling BPF module \(source) (\(termination), in the compile child "
                + "process; this process is unharmed). It is a bug of libbcc's clang/LLVM that this program's text "
                + "triggers, most often a syntax error near a BPF_* macro or an unsupported construct: fix the "
                + "program (clang's output below may point at it); Python BCC dies on the same program."
            if !diagnostics.isEmpty { s += "\n" + diagnostics.trimmingTrailingNewlines }
            return s
        case .closed:
            return "This BPF object has been cleaned up; create a new one to load or attach programs."
        case let .invalidTypeDescription(description, detail):
            return "Cannot understand the type description \(description): \(detail); pass the type yourself "
                + "(TypeDescription.structure(name:members:)) or use a typed table."
        case let .decodingFailed(type, detail):
            return "Cannot decode \(type) from the BPF value: \(detail)."
        case let .encodingFailed(type, detail):
            return "Cannot encode the Swift value as \(type): \(detail)."
        case let .indexOutOfRange(table, index, count):
            return "Index \(index) is out of range for table \(table), which has \(count) entries; use 0..<\(count) "
                + "(or -\(count)..<0 from the end)."
        case let .mapCreationFailed(map, code, hint, detail):
            var s = "The kernel refused to create map \(map), which the program declares: \(code); \(hint)."
            if !detail.isEmpty { s += "\n" + detail.trimmingTrailingNewlines }
            return s
        case let .undefinedFunction(name, function, diagnostics):
            var s = "BPF program \(function) calls \(name), which is neither a BPF helper nor a function the program "
                + "defines (clang: implicit declaration); a BPF program cannot call other functions: define \(name) "
                + "in the program (static inline), or use the helper's name from bpf-helpers(7) "
                + "(bpf_trace_printk, bpf_get_current_pid_tgid, ...)."
            if !diagnostics.isEmpty { s += "\n" + diagnostics.trimmingTrailingNewlines }
            return s
        case let .systemCall(name, code, detail):
            var s = "\(name) failed: \(code)"
            if !detail.isEmpty { s += "; \(detail)" }
            return s + "."
        }
    }
}

extension BPFError {
    /// The lines of a load's captured text that are the verifier's: libbcc's own lines
    /// ("bpf: Failed to load program: ...", "bpf: ... Program too large ...") are not.
    static func verifierLines(_ log: String) -> [Substring] {
        log.split(separator: "\n").filter { !$0.isEmpty && !$0.hasPrefix("bpf: ") }
    }

    /// What the verifier objected to: the last line of its log before its statistics
    /// ("processed N insns ...", "verification time ...").
    static func verifierVerdict(_ lines: [Substring]) -> String? {
        // Not verdicts: statistics, instructions ("12: (b7) r0 = 0"), register state dumps.
        let notVerdicts = ["processed ", "verification time", "stack depth", "max_states_per_insn", "mark_read",
                           "cur state:", "old state:", "from ", "last_idx ", "regs=", "parent ", "func#", "; "]
        let verdict = lines.last { line in
            guard let first = line.first, first != " ", !first.isNumber else { return false }
            // "R1=ctx() R10=fp0" is a state dump; "R0 !read_ok" is a verdict.
            if line.hasPrefix("R"), let end = line.dropFirst().firstIndex(where: { !$0.isNumber }),
               end > line.index(after: line.startIndex), line[end] == "=" { return false }
            return !notVerdicts.contains { line.hasPrefix($0) }
        }
        return verdict.map { String($0).trimmingTrailingNewlines }
    }
}

extension String {
    var trimmingTrailingNewlines: String {
        var s = Substring(self)
        while let last = s.last, last == "\n" || last == "\r" { s = s.dropLast() }
        return String(s)
    }
}
