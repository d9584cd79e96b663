import Foundation
import Glibc
@testable import SwiftBCC
@testable import SwiftBCCExporter
import Testing

/// The samples of a text exposition, by series as printed (`name{a="x"}`).
func exposition(_ bytes: [UInt8]) -> [String: Double] {
    var out: [String: Double] = [:]
    for line in String(decoding: bytes, as: UTF8.self).split(separator: "\n") where !line.hasPrefix("#") {
        guard let space = line.lastIndex(of: " ") else { continue }
        let value = line[line.index(after: space)...]
        out[String(line[..<space])] = value == "+Inf" ? .infinity : Double(value)
    }
    return out
}

func loadExporter(_ yaml: String) throws -> Exporter {
    let e = Exporter(config: try ExporterConfig.parse(yaml, path: "test.yaml"))
    try e.load()
    return e
}

func bytes<T>(_ v: T) -> [UInt8] { withUnsafeBytes(of: v) { Array($0) } }

extension KernelSuite {
    /// The exporter's programs on the real kernel: metrics checked against the compiled tables
    /// (each error with its config line, nothing left loaded), and scrapes of maps the test fills.
    @Suite("Exporter maps", .requiresBPF)
    struct ExporterKernelTests {
        static func program(_ fn: String, metrics: String, extra: String = "") -> String {
            """
            programs:
              - name: p
                text: |
                  struct key_t { u32 pid; char comm[16]; };
                  struct pair_t { u64 a; u64 b; };
                  BPF_HASH(counts, struct key_t, u64);
                  BPF_HASH(pairs, u32, struct pair_t);
                  BPF_PERF_OUTPUT(events);
                  int \(fn)(void *ctx) { return 0; }
                tracepoints:
                  - tracepoint: sched:sched_switch
                    function: \(fn)
            \(extra)    metrics:
            \(metrics)
            """
        }

        struct Case: CustomTestStringConvertible, Sendable {
            let what: String
            let metrics: String
            var extra: String = ""
            let line: Int
            let message: String
            var testDescription: String { what }
        }

        static let counter = "      counters:\n        - name: c_total\n          help: h\n"
        static let cases: [Case] = [
            Case(what: "a table the program does not define", metrics: counter + "          table: nope", line: 15,
                 message: "reads table `nope`, which program `p` does not define (it defines: counts, events, pairs)"),
            Case(what: "a label naming a member the key lacks",
                 metrics: counter + "          table: counts\n          labels:\n            - {name: pid, field: pidd}\n            - {name: comm}",
                 line: 19, message: "table `counts`'s key has no member `pidd`"),
            Case(what: "a string decoder on an integer",
                 metrics: counter + "          table: counts\n          labels:\n            - name: pid\n              decoders: [{name: string}]\n            - {name: comm}",
                 line: 20, message: "decoder `string` of label `pid` needs a char[N] member, but key member `pid` (unsigned int) is not one"),
            Case(what: "ksym on a 4-byte member",
                 metrics: counter + "          table: counts\n          labels:\n            - name: pid\n              decoders: [{name: ksym}]\n            - {name: comm}",
                 line: 20, message: "decoder `ksym` of label `pid` needs an integer of 8 bytes"),
            Case(what: "usym on a 4-byte member",
                 metrics: counter + "          table: counts\n          labels:\n            - name: pid\n              decoders: [{name: usym, pid: 1}]\n            - {name: comm}",
                 line: 20, message: "decoder `usym` of label `pid` needs an integer of 8 bytes"),
            Case(what: "a key member without a label",
                 metrics: counter + "          table: counts\n          labels:\n            - {name: comm, field: comm}",
                 line: 15, message: "key member `pid` (unsigned int) of table `counts` has no label"),
            Case(what: "more labels than key members",
                 metrics: counter + "          table: counts\n          labels:\n            - {name: a}\n            - {name: b}\n            - {name: c}",
                 line: 21, message: "fewer than the labels"),
            Case(what: "a struct value without value_field", metrics: counter + "          table: pairs\n          labels: [{name: k}]",
                 line: 15, message: "whose value (struct pair_t) is not a number; name the member with `value_field:`"),
            Case(what: "a value_field the value lacks",
                 metrics: counter + "          table: pairs\n          value_field: c\n          labels: [{name: k}]",
                 line: 15, message: "`value_field: c` of `c_total`: table `pairs`'s value has no such member"),
            Case(what: "a perf output table", metrics: counter + "          table: events", line: 15,
                 message: "a PERF_EVENT_ARRAY map; metrics read HASH"),
            Case(what: "a tracepoint on a function the program lacks", metrics: "      counters: []",
                 extra: "    raw_tracepoints:\n      - {tracepoint: sys_enter, function: nosuch}\n", line: 14,
                 message: "program `p` has no function `nosuch`"),
            Case(what: "a tracepoint this kernel lacks", metrics: "      counters: []",
                 extra: "    tracepoints:\n      - {tracepoint: sched:no_such_event, function: f}\n", line: 11,
                 message: "tracepoint sched:no_such_event does not exist on this kernel"),
        ]

