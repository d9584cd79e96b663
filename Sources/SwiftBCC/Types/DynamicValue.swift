/// A key, leaf or event decoded from raw bytes by its ``TypeDescription``: read fields by name,
/// elements by index, scalars as Swift numbers, char arrays as strings, or the whole value into
/// a `Decodable` Swift type.
///
/// It prints as Python BCC shows the same value. What a table read or `decode` returns is a
/// ctypes object in Python, so a scalar prints as `c_ulong(5)`, and its ``value`` as `5`;
/// fields and elements print as Python's attribute access gives them: `5`, `b'bash'`, `True`.
/// Structs print as `key_t(pid=5, comm=b'bash')` (Python prints an object address there) and
/// non-char arrays as lists, `[1, 2, 3]`; padding members are left out.
///
/// ```swift
/// for (k, v) in try b["counts"].items() {
///     print(k["comm"]?.string ?? "", v.value)            // bash 3
///     let key = try k.decode(Key.self)                   // by field name
/// }
/// ```
public struct DynamicValue: Sendable, Hashable, CustomStringConvertible {
    /// The C type the bytes are read as.
    public let type: TypeDescription
    /// The value's bytes, exactly `type.size` of them.
    public let bytes: [UInt8]
    /// A ctypes object as Python returns it from a table (prints `c_uint(5)`), rather than a
    /// Python int/bytes from an attribute (prints `5`).
    let boxed: Bool

    init(type: TypeDescription, bytes: [UInt8], boxed: Bool) {
        self.type = type
        self.bytes = bytes
        self.boxed = boxed
    }

    /// Decodes `bytes` as `type` (shorter buffers are zero-filled). Same as `type.decode(bytes)`.
    public init(type: TypeDescription, bytes: some Collection<UInt8>) {
        self = type.decode(bytes)
    }

    /// Equal when both the type and the bytes are.
    public static func == (a: DynamicValue, b: DynamicValue) -> Bool { a.type == b.type && a.bytes == b.bytes }
    /// Hashes the type and the bytes.
    public func hash(into h: inout Hasher) {
        h.combine(type)
        h.combine(bytes)
    }

    // MARK: Structure

    /// The value as Python's `.value` gives it: a scalar prints as `5` rather than `c_uint(5)`.
    public var value: DynamicValue { DynamicValue(type: type, bytes: bytes, boxed: false) }

    /// The member `name` of a struct or union (members of anonymous structs and unions are
    /// reached directly, as in C), or nil. Python: `key.name`.
    public subscript(name: String) -> DynamicValue? {
        for f in type.fields {
            if f.name == name { return member(f) }
            if f.isAnonymous, let inner = member(f)[name] { return inner }
        }
        return nil
    }

    /// Element `index` of an array, or nil when out of range. A 128-bit integer indexes as
    /// Python's `c_long * 2` (`unsigned __int128`: `c_ulong * 2`): 0 is the low 64 bits, 1 the
    /// high. Python: `arr[i]`.
    public subscript(index: Int) -> DynamicValue? {
        if let half = Self.halves(of: type), index == 0 || index == 1 {
            return DynamicValue(type: half, bytes: Array(bytes[index * 8..<(index + 1) * 8]), boxed: false)
        }
        guard case let .array(e, n) = type.kind, index >= 0, index < n else { return nil }
        return DynamicValue(type: e, bytes: Array(bytes[index * e.size..<(index + 1) * e.size]), boxed: false)
    }

    /// The half type of a 128-bit integer, as Python's ctypes models it (`c_long`/`c_ulong`).
    static func halves(of type: TypeDescription) -> TypeDescription? {
        switch type.kind {
        case .scalar(.int128): return .scalar(.long)
        case .scalar(.unsignedInt128): return .scalar(.unsignedLong)
        default: return nil
        }
    }

