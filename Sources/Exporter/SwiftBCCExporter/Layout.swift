import Foundation
import SwiftBCC

/// One member of a map's key (or the whole key, for a scalar or array key) as libbcc describes it.
struct KeyMember {
    let name: String
    let offset: Int
    let type: TypeDescription

    /// The key's members a label may name: a struct's non-padding members, or the whole key.
    static func members(of key: TypeDescription) -> [KeyMember] {
        switch key.kind {
        case .structure, .union:
            return key.fields.filter { !$0.isPadding }.map { KeyMember(name: $0.name, offset: $0.offset, type: $0.type) }
        default:
            return [KeyMember(name: "", offset: 0, type: key)]
        }
    }

    /// An integer member: its size and signedness; nil for other types.
    var integer: (size: Int, signed: Bool)? {
        switch type.kind {
        case let .scalar(s) where !s.isFloatingPoint && [1, 2, 4, 8].contains(s.size): return (s.size, s.isSigned)
        case .enumeration: return (4, true)
        default: return nil
        }
    }

    /// A `char[N]` member: N.
    var charCount: Int? {
        if case let .array(e, n) = type.kind, case let .scalar(s) = e.kind, [.char, .signedChar, .unsignedChar].contains(s) {
            return n
        }
        return nil
    }
}

/// How a label's value is read from the key bytes and turned into text.
struct LabelDecoder: @unchecked Sendable {
    enum First {
        case unsigned, signed, hex, string, ksym, syscall, cgroup
        /// The pid from the key bytes at `offset` (`size` bytes), or the fixed `pid`.
        case usym(pidOffset: Int, pidSize: Int, pid: Int32?)
    }
    let name: String
    let offset: Int
    let size: Int
    let signed: Bool
    let first: First
    let rewrites: [(table: [String: String], defaultValue: String?)]

    /// Builds the decoder for `label` on `member`, checking that the decoders fit the C type.
    init(label: LabelConfig, member: KeyMember, members: [KeyMember] = [], keyLayout: String, metric: String) throws(ConfigError) {
        name = label.name
        offset = member.offset
        size = member.type.size
        let what = member.name.isEmpty ? "the key (\(member.type.cName))" : "key member `\(member.name)` (\(member.type.cName))"
        let int = member.integer
        signed = int?.signed ?? false
        var decoders = label.decoders
        if decoders.isEmpty {
            if let int {
                decoders = [DecoderConfig(kind: int.signed ? .int : .uint, location: label.location)]
            } else if member.charCount != nil {
                decoders = [DecoderConfig(kind: .string, location: label.location)]
            } else {
                throw label.location.error("label `\(label.name)` of `\(metric)`: \(what) is neither an integer nor a char array; "
                    + "labels decode integers and char[N] strings. The key is:\n\(keyLayout)")
            }
        }
        let d = decoders[0]
        func needInteger(_ sizes: [Int] = [1, 2, 4, 8]) throws(ConfigError) {
            guard let int, sizes.contains(int.size) else {
                throw d.location.error("decoder `\(d.name)` of label `\(label.name)` needs an integer"
                    + (sizes.count == 1 ? " of \(sizes[0]) bytes" : "") + ", but \(what) is not one. The key is:\n\(keyLayout)")
            }
        }
        switch d.kind {
        case .uint: try needInteger(); first = .unsigned
        case .int: try needInteger(); first = .signed
        case .hex: try needInteger(); first = .hex
        case .syscall: try needInteger(); first = .syscall
        case .ksym: try needInteger([8]); first = .ksym
        case .usym(let pidField, let pid):
            try needInteger([8])
            if let pid {
                first = .usym(pidOffset: 0, pidSize: 0, pid: pid)
            } else {
                guard let m = members.first(where: { $0.name == pidField }), let pidInt = m.integer, pidInt.size == 4 || pidInt.size == 8 else {
                    throw d.location.error("decoder `usym` of label `\(label.name)`: `pid_field: \(pidField ?? "")` must name a 4- or 8-byte "
                        + "integer member of the key (the pid the address belongs to). The key is:\n\(keyLayout)")
                }
                first = .usym(pidOffset: m.offset, pidSize: pidInt.size, pid: nil)
            }
        case .cgroup: try needInteger([8]); first = .cgroup
        case .string:
            guard member.charCount != nil else {
                throw d.location.error("decoder `string` of label `\(label.name)` needs a char[N] member, but \(what) is not one. "
                    + "The key is:\n\(keyLayout)")
            }
            first = .string
        case .staticMap: fatalError("checked by the parser: static_map is never first")
        }
        rewrites = decoders.dropFirst().compactMap {
            if case let .staticMap(t, def) = $0.kind { return (t, def) }
            return nil
        }
    }

