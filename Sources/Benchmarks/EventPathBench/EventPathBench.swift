// Measures the event path side by side: the user-space cost of consuming events that wait in
// perf and ring buffers, for SwiftBCC (typed callback, raw callback + loadEvent, dynamic
// event(data)), Python BCC (a callback that ignores the data, and b["events"].event(data)) and
// a C consumer on libbcc's C API, all in one run. Run it in release:
//
//   swift build -c release --product EventPathBench
//   .build/release/EventPathBench --events 200000 --rounds 5
//
// Every consumer compiles the same BPF program text with its own pid as TGID. Each getpgid(2)
// call of the consumer makes the program submit `--batch` 32-byte events, so filling the
// buffers costs little; only the consume call (perfBufferConsume / perf_buffer_consume /
// perf_reader_consume, and the ring buffer equivalents) is timed, with the consumer pinned to
// the CPU that produced the events, and the best of `--rounds` rounds is reported. Python BCC
// runs as a child (/usr/bin/python3 on a script written to a temp dir); the C consumer is
// compiled there with gcc and linked with -lbcc. A consumer that cannot run is skipped with
// its reason.
import ArgumentParser
import BenchSupport
import Foundation
import Glibc
import SwiftBCC

/// What every consumer's callback does per event: count it and add its `seq` (the C consumer's
/// globals). Kept behind a pointer: a `var` captured by the escaping callback would add a
/// dynamic exclusivity check (swift_beginAccess) per access, a cost of the benchmark's own
/// bookkeeping rather than of the event path.
struct Tally {
    let p: UnsafeMutablePointer<Int>
    init() {
        p = .allocate(capacity: 2)
        p.initialize(repeating: 0, count: 2)
    }
    @inline(__always) func add(_ seq: Int32) {
        p[0] += 1
        p[1] &+= Int(seq)
    }
    var count: Int { p[0] }
    func reset() { p.update(repeating: 0, count: 2) }
    func free() { p.deallocate() }
}

struct Event: BitwiseCopyable {
    var tgid: UInt32
    var seq: Int32
    var ts: UInt64
    var comm: InlineArray<16, CChar>
}

