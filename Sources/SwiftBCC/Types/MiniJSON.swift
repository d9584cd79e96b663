/// The small JSON subset libbcc's key/leaf descriptions use: arrays, strings and integers
/// (objects, booleans, null and fractions are parsed too, for robustness). SwiftBCC does not
/// depend on Foundation, so this replaces JSONSerialization.
indirect enum MiniJSON: Equatable, Sendable {
    case array([MiniJSON])
    case object([(String, MiniJSON)])
    case string(String)
    case number(Int)
    case fraction(Double)
    case bool(Bool)
    case null

    static func == (a: MiniJSON, b: MiniJSON) -> Bool {
        switch (a, b) {
        case let (.array(x), .array(y)): return x == y
        case let (.object(x), .object(y)): return x.map(\.0) == y.map(\.0) && x.map(\.1) == y.map(\.1)
        case let (.string(x), .string(y)): return x == y
        case let (.number(x), .number(y)): return x == y
        case let (.fraction(x), .fraction(y)): return x == y
        case let (.bool(x), .bool(y)): return x == y
        case (.null, .null): return true
        default: return false
        }
    }

    struct ParseError: Error {
        let offset: Int
        let message: String
    }

    static func parse(_ text: String) throws(ParseError) -> MiniJSON {
        var parser = Parser(bytes: Array(text.utf8))
        let value = try parser.value()
        parser.skipSpace()
        guard parser.pos == parser.bytes.count else {
            throw ParseError(offset: parser.pos, message: "unexpected text after the JSON value")
        }
        return value
    }

    private struct Parser {
        let bytes: [UInt8]
        var pos = 0

        mutating func skipSpace() {
            while pos < bytes.count, [0x20, 0x09, 0x0a, 0x0d].contains(bytes[pos]) { pos += 1 }
        }

        mutating func expect(_ c: UInt8) throws(ParseError) {
            skipSpace()
            guard pos < bytes.count, bytes[pos] == c else {
                throw ParseError(offset: pos, message: "expected '\(Character(Unicode.Scalar(c)))'")
            }
            pos += 1
        }

        mutating func value() throws(ParseError) -> MiniJSON {
            skipSpace()
            guard pos < bytes.count else { throw ParseError(offset: pos, message: "unexpected end of text") }
            switch bytes[pos] {
            case UInt8(ascii: "["):
                pos += 1
                var items: [MiniJSON] = []
                skipSpace()
                if pos < bytes.count, bytes[pos] == UInt8(ascii: "]") { pos += 1; return .array(items) }
                while true {
                    items.append(try value())
                    skipSpace()
                    guard pos < bytes.count else { throw ParseError(offset: pos, message: "unterminated array") }
                    if bytes[pos] == UInt8(ascii: ",") { pos += 1; continue }
                    if bytes[pos] == UInt8(ascii: "]") { pos += 1; return .array(items) }
                    throw ParseError(offset: pos, message: "expected ',' or ']'")
                }
            case UInt8(ascii: "{"):
                pos += 1
                var members: [(String, MiniJSON)] = []
                skipSpace()
                if pos < bytes.count, bytes[pos] == UInt8(ascii: "}") { pos += 1; return .object(members) }
                while true {
                    skipSpace()
                    guard case let .string(key) = try value() else {
                        throw ParseError(offset: pos, message: "expected a string key")
                    }
                    try expect(UInt8(ascii: ":"))
                    members.append((key, try value()))
                    skipSpace()
                    guard pos < bytes.count else { throw ParseError(offset: pos, message: "unterminated object") }
                    if bytes[pos] == UInt8(ascii: ",") { pos += 1; continue }
                    if bytes[pos] == UInt8(ascii: "}") { pos += 1; return .object(members) }
                    throw ParseError(offset: pos, message: "expected ',' or '}'")
                }
            case UInt8(ascii: "\""):
                return .string(try string())
            case UInt8(ascii: "t"), UInt8(ascii: "f"), UInt8(ascii: "n"):
                for (word, v) in [("true", MiniJSON.bool(true)), ("false", .bool(false)), ("null", .null)] {
                    let w = Array(word.utf8)
                    if pos + w.count <= bytes.count, Array(bytes[pos..<pos + w.count]) == w {
                        pos += w.count
                        return v
                    }
                }
                throw ParseError(offset: pos, message: "unexpected word")
            default:
                let start = pos
                while pos < bytes.count, "+-0123456789.eE".utf8.contains(bytes[pos]) { pos += 1 }
                let text = String(decoding: bytes[start..<pos], as: UTF8.self)
                if let i = Int(text) { return .number(i) }
                if let d = Double(text) { return .fraction(d) }
                throw ParseError(offset: start, message: "unexpected character")
            }
        }

        mutating func string() throws(ParseError) -> String {
            pos += 1
            var out: [UInt8] = []
            while pos < bytes.count {
                let c = bytes[pos]
                pos += 1
                if c == UInt8(ascii: "\"") { return String(decoding: out, as: UTF8.self) }
                if c != UInt8(ascii: "\\") { out.append(c); continue }
                guard pos < bytes.count else { break }
                let e = bytes[pos]
                pos += 1
                switch e {
                case UInt8(ascii: "n"): out.append(0x0a)
                case UInt8(ascii: "t"): out.append(0x09)
                case UInt8(ascii: "r"): out.append(0x0d)
                case UInt8(ascii: "b"): out.append(0x08)
                case UInt8(ascii: "f"): out.append(0x0c)
                case UInt8(ascii: "u"):
                    guard pos + 4 <= bytes.count,
                          let code = UInt32(String(decoding: bytes[pos..<pos + 4], as: UTF8.self), radix: 16),
                          let scalar = Unicode.Scalar(code) else {
                        throw ParseError(offset: pos, message: "bad \\u escape")
                    }
                    pos += 4
                    out += Array(String(Character(scalar)).utf8)
                default: out.append(e)
                }
            }
            throw ParseError(offset: pos, message: "unterminated string")
        }
    }
}
