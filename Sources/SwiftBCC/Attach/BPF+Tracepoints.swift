internal import CBCC
import Glibc

extension BPF {
    /// True when tracefs has `events/<category>/<event>`.
    /// Python: `BPF.tracepoint_exists(category, event)`.
    public static func tracepointExists(category: String, event: String) -> Bool {
        guard let root = Tracefs.root else { return false }
        return FileIO.isDirectory("\(root)/events/\(category)/\(event)")
    }

    /// Every tracepoint `category:event` whose name matches the regular expression `tpRe`
    /// from its start (Python's `re.match`). Python: `BPF.get_tracepoints(tp_re)`.
    public static func getTracepoints(_ tpRe: String) throws -> [String] {
        let root = try Tracefs.requireRoot()
        let regex = try compileRegex(tpRe)
        var results: [String] = []
        let events = root + "/events"
        for category in FileIO.listDirectory(events).sorted() where FileIO.isDirectory(events + "/" + category) {
            for event in FileIO.listDirectory(events + "/" + category).sorted()
            where FileIO.isDirectory(events + "/" + category + "/" + event) {
                let tp = category + ":" + event
                if tp.prefixMatch(of: regex) != nil { results.append(tp) }
            }
        }
        return results
    }

    static func compileRegex(_ pattern: String) throws -> Regex<AnyRegexOutput> {
        do { return try Regex(pattern) } catch {
            throw BPFError.invalidArgument("Invalid regular expression \"\(pattern)\": \(error).")
        }
    }

    /// Attaches `fnName` (loaded once as `type`) at every target in order, all or nothing: when
    /// one attach throws, the ones before it are detached, the function is unloaded when this
    /// call loaded it, and the error is rethrown. The rule of `attachTracepoint(tpRe:)` and
    /// `attachUprobe(symRe:)`. `attach` attaches one target with the state locked and returns
    /// the attachment it stored.
    func attachAllOrNothing<Target, A: Attachment>(_ s: inout State, _ targets: [Target], fnName: String,
                                                   type: ProgramType,
                                                   attach: (inout State, Target) throws -> A) throws -> [A] {
        try withFunction(&s, fnName, type: type) { s, _ in
            var done: [A] = []
            do {
                for target in targets { done.append(try attach(&s, target)) }
            } catch {
                for a in done.reversed() {
                    _ = try? s.attachments.remove(A.self, a.key, kind: "", target: "")
                    a.detach()
                }
                throw error
            }
            return done
        }
    }

    static func splitTracepoint(_ tp: String) throws -> (String, String) {
        let parts = tp.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
        guard parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty else {
            throw BPFError.invalidArgument("Tracepoint \"\(tp)\" must be \"category:event\", e.g. \"syscalls:sys_enter_execve\".")
        }
        return (parts[0], parts[1])
    }

    /// Runs `fnName` (loaded as `.tracepoint`) every time tracepoint `tp` ("category:event")
    /// is hit. Python: `b.attach_tracepoint(tp=..., fn_name=...)`; libbcc: `bpf_attach_tracepoint`.
    public func attachTracepoint(tp: String, fnName: String) throws {
        let (category, event) = try Self.splitTracepoint(tp)
        try state.withLock { s in _ = try attachTracepoint(&s, tp: tp, category: category, event: event, fnName: fnName) }
    }

    private func attachTracepoint(_ s: inout State, tp: String, category: String, event: String,
                                  fnName: String) throws -> TracepointAttachment {
        try attach(&s, TracepointAttachment.self, key: tp, kind: "tracepoint", target: tp, fnName: fnName,
                   programType: .tracepoint) { fn in
            switch LibBCC.call("bpf_attach_tracepoint", { bpf_attach_tracepoint(fn.fd, category, event) }) {
            case .success(let fd):
                return TracepointAttachment(tracepoint: tp, category: category, event: event, fd: PerfEventFD(fd: fd))
            case .failure(let failure):
                if Tracefs.root == nil { throw BPFError.tracefsUnavailable(searched: Tracefs.candidates) }
                if !Self.tracepointExists(category: category, event: event) {
                    throw BPFError.tracepointNotFound(tracepoint: tp)
                }
                throw BPFError.from(.attach(kind: "tracepoint", target: tp, function: fnName), failure)
            }
        }
    }

    /// Attaches `fnName` to every tracepoint matching `tpRe` (``getTracepoints(_:)``); returns
    /// the tracepoints attached. All or nothing: when one attach fails, the tracepoints attached
    /// before it are detached and the error is thrown (Python leaves them attached); a `tpRe`
    /// that matches no tracepoint throws `.tracepointNotFound` (Python attaches nothing silently).
    /// The same rule as `attachUprobe(symRe:)`; `attachKprobe(eventRe:)` keeps Python's.
    ///
    /// Python: `b.attach_tracepoint(tp_re=..., fn_name=...)`.
    @discardableResult
    public func attachTracepoint(tpRe: String, fnName: String) throws -> [String] {
        let tps = try Self.getTracepoints(tpRe)
        guard !tps.isEmpty else { throw BPFError.tracepointNotFound(tracepoint: "matching /\(tpRe)/") }
        return try state.withLock { s in
            try attachAllOrNothing(&s, tps, fnName: fnName, type: .tracepoint) { s, tp in
                let (category, event) = try Self.splitTracepoint(tp)
                return try attachTracepoint(&s, tp: tp, category: category, event: event, fnName: fnName)
            }.map(\.tracepoint)
        }
    }