    /// Named members with their values, members of anonymous structs/unions flattened in,
    /// libbcc's `__pad_N` padding left out.
    public var fields: [(name: String, value: DynamicValue)] {
        var out: [(String, DynamicValue)] = []
        for f in type.fields where !f.isPadding {
            if f.isAnonymous { out += member(f).fields } else { out.append((f.name, member(f))) }
        }
        return out
    }

    /// The elements of an array, the two 64-bit halves of a 128-bit integer (low first, as
    /// Python's `list(v)`), empty for other types.
    public var elements: [DynamicValue] {
        if Self.halves(of: type) != nil { return [self[0]!, self[1]!] }
        guard case let .array(_, n) = type.kind else { return [] }
        return (0..<n).compactMap { self[$0] }
    }

    func member(_ f: TypeDescription.Field) -> DynamicValue {
        let size = f.type.size
        let start = min(f.offset, bytes.count)
        let end = min(f.offset + size, bytes.count)
        var raw = Array(bytes[start..<end])
        if raw.count < size { raw += [UInt8](repeating: 0, count: size - raw.count) }
        if let width = f.bitWidth, case let .scalar(s) = f.type.kind {
            var unit: UInt64 = 0
            for (i, b) in raw.prefix(8).enumerated() { unit |= UInt64(b) << (8 * UInt64(i)) }
            var v = width >= 64 ? unit >> UInt64(f.bitOffset) : (unit >> UInt64(f.bitOffset)) & ((1 << UInt64(width)) - 1)
            if s.isSigned, width < 64, width > 0, v & (1 << UInt64(width - 1)) != 0 { v |= ~((1 << UInt64(width)) - 1) }
            raw = (0..<size).map { i in i < 8 ? UInt8(truncatingIfNeeded: v >> (8 * UInt64(i))) : (s.isSigned && Int64(bitPattern: v) < 0 ? 0xff : 0) }
        }
        return DynamicValue(type: f.type, bytes: raw, boxed: false)
    }

    // MARK: Scalars

    var littleEndian128: (low: UInt64, high: UInt64) {
        var low: UInt64 = 0, high: UInt64 = 0
        for (i, b) in bytes.enumerated() where i < 16 {
            if i < 8 { low |= UInt64(b) << (8 * UInt64(i)) } else { high |= UInt64(b) << (8 * UInt64(i - 8)) }
        }
        return (low, high)
    }

    /// The scalar this value holds: an integer type (or enum), or nil.
    var integerScalar: CScalar? {
        switch type.kind {
        case let .scalar(s) where !s.isFloatingPoint: return s
        case .enumeration: return .unsignedInt
        default: return nil
        }
    }

    /// An integer, bool, char or enum as `Int64` (nil for other types and for 128-bit values
    /// that do not fit). Python: `.value` of an integer ctypes object.
    public var int: Int64? {
        guard let s = integerScalar else { return nil }
        let (low, high) = littleEndian128
        switch s.size {
        case 16:
            if s.isSigned {
                let v = Int64(bitPattern: low)
                return high == (v < 0 ? UInt64.max : 0) ? v : nil
            }
            return high == 0 && low <= UInt64(Int64.max) ? Int64(low) : nil
        case 8: return s.isSigned ? Int64(bitPattern: low) : (low <= UInt64(Int64.max) ? Int64(low) : nil)
        default:
            let bits = UInt64(s.size * 8)
            if s.isSigned, low & (1 << (bits - 1)) != 0 { return Int64(bitPattern: low | ~((1 << bits) - 1)) }
            return Int64(low)
        }
    }

    /// An integer, bool, char or enum as `UInt64` (nil when negative or not an integer).
    public var uint: UInt64? {
        guard let s = integerScalar else { return nil }
        if s.isSigned { return int.flatMap { $0 >= 0 ? UInt64($0) : nil } }
        let (low, high) = littleEndian128
        return high == 0 ? low : nil
    }

