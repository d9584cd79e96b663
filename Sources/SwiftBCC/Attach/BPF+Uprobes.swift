internal import CBCC
import Glibc

/// One uprobe or uretprobe a `BPF` attached: where it sits and how the target was resolved.
public struct UprobeAttachment: Hashable, Sendable, CustomStringConvertible {
    /// libbcc's event name, e.g. `p__usr_lib_x86_64_linux_gnu_libc_so_6_0x9f1c0` (`_<pid>` appended for a pid).
    public let eventName: String
    /// True for a uretprobe.
    public let isReturn: Bool
    /// The binary the probe is in (`/proc/<pid>/root/...` when attached for a pid).
    public let path: String
    /// The file offset the probe sits at.
    public let offset: UInt64
    /// The process the probe is limited to, or -1 for every process.
    public let pid: Int32
    /// The BPF function that runs.
    public let fnName: String
    /// The symbol asked for, if the probe was placed by symbol.
    public let symbol: String?
    /// Set when `symbol` is an IFUNC: how it was resolved to this CPU's implementation.
    public let ifunc: IFUNCResolution?

    /// One line saying what the probe is: `uprobe strlen in /usr/lib/... at file offset 0x...`, and
    /// how an IFUNC was resolved.
    public var description: String {
        var s = "\(isReturn ? "uretprobe" : "uprobe") \(symbol ?? "0x" + String(offset, radix: 16)) in \(path) "
            + "at file offset 0x\(String(offset, radix: 16))"
        if pid >= 0 { s += " for pid \(pid)" }
        s += " running \(fnName)"
        if let ifunc { s += " (\(ifunc))" }
        return s
    }
}

/// A uprobe's perf event fd and its libbcc event; detaching closes the fd and removes the
/// event (`bpf_detach_uprobe`).
struct UprobeLink: Attachment {
    static let family = AttachmentFamily.uprobe
    let attachment: UprobeAttachment
    let fd: PerfEventFD
    var key: String { attachment.eventName }

    func detach() {
        fd.close()
        LibBCC.quietly { bpf_detach_uprobe(attachment.eventName) }
    }

    /// `detach()`, reporting a failure to remove the event (for `detachUprobe`).
    func detachChecked() throws {
        fd.close()
        if case .failure(let failure) = LibBCC.call("bpf_detach_uprobe", { bpf_detach_uprobe(attachment.eventName) }) {
            throw BPFError.from(.system(name: "bpf_detach_uprobe(\(attachment.eventName))"), failure)
        }
    }
}

extension BPF {
    /// Default number of probes a regex attach may open, as Python's `_default_probe_limit`;
    /// `BCC_PROBE_LIMIT` overrides it.
    public static var probeLimit: Int {
        if let env = getenv("BCC_PROBE_LIMIT"), let n = Int(String(cString: env)) { return n }
        return 1000
    }

    static func checkProbeQuota(_ new: Int, open: Int) throws {
        if open + new > probeLimit {
            throw BPFError.invalidArgument("Attaching \(new) more probes would exceed the probe limit of \(probeLimit) "
                + "(\(open) open); narrow the regular expression or raise BCC_PROBE_LIMIT.")
        }
    }

    /// Throws when `pid` (> 0) names no process: the attach would otherwise fail resolving the
    /// binary or symbol inside `/proc/<pid>/root`, with an error about the symbol.
    static func requireProcess(_ pid: Int32, kind: String, target: String, function: String) throws {
        guard pid > 0, kill(pid, 0) != 0, errno == ESRCH else { return }
        throw BPFError.attachFailed(kind: kind, target: target, function: function, errno: .ESRCH, detail: "",
                                    hint: "there is no process \(pid) (it may have exited): give the pid of a running process, "
                                        + "or -1 for every process")
    }

    /// Python's `_get_uprobe_evname`: `<p|r>_<path with non-alphanumerics as _>_0x<offset>[_<pid>]`.
    static func uprobeEventName(isReturn: Bool, path: String, offset: UInt64, pid: Int32) -> String {
        let cleaned = String(path.map { c -> Character in
            c.isASCII && (c.isLetter || c.isNumber || c == "_") ? c : "_"
        })
        var name = "\(isReturn ? "r" : "p")_\(cleaned)_0x\(String(offset, radix: 16))"
        if pid != -1 { name += "_\(pid)" }
        return name
    }

