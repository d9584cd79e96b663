internal import CBCC
import Glibc

// MARK: Queue / Stack

extension Table {
    func requireQueueStack(_ operation: String) throws {
        try require(kind == .queue || kind == .stack, operation, expected: "QueueStack (BPF_QUEUE or BPF_STACK)")
    }

    /// Pushes `value` (`.exist`: when full, drop the oldest element instead of failing).
    /// Python: `q.push(leaf, flags=0)`; libbcc: `bpf_update_elem(fd, NULL, leaf, flags)`.
    public func push<V: Encodable>(_ value: V, flags: UpdateFlags = .any) throws {
        try requireQueueStack("push")
        let fd = try liveFD()
        var v = try leafType.encode(value).bytes
        if bpf_update_elem(fd, nil, &v, flags.rawValue) < 0 {
            throw failure("push", errno, flags: flags)
        }
    }

    /// Removes and returns the next element (the oldest for a queue, the newest for a stack),
    /// or nil when empty (Python raises `KeyError`). Python: `q.pop()`; libbcc: `bpf_lookup_and_delete`.
    public func pop() throws -> DynamicValue? {
        try requireQueueStack("pop")
        return try queueStackRead(delete: true)
    }

    /// The next element without removing it, or nil when empty. Python: `q.peek()`.
    public func peek() throws -> DynamicValue? {
        try requireQueueStack("peek")
        return try queueStackRead(delete: false)
    }

    func queueStackRead(delete: Bool) throws -> DynamicValue? {
        let fd = try liveFD()
        var v = [UInt8](repeating: 0, count: Swift.max(leafSize, 1))
        let rc = delete ? bpf_lookup_and_delete(fd, nil, &v) : bpf_lookup_elem(fd, nil, &v)
        if rc < 0 {
            let code = errno
            if code == ENOENT { return nil }
            throw failure(delete ? "pop" : "peek", code)
        }
        return leafType.decode(v.prefix(leafSize))
    }
}

// MARK: ProgArray, CgroupArray, map-in-map

extension BPF.Function: Encodable {
    /// Encodes the program fd, so a function can be stored in a ProgArray:
    /// `try progs.update(2, fn)` (Python: `prog_array[c_int(2)] = fn`).
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(fd)
    }
}

extension Table: Encodable {
    /// Encodes the map fd, so a table can be stored in an ArrayOfMaps/HashOfMaps:
    /// `try outer.update(0, b["inner"])` (Python: `outer[c_int(0)] = c_int(inner.get_fd())`).
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(try liveFD())
    }
}

extension Table {
    /// Stores loaded function `fn` at `index` of a ProgArray, for `prog_array.call(ctx, index)`
    /// tail calls. Python: `prog_array[c_int(index)] = fn`; libbcc: `bpf_update_elem`.
    public func setFunction(_ index: Int, _ fn: BPF.Function) throws {
        try require(kind == .progArray, "setFunction", expected: "ProgArray (BPF_PROG_ARRAY)")
        try update(index, fn.fd)
    }

    /// Stores the cgroup at `path` (e.g. `/sys/fs/cgroup/user.slice`) at `index` of a
    /// CgroupArray. Python: `cgroup_array[index] = path`.
    public func setCgroup(_ index: Int, path: String) throws {
        try require(kind == .cgroupArray, "setCgroup", expected: "CgroupArray (BPF_CGROUP_ARRAY)")
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            throw BPFError.systemCall(name: "open(\(path))", errno: .current, detail: "cgroup arrays take a cgroup v2 directory")
        }
        defer { close(fd) }
        try update(index, fd)
    }
}

// MARK: Per-CPU helpers

extension Table {
    func perCPUValues<K: Encodable>(_ key: K, _ operation: String) throws -> [DynamicValue]? {
        try require(kind.isPerCPU, operation, expected: "per-CPU table (PerCpuHash, PerCpuArray, LruPerCpuHash)")
        guard case .scalar = leafType.kind else {
            throw BPFError.invalidArgument("\(operation) on table \(name): the leaf must be an integer or floating-point "
                + "type, not \(leafType); read the per-CPU values with lookup and combine them yourself.")
        }
        return try lookup(key)?.elements
    }

    /// The sum of `key`'s per-CPU values, in the leaf type (wrapping like C), or nil when absent.
    /// Python: `t.sum(key)`.
    public func sum<K: Encodable>(_ key: K) throws -> DynamicValue? {
        guard let values = try perCPUValues(key, "sum") else { return nil }
        if case let .scalar(s) = leafType.kind, s.isFloatingPoint {
            return try leafType.encode(values.reduce(0.0) { $0 + ($1.double ?? 0) })
        }
        var total: UInt64 = 0
        for v in values { total &+= v.littleEndian128.low }
        return leafType.decode((0..<leafSize).map { i in i < 8 ? UInt8(truncatingIfNeeded: total >> (8 * UInt64(i))) : 0 })
    }

