internal import CBCC
import Glibc

extension Table {
    /// Tables whose entries are keys and values (not Queue/Stack, not RingBuf).
    func checkEntryKind(_ operation: String) throws {
        switch kind {
        case .queue, .stack:
            throw BPFError.wrongTableKind(table: name, kind: "\(kind) (\(operation) is not available)",
                                          expected: "keyed table; use push, pop and peek on a QueueStack")
        case .ringBuf:
            throw BPFError.wrongTableKind(table: name, kind: "\(kind) (\(operation) is not available)",
                                          expected: "keyed table; read a RingBuf with openRingBuffer")
        default: break
        }
    }

    /// The key's bytes: an integer for array kinds is an index, negative from the end
    /// (Python's `_normalize_key`).
    func keyBytes<K: Encodable>(_ key: K) throws -> [UInt8] {
        if kind.isArrayLike, let i = key as? any BinaryInteger, !(key is DynamicValue) {
            guard var index = Int(exactly: i), index < maxEntries, index >= -maxEntries else {
                throw BPFError.indexOutOfRange(table: name, index: Int(clamping: i), count: maxEntries)
            }
            if index < 0 { index += maxEntries }
            return try keyType.encode(index).bytes
        }
        return try keyType.encode(key).bytes
    }

    /// The kernel's value bytes for `value` (per-CPU: one leaf per possible CPU, spread into slots).
    func valueBytes<V: Encodable>(_ value: V) throws -> [UInt8] {
        do {
            return kernelValue(try valueType.encode(value).bytes)
        } catch let error as BPFError where kind.isPerCPU {
            if (try? leafType.encode(value)) != nil {
                throw BPFError.encodingFailed(type: valueType.cName, detail: "per-CPU table \(name) takes one "
                    + "value per possible CPU (\(CPUs.possible.count)): pass an array of that many values")
            }
            throw error
        }
    }

    /// Deletes an entry; array kinds whose entries cannot be deleted (Array, PerCpuArray) are
    /// zeroed instead, as Python does.
    func removeEntry(rawKey key: [UInt8]) throws {
        if kind == .array || kind == .perCPUArray {
            try update(rawKey: key, rawValue: [UInt8](repeating: 0, count: valueBufferSize))
        } else {
            try delete(rawKey: key)
        }
    }

    // MARK: Entries

    /// The value for `key`, or nil when the table has none. Keys are any `Encodable` matching
    /// the C key type (an integer, an `Encodable` struct by member name, a `DynamicValue`);
    /// for array kinds, a negative index counts from the end. Per-CPU tables give an array
    /// with one element per possible CPU.
    /// Python: `t[key]` (which raises `KeyError` where this returns nil); libbcc: `bpf_lookup_elem`.
    public func lookup<K: Encodable>(_ key: K) throws -> DynamicValue? {
        try checkEntryKind("lookup")
        return try lookup(rawKey: keyBytes(key)).map { valueType.decode(userValue($0)) }
    }

    /// Python: `t[key]`.
    public subscript<K: Encodable>(key: K) -> DynamicValue? {
        get throws { try lookup(key) }
    }

    /// Stores `value` under `key`. Per-CPU tables take an array with a value per possible CPU;
    /// a ProgArray takes a loaded `BPF.Function` (see ``setFunction(_:_:)``) or a program fd.
    /// Python: `t[key] = value`; libbcc: `bpf_update_elem`.
    public func update<K: Encodable, V: Encodable>(_ key: K, _ value: V, flags: UpdateFlags = .any) throws {
        try checkEntryKind("update")
        try update(rawKey: keyBytes(key), rawValue: valueBytes(value), flags: flags)
    }

    /// Deletes the entry for `key`; returns false when there was none. Array and PerCpuArray
    /// entries cannot be deleted: they are zeroed (and true returned), as in Python.
    /// Python: `del t[key]`; libbcc: `bpf_delete_elem`.
    @discardableResult
    public func delete<K: Encodable>(_ key: K) throws -> Bool {
        try checkEntryKind("delete")
        let k = try keyBytes(key)
        if kind == .array || kind == .perCPUArray {
            try removeEntry(rawKey: k)
            return true
        }
        return try delete(rawKey: k)
    }

    /// Every key (array kinds: every index). Python: `t.keys()`.
    public func keys() throws -> [DynamicValue] {
        try checkEntryKind("keys")
        return try rawKeys().map { keyType.decode($0) }
    }

    /// Every value (Queue/Stack: pops every element, as Python's `values()` does).
    /// Python: `t.values()`.
    public func values() throws -> [DynamicValue] {
        if kind == .queue || kind == .stack {
            var out: [DynamicValue] = []
            for _ in 0..<Swift.max(maxEntries, 1) {
                guard let v = try pop() else { break }
                out.append(v)
            }
            return out
        }
        return try items().map(\.value)
    }

