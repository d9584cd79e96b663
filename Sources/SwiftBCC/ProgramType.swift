/// A BPF program type (`enum bpf_prog_type` in `linux/bpf.h`), as Python BCC's `BPF.KPROBE`,
/// `BPF.XDP`, ... Every type libbcc 0.26 knows has a name; any other raw value can be used too.
public struct ProgramType: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public let rawValue: Int32
    public init(rawValue: Int32) { self.rawValue = rawValue }

    public static let socketFilter = ProgramType(rawValue: 1)
    public static let kprobe = ProgramType(rawValue: 2)
    public static let schedCls = ProgramType(rawValue: 3)
    public static let schedAct = ProgramType(rawValue: 4)
    public static let tracepoint = ProgramType(rawValue: 5)
    public static let xdp = ProgramType(rawValue: 6)
    public static let perfEvent = ProgramType(rawValue: 7)
    public static let cgroupSkb = ProgramType(rawValue: 8)
    public static let cgroupSock = ProgramType(rawValue: 9)
    public static let lwtIn = ProgramType(rawValue: 10)
    public static let lwtOut = ProgramType(rawValue: 11)
    public static let lwtXmit = ProgramType(rawValue: 12)
    public static let sockOps = ProgramType(rawValue: 13)
    public static let skSkb = ProgramType(rawValue: 14)
    public static let cgroupDevice = ProgramType(rawValue: 15)
    public static let skMsg = ProgramType(rawValue: 16)
    public static let rawTracepoint = ProgramType(rawValue: 17)
    public static let cgroupSockAddr = ProgramType(rawValue: 18)
    public static let lwtSeg6local = ProgramType(rawValue: 19)
    public static let lircMode2 = ProgramType(rawValue: 20)
    public static let skReuseport = ProgramType(rawValue: 21)
    public static let flowDissector = ProgramType(rawValue: 22)
    public static let cgroupSysctl = ProgramType(rawValue: 23)
    public static let rawTracepointWritable = ProgramType(rawValue: 24)
    public static let cgroupSockopt = ProgramType(rawValue: 25)
    public static let tracing = ProgramType(rawValue: 26)
    public static let structOps = ProgramType(rawValue: 27)
    public static let ext = ProgramType(rawValue: 28)
    public static let lsm = ProgramType(rawValue: 29)
    public static let skLookup = ProgramType(rawValue: 30)
    public static let syscall = ProgramType(rawValue: 31)

    static let names: [Int32: String] = [
        1: "SOCKET_FILTER", 2: "KPROBE", 3: "SCHED_CLS", 4: "SCHED_ACT", 5: "TRACEPOINT",
        6: "XDP", 7: "PERF_EVENT", 8: "CGROUP_SKB", 9: "CGROUP_SOCK", 10: "LWT_IN",
        11: "LWT_OUT", 12: "LWT_XMIT", 13: "SOCK_OPS", 14: "SK_SKB", 15: "CGROUP_DEVICE",
        16: "SK_MSG", 17: "RAW_TRACEPOINT", 18: "CGROUP_SOCK_ADDR", 19: "LWT_SEG6LOCAL",
        20: "LIRC_MODE2", 21: "SK_REUSEPORT", 22: "FLOW_DISSECTOR", 23: "CGROUP_SYSCTL",
        24: "RAW_TRACEPOINT_WRITABLE", 25: "CGROUP_SOCKOPT", 26: "TRACING", 27: "STRUCT_OPS",
        28: "EXT", 29: "LSM", 30: "SK_LOOKUP", 31: "SYSCALL",
    ]

    /// Every program type with a name here (libbcc 0.26's `bpf_prog_type` list).
    public static var allKnown: [ProgramType] { names.keys.sorted().map(ProgramType.init(rawValue:)) }

    /// Python BCC's constant name, e.g. `KPROBE`.
    public var description: String { Self.names[rawValue] ?? "prog type \(rawValue)" }
}

/// A BPF attach type (`enum bpf_attach_type`), as Python BCC's `BPFAttachType`.
public struct AttachType: RawRepresentable, Hashable, Sendable {
    public let rawValue: Int32
    public init(rawValue: Int32) { self.rawValue = rawValue }

