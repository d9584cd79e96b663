internal import CBCC
import Glibc

/// `perf_type_id` values (`linux/perf_event.h`), as Python BCC's `PerfType`.
public enum PerfType {
    /// A generalized hardware event: a ``PerfHWConfig`` value is its config. `PERF_TYPE_HARDWARE`;
    /// Python: `PerfType.HARDWARE`.
    public static let hardware: UInt32 = 0
    /// A software event the kernel counts: a ``PerfSWConfig`` value is its config.
    /// `PERF_TYPE_SOFTWARE`; Python: `PerfType.SOFTWARE`.
    public static let software: UInt32 = 1
    /// A tracepoint: its tracefs id is the config. `PERF_TYPE_TRACEPOINT`; Python:
    /// `PerfType.TRACEPOINT`.
    public static let tracepoint: UInt32 = 2
    /// A hardware cache event: the config encodes cache, operation and result.
    /// `PERF_TYPE_HW_CACHE`; Python: `PerfType.HW_CACHE`.
    public static let hwCache: UInt32 = 3
    /// A CPU-specific raw hardware event: its code is the config. `PERF_TYPE_RAW`; Python:
    /// `PerfType.RAW`.
    public static let raw: UInt32 = 4
    /// A hardware breakpoint, set with `bpType`, `config1` (address) and `config2` (length).
    /// `PERF_TYPE_BREAKPOINT`; Python: `PerfType.BREAKPOINT`.
    public static let breakpoint: UInt32 = 5
}

/// `perf_hw_id` values, as Python BCC's `PerfHWConfig`.
public enum PerfHWConfig {
    /// CPU cycles. `PERF_COUNT_HW_CPU_CYCLES`; Python: `PerfHWConfig.CPU_CYCLES`.
    public static let cpuCycles: UInt64 = 0
    /// Retired instructions. `PERF_COUNT_HW_INSTRUCTIONS`; Python: `PerfHWConfig.INSTRUCTIONS`.
    public static let instructions: UInt64 = 1
    /// Cache accesses (usually of the last-level cache). `PERF_COUNT_HW_CACHE_REFERENCES`; Python:
    /// `PerfHWConfig.CACHE_REFERENCES`.
    public static let cacheReferences: UInt64 = 2
    /// Cache misses (usually of the last-level cache). `PERF_COUNT_HW_CACHE_MISSES`; Python:
    /// `PerfHWConfig.CACHE_MISSES`.
    public static let cacheMisses: UInt64 = 3
    /// Retired branch instructions. `PERF_COUNT_HW_BRANCH_INSTRUCTIONS`; Python:
    /// `PerfHWConfig.BRANCH_INSTRUCTIONS`.
    public static let branchInstructions: UInt64 = 4
    /// Mispredicted branch instructions. `PERF_COUNT_HW_BRANCH_MISSES`; Python:
    /// `PerfHWConfig.BRANCH_MISSES`.
    public static let branchMisses: UInt64 = 5
    /// Bus cycles. `PERF_COUNT_HW_BUS_CYCLES`; Python: `PerfHWConfig.BUS_CYCLES`.
    public static let busCycles: UInt64 = 6
    /// Cycles stalled in the instruction front end. `PERF_COUNT_HW_STALLED_CYCLES_FRONTEND`;
    /// Python: `PerfHWConfig.STALLED_CYCLES_FRONTEND`.
    public static let stalledCyclesFrontend: UInt64 = 7
    /// Cycles stalled in the back end. `PERF_COUNT_HW_STALLED_CYCLES_BACKEND`; Python:
    /// `PerfHWConfig.STALLED_CYCLES_BACKEND`.
    public static let stalledCyclesBackend: UInt64 = 8
    /// Reference cycles, not affected by CPU frequency scaling. `PERF_COUNT_HW_REF_CPU_CYCLES`;
    /// Python: `PerfHWConfig.REF_CPU_CYCLES`.
    public static let refCPUCycles: UInt64 = 9
}

