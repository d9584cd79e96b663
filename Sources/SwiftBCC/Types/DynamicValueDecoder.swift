extension DynamicValue {
    /// Decodes this value into a `Decodable` Swift type, matching struct members by name
    /// (members of anonymous structs and unions included, padding ignored): integers of any
    /// width that holds the value, `Bool`, `Float`/`Double`, `String` from a `char` array,
    /// arrays from C arrays, nested `Decodable` types from nested structs. A Swift property
    /// the C type lacks must be optional.
    ///
    /// ```swift
    /// struct Event: Decodable { let pid: UInt32; let comm: String; let ts: UInt64 }
    /// let e = try value.decode(Event.self)
    /// ```
    /// - Throws: `BPFError.decodingFailed` naming the member path and what did not match.
    public func decode<T: Decodable>(_ type: T.Type = T.self) throws -> T {
        do {
            return try T(from: DynamicValueDecoder(value: self, codingPath: []))
        } catch let error as DecodingError {
            throw BPFError.decodingFailed(type: String(describing: T.self), detail: Self.explain(error))
        }
    }

    static func explain(_ error: DecodingError) -> String {
        func path(_ p: [any CodingKey]) -> String {
            p.isEmpty ? "the value" : p.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }
                .joined(separator: ".").replacingOccurrences(".[", with: "[")
        }
        switch error {
        case let .keyNotFound(key, ctx):
            return "\(path(ctx.codingPath + [key])): \(ctx.debugDescription)"
        case let .typeMismatch(_, ctx), let .valueNotFound(_, ctx), let .dataCorrupted(ctx):
            return "\(path(ctx.codingPath)): \(ctx.debugDescription)"
        @unknown default:
            return "\(error)"
        }
    }
}

extension String {
    func replacingOccurrences(_ target: String, with replacement: String) -> String {
        guard !target.isEmpty else { return self }
        var out = ""
        var rest = Substring(self)
        while let r = rest.firstRange(of: target) {
            out += rest[..<r.lowerBound] + replacement
            rest = rest[r.upperBound...]
        }
        return out + rest
    }
}

struct DynamicCodingKey: CodingKey {
    let stringValue: String
    let intValue: Int?
    init(stringValue: String) { self.stringValue = stringValue; self.intValue = nil }
    init(intValue: Int) { self.stringValue = "\(intValue)"; self.intValue = intValue }
}

struct DynamicValueDecoder: Decoder {
    let value: DynamicValue
    let codingPath: [any CodingKey]
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    func container<Key: CodingKey>(keyedBy type: Key.Type) throws -> KeyedDecodingContainer<Key> {
        switch value.type.kind {
        case .structure, .union:
            return KeyedDecodingContainer(Keyed<Key>(value: value, codingPath: codingPath))
        default:
            throw DecodingError.typeMismatch([String: Any].self, .init(
                codingPath: codingPath,
                debugDescription: "expected a struct or union, found \(value.type.description)"))
        }
    }

    func unkeyedContainer() throws -> any UnkeyedDecodingContainer {
        guard case .array = value.type.kind else {
            throw DecodingError.typeMismatch([Any].self, .init(
                codingPath: codingPath, debugDescription: "expected a C array, found \(value.type.description)"))
        }
        return Unkeyed(elements: value.elements, codingPath: codingPath)
    }

    func singleValueContainer() throws -> any SingleValueDecodingContainer {
        Single(value: value, codingPath: codingPath)
    }

    struct Keyed<Key: CodingKey>: KeyedDecodingContainerProtocol {
        let value: DynamicValue
        let codingPath: [any CodingKey]

        var allKeys: [Key] { value.fields.compactMap { Key(stringValue: $0.name) } }

        func contains(_ key: Key) -> Bool { value[key.stringValue] != nil }

        func child(_ key: Key) throws -> DynamicValue {
            guard let v = value[key.stringValue] else {
                let names = value.fields.map(\.name).joined(separator: ", ")
                throw DecodingError.keyNotFound(key, .init(
                    codingPath: codingPath,
                    debugDescription: "\(value.type.name.isEmpty ? "the record" : value.type.name) has no member "
                        + "\(key.stringValue) (members: \(names)); make the Swift property optional or rename it"))
            }
            return v
        }

        func decodeNil(forKey key: Key) throws -> Bool { value[key.stringValue] == nil }

        func decode<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T {
            try T(from: DynamicValueDecoder(value: try child(key), codingPath: codingPath + [key]))
        }

        func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type, forKey key: Key) throws
            -> KeyedDecodingContainer<NestedKey> {
            try DynamicValueDecoder(value: try child(key), codingPath: codingPath + [key]).container(keyedBy: type)
        }

