import Foundation
import Prometheus
import SwiftBCC

/// One metric's series, read from its map at each scrape.
///
/// Each distinct key's labels are decoded once and cached by the key's bytes; keys whose
/// labels are equal add up into one series (a ksym or static_map decoder may map several keys
/// to one name). Series whose keys are gone are removed. The series are written by
/// ``emit(into:)`` in the text exposition format, not kept as swift-prometheus metrics:
/// its registry copies a metric family's whole label dictionary for every series it adds or
/// removes (2.4.1's `MetricFamily.adding`/`removing`), which made the first scrape of a
/// 10,000-key map take 2.3 s of CPU and 100 keys replaced per scrape 118 ms (ExporterBench), and
/// its `Histogram` only records single observations while a BPF histogram arrives bucketed.
/// The exporter's own metrics stay in the registry.
final class MetricCollector: @unchecked Sendable {
    let layout: MetricLayout
    let cgroups: CgroupPaths

    struct Series {
        var labels: [String]
        /// This scrape's total (counters and histograms) or value (gauges).
        var count: UInt64 = 0
        var number: Double = 0
        var buckets: [UInt64]
        /// Values past bucket_max (counted in +Inf and _count only).
        var overflow: UInt64 = 0
        var seen = false
        /// `a="x",b="y"` for histogram lines.
        var rendered: [UInt8]
    }

    private(set) var series: [Series] = []
    private var seriesByLabels: [[String]: Int] = [:]
    /// Key bytes -> (series, bucket slot; -1 under bucket_min is 0, past bucket_max is `buckets.count`).
    private var keyCache: [[UInt8]: (series: Int32, slot: Int32)] = [:]
    let bucketCount: Int
    /// Histogram bucket bounds, as Prometheus's `le` texts.
    let bounds: [Double]
    let boundTexts: [[UInt8]]

    init(layout: MetricLayout, cgroups: CgroupPaths) {
        self.layout = layout
        self.cgroups = cgroups
        if let h = layout.config.histogram {
            bucketCount = h.bucketMax - h.bucketMin + 1
            bounds = (h.bucketMin...h.bucketMax).map { Self.upperBound(index: $0, histogram: h) }
        } else {
            bucketCount = 0
            bounds = []
        }
        boundTexts = bounds.map { Array(Self.format($0).utf8) }
    }

    /// The upper bound of bucket `index`: 2^index (exp2: what `bpf_log2l` puts there is below
    /// it, as in ebpf_exporter) or (index + 1) * width (linear: `value / width`), times the multiplier.
    static func upperBound(index: Int, histogram h: HistogramConfig) -> Double {
        switch h.bucketType {
        case .exp2: return Double(sign: .plus, exponent: index, significand: 1) * h.bucketMultiplier
        case .linear: return Double(index + 1) * h.bucketWidth * h.bucketMultiplier
        }
    }

    static func format(_ d: Double) -> String {
        if d.isNaN { return "NaN" }
        if d.isInfinite { return d > 0 ? "+Inf" : "-Inf" }
        if d == d.rounded(), abs(d) < 1e15 { return String(Int64(d)) }
        return d.description
    }

    var name: String { layout.config.name }

    /// Reads the map (batch lookups) and updates the series. Throws the map read's error, leaving
    /// the previous values in place.
    func update() throws {
        let items = try layout.table.rawItems()
        for i in series.indices {
            series[i].count = 0
            series[i].number = 0
            series[i].overflow = 0
            series[i].seen = false
            if bucketCount > 0 { for b in series[i].buckets.indices { series[i].buckets[b] = 0 } }
        }
        let isGauge = layout.config.kind == .gauge
        let hmin = layout.config.histogram?.bucketMin ?? 0
        for (key, value) in items {
            let cached: (series: Int32, slot: Int32)
            if let c = keyCache[key] {
                cached = c
            } else {
                cached = key.withUnsafeBytes { resolve($0, hmin: hmin) }
                keyCache[key] = cached
            }
            let s = Int(cached.series)
            series[s].seen = true
            value.withUnsafeBytes { v in
                if isGauge {
                    series[s].number += layout.value.number(v)
                } else {
                    let n = layout.value.count(v)
                    series[s].count &+= n
                    if bucketCount > 0 {
                        let slot = Int(cached.slot)
                        if slot < bucketCount { series[s].buckets[slot] &+= n } else { series[s].overflow &+= n }
                    }
                }
            }
        }
        // Keys seen before may be gone: drop the cache when it holds many more keys than the map.
        if keyCache.count > 2 * items.count + 1024 { keyCache.removeAll(keepingCapacity: false) }
        if series.contains(where: { !$0.seen }) { removeUnseen() }
    }

    private func resolve(_ key: UnsafeRawBufferPointer, hmin: Int) -> (series: Int32, slot: Int32) {
        let labels = layout.labels.map { $0.decode(key, cgroups: cgroups) }
        var slot: Int32 = 0
        if let b = layout.bucket {
            let v = b.integerValue(key)
            let index = b.signed ? v.i : (v.u > UInt64(Int64.max) ? Int64.max : Int64(v.u))
            slot = Int32(clamping: Swift.max(0, index - Int64(hmin)))
            if slot > Int32(bucketCount) { slot = Int32(bucketCount) }
        }
        if let i = seriesByLabels[labels] { return (Int32(i), slot) }
        let pairs = zip(layout.labels.map(\.name), labels).map { ($0, $1) }
        series.append(Series(labels: labels, buckets: [UInt64](repeating: 0, count: bucketCount), rendered: Self.render(pairs)))
        seriesByLabels[labels] = series.count - 1
        return (Int32(series.count - 1), slot)
    }

