/// A C scalar type as libbcc names it in its key/leaf descriptions (clang's builtin type names).
/// Sizes and alignments are those of the BPF target and of x86_64/arm64 Linux (LP64).
public enum CScalar: String, Sendable, Hashable, CaseIterable {
    /// C `_Bool`.
    case bool = "_Bool"
    /// C `char`.
    case char = "char"
    /// C `signed char`.
    case signedChar = "signed char"
    /// C `unsigned char`.
    case unsignedChar = "unsigned char"
    /// C `short`.
    case short = "short"
    /// C `unsigned short`.
    case unsignedShort = "unsigned short"
    /// C `int`.
    case int = "int"
    /// C `unsigned int`.
    case unsignedInt = "unsigned int"
    /// C `long`.
    case long = "long"
    /// C `unsigned long`.
    case unsignedLong = "unsigned long"
    /// C `long long`.
    case longLong = "long long"
    /// C `unsigned long long`.
    case unsignedLongLong = "unsigned long long"
    /// C `__int128`.
    case int128 = "__int128"
    /// C `unsigned __int128`.
    case unsignedInt128 = "unsigned __int128"
    /// C `float`.
    case float = "float"
    /// C `double`.
    case double = "double"
    /// C `long double`.
    case longDouble = "long double"
    /// C `wchar_t`.
    case wchar = "wchar_t"

    /// The C name (clang's spelling), e.g. `unsigned long long`.
    public var cName: String { rawValue }

    /// Its size in bytes (LP64, the BPF target).
    public var size: Int {
        switch self {
        case .bool, .char, .signedChar, .unsignedChar: return 1
        case .short, .unsignedShort: return 2
        case .int, .unsignedInt, .float, .wchar: return 4
        case .long, .unsignedLong, .longLong, .unsignedLongLong, .double: return 8
        case .int128, .unsignedInt128, .longDouble: return 16
        }
    }

    /// Its alignment in bytes: its size, as on LP64.
    public var alignment: Int { size }

    /// Integer types that are signed (`char` is signed on x86_64, as clang's BPF target).
    public var isSigned: Bool {
        switch self {
        case .char, .signedChar, .short, .int, .long, .longLong, .int128, .wchar: return true
        default: return false
        }
    }

    /// True for `float`, `double` and `long double`.
    public var isFloatingPoint: Bool { self == .float || self == .double || self == .longDouble }

    /// The ctypes class Python BCC maps this type to, as its `repr` spells it on 64-bit Linux
    /// (where `c_ulonglong` is `c_ulong`). Python: `BPF.str2ctype`.
    public var ctypesName: String {
        switch self {
        case .bool: return "c_bool"
        case .char: return "c_char"
        case .signedChar: return "c_byte"
        case .unsignedChar: return "c_ubyte"
        case .short: return "c_short"
        case .unsignedShort: return "c_ushort"
        case .int: return "c_int"
        case .unsignedInt: return "c_uint"
        case .long, .longLong: return "c_long"
        case .unsignedLong, .unsignedLongLong: return "c_ulong"
        case .int128: return "c_long_Array_2"
        case .unsignedInt128: return "c_ulong_Array_2"
        case .float: return "c_float"
        case .double: return "c_double"
        case .longDouble: return "c_longdouble"
        case .wchar: return "c_wchar"
        }
    }

    /// A scalar from a C spelling: clang's names, their long forms (`long int`, `unsigned`),
    /// the kernel's `u8`…`s64`/`__u32`/`u128`, `<stdint.h>`'s `uint32_t`, `bool`, and the
    /// kernel and libc typedefs libbcc leaves unresolved in event field lists (`size_t`,
    /// `pid_t`, `uid_t`, `gid_t`, `dev_t`, `time_t`, `loff_t`, `sector_t`...), with the BPF
    /// target's sizes (`dev_t` is the kernel's 32-bit one). `s8` is `char`, as Python's event
    /// decoding makes it (`c_char`, so its value prints as bytes).
    /// Python: `BPF.str2ctype` and `bcc.table._get_event_class`'s `ct_mapping`.
    public init?(cName raw: String) {
        let name = raw.split(separator: " ", omittingEmptySubsequences: true).joined(separator: " ")
        if let s = CScalar(rawValue: name) { self = s; return }
        guard let s = Self.aliases[name] else { return nil }
        self = s
    }

