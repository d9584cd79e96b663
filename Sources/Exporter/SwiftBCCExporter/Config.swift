import Foundation
import Yams

/// A config error: the file, the line (and column) it is about, and what is wrong.
/// `description` reads `FILE:LINE:COLUMN: message`, as a compiler's diagnostics do.
public struct ConfigError: Error, CustomStringConvertible, Sendable {
    public let file: String
    /// 1-based; nil when the error is about the whole file.
    public let line: Int?
    public let column: Int?
    public let message: String

    public init(file: String, line: Int?, column: Int?, message: String) {
        self.file = file
        self.line = line
        self.column = column
        self.message = message
    }

    public var description: String {
        var where_ = file
        if let line { where_ += ":\(line)" }
        if let column { where_ += ":\(column)" }
        return "\(where_): \(message)"
    }
}

/// A place in the config file, for errors found after parsing (when the program is compiled).
public struct ConfigLocation: Sendable, Hashable, CustomStringConvertible {
    public let file: String
    public let line: Int
    public let column: Int
    public var description: String { "\(file):\(line):\(column)" }

    func error(_ message: String) -> ConfigError {
        ConfigError(file: file, line: line, column: column, message: message)
    }
}

/// The exporter's configuration (see docs/Exporter.md): programs, each with its BPF C source,
/// its attachments and the metrics read from its maps.
public struct ExporterConfig: Sendable {
    public var programs: [ProgramConfig]
    /// The config file's path (errors name it; `file:` sources are relative to its directory).
    public var path: String
}

public struct ProgramConfig: Sendable {
    public enum Source: Sendable { case text(String), file(String) }
    public var name: String
    public var source: Source
    public var cflags: [String]
    public var tracepoints: [Attach]
    public var rawTracepoints: [Attach]
    public var kprobes: [Attach]
    public var kretprobes: [Attach]
    public var uprobes: [Uprobe]
    public var perfEvents: [PerfEvent]
    public var metrics: [MetricConfig]
    public var location: ConfigLocation

    /// A tracepoint, raw tracepoint or kprobe: the target and the program's function.
    public struct Attach: Sendable {
        public var target: String
        public var function: String
        public var location: ConfigLocation
    }

    public struct Uprobe: Sendable {
        /// A library name (`c`), or a path to a binary.
        public var binary: String
        public var symbol: String
        public var function: String
        public var pid: Int32
        public var isReturn: Bool
        public var location: ConfigLocation
    }

    public struct PerfEvent: Sendable {
        public var type: UInt32
        public var config: UInt64
        public var samplePeriod: UInt64
        public var sampleFrequency: UInt64
        public var function: String
        public var location: ConfigLocation
    }
}

public struct MetricConfig: Sendable {
    public enum Kind: String, Sendable { case counter, gauge, histogram }
    public var kind: Kind
    public var name: String
    public var help: String
    /// The map (`BPF_HASH`, `BPF_ARRAY`, `BPF_HISTOGRAM`, per-CPU kinds) the metric reads.
    public var table: String
    public var labels: [LabelConfig]
    /// For a struct value: the member holding the number.
    public var valueField: String?
    public var histogram: HistogramConfig?
    public var location: ConfigLocation
}

public struct HistogramConfig: Sendable {
    public enum BucketType: String, Sendable { case exp2, linear }
    public var bucketType: BucketType
    public var bucketMin: Int
    public var bucketMax: Int
    /// Multiplies every bucket bound (e.g. 1e-6 to export microsecond buckets as seconds).
    public var bucketMultiplier: Double
    /// The width of a linear bucket (in the map's unit, before the multiplier).
    public var bucketWidth: Double
}

public struct LabelConfig: Sendable {
    public var name: String
    /// The key member the label is decoded from; nil: the key's members in order (or the
    /// whole key when it is not a struct).
    public var field: String?
    public var decoders: [DecoderConfig]
    public var location: ConfigLocation
}

