// ExporterBench: the CPU time of a swiftbcc-exporter scrape of a map of N entries (10,000 by
// default: one series each), and whether the exporter's RSS stays flat over many scrapes.
//
//   swift build -c release --product ExporterBench && .build/release/ExporterBench [--series N] [--scrapes N]
//
// Each scrape is what GET /metrics does (Exporter.scrape(): batch-read the map, update the
// registry's counters, emit the text), timed with getrusage(RUSAGE_SELF) (user + system CPU of
// the process) and the wall clock. Between scrapes 1% of the entries change value, outside the
// timed window.
import Foundation
import Glibc
import SwiftBCC
import SwiftBCCExporter

func argument(_ name: String, default value: Int) -> Int {
    let args = CommandLine.arguments
    guard let i = args.firstIndex(of: name), i + 1 < args.count, let v = Int(args[i + 1]) else { return value }
    return v
}

let seriesCount = argument("--series", default: 10_000)
let scrapes = argument("--scrapes", default: 10_000)
/// Keys replaced by new ones (new series, old ones gone) before each scrape.
let churn = argument("--churn", default: 0)

func cpuMicros() -> Int {
    var u = rusage()
    getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &u)
    return (u.ru_utime.tv_sec + u.ru_stime.tv_sec) * 1_000_000 + Int(u.ru_utime.tv_usec + u.ru_stime.tv_usec)
}

func rssKiB() -> Int {
    guard let text = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8) else { return -1 }
    let fields = text.split(separator: " ")
    return (Int(fields[1]) ?? 0) * Int(sysconf(Int32(_SC_PAGESIZE))) / 1024
}

let yaml = """
programs:
  - name: bench
    text: |
      struct key_t {
          u32 pid;
          char comm[16];
      };
      BPF_HASH(bench_counts, struct key_t, u64, \(max(seriesCount, 1) * 2 + 1024));
      int bench_noop(void *ctx) { return 0; }
    metrics:
      counters:
        - name: bench_events_total
          help: Bench entries.
          table: bench_counts
          labels:
            - name: pid
            - name: comm
"""

let config: ExporterConfig
do {
    config = try ExporterConfig.parse(yaml, path: "<bench>")
} catch {
    fatalError("\(error)")
}
let exporter = Exporter(config: config)
do {
    try exporter.load()
} catch {
    FileHandle.standardError.write(Data("ExporterBench: \(error)\n".utf8))
    exit(1)
}
defer { exporter.cleanup() }
let table = try exporter.bpf(program: "bench")!.table("bench_counts")

func key(_ i: Int) -> [UInt8] {
    var k = [UInt8](repeating: 0, count: table.keySize)
    withUnsafeBytes(of: UInt32(i).littleEndian) { k.replaceSubrange(0..<4, with: $0) }
    let comm = Array("proc\(i % 977)".utf8)
    k.replaceSubrange(4..<4 + comm.count, with: comm)
    return k
}
func value(_ v: UInt64) -> [UInt8] { withUnsafeBytes(of: v.littleEndian) { Array($0) } }

for i in 0..<seriesCount { try table.update(rawKey: key(i), rawValue: value(UInt64(i))) }

// The first scrape creates every series.
var c0 = cpuMicros()
var t0 = DispatchTime.now().uptimeNanoseconds
var out = exporter.scrape()
let firstCPU = Double(cpuMicros() - c0) / 1000
let firstWall = Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e6
let lines = out.split(separator: UInt8(ascii: "\n")).filter { $0.starts(with: Array("bench_events_total{".utf8)) }.count
guard lines == seriesCount else {
    FileHandle.standardError.write(Data("ExporterBench: expected \(seriesCount) series, the scrape has \(lines)\n".utf8))
    exit(1)
}

var cpu: [Double] = []
var wall: [Double] = []
cpu.reserveCapacity(scrapes)
wall.reserveCapacity(scrapes)
var rssAfterWarmup = 0
var tick: UInt64 = 0
var retired = 0
for n in 0..<scrapes {
    for j in 0..<max(1, seriesCount / 100) {
        tick &+= 1
        let i = retired + Int(tick % UInt64(max(seriesCount, 1)))
        _ = j
        try table.update(rawKey: key(i), rawValue: value(tick))
    }
    for _ in 0..<churn {
        // Entry `retired` goes and entry `seriesCount + retired` arrives: same map size.
        try table.delete(rawKey: key(retired))
        try table.update(rawKey: key(seriesCount + retired), rawValue: value(1))
        retired += 1
    }
    c0 = cpuMicros()
    t0 = DispatchTime.now().uptimeNanoseconds
    out = exporter.scrape()
    cpu.append(Double(cpuMicros() - c0) / 1000)
    wall.append(Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e6)
    if n == min(99, scrapes - 1) { rssAfterWarmup = rssKiB() }
}
let rssEnd = rssKiB()

func percentile(_ xs: [Double], _ p: Double) -> Double {
    let s = xs.sorted()
    return s.isEmpty ? 0 : s[min(s.count - 1, Int(Double(s.count - 1) * p))]
}
func mean(_ xs: [Double]) -> Double { xs.isEmpty ? 0 : xs.reduce(0, +) / Double(xs.count) }
func f(_ d: Double) -> String { String(format: "%.2f", d) }

print("ExporterBench: \(seriesCount) series (a BPF_HASH of \(seriesCount) entries), \(scrapes) scrapes, "
    + "\(churn) keys replaced before each, \(out.count) bytes of text per scrape")
print("first scrape (creates the series): cpu \(f(firstCPU)) ms, wall \(f(firstWall)) ms")
print("scrape cpu ms (getrusage user+sys): mean \(f(mean(cpu))) p50 \(f(percentile(cpu, 0.5))) p99 \(f(percentile(cpu, 0.99))) max \(f(cpu.max() ?? 0))")
print("scrape wall ms: mean \(f(mean(wall))) p50 \(f(percentile(wall, 0.5))) p99 \(f(percentile(wall, 0.99))) max \(f(wall.max() ?? 0))")
print("RSS: \(rssAfterWarmup) KiB after \(min(100, scrapes)) scrapes, \(rssEnd) KiB after \(scrapes) (\(rssEnd - rssAfterWarmup >= 0 ? "+" : "")\(rssEnd - rssAfterWarmup) KiB)")
