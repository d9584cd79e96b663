extension TypeDescription {
    /// Encodes a Swift value as this C type: integers (range-checked against the C type),
    /// `Bool`, `Float`/`Double`, `String` into a `char` array (NUL-terminated when it fits),
    /// Swift arrays into C arrays, `Encodable` structs into C structs by member name (members
    /// the Swift type lacks stay zero), and a ``DynamicValue`` of the same size as is.
    ///
    /// ```swift
    /// struct Key: Encodable { let pid: UInt32; let comm: String }
    /// try t.update(Key(pid: 1, comm: "bash"), 5)   // tables call this for you
    /// let k = try t.keyType.encode(Key(pid: 1, comm: "bash"))
    /// ```
    /// - Throws: `BPFError.encodingFailed` naming the member path and the problem.
    /// Python: building `t.Key(...)` / `t.Leaf(...)` ctypes values.
    public func encode<T: Encodable>(_ value: T) throws -> DynamicValue {
        if let v = value as? DynamicValue {
            guard v.bytes.count == size else {
                throw BPFError.encodingFailed(type: cName, detail: "a \(v.bytes.count)-byte \(v.type.cName) was given for "
                    + "\(size) bytes; pass \(DynamicValueEncoder.accepted(self, field: nil))")
            }
            return DynamicValue(type: self, bytes: v.bytes, boxed: true)
        }
        let buffer = EncodeBuffer(count: size)
        do {
            try DynamicValueEncoder(buffer: buffer, type: self, offset: 0, field: nil, codingPath: []).write(value)
        } catch let error as EncodingError {
            throw BPFError.encodingFailed(type: cName, detail: Self.explain(error))
        }
        return DynamicValue(type: self, bytes: buffer.bytes, boxed: true)
    }

    /// The message of an encoder error: the member it concerns and that member's C type are
    /// in it once (`member comm (char[16]): ...`), what to pass instead at its end.
    static func explain(_ error: EncodingError) -> String {
        switch error {
        case let .invalidValue(_, ctx): return ctx.debugDescription
        @unknown default: return "\(error)"
        }
    }
}

extension DynamicValue: Encodable {
    /// Encodes the raw bytes (used when a `DynamicValue` is a member of an `Encodable` type
    /// given to a table); other encoders get the bytes as an array of numbers.
    public func encode(to encoder: any Encoder) throws {
        if let e = encoder as? DynamicValueEncoder {
            try e.writeRaw(self)
            return
        }
        var c = encoder.unkeyedContainer()
        try c.encode(contentsOf: bytes)
    }
}

final class EncodeBuffer {
    var bytes: [UInt8]
    init(count: Int) { bytes = [UInt8](repeating: 0, count: count) }
}

struct DynamicValueEncoder: Encoder {
    let buffer: EncodeBuffer
    let type: TypeDescription
    let offset: Int
    /// The struct member being written, for bitfields.
    let field: TypeDescription.Field?
    let codingPath: [any CodingKey]
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    /// An error for this member: `member <path> (<C type>): <problem>; pass <what fits>`
    /// (at the top level the C type is in the error already: `<problem>; pass ...`).
    func invalid(_ value: Any, _ problem: String, hint: String? = nil) -> EncodingError {
        let text = Self.memberPrefix(codingPath, type: type, field: field) + problem
            + "; pass " + (hint ?? Self.accepted(type, field: field))
        return .invalidValue(value, .init(codingPath: codingPath, debugDescription: text))
    }

    /// `member in.port (unsigned short): `, or nothing for the value itself.
    static func memberPrefix(_ path: [any CodingKey], type: TypeDescription?, field: TypeDescription.Field?) -> String {
        guard !path.isEmpty else { return "" }
        let joined: String = path.map { key -> String in key.intValue.map { "[\($0)]" } ?? "." + key.stringValue }.joined()
        let name = joined.hasPrefix(".") ? String(joined.dropFirst()) : joined
        guard let type else { return "member \(name): " }
        return "member \(name) (\(type.cName)\(field?.bitWidth.map { " : \($0)" } ?? "")): "
    }