public struct DecoderConfig: Sendable {
    public enum Kind: Sendable {
        /// Integers as decimal (signed or unsigned as the C type is).
        case uint, int
        /// `0x`-prefixed hexadecimal.
        case hex
        /// A `char[N]` up to its first NUL.
        case string
        /// A kernel address as its symbol (`BPF.ksym`).
        case ksym
        /// A user-space address as its symbol in the process whose pid is key member
        /// `pidField`, or the fixed `pid` (`BPF.sym(_:pid:)`).
        case usym(pidField: String?, pid: Int32?)
        /// A system call number as its name (`BPF.syscallName`).
        case syscall
        /// A cgroup id as its path under /sys/fs/cgroup.
        case cgroup
        /// The previous decoder's text looked up in a table; `defaultValue` (or the text
        /// itself) when absent.
        case staticMap([String: String], defaultValue: String?)
    }
    public var kind: Kind
    public var location: ConfigLocation

    /// Decoders that read the key's bytes (the others rewrite the previous decoder's text).
    var readsBytes: Bool {
        if case .staticMap = kind { return false }
        return true
    }

    var name: String {
        switch kind {
        case .uint: return "uint"
        case .int: return "int"
        case .hex: return "hex"
        case .string: return "string"
        case .ksym: return "ksym"
        case .usym: return "usym"
        case .syscall: return "syscall"
        case .cgroup: return "cgroup"
        case .staticMap: return "static_map"
        }
    }
}

// MARK: Parsing

extension ExporterConfig {
    /// Reads and checks the config file at `path` (everything that needs no kernel: structure,
    /// types, names, source files). Every error names the line.
    public static func load(path: String) throws(ConfigError) -> ExporterConfig {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ConfigError(file: path, line: nil, column: nil, message: "cannot read the config file")
        }
        return try parse(String(decoding: data, as: UTF8.self), path: path)
    }

    /// Parses config `text`; `path` names it in errors and anchors relative `file:` sources.
    public static func parse(_ text: String, path: String = "<config>") throws(ConfigError) -> ExporterConfig {
        let root: Node?
        do {
            root = try Yams.compose(yaml: text)
        } catch let error as YamlError {
            throw YAMLReader.syntaxError(error, file: path)
        } catch {
            throw ConfigError(file: path, line: nil, column: nil, message: "not YAML: \(error)")
        }
        guard let root else {
            throw ConfigError(file: path, line: nil, column: nil, message: "the config is empty; it needs `programs:`")
        }
        let reader = YAMLReader(file: path)
        return try reader.config(root)
    }
}

/// Walks Yams' node tree, checking every key and type and keeping each node's line.
struct YAMLReader {
    let file: String

    static func syntaxError(_ error: YamlError, file: String) -> ConfigError {
        switch error {
        case let .scanner(context, problem, mark, _), let .parser(context, problem, mark, _),
             let .composer(context, problem, mark, _):
            let ctx = context.map { " (\($0.text))" } ?? ""
            return ConfigError(file: file, line: mark.line, column: mark.column, message: "YAML syntax: \(problem)\(ctx)")
        case let .duplicatedKeysInMapping(duplicates, context):
            return ConfigError(file: file, line: context.mark.line, column: context.mark.column,
                               message: "duplicate keys: \(duplicates.joined(separator: ", "))")
        default:
            return ConfigError(file: file, line: nil, column: nil, message: "YAML: \(error)")
        }
    }

    func location(_ node: Node) -> ConfigLocation {
        ConfigLocation(file: file, line: node.mark?.line ?? 0, column: node.mark?.column ?? 0)
    }

    func error(_ node: Node, _ message: String) -> ConfigError {
        location(node).error(message)
    }

    func typeName(_ node: Node) -> String {
        switch node {
        case .mapping: return "a mapping"
        case .sequence: return "a list"
        case .alias: return "an alias"
        case let .scalar(s):
            switch node.tagName {
            case .int: return "an integer (\(s.string))"
            case .float: return "a number (\(s.string))"
            case .bool: return "a boolean (\(s.string))"
            case .null: return "null"
            default: return "a string (\"\(s.string)\")"
            }
        }
    }

    /// A mapping whose keys are checked against `allowed`.
    struct Object {
        let reader: YAMLReader
        let node: Node
        let what: String
        var entries: [(key: String, keyNode: Node, value: Node)] = []

        init(_ reader: YAMLReader, _ node: Node, what: String, allowed: [String]) throws(ConfigError) {
            self.reader = reader
            self.node = node
            self.what = what
            guard case let .mapping(m) = node else {
                throw reader.error(node, "\(what) must be a mapping, not \(reader.typeName(node))")
            }
            for (k, v) in m {
                guard case let .scalar(s) = k else { throw reader.error(k, "\(what): keys must be names") }
                guard allowed.contains(s.string) else {
                    throw reader.error(k, "unknown field `\(s.string)` in \(what) (allowed: \(allowed.joined(separator: ", ")))")
                }
                entries.append((s.string, k, v))
            }
        }

