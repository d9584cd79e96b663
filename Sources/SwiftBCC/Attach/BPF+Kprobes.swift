internal import CBCC
import Glibc

extension BPF {
    /// Syscall function prefixes, in the order Python BCC tries them.
    public static let syscallPrefixes = [
        "sys_", "__x64_sys_", "__x32_compat_sys_", "__ia32_compat_sys_",
        "__arm64_sys_", "__s390x_sys_", "__s390_sys_",
    ]

    /// This kernel's syscall function prefix (`__x64_sys_` on x86_64 since 4.17), found by
    /// looking `<prefix>bpf` up in /proc/kallsyms; the first prefix when none matches.
    /// Python: `b.get_syscall_prefix()`.
    public static func getSyscallPrefix() -> String { syscallPrefix }

    /// Found once per process by a scan of /proc/kallsyms that stops at the first `<prefix>bpf`
    /// (a kernel has one of them: each architecture's syscall wrappers make one name per
    /// syscall, and kernels without wrappers have only `sys_bpf`), with the rules of libbcc's
    /// symbol cache (kernel addresses, no data symbols), which Python's `ksymname` look-ups
    /// use. Python builds that whole cache (all ~120,000 symbols, sorted: 0.12-0.15 s here, over a
    /// second under qemu TCG) at every tool start; the scan reads a fifth of the file.
    static let syscallPrefix: String = {
        let wanted = Set(syscallPrefixes.map { $0 + "bpf" })
        let found = KernelSymbolScan.scan(path: "/proc/kallsyms", wanted: wanted, untilAny: true)?.first?.name
        return syscallPrefixes.first { $0 + "bpf" == found } ?? syscallPrefixes[0]
    }()

    /// The kernel function that implements syscall `name`, e.g. `__x64_sys_execve` for
    /// `execve`. Python: `b.get_syscall_fnname(name)`.
    public func getSyscallFnName(_ name: String) -> String {
        Self.getSyscallPrefix() + name
    }

    /// Rewrites a syscall function name that has some prefix to this kernel's prefix
    /// (`sys_clone` -> `__x64_sys_clone`); other names are returned unchanged.
    /// Python: `b.fix_syscall_fnname(name)`.
    public func fixSyscallFnName(_ name: String) -> String {
        for prefix in Self.syscallPrefixes where name.hasPrefix(prefix) {
            return getSyscallFnName(String(name.dropFirst(prefix.count)))
        }
        return name
    }

    /// The syscall a kernel function implements (`__x64_sys_execve` -> `execve`), if any.
    static func syscallName(of event: String) -> String? {
        for prefix in syscallPrefixes.sorted(by: { $0.count > $1.count }) where event.hasPrefix(prefix) {
            return String(event.dropFirst(prefix.count))
        }
        return nil
    }

    /// The tracepoint that can replace a kprobe on `event` where kprobes are missing:
    /// `syscalls:sys_enter_<name>` (or `sys_exit_` for a return probe) for a syscall function.
    public static func tracepointAlternative(forKprobe event: String, isReturn: Bool = false) -> String? {
        guard let name = syscallName(of: event) else { return nil }
        let tp = "syscalls:sys_\(isReturn ? "exit" : "enter")_\(name)"
        let parts = tp.split(separator: ":").map(String.init)
        return tracepointExists(category: parts[0], event: parts[1]) ? tp : nil
    }

    static func kprobeEventName(_ event: String, isReturn: Bool) -> String {
        (isReturn ? "r_" : "p_") + String(event.map { $0 == "+" || $0 == "." ? "_" : $0 })
    }

    /// Runs BPF function `fnName` (loaded as `.kprobe`) whenever kernel function `event` is
    /// entered (at `eventOff` bytes into it). On a kernel without kprobes this throws
    /// `.kprobesUnavailable`, naming the tracepoint to use instead.
    ///
    /// Python: `b.attach_kprobe(event=..., fn_name=..., event_off=0)`; libbcc: `bpf_attach_kprobe`.
    public func attachKprobe(event: String, fnName: String, eventOff: UInt64 = 0) throws {
        try attachKprobeCommon(event: event, fnName: fnName, offset: eventOff, maxActive: 0, isReturn: false)
    }

    /// Runs `fnName` whenever kernel function `event` returns. `maxActive` bounds the
    /// instances probed at once (0: the kernel's default).
    ///
    /// Python: `b.attach_kretprobe(event=..., fn_name=..., maxactive=0)`; libbcc: `bpf_attach_kprobe`.
    public func attachKretprobe(event: String, fnName: String, maxActive: Int32 = 0) throws {
        try attachKprobeCommon(event: event, fnName: fnName, offset: 0, maxActive: maxActive, isReturn: true)
    }

    private func attachKprobeCommon(event: String, fnName: String, offset: UInt64, maxActive: Int32,
                                    isReturn: Bool) throws {
        guard !event.isEmpty else { throw BPFError.invalidArgument("attach\(isReturn ? "Kretprobe" : "Kprobe") needs an event (a kernel function name).") }
        try state.withLock { s in
            try attachKprobe(&s, event: event, fnName: fnName, offset: offset, maxActive: maxActive, isReturn: isReturn)
        }
    }

