import Foundation
import Glibc
@testable import SwiftBCC
import Testing

/// Probes for the attach families: the library's `FeatureSupport`, tried once.
extension Probe {
    static let uprobes = Result(FeatureSupport.uprobes)
    static let kfunc = Result(FeatureSupport.kfunc)
    static let lsm = Result(FeatureSupport.lsm)
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