    public static let cgroupInetIngress = AttachType(rawValue: 0)
    public static let cgroupInetEgress = AttachType(rawValue: 1)
    public static let cgroupInetSockCreate = AttachType(rawValue: 2)
    public static let cgroupSockOps = AttachType(rawValue: 3)
    public static let skSkbStreamParser = AttachType(rawValue: 4)
    public static let skSkbStreamVerdict = AttachType(rawValue: 5)
    public static let cgroupDevice = AttachType(rawValue: 6)
    public static let skMsgVerdict = AttachType(rawValue: 7)
    public static let cgroupInet4Bind = AttachType(rawValue: 8)
    public static let cgroupInet6Bind = AttachType(rawValue: 9)
    public static let cgroupInet4Connect = AttachType(rawValue: 10)
    public static let cgroupInet6Connect = AttachType(rawValue: 11)
    public static let cgroupInet4PostBind = AttachType(rawValue: 12)
    public static let cgroupInet6PostBind = AttachType(rawValue: 13)
    public static let cgroupUdp4Sendmsg = AttachType(rawValue: 14)
    public static let cgroupUdp6Sendmsg = AttachType(rawValue: 15)
    public static let lircMode2 = AttachType(rawValue: 16)
    public static let flowDissector = AttachType(rawValue: 17)
    public static let cgroupSysctl = AttachType(rawValue: 18)
    public static let cgroupUdp4Recvmsg = AttachType(rawValue: 19)
    public static let cgroupUdp6Recvmsg = AttachType(rawValue: 20)
    public static let cgroupGetsockopt = AttachType(rawValue: 21)
    public static let cgroupSetsockopt = AttachType(rawValue: 22)
    public static let traceRawTp = AttachType(rawValue: 23)
    public static let traceFentry = AttachType(rawValue: 24)
    public static let traceFexit = AttachType(rawValue: 25)
    public static let modifyReturn = AttachType(rawValue: 26)
    public static let lsmMac = AttachType(rawValue: 27)
    public static let traceIter = AttachType(rawValue: 28)
    public static let cgroupInet4Getpeername = AttachType(rawValue: 29)
    public static let cgroupInet6Getpeername = AttachType(rawValue: 30)
    public static let cgroupInet4Getsockname = AttachType(rawValue: 31)
    public static let cgroupInet6Getsockname = AttachType(rawValue: 32)
    public static let xdpDevmap = AttachType(rawValue: 33)
    public static let cgroupInetSockRelease = AttachType(rawValue: 34)
    public static let xdpCpumap = AttachType(rawValue: 35)
    public static let skLookup = AttachType(rawValue: 36)
    public static let xdp = AttachType(rawValue: 37)
    public static let skSkbVerdict = AttachType(rawValue: 38)
}

/// Debug flags for `BPF(text:debug:)`, as Python BCC's `DEBUG_*` constants.
public struct DebugFlags: OptionSet, Hashable, Sendable {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }

    /// `DEBUG_LLVM_IR`: print the LLVM IR after compilation.
    public static let llvmIR = DebugFlags(rawValue: 0x1)
    /// `DEBUG_BPF`: print the BPF bytecode and the verifier log for each load.
    public static let bpf = DebugFlags(rawValue: 0x2)
    /// `DEBUG_PREPROCESSOR`: print the preprocessed C source.
    public static let preprocessor = DebugFlags(rawValue: 0x4)
    /// `DEBUG_SOURCE`: print the BPF instructions interleaved with the source (needs debug info).
    public static let source = DebugFlags(rawValue: 0x8)
    /// `DEBUG_BPF_REGISTER_STATE`: the verifier's register state at every instruction.
    public static let bpfRegisterState = DebugFlags(rawValue: 0x10)
    /// `DEBUG_BTF`: print BTF debug messages.
    public static let btf = DebugFlags(rawValue: 0x20)
}

/// XDP flags (`XDP_FLAGS_*` in `linux/if_link.h`), as Python BCC's `XDPFlags`.
public struct XDPFlags: OptionSet, Hashable, Sendable {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }
    public static let updateIfNoExist = XDPFlags(rawValue: 1 << 0)
    public static let skbMode = XDPFlags(rawValue: 1 << 1)
    public static let drvMode = XDPFlags(rawValue: 1 << 2)
    public static let hwMode = XDPFlags(rawValue: 1 << 3)
    public static let replace = XDPFlags(rawValue: 1 << 4)
}

/// XDP program return codes, as Python BCC's `XDPAction`.
public enum XDPAction: Int32, Sendable {
    case aborted = 0, drop, pass, tx, redirect
}