    func integerValue(_ key: UnsafeRawBufferPointer) -> (u: UInt64, i: Int64) {
        let base = key.baseAddress! + offset
        switch size {
        case 1: let v = base.load(as: UInt8.self); return (UInt64(v), Int64(Int8(bitPattern: v)))
        case 2: let v = base.loadUnaligned(as: UInt16.self); return (UInt64(v), Int64(Int16(bitPattern: v)))
        case 4: let v = base.loadUnaligned(as: UInt32.self); return (UInt64(v), Int64(Int32(bitPattern: v)))
        default: let v = base.loadUnaligned(as: UInt64.self); return (v, Int64(bitPattern: v))
        }
    }

    func decode(_ key: UnsafeRawBufferPointer, cgroups: CgroupPaths) -> String {
        var text: String
        switch first {
        case .unsigned: text = String(integerValue(key).u)
        case .signed: text = String(integerValue(key).i)
        case .hex: text = "0x" + String(integerValue(key).u, radix: 16)
        case .syscall:
            let n = Int(integerValue(key).i)
            text = BPF.syscallName(n)
        case .ksym: text = BPF.ksym(integerValue(key).u)
        case let .usym(pidOffset, pidSize, fixed):
            let base = key.baseAddress! + pidOffset
            let pid = fixed ?? (pidSize == 4 ? Int32(bitPattern: base.loadUnaligned(as: UInt32.self))
                : Int32(truncatingIfNeeded: base.loadUnaligned(as: UInt64.self)))
            text = BPF.sym(integerValue(key).u, pid: pid)
        case .cgroup: text = cgroups.path(integerValue(key).u)
        case .string:
            let bytes = UnsafeRawBufferPointer(rebasing: key[offset..<offset + size])
            let end = bytes.firstIndex(of: 0) ?? bytes.count
            text = String(decoding: UnsafeRawBufferPointer(rebasing: bytes[..<end]), as: UTF8.self)
        }
        for r in rewrites {
            text = r.table[text] ?? r.defaultValue ?? text
        }
        return text
    }
}

/// How a map value becomes a number: the integer at `offset` (a member of a struct value, or
/// the whole value), summed over the CPUs of a per-CPU map.
struct ValueReader: Sendable {
    let offset: Int
    let size: Int
    let signed: Bool
    let isDouble: Bool
    /// Per-CPU maps: one slot of `stride` bytes per CPU.
    let slots: Int
    let stride: Int

    init(table: Table, metric: MetricConfig) throws(ConfigError) {
        let leaf = table.leafType
        var type = leaf
        var offset = 0
        let layout = leaf.layout
        if let field = metric.valueField {
            guard let f = leaf.fields.first(where: { $0.name == field && $0.bitWidth == nil }) else {
                throw metric.location.error("`value_field: \(field)` of `\(metric.name)`: table `\(table.name)`'s value has no such member. "
                    + "The value is:\n\(layout)")
            }
            type = f.type
            offset = f.offset
        }
        guard case let .scalar(s) = type.kind, [1, 2, 4, 8].contains(s.size) else {
            throw metric.location.error("`\(metric.name)` reads table `\(table.name)`, whose value (\(type.cName)) is not a number"
                + (metric.valueField == nil && !leaf.fields.isEmpty ? "; name the member with `value_field:`" : "")
                + ". The value is:\n\(layout)")
        }
        self.offset = offset
        size = s.size
        signed = s.isSigned
        isDouble = s.isFloatingPoint
        if s.isFloatingPoint && metric.kind != .gauge {
            throw metric.location.error("`\(metric.name)`: a \(metric.kind.rawValue) counts with integers; table `\(table.name)` holds \(s.cName)")
        }
        if table.kind.isPerCPU {
            stride = (table.leafSize + 7) & ~7
            slots = max(1, table.valueBufferSize / stride)
        } else {
            stride = table.leafSize
            slots = 1
        }
    }

