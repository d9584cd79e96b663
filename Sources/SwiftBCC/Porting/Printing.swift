import Glibc

// Output helpers for ports of Python BCC tools: bcc.utils.printb, and printf-style padding.

/// Writes `bytes` to stdout as they are (no UTF-8 decoding: a command line or file name the
/// kernel reported prints byte for byte), then a newline when `nl`, and flushes. What `print`
/// wrote before comes first.
///
/// Python: `bcc.utils.printb(s, file=sys.stdout, nl=1)`.
public func printb(_ bytes: some Sequence<UInt8>, nl: Bool = true) {
    fflush(nil)
    var out = Array(bytes)
    if nl { out.append(10) }
    writeAll(out, to: 1)
}

/// `printb` of a C string field (up to its first NUL), e.g. a `char comm[16]` the program sent.
public func printb(cString bytes: some Sequence<UInt8>, nl: Bool = true) {
    printb(bytes.prefix { $0 != 0 }, nl: nl)
}

/// printf-style field widths in string interpolation, for ports of Python tools' `%-16s %7d` output.
extension DefaultStringInterpolation {
    /// printf-style field width: `"\(comm, width: -16)"` is C's `%-16s` (left-aligned),
    /// `"\(pid, width: 7)"` is `%7d` (right-aligned). Never truncates.
    ///
    /// Python: `"%-16s %7d" % (comm, pid)`, or `str.ljust` / `str.rjust`.
    public mutating func appendInterpolation(_ value: some CustomStringConvertible, width: Int) {
        let s = value.description
        appendLiteral(width < 0 ? ljust(s, -width) : rjust(s, width))
    }
}