    /// Where a uprobe goes: module path, file offset, the symbol asked for and its IFUNC resolution.
    struct UprobeTarget {
        let path: String
        let offset: UInt64
        let symbol: String?
        let ifunc: IFUNCResolution?
    }

    /// Resolves `name` + `sym` (or `addr`) + `symOff` to a file offset, as Python's
    /// `_check_path_symbol`, and an IFUNC symbol to this CPU's implementation.
    static func uprobeTarget(name: String, sym: String?, addr: UInt64?, pid: Int32, symOff: UInt64,
                             resolveIFUNC: Bool = true) throws -> UprobeTarget {
        if addr != nil && symOff != 0 {
            throw BPFError.invalidArgument("symOff cannot be combined with addr: give the address of the instruction itself.")
        }
        let symbol = sym.flatMap { $0.isEmpty ? nil : $0 }
        guard symbol != nil || addr != nil else {
            throw BPFError.invalidArgument("A uprobe needs a symbol (sym:), a regular expression (symRe:) or an address (addr:) in \(name).")
        }
        let binary = try resolveBinary(name, pid: pid)
        guard let (module, offset) = resolveSymbolOffset(path: binary, symbol: symbol, addr: addr ?? 0, pid: pid) else {
            if let symbol { throw BPFError.symbolNotFound(symbol: symbol, binary: binary) }
            throw BPFError.invalidArgument("Address 0x\(String(addr ?? 0, radix: 16)) is in no loadable segment of \(binary); "
                + "give a virtual address as in the ELF file (nm/readelf), not a runtime address.")
        }
        var ifunc: IFUNCResolution?
        var base = offset
        if resolveIFUNC, let symbol, let resolver = ifuncResolverOffset(path: binary, symbol: symbol, pid: pid),
           resolver == offset {
            let r = Self.resolveIFUNC(path: module, symbol: symbol, resolverOffset: offset)
            ifunc = r
            if let impl = r.implementationOffset {
                base = impl
            } else {
                warnOnce("SwiftBCC warning: \(r)")
            }
        }
        let (finalOffset, overflow) = base.addingReportingOverflow(symOff)
        if overflow {
            throw BPFError.invalidArgument("symOff 0x\(String(symOff, radix: 16)) added to the offset "
                + "0x\(String(base, radix: 16)) of \(symbol ?? "the address") in \(binary) overflows 64 bits; "
                + "give the offset from the start of the function.")
        }
        return UprobeTarget(path: module, offset: finalOffset, symbol: symbol, ifunc: ifunc)
    }

    /// Runs BPF function `fnName` (loaded as `.kprobe`) whenever a process executes function
    /// `sym` (or address `addr`, plus `symOff` bytes) of binary `name`.
    ///
    /// - `name`: a library name (`"c"` finds libc through ld.so.cache), a path, or an
    ///   executable in `$PATH`.
    /// - `symRe`: attach to every function whose name matches this regular expression instead;
    ///   all or nothing (when one attach fails, those before it are detached and the error is
    ///   thrown), as `attachTracepoint(tpRe:)`.
    /// - `addr`: the ELF virtual address (non-PIE) or offset from the load address (PIE and
    ///   libraries), in place of `sym`.
    /// - `pid`: only in this process (-1: every process using the binary).
    ///
    /// An IFUNC symbol (glibc 2.36's `strlen`) in a library this process has loaded too is
    /// resolved to the implementation the dynamic loader picks on this CPU, so the probe sees
    /// real calls; in any other library the probe sits on the resolver, as in Python BCC, with
    /// one warning line. The attachment's ``UprobeAttachment/ifunc`` says which (``IFUNCResolution``).
    /// libbcc's `bpf_attach_uprobe` gets all its arguments (`ref_ctr_offset` 0, unlike Python: bcc#5236).
    ///
    /// Python: `b.attach_uprobe(name=, sym=, sym_re=, addr=, fn_name=, pid=-1, sym_off=0)`;
    /// libbcc: `bcc_resolve_symname`, `bpf_attach_uprobe`.
    @discardableResult
    public func attachUprobe(name: String, sym: String? = nil, symRe: String? = nil, addr: UInt64? = nil,
                             fnName: String, pid: Int32 = -1, symOff: UInt64 = 0) throws -> [UprobeAttachment] {
        try attachUprobeCommon(name: name, sym: sym, symRe: symRe, addr: addr, fnName: fnName, pid: pid,
                               symOff: symOff, isReturn: false)
    }

