internal import CBCC
import Glibc

// The map syscalls on caller-owned memory: what the typed views (TypedTables.swift) use so a
// typed lookup, update or delete hands pointers to the Swift values straight to
// bpf_lookup_elem & co. and allocates nothing. The typed views are @inlinable (specialized in
// the caller's module for its key and value types); these entry points are not generic.

extension Table {
    /// `bpf_lookup_elem` into `value` (at least `valueBufferSize` bytes); false when absent.
    @usableFromInline
    func _lookup(key: UnsafeRawPointer, value: UnsafeMutableRawPointer) throws -> Bool {
        let fd = try liveFD()
        if bpf_lookup_elem(fd, UnsafeMutableRawPointer(mutating: key), value) < 0 {
            let code = errno
            if code == ENOENT { return false }
            throw failure("bpf_lookup_elem", code)
        }
        return true
    }

    /// `bpf_update_elem` from `value` (`valueBufferSize` bytes).
    @usableFromInline
    func _update(key: UnsafeRawPointer, value: UnsafeRawPointer, flags: UpdateFlags) throws {
        let fd = try liveFD()
        if bpf_update_elem(fd, UnsafeMutableRawPointer(mutating: key), UnsafeMutableRawPointer(mutating: value), flags.rawValue) < 0 {
            throw failure("bpf_update_elem", errno, flags: flags)
        }
    }

    /// `bpf_delete_elem`; false when absent.
    @usableFromInline
    func _delete(key: UnsafeRawPointer) throws -> Bool {
        let fd = try liveFD()
        if bpf_delete_elem(fd, UnsafeMutableRawPointer(mutating: key)) < 0 {
            let code = errno
            if code == ENOENT { return false }
            throw failure("bpf_delete_elem", code)
        }
        return true
    }

    /// Deletes, or zeroes for Array/PerCpuArray (which cannot delete): `removeEntry` on a pointer.
    @usableFromInline
    func _remove(key: UnsafeRawPointer) throws {
        if kind == .array || kind == .perCPUArray {
            try withUnsafeTemporaryAllocation(byteCount: Swift.max(valueBufferSize, 1), alignment: 8) { zero in
                zero.initializeMemory(as: UInt8.self, repeating: 0)
                try _update(key: key, value: UnsafeRawPointer(zero.baseAddress!), flags: .any)
            }
        } else {
            _ = try _delete(key: key)
        }
    }

    /// The key for array index `index` (negative from the end), as `keyBytes(_:)` checks it.
    @usableFromInline
    func _arrayIndex(_ index: Int) throws -> UInt32 {
        guard index < maxEntries, index >= -maxEntries else {
            throw BPFError.indexOutOfRange(table: name, index: index, count: maxEntries)
        }
        return UInt32(truncatingIfNeeded: index < 0 ? index + maxEntries : index)
    }

    /// Zeroes the key's padding offsets below `count` in the bytes at `p` (not generic, so the
    /// loop is one compiled function for every key type).
    @usableFromInline
    func _zeroKeyPadding(_ p: UnsafeMutableRawPointer, count: Int) {
        keyPaddingOffsets.withUnsafeBufferPointer { offsets in
            for i in offsets where i < count { p.storeBytes(of: 0, toByteOffset: i, as: UInt8.self) }
        }
    }

    /// Calls `body` with the bytes of `key` as the kernel must see them: `keySize` bytes, the
    /// padding offsets zeroed. A key type with no padding and the key's size is passed in place.
    @inlinable
    func _withKey<K: BitwiseCopyable, R>(_ key: K, _ body: (UnsafeRawPointer) throws -> R) throws -> R {
        if !keyHasPadding && MemoryLayout<K>.size >= keySize {
            return try withUnsafeBytes(of: key) { try body($0.baseAddress!) }
        }
        if MemoryLayout<K>.size >= keySize {
            // A copy of the key with its padding bytes zeroed in place.
            var copy = key
            withUnsafeMutableBytes(of: &copy) { _zeroKeyPadding($0.baseAddress!, count: $0.count) }
            return try withUnsafeBytes(of: copy) { try body($0.baseAddress!) }
        }
        // Trailing padding past the Swift size: one K of stack space (the opening check makes
        // K's stride at least keySize), zero-filled.
        return try withUnsafeTemporaryAllocation(of: K.self, capacity: 1) { typed in
            let buf = UnsafeMutableRawBufferPointer(typed)
            buf.initializeMemory(as: UInt8.self, repeating: 0)
            withUnsafeBytes(of: key) { raw in
                buf.baseAddress!.copyMemory(from: raw.baseAddress!, byteCount: Swift.min(raw.count, keySize))
            }
            _zeroKeyPadding(buf.baseAddress!, count: keySize)
            return try body(UnsafeRawPointer(buf.baseAddress!))
        }
    }

