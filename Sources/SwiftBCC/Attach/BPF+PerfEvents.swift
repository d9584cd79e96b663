internal import CBCC
import Glibc

/// `perf_type_id` values (`linux/perf_event.h`), as Python BCC's `PerfType`.
public enum PerfType {
    public static let hardware: UInt32 = 0
    public static let software: UInt32 = 1
    public static let tracepoint: UInt32 = 2
    public static let hwCache: UInt32 = 3
    public static let raw: UInt32 = 4
    public static let breakpoint: UInt32 = 5
}

/// `perf_hw_id` values, as Python BCC's `PerfHWConfig`.
public enum PerfHWConfig {
    public static let cpuCycles: UInt64 = 0
    public static let instructions: UInt64 = 1
    public static let cacheReferences: UInt64 = 2
    public static let cacheMisses: UInt64 = 3
    public static let branchInstructions: UInt64 = 4
    public static let branchMisses: UInt64 = 5
    public static let busCycles: UInt64 = 6
    public static let stalledCyclesFrontend: UInt64 = 7
    public static let stalledCyclesBackend: UInt64 = 8
    public static let refCPUCycles: UInt64 = 9
}

/// `perf_sw_id` values, as Python BCC's `PerfSWConfig`.
public enum PerfSWConfig {
    public static let cpuClock: UInt64 = 0
    public static let taskClock: UInt64 = 1
    public static let pageFaults: UInt64 = 2
    public static let contextSwitches: UInt64 = 3
    public static let cpuMigrations: UInt64 = 4
    public static let pageFaultsMin: UInt64 = 5
    public static let pageFaultsMaj: UInt64 = 6
    public static let alignmentFaults: UInt64 = 7
    public static let emulationFaults: UInt64 = 8
    public static let dummy: UInt64 = 9
    public static let bpfOutput: UInt64 = 10
}

/// The fields of `struct perf_event_attr` a BPF perf event program needs, for
/// ``BPF/attachPerfEventRaw(attr:fnName:pid:cpu:groupFD:)``. Python: `Perf.perf_event_attr()`.
public struct PerfEventAttr: Hashable, Sendable {
    /// The bit-field word of `perf_event_attr` (`disabled`, `inherit`, ..., `freq`, ...).
    public struct Flags: OptionSet, Hashable, Sendable {
        public let rawValue: UInt64
        public init(rawValue: UInt64) { self.rawValue = rawValue }
        public static let disabled = Flags(rawValue: 1 << 0)
        public static let inherit = Flags(rawValue: 1 << 1)
        public static let pinned = Flags(rawValue: 1 << 2)
        public static let exclusive = Flags(rawValue: 1 << 3)
        public static let excludeUser = Flags(rawValue: 1 << 4)
        public static let excludeKernel = Flags(rawValue: 1 << 5)
        public static let excludeHv = Flags(rawValue: 1 << 6)
        public static let excludeIdle = Flags(rawValue: 1 << 7)
        public static let mmap = Flags(rawValue: 1 << 8)
        public static let comm = Flags(rawValue: 1 << 9)
        /// `sample_freq` rather than `sample_period` (set by `sampleFreq:`).
        public static let freq = Flags(rawValue: 1 << 10)
        public static let inheritStat = Flags(rawValue: 1 << 11)
        public static let enableOnExec = Flags(rawValue: 1 << 12)
        public static let task = Flags(rawValue: 1 << 13)
        public static let watermark = Flags(rawValue: 1 << 14)
    }

    public var type: UInt32
    public var config: UInt64
    /// `sample_period`, or `sample_freq` when `flags` contains `.freq`.
    public var samplePeriodOrFreq: UInt64
    public var sampleType: UInt64
    public var readFormat: UInt64
    public var flags: Flags
    public var wakeupEvents: UInt32
    public var bpType: UInt32
    /// `bp_addr` / `config1`.
    public var config1: UInt64
    /// `bp_len` / `config2`.
    public var config2: UInt64

