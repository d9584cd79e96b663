/// `perf_event_sample_format` bits (`linux/perf_event.h`), for ``PerfEventAttr/sampleType``:
/// `sampleType: PerfEventSampleFormat([.ip, .tid]).rawValue`. Python: `bcc.PerfEventSampleFormat`.
public struct PerfEventSampleFormat: OptionSet, Sendable, Hashable {
    public let rawValue: UInt64
    public init(rawValue: UInt64) { self.rawValue = rawValue }
    public static let ip = Self(rawValue: 1 << 0)
    public static let tid = Self(rawValue: 1 << 1)
    public static let time = Self(rawValue: 1 << 2)
    public static let addr = Self(rawValue: 1 << 3)
    public static let read = Self(rawValue: 1 << 4)
    public static let callchain = Self(rawValue: 1 << 5)
    public static let id = Self(rawValue: 1 << 6)
    public static let cpu = Self(rawValue: 1 << 7)
    public static let period = Self(rawValue: 1 << 8)
    public static let streamID = Self(rawValue: 1 << 9)
    public static let raw = Self(rawValue: 1 << 10)
    public static let branchStack = Self(rawValue: 1 << 11)
    public static let regsUser = Self(rawValue: 1 << 12)
    public static let stackUser = Self(rawValue: 1 << 13)
    public static let weight = Self(rawValue: 1 << 14)
    public static let dataSrc = Self(rawValue: 1 << 15)
    public static let identifier = Self(rawValue: 1 << 16)
    public static let transaction = Self(rawValue: 1 << 17)
    public static let regsIntr = Self(rawValue: 1 << 18)
    public static let physAddr = Self(rawValue: 1 << 19)
    public static let aux = Self(rawValue: 1 << 20)
    public static let cgroup = Self(rawValue: 1 << 21)
    public static let dataPageSize = Self(rawValue: 1 << 22)
    public static let codePageSize = Self(rawValue: 1 << 23)
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

    public static let mmapData = Self(rawValue: 1 << 17)
    public static let sampleIDAll = Self(rawValue: 1 << 18)
    public static let excludeHost = Self(rawValue: 1 << 19)
    public static let excludeGuest = Self(rawValue: 1 << 20)
    public static let excludeCallchainKernel = Self(rawValue: 1 << 21)
    public static let excludeCallchainUser = Self(rawValue: 1 << 22)
    public static let mmap2 = Self(rawValue: 1 << 23)
    public static let commExec = Self(rawValue: 1 << 24)
    public static let useClockID = Self(rawValue: 1 << 25)
    public static let contextSwitch = Self(rawValue: 1 << 26)
    public static let writeBackward = Self(rawValue: 1 << 27)
    public static let namespaces = Self(rawValue: 1 << 28)
    public static let ksymbol = Self(rawValue: 1 << 29)
    public static let bpfEvent = Self(rawValue: 1 << 30)
    public static let auxOutput = Self(rawValue: 1 << 31)
    public static let cgroup = Self(rawValue: 1 << 32)
    public static let textPoke = Self(rawValue: 1 << 33)
}
