/// Typed views of a table over `BitwiseCopyable` Swift types whose memory layout matches the C
/// types (the same members, in the same order, of the same sizes). Opening one checks the Swift
/// sizes against libbcc's key and leaf sizes and throws `BPFError.sizeMismatch` naming both
/// sizes and libbcc's layout (its `__pad_N` padding included) when they differ. Key bytes that
/// are padding in libbcc's layout are zeroed before they reach the kernel, so Swift struct
/// padding never makes two equal keys differ.
///
/// ```swift
/// let clones = try b.hashTable("clones", key: UInt64.self, value: UInt64.self)
/// for (uid, count) in try clones.items() { print("ID \(uid): \(count)") }
/// ```

// MARK: Shared plumbing

enum TypedBytes {
    static func bytes<T: BitwiseCopyable>(of value: T, size: Int) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: size)
        withUnsafeBytes(of: value) { raw in
            let n = Swift.min(size, raw.count)
            out.replaceSubrange(0..<n, with: raw.prefix(n))
        }
        return out
    }

    static func load<T: BitwiseCopyable>(_ bytes: some Collection<UInt8>, as type: T.Type) -> T {
        var buf = Array(bytes)
        if buf.count < MemoryLayout<T>.size { buf += [UInt8](repeating: 0, count: MemoryLayout<T>.size - buf.count) }
        return buf.withUnsafeBytes { $0.loadUnaligned(as: T.self) }
    }

    /// Opening check: the Swift type's size (or stride, which counts trailing padding as C's
    /// `sizeof` does) must equal libbcc's size.
    static func check<T>(_ type: T.Type, _ what: String, expected: Int, table: Table, layout: TypeDescription) throws {
        let size = MemoryLayout<T>.size, stride = MemoryLayout<T>.stride
        guard size == expected || stride == expected else {
            throw BPFError.sizeMismatch(table: table.name, what: "\(what) type \(T.self)", expected: expected,
                                        got: size, layout: layout.layout)
        }
    }

    /// Checks a Swift key type against the table's key layout.
    static func checkKey<K>(_ type: K.Type, of table: Table) throws {
        try check(type, "key", expected: table.keySize, table: table, layout: table.keyType)
    }

    /// Checks a Swift value type against the table's leaf layout.
    static func checkValue<V>(_ type: V.Type, of table: Table) throws {
        try check(type, "value", expected: table.leafSize, table: table, layout: table.leafType)
    }
}

extension TypeDescription {
    /// The byte offsets that are padding: libbcc's `__pad_N` members and the gaps C's layout
    /// leaves. Computed once per table (`Table.keyPaddingOffsets`), not per operation.
    var paddingOffsets: [Int] {
        var isData = [Bool](repeating: false, count: size)
        func mark(_ t: TypeDescription, _ at: Int) {
            switch t.kind {
            case .scalar, .enumeration:
                for i in at..<Swift.min(at + t.size, isData.count) { isData[i] = true }
            case let .array(e, n):
                for i in 0..<n { mark(e, at + i * e.size) }
            case .structure, .union:
                for f in t.fields where !f.isPadding { mark(f.type, at + f.offset) }
            }
        }
        mark(self, 0)
        return isData.indices.filter { !isData[$0] }
    }
}

extension Table {
    /// A typed key's bytes as the kernel compares them: padding zeroed, so two equal Swift
    /// keys never differ in bytes the C struct does not use.
    func typedKeyBytes<K: BitwiseCopyable>(_ key: K) -> [UInt8] {
        var bytes = TypedBytes.bytes(of: key, size: keySize)
        for i in keyPaddingOffsets where i < bytes.count { bytes[i] = 0 }
        return bytes
    }
}

// MARK: Hash-like

/// A typed hash-like table: Hash, LruHash, LpmTrie, HashOfMaps, StackTrace, ... Python: `HashTable`.
public struct HashTable<Key: BitwiseCopyable, Value: BitwiseCopyable>: Sendable {
    /// The untyped table (layout, kind, dynamic access).
    public let table: Table

    init(_ table: Table) throws {
        try TypedBytes.checkKey(Key.self, of: table)
        try TypedBytes.checkValue(Value.self, of: table)
        self.table = table
    }