    /// Give `samplePeriod` (every N events) or `sampleFreq` (N samples a second), not both.
    public init(type: UInt32, config: UInt64, samplePeriod: UInt64 = 0, sampleFreq: UInt64 = 0,
                sampleType: UInt64 = 0, readFormat: UInt64 = 0, flags: Flags = [], wakeupEvents: UInt32 = 0,
                bpType: UInt32 = 0, config1: UInt64 = 0, config2: UInt64 = 0) {
        self.type = type
        self.config = config
        self.samplePeriodOrFreq = sampleFreq > 0 ? sampleFreq : samplePeriod
        self.flags = sampleFreq > 0 ? flags.union(.freq) : flags
        self.sampleType = sampleType
        self.readFormat = readFormat
        self.wakeupEvents = wakeupEvents
        self.bpType = bpType
        self.config1 = config1
        self.config2 = config2
    }

    /// The C struct. The bit-field word sits at byte 40 of every `perf_event_attr` version.
    var cValue: perf_event_attr {
        var a = perf_event_attr()
        a.type = type
        a.size = UInt32(MemoryLayout<perf_event_attr>.size)
        a.config = config
        a.sample_period = samplePeriodOrFreq
        a.sample_type = sampleType
        a.read_format = readFormat
        a.wakeup_events = wakeupEvents
        a.bp_type = bpType
        a.config1 = config1
        a.config2 = config2
        withUnsafeMutableBytes(of: &a) { $0.storeBytes(of: flags.rawValue, toByteOffset: 40, as: UInt64.self) }
        return a
    }
}

/// A perf event attachment's key: Python's `(ev_type, ev_config)`.
struct PerfEventKey: Hashable {
    let type: UInt32
    let config: UInt64
    var text: String { "type \(type) config \(config)" }
}

/// One perf event (type and config) opened on several CPUs, a perf event fd each; detaching
/// closes them all. Python: `open_perf_events[(ev_type, ev_config)]`.
struct PerfEventAttachment: Attachment {
    static let family = AttachmentFamily.perfEvent
    let event: PerfEventKey
    /// CPU -> its perf event.
    let fds: [Int32: PerfEventFD]
    var key: String { event.text }

    func detach() { for fd in fds.values { fd.close() } }
}

extension BPF {
    /// Runs `fnName` (loaded as `.perfEvent`) on perf event `evType`/`evConfig`, sampled every
    /// `samplePeriod` events or `sampleFreq` times a second (give one), on `cpu` or, when
    /// `cpu` < 0, on every online CPU; `pid` limits it to one process. Returns the CPUs attached.
    ///
    /// ```swift
    /// try b.attachPerfEvent(evType: PerfType.software, evConfig: PerfSWConfig.cpuClock,
    ///                       fnName: "on_sample", sampleFreq: 99)
    /// ```
    ///
    /// Python: `b.attach_perf_event(ev_type=, ev_config=, fn_name=, sample_period=0,
    /// sample_freq=0, pid=-1, cpu=-1, group_fd=-1)`; libbcc: `bpf_attach_perf_event`.
    @discardableResult
    public func attachPerfEvent(evType: UInt32, evConfig: UInt64, fnName: String, samplePeriod: UInt64 = 0,
                                sampleFreq: UInt64 = 0, pid: Int32 = -1, cpu: Int32 = -1,
                                groupFD: Int32 = -1) throws -> [Int32] {
        if samplePeriod > 0 && sampleFreq > 0 {
            throw BPFError.invalidArgument("attachPerfEvent takes samplePeriod or sampleFreq, not both.")
        }
        if samplePeriod == 0 && sampleFreq == 0 {
            throw BPFError.invalidArgument("attachPerfEvent needs samplePeriod (every N events) or sampleFreq (N samples a second).")
        }
        if evConfig > UInt64(UInt32.max) {
            // libbcc's bpf_attach_perf_event takes a 32-bit config: go through the raw form.
            return try attachPerfEventRaw(attr: PerfEventAttr(type: evType, config: evConfig, samplePeriod: samplePeriod,
                                                              sampleFreq: sampleFreq),
                                          fnName: fnName, pid: pid, cpu: cpu, groupFD: groupFD)
        }
        return try attachPerfEventCommon(key: PerfEventKey(type: evType, config: evConfig), fnName: fnName, cpu: cpu, pid: pid) { fd, c in
            bpf_attach_perf_event(fd, evType, UInt32(evConfig), samplePeriod, sampleFreq, pid, c, groupFD)
        }
    }