    /// What a Swift value for `type` can be, for the end of a message.
    static func accepted(_ type: TypeDescription, field: TypeDescription.Field?) -> String {
        switch type.kind {
        case let .scalar(s) where s.isFloatingPoint:
            return "a floating-point number"
        case let .scalar(s):
            if s.size == 16 { return "an integer, or its two 64-bit halves [low, high]" }
            let (lo, hi) = range(s, bits: field?.bitWidth ?? s.size * 8)
            return "an integer in \(lo)...\(hi)" + (s.size == 1 && s != .bool ? " or a one-byte String" : "")
        case .enumeration:
            return "an integer (the enum's value)"
        case let .array(e, n) where e.size == 1:
            return "a String or [UInt8] of at most \(n) bytes (TruncatingString to cut a longer one as C would)"
        case let .array(e, n):
            return "an array of at most \(n) \(e.cName) values"
        case .structure, .union:
            let names = type.fields.filter { !$0.isPadding }.map { $0.name.isEmpty ? "(anonymous)" : $0.name }
            return "an Encodable struct with members \(names.joined(separator: ", ")), or a \(type.size)-byte DynamicValue"
        }
    }

    /// The values a C integer type (or a bitfield of `bits`) holds, as text.
    static func range(_ s: CScalar, bits: Int) -> (String, String) {
        if s.isSigned {
            if bits >= 64 { return (String(Int64.min), String(Int64.max)) }
            return (String(-(Int64(1) << Int64(bits - 1))), String((Int64(1) << Int64(bits - 1)) - 1))
        }
        return ("0", bits >= 64 ? String(UInt64.max) : String((UInt64(1) << UInt64(bits)) - 1))
    }

    func writeRaw(_ v: DynamicValue) throws {
        guard v.bytes.count == type.size else {
            throw invalid(v, "a \(v.bytes.count)-byte \(v.type.cName) was given for \(type.size) bytes")
        }
        buffer.bytes.replaceSubrange(offset..<offset + type.size, with: v.bytes)
    }

    /// Writes any value here: a DynamicValue's bytes as they are, `[UInt8]`/`[CChar]` into a
    /// `char[N]` as its bytes (zero-padded), everything else through its `Encodable` conformance.
    func write<T: Encodable>(_ value: T) throws {
        if let v = value as? DynamicValue { return try writeRaw(v) }
        if takesChars {
            if let b = value as? [UInt8] { return try writeChars(b, truncating: false, shown: "[UInt8] of \(b.count)") }
            if let b = value as? [CChar] {
                return try writeChars(b.map { UInt8(bitPattern: $0) }, truncating: false, shown: "[CChar] of \(b.count)")
            }
        }
        try value.encode(to: self)
    }

    /// A `char[N]` (any 1-byte element array), or a struct whose only member is one.
    var takesChars: Bool {
        if case let .array(e, _) = type.kind, e.size == 1 { return true }
        return soleArrayMember?.takesChars ?? false
    }

    /// The one array member of a struct that has no other (padding aside): where a String or
    /// an array given for the whole struct goes, as Python's `Leaf(b"text")` fills the first field.
    var soleArrayMember: DynamicValueEncoder? {
        guard case .structure = type.kind else { return nil }
        let members = type.fields.filter { !$0.isPadding }
        guard members.count == 1, let f = members.first, case .array = f.type.kind, !f.name.isEmpty else { return nil }
        return DynamicValueEncoder(buffer: buffer, type: f.type, offset: offset + f.offset, field: f,
                                   codingPath: codingPath + [DynamicCodingKey(stringValue: f.name)])
    }

    /// Writes `bytes` into a `char[N]` (or other 1-byte element array): zero-padded, and, when
    /// longer than N, cut to N bytes with `truncating` (as `strncpy` leaves them: no NUL when
    /// they fill the array), else an error naming the member and N.
    func writeChars(_ bytes: [UInt8], truncating: Bool, shown: String) throws {
        guard case let .array(e, n) = type.kind, e.size == 1 else {
            if let inner = soleArrayMember, case let .array(e, _) = inner.type.kind, e.size == 1 {
                return try inner.writeChars(bytes, truncating: truncating, shown: shown)
            }
            throw invalid(shown, "a string was given")
        }
        if bytes.count > n && !truncating {
            throw invalid(shown, "\(shown) is \(bytes.count) bytes, more than the \(n) of \(type.cName)",
                          hint: "at most \(n) bytes, or TruncatingString(...) to keep the first \(n) as C's strncpy would")
        }
        let kept = bytes.prefix(n)
        buffer.bytes.replaceSubrange(offset..<offset + n, with: kept + [UInt8](repeating: 0, count: n - kept.count))
    }

