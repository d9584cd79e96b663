import Foundation
import Glibc
@testable import SwiftBCC
import Testing

/// Probes for the attach families of issue 5, each trying the real operation once.
extension Probe {
    /// Does a real uprobe attach (on libc's getpid)?
    static let uprobes = trying("int probe_up(void *ctx) { return 0; }", success: "uprobes attach",
                                failure: "this kernel cannot attach uprobes") {
        _ = try $0.attachUprobe(name: "c", sym: "getpid", fnName: "probe_up", pid: getpid())
    }

    /// Do kfunc (fentry) programs load and attach? (SwiftBCC's own probe: it tries one.)
    static let kfunc: Result = {
        guard bpf.ok else { return Result(ok: false, reason: bpf.reason) }
        let s = BPF.kfuncSupport
        return Result(ok: s.isSupported, reason: s.reason)
    }()

    /// Do LSM programs load and attach?
    static let lsm: Result = {
        guard bpf.ok else { return Result(ok: false, reason: bpf.reason) }
        let s = BPF.lsmSupport
        return Result(ok: s.isSupported, reason: s.reason)
    }()
}

extension Trait where Self == ConditionTrait {
    /// Runs only where a real uprobe attaches.
    static var requiresUprobes: Self {
        .enabled("needs uprobes: \(Probe.uprobes.reason)") { Probe.uprobes.ok }
    }

    /// Runs only where kfunc programs load and attach; skipped with the kernel's refusal elsewhere.
    static var requiresKfunc: Self {
        .enabled("needs kfuncs: \(Probe.kfunc.reason)") { Probe.kfunc.ok }
    }

    /// Runs only where the kernel refuses kfuncs (the case whose error the test checks).
    static var requiresNoKfunc: Self {
        .enabled("needs a kernel that refuses kfuncs: \(Probe.kfunc.reason)") { Probe.bpf.ok && !Probe.kfunc.ok }
    }

    /// Runs only where LSM programs load and attach.
    static var requiresLSM: Self {
        .enabled("needs BPF LSM: \(Probe.lsm.reason)") { Probe.lsm.ok }
    }
}
