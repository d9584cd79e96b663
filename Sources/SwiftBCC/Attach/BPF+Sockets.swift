internal import CBCC
import Glibc

extension BPF {
    /// Opens a raw packet socket bound to `dev` (every device when empty) and attaches socket
    /// filter `fn` (loaded as `.socketFilter`) to it. Returns the socket's fd: read packets
    /// from it. The socket belongs to this `BPF` and is closed by `cleanup()`.
    ///
    /// Python: `BPF.attach_raw_socket(fn, dev)` (which stores the socket in `fn.sock`);
    /// libbcc: `bpf_open_raw_sock`, `bpf_attach_socket`.
    @discardableResult
    public func attachRawSocket(fn: Function, dev: String) throws -> Int32 {
        try state.withLock { s in
            guard s.functions[FunctionKey(name: fn.name, type: fn.type)] == fn else {
                if s.module == nil { throw BPFError.closed }
                throw BPFError.invalidArgument("attachRawSocket needs a function this BPF object loaded, e.g. "
                    + "b.loadFunction(\"\(fn.name)\", type: .socketFilter).")
            }
            let target = dev.isEmpty ? "(all devices)" : dev
            let sock: Int32
            switch LibBCC.call("bpf_open_raw_sock", { bpf_open_raw_sock(dev) }) {
            case .success(let fd): sock = fd
            case .failure(let failure):
                throw BPFError.from(.attach(kind: "raw socket", target: target, function: fn.name,
                                            operation: "opening a raw socket on \(dev)"), failure,
                                    hint: if_nametoindex(dev) == 0 && !dev.isEmpty ? "there is no network device \(dev) (see ip link)" : nil)
            }
            if case .failure(let failure) = LibBCC.call("bpf_attach_socket", { bpf_attach_socket(sock, fn.fd) }) {
                Glibc.close(sock)
                throw BPFError.from(.attach(kind: "raw socket", target: target, function: fn.name), failure,
                                    hint: failure.errno == .EINVAL ? "\(fn.name) must be loaded as .socketFilter" : nil)
            }
            s.attachments.put(RawSocketAttachment(socket: sock))
            return sock
        }
    }

    /// Attaches `fn` to `attachableFD` (a cgroup, socket map, ...) with `BPF_PROG_ATTACH`.
    /// Python: `BPF.attach_func(fn, attachable_fd, attach_type, flags=0)`; libbcc: `bpf_prog_attach`.
    public static func attachFunction(_ fn: Function, attachableFD: Int32, attachType: AttachType, flags: UInt32 = 0) throws {
        let attached = LibBCC.call("BPF_PROG_ATTACH") { swiftbcc_prog_attach(fn.fd, attachableFD, attachType.rawValue, flags) }
        if case .failure(let failure) = attached {
            throw BPFError.attachFailed(kind: "attach type \(attachType.rawValue)", target: "fd \(attachableFD)",
                                        function: fn.name, errno: failure.errno, detail: "", hint: nil)
        }
    }

    /// Detaches `fn` from `attachableFD`. Python: `BPF.detach_func(fn, attachable_fd, attach_type)`;
    /// libbcc: `bpf_prog_detach2`.
    public static func detachFunction(_ fn: Function, attachableFD: Int32, attachType: AttachType) throws {
        let detached = LibBCC.call("BPF_PROG_DETACH") { swiftbcc_prog_detach(fn.fd, attachableFD, attachType.rawValue) }
        if case .failure(let failure) = detached {
            throw BPFError.from(.system(name: "BPF_PROG_DETACH(\(fn.name))"), failure,
                                hint: "check that \(fn.name) is attached to that fd with that attach type")
        }
    }

}

/// A raw packet socket `attachRawSocket` opened with a socket filter on it; detaching closes it.
struct RawSocketAttachment: Attachment {
    static let family = AttachmentFamily.rawSocket
    let socket: Int32
    var key: String { String(socket) }

    func detach() { Glibc.close(socket) }
}
