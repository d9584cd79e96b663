import Glibc

// The libbcc call layer: every call into libbcc or bpf(2) whose failure the user must hear
// about goes through `LibBCC.call`, which captures what libbcc prints on stderr, reads errno
// right after the call (before anything else can change it), and returns either the result
// or a `CallFailure`. `BPFError.from(_:_:hint:)` is the one pure function that turns a
// failure and what was being attempted into the error the user sees.

/// A failed libbcc or bpf(2) call: which call, its errno, and what libbcc printed meanwhile
/// (a verifier log, "could not open bpf map", a netlink error, ...).
struct CallFailure: Error, Equatable, Sendable {
    /// The C function, e.g. `bpf_attach_tracepoint`.
    let call: String
    let errno: Errno
    /// What libbcc wrote to stderr during the call.
    let output: String
}

enum LibBCC {
    /// Runs `body`, a libbcc call that returns an fd or a status (negative: failed), with stderr
    /// captured. On success what libbcc printed is passed through to stderr when `passThrough`
    /// (warnings, `DEBUG_*` output) and dropped otherwise (libbcc's chatter on a success).
    static func call(_ name: String, passThrough: Bool = false, _ body: () -> Int32) -> Result<Int32, CallFailure> {
        let ((result, err), output) = StderrCapture.capture { () -> (Int32, Int32) in
            let r = body()
            return (r, Glibc.errno)
        }
        guard result >= 0 else { return .failure(CallFailure(call: name, errno: Errno(err), output: output.text)) }
        if passThrough { output.passThrough() }
        return .success(result)
    }

    /// `call` for libbcc functions that return a pointer (nil: failed).
    static func call<T>(_ name: String, includingStdout: Bool = false, passThrough: Bool = true,
                        _ body: () -> T?) -> Result<T, CallFailure> {
        let ((result, err), output) = StderrCapture.capture(includingStdout: includingStdout) { () -> (T?, Int32) in
            let r = body()
            return (r, Glibc.errno)
        }
        guard let result else { return .failure(CallFailure(call: name, errno: Errno(err), output: output.text)) }
        if passThrough { output.passThrough() }
        return .success(result)
    }

    /// Runs a cleanup-time libbcc call whose failure nobody can act on (detaching at exit):
    /// its chatter is captured and dropped.
    static func quietly(_ body: () -> Int32) {
        _ = StderrCapture.capture { body() }
    }
}

/// What SwiftBCC was doing when a call failed, for `BPFError.from`.
enum Attempt: Equatable, Sendable {
    /// Loading function `function` as `type`.
    case load(function: String, type: ProgramType)
    /// Attaching `function` to the `kind` (kprobe, tracepoint, ...) `target`. `operation`
    /// replaces "attaching <kind> <target>" in a permission error.
    case attach(kind: String, target: String, function: String, operation: String? = nil)
    /// Any other call: `name` is what the error names (`bpf_detach_kprobe(p_do_sys_open)`);
    /// with `operation`, EPERM/EACCES say that `operation` needs privileges.
    case system(name: String, operation: String? = nil)
}

extension BPFError {
    /// The error for a failed call, from what was attempted and how it failed: one rule for
    /// every attach family.
    ///
    /// - `.load`: `.loadFailed` with the verifier's log (libbcc prints it on stderr).
    /// - `.attach`: EPERM/EACCES become `.kernelRefused` when this process has the BPF
    ///   capabilities and the family knows why a kernel refuses (`refusal`), else
    ///   `.permissionDenied`; any other errno is `.attachFailed` with libbcc's text and `hint`.
    /// - `.system`: `.permissionDenied` for EPERM/EACCES when it names an `operation`, else
    ///   `.systemCall` with `hint` and libbcc's text (in parentheses) as the detail.
    ///
    /// Pure: `privileged` is whether the process has the BPF capabilities (the caller reads it).
    static func from(_ attempt: Attempt, _ failure: CallFailure, hint: String? = nil, refusal: String? = nil,
                     privileged: Bool) -> BPFError {
        switch attempt {
        case let .load(function, type):
            return .loadFailed(function: function, type: type, errno: failure.errno, verifierLog: failure.output)
        case let .attach(kind, target, function, operation):
            if failure.errno.isPermissionError {
                if privileged, let refusal {
                    return .kernelRefused(operation: "attach \(kind) program \(function) to \(target)", errno: failure.errno,
                                          detail: failure.output, hint: refusal)
                }
                return .permissionDenied(operation: operation ?? "attaching \(kind) \(target)", errno: failure.errno)
            }
            return .attachFailed(kind: kind, target: target, function: function, errno: failure.errno,
                                 detail: failure.output, hint: hint)
        case let .system(name, operation):
            if let operation, failure.errno.isPermissionError {
                return .permissionDenied(operation: operation, errno: failure.errno)
            }
            let output = failure.output.trimmingTrailingNewlines
            let detail = switch (hint, output.isEmpty) {
            case (nil, _): output
            case (let hint?, true): hint
            case (let hint?, false): "\(hint) (\(output))"
            }
            return .systemCall(name: name, errno: failure.errno, detail: detail)
        }
    }

    /// `from(_:_:hint:refusal:privileged:)` with this process's privileges.
    static func from(_ attempt: Attempt, _ failure: CallFailure, hint: String? = nil, refusal: String? = nil) -> BPFError {
        from(attempt, failure, hint: hint, refusal: refusal, privileged: Privileges.hasBPFCapabilities)
    }
}
