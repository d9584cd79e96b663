import Glibc
@testable import SwiftBCC
import Testing

/// The one mapping from a failed libbcc call to a `BPFError`, and the attachment store, fed
/// made-up failures: no kernel needed.
@Suite("Error mapping and the attachment store")
struct ErrorMappingTests {
    static let verifierLog = """
        bpf: Failed to load program: Permission denied
        0: (b7) r0 = 0
        1: (95) exit
        R0 !read_ok
        processed 2 insns (limit 1000000)
        """

    @Test("a load failure keeps the errno and the verifier log; EPERM without a log asks for privileges")
    func loadFailures() {
        let attempt = Attempt.load(function: "hello", type: .kprobe)
        let denied = BPFError.from(attempt, CallFailure(call: "bcc_func_load", errno: .EPERM, output: ""), privileged: false)
        #expect(denied == .loadFailed(function: "hello", type: .kprobe, errno: .EPERM, verifierLog: ""))
        #expect(denied.description.contains("Operation not permitted (EPERM)"))
        #expect(denied.description.contains("need super-user privileges"))

        let rejected = BPFError.from(attempt, CallFailure(call: "bcc_func_load", errno: .EACCES, output: Self.verifierLog),
                                     privileged: true)
        guard case let .loadFailed(_, _, code, log) = rejected else { Issue.record("got \(rejected)"); return }
        #expect(code == .EACCES && log == Self.verifierLog)
        #expect(rejected.description.contains("the verifier says \"R0 !read_ok\" (its log follows)"))
        #expect(rejected.description.contains("R0 !read_ok"))

        // libbcc's own E2BIG line is not a verifier log either: no log is promised.
        let tooBig = BPFError.from(attempt, CallFailure(call: "bcc_func_load", errno: .E2BIG,
                                                        output: "bpf: Argument list too long. Program hello too large (2 insns), at most 4096 insns\n\n"),
                                   privileged: true)
        #expect(tooBig.description.contains("Argument list too long (E2BIG)"))
        #expect(tooBig.description.contains("too large without a verifier log"))
        #expect(!tooBig.description.contains("log follows") && !tooBig.description.contains("verifier says"))

        // libbcc's own first line is not a verifier log.
        let onlyLibbcc = BPFError.from(attempt, CallFailure(call: "bcc_func_load", errno: .EINVAL,
                                                            output: "bpf: Failed to load program: Invalid argument\n"),
                                       privileged: true)
        #expect(onlyLibbcc.description.contains("Invalid argument (EINVAL)"))
        #expect(onlyLibbcc.description.contains("the kernel gave no verifier log"))
    }

