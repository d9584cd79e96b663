internal import CBCC
import Glibc

extension BPF {
    /// `name` with `prefix`, unless it already starts with it. Python: `BPF.add_prefix(prefix, name)`.
    public static func addPrefix(_ prefix: String, _ name: String) -> String {
        name.hasPrefix(prefix) ? name : prefix + name
    }

    /// Runs `fnName` (prefixed `kfunc__` when it is not: what `KFUNC_PROBE(fn)` defines) at
    /// the entry of the kernel function it names, through a BPF trampoline (fentry).
    ///
    /// When the kernel refuses the program although this process is privileged, the error is
    /// `BPFError.kernelRefused`, saying what was refused; ``kfuncSupport`` probes the same.
    ///
    /// Python: `b.attach_kfunc(fn_name=)`; libbcc: `bcc_func_load` (TRACING, fentry), `bpf_attach_kfunc`.
    public func attachKfunc(fnName: String) throws {
        try attachTrampoline(Self.addPrefix("kfunc__", fnName), kind: .kfunc)
    }

    /// Runs `fnName` (prefixed `kretfunc__`) when the kernel function it names returns (fexit).
    /// Python: `b.attach_kretfunc(fn_name=)`; libbcc: `bpf_attach_kfunc`.
    public func attachKretfunc(fnName: String) throws {
        try attachTrampoline(Self.addPrefix("kretfunc__", fnName), kind: .kretfunc)
    }

    /// Runs `fnName` (prefixed `lsm__`: what `LSM_PROBE(hook)` defines) at LSM hook `hook`; its
    /// return value can deny the operation. Python: `b.attach_lsm(fn_name=)`; libbcc: `bpf_attach_lsm`.
    public func attachLSM(fnName: String) throws {
        try attachTrampoline(Self.addPrefix("lsm__", fnName), kind: .lsm)
    }

    /// Python: `b.detach_kfunc(fn_name=)`.
    public func detachKfunc(fnName: String) throws {
        try detachTrampoline(Self.addPrefix("kfunc__", fnName), kind: .kfunc)
    }

    /// Python: `b.detach_kretfunc(fn_name=)`.
    public func detachKretfunc(fnName: String) throws {
        try detachTrampoline(Self.addPrefix("kretfunc__", fnName), kind: .kretfunc)
    }

    /// Python: `b.detach_lsm(fn_name=)`.
    public func detachLSM(fnName: String) throws {
        try detachTrampoline(Self.addPrefix("lsm__", fnName), kind: .lsm)
    }

    /// The number of kfunc, kretfunc and LSM programs this `BPF` has attached: one per BPF link
    /// (Python keeps `kfunc_entry_fds`, `kfunc_exit_fds` and `lsm_fds` but has no count).
    public var numOpenKfuncs: Int { numOpen(.trampoline) }

    /// The kernel function (or LSM hook) a `kfunc__`/`kretfunc__`/`lsm__` function is for.
    static func trampolineTarget(_ name: String) -> String {
        for prefix in ["kfunc__", "kretfunc__", "lsm__"] where name.hasPrefix(prefix) {
            let rest = String(name.dropFirst(prefix.count))
            return rest.hasPrefix("vmlinux__") ? String(rest.dropFirst("vmlinux__".count)) : rest
        }
        return name
    }

    private func attachTrampoline(_ name: String, kind: TrampolineAttachment.Kind) throws {
        let target = Self.trampolineTarget(name)
        let key = TrampolineAttachment.key(kind, name)
        // A load failure says what the kernel is missing (the BTF target, trampolines).
        let loadError = { (error: BPFError) -> BPFError in
            guard case let .loadFailed(function, _, code, log) = error else { return error }
            return Self.trampolineLoadError(function: function, kind: kind, target: target, errno: code, log: log)
        }
        try state.withLock { s in
            _ = try attach(&s, TrampolineAttachment.self, key: key, kind: kind.text, target: name, fnName: name,
                       programType: kind.programType, loadError: loadError) { fn in
                let linked = LibBCC.call(kind == .lsm ? "bpf_attach_lsm" : "bpf_attach_kfunc") {
                    kind == .lsm ? bpf_attach_lsm(fn.fd) : bpf_attach_kfunc(fn.fd)
                }
                switch linked {
                case .success(let fd):
                    return TrampolineAttachment(kind: kind, function: name, linkFD: fd)
                case .failure(let failure):
                    throw BPFError.from(.attach(kind: kind.text, target: target, function: name), failure,
                                        refusal: Self.trampolineHint(kind: kind))
                }
            }
        }
    }

