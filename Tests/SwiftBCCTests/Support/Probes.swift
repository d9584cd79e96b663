import Foundation
import Glibc
@testable import SwiftBCC
import Testing

/// Kernel features, probed once by trying the real operation: the library's own probes
/// (`FeatureSupport`, which tools and `BPF.kfuncSupport` use too), plus the test-only ones
/// below (Python BCC, gcc). Each gives the reason a skipped test shows.
enum Probe {
    struct Result: Sendable {
        let ok: Bool
        let reason: String

        init(ok: Bool, reason: String) {
            self.ok = ok
            self.reason = reason
        }

        init(_ support: FeatureSupport) {
            self.init(ok: support.isSupported, reason: support.reason)
        }
    }

    static let bpf = Result(FeatureSupport.bpf)
    static let kprobes = Result(FeatureSupport.kprobes)
    static let ringBuffers = Result(FeatureSupport.ringBuffers)
    static let exactHeaders = Result(FeatureSupport.exactKernelHeaders)
}

extension Trait where Self == ConditionTrait {
    /// Runs only where BPF ring buffers work; skipped with the probe's reason elsewhere.
    static var requiresRingBuffers: Self {
        .enabled("needs ring buffers: \(Probe.ringBuffers.reason)") { Probe.ringBuffers.ok }
    }

    /// Runs only where BPF programs can be loaded and attached.
    static var requiresBPF: Self {
        .enabled("needs BPF: \(Probe.bpf.reason)") { Probe.bpf.ok }
    }

    /// Runs only where a real kprobe attaches; skipped with the probe's reason elsewhere.
    static var requiresKprobes: Self {
        .enabled("needs kprobes: \(Probe.kprobes.reason)") { Probe.kprobes.ok }
    }

    /// Runs only where the kernel headers libbcc uses are the running kernel's own, so kernel
    /// struct offsets are right.
    static var requiresExactKernelHeaders: Self {
        .enabled("needs the running kernel's own headers: \(Probe.exactHeaders.reason)") { Probe.exactHeaders.ok }
    }

    /// Runs only where kprobes are missing (the case whose error the test checks).
    static var requiresNoKprobes: Self {
        .enabled("needs a kernel without kprobes: \(Probe.kprobes.reason)") { Probe.bpf.ok && !Probe.kprobes.ok }
    }
}

extension Probe {
    /// Can /usr/bin/python3 import Python BCC (to compare SwiftBCC's output with Python's)?
    static let pythonBCC: Result = {
        let out = runPython("import bcc; print('ok')")
        return out.status == 0 && out.stdout.contains("ok")
            ? Result(ok: true, reason: "/usr/bin/python3 imports bcc")
            : Result(ok: false, reason: "/usr/bin/python3 cannot import bcc (apt-get install python3-bpfcc): \(out.stderr)")
    }()
}

extension Trait where Self == ConditionTrait {
    /// Runs only where Python BCC is installed, to compare against it.
    static var requiresPythonBCC: Self {
        .enabled("needs Python BCC: \(Probe.pythonBCC.reason)") { Probe.pythonBCC.ok }
    }
}

/// Runs `script` with /usr/bin/python3 (the Debian python that has bcc), passing `args`.
func runPython(_ script: String, args: [String] = [], timeout: Double = 120) -> (status: Int32, stdout: String, stderr: String) {
    let dir = FileManager.default.temporaryDirectory
    let file = dir.appendingPathComponent("swiftbcc-\(UUID().uuidString).py")
    defer { try? FileManager.default.removeItem(at: file) }
    do {
        try script.write(to: file, atomically: true, encoding: .utf8)
        let child = try Child("/usr/bin/python3", [file.path] + args)
        let status = child.wait(timeout: timeout) ?? -1
        return (status, child.stdout, child.stderr)
    } catch {
        return (-1, "", "\(error)")
    }
}

extension Probe {
    /// Can gcc build a program against libbcc's C API (EventPathBench's C consumer)?
    static let gccLibbcc: Result = {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("swiftbcc-gcc-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        do {
            try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
            let src = dir.appendingPathComponent("probe.c")
            try "#include <bcc/bcc_common.h>\n#include <bcc/libbpf.h>\n#include <bcc/perf_reader.h>\nint main(void) { return bpf_module_rw_engine_enabled() ? 0 : 0; }\n"
                .write(to: src, atomically: true, encoding: .utf8)
            let child = try Child("/usr/bin/env", ["gcc", "-o", dir.appendingPathComponent("probe").path, src.path, "-lbcc"])
            let status = child.wait(timeout: 120)
            return status == 0
                ? Result(ok: true, reason: "gcc links against libbcc")
                : Result(ok: false, reason: "gcc cannot build against libbcc (apt-get install gcc libbpfcc-dev): \(child.stderr)")
        } catch {
            return Result(ok: false, reason: "gcc cannot build against libbcc: \(error)")
        }
    }()
}

extension Trait where Self == ConditionTrait {
    /// Runs only where gcc can build a program against libbcc's C API.
    static var requiresGccLibbcc: Self {
        .enabled("needs gcc and libbcc's C headers: \(Probe.gccLibbcc.reason)") { Probe.gccLibbcc.ok }
    }
}