    /// A floating-point value, or an integer converted to `Double`.
    public var double: Double? {
        guard case let .scalar(s) = type.kind else { return int.map(Double.init) }
        let (low, _) = littleEndian128
        switch s {
        case .float: return Double(Float(bitPattern: UInt32(truncatingIfNeeded: low)))
        case .double: return Double(bitPattern: low)
        case .longDouble:
            #if arch(x86_64)
            return bytes.withUnsafeBytes { Double($0.loadUnaligned(as: Float80.self)) }
            #else
            return nil
            #endif
        default: return int.map(Double.init) ?? uint.map(Double.init)
        }
    }

    /// A `_Bool`, or an integer's truth.
    public var bool: Bool? {
        guard integerScalar != nil else { return nil }
        return bytes.contains { $0 != 0 }
    }

    /// A `char` array's text up to the first NUL (UTF-8, invalid bytes replaced), or a single
    /// `char`; nil for other types. Python: the `bytes` of a `c_char` array, `.decode()`d.
    public var string: String? {
        guard let raw = stringBytes else { return nil }
        return String(decoding: raw, as: UTF8.self)
    }

    /// The bytes Python gives for a `char` array (up to the first NUL) or a `char`; also for
    /// `signed`/`unsigned char` arrays.
    var stringBytes: [UInt8]? {
        switch type.kind {
        case .scalar(.char), .scalar(.signedChar), .scalar(.unsignedChar): return bytes
        case let .array(e, _):
            guard case let .scalar(s) = e.kind, s == .char || s == .signedChar || s == .unsignedChar else { return nil }
            return Array(bytes.prefix { $0 != 0 })
        default: return nil
        }
    }

    // MARK: Printing

    /// As Python BCC prints the same value (see the type's documentation).
    public var description: String {
        if boxed, case let .scalar(s) = type.kind { return "\(s.ctypesName)(\(pythonValue))" }
        return pythonValue
    }

    /// The `repr` of the Python value: `5`, `b'bash'`, `True`, `0.5`, `key_t(a=1, b=b'x')`, `[1, 2]`.
    var pythonValue: String {
        switch type.kind {
        case let .scalar(s):
            switch s {
            case .bool: return bool == true ? "True" : "False"
            case .char: return pythonBytes(bytes)
            case .wchar:
                let code = UInt32(truncatingIfNeeded: littleEndian128.low)
                return Unicode.Scalar(code).map { pythonStr(String(Character($0))) } ?? "'\\x00'"
            case .float, .double, .longDouble: return pythonFloat(double ?? 0)
            case .int128, .unsignedInt128: return decimal128
            default:
                if let v = int { return String(v) }
                return uint.map { String($0) } ?? "0"
            }
        case .enumeration:
            return String(int ?? 0)
        case let .array(e, _):
            if case .scalar(.char) = e.kind { return pythonBytes(stringBytes ?? []) }
            return "[" + elements.map(\.pythonValue).joined(separator: ", ") + "]"
        case let .structure(name, _, _), let .union(name, _):
            return (name.isEmpty ? "anonymous" : name) + "("
                + fields.map { "\($0.name)=\($0.value.pythonValue)" }.joined(separator: ", ") + ")"
        }
    }

    /// A 128-bit integer in decimal (Python models it as two 64-bit halves; SwiftBCC prints the number).
    var decimal128: String {
        var (low, high) = littleEndian128
        var negative = false
        if case .scalar(.int128) = type.kind, high >> 63 == 1 {
            negative = true
            low = ~low &+ 1
            high = ~high &+ (low == 0 ? 1 : 0)
        }
        if high == 0 { return (negative ? "-" : "") + String(low) }
        var digits: [Character] = []
        var (h, l) = (high, low)
        while h != 0 || l != 0 {
            let (qh, rh) = h.quotientAndRemainder(dividingBy: 10)
            let (ql, rl) = (10 as UInt64).dividingFullWidth((rh, l))
            h = qh
            l = ql
            digits.append(Character(String(rl)))
        }
        return (negative ? "-" : "") + String(digits.reversed())
    }
}

