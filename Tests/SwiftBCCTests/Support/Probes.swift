import Foundation
import Glibc
@testable import SwiftBCC
import Testing

/// Kernel features, probed once by trying the real operation. Each probe gives a reason that
/// a skipped test shows.
enum Probe {
    struct Result: Sendable {
        let ok: Bool
        let reason: String
    }

    /// Can this process compile, load and attach a BPF program (a tracepoint)?
    static let bpf: Result = {
        do {
            let b = try BPF(text: "int probe_tp(void *ctx) { return 0; }")
            defer { b.cleanup() }
            try b.attachTracepoint(tp: "syscalls:sys_enter_getppid", fnName: "probe_tp")
            return Result(ok: true, reason: "BPF programs load and attach")
        } catch {
            return Result(ok: false, reason: "cannot load and attach a BPF program here: \(error)")
        }
    }()

    /// Does attaching a real kprobe work? (CONFIG_KPROBES is off on the 6.18 host kernel.)
    static let kprobes: Result = {
        guard bpf.ok else { return Result(ok: false, reason: bpf.reason) }
        do {
            let b = try BPF(text: "int probe_kp(void *ctx) { return 0; }")
            defer { b.cleanup() }
            try b.attachKprobe(event: b.getSyscallFnName("getppid"), fnName: "probe_kp")
            return Result(ok: true, reason: "kprobes attach")
        } catch {
            return Result(ok: false, reason: "this kernel cannot attach kprobes: \(error)")
        }
    }()
}

extension Trait where Self == ConditionTrait {
    /// Runs only where BPF programs can be loaded and attached.
    static var requiresBPF: Self {
        .enabled("needs BPF: \(Probe.bpf.reason)") { Probe.bpf.ok }
    }

    /// Runs only where a real kprobe attaches; skipped with the probe's reason elsewhere.
    static var requiresKprobes: Self {
        .enabled("needs kprobes: \(Probe.kprobes.reason)") { Probe.kprobes.ok }
    }

    /// Runs only where kprobes are missing (the case whose error the test checks).
    static var requiresNoKprobes: Self {
        .enabled("needs a kernel without kprobes: \(Probe.kprobes.reason)") { Probe.bpf.ok && !Probe.kprobes.ok }
    }
}