        @Test("a metric that does not fit its compiled table is an error naming the config line; nothing stays loaded",
              arguments: cases)
        func layoutErrors(_ c: Case) throws {
            let fn = uniqueFunctionName("exl")
            var yaml = Self.program(fn, metrics: c.metrics, extra: c.extra)
            if c.extra.contains("tracepoints:\n") && !c.extra.contains("raw_") {
                // Replaces the program's own tracepoint list.
                yaml = yaml.replacingOccurrences(of: "    tracepoints:\n      - tracepoint: sched:sched_switch\n        function: \(fn)\n", with: "")
            }
            let e = Exporter(config: try ExporterConfig.parse(yaml, path: "test.yaml"))
            defer { e.cleanup() }
            let error = try #require(throws: ConfigError.self) { try e.load() }
            #expect(error.line == c.line, "\(error)")
            #expect(error.message.contains(c.message), "\(error)")
            #expect(!loadedProgramNames().contains(fn), "\(fn) left loaded after: \(error)")
            #expect(e.bpf(program: "p") == nil)
        }

        @Test("a program that fails to compile is an error at its line naming clang's message")
        func compileError() throws {
            let e = Exporter(config: try ExporterConfig.parse("programs:\n  - name: broken\n    text: 'int f( {'\n", path: "t.yaml"))
            let error = try #require(throws: ConfigError.self) { try e.load() }
            #expect(error.line == 2 && error.message.contains("program `broken` failed to load"), "\(error)")
        }

        @Test("the second program failing unloads the first: never half a config")
        func noHalfConfig() throws {
            let first = uniqueFunctionName("exa")
            let yaml = """
            programs:
              - name: good
                text: "int \(first)(void *ctx) { return 0; }"
                tracepoints:
                  - {tracepoint: "sched:sched_switch", function: \(first)}
              - name: bad
                text: "BPF_HASH(t, u32, u64);"
                metrics:
                  gauges:
                    - {name: g, help: h, table: missing}
            """
            let e = Exporter(config: try ExporterConfig.parse(yaml, path: "t.yaml"))
            let error = try #require(throws: ConfigError.self) { try e.load() }
            #expect(error.line == 10 && error.message.contains("table `missing`"), "\(error)")
            #expect(eventually(timeout: 5) { !loadedProgramNames().contains(first) }, "\(first) left loaded")
            #expect(e.bpf(program: "good") == nil)
        }

        @Test("auto-attach comes after the metrics are checked: a bad metric is reported, not the attach it would have tried; a good config still auto-attaches")
        func autoAttachAfterLayoutChecks() throws {
            // tracepoint__no_such_category__no_such_event fails to auto-attach on every kernel;
            // before the fix the exporter compiled with auto-attach, so that failure (and an
            // attached program, with a valid name) came before the metric's check.
            let fn = uniqueFunctionName("exo")
            let yaml = """
            programs:
              - name: p
                text: |
                  BPF_HASH(counts, u32, u64);
                  int tracepoint__no_such_category__no_such_event(void *ctx) { return 0; }
                  int \(fn)(void *ctx) { return 0; }
                metrics:
                  counters:
                    - {name: c_total, help: h, table: nope}
            """
            let e = Exporter(config: try ExporterConfig.parse(yaml, path: "t.yaml"))
            defer { e.cleanup() }
            let error = try #require(throws: ConfigError.self) { try e.load() }
            #expect(error.line == 9 && error.message.contains("reads table `nope`"), "\(error)")
            #expect(!error.message.contains("auto-attached"), "\(error)")
            #expect(!loadedProgramNames().contains(fn), "\(fn) left loaded")

            // The same program with a good metric: the auto-attach failure is reported at the program.
            let bad = Exporter(config: try ExporterConfig.parse(yaml.replacingOccurrences(of: "table: nope", with: "table: counts, labels: [{name: k}]"),
                                                                path: "t.yaml"))
            defer { bad.cleanup() }
            let attachError = try #require(throws: ConfigError.self) { try bad.load() }
            #expect(attachError.line == 2 && attachError.message.contains("auto-attached functions"), "\(attachError)")
            #expect(attachError.message.contains("no_such_category:no_such_event"), "\(attachError)")
            #expect(eventually(timeout: 5) { !loadedProgramNames().contains(fn) }, "\(fn) left loaded")
        }