/// Python's `repr` of a `bytes` object: `b'abc'`, `b"it's"`, `b'\x00\n'`.
func pythonBytes(_ bytes: [UInt8]) -> String {
    let quote: UInt8 = bytes.contains(UInt8(ascii: "'")) && !bytes.contains(UInt8(ascii: "\"")) ? UInt8(ascii: "\"") : UInt8(ascii: "'")
    var s = "b" + String(UnicodeScalar(quote))
    for b in bytes {
        switch b {
        case quote, UInt8(ascii: "\\"): s += "\\" + String(UnicodeScalar(b))
        case 0x09: s += "\\t"
        case 0x0a: s += "\\n"
        case 0x0d: s += "\\r"
        case 0x20..<0x7f: s.append(Character(UnicodeScalar(b)))
        default: s += "\\x" + (b < 16 ? "0" : "") + String(b, radix: 16)
        }
    }
    return s + String(UnicodeScalar(quote))
}

/// Python's `repr` of a short `str` (for `c_wchar`).
func pythonStr(_ text: String) -> String {
    let quote: Character = text.contains("'") && !text.contains("\"") ? "\"" : "'"
    var s = String(quote)
    for ch in text.unicodeScalars {
        switch ch {
        case "\\": s += "\\\\"
        case "\n": s += "\\n"
        case "\t": s += "\\t"
        case "\r": s += "\\r"
        default:
            if Character(ch) == quote { s += "\\" + String(quote) }
            else if ch.value < 0x20 || ch.value == 0x7f { s += "\\x" + (ch.value < 16 ? "0" : "") + String(ch.value, radix: 16) }
            else { s.unicodeScalars.append(ch) }
        }
    }
    return s + String(quote)
}

/// Python's `repr` of a float: the shortest round-tripping digits, exponent form outside
/// 1e-4 ..< 1e16 (`1e-05`, `1e+16`), `inf`, `nan`.
func pythonFloat(_ d: Double) -> String {
    if d.isNaN { return "nan" }
    if d.isInfinite { return d < 0 ? "-inf" : "inf" }
    if d == 0 { return d.sign == .minus ? "-0.0" : "0.0" }
    // Swift's description gives the same shortest digits; re-shape the notation like Python.
    let swift = d.description
    var mantissa = swift, exponent = 0
    if let e = swift.firstIndex(where: { $0 == "e" || $0 == "E" }) {
        mantissa = String(swift[..<e])
        exponent = Int(swift[swift.index(after: e)...]) ?? 0
    }
    let negative = mantissa.hasPrefix("-")
    if negative { mantissa.removeFirst() }
    // digits and the decimal exponent of the first digit
    let parts = mantissa.split(separator: ".", omittingEmptySubsequences: false)
    var intPart = String(parts[0]), frac = parts.count > 1 ? String(parts[1]) : ""
    if frac == "0" { frac = "" }
    var digits = intPart + frac
    var pointPos = intPart.count + exponent  // digits before the point
    let lead = digits.prefix { $0 == "0" }.count
    digits.removeFirst(lead)
    pointPos -= lead
    while digits.hasSuffix("0") { digits.removeLast() }
    if digits.isEmpty { return negative ? "-0.0" : "0.0" }
    let exp10 = pointPos - 1
    var out: String
    if exp10 < -4 || exp10 >= 16 {
        out = String(digits.first!)
        if digits.count > 1 { out += "." + digits.dropFirst() }
        out += "e" + (exp10 < 0 ? "-" : "+") + (abs(exp10) < 10 ? "0" : "") + String(abs(exp10))
    } else if pointPos <= 0 {
        out = "0." + String(repeating: "0", count: -pointPos) + digits
    } else if pointPos >= digits.count {
        out = digits + String(repeating: "0", count: pointPos - digits.count) + ".0"
    } else {
        intPart = String(digits.prefix(pointPos))
        out = intPart + "." + digits.dropFirst(pointPos)
    }
    return (negative ? "-" : "") + out
}
