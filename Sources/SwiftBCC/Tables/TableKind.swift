/// A BPF map type (`enum bpf_map_type`), named after the Python BCC table class that
/// `b["name"]` returns for it (Python: `bcc.table.Table()`'s factory).
public enum TableKind: Int32, Sendable, CaseIterable, CustomStringConvertible {
    case hash = 1, array, progArray, perfEventArray, perCPUHash, perCPUArray, stackTrace, cgroupArray,
         lruHash, lruPerCPUHash, lpmTrie, arrayOfMaps, hashOfMaps, devMap, sockMap, cpuMap, xskMap,
         sockHash, cgroupStorage, reuseportSockArray, perCPUCgroupStorage, queue, stack, skStorage,
         devMapHash, structOps, ringBuf, inodeStorage, taskStorage, bloomFilter

    /// The Python BCC class name for this kind (`HashTable`, `PerfEventArray`, ...).
    public var pythonClassName: String {
        switch self {
        case .hash: return "HashTable"
        case .array: return "Array"
        case .progArray: return "ProgArray"
        case .perfEventArray: return "PerfEventArray"
        case .perCPUHash: return "PerCpuHash"
        case .perCPUArray: return "PerCpuArray"
        case .stackTrace: return "StackTrace"
        case .cgroupArray: return "CgroupArray"
        case .lruHash: return "LruHash"
        case .lruPerCPUHash: return "LruPerCpuHash"
        case .lpmTrie: return "LpmTrie"
        case .arrayOfMaps: return "MapInMapArray"
        case .hashOfMaps: return "MapInMapHash"
        case .devMap: return "DevMap"
        case .cpuMap: return "CpuMap"
        case .xskMap: return "XskMap"
        case .queue, .stack: return "QueueStack"
        case .ringBuf: return "RingBuf"
        default: return "TableBase"
        }
    }

    public var description: String { pythonClassName }

    /// Arrays: every index below `maxEntries` exists; delete zeroes.
    public var isArrayLike: Bool {
        switch self {
        case .array, .perCPUArray, .progArray, .perfEventArray, .cgroupArray, .arrayOfMaps, .devMap, .cpuMap, .xskMap:
            return true
        default: return false
        }
    }

    /// Per-CPU maps: a value per possible CPU.
    public var isPerCPU: Bool {
        self == .perCPUHash || self == .perCPUArray || self == .lruPerCPUHash || self == .perCPUCgroupStorage
    }
}