        @Test("kprobes on a kernel without them: an error at the kprobe's line, before anything loads", .requiresNoKprobes)
        func kprobesMissing() throws {
            let yaml = "programs:\n  - name: k\n    text: 'int f(void *ctx) { return 0; }'\n    kprobes:\n      - {kprobe: do_sys_openat2, function: f}\n"
            let e = Exporter(config: try ExporterConfig.parse(yaml, path: "t.yaml"))
            let error = try #require(throws: ConfigError.self) { try e.load() }
            #expect(error.line == 5 && error.message.contains("this kernel has no kprobes"), "\(error)")
        }

        @Test("counters and gauges: labels decoded from the key (uint, string, syscall, ksym, static_map), equal labels summed, per-CPU values summed, deleted keys gone")
        func countersAndGauges() throws {
            let fn = uniqueFunctionName("exc")
            let yaml = """
            programs:
              - name: p
                text: |
                  struct key_t { u32 pid; u32 nr; u64 addr; char comm[16]; };
                  BPF_HASH(counts, struct key_t, u64);
                  BPF_PERCPU_ARRAY(pcpu, u64, 2);
                  BPF_HASH(levels, u32, s64);
                  int \(fn)(void *ctx) { return 0; }
                metrics:
                  counters:
                    - name: t_calls_total
                      help: Calls.
                      table: counts
                      labels:
                        - name: pid
                        - name: sys
                          decoders: [{name: syscall}]
                        - name: where
                          decoders: [{name: ksym}]
                        - name: comm
                          decoders:
                            - name: string
                            - name: static_map
                              static_map: {swx_a: alpha}
                    - name: t_percpu_total
                      help: Per-CPU.
                      table: pcpu
                      labels: [{name: index}]
                  gauges:
                    - name: t_level
                      help: Level.
                      table: levels
                      labels: [{name: id, decoders: [{name: hex}]}]
            """
            let e = try loadExporter(yaml)
            defer { e.cleanup() }
            let b = try #require(e.bpf(program: "p"))
            let counts = try b["counts"]
            let addr = BPF.ksymname("schedule") ?? 0
            let symbol = BPF.ksym(addr)
            func key(pid: UInt32, nr: UInt32, addr: UInt64, comm: String) -> [UInt8] {
                var comm16 = Array(comm.utf8) + [UInt8](repeating: 0, count: 16 - comm.utf8.count)
                comm16 = Array(comm16.prefix(16))
                return bytes(pid) + bytes(nr) + bytes(addr) + comm16
            }
            try counts.update(rawKey: key(pid: 1, nr: 39, addr: addr, comm: "swx_a"), rawValue: bytes(UInt64(5)))
            // Same labels (ksym gives the symbol, not the offset): summed into one series.
            try counts.update(rawKey: key(pid: 1, nr: 39, addr: addr + 1, comm: "swx_a"), rawValue: bytes(UInt64(7)))
            try counts.update(rawKey: key(pid: 2, nr: 0, addr: addr, comm: "swx_b"), rawValue: bytes(UInt64(3)))
            let pcpu = try b["pcpu"]
            let cpus = CPUs.possible.count
            try pcpu.update(rawKey: bytes(UInt32(1)), rawValue: (0..<cpus).flatMap { bytes(UInt64($0 + 1)) })
            try b["levels"].update(rawKey: bytes(UInt32(255)), rawValue: bytes(Int64(-5)))

            var m = exposition(e.scrape())
            #expect(m["t_calls_total{pid=\"1\",sys=\"getpid\",where=\"\(symbol)\",comm=\"alpha\"}"] == 12, "\(m)")
            #expect(m["t_calls_total{pid=\"2\",sys=\"read\",where=\"\(symbol)\",comm=\"swx_b\"}"] == 3, "\(m)")
            #expect(m["t_percpu_total{index=\"1\"}"] == Double(cpus * (cpus + 1) / 2))
            #expect(m["t_percpu_total{index=\"0\"}"] == 0)
            #expect(m["t_level{id=\"0xff\"}"] == -5)
            #expect(m["swiftbcc_exporter_programs_loaded"] == 1)
            #expect(m["swiftbcc_exporter_map_read_errors_total{table=\"counts\"}"] == 0)
            #expect(m["swiftbcc_exporter_scrape_duration_seconds_count"] == 1)

            // A deleted key's series goes; a changed value shows at the next scrape.
            try counts.delete(rawKey: key(pid: 2, nr: 0, addr: addr, comm: "swx_b"))
            try counts.update(rawKey: key(pid: 1, nr: 39, addr: addr, comm: "swx_a"), rawValue: bytes(UInt64(100)))
            m = exposition(e.scrape())
            #expect(m["t_calls_total{pid=\"2\",sys=\"read\",where=\"\(symbol)\",comm=\"swx_b\"}"] == nil, "\(m)")
            #expect(m["t_calls_total{pid=\"1\",sys=\"getpid\",where=\"\(symbol)\",comm=\"alpha\"}"] == 107)
            #expect(m["swiftbcc_exporter_scrape_duration_seconds_count"] == 2)
        }

