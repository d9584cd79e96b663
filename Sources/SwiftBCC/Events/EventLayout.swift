internal import CBCC

/// The C layout of the struct a program sends through a perf or ring buffer, from libbcc's
/// perf event field list (`"pid#u32"`, `"comm#char[16]"`, ...), laid out with C's alignment
/// rules as Python's ctypes `Structure` does.
///
/// libbcc records the list when the program calls `perf_submit` / `ringbuf_output` /
/// `ringbuf_reserve` with a struct; it is empty otherwise.
/// Python: `bcc.table._get_event_class`; libbcc: `bpf_perf_event_fields`, `bpf_perf_event_field`.
public struct EventLayout: Sendable, Equatable, CustomStringConvertible {
    /// A scalar C type the layout knows.
    public enum Scalar: Sendable, Equatable {
        /// `char` / `s8`: a byte; arrays of it are byte strings (Python's `c_char`).
        case char
        case int(bytes: Int, signed: Bool)
        case bool
        case float
        case double
        /// Any pointer (`void *`, `u8 *`): its address.
        case pointer
        /// `__int128` / `unsigned __int128`.
        case int128(signed: Bool)

        public var size: Int {
            switch self {
            case .char, .bool: return 1
            case let .int(bytes, _): return bytes
            case .float: return 4
            case .double, .pointer: return 8
            case .int128: return 16
            }
        }

        /// C's alignment on x86_64 and arm64 (`__int128`: 16).
        public var alignment: Int { size }
    }

    /// One field: name, C type as libbcc wrote it, offset, scalar type and array dimensions.
    public struct Field: Sendable, Equatable {
        public let name: String
        public let cType: String
        public let offset: Int
        public let scalar: Scalar
        /// Array dimensions, outermost first (`char[2][16]` → `[2, 16]`); empty for a scalar.
        public let dimensions: [Int]

        /// Bytes the field takes.
        public var size: Int { dimensions.reduce(scalar.size, *) }
    }

    public let fields: [Field]
    /// `sizeof` the struct, trailing padding included.
    public let size: Int
    public let alignment: Int

    public var description: String {
        "struct { " + fields.map { "\($0.cType) \($0.name); /* offset \($0.offset), \($0.size) bytes */" }
            .joined(separator: " ") + " } (\(size) bytes)"
    }

    /// Lays out `fields` given as libbcc's `name#type` strings.
    /// - Throws: `.unsupportedEventField` for a type it cannot size (a nested struct or an
    ///   unknown typedef); decode such events with a Swift struct and `loadEvent(as:)` instead.
    public init(fieldList: [String], table: String = "") throws {
        var fields: [Field] = []
        var offset = 0
        var alignment = 1
        for entry in fieldList {
            guard let hash = entry.firstIndex(of: "#") else {
                throw BPFError.unsupportedEventField(table: table, field: entry, type: "")
            }
            let name = String(entry[..<hash])
            let cType = String(entry[entry.index(after: hash)...])
            guard let (scalar, dims) = Self.parse(cType) else {
                throw BPFError.unsupportedEventField(table: table, field: name, type: cType)
            }
            let a = scalar.alignment
            offset = (offset + a - 1) / a * a
            let field = Field(name: name, cType: cType, offset: offset, scalar: scalar, dimensions: dims)
            fields.append(field)
            offset += field.size
            alignment = max(alignment, a)
        }
        self.fields = fields
        self.alignment = alignment
        self.size = (offset + alignment - 1) / alignment * alignment
    }

    /// The field named `name`.
    public func field(_ name: String) -> Field? { fields.first { $0.name == name } }

    /// Splits `int [3]`, `char[2][16]` into the element type and dimensions.
    static func parse(_ cType: String) -> (Scalar, [Int])? {
        var base = Substring(cType)
        var dims: [Int] = []
        if let open = base.firstIndex(of: "[") {
            var rest = base[open...]
            base = base[..<open]
            while let o = rest.firstIndex(of: "["), let c = rest.firstIndex(of: "]"), o < c {
                guard let n = Int(rest[rest.index(after: o)..<c]), n >= 0 else { return nil }
                dims.append(n)
                rest = rest[rest.index(after: c)...]
            }
            guard rest.allSatisfy({ $0 == " " }) else { return nil }
        }
        let t = base.trimmingCharacters(in: " ")
        guard let scalar = scalar(t) else { return nil }
        return (scalar, dims)
    }

    static func scalar(_ t: String) -> Scalar? {
        if t.hasSuffix("*") { return .pointer }
        if t.hasPrefix("enum ") || t == "enum" { return .int(bytes: 4, signed: true) }
        var t = t
        for q in ["const ", "volatile "] where t.hasPrefix(q) { t = String(t.dropFirst(q.count)) }
        switch t {
        case "char", "s8", "__s8", "signed char", "int8_t": return .char
        case "unsigned char", "u8", "__u8", "uint8_t", "u_int8_t": return .int(bytes: 1, signed: false)
        case "short", "short int", "s16", "__s16", "int16_t", "signed short": return .int(bytes: 2, signed: true)
        case "unsigned short", "unsigned short int", "u16", "__u16", "uint16_t", "u_int16_t", "__be16", "__le16":
            return .int(bytes: 2, signed: false)
        case "int", "signed int", "signed", "s32", "__s32", "int32_t", "pid_t", "key_t":
            return .int(bytes: 4, signed: true)
        case "unsigned int", "unsigned", "u32", "__u32", "uint32_t", "u_int32_t", "uid_t", "gid_t", "__be32", "__le32", "dev_t":
            return .int(bytes: 4, signed: false)
        case "long", "long int", "long long", "long long int", "s64", "__s64", "int64_t", "ssize_t", "off_t", "loff_t",
             "time_t", "ktime_t":
            return .int(bytes: 8, signed: true)
        case "unsigned long", "unsigned long int", "unsigned long long", "unsigned long long int", "u64", "__u64",
             "uint64_t", "u_int64_t", "size_t", "__be64", "__le64", "uintptr_t", "sector_t":
            return .int(bytes: 8, signed: false)
        case "bool", "_Bool": return .bool
        case "float": return .float
        case "double": return .double
        case "__int128", "__int128_t", "s128": return .int128(signed: true)
        case "unsigned __int128", "__uint128_t", "u128": return .int128(signed: false)
        default: return nil
        }
    }
}

extension Table {
    /// The layout of the struct this perf or ring buffer table carries, from libbcc's perf event
    /// field list; nil when the program submits no struct through it.
    /// Python: `b["events"]._event_class` (`_get_event_class`); libbcc: `bpf_perf_event_fields`.
    public func eventLayout() throws -> EventLayout? {
        let list = try eventFieldList()
        if list.isEmpty { return nil }
        return try EventLayout(fieldList: list, table: name)
    }

    /// libbcc's `name#type` strings for this table's event struct.
    public func eventFieldList() throws -> [String] {
        let bpf = try liveBPF()
        return try bpf.lock.withLock {
            let m = try bpf.module()
            let n = bpf_perf_event_fields(m, name)
            return (0..<n).compactMap { stringOrNil(bpf_perf_event_field(m, name, $0)) }
        }
    }

    /// Checks a Swift type against the C struct the program submits, when libbcc knows it.
    func checkEventType<T>(_ type: T.Type) throws {
        guard let layout = try eventLayout() else { return }
        let size = MemoryLayout<T>.size, stride = MemoryLayout<T>.stride
        guard size == layout.size || stride == layout.size else {
            throw BPFError.sizeMismatch(table: name, what: "event type \(T.self)", expected: layout.size, got: stride,
                                        layout: layout.description)
        }
    }
}
