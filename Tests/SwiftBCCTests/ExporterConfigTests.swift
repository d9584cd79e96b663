import Foundation
import SwiftBCCExporter
import Testing

/// swiftbcc-exporter's config parsing: every error names the config line (no kernel needed).
@Suite("Exporter config")
struct ExporterConfigTests {
    /// A valid program, with `metric` as its metrics block (indented under `metrics:`).
    static func config(program extra: String = "", metrics: String) -> String {
        """
        programs:
          - name: p
            text: "BPF_HASH(counts, u32, u64);"
        \(extra)    metrics:
        \(metrics)
        """
    }

    func parseError(_ text: String) -> ConfigError? {
        do {
            _ = try ExporterConfig.parse(text, path: "test.yaml")
            return nil
        } catch {
            return error
        }
    }

    @Test("the shipped configs parse")
    func shippedConfigs() throws {
        let dir = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../examples/exporter").standardized
        let files = try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0.hasSuffix(".yaml") }
        #expect(files.sorted() == ["biolatency.yaml", "execs.yaml", "runqlat.yaml", "syscalls.yaml"])
        for f in files {
            let c = try ExporterConfig.load(path: dir.appendingPathComponent(f).path)
            #expect(c.programs.count == 1 && c.programs[0].metrics.count == 1, "\(f)")
        }
        let sys = try ExporterConfig.load(path: dir.appendingPathComponent("syscalls.yaml").path)
        let m = sys.programs[0].metrics[0]
        #expect(m.name == "swiftbcc_syscalls_total" && m.kind == .counter && m.labels.map(\.name) == ["comm"])
        #expect(sys.programs[0].tracepoints.map(\.target) == ["raw_syscalls:sys_enter"])
        let bio = try ExporterConfig.load(path: dir.appendingPathComponent("biolatency.yaml").path).programs[0].metrics[0]
        #expect(bio.kind == .histogram && bio.histogram?.bucketMultiplier == 0.000001 && bio.labels.last?.name == "bucket")
    }

    @Test("a complete config parses into its model, with each item's line")
    func model() throws {
        let text = """
        programs:
          - name: p
            text: "int f(void *ctx) { return 0; }"
            cflags: ["-DX=1"]
            tracepoints:
              - tracepoint: sched:sched_switch
                function: f
            raw_tracepoints:
              - tracepoint: sys_enter
                function: f
            uprobes:
              - binary: c
                symbol: getpid
                function: f
            perf_events:
              - type: software
                config: cpu-clock
                sample_frequency: 99
                function: f
            metrics:
              counters:
                - name: a_total
                  help: A.
                  table: t
                  labels:
                    - name: sys
                      decoders:
                        - name: syscall
                        - name: static_map
                          static_map: {read: r}
                          default: other
              gauges:
                - name: g
                  help: G.
                  table: t2
                  value_field: v
              histograms:
                - name: h_seconds
                  help: H.
                  table: t3
                  bucket_type: linear
                  bucket_max: 9
                  bucket_width: 10
                  labels:
                    - name: bucket
        """
        let c = try ExporterConfig.parse(text, path: "x.yaml")
        let p = try #require(c.programs.first)
        #expect(p.cflags == ["-DX=1"])
        #expect(p.tracepoints.first?.location.line == 6 && p.rawTracepoints.first?.target == "sys_enter")
        #expect(p.uprobes.first?.symbol == "getpid" && p.uprobes.first?.pid == -1)
        #expect(p.perfEvents.first?.type == 1 && p.perfEvents.first?.config == 0 && p.perfEvents.first?.sampleFrequency == 99)
        #expect(p.metrics.map(\.kind) == [.counter, .gauge, .histogram])
        #expect(p.metrics[0].location.line == 22 && p.metrics[0].labels[0].decoders.count == 2)
        #expect(p.metrics[1].valueField == "v")
        #expect(p.metrics[2].histogram?.bucketType == .linear && p.metrics[2].histogram?.bucketWidth == 10)
    }

    struct Case: CustomTestStringConvertible, Sendable {
        let what: String
        let yaml: String
        let line: Int
        let message: String
        var testDescription: String { what }
    }

    static let cases: [Case] = [
        Case(what: "unknown top-level field", yaml: "programz: []\n", line: 1, message: "unknown field `programz` in the config"),
        Case(what: "unknown program field", yaml: "programs:\n  - name: p\n    txt: x\n", line: 3, message: "unknown field `txt` in a program"),
        Case(what: "no source", yaml: "programs:\n  - name: p\n", line: 2, message: "needs its BPF C source"),
        Case(what: "programs not a list", yaml: "programs: 5\n", line: 1, message: "`programs` must be a list, not an integer (5)"),
        Case(what: "cflags of the wrong type", yaml: "programs:\n  - name: p\n    text: x\n    cflags: {a: 1}\n", line: 4,
             message: "`cflags` must be a list, not a mapping"),
        Case(what: "a missing source file", yaml: "programs:\n  - name: p\n    file: /nonexistent/prog.c\n", line: 3,
             message: "cannot read the source file /nonexistent/prog.c"),
        Case(what: "text and file", yaml: "programs:\n  - name: p\n    text: x\n    file: /etc/hostname\n", line: 4, message: "both `text` and `file`"),
        Case(what: "a tracepoint without category", yaml: "programs:\n  - name: p\n    text: x\n    tracepoints:\n      - tracepoint: sched_switch\n        function: f\n",
             line: 5, message: "must be written category:event"),
        Case(what: "a tracepoint without function", yaml: "programs:\n  - name: p\n    text: x\n    tracepoints:\n      - tracepoint: a:b\n",
             line: 5, message: "needs `function`"),
        Case(what: "a perf event with both period and frequency",
             yaml: "programs:\n  - name: p\n    text: x\n    perf_events:\n      - {type: software, config: cpu-clock, sample_period: 1, sample_frequency: 2, function: f}\n",
             line: 5, message: "one of `sample_period` or `sample_frequency`"),
        Case(what: "an unknown perf event config", yaml: "programs:\n  - name: p\n    text: x\n    perf_events:\n      - {type: software, config: cycles, sample_period: 1, function: f}\n",
             line: 5, message: "`config` must be a number or one of"),
        Case(what: "an unknown metric kind", yaml: config(metrics: "      summaries: []"), line: 5, message: "unknown field `summaries` in the metrics"),
        Case(what: "a counter without help", yaml: config(metrics: "      counters:\n        - name: a_total\n          table: counts"), line: 6,
             message: "a counter needs `help`"),
        Case(what: "a bad metric name", yaml: config(metrics: "      counters:\n        - name: bad-name\n          help: h\n          table: counts"), line: 6,
             message: "`bad-name` is not a Prometheus metric name"),
        Case(what: "a bad label name", yaml: config(metrics: "      counters:\n        - name: a\n          help: h\n          table: counts\n          labels:\n            - name: 9x"),
             line: 10, message: "`9x` is not a Prometheus label name"),
        Case(what: "a label listed twice", yaml: config(metrics: "      counters:\n        - name: a\n          help: h\n          table: counts\n          labels:\n            - name: x\n            - name: x"),
             line: 11, message: "label `x` appears twice"),
        Case(what: "an unknown decoder", yaml: config(metrics: "      counters:\n        - name: a\n          help: h\n          table: counts\n          labels:\n            - name: x\n              decoders:\n                - name: sym"),
             line: 12, message: "unknown decoder `sym`"),
        Case(what: "static_map first", yaml: config(metrics: "      counters:\n        - name: a\n          help: h\n          table: counts\n          labels:\n            - name: x\n              decoders:\n                - name: static_map\n                  static_map: {1: one}"),
             line: 12, message: "put a decoder that reads the key first"),
        Case(what: "static_map not a mapping", yaml: config(metrics: "      counters:\n        - name: a\n          help: h\n          table: counts\n          labels:\n            - name: x\n              decoders:\n                - name: uint\n                - name: static_map\n                  static_map: [1, 2]"),
             line: 14, message: "`static_map` must be a mapping"),
        Case(what: "a decoder option it does not take", yaml: config(metrics: "      counters:\n        - name: a\n          help: h\n          table: counts\n          labels:\n            - name: x\n              decoders:\n                - name: uint\n                  default: 3"),
             line: 13, message: "decoder `uint` takes no `default`"),
        Case(what: "usym without the process", yaml: config(metrics: "      counters:\n        - name: a\n          help: h\n          table: counts\n          labels:\n            - name: x\n              decoders:\n                - name: usym"),
             line: 12, message: "decoder `usym` needs the process the address belongs to: `pid_field: <key member>`"),
        Case(what: "usym with both pid_field and pid", yaml: config(metrics: "      counters:\n        - name: a\n          help: h\n          table: counts\n          labels:\n            - name: x\n              decoders:\n                - {name: usym, pid_field: pid, pid: 3}"),
             line: 12, message: "or `pid: N`, one of the two"),
        Case(what: "usym with a pid that is not a process id", yaml: config(metrics: "      counters:\n        - name: a\n          help: h\n          table: counts\n          labels:\n            - name: x\n              decoders:\n                - {name: usym, pid: -4}"),
             line: 12, message: "`pid` must be a process id"),
        Case(what: "usym with an option it does not take", yaml: config(metrics: "      counters:\n        - name: a\n          help: h\n          table: counts\n          labels:\n            - name: x\n              decoders:\n                - {name: usym, pid: 3, default: x}"),
             line: 12, message: "decoder `usym` takes `pid_field` or `pid`, not `default`"),
        Case(what: "value_field on a histogram", yaml: config(metrics: "      histograms:\n        - name: h\n          help: h\n          table: counts\n          bucket_max: 3\n          value_field: v"),
             line: 10, message: "unknown field `value_field` in a histogram"),
        Case(what: "a histogram without bucket_max", yaml: config(metrics: "      histograms:\n        - name: h\n          help: h\n          table: counts\n          labels: [{name: bucket}]"),
             line: 6, message: "needs `bucket_max`"),
        Case(what: "bucket_max of the wrong type", yaml: config(metrics: "      histograms:\n        - name: h\n          help: h\n          table: counts\n          bucket_max: ten"),
             line: 9, message: "`bucket_max` must be an integer, not a string (\"ten\")"),
        Case(what: "an unknown bucket type", yaml: config(metrics: "      histograms:\n        - name: h\n          help: h\n          table: counts\n          bucket_type: exp10\n          bucket_max: 3"),
             line: 9, message: "`bucket_type` must be exp2"),
        Case(what: "an exp2 histogram past 64", yaml: config(metrics: "      histograms:\n        - name: h\n          help: h\n          table: counts\n          bucket_max: 65\n          labels: [{name: bucket}]"),
             line: 9, message: "at most 65 buckets"),
        Case(what: "a histogram without its bucket label", yaml: config(metrics: "      histograms:\n        - name: h\n          help: h\n          table: counts\n          bucket_max: 3"),
             line: 6, message: "whose last entry is the bucket index"),
        Case(what: "a metric defined twice",
             yaml: config(metrics: "      counters:\n        - name: a\n          help: h\n          table: counts\n      gauges:\n        - name: a\n          help: h\n          table: counts"),
             line: 10, message: "metric `a` is defined twice (first at line 6)"),
        Case(what: "a YAML syntax error", yaml: "programs:\n  - name: \"p\n    text: x\n", line: 4, message: "YAML syntax"),
        Case(what: "a tab-indented line", yaml: "programs:\n\t- name: p\n", line: 2, message: "YAML syntax"),
    ]

    @Test("each config error names its line", arguments: cases)
    func errors(_ c: Case) throws {
        let error = try #require(parseError(c.yaml), "expected an error for \(c.what)")
        #expect(error.file == "test.yaml")
        #expect(error.line == c.line, "\(error)")
        #expect(error.message.contains(c.message), "\(error)")
        #expect(error.description.hasPrefix("test.yaml:\(c.line):"), "\(error)")
    }

    @Test("a missing config file and an empty one are errors that name the file")
    func missingAndEmpty() {
        do {
            _ = try ExporterConfig.load(path: "/nonexistent/exporter.yaml")
            Issue.record("no error")
        } catch {
            #expect(error.description == "/nonexistent/exporter.yaml: cannot read the config file")
        }
        #expect(parseError("")?.message.contains("the config is empty") == true)
        #expect(parseError("programs: []\n")?.message.contains("at least one entry") == true)
    }

    @Test("--listen parses HOST:PORT")
    func listen() {
        #expect(ExporterServer.parseListen("127.0.0.1:9435")! == ("127.0.0.1", 9435))
        #expect(ExporterServer.parseListen("[::1]:0")! == ("::1", 0))
        #expect(ExporterServer.parseListen("localhost") == nil)
        #expect(ExporterServer.parseListen(":80") == nil)
        #expect(ExporterServer.parseListen("h:99999") == nil)
    }
}