    /// Other spellings of the scalars, by the name a C declaration or libbcc uses.
    static let aliases: [String: CScalar] = [
        "bool": .bool, "u8": .unsignedChar, "__u8": .unsignedChar, "uint8_t": .unsignedChar, "u_int8_t": .unsignedChar,
        "s8": .char, "__s8": .signedChar, "int8_t": .signedChar,
        "u16": .unsignedShort, "__u16": .unsignedShort, "uint16_t": .unsignedShort, "__be16": .unsignedShort,
        "__le16": .unsignedShort, "s16": .short, "__s16": .short, "int16_t": .short,
        "short int": .short, "signed short": .short, "unsigned short int": .unsignedShort,
        "u32": .unsignedInt, "__u32": .unsignedInt, "uint32_t": .unsignedInt, "__be32": .unsignedInt,
        "__le32": .unsignedInt, "unsigned": .unsignedInt, "s32": .int, "__s32": .int, "int32_t": .int,
        "signed": .int, "signed int": .int, "pid_t": .int,
        "u64": .unsignedLongLong, "__u64": .unsignedLongLong, "uint64_t": .unsignedLong, "__be64": .unsignedLongLong,
        "__le64": .unsignedLongLong, "s64": .longLong, "__s64": .longLong, "int64_t": .long,
        "long int": .long, "signed long": .long, "long signed int": .long, "unsigned long int": .unsignedLong,
        "long unsigned int": .unsignedLong, "long long int": .longLong, "signed long long": .longLong,
        "unsigned long long int": .unsignedLongLong, "long long unsigned int": .unsignedLongLong,
        "size_t": .unsignedLong, "ssize_t": .long, "uintptr_t": .unsignedLong,
        "__int128_t": .int128, "__uint128_t": .unsignedInt128, "unsigned char": .unsignedChar,
        "u_int16_t": .unsignedShort, "u_int32_t": .unsignedInt, "u_int64_t": .unsignedLongLong,
        "u128": .unsignedInt128, "__u128": .unsignedInt128, "s128": .int128, "__s128": .int128,
        "uid_t": .unsignedInt, "gid_t": .unsignedInt, "dev_t": .unsignedInt, "key_t": .int,
        "__kernel_pid_t": .int, "__kernel_size_t": .unsignedLong, "time_t": .long, "off_t": .long,
        "loff_t": .longLong, "ktime_t": .longLong, "sector_t": .unsignedLongLong,
    ]
}

/// A C type as libbcc describes a table's key or leaf (`bpf_table_key_desc`/`_leaf_desc`), or
/// an event struct: scalars, arrays, structs (with libbcc's `__pad_N` padding fields, or laid
/// out with C's alignment rules when they hold bitfields), unions, enums. Each field knows its
/// byte offset (and bit position for bitfields), so a buffer of `size` bytes decodes into a
/// ``DynamicValue``.
///
/// ```swift
/// let t = try TypeDescription(json: #"["key_t", [["pid","unsigned int"], ["comm","char",[16]]], "struct"]"#)
/// let v = t.decode(bytes)            // v["comm"]?.string, v.decode(Key.self)
/// ```
/// Python: `BPF._decode_table_type` (which builds ctypes classes from the same JSON).
public struct TypeDescription: Sendable, Hashable, CustomStringConvertible {
    /// What a type is: a scalar, an array, a struct, a union or an enum.
    public indirect enum Kind: Sendable, Hashable {
        /// A C scalar.
        case scalar(CScalar)
        /// `count` elements of `element`.
        case array(element: TypeDescription, count: Int)
        /// `packed`: libbcc laid the struct out itself (`"struct_packed"`: its padding appears
        /// as `__pad_N` fields), or the struct is `__attribute__((packed))`.
        case structure(name: String, fields: [Field], packed: Bool)
        /// A union: every field at offset 0.
        case union(name: String, fields: [Field])
        /// An enum (newer libbcc's `["name", ["A", "B"], "enum"]`); stored as a 4-byte int.
        case enumeration(name: String, cases: [String])
    }

