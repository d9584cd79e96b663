/// A BPF program type (`enum bpf_prog_type` in `linux/bpf.h`), as Python BCC's `BPF.KPROBE`,
/// `BPF.XDP`, ... Every type libbcc 0.26 knows has a name; any other raw value can be used too.
public struct ProgramType: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    /// The kernel's `enum bpf_prog_type` value.
    public let rawValue: Int32
    /// The program type whose kernel value is `rawValue`.
    public init(rawValue: Int32) { self.rawValue = rawValue }

    /// A socket filter, as `attachRawSocket(fn:dev:)` attaches. `BPF_PROG_TYPE_SOCKET_FILTER`;
    /// Python: `BPF.SOCKET_FILTER`.
    public static let socketFilter = ProgramType(rawValue: 1)
    /// A kprobe, kretprobe, uprobe or uretprobe program. `BPF_PROG_TYPE_KPROBE`; Python:
    /// `BPF.KPROBE`.
    public static let kprobe = ProgramType(rawValue: 2)
    /// A traffic control (tc) classifier. `BPF_PROG_TYPE_SCHED_CLS`; Python: `BPF.SCHED_CLS`.
    public static let schedCls = ProgramType(rawValue: 3)
    /// A traffic control (tc) action. `BPF_PROG_TYPE_SCHED_ACT`; Python: `BPF.SCHED_ACT`.
    public static let schedAct = ProgramType(rawValue: 4)
    /// A tracepoint program (`TRACEPOINT_PROBE`). `BPF_PROG_TYPE_TRACEPOINT`; Python:
    /// `BPF.TRACEPOINT`.
    public static let tracepoint = ProgramType(rawValue: 5)
    /// An XDP program, run on each packet a device receives. `BPF_PROG_TYPE_XDP`; Python:
    /// `BPF.XDP`.
    public static let xdp = ProgramType(rawValue: 6)
    /// A perf event program, run on each sample of a perf event. `BPF_PROG_TYPE_PERF_EVENT`;
    /// Python: `BPF.PERF_EVENT`.
    public static let perfEvent = ProgramType(rawValue: 7)
    /// A cgroup packet filter, on the packets of a cgroup's sockets. `BPF_PROG_TYPE_CGROUP_SKB`;
    /// Python: `BPF.CGROUP_SKB`.
    public static let cgroupSkb = ProgramType(rawValue: 8)
    /// A cgroup program run when a cgroup's sockets are created, bound or released.
    /// `BPF_PROG_TYPE_CGROUP_SOCK`; Python: `BPF.CGROUP_SOCK`.
    public static let cgroupSock = ProgramType(rawValue: 9)
    /// A lightweight tunnel program on incoming packets. `BPF_PROG_TYPE_LWT_IN`; Python:
    /// `BPF.LWT_IN`.
    public static let lwtIn = ProgramType(rawValue: 10)
    /// A lightweight tunnel program on outgoing packets. `BPF_PROG_TYPE_LWT_OUT`; Python:
    /// `BPF.LWT_OUT`.
    public static let lwtOut = ProgramType(rawValue: 11)
    /// A lightweight tunnel program at transmit. `BPF_PROG_TYPE_LWT_XMIT`; Python: `BPF.LWT_XMIT`.
    public static let lwtXmit = ProgramType(rawValue: 12)
    /// A program run on TCP socket events of a cgroup (`sock_ops`). `BPF_PROG_TYPE_SOCK_OPS`;
    /// Python: `BPF.SOCK_OPS`.
    public static let sockOps = ProgramType(rawValue: 13)
    /// A sockmap program on the packets of the sockets in a sockmap. `BPF_PROG_TYPE_SK_SKB`;
    /// Python: `BPF.SK_SKB`.
    public static let skSkb = ProgramType(rawValue: 14)
    /// A cgroup program that allows or denies device access. `BPF_PROG_TYPE_CGROUP_DEVICE`; Python:
    /// `BPF.CGROUP_DEVICE`.
    public static let cgroupDevice = ProgramType(rawValue: 15)
    /// A sockmap program on the messages sent on the sockets in a sockmap. `BPF_PROG_TYPE_SK_MSG`;
    /// Python: `BPF.SK_MSG`.
    public static let skMsg = ProgramType(rawValue: 16)
    /// A raw tracepoint program (`RAW_TRACEPOINT_PROBE`). `BPF_PROG_TYPE_RAW_TRACEPOINT`; Python:
    /// `BPF.RAW_TRACEPOINT`.
    public static let rawTracepoint = ProgramType(rawValue: 17)
    /// A cgroup program on socket addresses (bind, connect, sendmsg, ...).
    /// `BPF_PROG_TYPE_CGROUP_SOCK_ADDR`; Python: `BPF.CGROUP_SOCK_ADDR`.
    public static let cgroupSockAddr = ProgramType(rawValue: 18)
    /// A lightweight tunnel program for IPv6 segment routing (`seg6local`).
    /// `BPF_PROG_TYPE_LWT_SEG6LOCAL`; (No Python constant.)
    public static let lwtSeg6local = ProgramType(rawValue: 19)
    /// An infrared (LIRC) decoder. `BPF_PROG_TYPE_LIRC_MODE2`; (No Python constant.)
    public static let lircMode2 = ProgramType(rawValue: 20)
    /// A program that picks a socket in a `SO_REUSEPORT` group. `BPF_PROG_TYPE_SK_REUSEPORT`; (No
    /// Python constant.)
    public static let skReuseport = ProgramType(rawValue: 21)
    /// A flow dissector. `BPF_PROG_TYPE_FLOW_DISSECTOR`; (No Python constant.)
    public static let flowDissector = ProgramType(rawValue: 22)
    /// A cgroup program on sysctl reads and writes. `BPF_PROG_TYPE_CGROUP_SYSCTL`; (No Python
    /// constant.)
    public static let cgroupSysctl = ProgramType(rawValue: 23)
    /// A raw tracepoint program that may write its tracepoint's buffer.
    /// `BPF_PROG_TYPE_RAW_TRACEPOINT_WRITABLE`; (No Python constant.)
    public static let rawTracepointWritable = ProgramType(rawValue: 24)
    /// A cgroup program on `getsockopt` and `setsockopt`. `BPF_PROG_TYPE_CGROUP_SOCKOPT`; Python:
    /// `BPF.CGROUP_SOCKOPT`.
    public static let cgroupSockopt = ProgramType(rawValue: 25)
    /// A BTF tracing program: kfunc (fentry), kretfunc (fexit), `fmod_ret` or iterator.
    /// `BPF_PROG_TYPE_TRACING`; Python: `BPF.TRACING`.
    public static let tracing = ProgramType(rawValue: 26)
    /// A program implementing a kernel `struct_ops` operation. `BPF_PROG_TYPE_STRUCT_OPS`; (No
    /// Python constant.)
    public static let structOps = ProgramType(rawValue: 27)
    /// A program that replaces a function of another BPF program (freplace). `BPF_PROG_TYPE_EXT`;
    /// (No Python constant.)
    public static let ext = ProgramType(rawValue: 28)
    /// An LSM program (`LSM_PROBE`), run at a Linux security module hook. `BPF_PROG_TYPE_LSM`;
    /// Python: `BPF.LSM`.
    public static let lsm = ProgramType(rawValue: 29)
    /// A program that picks the socket an incoming connection goes to. `BPF_PROG_TYPE_SK_LOOKUP`;
    /// (No Python constant.)
    public static let skLookup = ProgramType(rawValue: 30)
    /// A program that may issue `bpf(2)` commands itself (a loader). `BPF_PROG_TYPE_SYSCALL`; (No
    /// Python constant.)
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
    /// The kernel's `enum bpf_attach_type` value.
    public let rawValue: Int32
    /// The attach type whose kernel value is `rawValue`.
    public init(rawValue: Int32) { self.rawValue = rawValue }

    /// A `cgroupSkb` program on a cgroup's incoming packets. `BPF_CGROUP_INET_INGRESS`; Python:
    /// `BPFAttachType.CGROUP_INET_INGRESS`.
    public static let cgroupInetIngress = AttachType(rawValue: 0)
    /// A `cgroupSkb` program on a cgroup's outgoing packets. `BPF_CGROUP_INET_EGRESS`; Python:
    /// `BPFAttachType.CGROUP_INET_EGRESS`.
    public static let cgroupInetEgress = AttachType(rawValue: 1)
    /// A `cgroupSock` program run when a cgroup creates a socket. `BPF_CGROUP_INET_SOCK_CREATE`;
    /// Python: `BPFAttachType.CGROUP_INET_SOCK_CREATE`.
    public static let cgroupInetSockCreate = AttachType(rawValue: 2)
    /// A `sockOps` program on a cgroup's TCP socket events. `BPF_CGROUP_SOCK_OPS`; Python:
    /// `BPFAttachType.CGROUP_SOCK_OPS`.
    public static let cgroupSockOps = AttachType(rawValue: 3)
    /// An `skSkb` program that parses a sockmap's stream into messages. `BPF_SK_SKB_STREAM_PARSER`;
    /// Python: `BPFAttachType.SK_SKB_STREAM_PARSER`.
    public static let skSkbStreamParser = AttachType(rawValue: 4)
    /// An `skSkb` program that decides where a sockmap's messages go. `BPF_SK_SKB_STREAM_VERDICT`;
    /// Python: `BPFAttachType.SK_SKB_STREAM_VERDICT`.
    public static let skSkbStreamVerdict = AttachType(rawValue: 5)
    /// A `cgroupDevice` program on a cgroup's device access. `BPF_CGROUP_DEVICE`; Python:
    /// `BPFAttachType.CGROUP_DEVICE`.
    public static let cgroupDevice = AttachType(rawValue: 6)
    /// An `skMsg` program that decides where a sockmap's sent messages go. `BPF_SK_MSG_VERDICT`;
    /// Python: `BPFAttachType.SK_MSG_VERDICT`.
    public static let skMsgVerdict = AttachType(rawValue: 7)
    /// A `cgroupSockAddr` program on IPv4 `bind`. `BPF_CGROUP_INET4_BIND`; Python:
    /// `BPFAttachType.CGROUP_INET4_BIND`.
    public static let cgroupInet4Bind = AttachType(rawValue: 8)
    /// A `cgroupSockAddr` program on IPv6 `bind`. `BPF_CGROUP_INET6_BIND`; Python:
    /// `BPFAttachType.CGROUP_INET6_BIND`.
    public static let cgroupInet6Bind = AttachType(rawValue: 9)
    /// A `cgroupSockAddr` program on IPv4 `connect`. `BPF_CGROUP_INET4_CONNECT`; Python:
    /// `BPFAttachType.CGROUP_INET4_CONNECT`.
    public static let cgroupInet4Connect = AttachType(rawValue: 10)
    /// A `cgroupSockAddr` program on IPv6 `connect`. `BPF_CGROUP_INET6_CONNECT`; Python:
    /// `BPFAttachType.CGROUP_INET6_CONNECT`.
    public static let cgroupInet6Connect = AttachType(rawValue: 11)
    /// A `cgroupSock` program run after an IPv4 `bind`. `BPF_CGROUP_INET4_POST_BIND`; Python:
    /// `BPFAttachType.CGROUP_INET4_POST_BIND`.
    public static let cgroupInet4PostBind = AttachType(rawValue: 12)
    /// A `cgroupSock` program run after an IPv6 `bind`. `BPF_CGROUP_INET6_POST_BIND`; Python:
    /// `BPFAttachType.CGROUP_INET6_POST_BIND`.
    public static let cgroupInet6PostBind = AttachType(rawValue: 13)
    /// A `cgroupSockAddr` program on UDP over IPv4 `sendmsg`. `BPF_CGROUP_UDP4_SENDMSG`; Python:
    /// `BPFAttachType.CGROUP_UDP4_SENDMSG`.
    public static let cgroupUdp4Sendmsg = AttachType(rawValue: 14)
    /// A `cgroupSockAddr` program on UDP over IPv6 `sendmsg`. `BPF_CGROUP_UDP6_SENDMSG`; Python:
    /// `BPFAttachType.CGROUP_UDP6_SENDMSG`.
    public static let cgroupUdp6Sendmsg = AttachType(rawValue: 15)
    /// A `lircMode2` program on an infrared device. `BPF_LIRC_MODE2`; Python:
    /// `BPFAttachType.LIRC_MODE2`.
    public static let lircMode2 = AttachType(rawValue: 16)
    /// A `flowDissector` program of a network namespace. `BPF_FLOW_DISSECTOR`; Python:
    /// `BPFAttachType.FLOW_DISSECTOR`.
    public static let flowDissector = AttachType(rawValue: 17)
    /// A `cgroupSysctl` program on a cgroup's sysctl access. `BPF_CGROUP_SYSCTL`; Python:
    /// `BPFAttachType.CGROUP_SYSCTL`.
    public static let cgroupSysctl = AttachType(rawValue: 18)
    /// A `cgroupSockAddr` program on UDP over IPv4 `recvmsg`. `BPF_CGROUP_UDP4_RECVMSG`; Python:
    /// `BPFAttachType.CGROUP_UDP4_RECVMSG`.
    public static let cgroupUdp4Recvmsg = AttachType(rawValue: 19)
    /// A `cgroupSockAddr` program on UDP over IPv6 `recvmsg`. `BPF_CGROUP_UDP6_RECVMSG`; Python:
    /// `BPFAttachType.CGROUP_UDP6_RECVMSG`.
    public static let cgroupUdp6Recvmsg = AttachType(rawValue: 20)
    /// A `cgroupSockopt` program on `getsockopt`. `BPF_CGROUP_GETSOCKOPT`; Python:
    /// `BPFAttachType.CGROUP_GETSOCKOPT`.
    public static let cgroupGetsockopt = AttachType(rawValue: 21)
    /// A `cgroupSockopt` program on `setsockopt`. `BPF_CGROUP_SETSOCKOPT`; Python:
    /// `BPFAttachType.CGROUP_SETSOCKOPT`.
    public static let cgroupSetsockopt = AttachType(rawValue: 22)
    /// A `tracing` program on a raw tracepoint (`tp_btf`). `BPF_TRACE_RAW_TP`; Python:
    /// `BPFAttachType.TRACE_RAW_TP`.
    public static let traceRawTp = AttachType(rawValue: 23)
    /// A `tracing` program run at a kernel function's entry (kfunc). `BPF_TRACE_FENTRY`; Python:
    /// `BPFAttachType.TRACE_FENTRY`.
    public static let traceFentry = AttachType(rawValue: 24)
    /// A `tracing` program run at a kernel function's return (kretfunc). `BPF_TRACE_FEXIT`; Python:
    /// `BPFAttachType.TRACE_FEXIT`.
    public static let traceFexit = AttachType(rawValue: 25)
    /// A `tracing` program that may change a kernel function's return value (`fmod_ret`).
    /// `BPF_MODIFY_RETURN`; Python: `BPFAttachType.MODIFY_RETURN`.
    public static let modifyReturn = AttachType(rawValue: 26)
    /// An `lsm` program at a Linux security module hook. `BPF_LSM_MAC`; Python:
    /// `BPFAttachType.LSM_MAC`.
    public static let lsmMac = AttachType(rawValue: 27)
    /// A `tracing` program that is a BPF iterator. `BPF_TRACE_ITER`; Python:
    /// `BPFAttachType.TRACE_ITER`.
    public static let traceIter = AttachType(rawValue: 28)
    /// A `cgroupSockAddr` program on IPv4 `getpeername`. `BPF_CGROUP_INET4_GETPEERNAME`; Python:
    /// `BPFAttachType.CGROUP_INET4_GETPEERNAME`.
    public static let cgroupInet4Getpeername = AttachType(rawValue: 29)
    /// A `cgroupSockAddr` program on IPv6 `getpeername`. `BPF_CGROUP_INET6_GETPEERNAME`; Python:
    /// `BPFAttachType.CGROUP_INET6_GETPEERNAME`.
    public static let cgroupInet6Getpeername = AttachType(rawValue: 30)
    /// A `cgroupSockAddr` program on IPv4 `getsockname`. `BPF_CGROUP_INET4_GETSOCKNAME`; Python:
    /// `BPFAttachType.CGROUP_INET4_GETSOCKNAME`.
    public static let cgroupInet4Getsockname = AttachType(rawValue: 31)
    /// A `cgroupSockAddr` program on IPv6 `getsockname`. `BPF_CGROUP_INET6_GETSOCKNAME`; Python:
    /// `BPFAttachType.CGROUP_INET6_GETSOCKNAME`.
    public static let cgroupInet6Getsockname = AttachType(rawValue: 32)
    /// An `xdp` program run on the entries of a device map. `BPF_XDP_DEVMAP`; Python:
    /// `BPFAttachType.XDP_DEVMAP`.
    public static let xdpDevmap = AttachType(rawValue: 33)
    /// A `cgroupSock` program run when a cgroup's socket is released.
    /// `BPF_CGROUP_INET_SOCK_RELEASE`; Python: `BPFAttachType.CGROUP_INET_SOCK_RELEASE`.
    public static let cgroupInetSockRelease = AttachType(rawValue: 34)
    /// An `xdp` program run on the entries of a CPU map. `BPF_XDP_CPUMAP`; Python:
    /// `BPFAttachType.XDP_CPUMAP`.
    public static let xdpCpumap = AttachType(rawValue: 35)
    /// An `skLookup` program of a network namespace. `BPF_SK_LOOKUP`; Python:
    /// `BPFAttachType.SK_LOOKUP`.
    public static let skLookup = AttachType(rawValue: 36)
    /// An `xdp` program attached to a device through a BPF link. `BPF_XDP`; Python:
    /// `BPFAttachType.XDP`.
    public static let xdp = AttachType(rawValue: 37)
    /// An `skSkb` verdict program on a sockmap's packets. `BPF_SK_SKB_VERDICT`; Python:
    /// `BPFAttachType.SK_SKB_VERDICT`.
    public static let skSkbVerdict = AttachType(rawValue: 38)
}

