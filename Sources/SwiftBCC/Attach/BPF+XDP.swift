internal import CBCC
import Glibc

extension BPF {
    /// Attaches `fn` (a function of this `BPF` loaded as `.xdp`) to network device `dev` at
    /// the driver level (XDP). Unlike Python BCC, the program is removed from the device again
    /// by `cleanup()` (and so at process exit), unless `removeXDP` was called first.
    ///
    /// Python: `BPF.attach_xdp(dev, fn, flags=0)`; libbcc: `bpf_attach_xdp`.
    public func attachXDP(dev: String, fn: Function, flags: XDPFlags = []) throws {
        try state.withLock { s in
            guard s.functions[FunctionKey(name: fn.name, type: fn.type)] == fn else {
                if s.module == nil { throw BPFError.closed }
                throw BPFError.invalidArgument("attachXDP needs a function this BPF object loaded, e.g. "
                    + "b.loadFunction(\"\(fn.name)\", type: .xdp).")
            }
            try attachXDP(&s, dev: dev, fn: fn, flags: flags)
        }
    }

    private func attachXDP(_ s: inout State, dev: String, fn: Function, flags: XDPFlags) throws {
        guard fn.type == .xdp else {
            throw BPFError.invalidArgument("attachXDP needs a function loaded as .xdp; \(fn.name) was loaded as \(fn.type).")
        }
        try Self.setXDP(dev: dev, fd: fn.fd, flags: flags, function: fn.name)
        s.attachments.put(XDPAttachment(device: dev, flags: flags))
    }

    /// Loads `fnName` as `.xdp` and attaches it to `dev`; see ``attachXDP(dev:fn:flags:)``.
    public func attachXDP(dev: String, fnName: String, flags: XDPFlags = []) throws {
        try state.withLock { s in
            try withFunction(&s, fnName, type: .xdp) { s, fn in try attachXDP(&s, dev: dev, fn: fn, flags: flags) }
        }
    }

    /// Removes the XDP program from `dev` (whoever attached it) and, if this `BPF` attached
    /// it, forgets it. Python: `BPF.remove_xdp(dev, flags=0)`; libbcc: `bpf_attach_xdp(dev, -1, flags)`.
    public func removeXDP(dev: String, flags: XDPFlags = []) throws {
        try state.withLock { s in
            try Self.removeXDP(dev: dev, flags: flags)
            _ = try? s.attachments.remove(XDPAttachment.self, dev, kind: "XDP device", target: dev)
        }
    }

    /// Removes any XDP program from `dev`. Python: `BPF.remove_xdp(dev, flags=0)`.
    public static func removeXDP(dev: String, flags: XDPFlags = []) throws {
        try setXDP(dev: dev, fd: -1, flags: flags.subtracting([.updateIfNoExist, .replace]), function: nil)
    }

    /// The devices this `BPF` has attached XDP programs to.
    public var xdpAttachedDevices: [String] { state.withLock { $0.attachments.all(XDPAttachment.self).map(\.device).sorted() } }

    private static func setXDP(dev: String, fd: Int32, flags: XDPFlags, function: String?) throws {
        guard !dev.isEmpty else { throw BPFError.invalidArgument("XDP needs a network device name, e.g. \"eth0\".") }
        guard case .failure(let failure) = LibBCC.call("bpf_attach_xdp", { bpf_attach_xdp(dev, fd, flags.rawValue) }) else {
            return
        }
        let kind = "XDP device"
        let attempt = Attempt.attach(kind: kind, target: dev, function: function ?? "(remove)",
                                     operation: function == nil ? "removing XDP from \(dev)" : "attaching XDP to \(dev)")
        if failure.output.contains("Nonexistent interface") || if_nametoindex(dev) == 0 {
            throw BPFError.from(attempt, CallFailure(call: failure.call, errno: .ENODEV, output: failure.output),
                                hint: "there is no network device \(dev) in this network namespace (see ip link)")
        }
        let hint: String? = switch failure.errno {
        case .EBUSY, .EEXIST: "another XDP program is attached to \(dev); remove it first (BPF.removeXDP) or drop .updateIfNoExist"
        case .EOPNOTSUPP: "the driver of \(dev) has no native XDP support: use flags: .skbMode (generic XDP)"
        case .EBADMSG: "libbcc failed internally talking netlink; retry with debug flags"
        case .ERANGE, .EINVAL: "the device's MTU or settings do not allow XDP in this mode; try .skbMode"
        default: nil
        }
        throw BPFError.from(attempt, failure, hint: hint)
    }
}

/// An XDP program this `BPF` put on a device (through netlink); detaching removes whatever
/// XDP program the device has in that mode.
struct XDPAttachment: Attachment {
    static let family = AttachmentFamily.xdp
    let device: String
    let flags: XDPFlags
    var key: String { device }

    func detach() {
        LibBCC.quietly { bpf_attach_xdp(device, -1, flags.subtracting([.updateIfNoExist, .replace]).rawValue) }
    }
}