    /// Calls `body` with `value`'s bytes, `leafSize` of them (zero-filled past the Swift size).
    @inlinable
    func _withValue<V: BitwiseCopyable, R>(_ value: V, _ body: (UnsafeRawPointer) throws -> R) throws -> R {
        if MemoryLayout<V>.size >= leafSize {
            return try withUnsafeBytes(of: value) { try body($0.baseAddress!) }
        }
        return try withUnsafeTemporaryAllocation(of: V.self, capacity: 1) { typed in
            let buf = UnsafeMutableRawBufferPointer(typed)
            buf.initializeMemory(as: UInt8.self, repeating: 0)
            withUnsafeBytes(of: value) { raw in
                buf.baseAddress!.copyMemory(from: raw.baseAddress!, byteCount: Swift.min(raw.count, leafSize))
            }
            return try body(UnsafeRawPointer(buf.baseAddress!))
        }
    }

    /// A typed lookup: the value read in place into a `V` on the stack (its stride covers `leafSize`).
    @inlinable
    func _typedLookup<K: BitwiseCopyable, V: BitwiseCopyable>(_ key: K, as: V.Type) throws -> V? {
        // The opening check makes V's stride at least leafSize (size == leafSize, or stride ==
        // leafSize), so one V of stack space holds what the kernel writes.
        try _withKey(key) { k in
            try withUnsafeTemporaryAllocation(of: V.self, capacity: 1) { out in
                guard try _lookup(key: k, value: UnsafeMutableRawPointer(out.baseAddress!)) else { return nil }
                return UnsafeRawPointer(out.baseAddress!).load(as: V.self)
            }
        }
    }

    // MARK: Batches on one buffer

    /// Reads every entry with `BPF_MAP_LOOKUP_BATCH` (or `..._AND_DELETE_BATCH`) in chunks into
    /// one pair of buffers reused for every chunk, handing each chunk to `body` (keys
    /// `keySize` apart, values `valueBufferSize` apart). False when the kernel has no batch
    /// operation for this map (nothing was read; the caller falls back to key by key).
    @usableFromInline
    func _batchLookup(delete: Bool, _ body: (UnsafeRawPointer, UnsafeRawPointer, Int) throws -> Void) throws -> Bool {
        let op: BatchOperation = delete ? .lookupAndDelete : .lookup
        if isBatchUnsupported(op) { return false }
        switch kind {
        case .queue, .stack, .ringBuf, .perfEventArray, .progArray, .stackTrace, .lpmTrie, .cgroupArray,
             .arrayOfMaps, .hashOfMaps, .devMap, .devMapHash, .cpuMap, .xskMap, .sockMap, .sockHash:
            return false
        default: break
        }
        let fd = try liveFD()
        let valueSize = valueBufferSize
        let tokenSize = Swift.max(keySize, 8)
        var chunk = Swift.min(Swift.max(maxEntries, 1), 4096)
        var capacity = 0
        var keys = UnsafeMutableRawPointer.allocate(byteCount: 1, alignment: 16)
        var values = UnsafeMutableRawPointer.allocate(byteCount: 1, alignment: 16)
        let tokens = UnsafeMutableRawPointer.allocate(byteCount: 2 * tokenSize, alignment: 16)
        defer { keys.deallocate(); values.deallocate(); tokens.deallocate() }
        tokens.initializeMemory(as: UInt8.self, repeating: 0, count: 2 * tokenSize)
        let inToken = tokens.assumingMemoryBound(to: UInt32.self)
        let outToken = (tokens + tokenSize).assumingMemoryBound(to: UInt32.self)
        var first = true
        while true {
            if chunk > capacity {
                keys.deallocate(); values.deallocate()
                keys = .allocate(byteCount: Swift.max(keySize * chunk, 1), alignment: 16)
                values = .allocate(byteCount: Swift.max(valueSize * chunk, 1), alignment: 16)
                capacity = chunk
            }
            var count = UInt32(chunk)
            let rc = delete
                ? bpf_lookup_and_delete_batch(fd, first ? nil : inToken, outToken, keys, values, &count)
                : bpf_lookup_batch(fd, first ? nil : inToken, outToken, keys, values, &count)
            let code = rc < 0 ? errno : 0
            if rc < 0 && code != ENOENT {
                if first && [EINVAL, EOPNOTSUPP, 524, ENOSYS].contains(code) {
                    markBatchUnsupported(op)
                    return false
                }
                if code == ENOSPC && count == 0 && chunk < Swift.max(maxEntries, 1) * 2 {
                    // A hash bucket holds more entries than the chunk: retry with a larger one.
                    chunk *= 2
                    continue
                }
                throw failure(delete ? "BPF_MAP_LOOKUP_AND_DELETE_BATCH" : "BPF_MAP_LOOKUP_BATCH", code)
            }
            if count > 0 { try body(UnsafeRawPointer(keys), UnsafeRawPointer(values), Int(count)) }
            first = false
            if rc < 0 || count == 0 { break }
            (tokens).copyMemory(from: tokens + tokenSize, byteCount: tokenSize)
        }
        return true
    }

