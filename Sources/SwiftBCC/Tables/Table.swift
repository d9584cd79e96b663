internal import CBCC
import Glibc
import Synchronization

/// A BPF map declared in the program (`BPF_HASH`, `BPF_ARRAY`, `BPF_PERF_OUTPUT`, ...), as
/// libbcc describes it: kind, key and leaf sizes, and key/leaf types. Python: the object
/// `b["name"]` returns (`bcc.table.TableBase` and its subclasses, chosen by map type; here one
/// class whose ``kind`` says which, with the operations that kind allows).
///
/// ```swift
/// let counts = try b["counts"]
/// for (k, v) in try counts.items() { print(k["comm"]!, v.value) }
/// try counts.update(UInt32(7), UInt64(1))
/// ```
///
/// Keys and values go in as any `Encodable` (integers, strings, `Encodable` structs matched to
/// the C struct by member name, or ``DynamicValue``s) and come out as ``DynamicValue``s. For
/// Swift types checked against libbcc's layout, open a typed view such as
/// ``BPF/hashTable(_:key:value:)``. A `Table` does not keep its `BPF` alive: after
/// `cleanup()` its operations throw `BPFError.closed`.
///
/// When the map goes: each `Table` holds its own duplicate of the map's fd (so an operation
/// racing with `cleanup()` on another thread reaches this map, never an fd number reused for
/// something else), and the kernel frees a map when its last fd closes. So after `cleanup()`
/// the map stays in the kernel, unusable from SwiftBCC (every operation throws `.closed`),
/// until the last `Table` or typed view of it obtained before the cleanup is released; the
/// `BPF` itself drops its own references at `cleanup()`, and process exit frees everything.
public final class Table: @unchecked Sendable {
    /// The table's name in the program.
    public let name: String
    /// The map type, named as Python's table classes.
    public let kind: TableKind
    /// The raw `bpf_map_type` value (for types `TableKind` has no case for).
    public let mapType: Int32
    /// libbcc's key and leaf (value) sizes in bytes, padding included.
    public let keySize: Int
    /// The leaf (value) size in bytes, padding included (per CPU for per-CPU maps). Python: `ct.sizeof(t.Leaf)`; libbcc: `bpf_table_leaf_size_id`.
    public let leafSize: Int
    /// `max_entries` and `map_flags` as declared.
    public let maxEntries: Int
    /// The `map_flags` the program declared (`BPF_F_NO_PREALLOC`, ...). libbcc: `bpf_table_flags_id`.
    public let flags: Int32
    /// libbcc's JSON type descriptions of the key and leaf (`bpf_table_key_desc`).
    public let keyDescription: String
    /// libbcc's JSON description of the leaf type. libbcc: `bpf_table_leaf_desc_id`.
    public let leafDescription: String
    /// The key and leaf types parsed from libbcc's descriptions (a typedef'd array, which
    /// libbcc describes by its element alone, is sized to `keySize`/`leafSize`). A description
    /// SwiftBCC cannot parse gives `unsigned char[size]`, so the bytes stay readable.
    /// Python: `t.Key`, `t.Leaf`.
    public let keyType: TypeDescription
    /// The leaf type parsed from ``leafDescription`` (see ``keyType``). Python: `t.Leaf`.
    public let leafType: TypeDescription
    /// The key's padding bytes, zeroed in typed keys (derived once from `keyType`).
    @usableFromInline let keyPaddingOffsets: [Int]
    /// Whether `keyPaddingOffsets` is non-empty (read per typed operation: a Bool, not the array).
    @usableFromInline let keyHasPadding: Bool
    /// Set once the owning `BPF` is cleaned up (its `cleanup()`, also run by its deinit, calls
    /// `closeForCleanup()` on every table it created): `liveFD()` checks this flag instead of
    /// loading the weak `bpf` reference on every map operation.
    let closed = Atomic<Bool>(false)
    /// libbcc's table id within the module.
    let id: Int
    let mapFD: Int32
    weak var bpf: BPF?
    /// Batch operations the kernel refused for this map (then done key by key).
    let unsupportedBatch = LockedBox<Set<BatchOperation>>([])
    /// CPU -> perf event fd opened by `openPerfEvent` (closed by `closePerfEvent`, by the
    /// `BPF`'s `cleanup()`, or when the Table goes).
    let perfEvents = LockedBox<[Int32: PerfEventFD]>([:])