        @Test("histograms: cumulative le buckets from the map's slots, +Inf and _count the total, _sum from the bucket bounds")
        func histograms() throws {
            let fn = uniqueFunctionName("exh")
            let yaml = """
            programs:
              - name: p
                text: |
                  struct hkey { u32 disk; u32 slot; };
                  BPF_HISTOGRAM(lat, struct hkey, 256);
                  BPF_HISTOGRAM(plain, int, 16);
                  int \(fn)(void *ctx) { return 0; }
                metrics:
                  histograms:
                    - name: t_lat_seconds
                      help: Latency.
                      table: lat
                      bucket_type: exp2
                      bucket_max: 10
                      bucket_multiplier: 0.001
                      labels: [{name: disk}, {name: bucket}]
                    - name: t_size_bytes
                      help: Sizes.
                      table: plain
                      bucket_type: linear
                      bucket_max: 9
                      bucket_width: 10
                      labels: [{name: bucket}]
            """
            let e = try loadExporter(yaml)
            defer { e.cleanup() }
            let b = try #require(e.bpf(program: "p"))
            let lat = try b["lat"]
            let slots: [(disk: UInt32, slot: UInt32, count: UInt64)] = [(1, 2, 3), (1, 5, 4), (1, 12, 1), (2, 0, 2)]
            for s in slots { try lat.update(rawKey: bytes(s.disk) + bytes(s.slot), rawValue: bytes(s.count)) }
            try b["plain"].update(rawKey: bytes(Int32(3)), rawValue: bytes(UInt64(5)))
            let text = e.scrape()
            let m = exposition(text)
            let lines = String(decoding: text, as: UTF8.self).split(separator: "\n")
            #expect(lines.contains("# TYPE t_lat_seconds histogram") && lines.contains("# HELP t_lat_seconds Latency."))

            func le(_ i: Int) -> String { MetricCollector.format(Double(sign: .plus, exponent: i, significand: 1) * 0.001) }
            for disk in [1, 2] {
                var cumulative = 0.0
                var previous = -1.0
                for i in 0...10 {
                    cumulative += Double(slots.filter { Int($0.disk) == disk && Int($0.slot) == i }.map(\.count).reduce(0, +))
                    let v = try #require(m["t_lat_seconds_bucket{disk=\"\(disk)\",le=\"\(le(i))\"}"], "disk \(disk) bucket \(i): \(m)")
                    #expect(v == cumulative, "disk \(disk) le \(le(i))")
                    #expect(v >= previous)
                    previous = v
                }
            }
            #expect(m["t_lat_seconds_bucket{disk=\"1\",le=\"+Inf\"}"] == 8)
            #expect(m["t_lat_seconds_count{disk=\"1\"}"] == 8)
            let sum1 = try #require(m["t_lat_seconds_sum{disk=\"1\"}"])
            #expect(abs(sum1 - (3 * 0.004 + 4 * 0.032 + 1 * 1.024)) < 1e-9, "\(sum1)")
            #expect(m["t_lat_seconds_bucket{disk=\"2\",le=\"0.001\"}"] == 2 && m["t_lat_seconds_count{disk=\"2\"}"] == 2)
            #expect(m["t_lat_seconds_sum{disk=\"2\"}"] == 0.002)
            // Linear: index 3 holds values 30..<40, so its bound is 40.
            #expect(m["t_size_bytes_bucket{le=\"30\"}"] == 0 && m["t_size_bytes_bucket{le=\"40\"}"] == 5)
            #expect(m["t_size_bytes_bucket{le=\"100\"}"] == 5 && m["t_size_bytes_bucket{le=\"+Inf\"}"] == 5)
            #expect(m["t_size_bytes_sum{}"] == 200 && m["t_size_bytes_count{}"] == 5)
        }
        @Test("a uprobe, a raw tracepoint and a perf event from the config attach and count", .requiresUprobes)
        func attachments() throws {
            let up = uniqueFunctionName("exu"), raw = uniqueFunctionName("exr"), perf = uniqueFunctionName("exp")
            let yaml = """
            programs:
              - name: p
                text: |
                  BPF_ARRAY(hits, u64, 3);
                  static int hit(int i) { hits.atomic_increment(i); return 0; }
                  int \(up)(void *ctx) { return hit(0); }
                  int \(raw)(void *ctx) { return hit(1); }
                  int \(perf)(void *ctx) { return hit(2); }
                uprobes:
                  - {binary: c, symbol: getpid, function: \(up), pid: \(getpid())}
                raw_tracepoints:
                  - {tracepoint: sys_enter, function: \(raw)}
                perf_events:
                  - {type: software, config: cpu-clock, sample_frequency: 999, function: \(perf)}
                metrics:
                  counters:
                    - name: t_hits_total
                      help: Hits.
                      table: hits
                      labels:
                        - name: source
                          decoders:
                            - name: uint
                            - {name: static_map, static_map: {"0": uprobe, "1": raw_tracepoint, "2": perf_event}}
            """
            let e = try loadExporter(yaml)
            defer { e.cleanup() }
            for name in [up, raw, perf] { #expect(loadedProgramNames().contains(name), "\(name) not loaded") }
            var m: [String: Double] = [:]
            let ok = eventually(timeout: 10) {
                for _ in 0..<100 { _ = getpid() }
                var x = 0.0
                for i in 0..<2_000_000 { x += Double(i) }  // CPU time for the cpu-clock samples
                _ = x
                m = exposition(e.scrape())
                return ["uprobe", "raw_tracepoint", "perf_event"].allSatisfy { (m["t_hits_total{source=\"\($0)\"}"] ?? 0) > 0 }
            }
            #expect(ok, "\(m.filter { $0.key.hasPrefix("t_hits") })")
            e.cleanup()
            // The kernel frees a detached program after an RCU grace period: wait for it.
            #expect(eventually(timeout: 5) { Set(loadedProgramNames()).isDisjoint(with: [up, raw, perf]) },
                    "left loaded: \(Set(loadedProgramNames()).intersection([up, raw, perf]))")
        }