    /// Runs `fnName` on the perf event that `attr` describes, on `cpu` or every online CPU.
    /// Python: `b.attach_perf_event_raw(attr=, fn_name=, pid=-1, cpu=-1, group_fd=-1)`;
    /// libbcc: `bpf_attach_perf_event_raw`.
    @discardableResult
    public func attachPerfEventRaw(attr: PerfEventAttr, fnName: String, pid: Int32 = -1, cpu: Int32 = -1,
                                   groupFD: Int32 = -1) throws -> [Int32] {
        var c = attr.cValue
        return try attachPerfEventCommon(key: PerfEventKey(type: attr.type, config: attr.config), fnName: fnName, cpu: cpu, pid: pid) { fd, cpu in
            bpf_attach_perf_event_raw(fd, &c, pid, cpu, groupFD, 0)
        }
    }

    private func attachPerfEventCommon(key: PerfEventKey, fnName: String, cpu: Int32, pid: Int32,
                                       open: (Int32, Int32) -> Int32) throws -> [Int32] {
        let what = key.text
        try Self.requireProcess(pid, kind: "perf event", target: what, function: fnName)
        return try state.withLock { s in
            let cpus = cpu >= 0 ? [cpu] : CPUs.online.map(Int32.init)
            try attach(&s, PerfEventAttachment.self, key: what, kind: "perf event", target: what, fnName: fnName,
                       programType: .perfEvent) { fn in
                var fds: [Int32: PerfEventFD] = [:]
                for c in cpus {
                    switch LibBCC.call("bpf_attach_perf_event", { open(fn.fd, c) }) {
                    case .success(let fd):
                        fds[c] = PerfEventFD(fd: fd)
                    case .failure(let failure):
                        for fd in fds.values { fd.close() }
                        let hint: String? = switch failure.errno {
                        case .ENOENT, .EOPNOTSUPP: "this CPU or kernel has no such event (hardware counters are often missing in VMs: use PerfType.software)"
                        case .EINVAL: "the type, config or sample settings are invalid for this kernel"
                        case .ESRCH: "the process does not exist"
                        default: nil
                        }
                        throw BPFError.from(.attach(kind: "perf event", target: "\(what) on CPU \(c)", function: fnName,
                                                    operation: "opening perf event \(what) on CPU \(c)"),
                                            failure, hint: hint)
                    }
                }
                return PerfEventAttachment(event: key, fds: fds)
            }
            return cpus
        }
    }

    /// Closes the perf events attached for `evType`/`evConfig` on every CPU.
    /// Python: `b.detach_perf_event(ev_type=, ev_config=)`; libbcc: `bpf_close_perf_event_fd`.
    public func detachPerfEvent(evType: UInt32, evConfig: UInt64) throws {
        let what = PerfEventKey(type: evType, config: evConfig).text
        try detach(PerfEventAttachment.self, key: what, kind: "perf event", target: what)
    }

    /// The number of perf event attachments: one per event type and config, however many CPUs
    /// it is open on (the size of Python's `open_perf_events`, keyed by `(ev_type, ev_config)`).
    public var numOpenPerfEvents: Int { numOpen(.perfEvent) }
}
