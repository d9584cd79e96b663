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
    /// one attach throws, the ones before it are detached (`detach`), the function is unloaded
    /// when this call loaded it, and the error is rethrown. The rule of
    /// `attachTracepoint(tpRe:)` and `attachUprobe(symRe:)`.
    func attachAllOrNothing<Target, Attached>(_ targets: [Target], fnName: String, type: ProgramType,
                                              attach: (Target) throws -> Attached,
                                              detach: (Attached) -> Void) throws -> [Attached] {
        try withFunction(fnName, type: type) { _ in
            var done: [Attached] = []
            do {
                for target in targets { done.append(try attach(target)) }
            } catch {
                for attached in done.reversed() { detach(attached) }
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
        try lock.withLock {
            if tracepointFDs[tp] != nil { throw BPFError.alreadyAttached(kind: "tracepoint", target: tp) }
            try withFunction(fnName, type: .tracepoint) { fn in
                let ((fd, err), output) = StderrCapture.capture { () -> (Int32, Int32) in
                    let fd = bpf_attach_tracepoint(fn.fd, category, event)
                    return (fd, errno)
                }
                guard fd >= 0 else {
                    if Tracefs.root == nil { throw BPFError.tracefsUnavailable(searched: Tracefs.candidates) }
                    if !Self.tracepointExists(category: category, event: event) {
                        throw BPFError.tracepointNotFound(tracepoint: tp)
                    }
                    if err == EPERM || err == EACCES {
                        throw BPFError.permissionDenied(operation: "attaching tracepoint \(tp)", errno: err)
                    }
                    throw BPFError.attachFailed(kind: "tracepoint", target: tp, function: fnName, errno: err,
                                                detail: output.text, hint: nil)
                }
                tracepointFDs[tp] = fd
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
        return try lock.withLock {
            try attachAllOrNothing(tps, fnName: fnName, type: .tracepoint) { tp in
                try attachTracepoint(tp: tp, fnName: fnName)
                return tp
            } detach: { tp in
                try? detachTracepoint(tp: tp)
            }
        }
    }

    /// Stops running the function attached to tracepoint `tp`.
    /// Python: `b.detach_tracepoint(tp)`; libbcc: `bpf_detach_tracepoint`.
    public func detachTracepoint(tp: String) throws {
        let (category, event) = try Self.splitTracepoint(tp)
        try lock.withLock {
            guard let fd = tracepointFDs.removeValue(forKey: tp) else {
                throw BPFError.notAttached(kind: "tracepoint", target: tp)
            }
            _ = bpf_close_perf_event_fd(fd)
            _ = StderrCapture.capture { bpf_detach_tracepoint(category, event) }
        }
    }

    /// Runs `fnName` (loaded as `.rawTracepoint`) every time raw tracepoint `tp` (e.g.
    /// `sched_switch`, `sys_enter`) is hit.
    /// Python: `b.attach_raw_tracepoint(tp=..., fn_name=...)`; libbcc: `bpf_attach_raw_tracepoint`.
    public func attachRawTracepoint(tp: String, fnName: String) throws {
        guard !tp.isEmpty else { throw BPFError.invalidArgument("attachRawTracepoint needs a tracepoint name, e.g. \"sched_switch\".") }
        try lock.withLock {
            if rawTracepointFDs[tp] != nil { throw BPFError.alreadyAttached(kind: "raw tracepoint", target: tp) }
            try withFunction(fnName, type: .rawTracepoint) { fn in
                let ((fd, err), output) = StderrCapture.capture { () -> (Int32, Int32) in
                    let fd = bpf_attach_raw_tracepoint(fn.fd, tp)
                    return (fd, errno)
                }
                guard fd >= 0 else {
                    if err == EPERM || err == EACCES {
                        throw BPFError.permissionDenied(operation: "attaching raw tracepoint \(tp)", errno: err)
                    }
                    throw BPFError.attachFailed(kind: "raw tracepoint", target: tp, function: fnName, errno: err,
                                                detail: output.text,
                                                hint: err == ENOENT ? "the kernel has no raw tracepoint named \(tp) "
                                                    + "(raw tracepoint names have no category: \"sched_switch\", not \"sched:sched_switch\")" : nil)
                }
                rawTracepointFDs[tp] = fd
            }
        }
    }

    /// Stops running the function attached to raw tracepoint `tp`.
    /// Python: `b.detach_raw_tracepoint(tp)`.
    public func detachRawTracepoint(tp: String) throws {
        try lock.withLock {
            guard let fd = rawTracepointFDs.removeValue(forKey: tp) else {
                throw BPFError.notAttached(kind: "raw tracepoint", target: tp)
            }
            Glibc.close(fd)
        }
    }

    /// The number of tracepoints this `BPF` has attached. Python: `b.num_open_tracepoints()`.
    public var numOpenTracepoints: Int { lock.withLock { tracepointFDs.count } }

    /// The number of raw tracepoints this `BPF` has attached.
    public var numOpenRawTracepoints: Int { lock.withLock { rawTracepointFDs.count } }

    /// Loads and attaches functions whose names say where they go, as Python's `_trace_autoload`:
    /// `kprobe__<fn>`, `kretprobe__<fn>` (syscall names fixed to this kernel's prefix),
    /// `tracepoint__<category>__<event>` (what `TRACEPOINT_PROBE` defines),
    /// `raw_tracepoint__<tp>` (what `RAW_TRACEPOINT_PROBE` defines), `kfunc__<fn>` and
    /// `kretfunc__<fn>` (`KFUNC_PROBE`, `KRETFUNC_PROBE`) and `lsm__<hook>` (`LSM_PROBE`).
    func autoAttach() throws {
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