/// Debug flags for `BPF(text:debug:)`, as Python BCC's `DEBUG_*` constants.
public struct DebugFlags: OptionSet, Hashable, Sendable {
    /// The flags' bits, as libbcc's `bpf_module_create_c_from_string` takes them.
    public let rawValue: UInt32
    /// The flags whose bits are `rawValue`.
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
    /// The flags' bits, as `bpf_attach_xdp` takes them.
    public let rawValue: UInt32
    /// The flags whose bits are `rawValue`.
    public init(rawValue: UInt32) { self.rawValue = rawValue }
    /// Attach only when the device has no XDP program yet. `XDP_FLAGS_UPDATE_IF_NOEXIST`; Python:
    /// `XDPFlags.UPDATE_IF_NOEXIST`.
    public static let updateIfNoExist = XDPFlags(rawValue: 1 << 0)
    /// Run in generic (skb) mode, which every driver supports. `XDP_FLAGS_SKB_MODE`; Python:
    /// `XDPFlags.SKB_MODE`.
    public static let skbMode = XDPFlags(rawValue: 1 << 1)
    /// Run in the driver (native mode); fails where the driver has no XDP support.
    /// `XDP_FLAGS_DRV_MODE`; Python: `XDPFlags.DRV_MODE`.
    public static let drvMode = XDPFlags(rawValue: 1 << 2)
    /// Run offloaded on the network card. `XDP_FLAGS_HW_MODE`; Python: `XDPFlags.HW_MODE`.
    public static let hwMode = XDPFlags(rawValue: 1 << 3)
    /// Replace the program already attached. `XDP_FLAGS_REPLACE`; Python: `XDPFlags.REPLACE`.
    public static let replace = XDPFlags(rawValue: 1 << 4)
}

/// XDP program return codes, as Python BCC's `XDPAction`.
public enum XDPAction: Int32, Sendable {
    /// An XDP program's verdicts, `XDP_ABORTED` ... `XDP_REDIRECT`: `aborted` (an error: the packet
    /// is dropped and the `xdp_exception` tracepoint fires), `drop`, `pass` (on to the network
    /// stack), `tx` (back out of the device it came in on), `redirect` (to another device, CPU or
    /// socket). Python: `XDPAction.XDP_ABORTED` ... `XDPAction.XDP_REDIRECT`.
    case aborted = 0, drop, pass, tx, redirect
}