        func value(_ key: String) -> Node? {
            entries.first { $0.key == key }?.value
        }

        func required(_ key: String) throws(ConfigError) -> Node {
            guard let v = value(key) else { throw reader.error(node, "\(what) needs `\(key)`") }
            return v
        }

        func string(_ key: String) throws(ConfigError) -> String? {
            guard let v = value(key) else { return nil }
            guard case let .scalar(s) = v, v.tagName != .null else {
                throw reader.error(v, "`\(key)` must be a string, not \(reader.typeName(v))")
            }
            return s.string
        }

        func requiredString(_ key: String) throws(ConfigError) -> String {
            _ = try required(key)
            let s = try string(key)!
            guard !s.isEmpty else { throw reader.error(try required(key), "`\(key)` must not be empty") }
            return s
        }

        func int(_ key: String) throws(ConfigError) -> Int? {
            guard let v = value(key) else { return nil }
            guard case .scalar = v, v.tagName == .int, let i = v.int else {
                throw reader.error(v, "`\(key)` must be an integer, not \(reader.typeName(v))")
            }
            return i
        }

        func double(_ key: String) throws(ConfigError) -> Double? {
            guard let v = value(key) else { return nil }
            guard case .scalar = v, v.tagName == .int || v.tagName == .float, let d = v.float else {
                throw reader.error(v, "`\(key)` must be a number, not \(reader.typeName(v))")
            }
            return d
        }

        func bool(_ key: String) throws(ConfigError) -> Bool? {
            guard let v = value(key) else { return nil }
            guard case .scalar = v, v.tagName == .bool, let b = v.bool else {
                throw reader.error(v, "`\(key)` must be true or false, not \(reader.typeName(v))")
            }
            return b
        }

        func list(_ key: String) throws(ConfigError) -> [Node] {
            guard let v = value(key) else { return [] }
            if v.tagName == .null { return [] }
            guard case let .sequence(seq) = v else {
                throw reader.error(v, "`\(key)` must be a list, not \(reader.typeName(v))")
            }
            return Array(seq)
        }

        func stringList(_ key: String) throws(ConfigError) -> [String] {
            var out: [String] = []
            for n in try list(key) {
                guard case let .scalar(s) = n, n.tagName != .null else {
                    throw reader.error(n, "`\(key)` must be a list of strings; this item is \(reader.typeName(n))")
                }
                out.append(s.string)
            }
            return out
        }
    }

    func config(_ root: Node) throws(ConfigError) -> ExporterConfig {
        let top = try Object(self, root, what: "the config", allowed: ["programs"])
        let programNodes = try top.list("programs")
        guard !programNodes.isEmpty else { throw error(root, "the config needs at least one entry in `programs:`") }
        var programs: [ProgramConfig] = []
        var programNames: [String: ConfigLocation] = [:]
        var metricNames: [String: ConfigLocation] = [:]
        for node in programNodes {
            let p = try program(node)
            if let other = programNames[p.name] {
                throw error(node, "program `\(p.name)` is defined twice (first at line \(other.line))")
            }
            programNames[p.name] = p.location
            for m in p.metrics {
                if let other = metricNames[m.name] {
                    throw m.location.error("metric `\(m.name)` is defined twice (first at line \(other.line))")
                }
                metricNames[m.name] = m.location
            }
            programs.append(p)
        }
        return ExporterConfig(programs: programs, path: file)
    }

