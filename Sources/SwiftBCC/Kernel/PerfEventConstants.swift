/// `perf_event_sample_format` bits (`linux/perf_event.h`), for ``PerfEventAttr/sampleType``:
/// `sampleType: PerfEventSampleFormat([.ip, .tid]).rawValue`. Python: `bcc.PerfEventSampleFormat`.
public struct PerfEventSampleFormat: OptionSet, Sendable, Hashable {
    /// The bits, as `perf_event_attr.sample_type` takes them.
    public let rawValue: UInt64
    /// The format whose bits are `rawValue`.
    public init(rawValue: UInt64) { self.rawValue = rawValue }
    /// The instruction pointer. `PERF_SAMPLE_IP`; Python: `PerfEventSampleFormat.IP`.
    public static let ip = Self(rawValue: 1 << 0)
    /// The process and thread ids. `PERF_SAMPLE_TID`; Python: `PerfEventSampleFormat.TID`.
    public static let tid = Self(rawValue: 1 << 1)
    /// A timestamp. `PERF_SAMPLE_TIME`; Python: `PerfEventSampleFormat.TIME`.
    public static let time = Self(rawValue: 1 << 2)
    /// An address, where the event has one. `PERF_SAMPLE_ADDR`; Python:
    /// `PerfEventSampleFormat.ADDR`.
    public static let addr = Self(rawValue: 1 << 3)
    /// The counter values, as `read(2)` gives them. `PERF_SAMPLE_READ`; Python:
    /// `PerfEventSampleFormat.READ`.
    public static let read = Self(rawValue: 1 << 4)
    /// The call chain (stack). `PERF_SAMPLE_CALLCHAIN`; Python: `PerfEventSampleFormat.CALLCHAIN`.
    public static let callchain = Self(rawValue: 1 << 5)
    /// The event's group leader id. `PERF_SAMPLE_ID`; Python: `PerfEventSampleFormat.ID`.
    public static let id = Self(rawValue: 1 << 6)
    /// The CPU. `PERF_SAMPLE_CPU`; Python: `PerfEventSampleFormat.CPU`.
    public static let cpu = Self(rawValue: 1 << 7)
    /// The current sample period. `PERF_SAMPLE_PERIOD`; Python: `PerfEventSampleFormat.PERIOD`.
    public static let period = Self(rawValue: 1 << 8)
    /// The event's own id. `PERF_SAMPLE_STREAM_ID`; Python: `PerfEventSampleFormat.STREAM_ID`.
    public static let streamID = Self(rawValue: 1 << 9)
    /// Raw, event-specific data (a tracepoint's record). `PERF_SAMPLE_RAW`; Python:
    /// `PerfEventSampleFormat.RAW`.
    public static let raw = Self(rawValue: 1 << 10)
    /// The last branches taken. `PERF_SAMPLE_BRANCH_STACK`; Python:
    /// `PerfEventSampleFormat.BRANCH_STACK`.
    public static let branchStack = Self(rawValue: 1 << 11)
    /// The user-space registers. `PERF_SAMPLE_REGS_USER`; Python:
    /// `PerfEventSampleFormat.REGS_USER`.
    public static let regsUser = Self(rawValue: 1 << 12)
    /// The user-space stack. `PERF_SAMPLE_STACK_USER`; Python: `PerfEventSampleFormat.STACK_USER`.
    public static let stackUser = Self(rawValue: 1 << 13)
    /// A hardware-given cost of the sampled event. `PERF_SAMPLE_WEIGHT`; Python:
    /// `PerfEventSampleFormat.WEIGHT`.
    public static let weight = Self(rawValue: 1 << 14)
    /// Where in the memory hierarchy the sampled data came from. `PERF_SAMPLE_DATA_SRC`; Python:
    /// `PerfEventSampleFormat.DATA_SRC`.
    public static let dataSrc = Self(rawValue: 1 << 15)
    /// The event id, at a fixed place in the sample. `PERF_SAMPLE_IDENTIFIER`; Python:
    /// `PerfEventSampleFormat.IDENTIFIER`.
    public static let identifier = Self(rawValue: 1 << 16)
    /// The reason a transactional-memory abort happened. `PERF_SAMPLE_TRANSACTION`; Python:
    /// `PerfEventSampleFormat.TRANSACTION`.
    public static let transaction = Self(rawValue: 1 << 17)
    /// The registers at the interrupt. `PERF_SAMPLE_REGS_INTR`; Python:
    /// `PerfEventSampleFormat.REGS_INTR`.
    public static let regsIntr = Self(rawValue: 1 << 18)
    /// The physical address of the data. `PERF_SAMPLE_PHYS_ADDR`; Python:
    /// `PerfEventSampleFormat.PHYS_ADDR`.
    public static let physAddr = Self(rawValue: 1 << 19)
    /// Data from the AUX area. `PERF_SAMPLE_AUX`; Python: `PerfEventSampleFormat.AUX`.
    public static let aux = Self(rawValue: 1 << 20)
    /// The cgroup id. `PERF_SAMPLE_CGROUP`; Python: `PerfEventSampleFormat.CGROUP`.
    public static let cgroup = Self(rawValue: 1 << 21)
    /// The page size of the data address. `PERF_SAMPLE_DATA_PAGE_SIZE`; Python:
    /// `PerfEventSampleFormat.DATA_PAGE_SIZE`.
    public static let dataPageSize = Self(rawValue: 1 << 22)
    /// The page size of the instruction address. `PERF_SAMPLE_CODE_PAGE_SIZE`; Python:
    /// `PerfEventSampleFormat.CODE_PAGE_SIZE`.
    public static let codePageSize = Self(rawValue: 1 << 23)
    /// The weight as a structure of several costs. `PERF_SAMPLE_WEIGHT_STRUCT`; Python:
    /// `PerfEventSampleFormat.WEIGHT_STRUCT`.
    public static let weightStruct = Self(rawValue: 1 << 24)
}