    /// Stops running the function attached to tracepoint `tp`.
    /// Python: `b.detach_tracepoint(tp)`; libbcc: `bpf_detach_tracepoint`.
    public func detachTracepoint(tp: String) throws {
        _ = try Self.splitTracepoint(tp)
        try detach(TracepointAttachment.self, key: tp, kind: "tracepoint", target: tp)
    }

    /// Runs `fnName` (loaded as `.rawTracepoint`) every time raw tracepoint `tp` (e.g.
    /// `sched_switch`, `sys_enter`) is hit.
    /// Python: `b.attach_raw_tracepoint(tp=..., fn_name=...)`; libbcc: `bpf_attach_raw_tracepoint`.
    public func attachRawTracepoint(tp: String, fnName: String) throws {
        guard !tp.isEmpty else { throw BPFError.invalidArgument("attachRawTracepoint needs a tracepoint name, e.g. \"sched_switch\".") }
        try state.withLock { s in
            _ = try attach(&s, RawTracepointAttachment.self, key: tp, kind: "raw tracepoint", target: tp, fnName: fnName,
                       programType: .rawTracepoint) { fn in
                switch LibBCC.call("bpf_attach_raw_tracepoint", { bpf_attach_raw_tracepoint(fn.fd, tp) }) {
                case .success(let fd):
                    return RawTracepointAttachment(tracepoint: tp, linkFD: fd)
                case .failure(let failure):
                    throw BPFError.from(.attach(kind: "raw tracepoint", target: tp, function: fnName), failure,
                                        hint: failure.errno == .ENOENT ? "the kernel has no raw tracepoint named \(tp) "
                                            + "(raw tracepoint names have no category: \"sched_switch\", not \"sched:sched_switch\")" : nil)
                }
            }
        }
    }

    /// Stops running the function attached to raw tracepoint `tp`.
    /// Python: `b.detach_raw_tracepoint(tp)`.
    public func detachRawTracepoint(tp: String) throws {
        try detach(RawTracepointAttachment.self, key: tp, kind: "raw tracepoint", target: tp)
    }

    /// The number of tracepoints this `BPF` has attached: one per `category:event`.
    /// Python: `b.num_open_tracepoints()` (the size of `tracepoint_fds`).
    public var numOpenTracepoints: Int { numOpen(.tracepoint) }

    /// The number of raw tracepoints this `BPF` has attached: one per tracepoint name (Python
    /// keeps `raw_tracepoint_fds` but has no count).
    public var numOpenRawTracepoints: Int { numOpen(.rawTracepoint) }

    /// Loads and attaches functions whose names say where they go, as Python's `_trace_autoload`:
    /// `kprobe__<fn>`, `kretprobe__<fn>` (syscall names fixed to this kernel's prefix),
    /// `tracepoint__<category>__<event>` (what `TRACEPOINT_PROBE` defines),
    /// `raw_tracepoint__<tp>` (what `RAW_TRACEPOINT_PROBE` defines), `kfunc__<fn>` and
    /// `kretfunc__<fn>` (`KFUNC_PROBE`, `KRETFUNC_PROBE`) and `lsm__<hook>` (`LSM_PROBE`).
    ///
    /// `BPF(text:)` and `BPF(srcFile:)` call it unless given `autoAttach: false`; call it once,
    /// after checking what must be checked first (a second call finds the first function
    /// attached already and throws ``BPFError/alreadyAttached(kind:target:)``).
    /// On a failure the functions attached before it stay attached until ``cleanup()``.
    /// Python: `BPF._trace_autoload()`, which `BPF()` always calls.
    public func autoAttach() throws {
        for name in functionNames {
            if name.hasPrefix("kprobe__") {
                try attachKprobe(event: fixSyscallFnName(String(name.dropFirst(8))), fnName: name)
            } else if name.hasPrefix("kretprobe__") {
                try attachKretprobe(event: fixSyscallFnName(String(name.dropFirst(11))), fnName: name)
            } else if name.hasPrefix("tracepoint__") {
                let rest = String(name.dropFirst("tracepoint__".count))
                guard let sep = rest.firstRange(of: "__") else { continue }
                let tp = rest[..<sep.lowerBound] + ":" + rest[sep.upperBound...]
                try attachTracepoint(tp: String(tp), fnName: name)
            } else if name.hasPrefix("raw_tracepoint__") {
                try attachRawTracepoint(tp: String(name.dropFirst("raw_tracepoint__".count)), fnName: name)
            } else if name.hasPrefix("kfunc__") {
                try attachKfunc(fnName: name)
            } else if name.hasPrefix("kretfunc__") {
                try attachKretfunc(fnName: name)
            } else if name.hasPrefix("lsm__") {
                try attachLSM(fnName: name)
            }
        }
    }
}

/// A tracepoint's perf event fd; detaching closes it and lets libbcc drop the event.
struct TracepointAttachment: Attachment {
    static let family = AttachmentFamily.tracepoint
    let tracepoint: String
    let category: String
    let event: String
    let fd: PerfEventFD
    var key: String { tracepoint }

    func detach() {
        fd.close()
        LibBCC.quietly { bpf_detach_tracepoint(category, event) }
    }
}

/// A raw tracepoint's BPF link fd (`BPF_RAW_TRACEPOINT_OPEN`): closing it detaches.
struct RawTracepointAttachment: Attachment {
    static let family = AttachmentFamily.rawTracepoint
    let tracepoint: String
    let linkFD: Int32
    var key: String { tracepoint }

    func detach() { Glibc.close(linkFD) }
}
