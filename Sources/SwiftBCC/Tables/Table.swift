internal import CBCC
import Glibc

/// A BPF map declared in the program (`BPF_HASH`, `BPF_ARRAY`, `BPF_PERF_OUTPUT`, ...), as
/// libbcc describes it: kind, key and leaf sizes, and key/leaf type descriptions.
/// Python: the object `b["name"]` returns (`bcc.table.TableBase` and its subclasses).
///
/// A `Table` reads and writes raw bytes; typed and dynamic views build on it. It does not keep
/// its `BPF` alive: after `cleanup()` its operations throw `BPFError.closed`.
public final class Table: @unchecked Sendable {
    /// The table's name in the program.
    public let name: String
    /// The map type, named as Python's table classes.
    public let kind: TableKind
    /// The raw `bpf_map_type` value (for types `TableKind` has no case for).
    public let mapType: Int32
    /// libbcc's key and leaf (value) sizes in bytes, padding included.
    public let keySize: Int
    public let leafSize: Int
    /// `max_entries` and `map_flags` as declared.
    public let maxEntries: Int
    public let flags: Int32
    /// libbcc's JSON type descriptions of the key and leaf (`bpf_table_key_desc`).
    public let keyDescription: String
    public let leafDescription: String
    /// The key and leaf types parsed from libbcc's descriptions (a typedef'd array, which
    /// libbcc describes by its element alone, is sized to `keySize`/`leafSize`). A description
    /// SwiftBCC cannot parse gives `unsigned char[size]`, so the bytes stay readable.
    /// Python: `t.Key`, `t.Leaf`.
    public let keyType: TypeDescription
    public let leafType: TypeDescription
    /// libbcc's table id within the module.
    let id: Int
    let fd: Int32
    weak var bpf: BPF?

    init(bpf: BPF, module: UnsafeMutableRawPointer, name: String) throws {
        let id = bpf_table_id(module, name)
        let fd = bpf_table_fd(module, name)
        guard fd >= 0 else {
            throw BPFError.tableNotFound(name: name, available: Table.names(in: module))
        }
        self.bpf = bpf
        self.name = name
        self.id = id
        self.fd = fd
        self.mapType = bpf_table_type_id(module, id)
        self.kind = TableKind(rawValue: mapType) ?? .hash
        self.keySize = bpf_table_key_size_id(module, id)
        self.leafSize = bpf_table_leaf_size_id(module, id)
        self.maxEntries = bpf_table_max_entries_id(module, id)
        self.flags = bpf_table_flags_id(module, id)
        self.keyDescription = stringOrNil(bpf_table_key_desc_id(module, id)) ?? ""
        self.leafDescription = stringOrNil(bpf_table_leaf_desc_id(module, id)) ?? ""
        self.keyType = Table.type(json: keyDescription, size: keySize)
        self.leafType = Table.type(json: leafDescription, size: leafSize)
    }

    static func type(json: String, size: Int) -> TypeDescription {
        if let t = try? TypeDescription.forTable(json: json, size: size), t.size == size { return t }
        return .array(of: .scalar(.unsignedChar), count: size)
    }

    static func names(in module: UnsafeMutableRawPointer) -> [String] {
        (0..<bpf_num_tables(module)).compactMap { stringOrNil(bpf_table_name(module, $0)) }
    }

    /// The map fd, or `.closed` once the `BPF` has been cleaned up.
    func liveFD() throws -> Int32 {
        guard let bpf, !bpf.isClosed else { throw BPFError.closed }
        return fd
    }

    func checkKeySize(_ key: [UInt8]) throws {
        guard key.count == keySize else {
            throw BPFError.sizeMismatch(table: name, what: "key", expected: keySize, got: key.count, layout: keyType.layout)
        }
    }

    func checkLeafSize(_ leaf: [UInt8], expected: Int) throws {
        guard leaf.count == expected else {
            throw BPFError.sizeMismatch(table: name, what: "value", expected: expected, got: leaf.count, layout: leafType.layout)
        }
    }

    /// The value size the kernel reads and writes for one entry: `leafSize`, or for per-CPU
    /// maps `round_up(leafSize, 8)` per possible CPU.
    public var valueBufferSize: Int {
        kind.isPerCPU ? ((leafSize + 7) & ~7) * CPUs.possible.count : leafSize
    }

