internal import CBCC
import Glibc

extension BPF {
    /// Attaches `fn` (a function of this `BPF` loaded as `.xdp`) to network device `dev` at
    /// the driver level (XDP). Unlike Python BCC, the program is removed from the device again
    /// by `cleanup()` (and so at process exit), unless `removeXDP` was called first.
    ///
    /// The attachment is a BPF link (`BPF_LINK_CREATE`, Linux 5.9+) owned by this process: the
    /// kernel removes the program from the device when the process ends, however it ends
    /// (SIGKILL included). With `.replace` or `.updateIfNoExist`, which only netlink has, or on
    /// kernels without XDP links, it goes through netlink as Python does (one warning line
    /// says so): the program then stays on the device if the process is killed.
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
        try s.attachments.ensureAbsent(XDPAttachment.self, dev, kind: "XDP device", target: dev)
        if flags.isDisjoint(with: [.replace, .updateIfNoExist]) {
            switch Self.linkXDP(dev: dev, fd: fn.fd, flags: flags, function: fn.name) {
            case .success(let link):
                s.attachments.put(XDPAttachment(device: dev, flags: flags, linkFD: link))
                return
            case .failure(.attachFailed(_, _, _, let code, _, _)) where Self.noXDPLinks.contains(code):
                warnOnce("SwiftBCC warning: this kernel cannot attach XDP through a BPF link (BPF_LINK_CREATE: \(code)); "
                    + "attaching through netlink instead: the program stays on \(dev) if this process is killed")
            case .failure(let error):
                throw error
            }
        }
        try Self.setXDP(dev: dev, fd: fn.fd, flags: flags, function: fn.name)
        s.attachments.put(XDPAttachment(device: dev, flags: flags, linkFD: nil))
    }

    /// Loads `fnName` as `.xdp` and attaches it to `dev`; see ``attachXDP(dev:fn:flags:)``.
    public func attachXDP(dev: String, fnName: String, flags: XDPFlags = []) throws {
        try state.withLock { s in
            try withFunction(&s, fnName, type: .xdp) { s, fn in try attachXDP(&s, dev: dev, fn: fn, flags: flags) }
        }
    }

    /// Removes the XDP program from `dev`: this `BPF`'s (closing its link), or else whoever's
    /// was attached through netlink. Python: `BPF.remove_xdp(dev, flags=0)`; libbcc:
    /// `bpf_attach_xdp(dev, -1, flags)`.
    public func removeXDP(dev: String, flags: XDPFlags = []) throws {
        try state.withLock { s in
            if let mine = try? s.attachments.remove(XDPAttachment.self, dev, kind: "XDP device", target: dev) {
                mine.detach()
                return
            }
            try Self.removeXDP(dev: dev, flags: flags)
        }
    }

    /// The errors of a kernel that has no XDP links (before 5.9): netlink is the way there.
    static let noXDPLinks: [Errno] = [.EINVAL, .EOPNOTSUPP, .ENOSYS, .ENOTSUPP]

    /// Attaches through `BPF_LINK_CREATE`; the link fd owns the attachment.
    static func linkXDP(dev: String, fd: Int32, flags: XDPFlags, function: String) -> Result<Int32, BPFError> {
        guard !dev.isEmpty else { return .failure(.invalidArgument("XDP needs a network device name, e.g. \"eth0\".")) }
        let attempt = Attempt.attach(kind: "XDP device", target: dev, function: function, operation: "attaching XDP to \(dev)")
        let ifindex = if_nametoindex(dev)
        guard ifindex != 0 else {
            return .failure(.from(attempt, CallFailure(call: "if_nametoindex", errno: .ENODEV, output: ""),
                                  hint: "there is no network device \(dev) in this network namespace (see ip link)"))
        }
        let linked = LibBCC.call("BPF_LINK_CREATE") {
            swiftbcc_link_create(fd, Int32(bitPattern: ifindex), swiftbcc_attach_type_xdp(),
                                 flags.subtracting([.updateIfNoExist, .replace]).rawValue)
        }
        return linked.mapError { .from(attempt, $0, hint: xdpHint($0.errno, dev: dev)) }
    }

    static func xdpHint(_ code: Errno, dev: String) -> String? {
        switch code {
        case .EBUSY, .EEXIST: "another XDP program is attached to \(dev); remove it first (BPF.removeXDP) or drop .updateIfNoExist"
        case .EOPNOTSUPP: "the driver of \(dev) has no native XDP support: use flags: .skbMode (generic XDP)"
        case .EBADMSG: "libbcc failed internally talking netlink; retry with debug flags"
        case .ERANGE, .EINVAL: "the device's MTU or settings do not allow XDP in this mode; try .skbMode"
        default: nil
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
        var hint = xdpHint(failure.errno, dev: dev)
        if function == nil && failure.errno == .EBUSY {
            hint = "the program on \(dev) was attached through a BPF link by another process: it goes when that process "
                + "closes the link or exits"
        }
        throw BPFError.from(attempt, failure, hint: hint)
    }
}

/// An XDP program this `BPF` put on a device: through a BPF link (closing the link fd
/// detaches it, and the kernel does so when the process dies), or through netlink where links
/// are not available (detaching removes whatever XDP program the device has in that mode).
struct XDPAttachment: Attachment {
    static let family = AttachmentFamily.xdp
    let device: String
    let flags: XDPFlags
    /// The BPF link, or nil for a netlink attachment.
    let linkFD: Int32?
    var key: String { device }

    func detach() {
        if let linkFD {
            Glibc.close(linkFD)
        } else {
            LibBCC.quietly { bpf_attach_xdp(device, -1, flags.subtracting([.updateIfNoExist, .replace]).rawValue) }
        }
    }
}
