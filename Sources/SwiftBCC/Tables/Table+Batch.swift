internal import CBCC
import Glibc

extension Table {
    /// `bpf_lookup_batch` / `bpf_lookup_and_delete_batch` over the whole map, in chunks;
    /// nil when the kernel has no batch operation for this map (the caller falls back).
    func batchLookup(delete: Bool) throws -> [(key: [UInt8], value: [UInt8])]? {
        let op: BatchOperation = delete ? .lookupAndDelete : .lookup
        if isBatchUnsupported(op) { return nil }
        switch kind {
        case .queue, .stack, .ringBuf, .perfEventArray, .progArray, .stackTrace, .lpmTrie, .cgroupArray,
             .arrayOfMaps, .hashOfMaps, .devMap, .devMapHash, .cpuMap, .xskMap, .sockMap, .sockHash:
            return nil
        default: break
        }
        let fd = try liveFD()
        let valueSize = valueBufferSize
        let tokenSize = Swift.max(keySize, 8)
        var inToken = [UInt8](repeating: 0, count: tokenSize)
        var outToken = [UInt8](repeating: 0, count: tokenSize)
        var chunk = Swift.min(Swift.max(maxEntries, 1), 4096)
        var results: [(key: [UInt8], value: [UInt8])] = []
        var first = true
        while true {
            var keys = [UInt8](repeating: 0, count: Swift.max(keySize * chunk, 1))
            var values = [UInt8](repeating: 0, count: Swift.max(valueSize * chunk, 1))
            var count = UInt32(chunk)
            let rc: Int32 = inToken.withUnsafeMutableBytes { inp in
                outToken.withUnsafeMutableBytes { outp in
                    let inPtr = first ? nil : inp.baseAddress!.assumingMemoryBound(to: UInt32.self)
                    let outPtr = outp.baseAddress!.assumingMemoryBound(to: UInt32.self)
                    return delete
                        ? bpf_lookup_and_delete_batch(fd, inPtr, outPtr, &keys, &values, &count)
                        : bpf_lookup_batch(fd, inPtr, outPtr, &keys, &values, &count)
                }
            }
            let code = rc < 0 ? errno : 0
            if rc < 0 && code != ENOENT {
                if first && [EINVAL, EOPNOTSUPP, 524, ENOSYS].contains(code) {
                    markBatchUnsupported(op)
                    return nil
                }
                if code == ENOSPC && count == 0 && chunk < Swift.max(maxEntries, 1) * 2 {
                    // A hash bucket holds more entries than the chunk: retry with a larger one.
                    chunk *= 2
                    continue
                }
                throw failure(delete ? "BPF_MAP_LOOKUP_AND_DELETE_BATCH" : "BPF_MAP_LOOKUP_BATCH", code)
            }
            for i in 0..<Int(count) {
                results.append((Array(keys[i * keySize..<(i + 1) * keySize]),
                                Array(values[i * valueSize..<(i + 1) * valueSize])))
            }
            first = false
            if rc < 0 || count == 0 { break }
            inToken = outToken
        }
        return results
    }

    /// Every (key, value) pair, looked up with `BPF_MAP_LOOKUP_BATCH` where the kernel has it
    /// for this map (else key by key). Python: `t.items_lookup_batch()`; libbcc: `bpf_lookup_batch`.
    public func itemsLookupBatch() throws -> [(key: DynamicValue, value: DynamicValue)] {
        try checkEntryKind("itemsLookupBatch")
        return decodeItems(try rawItems())
    }

    /// Looks up and deletes every entry (`BPF_MAP_LOOKUP_AND_DELETE_BATCH`; key by key where
    /// the kernel lacks it, zeroing array entries). Python: `t.items_lookup_and_delete_batch()`;
    /// libbcc: `bpf_lookup_and_delete_batch`.
    public func itemsLookupAndDeleteBatch() throws -> [(key: DynamicValue, value: DynamicValue)] {
        try checkEntryKind("itemsLookupAndDeleteBatch")
        if let batch = try batchLookup(delete: true) { return decodeItems(batch) }
        var out: [(key: [UInt8], value: [UInt8])] = []
        for k in try rawKeys() {
            guard let v = try lookup(rawKey: k) else { continue }
            out.append((k, v))
            try removeEntry(rawKey: k)
        }
        return decodeItems(out)
    }

