internal import CBCC
import Glibc

extension BPF {
    /// Attaches `fn` (a function of this `BPF` loaded as `.xdp`) to network device `dev` at
    /// the driver level (XDP). Unlike Python BCC, the program is removed from the device again
    /// by `cleanup()` (and so at process exit), unless `removeXDP` was called first.
    ///
    /// Python: `BPF.attach_xdp(dev, fn, flags=0)`; libbcc: `bpf_attach_xdp`.
    public func attachXDP(dev: String, fn: Function, flags: XDPFlags = []) throws {
        try lock.withLock {
            guard functions[FunctionKey(name: fn.name, type: fn.type)] == fn else {
                throw BPFError.invalidArgument("attachXDP needs a function this BPF object loaded, e.g. "
                    + "b.loadFunction(\"\(fn.name)\", type: .xdp).")
            }
            guard fn.type == .xdp else {
                throw BPFError.invalidArgument("attachXDP needs a function loaded as .xdp; \(fn.name) was loaded as \(fn.type).")
            }
            try Self.setXDP(dev: dev, fd: fn.fd, flags: flags, function: fn.name)
            xdpDevices[dev] = flags
        }
    }

    /// Loads `fnName` as `.xdp` and attaches it to `dev`; see ``attachXDP(dev:fn:flags:)``.
    public func attachXDP(dev: String, fnName: String, flags: XDPFlags = []) throws {
        try withFunction(fnName, type: .xdp) { fn in try attachXDP(dev: dev, fn: fn, flags: flags) }
    }

    /// Removes the XDP program from `dev` (whoever attached it) and, if this `BPF` attached
    /// it, forgets it. Python: `BPF.remove_xdp(dev, flags=0)`; libbcc: `bpf_attach_xdp(dev, -1, flags)`.
    public func removeXDP(dev: String, flags: XDPFlags = []) throws {
        try lock.withLock {
            try Self.removeXDP(dev: dev, flags: flags)
            xdpDevices.removeValue(forKey: dev)
        }
    }

    /// Removes any XDP program from `dev`. Python: `BPF.remove_xdp(dev, flags=0)`.
    public static func removeXDP(dev: String, flags: XDPFlags = []) throws {
        try setXDP(dev: dev, fd: -1, flags: flags.subtracting([.updateIfNoExist, .replace]), function: nil)
    }

    /// The devices this `BPF` has attached XDP programs to.
    public var xdpAttachedDevices: [String] { lock.withLock { xdpDevices.keys.sorted() } }

    private static func setXDP(dev: String, fd: Int32, flags: XDPFlags, function: String?) throws {
        guard !dev.isEmpty else { throw BPFError.invalidArgument("XDP needs a network device name, e.g. \"eth0\".") }
        let ((res, err), output) = StderrCapture.capture { () -> (Int32, Int32) in
            let r = bpf_attach_xdp(dev, fd, flags.rawValue)
            return (r, errno)
        }
        guard res < 0 else { return }
        let kind = "XDP device"
        if output.text.contains("Nonexistent interface") || if_nametoindex(dev) == 0 {
            throw BPFError.attachFailed(kind: kind, target: dev, function: function ?? "(remove)", errno: ENODEV,
                                        detail: output.text, hint: "there is no network device \(dev) in this network "
                                            + "namespace (see ip link)")
        }
        if err == EPERM || err == EACCES {
            throw BPFError.permissionDenied(operation: function == nil ? "removing XDP from \(dev)" : "attaching XDP to \(dev)",
                                            errno: err)
        }
        let hint: String? = switch err {
        case EBUSY, EEXIST: "another XDP program is attached to \(dev); remove it first (BPF.removeXDP) or drop .updateIfNoExist"
        case EOPNOTSUPP: "the driver of \(dev) has no native XDP support: use flags: .skbMode (generic XDP)"
        case EBADMSG: "libbcc failed internally talking netlink; retry with debug flags"
        case ERANGE, EINVAL: "the device's MTU or settings do not allow XDP in this mode; try .skbMode"
        default: nil
        }
        throw BPFError.attachFailed(kind: kind, target: dev, function: function ?? "(remove)", errno: err,
                                    detail: output.text, hint: hint)
    }

    /// cleanup(): removes the XDP programs this BPF attached (called with the lock held).
    func removeXDPForCleanup() {
        for (dev, flags) in xdpDevices {
            _ = StderrCapture.capture { bpf_attach_xdp(dev, -1, flags.subtracting([.updateIfNoExist, .replace]).rawValue) }
        }
        xdpDevices.removeAll()
    }
}