        @Test("the usym decoder names a user-space address in the process the key (or the config) names", .requiresUprobes)
        func usymLabels() throws {
            let fn = uniqueFunctionName("exusym")
            let me = getpid()
            let yaml = """
            programs:
              - name: p
                text: |
                  #include <uapi/linux/ptrace.h>
                  struct key_t { u32 pid; u64 ip; };
                  BPF_HASH(calls, struct key_t, u64);
                  int \(fn)(struct pt_regs *ctx) {
                      struct key_t k = {};
                      k.pid = bpf_get_current_pid_tgid() >> 32;
                      k.ip = PT_REGS_IP(ctx);
                      calls.increment(k);
                      return 0;
                  }
                uprobes:
                  - {binary: c, symbol: getpid, function: \(fn), pid: \(me)}
                metrics:
                  counters:
                    - name: t_calls_total
                      help: Calls by function.
                      table: calls
                      labels:
                        - {name: pid, field: pid}
                        - name: function
                          field: ip
                          decoders: [{name: usym, pid_field: pid}]
                    - name: t_fixed_total
                      help: The same, with the pid in the config.
                      table: calls
                      labels:
                        - {name: pid, field: pid}
                        - name: function
                          field: ip
                          decoders: [{name: usym, pid: \(me)}]
            """
            let e = try loadExporter(yaml)
            defer { e.cleanup() }
            var m: [String: Double] = [:]
            let ok = eventually(timeout: 10) {
                for _ in 0..<7 { _ = getpid() }
                m = exposition(e.scrape())
                return m.keys.contains { $0.hasPrefix("t_calls_total{") }
            }
            #expect(ok, "no t_calls_total series: \(m)")
            // glibc's getpid is also exported as __getpid: the symbol table's first name at the address.
            let series = m.filter { $0.key.hasPrefix("t_calls_total{") }
            #expect(series.count == 1, "\(series)")
            let key = try #require(series.keys.first)
            #expect(key == "t_calls_total{pid=\"\(me)\",function=\"getpid\"}" || key == "t_calls_total{pid=\"\(me)\",function=\"__getpid\"}", "\(key)")
            #expect((series[key] ?? 0) >= 7)
            #expect(m[key.replacingOccurrences(of: "t_calls_total", with: "t_fixed_total")] == series[key], "\(m)")
        }

