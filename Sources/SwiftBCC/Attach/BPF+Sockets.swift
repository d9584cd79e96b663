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
        try lock.withLock {
            guard functions[FunctionKey(name: fn.name, type: fn.type)] == fn else {
                throw BPFError.invalidArgument("attachRawSocket needs a function this BPF object loaded, e.g. "
                    + "b.loadFunction(\"\(fn.name)\", type: .socketFilter).")
            }
            let ((sock, openErr), openOutput) = StderrCapture.capture { () -> (Int32, Int32) in
                let s = bpf_open_raw_sock(dev)
                return (s, errno)
            }
            guard sock >= 0 else {
                if openErr == EPERM || openErr == EACCES {
                    throw BPFError.permissionDenied(operation: "opening a raw socket on \(dev)", errno: openErr)
                }
                throw BPFError.attachFailed(kind: "raw socket", target: dev.isEmpty ? "(all devices)" : dev, function: fn.name,
                                            errno: openErr, detail: openOutput.text,
                                            hint: if_nametoindex(dev) == 0 && !dev.isEmpty
                                                ? "there is no network device \(dev) (see ip link)" : nil)
            }
            let r = bpf_attach_socket(sock, fn.fd)
            guard r >= 0 else {
                let err = errno
                Glibc.close(sock)
                throw BPFError.attachFailed(kind: "raw socket", target: dev, function: fn.name, errno: err, detail: "",
                                            hint: err == EINVAL ? "\(fn.name) must be loaded as .socketFilter" : nil)
            }
            rawSockets.append(sock)
            return sock
        }
    }

    /// Attaches `fn` to `attachableFD` (a cgroup, socket map, ...) with `BPF_PROG_ATTACH`.
    /// Python: `BPF.attach_func(fn, attachable_fd, attach_type, flags=0)`; libbcc: `bpf_prog_attach`.
    public static func attachFunction(_ fn: Function, attachableFD: Int32, attachType: AttachType, flags: UInt32 = 0) throws {
        if swiftbcc_prog_attach(fn.fd, attachableFD, attachType.rawValue, flags) < 0 {
            let err = errno
            throw BPFError.attachFailed(kind: "attach type \(attachType.rawValue)", target: "fd \(attachableFD)",
                                        function: fn.name, errno: err, detail: "", hint: nil)
        }
    }

    /// Detaches `fn` from `attachableFD`. Python: `BPF.detach_func(fn, attachable_fd, attach_type)`;
    /// libbcc: `bpf_prog_detach2`.
    public static func detachFunction(_ fn: Function, attachableFD: Int32, attachType: AttachType) throws {
        if swiftbcc_prog_detach(fn.fd, attachableFD, attachType.rawValue) < 0 {
            throw BPFError.systemCall(name: "BPF_PROG_DETACH(\(fn.name))", errno: errno,
                                      detail: "check that \(fn.name) is attached to that fd with that attach type")
        }
    }

    /// cleanup(): closes the raw sockets this BPF opened (called with the lock held).
    func closeRawSocketsForCleanup() {
        for s in rawSockets { Glibc.close(s) }
        rawSockets.removeAll()
    }
}