    enum BatchOperation: Hashable { case lookup, lookupAndDelete, delete, update }

    init(bpf: BPF, module: ModuleSource, name: String) throws {
        guard let (id, def, fd) = module.table(name) else {
            throw BPFError.tableNotFound(name: name, available: module.tableNames)
        }
        self.bpf = bpf
        self.name = name
        self.id = id
        let mapType = def.mapType
        self.mapType = mapType
        guard let kind = TableKind(rawValue: mapType) else {
            // Python BCC raises "Unknown table type" here too.
            throw BPFError.invalidArgument("Table \(name) has map type \(mapType), which SwiftBCC does not know; "
                + "use a BPF_TABLE type from libbcc 0.26's list (see TableKind).")
        }
        self.kind = kind
        self.keySize = def.keySize
        self.leafSize = def.leafSize
        self.maxEntries = def.maxEntries
        self.flags = def.flags
        self.keyDescription = def.keyDescription
        self.leafDescription = def.leafDescription
        self.keyType = Table.type(json: keyDescription, size: keySize)
        self.leafType = Table.type(json: leafDescription, size: leafSize)
        self.keyPaddingOffsets = keyType.paddingOffsets
        self.keyHasPadding = !keyPaddingOffsets.isEmpty
        // Last, so no throw after it can leak the fd: our own duplicate of the module's map fd.
        // A lookup racing with cleanup() on another thread then still reaches this map (alive
        // until the Table goes), never an fd number reused for something else.
        let own = fcntl(fd, F_DUPFD_CLOEXEC, 0)
        guard own >= 0 else {
            throw BPFError.systemCall(name: "dup(map fd of \(name))", errno: .current,
                                      detail: "the process may be out of file descriptors (ulimit -n)")
        }
        self.mapFD = own
    }

    static func type(json: String, size: Int) -> TypeDescription {
        if let t = try? TypeDescription.forTable(json: json, size: size), t.size == size { return t }
        return .array(of: .scalar(.unsignedChar), count: size)
    }

    deinit {
        perfEvents.withLock { for fd in $0.values { fd.close() } }
        Glibc.close(mapFD)
    }

    /// The map's file descriptor (this Table's own: valid while the Table lives and the `BPF`
    /// is not cleaned up).
    /// Python: `t.get_fd()`, `t.map_fd`.
    public var fd: Int32 {
        get throws { try liveFD() }
    }

    /// The map fd, or `.closed` once the `BPF` has been cleaned up.
    func liveFD() throws -> Int32 {
        // Every Table comes from `BPF.table(_:)`, which keeps it in the BPF's table list, and
        // `cleanup()` (also run by the BPF's deinit) calls `closeForCleanup()` on each listed
        // table. So this one atomic load says what `bpf == nil || bpf.isClosed` says, without a
        // weak load (a retain and a release) per map operation.
        if closed.load(ordering: .acquiring) { throw BPFError.closed }
        return mapFD
    }

