import Glibc
import SwiftBCC

/// One output row built as bytes in a buffer the session reuses: no `String` per field, no
/// `printf` per number. The appends give the text Python's `%` operator gives for the same
/// values (`%-5d`, `%5d`, `%-10.10s`, `%.2f`, a dotted IPv4 address), so a tool can build its
/// hot rows here and keep `String` formatting for headers and rare rows.
///
/// ```swift
/// session.row { r in
///     r.left(5) { $0.decimal(UInt64(pid)) }
///     r.space()
///     r.left(10) { $0.cString(e.bytes, at: 56, count: 16, maxScalars: 10) }
/// }
/// ```
public struct RowBuilder {
    @usableFromInline var storage: [UInt8] = []
    // The local time of `clockSecond` as HH:MM:SS (a row builder is reused: one localtime a second).
    private var clockSecond = -1
    private var clockText: [UInt8] = []

    /// The row's bytes so far (no newline).
    public var bytes: [UInt8] { storage }

    /// An empty row with room for `capacity` storage.
    public init(capacity: Int = 256) { storage.reserveCapacity(capacity) }

    /// Empties the row, keeping its buffer.
    public mutating func clear() { storage.removeAll(keepingCapacity: true) }

    /// The row as text.
    public var text: String { String(decoding: bytes, as: UTF8.self) }

    /// Appends `s`'s UTF-8 storage.
    @inlinable
    public mutating func append(_ s: String) { DecimalBytes.append(s, to: &storage) }

    /// Appends one ASCII byte.
    @inlinable
    public mutating func byte(_ b: UInt8) { storage.append(b) }

    /// Appends a space.
    @inlinable
    public mutating func space() { storage.append(0x20) }

    /// Appends `count` spaces (none when `count` is not positive).
    @inlinable
    public mutating func spaces(_ count: Int) { DecimalBytes.append(0x20, count: count, to: &storage) }

    /// Appends `v` in decimal (`%d` of an unsigned value).
    @inlinable
    public mutating func decimal(_ v: UInt64) { DecimalBytes.append(v, to: &storage) }

    /// Appends `v` in decimal (`%d`).
    @inlinable
    public mutating func decimal(signed v: Int64) { DecimalBytes.append(signed: v, to: &storage) }

    /// Appends what `%.{digits}f` prints for `Double(numerator) / 10^scale` (Python's
    /// `"%.2f" % (float(us) / 1000)` is `fixed(us, scale: 3, digits: 2)`). Exact: the quotient
    /// has `scale` decimals, so only a tie (the first dropped digits exactly 5, 0...) can round
    /// either way for the double, and a tie is left to `snprintf`. With as many digits as
    /// decimals or more (`%-14.9f` of `float(us) / 1e6`), the double is within half a unit of
    /// the last digit while `numerator * 10^(digits - scale)` is below 2^52: its digits, then
    /// zeros; past that, `snprintf`.
    public mutating func fixed(_ numerator: UInt64, scale: Int, digits: Int) {
        precondition(scale >= 0 && scale <= 18 && digits >= 0, "fixed: scale 0...18, digits >= 0")
        var p: UInt64 = 1
        for _ in 0..<scale { p *= 10 }
        if digits >= scale && digits - scale <= 15 {
            var scaled = numerator
            for _ in scale..<digits where scaled < 1 << 52 { scaled *= 10 }
            if scaled < 1 << 52 {
                decimal(numerator / p)
                if digits > 0 {
                    storage.append(UInt8(ascii: "."))
                    let fraction = numerator % p
                    if scale > 0 {
                        DecimalBytes.append(0x30, count: scale - DecimalBytes.width(fraction), to: &storage)
                        decimal(fraction)
                    }
                    DecimalBytes.append(0x30, count: digits - scale, to: &storage)
                }
                return
            }
        }
        if numerator >= 1 << 53 || digits >= scale {
            // Not exactly representable, or nothing is dropped: the plain double text.
            append(cformat("%.\(digits)f", Double(numerator) / Double(p)))
            return
        }
        var drop: UInt64 = 1
        for _ in 0..<(scale - digits) { drop *= 10 }
        let kept = numerator / drop
        let dropped = numerator % drop
        let half = drop / 2
        if dropped == half {
            append(cformat("%.\(digits)f", Double(numerator) / Double(p)))
            return
        }
        let rounded = dropped > half ? kept + 1 : kept
        var unit: UInt64 = 1
        for _ in 0..<digits { unit *= 10 }
        decimal(rounded / unit)
        if digits > 0 {
            storage.append(UInt8(ascii: "."))
            let fraction = rounded % unit
            DecimalBytes.append(0x30, count: digits - DecimalBytes.width(fraction), to: &storage)
            decimal(fraction)
        }
    }

    /// Appends what `%.{digits}f` prints for `(Double(value) - Double(start)) / 10^scale` (a
    /// tool's time since its first event, Python's `"%-11.6f" % ((ts - start_ts) / 1e6)`),
    /// negative when `value` is the earlier (an event from another CPU's buffer), as
    /// ``fixed(_:scale:digits:)`` does for the difference.
    public mutating func fixedDelta(_ value: UInt64, since start: UInt64, scale: Int, digits: Int) {
        if value >= start {
            fixed(value - start, scale: scale, digits: digits)
        } else {
            storage.append(UInt8(ascii: "-"))
            fixed(start - value, scale: scale, digits: digits)
        }
    }

