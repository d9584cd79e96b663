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
                throw BPFError.encodingFailed(type: description, detail: "the value is \(v.bytes.count) bytes "
                    + "(\(v.type.description)) but the C type is \(size) bytes")
            }
            return DynamicValue(type: self, bytes: v.bytes, boxed: true)
        }
        let buffer = EncodeBuffer(count: size)
        do {
            try value.encode(to: DynamicValueEncoder(buffer: buffer, type: self, offset: 0, field: nil, codingPath: []))
        } catch let error as EncodingError {
            throw BPFError.encodingFailed(type: description, detail: Self.explain(error))
        }
        return DynamicValue(type: self, bytes: buffer.bytes, boxed: true)
    }

    static func explain(_ error: EncodingError) -> String {
        switch error {
        case let .invalidValue(_, ctx):
            let path = ctx.codingPath.map { $0.intValue.map { "[\($0)]" } ?? "." + $0.stringValue }.joined()
            return (path.isEmpty ? "the value" : String(path.drop { $0 == "." })) + ": " + ctx.debugDescription
        @unknown default:
            return "\(error)"
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

    func invalid(_ value: Any, _ message: String) -> EncodingError {
        .invalidValue(value, .init(codingPath: codingPath, debugDescription: message))
    }

    func writeRaw(_ v: DynamicValue) throws {
        guard v.bytes.count == type.size else {
            throw invalid(v, "a \(v.bytes.count)-byte value (\(v.type.description)) does not fit \(type.description) (\(type.size) bytes)")
        }
        buffer.bytes.replaceSubrange(offset..<offset + type.size, with: v.bytes)
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
                throw encoder.invalid(key.stringValue, "a struct was given but the C type is \(encoder.type.description)")
            }
            guard let (at, f) = DynamicValueEncoder.locate(key.stringValue, in: encoder.type, base: encoder.offset) else {
                let names = encoder.type.fields.filter { !$0.isPadding }.map { $0.name.isEmpty ? "(anonymous)" : $0.name }
                throw EncodingError.invalidValue(key.stringValue, .init(
                    codingPath: codingPath + [key],
                    debugDescription: "\(encoder.type.name.isEmpty ? "the record" : encoder.type.name) has no member "
                        + "\(key.stringValue) (members: \(names.joined(separator: ", ")))"))
            }
            return DynamicValueEncoder(buffer: encoder.buffer, type: f.type, offset: at, field: f, codingPath: codingPath + [key])
        }

        mutating func encodeNil(forKey key: Key) throws {}
        mutating func encode<T: Encodable>(_ value: T, forKey key: Key) throws {
            let e = try child(key)
            if let v = value as? DynamicValue { try e.writeRaw(v) } else { try value.encode(to: e) }
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
            guard case let .array(element, n) = encoder.type.kind else {
                throw encoder.invalid([Any](), "an array was given but the C type is \(encoder.type.description)")
            }
            guard count < n else {
                throw encoder.invalid([Any](), "more than \(n) elements for \(encoder.type.description)")
            }
            defer { count += 1 }
            return DynamicValueEncoder(buffer: encoder.buffer, type: element, offset: encoder.offset + count * element.size,
                                       field: nil, codingPath: codingPath + [DynamicCodingKey(intValue: count)])
        }

        mutating func encodeNil() throws { _ = try next() }
        mutating func encode<T: Encodable>(_ value: T) throws {
            let e = try next()
            if let v = value as? DynamicValue { try e.writeRaw(v) } else { try value.encode(to: e) }
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
                throw e.invalid(value, "an integer was given but the C type is \(e.type.description)")
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
                fits = Int64(exactly: value).map { $0 >= lo && $0 <= hi } ?? false
            } else {
                fits = UInt64(exactly: value).map { $0 <= (UInt64(1) << UInt64(bits)) - 1 } ?? false
            }
            guard fits else {
                throw e.invalid(value, "\(value) does not fit \(e.type.description)" + (e.field?.bitWidth.map { " : \($0)" } ?? ""))
            }
            let negative = value.signum() < 0
            let low = negative ? UInt64(bitPattern: Int64(value)) : UInt64(value)
            store(low, high: negative ? UInt64.max : 0)
        }

        mutating func float(_ value: Double) throws {
            let e = encoder
            guard case let .scalar(s) = e.type.kind else {
                throw e.invalid(value, "a number was given but the C type is \(e.type.description)")
            }
            switch s {
            case .float: store(UInt64(Float(value).bitPattern), high: 0)
            case .double: store(value.bitPattern, high: 0)
            case .longDouble:
                #if arch(x86_64)
                let raw = withUnsafeBytes(of: Float80(value)) { Array($0) }
                e.buffer.bytes.replaceSubrange(e.offset..<e.offset + 10, with: raw.prefix(10))
                #else
                throw e.invalid(value, "long double is not supported on this architecture")
                #endif
            default:
                guard value.rounded() == value, let i = Int64(exactly: value) else {
                    throw e.invalid(value, "\(value) is not an integer but the C type is \(e.type.description)")
                }
                try integer(i)
            }
        }

        mutating func encode(_ value: Bool) throws { try integer(value ? 1 : 0) }

        mutating func encode(_ value: String) throws {
            let e = encoder
            let utf8 = Array(value.utf8)
            switch e.type.kind {
            case let .array(el, n) where el.size == 1:
                guard utf8.count <= n else {
                    throw e.invalid(value, "\"\(value)\" is \(utf8.count) bytes, longer than \(e.type.description)")
                }
                e.buffer.bytes.replaceSubrange(e.offset..<e.offset + n, with: utf8 + [UInt8](repeating: 0, count: n - utf8.count))
            case .scalar(.char), .scalar(.unsignedChar), .scalar(.signedChar):
                guard utf8.count == 1 else { throw e.invalid(value, "a char takes exactly one byte, \"\(value)\" has \(utf8.count)") }
                e.buffer.bytes[e.offset] = utf8[0]
            default:
                throw e.invalid(value, "a string was given but the C type is \(e.type.description)")
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

        mutating func encode<T: Encodable>(_ value: T) throws {
            if let v = value as? DynamicValue { try encoder.writeRaw(v); return }
            try value.encode(to: encoder)
        }
    }
}