    /// The value summed over CPUs, as an unsigned count (negative values count as 0).
    @inline(__always)
    func count(_ value: UnsafeRawBufferPointer) -> UInt64 {
        var total: UInt64 = 0
        for cpu in 0..<slots {
            let p = value.baseAddress! + cpu * stride + offset
            switch size {
            case 1: total &+= signed ? UInt64(max(0, Int64(p.load(as: Int8.self)))) : UInt64(p.load(as: UInt8.self))
            case 2: total &+= signed ? UInt64(max(0, Int64(p.loadUnaligned(as: Int16.self)))) : UInt64(p.loadUnaligned(as: UInt16.self))
            case 4: total &+= signed ? UInt64(max(0, Int64(p.loadUnaligned(as: Int32.self)))) : UInt64(p.loadUnaligned(as: UInt32.self))
            default: total &+= signed ? UInt64(max(0, p.loadUnaligned(as: Int64.self))) : p.loadUnaligned(as: UInt64.self)
            }
        }
        return total
    }

    /// The value summed over CPUs, as a number (gauges).
    func number(_ value: UnsafeRawBufferPointer) -> Double {
        var total = 0.0
        for cpu in 0..<slots {
            let p = value.baseAddress! + cpu * stride + offset
            switch (size, signed, isDouble) {
            case (4, _, true): total += Double(p.loadUnaligned(as: Float.self))
            case (8, _, true): total += p.loadUnaligned(as: Double.self)
            case (1, true, _): total += Double(p.load(as: Int8.self))
            case (1, false, _): total += Double(p.load(as: UInt8.self))
            case (2, true, _): total += Double(p.loadUnaligned(as: Int16.self))
            case (2, false, _): total += Double(p.loadUnaligned(as: UInt16.self))
            case (4, true, _): total += Double(p.loadUnaligned(as: Int32.self))
            case (4, false, _): total += Double(p.loadUnaligned(as: UInt32.self))
            case (_, true, _): total += Double(p.loadUnaligned(as: Int64.self))
            default: total += Double(p.loadUnaligned(as: UInt64.self))
            }
        }
        return total
    }
}

/// A metric checked against its compiled table: where each label and the value sit.
struct MetricLayout: @unchecked Sendable {
    let config: MetricConfig
    let table: Table
    let labels: [LabelDecoder]
    /// Histograms: the bucket index.
    let bucket: LabelDecoder?
    let value: ValueReader

    static let readableKinds: Set<TableKind> = [.hash, .lruHash, .perCPUHash, .lruPerCPUHash, .array, .perCPUArray]