extension PerfEventAttr.Flags {
    /// `precise_ip`, the two-bit skid constraint (bits 15-16 of the flag word): 0 arbitrary skid,
    /// 1 constant skid, 2 requested zero skid, 3 zero skid. Values above 3 are cut to 3.
    /// Python: `attr.precise_ip = level` on `Perf.perf_event_attr`.
    public static func preciseIP(_ level: Int) -> Self {
        Self(rawValue: UInt64(Swift.min(Swift.max(level, 0), 3)) << 15)
    }
    /// `precise_ip = 1`: the sample may skid, by a constant amount.
    public static let preciseIPConstantSkid = preciseIP(1)
    /// `precise_ip = 2`: zero skid asked for.
    public static let preciseIPRequestZeroSkid = preciseIP(2)
    /// `precise_ip = 3`: zero skid required.
    public static let preciseIPZeroSkid = preciseIP(3)
    /// The `precise_ip` level these flags hold (0...3).
    public var preciseIPLevel: Int { Int((rawValue >> 15) & 3) }

    /// Record mmap events of non-executable mappings too. The `mmap_data` bit; Python:
    /// `attr.mmap_data = 1` on `Perf.perf_event_attr`.
    public static let mmapData = Self(rawValue: 1 << 17)
    /// Add the `sampleType` ids to non-sample records too. The `sample_id_all` bit; Python:
    /// `attr.sample_id_all = 1` on `Perf.perf_event_attr`.
    public static let sampleIDAll = Self(rawValue: 1 << 18)
    /// Do not count in the host (only in guests). The `exclude_host` bit; Python:
    /// `attr.exclude_host = 1` on `Perf.perf_event_attr`.
    public static let excludeHost = Self(rawValue: 1 << 19)
    /// Do not count in guests. The `exclude_guest` bit; Python: `attr.exclude_guest = 1` on
    /// `Perf.perf_event_attr`.
    public static let excludeGuest = Self(rawValue: 1 << 20)
    /// Leave kernel frames out of call chains. The `exclude_callchain_kernel` bit; Python:
    /// `attr.exclude_callchain_kernel = 1` on `Perf.perf_event_attr`.
    public static let excludeCallchainKernel = Self(rawValue: 1 << 21)
    /// Leave user frames out of call chains. The `exclude_callchain_user` bit; Python:
    /// `attr.exclude_callchain_user = 1` on `Perf.perf_event_attr`.
    public static let excludeCallchainUser = Self(rawValue: 1 << 22)
    /// Record extended mmap events (`PERF_RECORD_MMAP2`). The `mmap2` bit; Python: `attr.mmap2 = 1`
    /// on `Perf.perf_event_attr`.
    public static let mmap2 = Self(rawValue: 1 << 23)
    /// Mark command-name changes made by exec. The `comm_exec` bit; Python: `attr.comm_exec = 1` on
    /// `Perf.perf_event_attr`.
    public static let commExec = Self(rawValue: 1 << 24)
    /// Time samples with `clockid`. The `use_clockid` bit; Python: `attr.use_clockid = 1` on
    /// `Perf.perf_event_attr`.
    public static let useClockID = Self(rawValue: 1 << 25)
    /// Record context switches. The `context_switch` bit; Python: `attr.context_switch = 1` on
    /// `Perf.perf_event_attr`.
    public static let contextSwitch = Self(rawValue: 1 << 26)
    /// Write the ring buffer from the end backwards. The `write_backward` bit; Python:
    /// `attr.write_backward = 1` on `Perf.perf_event_attr`.
    public static let writeBackward = Self(rawValue: 1 << 27)
    /// Record namespace changes. The `namespaces` bit; Python: `attr.namespaces = 1` on
    /// `Perf.perf_event_attr`.
    public static let namespaces = Self(rawValue: 1 << 28)
    /// Record kernel symbol registrations. The `ksymbol` bit; Python: `attr.ksymbol = 1` on
    /// `Perf.perf_event_attr`.
    public static let ksymbol = Self(rawValue: 1 << 29)
    /// Record BPF program loads and unloads. The `bpf_event` bit; Python: `attr.bpf_event = 1` on
    /// `Perf.perf_event_attr`.
    public static let bpfEvent = Self(rawValue: 1 << 30)
    /// Send the event's output to the group leader's AUX area. The `aux_output` bit; Python:
    /// `attr.aux_output = 1` on `Perf.perf_event_attr`.
    public static let auxOutput = Self(rawValue: 1 << 31)
    /// Record cgroup creations. The `cgroup` bit; Python: `attr.cgroup = 1` on
    /// `Perf.perf_event_attr`.
    public static let cgroup = Self(rawValue: 1 << 32)
    /// Record changes to kernel text. The `text_poke` bit; Python: `attr.text_poke = 1` on
    /// `Perf.perf_event_attr`.
    public static let textPoke = Self(rawValue: 1 << 33)
}