    /// `BPF_MAP_UPDATE_BATCH` from `count` keys and values packed back to back (`keySize` and
    /// `valueBufferSize` apart), key by key where the kernel lacks it; the checks of
    /// ``itemsUpdateBatch(keys:values:)``.
    @usableFromInline
    func _updateBatch(keys: UnsafeRawPointer, values: UnsafeRawPointer, count: Int, valueCount: Int) throws {
        try checkEntryKind("itemsUpdateBatch")
        guard count == valueCount, count > 0, count <= Swift.max(maxEntries, 1) else {
            throw BPFError.invalidArgument("itemsUpdateBatch on table \(name): \(count) keys and \(valueCount) "
                + "values; pass arrays of the same length, between 1 and max_entries (\(maxEntries)).")
        }
        if batchCapable, !isBatchUnsupported(.update) {
            let fd = try liveFD()
            var n = UInt32(count)
            if bpf_update_batch(fd, UnsafeMutableRawPointer(mutating: keys), UnsafeMutableRawPointer(mutating: values), &n) == 0 { return }
            let code = errno
            if ![EINVAL, EOPNOTSUPP, 524, ENOSYS].contains(code) || n > 0 {
                throw failure("BPF_MAP_UPDATE_BATCH", code)
            }
            markBatchUnsupported(.update)
        }
        for i in 0..<count {
            try _update(key: keys + i * keySize, value: values + i * valueBufferSize, flags: .any)
        }
    }

    /// `BPF_MAP_DELETE_BATCH` of `count` keys packed back to back, key by key where the kernel
    /// lacks it; the checks of ``itemsDeleteBatch(keys:)``.
    @usableFromInline
    func _deleteBatch(keys: UnsafeRawPointer, count: Int) throws {
        try checkEntryKind("itemsDeleteBatch")
        guard count > 0 else { return }
        guard count <= Swift.max(maxEntries, 1) else {
            throw BPFError.invalidArgument("itemsDeleteBatch on table \(name): \(count) keys, more than its "
                + "max_entries (\(maxEntries)); pass at most \(maxEntries).")
        }
        if !kind.isArrayLike, batchCapable, !isBatchUnsupported(.delete) {
            let fd = try liveFD()
            var n = UInt32(count)
            if bpf_delete_batch(fd, UnsafeMutableRawPointer(mutating: keys), &n) == 0 { return }
            let code = errno
            if ![EINVAL, EOPNOTSUPP, 524, ENOSYS].contains(code) || n > 0 {
                throw failure("BPF_MAP_DELETE_BATCH", code)
            }
            markBatchUnsupported(.delete)
        }
        for i in 0..<count { try _remove(key: keys + i * keySize) }
    }

