/// Where `attachSyscall` / `attachKprobe(event:fnName:fallbackToTracepoint:)` attached a
/// function.
public enum ProbeAttachment: Equatable, Sendable, CustomStringConvertible {
    /// A kprobe on this kernel function (`__x64_sys_execve`).
    case kprobe(event: String)
    /// The tracepoint used instead, on a kernel without kprobes (`syscalls:sys_enter_execve`).
    case tracepoint(String)

    /// `kprobe <event>` or `tracepoint <category:event>`.
    public var description: String {
        switch self {
        case let .kprobe(event): "kprobe \(event)"
        case let .tracepoint(tp): "tracepoint \(tp)"
        }
    }
}

extension BPF {
    /// Runs BPF function `fnName` whenever a process enters syscall `name` (`"execve"`): a
    /// kprobe on this kernel's syscall function (`getSyscallFnName(name)`, as Python BCC tools
    /// do), or, on a kernel without kprobes, the tracepoint `syscalls:sys_enter_<name>`, with
    /// one stderr line saying so.
    ///
    /// ```swift
    /// let b = try BPF(text: #"int hello(void *ctx) { bpf_trace_printk("Hello!\n"); return 0; }"#)
    /// try b.attachSyscall("execve", fnName: "hello")
    /// ```
    ///
    /// A tracepoint program's `ctx` is not a kprobe's: it points at the tracepoint's record
    /// (`args->filename` in a `TRACEPOINT_PROBE`), not at `struct pt_regs`. A function that
    /// only uses helpers (`bpf_get_current_pid_tgid`, `bpf_get_current_comm`,
    /// `bpf_trace_printk`, maps, `perf_submit(ctx, ...)`) works on both; one that reads the
    /// syscall's arguments through `PT_REGS_PARM*` or a `syscall__` signature reads other
    /// memory on the tracepoint (check the returned `ProbeAttachment`, or write a
    /// `TRACEPOINT_PROBE` for such kernels).
    ///
    /// - Returns: what was attached.
    /// - Throws: as `attachKprobe`, or as `attachTracepoint` for the fallback; the
    ///   `.kprobesUnavailable` error when the kernel has neither.
    ///
    /// Python has no single call: `b.attach_kprobe(event=b.get_syscall_fnname(name), fn_name=f)`.
    @discardableResult
    public func attachSyscall(_ name: String, fnName: String) throws -> ProbeAttachment {
        try attachKprobe(event: getSyscallFnName(name), fnName: fnName, fallbackToTracepoint: true)
    }

    /// `attachKprobe(event:fnName:)`, and with `fallbackToTracepoint` on a kernel without
    /// kprobes the tracepoint that replaces the syscall function `event`
    /// (`__x64_sys_clone` -> `syscalls:sys_enter_clone`; see `tracepointAlternative`), with
    /// one stderr line saying so. The caveat of `attachSyscall` about `ctx` applies.
    ///
    /// - Throws: `.kprobesUnavailable` when there is no kprobe support and `event` is not a
    ///   syscall function with a tracepoint (or `fallbackToTracepoint` is false).
    @discardableResult
    public func attachKprobe(event: String, fnName: String, fallbackToTracepoint: Bool) throws -> ProbeAttachment {
        try attachKprobe(event: event, fnName: fnName, fallbackToTracepoint: fallbackToTracepoint, warningPrefix: "SwiftBCC warning")
    }

    /// As the public one, with the fallback's stderr line starting `<warningPrefix>: ` (the
    /// examples name themselves).
    @discardableResult
    package func attachKprobe(event: String, fnName: String, fallbackToTracepoint: Bool,
                              warningPrefix: String) throws -> ProbeAttachment {
        do {
            try attachKprobe(event: event, fnName: fnName)
            return .kprobe(event: event)
        } catch BPFError.kprobesUnavailable(_, _, let tracepoint?) where fallbackToTracepoint {
            warnLine("\(warningPrefix): this kernel has no kprobes; attaching \(fnName) to the tracepoint \(tracepoint) instead of \(event)")
            try attachTracepoint(tp: tracepoint, fnName: fnName)
            return .tracepoint(tracepoint)
        }
    }
}