    func keyBytes(_ key: Key) -> [UInt8] { table.typedKeyBytes(key) }

    /// The value for `key`, or nil. Python: `t[key]`; libbcc: `bpf_lookup_elem` (on the Swift
    /// key and a stack `Value` in place: no allocation).
    @inlinable
    public func lookup(_ key: Key) throws -> Value? {
        try table._typedLookup(key, as: Value.self)
    }

    /// The value for `key`, nil when there is none; throws as ``lookup(_:)`` does. Python: `t[key]`.
    @inlinable
    public subscript(key: Key) -> Value? {
        get throws { try lookup(key) }
    }

    /// Python: `t[key] = value`; libbcc: `bpf_update_elem` (on the Swift values in place).
    @inlinable
    public func update(_ key: Key, _ value: Value, flags: UpdateFlags = .any) throws {
        let t = table
        try t._withKey(key) { k in try t._withValue(value) { v in try t._update(key: k, value: v, flags: flags) } }
    }

    /// Python: `del t[key]`; false when absent. libbcc: `bpf_delete_elem`.
    @inlinable
    @discardableResult
    public func delete(_ key: Key) throws -> Bool {
        let t = table
        return try t._withKey(key) { k in try t._delete(key: k) }
    }

    /// Every key, in the kernel's order. Python: `t.keys()`; libbcc: `bpf_get_next_key`.
    public func keys() throws -> [Key] { try table.rawKeys().map { TypedBytes.load($0, as: Key.self) } }
    /// Every value, in the kernel's order of the keys. Python: `t.values()`.
    @inlinable
    public func values() throws -> [Value] { try items().map(\.value) }

    /// Every pair, through the batch syscall where the kernel has it (read in chunks into one
    /// buffer), else key by key. Python: `t.items()`.
    @inlinable
    public func items() throws -> [(key: Key, value: Value)] {
        try table._typedItems(delete: false, Key.self, Value.self)
    }

    /// Deletes every entry (arrays: zeroes every slot). Python: `t.clear()`.
    public func clear() throws { try table.clear() }
    /// Sets every value to zero, keeping the keys. Python: `t.zero()`.
    public func zero() throws { try table.zero() }
    /// The number of entries now. Python: `len(t)`.
    public var count: Int { get throws { try table.count } }

    /// Python: `t.items_lookup_batch()`.
    @inlinable
    public func itemsLookupBatch() throws -> [(key: Key, value: Value)] { try items() }

    /// Python: `t.items_lookup_and_delete_batch()`.
    @inlinable
    public func itemsLookupAndDeleteBatch() throws -> [(key: Key, value: Value)] {
        try table._typedItems(delete: true, Key.self, Value.self)
    }

    /// Python: `t.items_delete_batch(keys)`; nil deletes everything. libbcc: `bpf_delete_batch`
    /// on the keys packed into one buffer.
    @inlinable
    public func itemsDeleteBatch(keys: [Key]? = nil) throws {
        guard let keys else { return try table.itemsDeleteBatch() }
        let t = table
        try t._withPackedKeys(keys) { k in try t._deleteBatch(keys: k, count: keys.count) }
    }

    /// Python: `t.items_update_batch(keys, values)`. libbcc: `bpf_update_batch` on the arrays'
    /// own storage (or one packed buffer when the Swift layout needs padding zeroed).
    @inlinable
    public func itemsUpdateBatch(keys: [Key], values: [Value]) throws {
        let t = table
        try t._withPackedKeys(keys) { k in
            try t._withPackedValues(values) { v in try t._updateBatch(keys: k, values: v, count: keys.count, valueCount: values.count) }
        }
    }
}

// MARK: Array-like

/// A typed array table: Array, ProgArray, CgroupArray, DevMap, CpuMap, ArrayOfMaps, ...
/// indexed by `Int` (negative from the end). Python: `Array`.
public struct ArrayTable<Value: BitwiseCopyable>: Sendable {
    /// The untyped table this view reads and writes.
    public let table: Table

    init(_ table: Table) throws {
        try TypedBytes.checkValue(Value.self, of: table)
        self.table = table
    }