    /// A struct or union member at its place in the record.
    public struct Field: Sendable, Hashable {
        /// The member name; empty for an anonymous struct or union, whose members are reached
        /// through the enclosing record (as in C and Python's `_anonymous_`).
        public let name: String
        /// The type of the member.
        public let type: TypeDescription
        /// Byte offset from the start of the record; for a bitfield, the offset of the storage
        /// unit (of `type.size` bytes) that holds it.
        public let offset: Int
        /// For a bitfield: its first bit within the storage unit (0 is the least significant bit).
        public let bitOffset: Int
        /// The width in bits of a bitfield; nil for other members.
        public let bitWidth: Int?

        /// libbcc's padding members, `__pad_<index>` and `__pad_end`.
        public var isPadding: Bool { name.hasPrefix("__pad_") }
        /// True for an anonymous struct or union member (no name).
        public var isAnonymous: Bool { name.isEmpty }
    }

    /// A member to lay out with ``structure(name:members:packed:)`` or ``union(name:members:)``.
    public struct Member: Sendable, Hashable {
        /// The member name (empty for an anonymous struct or union).
        public let name: String
        /// The type of the member.
        public let type: TypeDescription
        /// The bitfield width in bits, or nil for an ordinary member.
        public let bitWidth: Int?
        /// A member named `name` of `type`, a bitfield of `bitWidth` bits when given.
        public init(_ name: String, _ type: TypeDescription, bitWidth: Int? = nil) {
            self.name = name
            self.type = type
            self.bitWidth = bitWidth
        }
    }

    /// What the type is, with its members or element.
    public let kind: Kind
    /// Size in bytes, trailing padding included (C's `sizeof`).
    public let size: Int
    /// Alignment in bytes (C's `_Alignof`); 1 for packed structs.
    public let alignment: Int

    init(kind: Kind, size: Int, alignment: Int) {
        self.kind = kind
        self.size = size
        self.alignment = alignment
    }

    // MARK: Building

    /// The C scalar `s`, with its size and alignment.
    public static func scalar(_ s: CScalar) -> TypeDescription {
        TypeDescription(kind: .scalar(s), size: s.size, alignment: s.alignment)
    }

    /// An array of `count` elements of `element` (C's `element[count]`).
    public static func array(of element: TypeDescription, count: Int) -> TypeDescription {
        TypeDescription(kind: .array(element: element, count: count), size: element.size * max(count, 0),
                        alignment: element.alignment)
    }

    /// A C enum named `name` with `cases`, stored as a 4-byte int.
    public static func enumeration(name: String, cases: [String]) -> TypeDescription {
        TypeDescription(kind: .enumeration(name: name, cases: cases), size: 4, alignment: 4)
    }

    /// A struct laid out as C does (System V rules, bitfields included); with `packed`,
    /// members follow each other with no padding (`__attribute__((packed))`, or libbcc's
    /// `"struct_packed"` where padding is explicit `__pad_N` members).
    public static func structure(name: String, members: [Member], packed: Bool = false) -> TypeDescription {
        var fields: [Field] = []
        var bitPos = 0
        var maxAlign = 1
        for m in members {
            let t = m.type
            if let width = m.bitWidth {
                let unitBits = t.size * 8
                if packed {
                    let unitStart = (bitPos / 8)
                    fields.append(Field(name: m.name, type: t, offset: unitStart, bitOffset: bitPos - unitStart * 8, bitWidth: width))
                    bitPos += width
                    continue
                }
                guard unitBits > 0 else { continue }
                if width == 0 {
                    bitPos = roundUp(bitPos, unitBits)
                    continue
                }
                if bitPos / unitBits != (bitPos + width - 1) / unitBits { bitPos = roundUp(bitPos, unitBits) }
                let unitStart = (bitPos / unitBits) * unitBits
                fields.append(Field(name: m.name, type: t, offset: unitStart / 8, bitOffset: bitPos - unitStart, bitWidth: width))
                bitPos += width
                if !m.name.isEmpty { maxAlign = max(maxAlign, t.alignment) }
            } else {
                if !packed { bitPos = roundUp(bitPos, t.alignment * 8) }
                bitPos = roundUp(bitPos, 8)
                fields.append(Field(name: m.name, type: t, offset: bitPos / 8, bitOffset: 0, bitWidth: nil))
                bitPos += t.size * 8
                maxAlign = max(maxAlign, t.alignment)
            }
        }
        let bytes = roundUp(bitPos, 8) / 8
        if packed {
            // libbcc marks every padded struct "struct_packed"; such a struct keeps its natural
            // alignment when each member sits at a multiple of its own (true for libbcc's
            // explicit padding, false for a real __attribute__((packed)) layout).
            let naturallyAligned = fields.allSatisfy { $0.bitWidth != nil || $0.offset % $0.type.alignment == 0 }
                && bytes % maxAlign == 0
            return TypeDescription(kind: .structure(name: name, fields: fields, packed: true), size: bytes,
                                   alignment: naturallyAligned ? maxAlign : 1)
        }
        return TypeDescription(kind: .structure(name: name, fields: fields, packed: false),
                               size: roundUp(bytes, maxAlign), alignment: maxAlign)
    }