    // MARK: Raw bytes

    /// The raw value for `key`, or nil when the key is absent. Python: `t.get(key)` / `t[key]`.
    public func lookup(rawKey key: [UInt8]) throws -> [UInt8]? {
        try checkKeySize(key)
        let fd = try liveFD()
        var k = key
        var value = [UInt8](repeating: 0, count: valueBufferSize)
        let rc = bpf_lookup_elem(fd, &k, &value)
        if rc < 0 {
            if errno == ENOENT { return nil }
            throw BPFError.systemCall(name: "bpf_lookup_elem(\(name))", errno: errno, detail: "")
        }
        return value
    }

    /// Stores raw `value` for `key`. `flags`: 0 (`BPF_ANY`), 1 (`BPF_NOEXIST`), 2 (`BPF_EXIST`).
    /// Python: `t[key] = leaf` / `t.update(...)`; libbcc: `bpf_update_elem`.
    public func update(rawKey key: [UInt8], rawValue value: [UInt8], flags: UInt64 = 0) throws {
        try checkKeySize(key)
        try checkLeafSize(value, expected: valueBufferSize)
        let fd = try liveFD()
        var k = key, v = value
        if bpf_update_elem(fd, &k, &v, flags) < 0 {
            throw BPFError.systemCall(name: "bpf_update_elem(\(name))", errno: errno, detail: "")
        }
    }

    /// Deletes `key`; returns false when it was absent. Python: `del t[key]`.
    @discardableResult
    public func delete(rawKey key: [UInt8]) throws -> Bool {
        try checkKeySize(key)
        let fd = try liveFD()
        var k = key
        if bpf_delete_elem(fd, &k) < 0 {
            if errno == ENOENT { return false }
            throw BPFError.systemCall(name: "bpf_delete_elem(\(name))", errno: errno, detail: "")
        }
        return true
    }

    /// Every key, in the kernel's iteration order. Python: `t.keys()`; libbcc: `bpf_get_first_key`,
    /// `bpf_get_next_key`.
    public func rawKeys() throws -> [[UInt8]] {
        let fd = try liveFD()
        var keys: [[UInt8]] = []
        var key = [UInt8](repeating: 0, count: keySize)
        if bpf_get_first_key(fd, &key, keySize) < 0 { return [] }
        keys.append(key)
        var next = [UInt8](repeating: 0, count: keySize)
        while bpf_get_next_key(fd, &key, &next) == 0 {
            keys.append(next)
            key = next
        }
        return keys
    }
}

extension BPF {
    /// The table `name` of the program, created on first use and cached.
    /// Python: `b.get_table(name)`; libbcc: `bpf_table_fd`, `bpf_table_type_id`, `bpf_table_*_desc`.
    public func table(_ name: String) throws -> Table {
        try lock.withLock {
            if let t = tables[name] { return t }
            let t = try Table(bpf: self, module: module(), name: name)
            tables[name] = t
            return t
        }
    }

    /// Python: `b["name"]`.
    public subscript(name: String) -> Table {
        get throws { try table(name) }
    }

    /// The names of every table the program declares, in libbcc's order.
    public var tableNames: [String] {
        lock.withLock { (try? module()).map(Table.names(in:)) ?? [] }
    }
}

/// CPU lists from /sys/devices/system/cpu (Python: `bcc.utils.get_online_cpus`/`get_possible_cpus`).
public enum CPUs {
    /// CPUs that may ever be online: the per-CPU map value count.
    public static let possible: [Int] = parse(FileIO.read("/sys/devices/system/cpu/possible") ?? "0")
    /// CPUs online now.
    public static var online: [Int] { parse(FileIO.read("/sys/devices/system/cpu/online") ?? "0") }

    /// Parses a kernel CPU list such as `0-3,5,7-8`.
    public static func parse(_ text: String) -> [Int] {
        var cpus: [Int] = []
        for part in text.split(whereSeparator: { $0 == "," || $0 == "\n" }) {
            let bounds = part.split(separator: "-").compactMap { Int($0.trimmingCharacters(in: " ")) }
            if bounds.count == 2 { cpus += Array(bounds[0]...bounds[1]) } else if let one = bounds.first { cpus.append(one) }
        }
        return cpus
    }
}