    /// The value at `index`. Python: `t[index]`.
    @inlinable
    public func lookup(_ index: Int) throws -> Value? {
        try table._typedLookup(try table._arrayIndex(index), as: Value.self)
    }

    /// The value at `index`, nil when there is none; throws as ``lookup(_:)`` does. Python: `t[index]`.
    @inlinable
    public subscript(index: Int) -> Value? {
        get throws { try lookup(index) }
    }

    /// Stores `value` at `index` (`.indexOutOfRange` past the end). Python: `t[index] = value`; libbcc: `bpf_update_elem`.
    @inlinable
    public func update(_ index: Int, _ value: Value, flags: UpdateFlags = .any) throws {
        let t = table
        let i = try t._arrayIndex(index)
        try t._withKey(i) { k in try t._withValue(value) { v in try t._update(key: k, value: v, flags: flags) } }
    }

    /// Zeroes an Array entry, deletes others (ProgArray, ...). Python: `del t[index]`.
    @discardableResult
    public func delete(_ index: Int) throws -> Bool { try table.delete(index) }

    /// Every value in index order. Python: `t.values()`.
    public func values() throws -> [Value] { try items().map(\.value) }

    /// Every (index, value). Python: `t.items()`.
    public func items() throws -> [(index: Int, value: Value)] {
        try table.rawItems().map { (Int(TypedBytes.load($0.key, as: UInt32.self)), TypedBytes.load($0.value, as: Value.self)) }
            .sorted { $0.index < $1.index }
    }

    /// Deletes every entry (arrays: zeroes every slot). Python: `t.clear()`.
    public func clear() throws { try table.clear() }
    /// Sets every value to zero, keeping the keys. Python: `t.zero()`.
    public func zero() throws { try table.zero() }
    /// The number of slots (`max_entries`): every index exists. Python: `len(t)`.
    public var count: Int { table.maxEntries }
}

// MARK: Per-CPU

/// A typed per-CPU hash (PerCpuHash, LruPerCpuHash): a value per possible CPU. Python: `PerCpuHash`.
public struct PerCPUHashTable<Key: BitwiseCopyable, Value: BitwiseCopyable>: Sendable {
    /// The untyped table this view reads and writes.
    public let table: Table

    init(_ table: Table) throws {
        try TypedBytes.checkKey(Key.self, of: table)
        try TypedBytes.checkValue(Value.self, of: table)
        self.table = table
    }

    func keyBytes(_ key: Key) -> [UInt8] { table.typedKeyBytes(key) }

    /// One value per possible CPU (index = CPU number), or nil. Python: `t[key]`.
    public func lookup(_ key: Key) throws -> [Value]? {
        try table.lookup(rawKey: keyBytes(key)).map { perCPU($0) }
    }

    /// The per-CPU values for `key`, or nil when absent. Python: `t[key]`.
    public subscript(key: Key) -> [Value]? {
        get throws { try lookup(key) }
    }

    func perCPU(_ kernel: [UInt8]) -> [Value] {
        (0..<CPUs.possible.count).map { TypedBytes.load(kernel[$0 * table.slotSize..<$0 * table.slotSize + table.leafSize], as: Value.self) }
    }

    /// Stores one value per possible CPU (`values.count == CPUs.possible.count`).
    public func update(_ key: Key, _ values: [Value], flags: UpdateFlags = .any) throws {
        try table.update(rawKey: keyBytes(key), rawValue: perCPUBytes(table, values), flags: flags)
    }

    /// Deletes the entry for `key`; false when there was none. Python: `del t[key]`; libbcc: `bpf_delete_elem`.
    @discardableResult
    public func delete(_ key: Key) throws -> Bool { try table.delete(rawKey: keyBytes(key)) }
    /// Every key, in the kernel's order. Python: `t.keys()`; libbcc: `bpf_get_next_key`.
    public func keys() throws -> [Key] { try table.rawKeys().map { TypedBytes.load($0, as: Key.self) } }
    /// Every key with its per-CPU values. Python: `t.items()`.
    public func items() throws -> [(key: Key, values: [Value])] {
        try table.rawItems().map { (TypedBytes.load($0.key, as: Key.self), perCPU($0.value)) }
    }
    /// Deletes every entry (arrays: zeroes every slot). Python: `t.clear()`.
    public func clear() throws { try table.clear() }
    /// Sets every value to zero, keeping the keys. Python: `t.zero()`.
    public func zero() throws { try table.zero() }
    /// The number of entries now. Python: `len(t)`.
    public var count: Int { get throws { try table.count } }
}