        @Test("the cgroup decoder gives a cgroup v2 id's path")
        func cgroupPaths() throws {
            var st = stat()
            let root = CgroupPaths.v2Root()
            try #require(stat(root, &st) == 0 && FileManager.default.fileExists(atPath: root + "/cgroup.controllers"),
                         "no cgroup v2 hierarchy at \(root)")
            let rootID = UInt64(st.st_ino)
            let sub = try FileManager.default.contentsOfDirectory(atPath: root).sorted().first { name in
                var s = stat()
                return stat(root + "/" + name, &s) == 0 && (s.st_mode & S_IFMT) == S_IFDIR
            }
            let fn = uniqueFunctionName("exg")
            let e = try loadExporter("""
            programs:
              - name: p
                text: |
                  BPF_HASH(by_cgroup, u64, u64);
                  int \(fn)(void *ctx) { return 0; }
                metrics:
                  gauges:
                    - {name: t_cg, help: C., table: by_cgroup, labels: [{name: cgroup, decoders: [{name: cgroup}]}]}
            """)
            defer { e.cleanup() }
            let t = try #require(e.bpf(program: "p"))["by_cgroup"]
            try t.update(rawKey: bytes(rootID), rawValue: bytes(UInt64(1)))
            try t.update(rawKey: bytes(UInt64(0xdead_beef_0000)), rawValue: bytes(UInt64(2)))
            var subID: UInt64?
            if let sub, stat(root + "/" + sub, &st) == 0 {
                subID = UInt64(st.st_ino)
                try t.update(rawKey: bytes(subID!), rawValue: bytes(UInt64(3)))
            }
            let m = exposition(e.scrape())
            #expect(m["t_cg{cgroup=\"/\"}"] == 1, "\(m)")
            #expect(m["t_cg{cgroup=\"unknown_cgroup_\(0xdead_beef_0000 as UInt64)\"}"] == 2, "\(m)")
            if let sub { #expect(m["t_cg{cgroup=\"/\(sub)\"}"] == 3, "\(m)") }
        }
        /// The shipped configs, loaded for real, with the activity each one counts.
        @Test("each shipped config loads, counts what it traces and exports cumulative histograms",
              arguments: ["syscalls", "biolatency", "runqlat", "execs"])
        func shippedConfigs(_ name: String) throws {
            let path = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
                .appendingPathComponent("../../examples/exporter/\(name).yaml").standardized.path
            let e = Exporter(config: try ExporterConfig.load(path: path))
            try e.load()
            defer { e.cleanup() }
            let metric = e.config.programs[0].metrics[0]
            var text = ""
            let seen = eventually(timeout: 20) {
                switch name {
                case "biolatency": blockIO()
                case "execs": execTrue()
                default: usleep(50_000)
                }
                text = String(decoding: e.scrape(), as: UTF8.self)
                return text.contains("\n\(metric.name)")
            }
            try #require(seen, "no \(metric.name) series after 20 s; scrape:\n\(text.prefix(3000))")
            #expect(text.contains("# TYPE \(metric.name) \(metric.kind.rawValue)\n"))
            guard metric.kind == .histogram else { return }
            // Per series: the le buckets rise to the +Inf bucket, which is _count.
            var lastBySeries: [String: Double] = [:]
            for line in text.split(separator: "\n") where line.hasPrefix(metric.name + "_bucket{") {
                let labels = line.replacing(/,?le="[^"]*"/, with: "").split(separator: "}")[0]
                let v = try #require(Double(line.split(separator: " ").last ?? ""))
                #expect(v >= (lastBySeries[String(labels)] ?? 0), "\(line)")
                lastBySeries[String(labels)] = v
            }
            #expect(!lastBySeries.isEmpty)
            let m = exposition(Array(text.utf8))
            for (labels, inf) in lastBySeries {
                let series = labels.dropFirst((metric.name + "_bucket{").count)
                #expect(m["\(metric.name)_count{\(series)}"] == inf, "\(labels)")
            }
        }
    }
}
