extension TableKind {
    /// The map type as Python's `map_type_name` spells it: `HASH`, `PERCPU_ARRAY`, `RINGBUF`, ...
    /// Python: `bcc.table.get_table_type_name(ttype)`.
    public var mapTypeName: String {
        switch self {
        case .hash: return "HASH"
        case .array: return "ARRAY"
        case .progArray: return "PROG_ARRAY"
        case .perfEventArray: return "PERF_EVENT_ARRAY"
        case .perCPUHash: return "PERCPU_HASH"
        case .perCPUArray: return "PERCPU_ARRAY"
        case .stackTrace: return "STACK_TRACE"
        case .cgroupArray: return "CGROUP_ARRAY"
        case .lruHash: return "LRU_HASH"
        case .lruPerCPUHash: return "LRU_PERCPU_HASH"
        case .lpmTrie: return "LPM_TRIE"
        case .arrayOfMaps: return "ARRAY_OF_MAPS"
        case .hashOfMaps: return "HASH_OF_MAPS"
        case .devMap: return "DEVMAP"
        case .sockMap: return "SOCKMAP"
        case .cpuMap: return "CPUMAP"
        case .xskMap: return "XSKMAP"
        case .sockHash: return "SOCKHASH"
        case .cgroupStorage: return "CGROUP_STORAGE"
        case .reuseportSockArray: return "REUSEPORT_SOCKARRAY"
        case .perCPUCgroupStorage: return "PERCPU_CGROUP_STORAGE"
        case .queue: return "QUEUE"
        case .stack: return "STACK"
        case .skStorage: return "SK_STORAGE"
        case .devMapHash: return "DEVMAP_HASH"
        case .structOps: return "STRUCT_OPS"
        case .ringBuf: return "RINGBUF"
        case .inodeStorage: return "INODE_STORAGE"
        case .taskStorage: return "TASK_STORAGE"
        case .bloomFilter: return "BLOOM_FILTER"
        }
    }

    /// The name for a raw `bpf_map_type`, `<unknown>` for one SwiftBCC does not know.
    /// Python: `bcc.table.get_table_type_name(ttype)`.
    public static func getTableTypeName(_ mapType: Int32) -> String {
        TableKind(rawValue: mapType)?.mapTypeName ?? "<unknown>"
    }
}

extension Disassembler {
    /// The C layout of `table`'s key and value, as Python prints it:
    ///
    /// ```
    /// Layout of BPF map counts (type HASH, FD 6, ID 2):
    ///   struct {
    ///     [0 +4] unsigned int pid;
    ///     [4 +16] char[16] comm;
    ///   } key;
    ///   unsigned long long value;
    /// ```
    ///
    /// Type names are Python's ctypes names turned back into C (`long` prints as `long long`,
    /// `__int128` as `long long[2]`, a per-CPU value as an array with one element per possible
    /// CPU); `sizeInfo` adds `[offset +size]` (`[offset,bit +width bit]` for bitfields). The FD is
    /// the `Table`'s own. Where Python prints a nested struct's members without offsets, counts
    /// a bitfield's position wrongly or fails (arrays of structs, several dimensions), SwiftBCC
    /// prints the real layout.
    /// Python: `bcc.disassembler.decode_map(map_name, map_obj, map_type, sizeinfo=False)`.
    public static func decodeMap(_ table: Table, sizeInfo: Bool = false) throws -> String {
        var lines = ["Layout of BPF map \(table.name) (type \(table.kind.mapTypeName), FD \(try table.fd), ID \(table.id)):"]
        lines += mapLines(table.keyType, name: "key", sizeInfo: sizeInfo)
        lines += mapLines(table.valueType, name: "value", sizeInfo: sizeInfo)
        return lines.joined(separator: "\n")
    }

    static func mapLines(_ t: TypeDescription, name: String, sizeInfo: Bool) -> [String] {
        switch t.kind {
        case .structure, .union:
            return ["  \(ctName(t)) {"] + memberLines(t, indent: "    ", base: 0, sizeInfo: sizeInfo) + ["  } \(name);"]
        default:
            return ["  \(ctName(t)) \(name);"]
        }
    }

    static func memberLines(_ t: TypeDescription, indent: String, base: Int, sizeInfo: Bool) -> [String] {
        var lines: [String] = []
        var anonymous = 0
        for f in t.fields {
            var name = f.name
            if name.isEmpty {
                name = "__anon\(anonymous)"
                anonymous += 1
            }
            let at = base + f.offset
            if let width = f.bitWidth {
                let info = sizeInfo ? "[\(at),\(f.bitOffset) +\(width) bit]" : ""
                lines.append("\(indent)\(info)\(ctName(f.type)) \(name):\(width);")
                continue
            }
            let info = sizeInfo ? "[\(at) +\(f.type.size)] " : ""
            switch f.type.kind {
            case .structure, .union:
                lines.append("\(indent)\(info)\(ctName(f.type)) {")
                lines += memberLines(f.type, indent: indent + "  ", base: at, sizeInfo: sizeInfo)
                lines.append("\(indent)} \(name);")
            default:
                lines.append("\(indent)\(info)\(ctName(f.type)) \(name);")
            }
        }
        return lines
    }

    /// Python's `MapDecoder.get_ct_name`: the C name of the ctypes type Python builds.
    static func ctName(_ t: TypeDescription) -> String {
        switch t.kind {
        case let .scalar(s):
            switch s {
            case .long, .longLong: return "long long"
            case .unsignedLong, .unsignedLongLong: return "unsigned long long"
            case .int128: return "long long[2]"
            case .unsignedInt128: return "unsigned long long[2]"
            default: return s.cName
            }
        case .array:
            var dims = ""
            var inner = t
            while case let .array(e, n) = inner.kind { dims += "[\(n)]"; inner = e }
            let element: String
            switch inner.kind {
            case .scalar(.int128): element = "__int128"
            case .scalar(.unsignedInt128): element = "unsigned __int128"
            case .structure(let name, _, _): element = name.isEmpty ? "struct" : "struct \(name)"
            case .union(let name, _): element = name.isEmpty ? "union" : "union \(name)"
            default: element = ctName(inner)
            }
            return element + dims
        case .structure: return "struct"
        case .union: return "union"
        case let .enumeration(name, _): return "enum \(name)"
        }
    }
}

extension BPF {
    /// The C layout of table `name`'s key and value as text (see ``Disassembler/decodeMap(_:sizeInfo:)``).
    /// Python: `b.decode_table(table_name, sizeinfo=False)`; libbcc: `bpf_table_key_desc`, `bpf_table_leaf_desc`.
    public func decodeTable(_ name: String, sizeInfo: Bool = false) throws -> String {
        try Disassembler.decodeMap(table(name), sizeInfo: sizeInfo)
    }
}
