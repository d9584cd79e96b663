import Foundation
import Logging
import Prometheus
import SwiftBCC

/// An error loading the config's programs: which program, where in the config, and why.
public struct ExporterError: Error, CustomStringConvertible, Sendable {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// The programs of a config, loaded and attached, and their metrics.
///
/// `load()` compiles each program, checks every metric against the compiled tables (the map
/// exists, the key's libbcc layout matches the labels, the value is a number) and only then
/// attaches the config's probes; any failure unloads everything loaded so far and throws, so
/// the exporter never serves half a config. `scrape()` reads every map once (batch lookups)
/// and returns the text exposition. `cleanup()` detaches and unloads everything.
public final class Exporter: @unchecked Sendable {
    public let config: ExporterConfig
    let logger: Logger
    public let registry = PrometheusCollectorRegistry()
    private let lock = NSLock()
    private var programs: [(config: ProgramConfig, bpf: BPF)] = []
    private var collectors: [MetricCollector] = []
    private let cgroups = CgroupPaths()
    private var buffer: [UInt8] = []

    // Self-metrics.
    private let scrapeDuration: ValueHistogram
    private let programsLoaded: Gauge
    private var readErrors: [String: Counter] = [:]

    public init(config: ExporterConfig, logger: Logger = Logger(label: "swiftbcc-exporter")) {
        self.config = config
        self.logger = logger
        scrapeDuration = registry.makeValueHistogram(
            descriptor: .named("swiftbcc_exporter_scrape_duration_seconds",
                               help: "Time the exporter took to read the BPF maps and update the metrics of one scrape (wall clock)."),
            buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1])
        programsLoaded = registry.makeGauge(descriptor: .named("swiftbcc_exporter_programs_loaded",
                                                                   help: "BPF programs of the config that are loaded and attached."))
    }

    /// The loaded program named `name` (for tests and tools that feed its maps).
    public func bpf(program name: String) -> BPF? {
        lock.withLock { programs.first { $0.config.name == name }?.bpf }
    }

    /// Compiles, checks and attaches every program; on failure unloads what it loaded and throws.
    public func load() throws {
        try lock.withLock {
            do {
                try preflight()
                for p in config.programs { try loadProgram(p) }
            } catch {
                unloadAll()
                throw error
            }
            programsLoaded.set(to: Double(programs.count))
        }
    }

    /// Checks what needs no compiled program: kprobes and tracepoints exist on this kernel.
    private func preflight() throws {
        for p in config.programs {
            if let k = p.kprobes.first ?? p.kretprobes.first, !FeatureSupport.kprobes.isSupported {
                throw k.location.error("program `\(p.name)`: kprobe \(k.target): this kernel has no kprobes "
                    + "(\(FeatureSupport.kprobes.reason)); use a tracepoint (e.g. syscalls:sys_enter_*) or a raw tracepoint")
            }
            for t in p.tracepoints {
                let parts = t.target.split(separator: ":").map(String.init)
                if !BPF.tracepointExists(category: parts[0], event: parts[1]) {
                    throw t.location.error("program `\(p.name)`: tracepoint \(t.target) does not exist on this kernel "
                        + "(no events/\(parts[0])/\(parts[1]) in tracefs)")
                }
            }
            for u in p.uprobes where !u.binary.contains("/") && BPF.findLibrary(u.binary) == nil {
                throw u.location.error("program `\(p.name)`: uprobe binary `\(u.binary)` is not a library this machine has "
                    + "(give a path, or a name such as `c` for libc)")
            }
        }
    }