    func program(_ node: Node) throws(ConfigError) -> ProgramConfig {
        let o = try Object(self, node, what: "a program", allowed: [
            "name", "text", "file", "cflags", "tracepoints", "raw_tracepoints", "kprobes", "kretprobes",
            "uprobes", "uretprobes", "perf_events", "metrics",
        ])
        let name = try o.requiredString("name")
        let what = "program `\(name)`"
        let source: ProgramConfig.Source
        switch (try o.string("text"), try o.string("file")) {
        case let (text?, nil): source = .text(text)
        case let (nil, path?):
            let resolved = path.hasPrefix("/") ? path
                : URL(fileURLWithPath: file).deletingLastPathComponent().appendingPathComponent(path).path
            guard FileManager.default.isReadableFile(atPath: resolved) else {
                throw error(o.value("file")!, "\(what): cannot read the source file \(resolved)")
            }
            source = .file(resolved)
        case (_?, _?): throw error(o.value("file")!, "\(what) has both `text` and `file`; give one")
        case (nil, nil): throw error(node, "\(what) needs its BPF C source: `text:` or `file:`")
        }
        let cflags = try o.stringList("cflags")
        func attaches(_ key: String, targetKey: String, what kind: String) throws(ConfigError) -> [ProgramConfig.Attach] {
            var out: [ProgramConfig.Attach] = []
            for n in try o.list(key) {
                let a = try Object(self, n, what: "a \(kind) of \(what)", allowed: [targetKey, "function"])
                out.append(.init(target: try a.requiredString(targetKey), function: try a.requiredString("function"),
                                 location: location(n)))
            }
            return out
        }
        let tracepoints = try attaches("tracepoints", targetKey: "tracepoint", what: "tracepoint")
        for t in tracepoints {
            let parts = t.target.split(separator: ":", omittingEmptySubsequences: false)
            guard parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty else {
                throw t.location.error("tracepoint `\(t.target)` must be written category:event (e.g. sched:sched_switch)")
            }
        }
        let raw = try attaches("raw_tracepoints", targetKey: "tracepoint", what: "raw tracepoint")
        let kprobes = try attaches("kprobes", targetKey: "kprobe", what: "kprobe")
        let kretprobes = try attaches("kretprobes", targetKey: "kretprobe", what: "kretprobe")
        var uprobes: [ProgramConfig.Uprobe] = []
        for (key, isReturn) in [("uprobes", false), ("uretprobes", true)] {
            for n in try o.list(key) {
                let u = try Object(self, n, what: "an entry of `\(key)` of \(what)",
                                   allowed: ["binary", "symbol", "function", "pid"])
                let pid = try u.int("pid") ?? -1
                guard pid >= -1, pid <= Int(Int32.max) else { throw error(u.value("pid")!, "`pid` must be a pid or -1 (every process)") }
                uprobes.append(.init(binary: try u.requiredString("binary"), symbol: try u.requiredString("symbol"),
                                     function: try u.requiredString("function"), pid: Int32(pid), isReturn: isReturn,
                                     location: location(n)))
            }
        }
        var perfEvents: [ProgramConfig.PerfEvent] = []
        for n in try o.list("perf_events") {
            let e = try Object(self, n, what: "a perf event of \(what)",
                               allowed: ["type", "config", "sample_period", "sample_frequency", "function"])
            let (type, config) = try perfEventType(e)
            let period = try e.int("sample_period") ?? 0
            let freq = try e.int("sample_frequency") ?? 0
            guard period >= 0, freq >= 0, (period > 0) != (freq > 0) else {
                throw error(n, "a perf event needs one of `sample_period` or `sample_frequency` (a positive integer)")
            }
            perfEvents.append(.init(type: type, config: config, samplePeriod: UInt64(period), sampleFrequency: UInt64(freq),
                                    function: try e.requiredString("function"), location: location(n)))
        }
        var metrics: [MetricConfig] = []
        if let mnode = o.value("metrics") {
            let m = try Object(self, mnode, what: "the metrics of \(what)", allowed: ["counters", "gauges", "histograms"])
            for (key, kind) in [("counters", MetricConfig.Kind.counter), ("gauges", .gauge), ("histograms", .histogram)] {
                for n in try m.list(key) { metrics.append(try metric(n, kind: kind)) }
            }
        }
        return ProgramConfig(name: name, source: source, cflags: cflags, tracepoints: tracepoints, rawTracepoints: raw,
                             kprobes: kprobes, kretprobes: kretprobes, uprobes: uprobes, perfEvents: perfEvents,
                             metrics: metrics, location: location(node))
    }

    static let perfTypes: [String: UInt32] = ["hardware": 0, "software": 1, "tracepoint": 2, "hw_cache": 3, "raw": 4]
    static let softwareConfigs: [String: UInt64] = [
        "cpu-clock": 0, "task-clock": 1, "page-faults": 2, "context-switches": 3, "cpu-migrations": 4,
        "minor-faults": 5, "major-faults": 6,
    ]
    static let hardwareConfigs: [String: UInt64] = [
        "cpu-cycles": 0, "instructions": 1, "cache-references": 2, "cache-misses": 3, "branch-instructions": 4,
        "branch-misses": 5, "bus-cycles": 6, "ref-cpu-cycles": 9,
    ]