    /// A union: every member at offset 0; size is the largest member rounded to the alignment.
    public static func union(name: String, members: [Member]) -> TypeDescription {
        var size = 0, align = 1
        let fields = members.map { m -> Field in
            size = max(size, m.bitWidth.map { ($0 + 7) / 8 } ?? m.type.size)
            align = max(align, m.type.alignment)
            return Field(name: m.name, type: m.type, offset: 0, bitOffset: 0, bitWidth: m.bitWidth)
        }
        return TypeDescription(kind: .union(name: name, fields: fields), size: roundUp(size, align), alignment: align)
    }

    // MARK: Parsing

    /// Parses libbcc's JSON description of a key or leaf type, e.g.
    /// `["key_t", [["pid","unsigned int"], ["__pad_1","char",[4]], ["ts","unsigned long long"]], "struct_packed"]`
    /// or `"unsigned long long"`.
    /// - Throws: `BPFError.invalidTypeDescription` when the text is not such a description.
    /// Python: `BPF._decode_table_type(json.loads(desc))`.
    public init(json text: String) throws {
        let parsed: MiniJSON
        do {
            parsed = try MiniJSON.parse(text)
        } catch {
            throw BPFError.invalidTypeDescription(description: text,
                                                  detail: "not JSON: \(error.message) at offset \(error.offset)")
        }
        do {
            self = try Self.decode(parsed)
        } catch {
            throw BPFError.invalidTypeDescription(description: text, detail: error.message)
        }
    }

    /// Parses a C type as spelled in a declaration, the way libbcc reports perf event fields
    /// (`bpf_perf_event_field`: `"char[16]"`, `"u32"`, `"unsigned long long"`, `"enum state"`,
    /// `"struct task_struct *"`): scalars and their aliases, arrays (also `int [4][2]`), enums
    /// (4-byte ints) and pointers (8-byte unsigned).
    /// - Throws: `BPFError.invalidTypeDescription` for a type it cannot size (e.g. a struct by name).
    /// Python: `_get_event_class`'s `ct_mapping`.
    public init(cType text: String) throws {
        var base = text.trimmingSpaces
        var dims: [Int] = []
        while base.hasSuffix("]"), let open = base.lastIndex(of: "[") {
            let inner = base[base.index(after: open)..<base.index(before: base.endIndex)].trimmingSpaces
            guard let n = Int(inner), n >= 0 else {
                throw BPFError.invalidTypeDescription(description: text, detail: "array size \(inner) is not a number")
            }
            dims.insert(n, at: 0)
            base = String(base[..<open]).trimmingSpaces
        }
        var t: TypeDescription
        if base.hasSuffix("*") {
            t = .scalar(.unsignedLongLong)
        } else if base.hasPrefix("enum ") || base == "enum" {
            t = .scalar(.int)
        } else if let s = CScalar(cName: base.replacingConstVolatile) {
            t = .scalar(s)
        } else {
            throw BPFError.invalidTypeDescription(
                description: text, detail: "unknown C type \(base); describe it with TypeDescription.structure(name:members:)")
        }
        for n in dims.reversed() { t = .array(of: t, count: n) }
        self = t
    }

    struct DescriptionError: Error { let message: String }