    /// Runs `fnName` whenever function `sym` (or `addr`, or every match of `symRe`) of binary
    /// `name` returns. See ``attachUprobe(name:sym:symRe:addr:fnName:pid:symOff:)``.
    ///
    /// Python: `b.attach_uretprobe(name=, sym=, sym_re=, addr=, fn_name=, pid=-1)`; libbcc: `bpf_attach_uprobe`.
    @discardableResult
    public func attachUretprobe(name: String, sym: String? = nil, symRe: String? = nil, addr: UInt64? = nil,
                                fnName: String, pid: Int32 = -1) throws -> [UprobeAttachment] {
        try attachUprobeCommon(name: name, sym: sym, symRe: symRe, addr: addr, fnName: fnName, pid: pid,
                               symOff: 0, isReturn: true)
    }

    private func attachUprobeCommon(name: String, sym: String?, symRe: String?, addr: UInt64?, fnName: String,
                                    pid: Int32, symOff: UInt64, isReturn: Bool) throws -> [UprobeAttachment] {
        try requireOpen()
        try Self.requireProcess(pid, kind: isReturn ? "uretprobe" : "uprobe", target: sym ?? symRe ?? name, function: fnName)
        if let symRe, !symRe.isEmpty {
            let binary = try Self.resolveBinary(name, pid: pid)
            let matches = try Self.getUserFunctionsAndAddresses(binary, symRe: symRe)
            var byAddress: [UInt64: String] = [:]
            for m in matches where byAddress[m.address] == nil { byAddress[m.address] = m.name }
            guard !byAddress.isEmpty else {
                throw BPFError.symbolNotFound(symbol: "matching /\(symRe)/", binary: binary)
            }
            return try state.withLock { s in
                try Self.checkProbeQuota(byAddress.count, open: s.attachments.count(.uprobe) + s.attachments.count(.kprobe))
                let symbols = byAddress.sorted { $0.key < $1.key }.map(\.value)
                return try attachAllOrNothing(&s, symbols, fnName: fnName, type: .kprobe) { s, symbol in
                    // By name, so that an IFUNC among the matches is resolved too.
                    let target = try Self.uprobeTarget(name: binary, sym: symbol, addr: nil, pid: pid, symOff: 0)
                    return try attachUprobeTarget(&s, target, fnName: fnName, pid: pid, isReturn: isReturn)
                }.map(\.attachment)
            }
        }
        let target = try Self.uprobeTarget(name: name, sym: sym, addr: addr, pid: pid, symOff: symOff)
        return try state.withLock { s in
            [try attachUprobeTarget(&s, target, fnName: fnName, pid: pid, isReturn: isReturn).attachment]
        }
    }

