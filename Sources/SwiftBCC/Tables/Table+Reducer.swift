extension Table {
    /// `key`'s per-CPU values combined into one by `reducer`, applied left to right from CPU 0
    /// (`{ a, b in a + b }` sums), or nil when absent. Python: `b.get_table(name, reducer=fn)[key]`
    /// (`functools.reduce(fn, values)`).
    public func lookup<K: Encodable>(_ key: K, reducer: (DynamicValue, DynamicValue) throws -> DynamicValue) throws -> DynamicValue? {
        try require(kind.isPerCPU, "lookup(_:reducer:)", expected: "per-CPU table (PerCpuHash, PerCpuArray, LruPerCpuHash)")
        guard let values = try lookup(key)?.elements, let first = values.first else { return nil }
        return try values.dropFirst().reduce(first, reducer)
    }

    /// Every key with its per-CPU values combined by `reducer`. Python: `t.items()` on a table
    /// opened with `reducer=fn`.
    public func items(reducer: (DynamicValue, DynamicValue) throws -> DynamicValue) throws
        -> [(key: DynamicValue, value: DynamicValue)] {
        try require(kind.isPerCPU, "items(reducer:)", expected: "per-CPU table (PerCpuHash, PerCpuArray, LruPerCpuHash)")
        return try items().compactMap { k, v in
            guard let first = v.elements.first else { return nil }
            return (k, try v.elements.dropFirst().reduce(first, reducer))
        }
    }
}

extension PerCPUHashTable {
    /// `key`'s per-CPU values combined by `reducer` from CPU 0 on (`+` sums, `Swift.max` takes
    /// the largest), or nil when absent. Python: `b.get_table(name, reducer=fn)[key]`.
    public func lookup(_ key: Key, reducer: (Value, Value) throws -> Value) throws -> Value? {
        guard let values = try lookup(key), let first = values.first else { return nil }
        return try values.dropFirst().reduce(first, reducer)
    }

    /// Every key with its values combined by `reducer`. Python: `t.items()` with `reducer=fn`.
    public func items(reducer: (Value, Value) throws -> Value) throws -> [(key: Key, value: Value)] {
        try items().compactMap { k, vs in
            guard let first = vs.first else { return nil }
            return (k, try vs.dropFirst().reduce(first, reducer))
        }
    }
}

extension PerCPUArrayTable {
    /// Entry `index`'s per-CPU values combined by `reducer` from CPU 0 on.
    /// Python: `b.get_table(name, reducer=fn)[index]`.
    public func lookup(_ index: Int, reducer: (Value, Value) throws -> Value) throws -> Value? {
        guard let values = try lookup(index), let first = values.first else { return nil }
        return try values.dropFirst().reduce(first, reducer)
    }

    /// Every index with its values combined by `reducer`. Python: `t.items()` with `reducer=fn`.
    public func items(reducer: (Value, Value) throws -> Value) throws -> [(index: Int, value: Value)] {
        try items().compactMap { i, vs in
            guard let first = vs.first else { return nil }
            return (i, try vs.dropFirst().reduce(first, reducer))
        }
    }
}