/// A typed per-CPU array (PerCpuArray). Python: `PerCpuArray`.
public struct PerCPUArrayTable<Value: BitwiseCopyable>: Sendable {
    /// The untyped table this view reads and writes.
    public let table: Table

    init(_ table: Table) throws {
        try TypedBytes.checkValue(Value.self, of: table)
        self.table = table
    }

    func perCPU(_ kernel: [UInt8]) -> [Value] {
        (0..<CPUs.possible.count).map { TypedBytes.load(kernel[$0 * table.slotSize..<$0 * table.slotSize + table.leafSize], as: Value.self) }
    }

    /// One value per possible CPU at `index`. Python: `t[index]`.
    public func lookup(_ index: Int) throws -> [Value]? {
        try table.lookup(rawKey: table.keyBytes(index)).map { perCPU($0) }
    }

    /// The per-CPU values at `index`, or nil. Python: `t[index]`.
    public subscript(index: Int) -> [Value]? {
        get throws { try lookup(index) }
    }

    /// Stores one value per possible CPU at `index`. Python: `t[index] = values`; libbcc: `bpf_update_elem`.
    public func update(_ index: Int, _ values: [Value], flags: UpdateFlags = .any) throws {
        try table.update(rawKey: table.keyBytes(index), rawValue: perCPUBytes(table, values), flags: flags)
    }

    /// Every index with its per-CPU values. Python: `t.items()`.
    public func items() throws -> [(index: Int, values: [Value])] {
        try table.rawItems().map { (Int(TypedBytes.load($0.key, as: UInt32.self)), perCPU($0.value)) }.sorted { $0.index < $1.index }
    }
    /// Deletes every entry (arrays: zeroes every slot). Python: `t.clear()`.
    public func clear() throws { try table.clear() }
    /// Sets every value to zero, keeping the keys. Python: `t.zero()`.
    public func zero() throws { try table.zero() }
    /// The number of slots (`max_entries`): every index exists. Python: `len(t)`.
    public var count: Int { table.maxEntries }
}

func perCPUBytes<Value: BitwiseCopyable>(_ table: Table, _ values: [Value]) throws -> [UInt8] {
    let n = CPUs.possible.count
    guard values.count == n else {
        throw BPFError.invalidArgument("Per-CPU table \(table.name) takes one value per possible CPU: \(n) values, "
            + "not \(values.count).")
    }
    var out = [UInt8](repeating: 0, count: table.valueBufferSize)
    for (cpu, v) in values.enumerated() {
        out.replaceSubrange(cpu * table.slotSize..<cpu * table.slotSize + table.leafSize,
                            with: TypedBytes.bytes(of: v, size: table.leafSize))
    }
    return out
}

extension PerCPUHashTable where Value: FixedWidthInteger {
    /// The sum over CPUs (wrapping like C), or nil when absent. Python: `t.sum(key)`.
    public func sum(_ key: Key) throws -> Value? { try lookup(key).map { $0.reduce(0, &+) } }
    /// The largest per-CPU value. Python: `t.max(key)`.
    public func max(_ key: Key) throws -> Value? { try lookup(key).flatMap { $0.max() } }
    /// The sum over the number of possible CPUs. Python: `t.average(key)`.
    public func average(_ key: Key) throws -> Double? { try sum(key).map { Double($0) / Double(CPUs.possible.count) } }
}

extension PerCPUArrayTable where Value: FixedWidthInteger {
    /// Python: `t.sum(index)`.
    public func sum(_ index: Int) throws -> Value? { try lookup(index).map { $0.reduce(0, &+) } }
    /// Python: `t.max(index)`.
    public func max(_ index: Int) throws -> Value? { try lookup(index).flatMap { $0.max() } }
    /// Python: `t.average(index)`.
    public func average(_ index: Int) throws -> Double? { try sum(index).map { Double($0) / Double(CPUs.possible.count) } }
}