    @Test("attach failures: EPERM is a privilege error, or the kernel's refusal when privileged and the family knows why")
    func attachFailures() {
        let attempt = Attempt.attach(kind: "kfunc", target: "vfs_read", function: "kfunc__vfs_read")
        let failure = CallFailure(call: "bpf_attach_kfunc", errno: .EPERM, output: "libbpf: prog 'x': failed\n")
        #expect(BPFError.from(attempt, failure, refusal: "lockdown forbids it", privileged: false)
                == .permissionDenied(operation: "attaching kfunc vfs_read", errno: .EPERM))
        #expect(BPFError.from(attempt, failure, refusal: "lockdown forbids it", privileged: true)
                == .kernelRefused(operation: "attach kfunc program kfunc__vfs_read to vfs_read", errno: .EPERM,
                                  detail: failure.output, hint: "lockdown forbids it"))
        // Without a known refusal a privileged EPERM is still a permission error.
        #expect(BPFError.from(attempt, failure, privileged: true)
                == .permissionDenied(operation: "attaching kfunc vfs_read", errno: .EPERM))

        let custom = Attempt.attach(kind: "perf event", target: "type 1 config 0 on CPU 0", function: "f",
                                    operation: "opening perf event type 1 config 0 on CPU 0")
        #expect(BPFError.from(custom, CallFailure(call: "bpf_attach_perf_event", errno: .EACCES, output: ""), privileged: false)
                == .permissionDenied(operation: "opening perf event type 1 config 0 on CPU 0", errno: .EACCES))

        let missing = BPFError.from(Attempt.attach(kind: "uprobe", target: "f in /x", function: "g"),
                                    CallFailure(call: "bpf_attach_uprobe", errno: .ENOENT, output: "cannot open /x\n"),
                                    hint: "/x does not exist", privileged: true)
        #expect(missing == .attachFailed(kind: "uprobe", target: "f in /x", function: "g", errno: .ENOENT,
                                         detail: "cannot open /x\n", hint: "/x does not exist"))
        #expect(missing.description == "Failed to attach BPF program g to uprobe f in /x: No such file or directory (ENOENT); "
                + "/x does not exist.\ncannot open /x")
        let invalid = BPFError.from(Attempt.attach(kind: "tracepoint", target: "a:b", function: "g"),
                                    CallFailure(call: "bpf_attach_tracepoint", errno: .EINVAL, output: ""), privileged: true)
        #expect(invalid.description.hasPrefix("Failed to attach BPF program g to tracepoint a:b: Invalid argument (EINVAL); check"))
    }

    @Test("other calls: permission errors name the operation, others the call, the hint and libbcc's text")
    func systemFailures() {
        let open = Attempt.system(name: "open(/sys/kernel/tracing/trace_pipe)", operation: "opening trace_pipe")
        #expect(BPFError.from(open, CallFailure(call: "open", errno: .EACCES, output: ""), privileged: false)
                == .permissionDenied(operation: "opening trace_pipe", errno: .EACCES))
        #expect(BPFError.from(open, CallFailure(call: "open", errno: .ENOENT, output: ""), hint: "cannot read it", privileged: false)
                == .systemCall(name: "open(/sys/kernel/tracing/trace_pipe)", errno: .ENOENT, detail: "cannot read it"))
        let detach = BPFError.from(.system(name: "bpf_detach_kprobe(p_x)"),
                                   CallFailure(call: "bpf_detach_kprobe", errno: .ENOENT, output: "no such event\n"),
                                   privileged: true)
        #expect(detach == .systemCall(name: "bpf_detach_kprobe(p_x)", errno: .ENOENT, detail: "no such event"))
        let both = BPFError.from(.system(name: "bpf_add_ringbuf(events)"),
                                 CallFailure(call: "bpf_add_ringbuf", errno: .ENOMEM, output: "libbpf: failed\n"),
                                 hint: "could not open the ring buffer", privileged: true)
        #expect(both.description == "bpf_add_ringbuf(events) failed: Cannot allocate memory (ENOMEM); "
                + "could not open the ring buffer (libbpf: failed).")
    }

    @Test("Errno has glibc's names and texts, matches Glibc constants, and names ENOTSUPP")
    func errnoValues() {
        #expect(Errno.EPERM.name == "EPERM" && Errno.EPERM.text == "Operation not permitted")
        #expect(Errno(ENOENT).description == "No such file or directory (ENOENT)")
        #expect(Errno(Glibc.EXDEV).name == "EXDEV")
        #expect(Errno.ENOTSUPP.name == "ENOTSUPP")
        #expect(Errno(-12345).name == "errno -12345")
        #expect(Errno.EBUSY == EBUSY && EBUSY == Errno.EBUSY && Errno.EBUSY != EPERM)
        #expect(Errno.EACCES.isPermissionError && Errno.EPERM.isPermissionError && !Errno.EINVAL.isPermissionError)
        let matched: Bool = switch BPFError.systemCall(name: "x", errno: .ENODEV, detail: "") {
        case .systemCall(_, ENODEV, _): true
        default: false
        }
        #expect(matched)
    }

    struct FakeAttachment: SwiftBCC.Attachment {
        static let family = AttachmentFamily.tracepoint
        let key: String
        let log: LockedBox<[String]>
        func detach() { log.withLock { $0.append(key) } }
    }

    struct OtherFamily: SwiftBCC.Attachment {
        static let family = AttachmentFamily.uprobe
        let key: String
        func detach() {}
    }

    @Test("the attachment store: already attached, not attached, counts per family, newest first at cleanup")
    func store() throws {
        let log = LockedBox<[String]>([])
        var store = AttachmentStore()
        store.put(FakeAttachment(key: "a:one", log: log))
        store.put(FakeAttachment(key: "a:two", log: log))
        store.put(OtherFamily(key: "a:one"))
        #expect(store.count(.tracepoint) == 2 && store.count(.uprobe) == 1 && store.count(.kprobe) == 0)
        #expect(throws: BPFError.alreadyAttached(kind: "tracepoint", target: "a:one")) {
            try store.ensureAbsent(FakeAttachment.self, "a:one", kind: "tracepoint", target: "a:one")
        }
        #expect(throws: BPFError.notAttached(kind: "tracepoint", target: "a:three")) {
            _ = try store.remove(FakeAttachment.self, "a:three", kind: "tracepoint", target: "a:three")
        }
        // Replacing keeps the place in the order.
        store.put(FakeAttachment(key: "a:one", log: log))
        store.put(FakeAttachment(key: "a:three", log: log))
        #expect(store.all(FakeAttachment.self).map(\.key) == ["a:one", "a:two", "a:three"])
        let removed = try store.remove(FakeAttachment.self, "a:two", kind: "tracepoint", target: "a:two")
        removed.detach()
        for a in store.removeAll() { a.detach() }
        #expect(store.isEmpty)
        #expect(log.withLock { $0 } == ["a:two", "a:three", "a:one"])
    }
}