    static func decode(_ json: MiniJSON) throws(DescriptionError) -> TypeDescription {
        switch json {
        case let .string(name):
            guard let s = CScalar(cName: name) else {
                throw DescriptionError(message: "unknown scalar type \"\(name)\"")
            }
            return .scalar(s)
        case let .array(items):
            guard items.count >= 2, case let .string(name) = items[0], case let .array(members) = items[1] else {
                throw DescriptionError(message: "a record must be [name, [fields...], kind]")
            }
            var kind = "struct"
            if items.count >= 3 {
                guard case let .string(k) = items[2] else {
                    throw DescriptionError(message: "record \(name): kind must be a string")
                }
                kind = k
            }
            if kind == "enum" {
                let cases = members.compactMap { if case let .string(s) = $0 { return s } else { return nil } }
                return .enumeration(name: name, cases: cases)
            }
            let parsed = try members.map { (m) throws(DescriptionError) -> Member in try decodeMember(m, in: name) }
            switch kind {
            case "struct": return .structure(name: name, members: parsed, packed: false)
            case "struct_packed": return .structure(name: name, members: parsed, packed: true)
            case "union": return .union(name: name, members: parsed)
            default: throw DescriptionError(message: "record \(name): unknown kind \"\(kind)\"")
            }
        default:
            throw DescriptionError(message: "expected a type name or a record")
        }
    }

    static func decodeMember(_ json: MiniJSON, in record: String) throws(DescriptionError) -> Member {
        guard case let .array(items) = json, items.count >= 2, case let .string(name) = items[0] else {
            throw DescriptionError(message: "record \(record): a field must be [name, type, ...]")
        }
        // An anonymous struct/union member is written as a whole record: ["", [fields], "struct"].
        if items.count == 3, case .array = items[1], case .string = items[2] {
            return Member(name, try decode(json))
        }
        let type = try decode(items[1])
        guard items.count >= 3 else { return Member(name, type) }
        switch items[2] {
        case let .array(dims):
            var t = type
            for d in dims.reversed() {
                guard case let .number(n) = d, n >= 0 else {
                    throw DescriptionError(message: "field \(record).\(name): bad array size")
                }
                t = .array(of: t, count: n)
            }
            return Member(name, t)
        case let .number(width):
            return Member(name, type, bitWidth: width)
        default:
            throw DescriptionError(message: "field \(record).\(name): third element must be [count] or a bit width")
        }
    }

    /// The description for a table's key or leaf, fixed up to libbcc's `size`: libbcc
    /// describes a typedef'd array (`typedef char name_t[16]`) by its element type alone, so
    /// a scalar smaller than the declared size becomes an array of it.
    static func forTable(json: String, size: Int) throws -> TypeDescription {
        let t = try TypeDescription(json: json)
        if t.size != size, case .scalar = t.kind, t.size > 0, size % t.size == 0 {
            return .array(of: t, count: size / t.size)
        }
        return t
    }

    // MARK: Reading the model

    /// Members of a struct or union, in order (padding and anonymous members included).
    public var fields: [Field] {
        switch kind {
        case let .structure(_, fields, _), let .union(_, fields): return fields
        default: return []
        }
    }

    /// The struct, union or enum name; the C name for scalars; `""` for anonymous records.
    public var name: String {
        switch kind {
        case let .scalar(s): return s.cName
        case let .array(e, n): return "\(e.name)[\(n)]"
        case let .structure(name, _, _), let .union(name, _), let .enumeration(name, _): return name
        }
    }

    /// True for `char`/`signed char`/`unsigned char` arrays of which Python makes bytes
    /// (it does so for `char`; SwiftBCC also reads the others as strings on request).
    var isCharArray: Bool {
        if case let .array(e, _) = kind, case .scalar(.char) = e.kind { return true }
        return false
    }

    /// A one-line C declaration: `struct key_t { unsigned int pid; char comm[16]; }`.
    public var description: String { declaration(named: nil) }

    func declaration(named field: String?) -> String {
        let suffix = field.map { $0.isEmpty ? "" : " " + $0 } ?? ""
        switch kind {
        case let .scalar(s): return s.cName + suffix
        case let .array(e, n):
            var dims = "[\(n)]"
            var inner = e
            while case let .array(e2, n2) = inner.kind { dims += "[\(n2)]"; inner = e2 }
            return inner.declaration(named: nil) + suffix + dims
        case let .enumeration(name, cases):
            return "enum \(name) { \(cases.joined(separator: ", ")) }" + suffix
        case let .structure(name, fields, _):
            return "struct " + (name.isEmpty ? "" : name + " ") + "{ " + Self.memberList(fields) + "}"
                + (isPackedLayout ? " __attribute__((packed))" : "") + suffix
        case let .union(name, fields):
            return "union " + (name.isEmpty ? "" : name + " ") + "{ " + Self.memberList(fields) + "}" + suffix
        }
    }

