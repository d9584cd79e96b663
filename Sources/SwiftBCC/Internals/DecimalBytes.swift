/// Decimal digits, ASCII runs and strings appended to a byte buffer: the text builders' one number
/// formatter (the histogram printers here, BCCTools' `RowBuilder`), with no `String` per
/// number and no `printf`.
@usableFromInline
package enum DecimalBytes {
    /// Appends `v` in decimal (`%d` / `%llu` of an unsigned value).
    @inlinable
    package static func append(_ v: UInt64, to storage: inout [UInt8]) {
        // The digits' places first, then the digits from the last: byte appends and stores.
        // (A raw buffer's slice is appended element by element, a short typed buffer with a
        // fixed cost that a few byte appends undercut.)
        let n = width(v)
        let start = storage.count
        for _ in 0..<n { storage.append(0x30) }
        storage.withUnsafeMutableBufferPointer { p in
            var rest = v
            var i = start + n - 1
            while rest != 0 {
                p[i] = UInt8(truncatingIfNeeded: rest % 10) + 0x30
                rest /= 10
                i -= 1
            }
        }
    }

    /// Appends `v` in decimal (`%d` / `%lld`).
    @inlinable
    package static func append(signed v: Int64, to storage: inout [UInt8]) {
        if v < 0 { storage.append(UInt8(ascii: "-")) }
        append(v.magnitude, to: &storage)
    }

    /// The number of characters ``append(_:to:)`` writes for `v`.
    @inlinable
    package static func width(_ v: UInt64) -> Int {
        var n = 1
        var rest = v
        while rest >= 10 { rest /= 10; n += 1 }
        return n
    }

    /// The number of characters ``append(signed:to:)`` writes for `v`.
    @inlinable
    package static func width(signed v: Int64) -> Int { (v < 0 ? 1 : 0) + width(v.magnitude) }

    /// Appends `s`'s UTF-8 (one copy of its contiguous storage).
    @inlinable
    package static func append(_ s: String, to storage: inout [UInt8]) {
        var s = s
        s.withUTF8 { storage.append(contentsOf: $0) }
    }

    /// Appends `count` copies of the ASCII byte `b` (none when `count` is not positive).
    @inlinable
    package static func append(_ b: UInt8, count: Int, to storage: inout [UInt8]) {
        var k = count
        while k > 0 {
            storage.append(b)
            k -= 1
        }
    }
}