    /// Checks `metric` against program `program`'s compiled tables.
    init(metric: MetricConfig, bpf: BPF, program: String) throws(ConfigError) {
        config = metric
        let names = bpf.tableNames
        guard names.contains(metric.table) else {
            throw metric.location.error("`\(metric.name)` reads table `\(metric.table)`, which program `\(program)` does not define "
                + "(it defines: \(names.isEmpty ? "no tables" : names.joined(separator: ", ")))")
        }
        let table: Table
        do {
            table = try bpf.table(metric.table)
        } catch {
            throw metric.location.error("`\(metric.name)`: table `\(metric.table)`: \(error)")
        }
        self.table = table
        guard Self.readableKinds.contains(table.kind) else {
            throw metric.location.error("`\(metric.name)` reads table `\(metric.table)`, a \(table.kind.mapTypeName) map; metrics read "
                + "HASH, LRU_HASH, ARRAY and their PERCPU kinds")
        }
        let layout = table.keyType.layout
        let members = KeyMember.members(of: table.keyType)
        var remaining = metric.labels
        var bucketLabel: LabelConfig?
        if metric.kind == .histogram { bucketLabel = remaining.removeLast() }
        // A label names its member with `field:`, or takes the next member in order.
        var used: [String: String] = [:]
        var next = 0
        func member(for label: LabelConfig) throws(ConfigError) -> KeyMember {
            if let field = label.field {
                guard let m = members.first(where: { $0.name == field }) else {
                    throw label.location.error("label `\(label.name)` of `\(metric.name)`: table `\(metric.table)`'s key has no member `\(field)`. "
                        + "The key is:\n\(layout)")
                }
                return m
            }
            while next < members.count && used[members[next].name] != nil { next += 1 }
            guard next < members.count else {
                throw label.location.error("label `\(label.name)` of `\(metric.name)`: table `\(metric.table)`'s key has \(members.count) "
                    + "member\(members.count == 1 ? "" : "s"), fewer than the labels. The key is:\n\(layout)")
            }
            defer { next += 1 }
            return members[next]
        }
        // The bucket first when it names its member, so labels in order skip it.
        var bucketMember: KeyMember?
        if let b = bucketLabel, b.field != nil { bucketMember = try member(for: b); used[bucketMember!.name] = b.name }
        var decoders: [LabelDecoder] = []
        for label in remaining {
            let m = try member(for: label)
            if let other = used[m.name] {
                throw label.location.error("label `\(label.name)` of `\(metric.name)` reads key member `\(m.name)`, which label `\(other)` reads too")
            }
            used[m.name] = label.name
            decoders.append(try LabelDecoder(label: label, member: m, members: members, keyLayout: layout, metric: metric.name))
        }
        if let b = bucketLabel, bucketMember == nil {
            // The bucket is the last member in order.
            guard let m = members.last(where: { used[$0.name] == nil }) else {
                throw b.location.error("histogram `\(metric.name)`: no key member is left for the bucket index `\(b.name)`. The key is:\n\(layout)")
            }
            bucketMember = m
            used[m.name] = b.name
        }
        if let b = bucketLabel, let m = bucketMember {
            guard m.integer != nil else {
                throw b.location.error("histogram `\(metric.name)`: the bucket index `\(b.name)` reads \(m.name.isEmpty ? "the key" : "`\(m.name)`") "
                    + "(\(m.type.cName)), which is not an integer. The key is:\n\(layout)")
            }
            bucket = try LabelDecoder(label: LabelConfig(name: b.name, field: b.field, decoders: [], location: b.location),
                                      member: m, keyLayout: layout, metric: metric.name)
        } else {
            bucket = nil
        }
        labels = decoders
        // Every key member must be labelled, or series would be summed together unseen;
        // a one-entry array (a single total) needs no label.
        let singleEntryArray = table.kind.isArrayLike && table.maxEntries == 1 && metric.labels.isEmpty
        if !singleEntryArray, let missing = members.first(where: { used[$0.name] == nil }) {
            let which = missing.name.isEmpty ? "the key (\(missing.type.cName))" : "key member `\(missing.name)` (\(missing.type.cName))"
            throw metric.location.error("`\(metric.name)`: \(which) of table `\(metric.table)` has no label; give every key member a label. "
                + "The key is:\n\(layout)")
        }
        value = try ValueReader(table: table, metric: metric)
    }
}

/// cgroup v2 ids (the inode numbers of the directories of the cgroup2 hierarchy: /sys/fs/cgroup,
/// or /sys/fs/cgroup/unified on hybrid systems) to paths relative to it, re-read when an id is
/// unknown (at most once every 10 s).
final class CgroupPaths: @unchecked Sendable {
    let root: String
    private var paths: [UInt64: String] = [:]
    private var lastScan: Date = .distantPast

    init(root: String = CgroupPaths.v2Root()) { self.root = root }

    /// Where the cgroup2 hierarchy is mounted (/proc/mounts), /sys/fs/cgroup when none is.
    static func v2Root() -> String {
        let mounts = (try? String(contentsOfFile: "/proc/mounts", encoding: .utf8)) ?? ""
        for line in mounts.split(separator: "\n") {
            let f = line.split(separator: " ")
            if f.count >= 3, f[2] == "cgroup2" { return String(f[1]) }
        }
        return "/sys/fs/cgroup"
    }

    func path(_ id: UInt64) -> String {
        if let p = paths[id] { return p }
        if Date().timeIntervalSince(lastScan) > 10 {
            scan()
            if let p = paths[id] { return p }
        }
        return "unknown_cgroup_\(id)"
    }

    private func scan() {
        lastScan = Date()
        var found: [UInt64: String] = [:]
        var st = stat()
        if stat(root, &st) == 0 { found[UInt64(st.st_ino)] = "/" }
        if let e = FileManager.default.enumerator(atPath: root) {
            while let rel = e.nextObject() as? String {
                let full = root + "/" + rel
                if stat(full, &st) == 0, (st.st_mode & S_IFMT) == S_IFDIR {
                    found[UInt64(st.st_ino)] = "/" + rel
                } else {
                    e.skipDescendants()
                }
            }
        }
        paths = found
    }
}