/// `perf_sw_id` values, as Python BCC's `PerfSWConfig`.
public enum PerfSWConfig {
    /// The CPU clock, a high-resolution per-CPU timer. `PERF_COUNT_SW_CPU_CLOCK`; Python:
    /// `PerfSWConfig.CPU_CLOCK`.
    public static let cpuClock: UInt64 = 0
    /// The clock of the task being measured. `PERF_COUNT_SW_TASK_CLOCK`; Python:
    /// `PerfSWConfig.TASK_CLOCK`.
    public static let taskClock: UInt64 = 1
    /// Page faults. `PERF_COUNT_SW_PAGE_FAULTS`; Python: `PerfSWConfig.PAGE_FAULTS`.
    public static let pageFaults: UInt64 = 2
    /// Context switches. `PERF_COUNT_SW_CONTEXT_SWITCHES`; Python: `PerfSWConfig.CONTEXT_SWITCHES`.
    public static let contextSwitches: UInt64 = 3
    /// Migrations of the task to another CPU. `PERF_COUNT_SW_CPU_MIGRATIONS`; Python:
    /// `PerfSWConfig.CPU_MIGRATIONS`.
    public static let cpuMigrations: UInt64 = 4
    /// Minor page faults (no disk I/O). `PERF_COUNT_SW_PAGE_FAULTS_MIN`; Python:
    /// `PerfSWConfig.PAGE_FAULTS_MIN`.
    public static let pageFaultsMin: UInt64 = 5
    /// Major page faults (with disk I/O). `PERF_COUNT_SW_PAGE_FAULTS_MAJ`; Python:
    /// `PerfSWConfig.PAGE_FAULTS_MAJ`.
    public static let pageFaultsMaj: UInt64 = 6
    /// Alignment faults. `PERF_COUNT_SW_ALIGNMENT_FAULTS`; Python: `PerfSWConfig.ALIGNMENT_FAULTS`.
    public static let alignmentFaults: UInt64 = 7
    /// Emulated instructions. `PERF_COUNT_SW_EMULATION_FAULTS`; Python:
    /// `PerfSWConfig.EMULATION_FAULTS`.
    public static let emulationFaults: UInt64 = 8
    /// A placeholder event that counts nothing. `PERF_COUNT_SW_DUMMY`; Python:
    /// `PerfSWConfig.DUMMY`.
    public static let dummy: UInt64 = 9
    /// The event behind `BPF_PERF_OUTPUT` buffers (`bpf_perf_event_output`).
    /// `PERF_COUNT_SW_BPF_OUTPUT`; Python: `PerfSWConfig.BPF_OUTPUT`.
    public static let bpfOutput: UInt64 = 10
}

