import ArgumentParser
import Glibc
import SwiftBCC

/// How a tool's program attaches: BPF trampolines (fentry/kfunc), kprobes, tracepoints, or
/// uprobes (user functions: gethostlatency, bashreadline, tcpconnect -d).
public enum AttachKind: String, Sendable, CaseIterable, ExpressibleByArgument {
    case kfunc
    case kprobe
    case tracepoint
    case uprobe

    /// For messages: "kfuncs", "kprobes", "tracepoints".
    public var plural: String { rawValue + "s" }
}

/// One way a tool can get its events: the program text for it and how to attach it.
public struct AttachPath {
    /// The family: kfunc, kprobe, tracepoint or uprobe.
    public let kind: AttachKind
    /// What it attaches to, for messages (e.g. "syscalls:sys_enter_execve, syscalls:sys_exit_execve").
    public let targets: String
    /// The BPF program's text for this path.
    public let program: String
    /// Attaches the compiled program's functions (e.g. `attachKprobe` or `attachTracepoint`).
    public let attach: (BPF) throws -> Void

    /// A path of `kind` attaching `program` to `targets` with `attach`.
    public init(_ kind: AttachKind, targets: String, program: String, attach: @escaping (BPF) throws -> Void) {
        self.kind = kind
        self.targets = targets
        self.program = program
        self.attach = attach
    }
}

/// Picks the first attach path that works here, in the order the tool gives (fentry/kfunc,
/// then kprobe, then tracepoints), and says on stderr which one was used when it is not the
/// first, and why the ones before it were not.
public enum AttachSelection {
    /// Why `kind` cannot work on this kernel, found cheaply (nil: try it). kfuncs: the kernel
    /// has no BTF (`/sys/kernel/btf/vmlinux`); kprobes: the kernel has no kprobe PMU nor
    /// kprobe_events. Nothing here compiles: a kernel that has BTF but refuses fentry (EPERM
    /// on the development host) fails the tool's own kfunc program, which costs one compile
    /// (cached) where a test program first (`BPF.kfuncSupport`) cost two on every kernel.
    public static func unavailableReason(_ kind: AttachKind) -> String? {
        switch kind {
        case .kfunc:
            return access("/sys/kernel/btf/vmlinux", R_OK) == 0 ? nil : "this kernel has no BTF (/sys/kernel/btf/vmlinux)"
        case .kprobe:
            return KernelInfo.hasKprobes ? nil : "this kernel has no kprobes (CONFIG_KPROBES is off)"
        case .tracepoint, .uprobe:
            return nil
        }
    }

    /// The path `--ebpf` shows: the first that the cheap checks do not rule out.
    public static func firstAvailable(_ paths: [AttachPath]) -> AttachPath {
        paths.first { unavailableReason($0.kind) == nil } ?? paths[paths.count - 1]
    }

    /// Compiles and attaches the first path that works. When every path fails, the last one's
    /// error is thrown.
    public static func load(tool: String, paths: [AttachPath], cflags: [String] = []) throws -> (BPF, AttachPath) {
        precondition(!paths.isEmpty)
        var skipped: [String] = []
        for (i, path) in paths.enumerated() {
            let isLast = i == paths.count - 1
            if !isLast, let reason = unavailableReason(path.kind) {
                skipped.append("\(path.kind.plural): \(reason)")
                continue
            }
            do {
                let b = try BPF(text: path.program, cflags: cflags)
                do {
                    try path.attach(b)
                } catch {
                    b.cleanup()
                    throw error
                }
                if i > 0 {
                    warn("\(tool): using \(path.kind.plural) (\(path.targets)); " + skipped.joined(separator: "; "))
                }
                return (b, path)
            } catch {
                if isLast { throw error }
                skipped.append("\(path.kind.plural): \(shortReason(error))")
            }
        }
        fatalError("unreachable")
    }

    /// Why a path failed, in a few words: the kernel's refusal of a load (fentry on the
    /// development host: EPERM), else the error's first line.
    static func shortReason(_ error: any Error) -> String {
        if case let .kernelRefused(_, code, _, _)? = error as? BPFError {
            return "the kernel refused the program (\(code.text))"
        }
        return firstLine(String(describing: error))
    }

    static func firstLine(_ s: String) -> String {
        String(s.split(separator: "\n", maxSplits: 1).first ?? "")
    }
}