// MARK: Queue / Stack

/// A typed BPF_QUEUE / BPF_STACK. Python: `QueueStack`.
public struct QueueStackTable<Value: BitwiseCopyable>: Sendable {
    /// The untyped table this view reads and writes.
    public let table: Table

    init(_ table: Table) throws {
        try TypedBytes.checkValue(Value.self, of: table)
        self.table = table
    }

    /// Python: `q.push(leaf, flags)`.
    public func push(_ value: Value, flags: UpdateFlags = .any) throws {
        try table.push(table.leafType.decode(TypedBytes.bytes(of: value, size: table.leafSize)), flags: flags)
    }
    /// Python: `q.pop()`; nil when empty.
    public func pop() throws -> Value? { try table.pop().map { TypedBytes.load($0.bytes, as: Value.self) } }
    /// Python: `q.peek()`; nil when empty.
    public func peek() throws -> Value? { try table.peek().map { TypedBytes.load($0.bytes, as: Value.self) } }
    /// Pops every element. Python: `q.values()`.
    public func values() throws -> [Value] { try table.values().map { TypedBytes.load($0.bytes, as: Value.self) } }
}

// MARK: Opening

extension BPF {
    func typedTable(_ name: String, allowed: (TableKind) -> Bool, expected: String) throws -> Table {
        let t = try table(name)
        guard allowed(t.kind) else { throw BPFError.wrongTableKind(table: name, kind: "\(t.kind)", expected: expected) }
        return t
    }

    /// A typed view of hash-like table `name` (Hash, LruHash, LpmTrie, HashOfMaps, StackTrace, ...),
    /// checking `key` and `value` sizes against libbcc's.
    /// Python: `b["name"]` (a `HashTable`); libbcc: `bpf_table_key_size`, `bpf_table_leaf_size`.
    public func hashTable<K: BitwiseCopyable, V: BitwiseCopyable>(_ name: String, key: K.Type, value: V.Type) throws -> HashTable<K, V> {
        try HashTable(typedTable(name, allowed: { !$0.isArrayLike && !$0.isPerCPU && ![.queue, .stack, .ringBuf].contains($0) },
                                 expected: "hash-like table (Hash, LruHash, LpmTrie, HashOfMaps, StackTrace)"))
    }

    /// A typed view of array table `name` (Array, ProgArray, CgroupArray, DevMap, CpuMap, ArrayOfMaps, ...).
    /// Python: `b["name"]` (an `Array`).
    public func arrayTable<V: BitwiseCopyable>(_ name: String, value: V.Type) throws -> ArrayTable<V> {
        try ArrayTable(typedTable(name, allowed: { $0.isArrayLike && !$0.isPerCPU },
                                  expected: "array table (Array, ProgArray, CgroupArray, DevMap, CpuMap, ArrayOfMaps)"))
    }

    /// A typed view of per-CPU hash `name` (PerCpuHash, LruPerCpuHash). Python: `b["name"]` (a `PerCpuHash`).
    public func perCPUHashTable<K: BitwiseCopyable, V: BitwiseCopyable>(_ name: String, key: K.Type, value: V.Type) throws -> PerCPUHashTable<K, V> {
        try PerCPUHashTable(typedTable(name, allowed: { $0 == .perCPUHash || $0 == .lruPerCPUHash },
                                       expected: "per-CPU hash (PerCpuHash, LruPerCpuHash)"))
    }

    /// A typed view of per-CPU array `name`. Python: `b["name"]` (a `PerCpuArray`).
    public func perCPUArrayTable<V: BitwiseCopyable>(_ name: String, value: V.Type) throws -> PerCPUArrayTable<V> {
        try PerCPUArrayTable(typedTable(name, allowed: { $0 == .perCPUArray }, expected: "PerCpuArray"))
    }

    /// A typed view of queue or stack `name`. Python: `b["name"]` (a `QueueStack`).
    public func queueStackTable<V: BitwiseCopyable>(_ name: String, value: V.Type) throws -> QueueStackTable<V> {
        try QueueStackTable(typedTable(name, allowed: { $0 == .queue || $0 == .stack }, expected: "QueueStack (BPF_QUEUE, BPF_STACK)"))
    }
}