    /// Packs typed keys as the kernel reads them (padding zeroed) into one buffer, or hands the
    /// array's own storage when `K` has no padding and its stride is `keySize`.
    @inlinable
    func _withPackedKeys<K: BitwiseCopyable, R>(_ keys: [K], _ body: (UnsafeRawPointer) throws -> R) throws -> R {
        if !keyHasPadding && MemoryLayout<K>.stride == keySize && MemoryLayout<K>.size == keySize {
            return try keys.withUnsafeBytes { try body($0.baseAddress ?? UnsafeRawPointer(bitPattern: 8)!) }
        }
        let buf = UnsafeMutableRawPointer.allocate(byteCount: Swift.max(keySize * keys.count, 1), alignment: 16)
        defer { buf.deallocate() }
        buf.initializeMemory(as: UInt8.self, repeating: 0, count: Swift.max(keySize * keys.count, 1))
        let n = Swift.min(MemoryLayout<K>.size, keySize)
        for (i, k) in keys.enumerated() {
            let at = buf + i * keySize
            withUnsafeBytes(of: k) { at.copyMemory(from: $0.baseAddress!, byteCount: n) }
            _zeroKeyPadding(at, count: keySize)
        }
        return try body(UnsafeRawPointer(buf))
    }

    /// The same for values (`leafSize` apart; tail past the Swift size zeroed).
    @inlinable
    func _withPackedValues<V: BitwiseCopyable, R>(_ values: [V], _ body: (UnsafeRawPointer) throws -> R) throws -> R {
        if MemoryLayout<V>.stride == leafSize && MemoryLayout<V>.size == leafSize {
            return try values.withUnsafeBytes { try body($0.baseAddress ?? UnsafeRawPointer(bitPattern: 8)!) }
        }
        let buf = UnsafeMutableRawPointer.allocate(byteCount: Swift.max(leafSize * values.count, 1), alignment: 16)
        defer { buf.deallocate() }
        buf.initializeMemory(as: UInt8.self, repeating: 0, count: Swift.max(leafSize * values.count, 1))
        let n = Swift.min(MemoryLayout<V>.size, leafSize)
        for (i, v) in values.enumerated() {
            withUnsafeBytes(of: v) { (buf + i * leafSize).copyMemory(from: $0.baseAddress!, byteCount: n) }
        }
        return try body(UnsafeRawPointer(buf))
    }

    /// Every entry as typed pairs: batch lookups into one buffer where the kernel has them for
    /// this map, else key by key (`rawItems`'s fallback).
    @inlinable
    func _typedItems<K: BitwiseCopyable, V: BitwiseCopyable>(delete: Bool, _: K.Type, _: V.Type) throws -> [(key: K, value: V)] {
        var out: [(key: K, value: V)] = []
        let ks = keySize, vs = valueBufferSize
        let batched = try _batchLookup(delete: delete) { keys, values, n in
            if out.capacity < out.count + n { out.reserveCapacity(Swift.max(out.count + n, 2 * out.capacity)) }
            for i in 0..<n {
                out.append((_loadPadded(keys + i * ks, ks, as: K.self), _loadPadded(values + i * vs, vs, as: V.self)))
            }
        }
        if batched { return out }
        return try _typedItemsKeyByKey(delete: delete).map {
            $0.withUnsafeBytes { e in
                (_loadPadded(e.baseAddress!, ks, as: K.self), _loadPadded(e.baseAddress! + ks, vs, as: V.self))
            }
        }
    }

    /// The key-by-key fallback: each entry's key and value bytes back to back.
    @usableFromInline
    func _typedItemsKeyByKey(delete: Bool) throws -> [[UInt8]] {
        var out: [[UInt8]] = []
        for k in try rawKeys() {
            guard let v = try lookup(rawKey: k) else { continue }
            out.append(k + v)
            if delete { try removeEntry(rawKey: k) }
        }
        return out
    }
}

/// Loads a `T` from `size` bytes at `p` (zero-extended when `T` is larger).
@inlinable
func _loadPadded<T: BitwiseCopyable>(_ p: UnsafeRawPointer, _ size: Int, as: T.Type) -> T {
    if size >= MemoryLayout<T>.size { return p.loadUnaligned(as: T.self) }
    return withUnsafeTemporaryAllocation(of: T.self, capacity: 1) { typed in
        let buf = UnsafeMutableRawBufferPointer(typed)
        buf.initializeMemory(as: UInt8.self, repeating: 0)
        buf.baseAddress!.copyMemory(from: p, byteCount: size)
        return buf.baseAddress!.loadUnaligned(as: T.self)
    }
}