    /// Appends Python's `"%4d %3d" % (fd, err)` for a syscall's return value `ret`: the fd
    /// (-1 on failure) and the errno (0 on success), as opensnoop and statsnoop print them.
    public mutating func fdAndErrno(_ ret: Int64) {
        right(4) { $0.decimal(signed: ret >= 0 ? ret : -1) }
        space()
        right(3) { $0.decimal(ret >= 0 ? 0 : ret.magnitude) }
    }

    /// Appends a dotted IPv4 address from its raw (network-order) 32 bits, as
    /// `InetText.ipv4` writes it.
    @inlinable
    public mutating func ipv4(_ raw: UInt32) {
        withUnsafeBytes(of: raw) { b in
            decimal(UInt64(b[0])); storage.append(0x2e)
            decimal(UInt64(b[1])); storage.append(0x2e)
            decimal(UInt64(b[2])); storage.append(0x2e)
            decimal(UInt64(b[3]))
        }
    }

    /// Appends the NUL-terminated `char[count]` at `offset` of `event`, at most `maxScalars`
    /// code points of it (`%-10.10s` of Python's `task.decode('utf-8', 'replace')`; nil: all).
    /// ASCII is copied; other bytes go through `String`'s decoding, which replaces what is not
    /// UTF-8 as Python does.
    public mutating func cString(_ event: UnsafeRawBufferPointer, at offset: Int, count: Int, maxScalars: Int? = nil) {
        guard offset < event.count else { return }
        let field = UnsafeRawBufferPointer(rebasing: event[offset..<min(event.count, offset + count)])
        let end = field.firstIndex(of: 0) ?? field.count
        let text = UnsafeRawBufferPointer(rebasing: field[0..<end])
        if !text.contains(where: { $0 >= 0x80 }) {
            // As typed bytes: a raw buffer's slice would be appended element by element.
            let n = min(maxScalars ?? text.count, text.count)
            text.withMemoryRebound(to: UInt8.self) { storage.append(contentsOf: UnsafeBufferPointer(rebasing: $0[0..<n])) }
            return
        }
        let s = String(decoding: text, as: UTF8.self)
        if let maxScalars {
            append(String(String.UnicodeScalarView(s.unicodeScalars.prefix(maxScalars))))
        } else {
            append(s)
        }
    }

    /// Appends the NUL-terminated text of a `char[N]` field of a typed event (`e.comm`), at
    /// most `maxScalars` code points of it, as ``cString(_:at:count:maxScalars:)`` does.
    public mutating func cString<T: BitwiseCopyable>(_ chars: T, maxScalars: Int? = nil) {
        withUnsafeBytes(of: chars) { raw in cString(raw, at: 0, count: raw.count, maxScalars: maxScalars) }
    }

    /// Appends the local time now as `%H:%M:%S` (``TimeFormat/now(_:utc:)``'s text; the
    /// formatting runs once a second).
    public mutating func clock() {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        if ts.tv_sec != clockSecond {
            clockSecond = ts.tv_sec
            clockText = Array(TimeFormat.strftime("%H:%M:%S", seconds: ts.tv_sec).utf8)
        }
        storage.append(contentsOf: clockText)
    }

    /// Runs `body`, then pads what it appended with spaces to `width` code points
    /// (`%-{width}s`, `%-{width}d`); never truncates.
    @inlinable
    public mutating func left(_ width: Int, _ body: (inout RowBuilder) -> Void) {
        let start = storage.count
        body(&self)
        spaces(width - scalars(from: start))
    }

    /// Runs `body`, then moves what it appended right, so that it ends at `width` code points
    /// (`%{width}s`, `%{width}d`); never truncates.
    @inlinable
    public mutating func right(_ width: Int, _ body: (inout RowBuilder) -> Void) {
        let start = storage.count
        body(&self)
        let missing = width - scalars(from: start)
        if missing > 0 { storage.insert(contentsOf: repeatElement(0x20, count: missing), at: start) }
    }

    /// The code points appended since byte `start` (UTF-8 lead bytes).
    @inlinable
    func scalars(from start: Int) -> Int {
        var n = 0
        for i in start..<storage.count where storage[i] & 0xc0 != 0x80 { n += 1 }
        return n
    }

    /// Writes the row and a newline to stdout in one `write` (after flushing what `print`
    /// buffered, so rows and other output keep their order), as `emitLine` does. Only stdout
    /// is flushed (stderr has no buffer): `fflush(nil)` walks every stdio stream on each row.
    public mutating func emit() {
        flushStandardOutput()
        storage.append(0x0a)
        storage.withUnsafeBytes { b in
            var done = 0
            while done < b.count {
                let n = write(1, b.baseAddress! + done, b.count - done)
                if n < 0 && errno == EINTR { continue }
                if n <= 0 { break }
                done += n
            }
        }
        storage.removeLast()
    }
}
