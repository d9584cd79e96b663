/// A BPF map type (`enum bpf_map_type`), named after the Python BCC table class that
/// `b["name"]` returns for it (Python: `bcc.table.Table()`'s factory).
public enum TableKind: Int32, Sendable, CaseIterable, CustomStringConvertible {
    /// A hash map (`BPF_HASH`, `BPF_TABLE("hash", ...)`): `BPF_MAP_TYPE_HASH`.
    case hash = 1
    /// An array (`BPF_ARRAY`, `BPF_HISTOGRAM`): `BPF_MAP_TYPE_ARRAY`.
    case array
    /// An array of program fds for tail calls (`BPF_PROG_ARRAY`): `BPF_MAP_TYPE_PROG_ARRAY`.
    case progArray
    /// Perf event fds per CPU: perf buffers (`BPF_PERF_OUTPUT`) and counters (`BPF_PERF_ARRAY`): `BPF_MAP_TYPE_PERF_EVENT_ARRAY`.
    case perfEventArray
    /// A hash map with a value per possible CPU (`BPF_PERCPU_HASH`): `BPF_MAP_TYPE_PERCPU_HASH`.
    case perCPUHash
    /// An array with a value per possible CPU (`BPF_PERCPU_ARRAY`): `BPF_MAP_TYPE_PERCPU_ARRAY`.
    case perCPUArray
    /// Stack traces by stack id (`BPF_STACK_TRACE`, `BPF_STACK_TRACE_BUILDID`): `BPF_MAP_TYPE_STACK_TRACE`.
    case stackTrace
    /// Cgroup fds (`BPF_CGROUP_ARRAY`): `BPF_MAP_TYPE_CGROUP_ARRAY`.
    case cgroupArray
    /// A hash map that evicts the least recently used entry when full (`BPF_TABLE("lru_hash", ...)`): `BPF_MAP_TYPE_LRU_HASH`.
    case lruHash
    /// An LRU hash map with a value per possible CPU: `BPF_MAP_TYPE_LRU_PERCPU_HASH`.
    case lruPerCPUHash
    /// A longest-prefix-match trie (`BPF_LPM_TRIE`): `BPF_MAP_TYPE_LPM_TRIE`.
    case lpmTrie
    /// An array whose values are map fds (`BPF_ARRAY_OF_MAPS`): `BPF_MAP_TYPE_ARRAY_OF_MAPS`.
    case arrayOfMaps
    /// A hash map whose values are map fds (`BPF_HASH_OF_MAPS`): `BPF_MAP_TYPE_HASH_OF_MAPS`.
    case hashOfMaps
    /// Network devices for XDP redirects (`BPF_DEVMAP`): `BPF_MAP_TYPE_DEVMAP`.
    case devMap
    /// Sockets by index, for socket redirects (`BPF_SOCKMAP`): `BPF_MAP_TYPE_SOCKMAP`.
    case sockMap
    /// CPUs for XDP redirects (`BPF_CPUMAP`): `BPF_MAP_TYPE_CPUMAP`.
    case cpuMap
    /// AF_XDP sockets (`BPF_XSKMAP`): `BPF_MAP_TYPE_XSKMAP`.
    case xskMap
    /// Sockets by key, for socket redirects (`BPF_SOCKHASH`): `BPF_MAP_TYPE_SOCKHASH`.
    case sockHash
    /// Per-cgroup storage of a cgroup program (`BPF_CGROUP_STORAGE`): `BPF_MAP_TYPE_CGROUP_STORAGE`.
    case cgroupStorage
    /// SO_REUSEPORT sockets for a reuseport program: `BPF_MAP_TYPE_REUSEPORT_SOCKARRAY`.
    case reuseportSockArray
    /// Per-cgroup storage with a value per possible CPU (`BPF_PERCPU_CGROUP_STORAGE`): `BPF_MAP_TYPE_PERCPU_CGROUP_STORAGE`.
    case perCPUCgroupStorage
    /// A FIFO queue (`BPF_QUEUE`): `BPF_MAP_TYPE_QUEUE`.
    case queue
    /// A LIFO stack (`BPF_STACK`): `BPF_MAP_TYPE_STACK`.
    case stack
    /// Per-socket storage (`BPF_SK_STORAGE`): `BPF_MAP_TYPE_SK_STORAGE`.
    case skStorage
    /// Network devices by key for XDP redirects: `BPF_MAP_TYPE_DEVMAP_HASH`.
    case devMapHash
    /// Kernel struct_ops implementations: `BPF_MAP_TYPE_STRUCT_OPS`.
    case structOps
    /// A ring buffer shared by all CPUs (`BPF_RINGBUF_OUTPUT`): `BPF_MAP_TYPE_RINGBUF`.
    case ringBuf
    /// Per-inode storage (`BPF_INODE_STORAGE`): `BPF_MAP_TYPE_INODE_STORAGE`.
    case inodeStorage
    /// Per-task storage (`BPF_TASK_STORAGE`): `BPF_MAP_TYPE_TASK_STORAGE`.
    case taskStorage
    /// A Bloom filter: `BPF_MAP_TYPE_BLOOM_FILTER`.
    case bloomFilter

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

    /// The Python BCC class name (``pythonClassName``).
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