    /// The largest of `key`'s per-CPU values, or nil when absent. Python: `t.max(key)`.
    public func max<K: Encodable>(_ key: K) throws -> DynamicValue? {
        guard let values = try perCPUValues(key, "max"), var best = values.first else { return nil }
        for v in values.dropFirst() {
            let greater: Bool
            if case let .scalar(s) = leafType.kind, s.isFloatingPoint { greater = (v.double ?? 0) > (best.double ?? 0) }
            else if case let .scalar(s) = leafType.kind, s.isSigned { greater = (v.int ?? 0) > (best.int ?? 0) }
            else { greater = v.littleEndian128.low > best.littleEndian128.low }
            if greater { best = v }
        }
        return DynamicValue(type: leafType, bytes: best.bytes, boxed: true)
    }

    /// The sum divided by the number of possible CPUs, or nil when absent. Python: `t.average(key)`.
    public func average<K: Encodable>(_ key: K) throws -> Double? {
        guard let s = try sum(key) else { return nil }
        return (s.double ?? 0) / Double(CPUs.possible.count)
    }
}

// MARK: StackTrace

extension Table {
    /// The deepest stack a StackTrace table stores (`PERF_MAX_STACK_DEPTH`). Python: `StackTrace.MAX_DEPTH`.
    public static let maxStackDepth = 127
    /// `BPF_F_STACK_BUILD_ID`: the table stores build-id + offset frames.
    public static let stackBuildIDFlag: Int32 = 1 << 5

    /// The instruction pointers of stack `stackId`, innermost first, up to the first zero
    /// (for a `BPF_F_STACK_BUILD_ID` table: the offsets of frames with a valid build id).
    /// `stackId` is any integer an event field or a table value gives (`Int32`, `Int64`,
    /// `UInt64`, `UInt32`, ...). A failed `get_stackid` (`-EFAULT`, `-EEXIST`, ...), also as a
    /// `u64` or `u32` that wrapped it, and an id the table no longer has give an empty array
    /// (Python raises `KeyError`). Symbolize with `b.ksym(addr)` / `b.sym(addr, pid:)`.
    /// Python: `stack_traces.walk(stack_id)`.
    public func walk<I: BinaryInteger>(_ stackId: I) throws -> [UInt64] {
        try require(kind == .stackTrace, "walk", expected: "StackTrace (BPF_STACK_TRACE)")
        guard let id = Self.stackIndex(stackId), let raw = try lookup(rawKey: keyType.encode(id).bytes) else {
            return []
        }
        let buildID = flags & Self.stackBuildIDFlag != 0
        let frameSize = buildID ? 32 : 8
        var out: [UInt64] = []
        for i in 0..<Swift.min(Self.maxStackDepth, raw.count / frameSize) {
            let base = i * frameSize
            if buildID {
                let status = raw[base]
                if status != 1 { break }  // BPF_STACK_BUILD_ID_VALID
                out.append(TypedBytes.load(raw[(base + 24)..<(base + 32)], as: UInt64.self))
            } else {
                let ip = TypedBytes.load(raw[base..<(base + 8)], as: UInt64.self)
                if ip == 0 { break }
                out.append(ip)
            }
        }
        return out
    }

    /// A stack id as the kernel hands it out (an `int` key, 0 ... `Int32.max`), or nil for an
    /// error code: negative, or a negative `int`/`long` seen through a wider unsigned type
    /// (`0xffff_fff2` or `0xffff_ffff_ffff_fff2` for `-EFAULT`).
    static func stackIndex<I: BinaryInteger>(_ raw: I) -> Int? {
        guard let v = Int64(exactly: raw), v >= 0, v <= Int64(Int32.max) else { return nil }
        return Int(v)
    }

    /// The frames of a stack id read from an event or a table as a ``DynamicValue`` (any C
    /// integer type); a failed `get_stackid` gives an empty array. Python: `stack_traces.walk(event.stack_id)`.
    public func walk(_ stackId: DynamicValue) throws -> [UInt64] {
        guard let id = stackId.int.map(Int.init) ?? stackId.uint.map({ Int(clamping: $0) }) else {
            throw BPFError.invalidArgument("walk on table \(name): the stack id must be an integer, not \(stackId.type).")
        }
        return try walk(id)
    }

    /// The frames of stack `stackId`, each passed through `resolve` (e.g. `{ b.ksym($0) }`).
    /// Python: `stack_traces.walk(stack_id, resolve=b.ksym)`.
    public func walk<I: BinaryInteger>(_ stackId: I, resolve: (UInt64) -> String) throws -> [String] {
        try walk(stackId).map(resolve)
    }
}

// MARK: Pinning

extension Table {
    /// Pins the map at `path` on a bpffs (e.g. `/sys/fs/bpf/counts`), so it outlives the
    /// process; a program can then declare it with `BPF_TABLE_PINNED(..., "/sys/fs/bpf/counts")`.
    /// libbcc: `bpf_obj_pin` (through the raw `BPF_OBJ_PIN` syscall).
    public func pin(_ path: String) throws {
        let fd = try liveFD()
        if swiftbcc_obj_pin(fd, path) < 0 {
            let code = errno
            throw BPFError.systemCall(name: "bpf_obj_pin(\(path))", errno: Errno(code),
                                      detail: code == EEXIST ? "the path is pinned already; unlink it first"
                                          : "the path must be on a mounted bpffs (mount -t bpf bpf /sys/fs/bpf)")
        }
    }
}