    static func trampolineHint(kind: TrampolineAttachment.Kind) -> String {
        kind == .lsm
            ? "this kernel does not let BPF LSM programs run here (the \"bpf\" LSM is not active in the lsm= boot "
                + "list, or lockdown, another security module or a sandbox forbids it)"
            : "this kernel does not let BPF trampoline (fentry/fexit) programs run here (lockdown, a security "
                + "module or a sandbox forbids them); use a tracepoint or raw tracepoint instead"
    }

    static func trampolineLoadError(function: String, kind: TrampolineAttachment.Kind, target: String, errno code: Errno,
                                    log: String) -> BPFError {
        if log.contains("is not found in vmlinux BTF") || code == ESRCH {
            return .attachFailed(kind: kind.text, target: target, function: function, errno: code, detail: log,
                                 hint: "\(kind == .lsm ? "bpf_lsm_" + target : target) is not a function in the kernel's BTF "
                                    + "(/sys/kernel/btf/vmlinux): check the name (LSM hooks are named without the "
                                    + "security_ prefix, e.g. file_permission)")
        }
        if code.isPermissionError && Privileges.hasBPFCapabilities {
            return .kernelRefused(operation: "load \(kind.text) program \(function) (for \(target))", errno: code,
                                  detail: log, hint: trampolineHint(kind: kind))
        }
        if !bpf_has_kernel_btf() {
            return .attachFailed(kind: kind.text, target: target, function: function, errno: code, detail: log,
                                 hint: "this kernel has no BTF (/sys/kernel/btf/vmlinux), which \(kind.text) programs need")
        }
        return .loadFailed(function: function, type: kind.programType, errno: code, verifierLog: log)
    }

    private func detachTrampoline(_ name: String, kind: TrampolineAttachment.Kind) throws {
        try detach(TrampolineAttachment.self, key: TrampolineAttachment.key(kind, name), kind: kind.text, target: name)
    }

    // MARK: Feature probes

    /// Can kfunc (fentry) programs be loaded and attached here? Tries one, on a kernel function
    /// in BTF, once per process. Python's `support_kfunc()` only looks for a kernel symbol and
    /// says yes on kernels that then refuse the program; this says what was refused.
    public static var kfuncSupport: FeatureSupport { FeatureSupport.kfunc }

    /// Can LSM programs be loaded and attached here? Tries a `file_permission` hook that allows
    /// everything, once per process.
    public static var lsmSupport: FeatureSupport { FeatureSupport.lsm }

    /// Can raw tracepoint programs be attached here? Tries one on `sys_enter`, once per process.
    public static var rawTracepointSupport: FeatureSupport { FeatureSupport.rawTracepoints }

    /// Python: `BPF.support_kfunc()`, made true only when a kfunc really loads and attaches.
    public static func supportKfunc() -> Bool { FeatureSupport.kfunc.isSupported }

    /// Python: `BPF.support_lsm()`, made true only when an LSM program really loads and attaches.
    public static func supportLSM() -> Bool { FeatureSupport.lsm.isSupported }

    /// Python: `BPF.support_raw_tracepoint()`, made true only when a raw tracepoint really attaches.
    public static func supportRawTracepoint() -> Bool { FeatureSupport.rawTracepoints.isSupported }

    /// True when the kernel can attach raw tracepoints in modules (it has `bpf_trace_modules`).
    /// Python: `BPF.support_raw_tracepoint_in_module()`.
    public static func supportRawTracepointInModule() -> Bool { ksymname("bpf_trace_modules") != nil }

    /// True when the kernel's BTF has struct `structName` with field `fieldName`.
    /// Python: `BPF.kernel_struct_has_field(struct_name, field_name)`; libbcc: `kernel_struct_has_field`.
    public static func kernelStructHasField(_ structName: String, _ fieldName: String) -> Bool {
        kernel_struct_has_field(structName, fieldName) == 1
    }

    /// A kernel function in BTF to probe kfuncs with: one made for BPF tests, else a common one.
    static var kfuncProbeTarget: String {
        ["bpf_fentry_test1", "do_nanosleep", "vfs_read"].first { ksymname($0) != nil } ?? "vfs_read"
    }
}

/// A kfunc (fentry), kretfunc (fexit) or LSM program's BPF link fd: closing it detaches.
struct TrampolineAttachment: Attachment {
    enum Kind: Hashable, Sendable {
        case kfunc, kretfunc, lsm

        /// The word errors use.
        var text: String {
            switch self {
            case .kfunc: "kfunc"
            case .kretfunc: "kretfunc"
            case .lsm: "LSM"
            }
        }

        var programType: ProgramType { self == .lsm ? .lsm : .tracing }
    }

    static let family = AttachmentFamily.trampoline
    let kind: Kind
    let function: String
    let linkFD: Int32
    var key: String { Self.key(kind, function) }

    static func key(_ kind: Kind, _ function: String) -> String { "\(kind.text):\(function)" }

    func detach() { Glibc.close(linkFD) }
}