    func container<Key: CodingKey>(keyedBy type: Key.Type) -> KeyedEncodingContainer<Key> {
        KeyedEncodingContainer(Keyed<Key>(encoder: self))
    }

    func unkeyedContainer() -> any UnkeyedEncodingContainer { Unkeyed(encoder: self) }

    func singleValueContainer() -> any SingleValueEncodingContainer { Single(encoder: self) }

    /// (offset, field) of member `name`, looking into anonymous members.
    static func locate(_ name: String, in type: TypeDescription, base: Int) -> (Int, TypeDescription.Field)? {
        for f in type.fields {
            if f.name == name { return (base + f.offset, f) }
            if f.isAnonymous, let found = locate(name, in: f.type, base: base + f.offset) { return found }
        }
        return nil
    }

    struct Keyed<Key: CodingKey>: KeyedEncodingContainerProtocol {
        let encoder: DynamicValueEncoder
        var codingPath: [any CodingKey] { encoder.codingPath }

        func child(_ key: Key) throws -> DynamicValueEncoder {
            switch encoder.type.kind {
            case .structure, .union: break
            default:
                throw encoder.invalid(key.stringValue, "a struct was given")
            }
            guard let (at, f) = DynamicValueEncoder.locate(key.stringValue, in: encoder.type, base: encoder.offset) else {
                let names = encoder.type.fields.filter { !$0.isPadding }.map { $0.name.isEmpty ? "(anonymous)" : $0.name }
                throw EncodingError.invalidValue(key.stringValue, .init(
                    codingPath: codingPath + [key],
                    debugDescription: DynamicValueEncoder.memberPrefix(codingPath + [key], type: nil, field: nil)
                        + "\(encoder.type.cName) has no such member; use one of \(names.joined(separator: ", "))"))
            }
            return DynamicValueEncoder(buffer: encoder.buffer, type: f.type, offset: at, field: f, codingPath: codingPath + [key])
        }