    func perfEventType(_ e: Object) throws(ConfigError) -> (UInt32, UInt64) {
        let typeNode = try e.required("type")
        let type: UInt32
        if let i = try? e.int("type") {
            type = UInt32(clamping: i)
        } else if let s = try e.string("type"), let t = Self.perfTypes[s] {
            type = t
        } else {
            throw error(typeNode, "perf event `type` must be one of \(Self.perfTypes.keys.sorted().joined(separator: ", ")) or a number")
        }
        let configNode = try e.required("config")
        if let i = try? e.int("config") { return (type, UInt64(clamping: i)) }
        let names = type == 1 ? Self.softwareConfigs : type == 0 ? Self.hardwareConfigs : [:]
        if let s = try e.string("config"), let c = names[s] { return (type, c) }
        throw error(configNode, "perf event `config` must be a number"
            + (names.isEmpty ? "" : " or one of \(names.keys.sorted().joined(separator: ", "))"))
    }

    static func isValidMetricName(_ s: String) -> Bool {
        guard let f = s.unicodeScalars.first, f.isASCIILetter || f == "_" || f == ":" else { return false }
        return s.unicodeScalars.allSatisfy { $0.isASCIILetter || $0.isASCIIDigit || $0 == "_" || $0 == ":" }
    }

    static func isValidLabelName(_ s: String) -> Bool {
        guard let f = s.unicodeScalars.first, f.isASCIILetter || f == "_", !s.hasPrefix("__") else { return false }
        return s.unicodeScalars.allSatisfy { $0.isASCIILetter || $0.isASCIIDigit || $0 == "_" }
    }

    func metric(_ node: Node, kind: MetricConfig.Kind) throws(ConfigError) -> MetricConfig {
        var allowed = ["name", "help", "table", "labels"]
        if kind == .histogram {
            allowed += ["bucket_type", "bucket_min", "bucket_max", "bucket_multiplier", "bucket_width"]
        } else {
            allowed += ["value_field"]
        }
        let o = try Object(self, node, what: "a \(kind.rawValue)", allowed: allowed)
        let name = try o.requiredString("name")
        guard Self.isValidMetricName(name) else {
            throw error(o.value("name")!, "`\(name)` is not a Prometheus metric name ([a-zA-Z_:][a-zA-Z0-9_:]*)")
        }
        let help = try o.requiredString("help")
        let table = try o.requiredString("table")
        var labels: [LabelConfig] = []
        for n in try o.list("labels") {
            let l = try label(n)
            if labels.contains(where: { $0.name == l.name }) { throw error(n, "label `\(l.name)` appears twice in `\(name)`") }
            labels.append(l)
        }
        var histogram: HistogramConfig?
        if kind == .histogram {
            let typeText = try o.string("bucket_type") ?? "exp2"
            guard let bucketType = HistogramConfig.BucketType(rawValue: typeText) else {
                throw error(o.value("bucket_type")!, "`bucket_type` must be exp2 (a BPF log2 histogram: bpf_log2l) or linear")
            }
            let minB = try o.int("bucket_min") ?? 0
            guard let maxB = try o.int("bucket_max") else {
                throw error(node, "histogram `\(name)` needs `bucket_max` (the highest bucket index the map holds)")
            }
            guard minB >= 0, maxB >= minB, maxB - minB < 4096 else {
                throw error(o.value("bucket_max")!, "`bucket_min`..`bucket_max` must be 0 <= min <= max, at most 4096 buckets")
            }
            if bucketType == .exp2 && maxB > 64 {
                throw error(o.value("bucket_max")!, "an exp2 histogram has at most 65 buckets (bucket_max <= 64)")
            }
            let mult = try o.double("bucket_multiplier") ?? 1
            guard mult > 0 else { throw error(o.value("bucket_multiplier")!, "`bucket_multiplier` must be positive") }
            let width = try o.double("bucket_width") ?? 1
            guard width > 0 else { throw error(o.value("bucket_width")!, "`bucket_width` must be positive") }
            guard let last = labels.last else {
                throw error(node, "histogram `\(name)` needs `labels:` whose last entry is the bucket index (e.g. `- name: bucket`)")
            }
            if let le = labels.dropLast().first(where: { $0.name == "le" }) {
                throw le.location.error("`le` is the bucket label Prometheus adds; name your label otherwise")
            }
            _ = last
            histogram = HistogramConfig(bucketType: bucketType, bucketMin: minB, bucketMax: maxB,
                                        bucketMultiplier: mult, bucketWidth: width)
        }
        return MetricConfig(kind: kind, name: name, help: help, table: table, labels: labels,
                            valueField: kind == .histogram ? nil : try o.string("value_field"),
                            histogram: histogram, location: location(node))
    }