    private func removeUnseen() {
        // Old index -> new index (-1: removed); cached keys of kept series stay cached.
        var remap = [Int32](repeating: -1, count: series.count)
        var kept = 0
        for (i, s) in series.enumerated() where s.seen {
            remap[i] = Int32(kept)
            kept += 1
        }
        series.removeAll { !$0.seen }
        seriesByLabels.removeAll(keepingCapacity: true)
        for (i, s) in series.enumerated() { seriesByLabels[s.labels] = i }
        keyCache = keyCache.compactMapValues { entry in
            let n = remap[Int(entry.series)]
            return n < 0 ? nil : (n, entry.slot)
        }
    }

    static func render(_ labels: [(String, String)]) -> [UInt8] {
        var out: [UInt8] = []
        for (i, (k, v)) in labels.enumerated() {
            if i > 0 { out.append(UInt8(ascii: ",")) }
            out.append(contentsOf: k.utf8)
            out.append(contentsOf: "=\"".utf8)
            for b in v.utf8 {
                switch b {
                case UInt8(ascii: "\\"): out.append(contentsOf: #"\\"#.utf8)
                case UInt8(ascii: "\""): out.append(contentsOf: #"\""#.utf8)
                case UInt8(ascii: "\n"): out.append(contentsOf: #"\n"#.utf8)
                default: out.append(b)
                }
            }
            out.append(UInt8(ascii: "\""))
        }
        return out
    }

    /// Writes the family in the text exposition format: `# HELP`, `# TYPE`, one line per
    /// series; for histograms cumulative `le` buckets, `+Inf`, `_sum` (each bucket's count
    /// times its upper bound, as ebpf_exporter approximates it) and `_count`.
    func emit(into out: inout [UInt8]) {
        guard !series.isEmpty else { return }
        let name = Array(self.name.utf8)
        out.append(contentsOf: "# HELP ".utf8)
        out.append(contentsOf: name)
        out.append(UInt8(ascii: " "))
        for b in layout.config.help.utf8 {
            if b == UInt8(ascii: "\\") { out.append(contentsOf: #"\\"#.utf8) } else if b == UInt8(ascii: "\n") { out.append(contentsOf: #"\n"#.utf8) } else { out.append(b) }
        }
        out.append(contentsOf: "\n# TYPE ".utf8)
        out.append(contentsOf: name)
        out.append(UInt8(ascii: " "))
        out.append(contentsOf: layout.config.kind.rawValue.utf8)
        out.append(UInt8(ascii: "\n"))
        guard bucketCount > 0 else {
            let isGauge = layout.config.kind == .gauge
            for s in series {
                out.append(contentsOf: name)
                if !s.rendered.isEmpty {
                    out.append(UInt8(ascii: "{"))
                    out.append(contentsOf: s.rendered)
                    out.append(UInt8(ascii: "}"))
                }
                out.append(UInt8(ascii: " "))
                out.append(contentsOf: (isGauge ? Self.format(s.number) : String(s.count)).utf8)
                out.append(UInt8(ascii: "\n"))
            }
            return
        }
        for s in series {
            var cumulative: UInt64 = 0
            var sum = 0.0
            func open(_ suffix: String) {
                out.append(contentsOf: name)
                out.append(contentsOf: suffix.utf8)
                out.append(UInt8(ascii: "{"))
                out.append(contentsOf: s.rendered)
            }
            for i in 0..<bucketCount {
                cumulative &+= s.buckets[i]
                sum += Double(s.buckets[i]) * bounds[i]
                open("_bucket")
                if !s.rendered.isEmpty { out.append(UInt8(ascii: ",")) }
                out.append(contentsOf: "le=\"".utf8)
                out.append(contentsOf: boundTexts[i])
                out.append(contentsOf: "\"} ".utf8)
                out.append(contentsOf: String(cumulative).utf8)
                out.append(UInt8(ascii: "\n"))
            }
            // Past bucket_max: counted as the last bound, so _sum stays finite.
            sum += Double(s.overflow) * (bounds.last ?? 0)
            open("_bucket")
            if !s.rendered.isEmpty { out.append(UInt8(ascii: ",")) }
            out.append(contentsOf: "le=\"+Inf\"} ".utf8)
            out.append(contentsOf: String(s.count).utf8)
            out.append(UInt8(ascii: "\n"))
            open("_sum")
            out.append(contentsOf: "} ".utf8)
            out.append(contentsOf: Self.format(sum).utf8)
            out.append(UInt8(ascii: "\n"))
            open("_count")
            out.append(contentsOf: "} ".utf8)
            out.append(contentsOf: String(s.count).utf8)
            out.append(UInt8(ascii: "\n"))
        }
    }
}

extension MetricNameDescriptor {
    /// A descriptor for a full metric name (the config's names are already whole).
    static func named(_ name: String, help: String) -> MetricNameDescriptor {
        MetricNameDescriptor(metricName: name, unitName: "", helpText: help)
    }
}
