/// The bytes of `string` laid into a C `char[count]`: zero-padded; when longer, cut to `count`
/// bytes with `truncating` (as `strncpy` leaves them, with no NUL when they fill the array),
/// else `BPFError.encodingFailed` naming N.
func charArrayBytes(_ string: String, count: Int, truncating: Bool) throws -> [UInt8] {
    let utf8 = Array(string.utf8)
    if utf8.count > count && !truncating {
        throw BPFError.encodingFailed(type: "char[\(count)]", detail: "\"\(string)\" is \(utf8.count) bytes, more than \(count); "
            + "pass at most \(count) bytes, or truncating: true to keep the first \(count) as C's strncpy would")
    }
    let kept = utf8.prefix(count)
    return Array(kept) + [UInt8](repeating: 0, count: count - kept.count)
}

/// `char[N]` fields of typed structs from Swift strings (`CChar` is `Int8`).
extension InlineArray where Element == Int8 {
    /// A C `char[N]` field of a typed key, value or event struct holding `string` (UTF-8),
    /// zero-padded as C's `strncpy` leaves it:
    /// `Key(pid: 1, comm: try InlineArray<16, CChar>(cString: "bash"))`. A string longer than N
    /// bytes throws `BPFError.encodingFailed` naming N, or with `truncating: true` keeps its
    /// first N bytes (then there is no NUL, as with `strncpy`). Read it back with `cString(_:)`.
    /// Python: assigning `b"bash"` to a `c_char * 16` field.
    public init(cString string: String, truncating: Bool = false) throws {
        let bytes = try charArrayBytes(string, count: Self.count, truncating: truncating)
        self.init { Int8(bitPattern: bytes[$0]) }
    }
}

/// `unsigned char[N]` (and `char[N]` as bytes) fields from Swift strings.
extension InlineArray where Element == UInt8 {
    /// A C `char[N]` / `unsigned char[N]` field holding `string`, as the `CChar` form does.
    public init(cString string: String, truncating: Bool = false) throws {
        let bytes = try charArrayBytes(string, count: Self.count, truncating: truncating)
        self.init { bytes[$0] }
    }
}