    private func loadProgram(_ p: ProgramConfig) throws {
        logger.info("compiling program", metadata: ["program": "\(p.name)"])
        let b: BPF
        do {
            switch p.source {
            // Auto-attach waits until the metrics' layouts and the attachments' functions are
            // checked: a config error attaches nothing.
            case let .text(text): b = try BPF(text: text, cflags: p.cflags, autoAttach: false)
            case let .file(path): b = try BPF(srcFile: path, cflags: p.cflags, autoAttach: false)
            }
        } catch {
            throw p.location.error("program `\(p.name)` failed to load: \(error)")
        }
        programs.append((p, b))
        // Check every metric and attachment against the compiled program before attaching.
        var layouts: [MetricLayout] = []
        for m in p.metrics { layouts.append(try MetricLayout(metric: m, bpf: b, program: p.name)) }
        let functions = Set(b.functionNames)
        let attaches: [(String, ConfigLocation)] = p.tracepoints.map { ($0.function, $0.location) }
            + p.rawTracepoints.map { ($0.function, $0.location) } + p.kprobes.map { ($0.function, $0.location) }
            + p.kretprobes.map { ($0.function, $0.location) } + p.uprobes.map { ($0.function, $0.location) }
            + p.perfEvents.map { ($0.function, $0.location) }
        for (fn, loc) in attaches where !functions.contains(fn) {
            throw loc.error("program `\(p.name)` has no function `\(fn)` (it defines: \(functions.sorted().joined(separator: ", ")))")
        }
        func attach(_ loc: ConfigLocation, _ what: String, _ body: () throws -> Void) throws {
            do {
                try body()
            } catch {
                throw loc.error("program `\(p.name)`: attaching \(what) failed: \(error)")
            }
        }
        do {
            try b.autoAttach()
        } catch {
            throw p.location.error("program `\(p.name)`: the program's auto-attached functions "
                + "(kprobe__*, tracepoint__*, raw_tracepoint__*, ...) failed to attach: \(error)")
        }
        for t in p.tracepoints { try attach(t.location, "tracepoint \(t.target)") { try b.attachTracepoint(tp: t.target, fnName: t.function) } }
        for t in p.rawTracepoints { try attach(t.location, "raw tracepoint \(t.target)") { try b.attachRawTracepoint(tp: t.target, fnName: t.function) } }
        for k in p.kprobes { try attach(k.location, "kprobe \(k.target)") { try b.attachKprobe(event: k.target, fnName: k.function) } }
        for k in p.kretprobes { try attach(k.location, "kretprobe \(k.target)") { try b.attachKretprobe(event: k.target, fnName: k.function) } }
        for u in p.uprobes {
            try attach(u.location, "\(u.isReturn ? "uretprobe" : "uprobe") \(u.binary):\(u.symbol)") {
                if u.isReturn {
                    try b.attachUretprobe(name: u.binary, sym: u.symbol, fnName: u.function, pid: u.pid)
                } else {
                    try b.attachUprobe(name: u.binary, sym: u.symbol, fnName: u.function, pid: u.pid)
                }
            }
        }
        for e in p.perfEvents {
            try attach(e.location, "perf event type \(e.type) config \(e.config)") {
                try b.attachPerfEvent(evType: e.type, evConfig: e.config, fnName: e.function,
                                      samplePeriod: e.samplePeriod, sampleFreq: e.sampleFrequency)
            }
        }
        for l in layouts {
            collectors.append(MetricCollector(layout: l, cgroups: cgroups))
            _ = readError(l.table.name)
        }
        logger.info("program loaded", metadata: ["program": "\(p.name)", "metrics": "\(layouts.count)"])
    }

    private func unloadAll() {
        for p in programs.reversed() { p.bpf.cleanup() }
        programs.removeAll()
        collectors.removeAll()
        programsLoaded.set(to: 0)
    }

    /// Reads every map once and returns the metrics in Prometheus's text exposition format.
    /// Scrapes are serialized: the maps are read at scrape time, never more often.
    public func scrape() -> [UInt8] {
        lock.withLock {
            let start = DispatchTime.now().uptimeNanoseconds
            for c in collectors {
                do {
                    try c.update()
                } catch {
                    readError(c.layout.table.name).increment()
                    logger.warning("reading a map failed", metadata: ["table": "\(c.layout.table.name)", "error": "\(error)"])
                }
            }
            scrapeDuration.record(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
            buffer.removeAll(keepingCapacity: true)
            registry.emit(into: &buffer)
            for c in collectors { c.emit(into: &buffer) }
            return buffer
        }
    }

    private func readError(_ table: String) -> Counter {
        if let c = readErrors[table] { return c }
        let c = registry.makeCounter(descriptor: .named("swiftbcc_exporter_map_read_errors_total",
                                                          help: "Failed reads of a BPF map at scrape time."),
                                     labels: [("table", table)])
        readErrors[table] = c
        return c
    }

    /// Detaches and unloads every program (`BPF.cleanup()`); idempotent.
    public func cleanup() {
        lock.withLock { unloadAll() }
    }
}