    /// Attaches one kprobe with the state locked (also for `attachKprobe(eventRe:)`).
    func attachKprobe(_ s: inout State, event: String, fnName: String, offset: UInt64, maxActive: Int32,
                      isReturn: Bool) throws {
        let kind = isReturn ? "kretprobe" : "kprobe"
        _ = try s.requireModule()
        try Self.requireNoNUL(event, "kernel function name")
        let evName = Self.kprobeEventName(event, isReturn: isReturn)
        let existing = s.attachments.get(KprobeAttachment.self, evName)
        if existing?.fds[fnName] != nil { throw BPFError.alreadyAttached(kind: kind, target: event) }
        try withFunction(&s, fnName, type: .kprobe) { s, fn in
            let attached = LibBCC.call("bpf_attach_kprobe") {
                bpf_attach_kprobe(fn.fd, isReturn ? BPF_PROBE_RETURN : BPF_PROBE_ENTRY, evName, event, offset, maxActive)
            }
            switch attached {
            case .success(let fd):
                var a = existing ?? KprobeAttachment(eventName: evName, fds: [:])
                a.fds[fnName] = PerfEventFD(fd: fd)
                s.attachments.put(a)
            case .failure(let failure):
                if !KernelInfo.hasKprobes {
                    throw BPFError.kprobesUnavailable(
                        event: event, isReturnProbe: isReturn,
                        suggestedTracepoint: Self.tracepointAlternative(forKprobe: event, isReturn: isReturn))
                }
                throw BPFError.from(.attach(kind: kind, target: event, function: fnName), failure,
                                    hint: "\(event) is not traceable (either non-existing, inlined, or marked as \"notrace\"); "
                                        + "see BPF.getKprobeFunctions or /proc/kallsyms", refusal: nil, privileged: false)
            }
        }
    }

    /// Detaches kprobes on `event`: the one running `fnName`, or all of them.
    /// Python: `b.detach_kprobe(event, fn_name=None)`; libbcc: `bpf_detach_kprobe`.
    public func detachKprobe(event: String, fnName: String? = nil) throws {
        try detachKprobeEvent(Self.kprobeEventName(event, isReturn: false), fnName: fnName, kind: "kprobe", event: event)
    }

    /// Detaches kretprobes on `event`. Python: `b.detach_kretprobe(event, fn_name=None)`.
    public func detachKretprobe(event: String, fnName: String? = nil) throws {
        try detachKprobeEvent(Self.kprobeEventName(event, isReturn: true), fnName: fnName, kind: "kretprobe", event: event)
    }

    /// Detaches every function attached to kprobe event `evName`, the name Python gives it
    /// (`p_<event>` or `r_<event>`, with `+` and `.` as `_`), and removes the event. Throws
    /// `.notAttached` when this `BPF` has no such event.
    /// Python: `b.detach_kprobe_event(ev_name)`; libbcc: `bpf_close_perf_event_fd`, `bpf_detach_kprobe`.
    public func detachKprobeEvent(_ evName: String) throws {
        try detachKprobeEvent(evName, fnName: nil)
    }

    /// Detaches function `fnName` from kprobe event `evName` (all of them when nil), removing the
    /// event when no function is left. Python: `b.detach_kprobe_event_by_fn(ev_name, fn_name)`.
    public func detachKprobeEvent(_ evName: String, fnName: String?) throws {
        try detachKprobeEvent(evName, fnName: fnName, kind: "kprobe event", event: evName)
    }

    private func detachKprobeEvent(_ evName: String, fnName: String?, kind: String, event: String) throws {
        try state.withLock { s in
            _ = try s.requireModule()
            var a = try s.attachments.remove(KprobeAttachment.self, evName, kind: kind, target: event)
            guard let fnName else { return try a.detachChecked() }
            guard let fd = a.fds.removeValue(forKey: fnName) else {
                s.attachments.put(a)
                throw BPFError.notAttached(kind: kind, target: "\(event) (function \(fnName))")
            }
            fd.close()
            // The event stays while another function runs on it.
            if a.fds.isEmpty { try a.detachChecked() } else { s.attachments.put(a) }
        }
    }

    /// The number of kprobe and kretprobe events this `BPF` has open: one per libbcc event
    /// (`p_<function>` / `r_<function>`), however many BPF functions run there; not per CPU.
    /// Python: `b.num_open_kprobes()` (the size of `kprobe_fds`).
    public var numOpenKprobes: Int { numOpen(.kprobe) }
}

/// The kprobes and kretprobes on one libbcc event (`p_<function>` / `r_<function>`): the perf
/// event fd of each BPF function attached there, and the event itself, removed from tracefs
/// (`bpf_detach_kprobe`) when the last function goes. Python: one `kprobe_fds[ev_name]`.
struct KprobeAttachment: Attachment {
    static let family = AttachmentFamily.kprobe
    let eventName: String
    /// BPF function name -> its perf event.
    var fds: [String: PerfEventFD]
    var key: String { eventName }

    func detach() {
        for fd in fds.values { fd.close() }
        LibBCC.quietly { bpf_detach_kprobe(eventName) }
    }

    /// `detach()`, reporting a failure to remove the tracefs event (for `detachKprobe`).
    func detachChecked() throws {
        for fd in fds.values { fd.close() }
        if case .failure(let failure) = LibBCC.call("bpf_detach_kprobe", { bpf_detach_kprobe(eventName) }) {
            throw BPFError.from(.system(name: "bpf_detach_kprobe(\(eventName))"), failure)
        }
    }
}