/// The fields of `struct perf_event_attr` a BPF perf event program needs, for
/// ``BPF/attachPerfEventRaw(attr:fnName:pid:cpu:groupFD:)``. Python: `Perf.perf_event_attr()`.
public struct PerfEventAttr: Hashable, Sendable {
    /// The bit-field word of `perf_event_attr` (`disabled`, `inherit`, ..., `freq`, ...).
    public struct Flags: OptionSet, Hashable, Sendable {
        /// The bit-field word, bit 0 (`disabled`) first.
        public let rawValue: UInt64
        /// The flags whose bit-field word is `rawValue`.
        public init(rawValue: UInt64) { self.rawValue = rawValue }
        /// Start the event disabled. The `disabled` bit; Python: `attr.disabled = 1` on
        /// `Perf.perf_event_attr`.
        public static let disabled = Flags(rawValue: 1 << 0)
        /// Count the task's children too. The `inherit` bit; Python: `attr.inherit = 1` on
        /// `Perf.perf_event_attr`.
        public static let inherit = Flags(rawValue: 1 << 1)
        /// Keep the event on the PMU at all times (errors when it cannot be). The `pinned` bit;
        /// Python: `attr.pinned = 1` on `Perf.perf_event_attr`.
        public static let pinned = Flags(rawValue: 1 << 2)
        /// Be the only group on the PMU when on it. The `exclusive` bit; Python: `attr.exclusive =
        /// 1` on `Perf.perf_event_attr`.
        public static let exclusive = Flags(rawValue: 1 << 3)
        /// Do not count user space. The `exclude_user` bit; Python: `attr.exclude_user = 1` on
        /// `Perf.perf_event_attr`.
        public static let excludeUser = Flags(rawValue: 1 << 4)
        /// Do not count the kernel. The `exclude_kernel` bit; Python: `attr.exclude_kernel = 1` on
        /// `Perf.perf_event_attr`.
        public static let excludeKernel = Flags(rawValue: 1 << 5)
        /// Do not count the hypervisor. The `exclude_hv` bit; Python: `attr.exclude_hv = 1` on
        /// `Perf.perf_event_attr`.
        public static let excludeHv = Flags(rawValue: 1 << 6)
        /// Do not count when the CPU is idle. The `exclude_idle` bit; Python: `attr.exclude_idle =
        /// 1` on `Perf.perf_event_attr`.
        public static let excludeIdle = Flags(rawValue: 1 << 7)
        /// Record mmap events. The `mmap` bit; Python: `attr.mmap = 1` on `Perf.perf_event_attr`.
        public static let mmap = Flags(rawValue: 1 << 8)
        /// Record command-name changes. The `comm` bit; Python: `attr.comm = 1` on
        /// `Perf.perf_event_attr`.
        public static let comm = Flags(rawValue: 1 << 9)
        /// `sample_freq` rather than `sample_period` (set by `sampleFreq:`).
        public static let freq = Flags(rawValue: 1 << 10)
        /// Keep per-task counts of inherited events. The `inherit_stat` bit; Python:
        /// `attr.inherit_stat = 1` on `Perf.perf_event_attr`.
        public static let inheritStat = Flags(rawValue: 1 << 11)
        /// Enable the event at the next exec. The `enable_on_exec` bit; Python:
        /// `attr.enable_on_exec = 1` on `Perf.perf_event_attr`.
        public static let enableOnExec = Flags(rawValue: 1 << 12)
        /// Record fork and exit events. The `task` bit; Python: `attr.task = 1` on
        /// `Perf.perf_event_attr`.
        public static let task = Flags(rawValue: 1 << 13)
        /// Wake up at `wakeup_watermark` bytes rather than `wakeup_events` events. The `watermark`
        /// bit; Python: `attr.watermark = 1` on `Perf.perf_event_attr`.
        public static let watermark = Flags(rawValue: 1 << 14)
    }

    /// The event type, a ``PerfType`` value. Python: `attr.type`.
    public var type: UInt32
    /// The event within its type, such as a ``PerfHWConfig`` or ``PerfSWConfig`` value. Python:
    /// `attr.config`.
    public var config: UInt64
    /// `sample_period`, or `sample_freq` when `flags` contains `.freq`.
    public var samplePeriodOrFreq: UInt64
    /// What each sample records, ``PerfEventSampleFormat`` bits. Python: `attr.sample_type`.
    public var sampleType: UInt64
    /// What a `read(2)` of the event returns (`PERF_FORMAT_*` bits). Python: `attr.read_format`.
    public var readFormat: UInt64
    /// The bit-field word: `disabled`, `inherit`, ..., `freq`, `precise_ip`, ...
    public var flags: Flags
    /// Samples per wakeup of the reader (`wakeup_events`). Python: `attr.wakeup_events`.
    public var wakeupEvents: UInt32
    /// The breakpoint type (`HW_BREAKPOINT_R`, `_W`, `_X`) for a ``PerfType/breakpoint`` event.
    /// Python: `attr.bp_type`.
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