    /// Every (key, value) pair, through the batch syscall where the kernel has it for this map.
    /// Entries deleted while iterating are skipped. Python: `t.items()`.
    public func items() throws -> [(key: DynamicValue, value: DynamicValue)] {
        try checkEntryKind("items")
        return decodeItems(try rawItems())
    }

    /// Deletes every entry (array kinds that cannot delete are zeroed; a Queue/Stack is emptied).
    /// Python: `t.clear()` (whose StackTrace version does nothing; here it empties the table).
    public func clear() throws {
        switch kind {
        case .queue, .stack:
            while try pop() != nil {}
        case .ringBuf:
            return
        default:
            for k in try rawKeys() {
                if kind == .array || kind == .perCPUArray { try removeEntry(rawKey: k) } else {
                    do { try delete(rawKey: k) } catch BPFError.systemCall(_, EINVAL, _) where kind.isArrayLike {}
                }
            }
        }
    }

    /// Sets every existing entry's value to zero. Python: `t.zero()`.
    public func zero() throws {
        try checkEntryKind("zero")
        let zero = [UInt8](repeating: 0, count: valueBufferSize)
        for k in try rawKeys() { try update(rawKey: k, rawValue: zero) }
    }

    /// The number of entries: `maxEntries` for array kinds, 0 for a RingBuf, else the keys
    /// counted by iteration. Python: `len(t)`.
    public var count: Int {
        get throws {
            if kind.isArrayLike { return maxEntries }
            if kind == .ringBuf { return 0 }
            try checkEntryKind("count")
            return try rawKeys().count
        }
    }

    // MARK: Printing and parsing through libbcc

    /// The key as libbcc prints it (e.g. `0x1` or `{ 0x1 "bash" }`).
    /// Python: `t.key_sprintf(key)`; libbcc: `bpf_table_key_snprintf`.
    public func keySprintf<K: Encodable>(_ key: K) throws -> String {
        var raw = try keyType.encode(key).bytes
        return try sprintf(&raw, size: keySize, key: true)
    }

    /// The leaf as libbcc prints it. Python: `t.leaf_sprintf(leaf)`; libbcc: `bpf_table_leaf_snprintf`.
    public func leafSprintf<V: Encodable>(_ leaf: V) throws -> String {
        var raw = try leafType.encode(leaf).bytes
        return try sprintf(&raw, size: leafSize, key: false)
    }

    /// Parses a key as libbcc prints it. Python: `t.key_scanf(text)`; libbcc: `bpf_table_key_sscanf`.
    public func keyScanf(_ text: String) throws -> DynamicValue {
        keyType.decode(try sscanf(text, size: keySize, key: true))
    }

    /// Parses a leaf as libbcc prints it. Python: `t.leaf_scanf(text)`; libbcc: `bpf_table_leaf_sscanf`.
    public func leafScanf(_ text: String) throws -> DynamicValue {
        leafType.decode(try sscanf(text, size: leafSize, key: false))
    }

    func sprintf(_ raw: inout [UInt8], size: Int, key: Bool) throws -> String {
        guard let bpf else { throw BPFError.closed }
        var buf = [CChar](repeating: 0, count: Swift.max(size * 8, 64) + 64)
        let rc = try bpf.withPrinterModule { module in
            key ? Compiler.api.bpf_table_key_snprintf!(module, id, &buf, buf.count, raw)
                : Compiler.api.bpf_table_leaf_snprintf!(module, id, &buf, buf.count, raw)
        }
        guard rc >= 0 else {
            throw BPFError.invalidArgument("libbcc could not print the \(key ? "key" : "leaf") of table \(name).")
        }
        return String(decoding: buf.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    func sscanf(_ text: String, size: Int, key: Bool) throws -> [UInt8] {
        guard let bpf else { throw BPFError.closed }
        var raw = [UInt8](repeating: 0, count: Swift.max(size, 1))
        let parsed = try bpf.withPrinterModule { module in
            LibBCC.call(key ? "bpf_table_key_sscanf" : "bpf_table_leaf_sscanf") {
                key ? Compiler.api.bpf_table_key_sscanf!(module, id, text, &raw) : Compiler.api.bpf_table_leaf_sscanf!(module, id, text, &raw)
            }
        }
        if case .failure(let failure) = parsed {
            throw BPFError.invalidArgument("libbcc could not parse \"\(text)\" as the \(key ? "key" : "leaf") of table \(name) "
                + "(\(key ? keyType : leafType)); write it as keySprintf/leafSprintf print it."
                + (failure.output.isEmpty ? "" : " " + failure.output.trimmingTrailingNewlines))
        }
        return Array(raw.prefix(size))
    }
}