@main
struct EventPathBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Time the per-event cost of consuming perf and ring buffer events: SwiftBCC, Python BCC and C side by side.")

    @Option(help: "Events per measurement.")
    var events = 200_000

    @Option(help: "Events the BPF program submits per getpgid call.")
    var batch = 100

    @Option(help: "Measurements per path (the best is reported).")
    var rounds = 5

    @Option(help: "Run only these paths (comma-separated): \(Self.allPaths.joined(separator: ", ")).")
    var only: String?

    @Option(help: "The CPU every consumer is pinned to.")
    var cpu = 0

    @Option(help: "The Python that runs Python BCC.")
    var python = "/usr/bin/python3"

    @Option(help: "The C compiler for the C consumer (a name on PATH or a path).")
    var cc = "gcc"

    @Option(help: "Seconds a child (gcc, Python, the C consumer) may run before it is stopped.")
    var timeout = 300.0

    static let swiftPaths = ["perf-typed", "perf-raw", "perf-dynamic", "perf-typed-vars", "perf-direct",
                             "ring-typed", "ring-raw", "ring-dynamic", "ring-typed-vars", "ring-direct"]
    static let allPaths = swiftPaths + ["python", "c"]

    var onlyPaths: Set<String>? {
        only.map { Set($0.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }) }
    }

    func wants(_ path: String) -> Bool { onlyPaths?.contains(path) ?? true }

    func validate() throws {
        guard batch > 0, events >= batch else { throw ValidationError("--events must be at least --batch, and --batch positive.") }
        guard rounds > 0 else { throw ValidationError("--rounds must be positive.") }
        guard timeout > 0 else { throw ValidationError("--timeout must be positive.") }
        guard CPUs.online.contains(cpu) else { throw ValidationError("CPU \(cpu) is not online (online: \(CPUs.online)).") }
        if let unknown = onlyPaths?.subtracting(Self.allPaths), !unknown.isEmpty {
            throw ValidationError("Unknown path(s) \(unknown.sorted().joined(separator: ", ")) for --only; "
                + "use \(Self.allPaths.joined(separator: ", ")).")
        }
    }

    static let base: Int32 = 0x3000_0000

    /// Events per round: whole batches.
    var expected: Int { (events / batch) * batch }

    /// Pages per perf buffer (per CPU) and for the ring buffer: room for a whole round.
    var pages: Int { 1 << Int(ceil(log2(Double(events * 48 / 4096 + 1)))) }

    /// The BPF program text, the same for every consumer; TGID, BASE and BATCH come as -D flags.
    func program(ring: Bool) -> String {
        let table = ring ? "BPF_RINGBUF_OUTPUT(events, \(pages));" : "BPF_PERF_OUTPUT(events);"
        let submit = ring ? "events.ringbuf_output(&d, sizeof(d), 0);" : "events.perf_submit(args, &d, sizeof(d));"
        return """
            struct data_t { u32 tgid; s32 seq; u64 ts; char comm[16]; };
            \(table)
            TRACEPOINT_PROBE(syscalls, sys_enter_getpgid) {
                u32 tgid = bpf_get_current_pid_tgid() >> 32;
                if (tgid != TGID || args->pid < BASE) return 0;
                struct data_t d = {};
                d.tgid = tgid;
                d.ts = bpf_ktime_get_ns();
                bpf_get_current_comm(&d.comm, sizeof(d.comm));
                for (int i = 0; i < BATCH; i++) {
                    d.seq = i;
                    \(submit)
                }
                return 0;
            }

            """
    }

    func fill() {
        for _ in 0..<(events / batch) { _ = getpgid(Self.base) }
    }

    var cflags: [String] { ["-DTGID=\(getpid())", "-DBASE=\(Self.base)", "-DBATCH=\(batch)"] }

    /// Best nanoseconds per event over the rounds; `consume` drains the buffers.
    func measure(_ key: String, into results: inout Results, received: () -> Int, reset: () -> Void,
                 consume: () throws -> Void) throws {
        var best = Double.infinity
        var n = 0
        for _ in 0..<rounds {
            try checkStop()
            reset()
            fill()
            let start = DispatchTime.now().uptimeNanoseconds
            try consume()
            let ns = Double(DispatchTime.now().uptimeNanoseconds - start)
            n = received()
            best = min(best, ns / Double(max(n, 1)))
        }
        results.record(key, nsPerEvent: best, received: n, expected: expected)
    }

    func run() throws {
        Interrupts.install()
        #if DEBUG
        print("warning: this is a debug build; SwiftBCC's numbers mean little (build with -c release)")
        #endif
        let pinned = pinToCPU(cpu)
        print("events per round: \(expected) (\(events / batch) getpgid calls x \(batch)), \(MemoryLayout<Event>.size)-byte events, "
              + "\(pages) pages per buffer, best of \(rounds) rounds, "
              + (pinned ? "every consumer pinned to CPU \(cpu)" : "NOT pinned (sched_setaffinity failed)"))
        let tempDir = try makeTempDir()
        defer { try? FileManager.default.removeItem(at: tempDir) }
        var results = Results()
        do {
            try runSwift(&results)
            if wants("python") { try runPython(&results, tempDir: tempDir) }
            if wants("c") { try runC(&results, tempDir: tempDir) }
        } catch is Stopped {
            print("stopped by signal \(Interrupts.pendingSignal ?? 0): partial results")
        }
        results.printSummary(onlineCPUs: CPUs.online.count)
    }

    // MARK: SwiftBCC

    func runSwift(_ results: inout Results) throws {
        let perfText = program(ring: false)
        let ringText = program(ring: true)
        if wants("perf-typed") {
            let tally = Tally()
            defer { tally.free() }
            let b = try BPF(text: perfText, cflags: cflags)
            defer { b.cleanup() }
            try b["events"].openPerfBuffer(of: Event.self, pageCount: pages) { _, e in
                tally.add(e.seq)
            }
            try measure("swift-typed/perf", into: &results, received: { tally.count }, reset: { tally.reset() }) { try b.perfBufferConsume() }
        }
        if wants("perf-raw") {
            let tally = Tally()
            defer { tally.free() }
            let b = try BPF(text: perfText, cflags: cflags)
            defer { b.cleanup() }
            try b["events"].openPerfBuffer(pageCount: pages) { _, data in
                tally.add(try data.loadEvent(as: Event.self).seq)
            }
            try measure("swift-raw/perf", into: &results, received: { tally.count }, reset: { tally.reset() }) { try b.perfBufferConsume() }
        }
        if wants("perf-dynamic") {
            let tally = Tally()
            defer { tally.free() }
            let b = try BPF(text: perfText, cflags: cflags)
            defer { b.cleanup() }
            let table = try b["events"]
            try table.openPerfBuffer(pageCount: pages) { _, data in
                tally.add(Int32(try table.event(data)["seq"]?.int ?? 0))
            }
            try measure("swift-dynamic/perf", into: &results, received: { tally.count }, reset: { tally.reset() }) { try b.perfBufferConsume() }
        }
        // The typed callback counting into captured vars, as user code often does: each access
        // to a var captured by an escaping closure is checked for exclusivity at run time.
        if wants("perf-typed-vars") {
            let b = try BPF(text: perfText, cflags: cflags)
            defer { b.cleanup() }
            var n = 0
            var sum = 0
            try b["events"].openPerfBuffer(of: Event.self, pageCount: pages) { _, e in
                n += 1
                sum &+= Int(e.seq)
            }
            try measure("swift-typed-vars/perf", into: &results, received: { n }, reset: { n = 0 }) { try b.perfBufferConsume() }
        }
        // The direct reader: SwiftBCC maps the rings and walks the records itself, the handler
        // inlined into the loop (no per-event callback).
        if wants("perf-direct") {
            let tally = Tally()
            defer { tally.free() }
            let b = try BPF(text: perfText, cflags: cflags)
            defer { b.cleanup() }
            let reader = try b["events"].perfBufferReader(pageCount: pages)
            try measure("swift-direct/perf", into: &results, received: { tally.count }, reset: { tally.reset() }) {
                try reader.consume(as: Event.self) { _, e in tally.add(e.seq) }
            }
        }
        if wants("ring-typed") {
            let tally = Tally()
            defer { tally.free() }
            let b = try BPF(text: ringText, cflags: cflags)
            defer { b.cleanup() }
            try b["events"].openRingBuffer(of: Event.self) { e in
                tally.add(e.seq)
            }
            try measure("swift-typed/ring", into: &results, received: { tally.count }, reset: { tally.reset() }) { _ = try b.ringBufferConsume() }
        }
        if wants("ring-raw") {
            let tally = Tally()
            defer { tally.free() }
            let b = try BPF(text: ringText, cflags: cflags)
            defer { b.cleanup() }
            try b["events"].openRingBuffer { data in
                tally.add(try data.loadEvent(as: Event.self).seq)
            }
            try measure("swift-raw/ring", into: &results, received: { tally.count }, reset: { tally.reset() }) { _ = try b.ringBufferConsume() }
        }
        if wants("ring-dynamic") {
            let tally = Tally()
            defer { tally.free() }
            let b = try BPF(text: ringText, cflags: cflags)
            defer { b.cleanup() }
            let table = try b["events"]
            try table.openRingBuffer { data in
                tally.add(Int32(try table.event(data)["seq"]?.int ?? 0))
            }
            try measure("swift-dynamic/ring", into: &results, received: { tally.count }, reset: { tally.reset() }) { _ = try b.ringBufferConsume() }
        }
        if wants("ring-direct") {
            let tally = Tally()
            defer { tally.free() }
            let b = try BPF(text: ringText, cflags: cflags)
            defer { b.cleanup() }
            let reader = try b["events"].ringBufferReader()
            try measure("swift-direct/ring", into: &results, received: { tally.count }, reset: { tally.reset() }) {
                try reader.consume(as: Event.self) { e in tally.add(e.seq) }
            }
        }
        if wants("ring-typed-vars") {
            let b = try BPF(text: ringText, cflags: cflags)
            defer { b.cleanup() }
            var n = 0
            var sum = 0
            try b["events"].openRingBuffer(of: Event.self) { e in
                n += 1
                sum &+= Int(e.seq)
            }
            try measure("swift-typed-vars/ring", into: &results, received: { n }, reset: { n = 0 }) { _ = try b.ringBufferConsume() }
        }
    }

    // MARK: Python BCC and C

    /// Arguments both child consumers take (see Consumers.swift).
    func consumerArguments(tempDir: URL, paths: [String]) throws -> [String] {
        let perfFile = tempDir.appendingPathComponent("perf.bpf.c")
        let ringFile = tempDir.appendingPathComponent("ring.bpf.c")
        try program(ring: false).write(to: perfFile, atomically: true, encoding: .utf8)
        try program(ring: true).write(to: ringFile, atomically: true, encoding: .utf8)
        return [perfFile.path, ringFile.path, "\(pages)", "\(events)", "\(batch)", "\(rounds)", "\(Self.base)", "\(cpu)",
                paths.joined(separator: ",")]
    }

    static let pythonPaths = ["perf-noop": "python-noop/perf", "perf-event": "python-event/perf",
                              "ring-noop": "python-noop/ring", "ring-event": "python-event/ring",
                              "ring-event0": "python-event0/ring"]
    static let cPaths = ["perf": "c/perf", "ring": "c/ring"]

    func runPython(_ results: inout Results, tempDir: URL) throws {
        let paths = ["perf-noop", "perf-event", "ring-noop", "ring-event", "ring-event0"]
        guard access(python, X_OK) == 0 else {
            results.skip("Python BCC", "\(python) is not an executable (install python3-bpfcc, or pass --python)")
            return
        }
        let script = tempDir.appendingPathComponent("consumer.py")
        try Consumers.python.write(to: script, atomically: true, encoding: .utf8)
        var env = ProcessInfo.processInfo.environment
        env["PYTHONHOME"] = nil  // a pyenv or venv setting for another interpreter would break /usr/bin/python3
        env["PYTHONPATH"] = nil
        let output = try runChild(python, [script.path] + consumerArguments(tempDir: tempDir, paths: paths),
                                  timeout: timeout, tempDir: tempDir, label: "python", environment: env)
        results.parse(output, consumer: "Python BCC", keys: Self.pythonPaths)
    }

    func runC(_ results: inout Results, tempDir: URL) throws {
        guard let compiler = findExecutable(cc) else {
            results.skip("C (libbcc)", "\(cc) not found on PATH (apt-get install gcc, or pass --cc)")
            return
        }
        let source = tempDir.appendingPathComponent("consumer.c")
        let binary = tempDir.appendingPathComponent("consumer")
        try Consumers.c.write(to: source, atomically: true, encoding: .utf8)
        let build = try runChild(compiler, ["-O2", "-o", binary.path, source.path, "-lbcc"], timeout: timeout,
                                 tempDir: tempDir, label: "gcc")
        guard build.status == 0, !build.timedOut else {
            let reason = build.timedOut ? "timed out after \(Int(timeout)) s"
                : build.stderr.split(separator: "\n").first(where: { $0.contains("error") }).map(String.init) ?? build.lastError
            results.skip("C (libbcc)", "\(cc) could not build the consumer: \(reason)")
            return
        }
        let output = try runChild(binary.path, try consumerArguments(tempDir: tempDir, paths: ["perf", "ring"]),
                                  timeout: timeout, tempDir: tempDir, label: "c")
        results.parse(output, consumer: "C (libbcc)", keys: Self.cPaths)
    }

    // MARK: Helpers

    func makeTempDir() throws -> URL {
        let tmp = NSTemporaryDirectory().hasSuffix("/") ? NSTemporaryDirectory() : NSTemporaryDirectory() + "/"
        var template = Array((tmp + "EventPathBench.XXXXXX").utf8CString)
        guard let dir = template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) else {
            throw BPFError.systemCall(name: "mkdtemp", errno: .current, detail: "could not create the benchmark's temp dir")
        }
        return URL(fileURLWithPath: String(cString: dir))
    }

    func pinToCPU(_ cpu: Int) -> Bool {
        typealias Affinity = @convention(c) (pid_t, Int, UnsafeMutableRawPointer?) -> Int32
        guard let sym = dlsym(nil, "sched_setaffinity") else { return false }
        var set = cpu_set_t()
        withUnsafeMutableBytes(of: &set) { $0[cpu / 8] |= UInt8(1 << (cpu % 8)) }
        return unsafeBitCast(sym, to: Affinity.self)(0, MemoryLayout<cpu_set_t>.size, &set) == 0
    }
}