    /// Called by the `BPF`'s `cleanup()` for each table it created: every later operation
    /// throws `.closed`, and the perf events `openPerfEvent` opened are closed.
    func closeForCleanup() {
        closePerfEvent()
        closed.store(true, ordering: .releasing)
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

    func require(_ allowed: Bool, _ operation: String, expected: String) throws {
        if !allowed { throw BPFError.wrongTableKind(table: name, kind: "\(kind) (\(operation))", expected: expected) }
    }

    /// The error for a failed map syscall, with a hint for the usual causes.
    func failure(_ operation: String, _ code: Int32, flags: UpdateFlags = []) -> BPFError {
        var hint = ""
        switch code {
        case E2BIG, ENOSPC, ENOMEM: hint = "the table is full (max_entries \(maxEntries)); delete entries or declare it larger"
        case EEXIST where flags.contains(.noExist): hint = "the key exists and .noExist was asked"
        case ENOENT where flags.contains(.exist): hint = "the key does not exist and .exist was asked"
        case EBADF: hint = "the table's fd is closed"
        case EINVAL where kind.isArrayLike: hint = "array tables take indices below max_entries (\(maxEntries)) and cannot delete"
        case EOPNOTSUPP, 524: hint = "the kernel does not support this operation on a \(kind)"
        default: break
        }
        return .from(.system(name: "\(operation)(\(name))", operation: "\(operation) on table \(name)"),
                     CallFailure(call: operation, errno: Errno(code), output: ""), hint: hint)
    }

    /// The value size the kernel reads and writes for one entry: `leafSize`, or for per-CPU
    /// maps `round_up(leafSize, 8)` per possible CPU.
    public var valueBufferSize: Int {
        kind.isPerCPU ? slotSize * CPUs.possible.count : leafSize
    }

    var slotSize: Int { (leafSize + 7) & ~7 }

    /// The type of a value as ``lookup(_:)`` returns it and ``update(_:_:flags:)`` takes it:
    /// `leafType`, or for per-CPU tables an array of `leafType` with one element per possible CPU.
    public var valueType: TypeDescription {
        kind.isPerCPU ? .array(of: leafType, count: CPUs.possible.count) : leafType
    }

    /// Per-CPU: the kernel's buffer (a `round_up(leafSize, 8)` slot per CPU) from leaves packed
    /// back to back, and back.
    func kernelValue(_ value: [UInt8]) -> [UInt8] {
        guard kind.isPerCPU, slotSize != leafSize else { return value }
        var out = [UInt8](repeating: 0, count: valueBufferSize)
        for cpu in 0..<CPUs.possible.count {
            out.replaceSubrange(cpu * slotSize..<cpu * slotSize + leafSize, with: value[cpu * leafSize..<(cpu + 1) * leafSize])
        }
        return out
    }

    func userValue(_ kernel: [UInt8]) -> [UInt8] {
        guard kind.isPerCPU, slotSize != leafSize else { return kernel }
        return (0..<CPUs.possible.count).flatMap { kernel[$0 * slotSize..<$0 * slotSize + leafSize] }
    }

    // MARK: Raw bytes

    /// The raw value for `key`, or nil when the key is absent. Per-CPU tables give the kernel's
    /// buffer: a `round_up(leafSize, 8)`-byte slot per possible CPU.
    /// Python: `t.get(key)` / `t[key]`; libbcc: `bpf_lookup_elem`.
    public func lookup(rawKey key: [UInt8]) throws -> [UInt8]? {
        try checkKeySize(key)
        let fd = try liveFD()
        var k = key
        var value = [UInt8](repeating: 0, count: Swift.max(valueBufferSize, 1))
        if bpf_lookup_elem(fd, &k, &value) < 0 {
            let code = errno
            if code == ENOENT { return nil }
            throw failure("bpf_lookup_elem", code)
        }
        return Array(value.prefix(valueBufferSize))
    }

    /// Stores raw `value` (per-CPU tables: the kernel's slot layout) for `key`.
    /// Python: `t[key] = leaf` / `t.update(...)`; libbcc: `bpf_update_elem`.
    public func update(rawKey key: [UInt8], rawValue value: [UInt8], flags: UpdateFlags = .any) throws {
        try checkKeySize(key)
        try checkLeafSize(value, expected: valueBufferSize)
        let fd = try liveFD()
        var k = key, v = value
        if bpf_update_elem(fd, &k, &v, flags.rawValue) < 0 {
            throw failure("bpf_update_elem", errno, flags: flags)
        }
    }

    /// Deletes `key`; returns false when it was absent. Python: `del t[key]`; libbcc: `bpf_delete_elem`.
    @discardableResult
    public func delete(rawKey key: [UInt8]) throws -> Bool {
        try checkKeySize(key)
        let fd = try liveFD()
        var k = key
        if bpf_delete_elem(fd, &k) < 0 {
            let code = errno
            if code == ENOENT { return false }
            throw failure("bpf_delete_elem", code)
        }
        return true
    }

    /// Every key, in the kernel's iteration order (array kinds: every index). Iteration stops
    /// when the kernel restarts it (an entry deleted meanwhile), so a busy table never hangs it.
    /// Python: `t.keys()`; libbcc: `bpf_get_first_key`, `bpf_get_next_key`.
    public func rawKeys() throws -> [[UInt8]] {
        let fd = try liveFD()
        if kind.isArrayLike {
            return try (0..<maxEntries).map { try keyType.encode($0).bytes }
        }
        var keys: [[UInt8]] = []
        var seen = Set<[UInt8]>()
        var key = [UInt8](repeating: 0, count: Swift.max(keySize, 1))
        if bpf_get_first_key(fd, &key, keySize) < 0 { return [] }
        key = Array(key.prefix(keySize))
        keys.append(key)
        seen.insert(key)
        var next = [UInt8](repeating: 0, count: Swift.max(keySize, 1))
        while bpf_get_next_key(fd, &key, &next) == 0 {
            let k = Array(next.prefix(keySize))
            if !seen.insert(k).inserted { break }
            keys.append(k)
            key = k
        }
        return keys
    }

    /// Every (key, value) pair as raw bytes (per-CPU values in the kernel's slot layout),
    /// through the batch syscall where the kernel has it for this map, else key by key.
    public func rawItems() throws -> [(key: [UInt8], value: [UInt8])] {
        if let batch = try batchLookup(delete: false) { return batch }
        return try rawKeys().compactMap { k in try lookup(rawKey: k).map { (k, $0) } }
    }
}

/// `bpf_map_update_elem` flags. Python passes the integers (`BPF_ANY`, `BPF_NOEXIST`, ...).
public struct UpdateFlags: OptionSet, Sendable, Hashable {
    /// The flag bits passed to `bpf_map_update_elem`.
    public let rawValue: UInt64
    /// Flags from their bits.
    public init(rawValue: UInt64) { self.rawValue = rawValue }
    /// Create or replace (`BPF_ANY`, 0).
    public static let any: UpdateFlags = []
    /// Only create (`BPF_NOEXIST`, 1).
    public static let noExist = UpdateFlags(rawValue: 1)
    /// Only replace (`BPF_EXIST`, 2); for Queue/Stack `push`, overwrite the oldest when full.
    public static let exist = UpdateFlags(rawValue: 2)
    /// Update under the value's `bpf_spin_lock` (`BPF_F_LOCK`, 4).
    public static let lock = UpdateFlags(rawValue: 4)
}

extension BPF {
    /// The table `name` of the program, created on first use and cached.
    /// Python: `b.get_table(name)`; libbcc: `bpf_table_fd`, `bpf_table_type_id`, `bpf_table_*_desc`.
    public func table(_ name: String) throws -> Table {
        try state.withLock { s in
            if let t = s.tables[name] { return t }
            let t = try Table(bpf: self, module: s.requireModule(), name: name)
            s.tables[name] = t
            return t
        }
    }

    /// Python: `b["name"]`.
    public subscript(name: String) -> Table {
        get throws { try table(name) }
    }

    /// The names of every table the program declares, in libbcc's order.
    public var tableNames: [String] {
        state.withLock { $0.module?.tableNames ?? [] }
    }
}