    /// Attaches one uprobe with the state locked.
    @discardableResult
    func attachUprobeTarget(_ s: inout State, _ target: UprobeTarget, fnName: String, pid: Int32, isReturn: Bool,
                            refCtrOffset: UInt32 = 0) throws -> UprobeLink {
        let kind = isReturn ? "uretprobe" : "uprobe"
        let evName = Self.uprobeEventName(isReturn: isReturn, path: target.path, offset: target.offset, pid: pid)
        let what = (target.symbol ?? "0x" + String(target.offset, radix: 16)) + " in " + target.path
        return try attach(&s, UprobeLink.self, key: evName, kind: kind, target: what, fnName: fnName,
                          programType: .kprobe) { fn in
            let attached = LibBCC.call("bpf_attach_uprobe") {
                bpf_attach_uprobe(fn.fd, isReturn ? BPF_PROBE_RETURN : BPF_PROBE_ENTRY, evName,
                                  target.path, target.offset, pid, refCtrOffset)
            }
            switch attached {
            case .success(let fd):
                let attachment = UprobeAttachment(eventName: evName, isReturn: isReturn, path: target.path,
                                                  offset: target.offset, pid: pid, fnName: fnName,
                                                  symbol: target.symbol, ifunc: target.ifunc)
                return UprobeLink(attachment: attachment, fd: PerfEventFD(fd: fd))
            case .failure(let failure):
                if !KernelInfo.hasUprobes {
                    throw BPFError.attachFailed(kind: kind, target: what, function: fnName, errno: failure.errno,
                                                detail: failure.output,
                                                hint: "this kernel has no uprobe support (CONFIG_UPROBE_EVENTS is off)")
                }
                let hint: String? = switch failure.errno {
                case .ESRCH: "process \(pid) does not exist"
                case .ENOENT: "\(target.path) does not exist (for a pid, inside that process's root)"
                case .EINVAL: "offset 0x\(String(target.offset, radix: 16)) is not an instruction of \(target.path)"
                default: nil
                }
                throw BPFError.from(.attach(kind: kind, target: what, function: fnName), failure, hint: hint)
            }
        }
    }

    /// Detaches the uprobe on `sym` (or `addr`) of `name`, resolved as when attaching.
    /// Python: `b.detach_uprobe(name=, sym=, addr=, pid=-1, sym_off=0)`; libbcc: `bpf_detach_uprobe`.
    public func detachUprobe(name: String, sym: String? = nil, addr: UInt64? = nil, pid: Int32 = -1,
                             symOff: UInt64 = 0) throws {
        let t = try Self.uprobeTarget(name: name, sym: sym, addr: addr, pid: pid, symOff: symOff)
        try detachUprobeEvent(Self.uprobeEventName(isReturn: false, path: t.path, offset: t.offset, pid: pid),
                              what: (sym ?? "0x" + String(t.offset, radix: 16)) + " in " + t.path)
    }

    /// Detaches the uretprobe on `sym` (or `addr`) of `name`.
    /// Python: `b.detach_uretprobe(name=, sym=, addr=, pid=-1)`; libbcc: `bpf_detach_uprobe`.
    public func detachUretprobe(name: String, sym: String? = nil, addr: UInt64? = nil, pid: Int32 = -1) throws {
        let t = try Self.uprobeTarget(name: name, sym: sym, addr: addr, pid: pid, symOff: 0)
        try detachUprobeEvent(Self.uprobeEventName(isReturn: true, path: t.path, offset: t.offset, pid: pid),
                              what: (sym ?? "0x" + String(t.offset, radix: 16)) + " in " + t.path)
    }

    /// Detaches the uprobe with libbcc event name `eventName` (see ``UprobeAttachment/eventName``).
    /// Python: `b.detach_uprobe_event(ev_name)`.
    public func detachUprobeEvent(_ eventName: String) throws {
        try detachUprobeEvent(eventName, what: eventName)
    }

    private func detachUprobeEvent(_ eventName: String, what: String) throws {
        try state.withLock { s in
            try s.attachments.remove(UprobeLink.self, eventName, kind: eventName.hasPrefix("r_") ? "uretprobe" : "uprobe",
                                     target: what).detachChecked()
        }
    }

    /// Every uprobe and uretprobe this `BPF` has attached, by event name.
    public var uprobeAttachments: [UprobeAttachment] {
        state.withLock { $0.attachments.all(UprobeLink.self).map(\.attachment).sorted { $0.eventName < $1.eventName } }
    }

    /// The number of uprobes and uretprobes this `BPF` has open: one per libbcc event (binary,
    /// offset, pid, entry or return); a `symRe` attach counts each match. Python:
    /// `b.num_open_uprobes()` (the size of `uprobe_fds`).
    public var numOpenUprobes: Int { numOpen(.uprobe) }
}