    /// Deletes the entries for `keys` (`BPF_MAP_DELETE_BATCH`), or every entry when `keys` is
    /// nil. Python: `t.items_delete_batch(ct_keys=None)`; libbcc: `bpf_delete_batch`.
    public func itemsDeleteBatch<K: Encodable>(keys: [K]?) throws {
        try checkEntryKind("itemsDeleteBatch")
        guard let keys else {
            _ = try itemsLookupAndDeleteBatch()
            return
        }
        guard !keys.isEmpty else { return }
        guard keys.count <= Swift.max(maxEntries, 1) else {
            throw BPFError.invalidArgument("itemsDeleteBatch on table \(name): \(keys.count) keys, more than its "
                + "max_entries (\(maxEntries)); pass at most \(maxEntries).")
        }
        let raw = try keys.map { try keyBytes($0) }
        if !kind.isArrayLike, batchCapable, !isBatchUnsupported(.delete) {
            let fd = try liveFD()
            var flat = raw.flatMap { $0 }
            var count = UInt32(raw.count)
            if bpf_delete_batch(fd, &flat, &count) == 0 { return }
            let code = errno
            if ![EINVAL, EOPNOTSUPP, 524, ENOSYS].contains(code) || count > 0 {
                throw failure("BPF_MAP_DELETE_BATCH", code)
            }
            markBatchUnsupported(.delete)
        }
        for k in raw { try removeEntry(rawKey: k) }
    }

    /// Deletes every entry. Python: `t.items_delete_batch()`.
    public func itemsDeleteBatch() throws {
        try itemsDeleteBatch(keys: nil as [DynamicValue]?)
    }

    /// Stores `values[i]` under `keys[i]` (`BPF_MAP_UPDATE_BATCH`, key by key where the kernel
    /// lacks it). Both arrays must have the same length, at most `maxEntries`.
    /// Python: `t.items_update_batch(ct_keys, ct_values)`; libbcc: `bpf_update_batch`.
    public func itemsUpdateBatch<K: Encodable, V: Encodable>(keys: [K], values: [V]) throws {
        try checkEntryKind("itemsUpdateBatch")
        guard keys.count == values.count, !keys.isEmpty, keys.count <= Swift.max(maxEntries, 1) else {
            throw BPFError.invalidArgument("itemsUpdateBatch on table \(name): \(keys.count) keys and \(values.count) "
                + "values; pass arrays of the same length, between 1 and max_entries (\(maxEntries)).")
        }
        let rawKeys = try keys.map { try keyBytes($0) }
        let rawValues = try values.map { try valueBytes($0) }
        if batchCapable, !isBatchUnsupported(.update) {
            let fd = try liveFD()
            var k = rawKeys.flatMap { $0 }
            var v = rawValues.flatMap { $0 }
            var count = UInt32(rawKeys.count)
            if bpf_update_batch(fd, &k, &v, &count) == 0 { return }
            let code = errno
            if ![EINVAL, EOPNOTSUPP, 524, ENOSYS].contains(code) || count > 0 {
                throw failure("BPF_MAP_UPDATE_BATCH", code)
            }
            markBatchUnsupported(.update)
        }
        for (k, v) in zip(rawKeys, rawValues) { try update(rawKey: k, rawValue: v) }
    }

    func isBatchUnsupported(_ op: BatchOperation) -> Bool { unsupportedBatch.withLock { $0.contains(op) } }
    func markBatchUnsupported(_ op: BatchOperation) { unsupportedBatch.withLock { _ = $0.insert(op) } }

    var batchCapable: Bool {
        switch kind {
        case .hash, .lruHash, .perCPUHash, .lruPerCPUHash, .array, .perCPUArray: return true
        default: return false
        }
    }

    func decodeItems(_ raw: [(key: [UInt8], value: [UInt8])]) -> [(key: DynamicValue, value: DynamicValue)] {
        raw.map { (keyType.decode($0.key), valueType.decode(userValue($0.value))) }
    }
}
