internal import CBCC
import Glibc

/// Whether the kernel allows something here, found by trying the real thing once per process,
/// and why not. `reason` is what a skipped test, a tool's fallback line or an error message
/// shows. The one probe mechanism of SwiftBCC: the library's `BPF.kfuncSupport` and friends,
/// the tools' choice of attach path and the tests' condition traits all read these.
public struct FeatureSupport: Sendable, CustomStringConvertible {
    /// Whether the kernel allowed it: the probe ran without an error.
    public let isSupported: Bool
    /// What was tried and what happened: the kernel's refusal when unsupported.
    public let reason: String
    /// The error the probe got, when unsupported.
    public let error: BPFError?

    /// The `reason`, as a skip message or a tool's fallback line shows it.
    public var description: String { reason }

    /// A probe result: whether it is supported, why (or why not), and the error the probe got.
    public init(isSupported: Bool, reason: String, error: BPFError? = nil) {
        self.isSupported = isSupported
        self.reason = reason
        self.error = error
    }

    /// Runs `body` once: supported when it returns, unsupported with its error when it throws.
    /// Probes of BPF features say first whether BPF itself works (`requiresBPF`).
    public static func probe(_ what: String, requiresBPF: Bool = true, _ body: () throws -> Void) -> FeatureSupport {
        if requiresBPF && !bpf.isSupported {
            return FeatureSupport(isSupported: false, reason: "\(what) not tried: \(bpf.reason)", error: bpf.error)
        }
        do {
            try body()
            return FeatureSupport(isSupported: true, reason: "\(what) works")
        } catch let error as BPFError {
            return FeatureSupport(isSupported: false, reason: "\(what) failed: \(error)", error: error)
        } catch {
            return FeatureSupport(isSupported: false, reason: "\(what) failed: \(error)")
        }
    }

    /// Compiles `program`, runs `operation` on it and cleans up, as one probe.
    static func probe(_ what: String, program: String, requiresBPF: Bool = true,
                      _ operation: (BPF) throws -> Void = { _ in }) -> FeatureSupport {
        probe(what, requiresBPF: requiresBPF) {
            let b = try BPF(text: program)
            defer { b.cleanup() }
            try operation(b)
        }
    }

    /// Can this process compile, load and attach a BPF program (a tracepoint on getppid)?
    public static let bpf = probe("a tracepoint program on syscalls:sys_enter_getppid",
                                  program: "int probe_tp(void *ctx) { return 0; }", requiresBPF: false) {
        try $0.attachTracepoint(tp: "syscalls:sys_enter_getppid", fnName: "probe_tp")
    }

    /// Does a real kprobe attach (on the getppid syscall function)? (No on kernels built
    /// without CONFIG_KPROBES.)
    public static let kprobes = probe("a kprobe on the getppid syscall function",
                                      program: "int probe_kp(void *ctx) { return 0; }") {
        try $0.attachKprobe(event: $0.getSyscallFnName("getppid"), fnName: "probe_kp")
    }

    /// Does a real uprobe attach (on libc's getpid, in this process)?
    public static let uprobes = probe("a uprobe on libc's getpid", program: "int probe_up(void *ctx) { return 0; }") {
        _ = try $0.attachUprobe(name: "c", sym: "getpid", fnName: "probe_up", pid: getpid())
    }

    /// Can this kernel create and map a BPF ring buffer (Linux 5.8+)? Where ``ringBufferMaps``
    /// already failed, nothing is compiled: the answer is no, for its reason.
    public static let ringBuffers: FeatureSupport = {
        let what = "a BPF ring buffer (Linux 5.8+)"
        guard ringBufferMaps.isSupported else {
            return FeatureSupport(isSupported: false, reason: "\(what) not tried: \(ringBufferMaps.reason)", error: ringBufferMaps.error)
        }
        return probe(what, program: "BPF_RINGBUF_OUTPUT(probe_ring, 1);") {
            try $0["probe_ring"].openRingBuffer { _ in }
        }
    }()

    /// Can this kernel create a BPF ring buffer map (Linux 5.8+)? One map-create call, no
    /// compile: cheap enough for a tool choosing its event output at start (``ringBuffers``
    /// also maps and opens one, through a compiled program).
    /// (Not preceded by the ``bpf`` probe, which compiles a program: a refusal is the map's.)
    public static let ringBufferMaps = probe("a BPF ring buffer map (Linux 5.8+)", requiresBPF: false) {
        let created = LibBCC.call("bcc_create_map_xattr") {
            swiftbcc_create_map(Int32(BPF_MAP_TYPE_RINGBUF.rawValue), "probe_ring", 0, 0, 4096, 0, true)
        }
        switch created {
        case .success(let fd): Glibc.close(fd)
        case .failure(let failure):
            throw BPFError.mapCreationFailed(map: "probe_ring", errno: failure.errno,
                                             hint: "ring buffers need Linux 5.8 or later", detail: failure.output)
        }
    }

    /// Can raw tracepoint programs be attached (on `sys_enter`)?
    public static let rawTracepoints = probe("a raw tracepoint on sys_enter",
                                             program: "RAW_TRACEPOINT_PROBE(sys_enter) { return 0; }")

    /// Can kfunc (fentry) programs be loaded and attached (on a kernel function in BTF)?
    public static let kfunc: FeatureSupport = probe("a kfunc on \(BPF.kfuncProbeTarget)") {
        guard bpf_has_kernel_btf() else {
            throw BPFError.attachFailed(kind: "kfunc", target: BPF.kfuncProbeTarget, function: "kfunc__\(BPF.kfuncProbeTarget)",
                                        errno: .none, detail: "", hint: "this kernel has no BTF (/sys/kernel/btf/vmlinux)")
        }
        let b = try BPF(text: "KFUNC_PROBE(\(BPF.kfuncProbeTarget)) { return 0; }")
        b.cleanup()
    }

    /// Can LSM programs be loaded and attached (a `file_permission` hook that allows everything)?
    public static let lsm: FeatureSupport = probe("an LSM program on file_permission") {
        guard bpf_has_kernel_btf() else {
            throw BPFError.attachFailed(kind: "LSM", target: "file_permission", function: "lsm__file_permission",
                                        errno: .none, detail: "", hint: "this kernel has no BTF (/sys/kernel/btf/vmlinux)")
        }
        let b = try BPF(text: "struct file; LSM_PROBE(file_permission, struct file *file, int mask) { return 0; }")
        b.cleanup()
    }

    /// Are the kernel headers libbcc will use the running kernel's own (so struct offsets read
    /// from kernel memory are right)?
    public static let exactKernelHeaders: FeatureSupport = {
        guard let dir = KernelInfo.headersDirectory else {
            return FeatureSupport(isSupported: false, reason: "no kernel headers found (looked in "
                + KernelInfo.headerSearchPaths.joined(separator: ", ") + ")")
        }
        let hdr = KernelInfo.headersRelease(at: dir) ?? "unknown"
        return hdr == KernelInfo.release
            ? FeatureSupport(isSupported: true, reason: "the headers in \(dir) are the running kernel's")
            : FeatureSupport(isSupported: false, reason: "headers in \(dir) are for \(hdr), the kernel is \(KernelInfo.release)")
    }()
}