    /// True when only `__attribute__((packed))` gives this layout: a member sits off its
    /// alignment (or the size is no multiple of it). libbcc marks every struct it pads itself
    /// `"struct_packed"`, so that mark alone does not say the C struct was declared packed; a
    /// struct of `char`s alone is never shown as packed.
    public var isPackedLayout: Bool {
        guard case let .structure(_, fields, packed) = kind, packed, alignment == 1 else { return false }
        return fields.contains { $0.type.alignment > 1 }
    }

    /// The type's C name without its members: `unsigned int`, `char[16]`, `struct key_t`,
    /// `union u`, `enum e` (`struct (anonymous)` for an anonymous record), for messages.
    public var cName: String {
        switch kind {
        case let .scalar(s): return s.cName
        case .array:
            var dims = ""
            var inner = self
            while case let .array(e, n) = inner.kind { dims += "[\(n)]"; inner = e }
            return inner.cName + dims
        case let .structure(name, _, _): return "struct " + (name.isEmpty ? "(anonymous)" : name)
        case let .union(name, _): return "union " + (name.isEmpty ? "(anonymous)" : name)
        case let .enumeration(name, _): return "enum " + (name.isEmpty ? "(anonymous)" : name)
        }
    }

    static func memberList(_ fields: [Field]) -> String {
        fields.map { f in
            f.type.declaration(named: f.name) + (f.bitWidth.map { " : \($0)" } ?? "") + "; "
        }.joined()
    }

    /// The layout with offsets and sizes, one member per line (padding included), as
    /// size-mismatch errors show it.
    public var layout: String {
        var lines = ["\(declaration(named: nil).prefix(while: { $0 != "{" }).trimmingSpaces) (\(size) bytes, align \(alignment))"]
        func walk(_ t: TypeDescription, base: Int, indent: String) {
            for f in t.fields {
                let at = base + f.offset
                let pos = f.bitWidth.map { "\(at) bits \(f.bitOffset)..<\(f.bitOffset + $0)" } ?? "\(at)"
                switch f.type.kind {
                case .structure, .union:
                    let head = f.type.declaration(named: nil).prefix(while: { $0 != "{" }).trimmingSpaces
                    lines.append("\(indent)offset \(pos): \(head) \(f.name.isEmpty ? "(anonymous)" : f.name) (\(f.type.size) bytes)")
                    walk(f.type, base: at, indent: indent + "  ")
                default:
                    lines.append("\(indent)offset \(pos): \(f.type.declaration(named: f.name)) (\(f.type.size) bytes)")
                }
            }
        }
        walk(self, base: 0, indent: "  ")
        return lines.joined(separator: "\n")
    }

    // MARK: Decoding

    /// Decodes `bytes` (at least `size` of them; a shorter buffer is zero-filled, as a kernel
    /// event may be truncated) into a dynamic value. Python: `ct.cast(data, POINTER(Leaf)).contents`.
    public func decode(_ bytes: some Collection<UInt8>) -> DynamicValue {
        var b = Array(bytes.prefix(size))
        if b.count < size { b += [UInt8](repeating: 0, count: size - b.count) }
        return DynamicValue(type: self, bytes: b, boxed: true)
    }

    /// Decodes `count` bytes at `pointer` (e.g. a perf/ring buffer event).
    public func decode(_ pointer: UnsafeRawPointer, count: Int) -> DynamicValue {
        decode(UnsafeRawBufferPointer(start: pointer, count: max(0, count)))
    }
}

func roundUp(_ x: Int, _ to: Int) -> Int { to <= 1 ? x : (x + to - 1) / to * to }

extension StringProtocol {
    var trimmingSpaces: String {
        var s = Substring(self)
        while let f = s.first, f == " " || f == "\t" || f == "\n" { s = s.dropFirst() }
        while let l = s.last, l == " " || l == "\t" || l == "\n" { s = s.dropLast() }
        return String(s)
    }

    var replacingConstVolatile: String {
        split(separator: " ").filter { $0 != "const" && $0 != "volatile" }.joined(separator: " ")
    }
}