        func nestedUnkeyedContainer(forKey key: Key) throws -> any UnkeyedDecodingContainer {
            try DynamicValueDecoder(value: try child(key), codingPath: codingPath + [key]).unkeyedContainer()
        }

        func superDecoder() throws -> any Decoder { DynamicValueDecoder(value: value, codingPath: codingPath) }
        func superDecoder(forKey key: Key) throws -> any Decoder {
            DynamicValueDecoder(value: try child(key), codingPath: codingPath + [key])
        }
    }

    struct Unkeyed: UnkeyedDecodingContainer {
        let elements: [DynamicValue]
        let codingPath: [any CodingKey]
        var currentIndex = 0

        init(elements: [DynamicValue], codingPath: [any CodingKey]) {
            self.elements = elements
            self.codingPath = codingPath
        }

        var count: Int? { elements.count }
        var isAtEnd: Bool { currentIndex >= elements.count }

        mutating func next() throws -> DynamicValueDecoder {
            guard !isAtEnd else {
                throw DecodingError.valueNotFound(Any.self, .init(
                    codingPath: codingPath, debugDescription: "the C array has only \(elements.count) elements"))
            }
            defer { currentIndex += 1 }
            return DynamicValueDecoder(value: elements[currentIndex],
                                       codingPath: codingPath + [DynamicCodingKey(intValue: currentIndex)])
        }

        mutating func decodeNil() throws -> Bool { false }
        mutating func decode<T: Decodable>(_ type: T.Type) throws -> T { try T(from: try next()) }
        mutating func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type) throws
            -> KeyedDecodingContainer<NestedKey> { try next().container(keyedBy: type) }
        mutating func nestedUnkeyedContainer() throws -> any UnkeyedDecodingContainer { try next().unkeyedContainer() }
        mutating func superDecoder() throws -> any Decoder { try next() }
    }

    struct Single: SingleValueDecodingContainer {
        let value: DynamicValue
        let codingPath: [any CodingKey]

        func mismatch(_ type: Any.Type, _ what: String) -> DecodingError {
            .typeMismatch(type, .init(codingPath: codingPath,
                                      debugDescription: "cannot read \(value.type.description) \(value.pythonValue) as \(type): \(what)"))
        }

        func decodeNil() -> Bool { false }

        func decode(_ type: Bool.Type) throws -> Bool {
            guard let b = value.bool else { throw mismatch(type, "not an integer or _Bool") }
            return b
        }

        func decode(_ type: String.Type) throws -> String {
            guard let s = value.string else { throw mismatch(type, "only char arrays and chars read as strings") }
            return s
        }

        func decode(_ type: Double.Type) throws -> Double {
            guard let d = value.double else { throw mismatch(type, "not a number") }
            return d
        }

        func decode(_ type: Float.Type) throws -> Float {
            guard let d = value.double else { throw mismatch(type, "not a number") }
            return Float(d)
        }

        func integer<T: FixedWidthInteger>(_ type: T.Type) throws -> T {
            guard value.integerScalar != nil else { throw mismatch(type, "not an integer") }
            if let i = value.int, let v = T(exactly: i) { return v }
            if let u = value.uint, let v = T(exactly: u) { return v }
            throw mismatch(type, "the value does not fit")
        }

        func decode(_ type: Int.Type) throws -> Int { try integer(type) }
        func decode(_ type: Int8.Type) throws -> Int8 { try integer(type) }
        func decode(_ type: Int16.Type) throws -> Int16 { try integer(type) }
        func decode(_ type: Int32.Type) throws -> Int32 { try integer(type) }
        func decode(_ type: Int64.Type) throws -> Int64 { try integer(type) }
        func decode(_ type: UInt.Type) throws -> UInt { try integer(type) }
        func decode(_ type: UInt8.Type) throws -> UInt8 { try integer(type) }
        func decode(_ type: UInt16.Type) throws -> UInt16 { try integer(type) }
        func decode(_ type: UInt32.Type) throws -> UInt32 { try integer(type) }
        func decode(_ type: UInt64.Type) throws -> UInt64 { try integer(type) }

        func decode<T: Decodable>(_ type: T.Type) throws -> T {
            if type == DynamicValue.self, let v = value as? T { return v }
            return try T(from: DynamicValueDecoder(value: value, codingPath: codingPath))
        }
    }
}

extension DynamicValue: Decodable {
    /// A `DynamicValue` member of a `Decodable` type receives the raw member as is; it cannot
    /// be decoded from any other decoder.
    public init(from decoder: any Decoder) throws {
        guard let d = decoder as? DynamicValueDecoder else {
            throw DecodingError.typeMismatch(DynamicValue.self, .init(
                codingPath: decoder.codingPath, debugDescription: "DynamicValue decodes only from a DynamicValue"))
        }
        self = d.value
    }
}
