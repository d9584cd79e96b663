import Glibc

/// The text of Python BCC's histograms, character for character: `print_log2_hist`,
/// `print_linear_hist` (and their helpers `_print_log2_hist`, `_print_linear_hist`, `_stars`).
/// Tables print through ``Table/printLog2Hist(valType:sectionHeader:sectionPrintFn:bucketFn:strip:bucketSortFn:)``;
/// these build the text from bucket counts directly.
public enum Histogram {
    /// Python: `stars_max`.
    public static let starsMax = 40
    /// Slots a log2 histogram holds (Python: `log2_index_max`).
    public static let log2IndexMax = 65
    /// Slots a linear histogram holds (Python: `linear_index_max`).
    public static let linearIndexMax = 1025

    /// The log2 histogram of `vals` (`vals[i]` counts values in `[2^(i-1), 2^i)`; slot 0 is
    /// never printed, as in Python). Python: `_print_log2_hist(vals, val_type, strip_leading_zero)`.
    public static func log2Text(_ vals: [Int64], valType: String = "value", stripLeadingZero: Bool = false) -> String {
        var idxMax = -1
        var valMax: Int64 = 0
        for (i, v) in vals.enumerated() {
            if v > 0 { idxMax = i }
            if v > valMax { valMax = v }
        }
        let narrow = idxMax <= 32
        let stars = narrow ? starsMax : starsMax / 2
        var out: [UInt8] = []
        out.reserveCapacity(Swift.max(idxMax, 0) * (narrow ? 80 : 100) + 64)
        if idxMax > 0 {
            append(&out, narrow ? "     " + ljust(valType, 19) + " : count     distribution\n"
                                : "               " + ljust(valType, 29) + " : count     distribution\n")
        }
        var strip = stripLeadingZero
        if idxMax >= 1 {
            let w = narrow ? 10 : 20
            for i in 1...idxMax {
                let val = vals[i]
                if strip && val == 0 { continue }
                strip = false
                if i <= 64 {
                    // [2^(i-1), 2^i - 1], slot 1 as [0, 1]: in UInt64 up to slot 64.
                    let high = i == 64 ? UInt64.max : (UInt64(1) << UInt64(i)) - 1
                    let low = i == 1 ? 0 : UInt64(1) << UInt64(i - 1)
                    DecimalBytes.append(0x20, count: w - DecimalBytes.width(low), to: &out)
                    DecimalBytes.append(low, to: &out)
                    append(&out, " -> ")
                    DecimalBytes.append(high, to: &out)
                    DecimalBytes.append(0x20, count: w - DecimalBytes.width(high), to: &out)
                } else {
                    let low = (Int128(1) << Int128(i)) >> 1, high = (Int128(1) << Int128(i)) - 1
                    append(&out, rjust(String(low), w) + " -> " + ljust(String(high), w))
                }
                append(&out, " : ")
                appendLeft(&out, val, 8)
                append(&out, " |")
                appendStars(&out, val, valMax, stars)
                append(&out, "|\n")
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// The linear histogram of `vals` (`vals[i]` counts value `i`).
    /// Python: `_print_linear_hist(vals, val_type, strip_leading_zero)`.
    public static func linearText(_ vals: [Int64], valType: String = "value", stripLeadingZero: Bool = false) -> String {
        var idxMax = -1
        var valMax: Int64 = 0
        for (i, v) in vals.enumerated() {
            if v > 0 { idxMax = i }
            if v > valMax { valMax = v }
        }
        var out: [UInt8] = []
        out.reserveCapacity(Swift.max(idxMax + 1, 0) * 80 + 64)
        if idxMax >= 0 { append(&out, "     " + ljust(valType, 13) + " : count     distribution\n") }
        var strip = stripLeadingZero
        if idxMax >= 0 {
            for i in 0...idxMax {
                let val = vals[i]
                if strip && val == 0 { continue }
                strip = false
                append(&out, "        ")
                appendLeft(&out, Int64(i), 10)
                append(&out, " : ")
                appendLeft(&out, val, 8)
                append(&out, " |")
                appendStars(&out, val, valMax, starsMax)
                append(&out, "|\n")
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// One histogram as Python's `print_json_hist` prints it: the repr of a Python dict,
    /// `{'ts': '<local time>', 'val_type': 'value', 'data': [{'interval-start': 0,
    /// 'interval-end': 1, 'count': 5}, ...]}`, plus the section (already a Python repr) when
    /// given. Python: `_print_json_hist(vals, val_type, section_bucket)`.
    public static func jsonText(_ vals: [Int64], valType: String = "value", section: (header: String, repr: String)? = nil,
                                timestamp: String = Histogram.timestamp()) -> String {
        var maxNonzero = 0
        for (i, v) in vals.enumerated() where v != 0 { maxNonzero = i }
        var data: [String] = []
        var index: Int128 = 1, prev: Int128 = 0
        for i in vals.indices where i != 0 && i <= maxNonzero {
            index *= 2
            data.append("{'interval-start': \(prev), 'interval-end': \(index - 1), 'count': \(vals[i])}")
            prev = index
        }
        var out = "{'ts': \(pythonStr(timestamp)), 'val_type': \(pythonStr(valType)), 'data': [" + data.joined(separator: ", ") + "]"
        if let section { out += ", \(pythonStr(section.header)): \(section.repr)" }
        return out + "}\n"
    }

    /// The local time as Python's `strftime("%Y-%m-%d %H:%M:%S")`.
    public static func timestamp() -> String {
        var now = time(nil)
        var parts = tm()
        localtime_r(&now, &parts)
        var buf = [CChar](repeating: 0, count: 64)
        let n = strftime(&buf, buf.count, "%Y-%m-%d %H:%M:%S", &parts)
        return String(decoding: buf.prefix(n).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// `s`'s UTF-8, appended.
    static func append(_ out: inout [UInt8], _ s: String) { DecimalBytes.append(s, to: &out) }

    /// `v` then spaces to `width` characters (`ljust(str(v), width)`), appended in place.
    static func appendLeft(_ out: inout [UInt8], _ v: Int64, _ width: Int) {
        DecimalBytes.append(signed: v, to: &out)
        DecimalBytes.append(0x20, count: width - DecimalBytes.width(signed: v), to: &out)
    }

    /// `ljust(starsText(val, valMax, width), width)`, appended in place.
    static func appendStars(_ out: inout [UInt8], _ val: Int64, _ valMax: Int64, _ width: Int) {
        var n = 0
        let x = Double(Int64(width) &* val) / Double(valMax)
        while !(Double(n) > x - 1 || n > width - 1) { n += 1 }
        let plus = val > valMax
        let stars = plus ? Swift.max(n - 1, 0) : n
        DecimalBytes.append(UInt8(ascii: "*"), count: stars, to: &out)
        var used = stars
        if plus { out.append(UInt8(ascii: "+")); used += 1 }
        DecimalBytes.append(0x20, count: width - used, to: &out)
    }

    /// Python's `_stars(val, val_max, width)`, with its float arithmetic.
    static func starsText(_ val: Int64, _ valMax: Int64, _ width: Int) -> String {
        var text = ""
        var i = 0
        let x = Double(Int64(width) &* val) / Double(valMax)
        while true {
            if Double(i) > x - 1 || i > width - 1 { break }
            text += "*"
            i += 1
        }
        if val > valMax {
            text = String(text.dropLast()) + "+"
        }
        return text
    }
}

extension Table {
    /// The histogram sections of this table as Python's `decode_c_struct` builds them: for a
    /// struct key, (bucket, slot counts) per distinct value of the first member, with the
    /// second member (the third when the second is libbcc's `__pad_1`) as the slot; for a
    /// scalar key, one section with the key as the slot.
    func histogramSections(slots: Int, bucketFn: ((DynamicValue) -> DynamicValue)?,
                           bucketSortFn: (([DynamicValue]) -> [DynamicValue])?,
                           function: String) throws -> (sectioned: Bool, sections: [(bucket: DynamicValue, vals: [Int64])]) {
        // Integer slots and counts (the usual BPF_HISTOGRAM): read in one batch, no decoding.
        if case let .scalar(k) = keyType.kind, !k.isFloatingPoint, k.size <= 8,
           case let .scalar(v) = leafType.kind, !v.isFloatingPoint, v.size <= 8 {
            if let vals = try integerHistogram(slots: slots, key: k, value: v, function: function) {
                return (false, [(keyType.decode([]), vals)])
            }
        }
        // Python's items(), in the kernel's order (so sections come out in the same order): one
        // batch lookup where the kernel has it for this map (the same order as key by key).
        let entries = try rawItems()
        func count(_ raw: [UInt8]) -> Int64 {
            let v = valueType.decode(userValue(raw))
            if kind.isPerCPU { return v.elements.reduce(Int64(0)) { $0 &+ ($1.int ?? Int64(bitPattern: $1.uint ?? 0)) } }
            return v.int ?? Int64(bitPattern: v.uint ?? 0)
        }
        func slotIndex(_ v: DynamicValue?, limit: Int) throws -> Int {
            guard let v, let i = v.int, i >= 0, i < limit else {
                let shown = v?.int.map(String.init) ?? v?.description ?? "?"
                throw BPFError.invalidArgument("Index in \(function)() of \(shown) exceeds max of \(limit) "
                    + "(table \(name)); the histogram slot must be in 0..<\(limit).")
            }
            return Int(i)
        }
        switch keyType.kind {
        case .structure, .union:
            let fields = keyType.fields
            guard fields.count >= 2 else {
                throw BPFError.invalidArgument("\(function) on table \(name): a struct key needs a bucket member and a slot member.")
            }
            let f1 = fields[0].name
            var f2 = fields[1].name
            if f2 == "__pad_1" && fields.count == 3 { f2 = fields[2].name }
            var order: [DynamicValue] = []
            var tmp: [DynamicValue: [Int64]] = [:]
            for (k, v) in entries {
                let key = keyType.decode(k)
                guard var bucket = key[f1] else { continue }
                if let bucketFn { bucket = bucketFn(bucket) }
                if tmp[bucket] == nil {
                    tmp[bucket] = [Int64](repeating: 0, count: Histogram.log2IndexMax)
                    order.append(bucket)
                }
                let slot = try slotIndex(key[f2], limit: Histogram.log2IndexMax)
                tmp[bucket]![slot] = count(v)
            }
            if let bucketSortFn { order = bucketSortFn(order) }
            return (true, order.compactMap { b in tmp[b].map { (b, $0) } })
        default:
            var vals = [Int64](repeating: 0, count: slots)
            for (k, v) in entries {
                vals[try slotIndex(keyType.decode(k), limit: slots)] = count(v)
            }
            return (false, [(keyType.decode([]), vals)])
        }
    }

    /// The counts of a histogram with integer slots and integer (or per-CPU integer) counts,
    /// read with batch lookups into one buffer; nil when the kernel has no batch lookup here.
    func integerHistogram(slots: Int, key: CScalar, value: CScalar, function: String) throws -> [Int64]? {
        var vals = [Int64](repeating: 0, count: slots)
        let ks = keySize, vs = valueBufferSize, slot = slotSize, cpus = kind.isPerCPU ? CPUs.possible.count : 1
        func int(_ p: UnsafeRawPointer, _ t: CScalar) -> Int64 {
            switch (t.size, t.isSigned) {
            case (1, true): return Int64(p.loadUnaligned(as: Int8.self))
            case (1, false): return Int64(p.loadUnaligned(as: UInt8.self))
            case (2, true): return Int64(p.loadUnaligned(as: Int16.self))
            case (2, false): return Int64(p.loadUnaligned(as: UInt16.self))
            case (4, true): return Int64(p.loadUnaligned(as: Int32.self))
            case (4, false): return Int64(p.loadUnaligned(as: UInt32.self))
            default: return p.loadUnaligned(as: Int64.self)
            }
        }
        var bad: Int64?
        let batched = try _batchLookup(delete: false) { keys, values, n in
            for i in 0..<n {
                let s = int(keys + i * ks, key)
                guard s >= 0, s < Int64(slots) else { bad = bad ?? s; continue }
                var c: Int64 = 0
                for cpu in 0..<cpus { c &+= int(values + i * vs + cpu * slot, value) }
                vals[Int(s)] = c
            }
        }
        guard batched else { return nil }
        if let bad {
            throw BPFError.invalidArgument("Index in \(function)() of \(bad) exceeds max of \(slots) "
                + "(table \(name)); the histogram slot must be in 0..<\(slots).")
        }
        return vals
    }

    /// The text ``printLog2Hist(valType:sectionHeader:sectionPrintFn:bucketFn:strip:bucketSortFn:)`` prints.
    public func log2HistText(valType: String = "value", sectionHeader: String = "Bucket ptr",
                             sectionPrintFn: ((DynamicValue) -> String)? = nil,
                             bucketFn: ((DynamicValue) -> DynamicValue)? = nil, strip: Bool = false,
                             bucketSortFn: (([DynamicValue]) -> [DynamicValue])? = nil) throws -> String {
        try histText(linear: false, valType: valType, sectionHeader: sectionHeader, sectionPrintFn: sectionPrintFn,
                     bucketFn: bucketFn, strip: strip, bucketSortFn: bucketSortFn)
    }

    /// The text ``printLinearHist(valType:sectionHeader:sectionPrintFn:bucketFn:strip:bucketSortFn:)`` prints.
    public func linearHistText(valType: String = "value", sectionHeader: String = "Bucket ptr",
                               sectionPrintFn: ((DynamicValue) -> String)? = nil,
                               bucketFn: ((DynamicValue) -> DynamicValue)? = nil, strip: Bool = false,
                               bucketSortFn: (([DynamicValue]) -> [DynamicValue])? = nil) throws -> String {
        try histText(linear: true, valType: valType, sectionHeader: sectionHeader, sectionPrintFn: sectionPrintFn,
                     bucketFn: bucketFn, strip: strip, bucketSortFn: bucketSortFn)
    }

    func histText(linear: Bool, valType: String, sectionHeader: String, sectionPrintFn: ((DynamicValue) -> String)?,
                  bucketFn: ((DynamicValue) -> DynamicValue)?, strip: Bool,
                  bucketSortFn: (([DynamicValue]) -> [DynamicValue])?) throws -> String {
        try checkEntryKind(linear ? "printLinearHist" : "printLog2Hist")
        let (sectioned, sections) = try histogramSections(
            slots: linear ? Histogram.linearIndexMax : Histogram.log2IndexMax, bucketFn: bucketFn,
            bucketSortFn: bucketSortFn, function: linear ? "print_linear_hist" : "print_log2_hist")
        var out = ""
        for (bucket, vals) in sections {
            if sectioned {
                out += "\n\(sectionHeader) = " + (sectionPrintFn?(bucket) ?? bucket.value.description) + "\n"
            }
            out += linear ? Histogram.linearText(vals, valType: valType, stripLeadingZero: strip)
                          : Histogram.log2Text(vals, valType: valType, stripLeadingZero: strip)
        }
        return out
    }

    /// The text ``printJSONHist(valType:sectionHeader:sectionPrintFn:bucketFn:bucketSortFn:)`` prints.
    public func jsonHistText(valType: String = "value", sectionHeader: String = "Bucket ptr",
                             sectionPrintFn: ((DynamicValue) -> String)? = nil,
                             bucketFn: ((DynamicValue) -> DynamicValue)? = nil,
                             bucketSortFn: (([DynamicValue]) -> [DynamicValue])? = nil) throws -> String {
        try checkEntryKind("printJSONHist")
        let (sectioned, sections) = try histogramSections(slots: Histogram.log2IndexMax, bucketFn: bucketFn,
                                                          bucketSortFn: bucketSortFn, function: "print_json_hist")
        let ts = Histogram.timestamp()
        return sections.map { bucket, vals in
            Histogram.jsonText(vals, valType: valType, section: sectioned
                ? (sectionHeader, sectionPrintFn.map { pythonStr($0(bucket)) } ?? bucket.value.description) : nil,
                timestamp: ts)
        }.joined()
    }

    /// Prints a log2 table as Python's `print_json_hist` does: one Python dict per section
    /// with the local time, `val_type` and the non-empty intervals.
    /// Python: `t.print_json_hist(val_type, section_header, section_print_fn, bucket_fn, bucket_sort_fn)`.
    public func printJSONHist(valType: String = "value", sectionHeader: String = "Bucket ptr",
                              sectionPrintFn: ((DynamicValue) -> String)? = nil,
                              bucketFn: ((DynamicValue) -> DynamicValue)? = nil,
                              bucketSortFn: (([DynamicValue]) -> [DynamicValue])? = nil) throws {
        writeStdout(try jsonHistText(valType: valType, sectionHeader: sectionHeader, sectionPrintFn: sectionPrintFn,
                                     bucketFn: bucketFn, bucketSortFn: bucketSortFn))
    }

    /// Prints the table as a log2 histogram, exactly as Python BCC does: the key is the log2
    /// slot (`BPF_HISTOGRAM` with `bpf_log2l()`), or a struct whose first member is a section
    /// bucket (printed under `sectionHeader = <bucket>`, through `sectionPrintFn` when given)
    /// and whose second member is the slot. `bucketFn` maps bucket values, `bucketSortFn`
    /// orders the sections, `strip` omits leading empty slots. Per-CPU counts are summed.
    /// Python: `t.print_log2_hist(val_type, section_header, section_print_fn, bucket_fn,
    /// strip_leading_zero, bucket_sort_fn)`.
    public func printLog2Hist(valType: String = "value", sectionHeader: String = "Bucket ptr",
                              sectionPrintFn: ((DynamicValue) -> String)? = nil,
                              bucketFn: ((DynamicValue) -> DynamicValue)? = nil, strip: Bool = false,
                              bucketSortFn: (([DynamicValue]) -> [DynamicValue])? = nil) throws {
        writeStdout(try log2HistText(valType: valType, sectionHeader: sectionHeader, sectionPrintFn: sectionPrintFn,
                                     bucketFn: bucketFn, strip: strip, bucketSortFn: bucketSortFn))
    }

    /// Prints the table as a linear histogram (the key is the value itself, up to 1024), exactly
    /// as Python BCC does. Python: `t.print_linear_hist(...)`.
    public func printLinearHist(valType: String = "value", sectionHeader: String = "Bucket ptr",
                                sectionPrintFn: ((DynamicValue) -> String)? = nil,
                                bucketFn: ((DynamicValue) -> DynamicValue)? = nil, strip: Bool = false,
                                bucketSortFn: (([DynamicValue]) -> [DynamicValue])? = nil) throws {
        writeStdout(try linearHistText(valType: valType, sectionHeader: sectionHeader, sectionPrintFn: sectionPrintFn,
                                       bucketFn: bucketFn, strip: strip, bucketSortFn: bucketSortFn))
    }
}

/// Writes `text` to stdout through Swift's `print` (so it interleaves correctly with the
/// caller's own prints) and flushes, as Python's print does on a terminal line.
func writeStdout(_ text: String) {
    print(text, terminator: "")
    fflush(nil)
}