        mutating func encodeNil(forKey key: Key) throws {}
        mutating func encode<T: Encodable>(_ value: T, forKey key: Key) throws {
            try child(key).write(value)
        }
        mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type, forKey key: Key)
            -> KeyedEncodingContainer<NestedKey> {
            guard let e = try? child(key) else { return encoder.container(keyedBy: keyType) }
            return e.container(keyedBy: keyType)
        }
        mutating func nestedUnkeyedContainer(forKey key: Key) -> any UnkeyedEncodingContainer {
            guard let e = try? child(key) else { return encoder.unkeyedContainer() }
            return e.unkeyedContainer()
        }
        mutating func superEncoder() -> any Encoder { encoder }
        mutating func superEncoder(forKey key: Key) -> any Encoder { (try? child(key)) ?? encoder }
    }

    struct Unkeyed: UnkeyedEncodingContainer {
        let encoder: DynamicValueEncoder
        var count = 0
        var codingPath: [any CodingKey] { encoder.codingPath }

        mutating func next() throws -> DynamicValueEncoder {
            // A 128-bit integer takes two 64-bit halves, low first (Python's `c_long * 2`).
            if let half = DynamicValue.halves(of: encoder.type) {
                guard count < 2 else {
                    throw encoder.invalid([Any](), "more than 2 halves for \(encoder.type.description) (low, high)")
                }
                defer { count += 1 }
                return DynamicValueEncoder(buffer: encoder.buffer, type: half, offset: encoder.offset + count * 8,
                                           field: nil, codingPath: codingPath + [DynamicCodingKey(intValue: count)])
            }
            if let inner = encoder.soleArrayMember {
                var redirected = Unkeyed(encoder: inner, count: count)
                defer { count = redirected.count }
                return try redirected.next()
            }
            guard case let .array(element, n) = encoder.type.kind else {
                throw encoder.invalid([Any](), "an array was given")
            }
            guard count < n else {
                throw encoder.invalid([Any](), "more than \(n) elements were given", hint: "at most \(n)")
            }
            defer { count += 1 }
            return DynamicValueEncoder(buffer: encoder.buffer, type: element, offset: encoder.offset + count * element.size,
                                       field: nil, codingPath: codingPath + [DynamicCodingKey(intValue: count)])
        }

        mutating func encodeNil() throws { _ = try next() }
        mutating func encode<T: Encodable>(_ value: T) throws {
            try next().write(value)
        }
        mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type) -> KeyedEncodingContainer<NestedKey> {
            ((try? next()) ?? encoder).container(keyedBy: keyType)
        }
        mutating func nestedUnkeyedContainer() -> any UnkeyedEncodingContainer {
            ((try? next()) ?? encoder).unkeyedContainer()
        }
        mutating func superEncoder() -> any Encoder { encoder }
    }

    struct Single: SingleValueEncodingContainer {
        let encoder: DynamicValueEncoder
        var codingPath: [any CodingKey] { encoder.codingPath }

        mutating func encodeNil() throws {}

        /// Stores the low `size` bytes of `bits`, or the bits of a bitfield.
        func store(_ bits: UInt64, high: UInt64) {
            let e = encoder
            if let f = e.field, let width = f.bitWidth {
                var unit: UInt64 = 0
                let n = min(8, f.type.size, e.buffer.bytes.count - e.offset)
                for i in 0..<n { unit |= UInt64(e.buffer.bytes[e.offset + i]) << (8 * UInt64(i)) }
                let mask: UInt64 = (width >= 64 ? UInt64.max : (1 << UInt64(width)) - 1) << UInt64(f.bitOffset)
                unit = (unit & ~mask) | ((bits << UInt64(f.bitOffset)) & mask)
                for i in 0..<n { e.buffer.bytes[e.offset + i] = UInt8(truncatingIfNeeded: unit >> (8 * UInt64(i))) }
                return
            }
            for i in 0..<e.type.size {
                let v = i < 8 ? bits >> (8 * UInt64(i)) : high >> (8 * UInt64(i - 8))
                e.buffer.bytes[e.offset + i] = UInt8(truncatingIfNeeded: v)
            }
        }

        mutating func integer<T: BinaryInteger>(_ value: T) throws {
            let e = encoder
            switch e.type.kind {
            case let .scalar(s) where s.isFloatingPoint:
                try float(Double(value))
                return
            case .scalar, .enumeration:
                break
            default:
                throw e.invalid(value, "an integer was given")
            }
            let s: CScalar = { if case let .scalar(s) = e.type.kind { return s } else { return .unsignedInt } }()
            let bits = e.field?.bitWidth ?? s.size * 8
            // The range the C type (or bitfield) holds.
            let fits: Bool
            if bits >= 64 {
                fits = s.isSigned ? Int64(exactly: value) != nil || (bits > 64 && value.signum() >= 0 && UInt64(exactly: value) != nil)
                                  : (value.signum() >= 0 && UInt64(exactly: value) != nil)
            } else if s.isSigned {
                let lo = -(Int64(1) << Int64(bits - 1)), hi = (Int64(1) << Int64(bits - 1)) - 1
                // A byte (UInt8, as in [UInt8]) goes into a char as its bit pattern, as C and Python's bytes do.
                let byte = value is UInt8 && (s == .char || s == .signedChar) && e.field?.bitWidth == nil
                fits = Int64(exactly: value).map { ($0 >= lo && $0 <= hi) || (byte && $0 <= 255) } ?? false
            } else {
                fits = UInt64(exactly: value).map { $0 <= (UInt64(1) << UInt64(bits)) - 1 } ?? false
            }
            guard fits else {
                throw e.invalid(value, "\(value) does not fit")
            }
            let negative = value.signum() < 0
            let low = negative ? UInt64(bitPattern: Int64(value)) : UInt64(value)
            store(low, high: negative ? UInt64.max : 0)
        }

        mutating func float(_ value: Double) throws {
            let e = encoder
            guard case let .scalar(s) = e.type.kind else {
                throw e.invalid(value, "a number was given")
            }
            switch s {
            case .float: store(UInt64(Float(value).bitPattern), high: 0)
            case .double: store(value.bitPattern, high: 0)
            case .longDouble:
                #if arch(x86_64)
                let raw = withUnsafeBytes(of: Float80(value)) { Array($0) }
                e.buffer.bytes.replaceSubrange(e.offset..<e.offset + 10, with: raw.prefix(10))
                #else
                throw e.invalid(value, "long double is not supported on this architecture", hint: "a DynamicValue of its bytes")
                #endif
            default:
                guard value.rounded() == value, let i = Int64(exactly: value) else {
                    throw e.invalid(value, "\(value) is not an integer")
                }
                try integer(i)
            }
        }

        mutating func encode(_ value: Bool) throws { try integer(value ? 1 : 0) }

        mutating func encode(_ value: String) throws {
            let e = encoder
            let utf8 = Array(value.utf8)
            switch e.type.kind {
            case .scalar(.char), .scalar(.unsignedChar), .scalar(.signedChar):
                guard utf8.count == 1 else { throw e.invalid(value, "a char takes exactly one byte, \"\(value)\" has \(utf8.count)") }
                e.buffer.bytes[e.offset] = utf8[0]
            default:
                try e.writeChars(utf8, truncating: false, shown: "\"\(value)\"")
            }
        }

        mutating func encode(_ value: Double) throws { try float(value) }
        mutating func encode(_ value: Float) throws { try float(Double(value)) }
        mutating func encode(_ value: Int) throws { try integer(value) }
        mutating func encode(_ value: Int8) throws { try integer(value) }
        mutating func encode(_ value: Int16) throws { try integer(value) }
        mutating func encode(_ value: Int32) throws { try integer(value) }
        mutating func encode(_ value: Int64) throws { try integer(value) }
        mutating func encode(_ value: UInt) throws { try integer(value) }
        mutating func encode(_ value: UInt8) throws { try integer(value) }
        mutating func encode(_ value: UInt16) throws { try integer(value) }
        mutating func encode(_ value: UInt32) throws { try integer(value) }
        mutating func encode(_ value: UInt64) throws { try integer(value) }

        mutating func encode<T: Encodable>(_ value: T) throws { try encoder.write(value) }
    }
}