    func label(_ node: Node) throws(ConfigError) -> LabelConfig {
        let o = try Object(self, node, what: "a label", allowed: ["name", "field", "decoders"])
        let name = try o.requiredString("name")
        guard Self.isValidLabelName(name) else {
            throw error(o.value("name")!, "`\(name)` is not a Prometheus label name ([a-zA-Z_][a-zA-Z0-9_]*, not starting with __)")
        }
        var decoders: [DecoderConfig] = []
        for n in try o.list("decoders") {
            let d = try decoder(n)
            if decoders.isEmpty && !d.readsBytes {
                throw error(n, "label `\(name)`: `\(d.name)` rewrites another decoder's text; put a decoder that reads the key first (uint, string, ...)")
            }
            if !decoders.isEmpty && d.readsBytes {
                throw error(n, "label `\(name)`: `\(d.name)` reads the key's bytes, so it must be the first decoder")
            }
            decoders.append(d)
        }
        return LabelConfig(name: name, field: try o.string("field"), decoders: decoders, location: location(node))
    }

    func decoder(_ node: Node) throws(ConfigError) -> DecoderConfig {
        let o = try Object(self, node, what: "a decoder", allowed: ["name", "static_map", "default", "pid_field", "pid"])
        let nameNode = try o.required("name")
        let name = try o.requiredString("name")
        let simple: [String: DecoderConfig.Kind] = [
            "uint": .uint, "int": .int, "hex": .hex, "string": .string, "ksym": .ksym, "syscall": .syscall, "cgroup": .cgroup,
        ]
        if name == "usym" {
            if let extra = o.entries.first(where: { !["name", "pid_field", "pid"].contains($0.key) }) {
                throw error(extra.keyNode, "decoder `usym` takes `pid_field` or `pid`, not `\(extra.key)`")
            }
            let field = try o.string("pid_field")
            let pid = try o.int("pid")
            guard (field == nil) != (pid == nil) else {
                throw error(node, "decoder `usym` needs the process the address belongs to: `pid_field: <key member>` "
                    + "(e.g. the `pid` the program stored beside the address) or `pid: N`, one of the two")
            }
            if let pid, pid <= 0 || pid > Int(Int32.max) {
                throw error(o.value("pid")!, "`pid` must be a process id (1...\(Int32.max)), not \(pid)")
            }
            return DecoderConfig(kind: .usym(pidField: field, pid: pid.map { Int32($0) }), location: location(node))
        }
        if let k = simple[name] {
            if let extra = o.entries.first(where: { $0.key != "name" }) {
                throw error(extra.keyNode, "decoder `\(name)` takes no `\(extra.key)`")
            }
            return DecoderConfig(kind: k, location: location(node))
        }
        guard name == "static_map" else {
            throw error(nameNode, "unknown decoder `\(name)` (known: cgroup, hex, int, ksym, static_map, string, syscall, uint, usym)")
        }
        let mapNode = try o.required("static_map")
        guard case let .mapping(m) = mapNode else {
            throw error(mapNode, "`static_map` must be a mapping of values to names, not \(typeName(mapNode))")
        }
        var table: [String: String] = [:]
        for (k, v) in m {
            guard case let .scalar(ks) = k, case let .scalar(vs) = v else {
                throw error(k, "`static_map` entries must be `value: name`")
            }
            table[ks.string] = vs.string
        }
        return DecoderConfig(kind: .staticMap(table, defaultValue: try o.string("default")), location: location(node))
    }
}

extension Unicode.Scalar {
    var isASCIILetter: Bool { (0x41...0x5a).contains(value) || (0x61...0x7a).contains(value) }
    var isASCIIDigit: Bool { (0x30...0x39).contains(value) }
}

extension Node {
    /// The resolved tag's name (`tag:yaml.org,2002:int`, ...).
    var tagName: Tag.Name { Tag.Name(rawValue: tag.rawValue) }
}
