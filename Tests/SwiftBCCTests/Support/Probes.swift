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

    /// Compiles `program`, runs `operation` on it once and cleans up: `ok` with `success`, or
    /// not ok with `failure` and the error. Probes after `bpf` need `bpf` to have worked.
    static func trying(_ program: String, success: String, failure: String, needsBPF: Bool = true,
                       _ operation: (BPF) throws -> Void) -> Result {
        if needsBPF && !bpf.ok { return Result(ok: false, reason: bpf.reason) }
        do {
            let b = try BPF(text: program)
            defer { b.cleanup() }
            try operation(b)
            return Result(ok: true, reason: success)
        } catch {
            return Result(ok: false, reason: "\(failure): \(error)")
        }
    }

    /// Can this process compile, load and attach a BPF program (a tracepoint)?
    static let bpf = trying("int probe_tp(void *ctx) { return 0; }", success: "BPF programs load and attach",
                            failure: "cannot load and attach a BPF program here", needsBPF: false) {
        try $0.attachTracepoint(tp: "syscalls:sys_enter_getppid", fnName: "probe_tp")
    }

    /// Does attaching a real kprobe work? (CONFIG_KPROBES is off on the 6.18 host kernel.)
    static let kprobes = trying("int probe_kp(void *ctx) { return 0; }", success: "kprobes attach",
                                failure: "this kernel cannot attach kprobes") {
        try $0.attachKprobe(event: $0.getSyscallFnName("getppid"), fnName: "probe_kp")
    }

    /// Can this kernel create and map a BPF ring buffer (Linux 5.8+)?
    static let ringBuffers = trying("BPF_RINGBUF_OUTPUT(probe_ring, 1);", success: "ring buffers open",
                                    failure: "this kernel cannot open a BPF ring buffer (needs Linux 5.8+)") {
        try $0["probe_ring"].openRingBuffer { _ in }
    }

    /// Are the headers libbcc will use the running kernel's own?
    static let exactHeaders: Result = {
        guard let dir = KernelInfo.headersDirectory else {
            return Result(ok: false, reason: "no kernel headers found")
        }
        let hdr = KernelInfo.headersRelease(at: dir) ?? "unknown"
        return hdr == KernelInfo.release
            ? Result(ok: true, reason: "headers match")
            : Result(ok: false, reason: "headers in \(dir) are for \(hdr), the kernel is \(KernelInfo.release)")
    }()
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