/// A string for a `char[N]` member that is cut to N bytes when longer, as C's `strncpy` cuts
/// it (no NUL when it fills the array); shorter strings are zero-padded as with a `String`,
/// which throws instead of cutting. Python raises `ValueError: bytes too long` for both.
///
/// ```swift
/// struct Entry: Encodable { let pid: UInt32; let comm: TruncatingString }
/// try t.update(UInt32(1), Entry(pid: 1, comm: "a-name-longer-than-sixteen"))
/// try t.update(UInt32(2), TruncatingString("Hey root!"))   // a struct with one char[N] member
/// ```
public struct TruncatingString: Encodable, Sendable, Hashable, ExpressibleByStringLiteral, CustomStringConvertible {
    /// The bytes to store (UTF-8 of the string).
    public let bytes: [UInt8]

    /// The UTF-8 bytes of `string`, to be cut to the field.
    public init(_ string: String) { bytes = Array(string.utf8) }
    /// `bytes` as they are, to be cut to the field.
    public init(bytes: [UInt8]) { self.bytes = bytes }
    /// A string literal, as `TruncatingString(value)`.
    public init(stringLiteral value: String) { self.init(value) }

    /// The bytes as text (invalid UTF-8 shown as U+FFFD).
    public var description: String { String(decoding: bytes, as: UTF8.self) }

    /// Into a SwiftBCC table: the bytes, cut to the `char[N]`; elsewhere: the string.
    public func encode(to encoder: any Encoder) throws {
        if let e = encoder as? DynamicValueEncoder {
            return try e.writeChars(bytes, truncating: true, shown: "\"\(description)\"")
        }
        var c = encoder.singleValueContainer()
        try c.encode(description)
    }
}
