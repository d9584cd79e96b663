// Measures map operations side by side: SwiftBCC (typed views, and the dynamic Table for
// items() and lookup), Python BCC and a C program on libbcc's C API, all in one run, on the
// same BPF_HASH(u64, u64) of --entries entries and the same BPF_HISTOGRAM. Run it in release:
//
//   swift build -c release --product MapBench
//   .build/release/MapBench --entries 100000 --rounds 5
//
// Every consumer compiles the same program text (written to a temp dir), is pinned to the
// same CPU, uses keys 0..<entries with values 2k+1, sets up the map state an operation needs
// untimed (empty for update and batch update, full for the others), times only the operation,
// and reports the best of --rounds rounds as ns per entry (histogram print: ns per print).
// Python BCC runs as a child (/usr/bin/python3 on a script written to the temp dir); the C
// consumer is compiled there with gcc and linked with -lbcc. A consumer that cannot run is
// skipped with its reason.
import ArgumentParser
import BenchSupport
import Foundation
import Glibc
import SwiftBCC

@main
struct MapBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Time map operations (update, lookup, delete, dumps, batches, histogram print): SwiftBCC, Python BCC and C side by side.")

    @Option(help: "Entries in the hash map.")
    var entries = 100_000

    @Option(help: "Measurements per operation (the best is reported).")
    var rounds = 5

    @Option(help: "Histogram prints per measurement.")
    var histPrints = 200

    @Option(help: "Run only these operations (comma-separated): \(Self.allOps.joined(separator: ", ")).")
    var only: String?

    @Option(help: "Consumers to run (comma-separated): swift, python, c.")
    var consumers = "swift,python,c"

    @Option(help: "The CPU every consumer is pinned to.")
    var cpu = 0

    @Option(help: "The Python that runs Python BCC.")
    var python = "/usr/bin/python3"

    @Option(help: "The C compiler for the C consumer (a name on PATH or a path).")
    var cc = "gcc"

    @Option(help: "Seconds a child (gcc, Python, the C consumer) may run before it is stopped.")
    var timeout = 600.0

    static let childOps = ["update", "lookup", "delete", "items", "batch-dump", "batch-update", "hist"]
    static let allOps = childOps + ["items-dynamic", "lookup-dynamic"]

    var ops: [String] {
        guard let only else { return Self.allOps }
        return only.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
    }

    func wants(_ consumer: String) -> Bool { consumers.split(separator: ",").contains { $0 == consumer } }

    func validate() throws {
        guard entries > 0, rounds > 0, histPrints > 0, timeout > 0 else {
            throw ValidationError("--entries, --rounds, --hist-prints and --timeout must be positive.")
        }
        guard CPUs.online.contains(cpu) else { throw ValidationError("CPU \(cpu) is not online (online: \(CPUs.online)).") }
        let unknown = Set(ops).subtracting(Self.allOps)
        if !unknown.isEmpty {
            throw ValidationError("Unknown operation(s) \(unknown.sorted().joined(separator: ", ")) for --only; use \(Self.allOps.joined(separator: ", ")).")
        }
    }

    /// The BPF program text, the same for every consumer; ENTRIES comes as a -D flag. The
    /// histogram has BPF_HISTOGRAM's int key (libbcc makes it an array of 64 slots).
    static let program = """
        BPF_HASH(map, u64, u64, ENTRIES);
        BPF_HISTOGRAM(hist);

        """

    func run() throws {
        Interrupts.install()
        #if DEBUG
        print("warning: this is a debug build; SwiftBCC's numbers mean little (build with -c release)")
        #endif
        let pinned = pinToCPU(cpu)
        print("BPF_HASH(u64, u64) of \(entries) entries, best of \(rounds) rounds, histogram: \(histPrints) prints per round, "
              + (pinned ? "every consumer pinned to CPU \(cpu)" : "NOT pinned (sched_setaffinity failed)"))
        fflush(nil)
        let tempDir = try makeTempDir("MapBench")
        defer { try? FileManager.default.removeItem(at: tempDir) }
        var results = MapResults(entries: entries)
        do {
            // Rounds interleave the consumers (Swift, C, Python, Swift, ...), each child running
            // one round per start, so a noisy minute on the shared machine hits them alike.
            let swift = wants("swift") ? SwiftConsumer(self) : nil
            var binary: String?
            if wants("c") {
                switch try buildC(Consumers.c, name: "consumer", cc: cc, timeout: timeout, tempDir: tempDir) {
                case let .failure(f): results.skip("C (libbcc)", f.reason)
                case let .success(b): binary = b
                }
            }
            let pythonOK = wants("python") && access(python, X_OK) == 0
            if wants("python") && !pythonOK {
                results.skip("Python BCC", "\(python) is not an executable (install python3-bpfcc, or pass --python)")
            }
            for round in 0..<rounds {
                print("round \(round + 1) of \(rounds)")
                if let swift { try swift.run(&results) }
                if let binary { try runC(&results, binary: binary, tempDir: tempDir) }
                if pythonOK { try runPython(&results, tempDir: tempDir) }
            }
        } catch is Stopped {
            print("stopped by signal \(Interrupts.pendingSignal ?? 0): partial results")
        }
        results.printSummary()
    }

    // MARK: SwiftBCC

    func measure(_ op: String, into results: inout MapResults, perOp: Int, setUp: () throws -> Void,
                 _ body: () throws -> UInt64) throws {
        var best = Double.infinity
        var check: UInt64 = 0
        for _ in 0..<1 {
            try checkStop()
            try setUp()
            let start = DispatchTime.now().uptimeNanoseconds
            check = try body()
            let ns = Double(DispatchTime.now().uptimeNanoseconds - start)
            best = min(best, ns / Double(perOp))
        }
        results.record("swift", op, ns: best, check: check)
    }

    /// The SwiftBCC consumer: a new BPF (its maps new) every round, as each C and Python child
    /// creates its own. A map cleared and refilled round after round hands out its preallocated
    /// elements in the order the clear freed them, which made the kernel's own insert work about
    /// 30% slower (perf: `htab_map_update_elem`) than into a new map. After the first round the
    /// program starts from the compile cache; none of that is timed.
    final class SwiftConsumer {
        let bench: MapBench
        let keys: [UInt64]
        let values: [UInt64]

        init(_ bench: MapBench) {
            self.bench = bench
            keys = (0..<UInt64(bench.entries)).map { $0 }
            values = keys.map { 2 * $0 + 1 }
        }

        func run(_ results: inout MapResults) throws {
            let b = try BPF(text: MapBench.program, cflags: ["-DENTRIES=\(bench.entries)"])
            defer { b.cleanup() }
            let histView = try b.arrayTable("hist", value: UInt64.self)
            for i in 1..<28 { try histView.update(i, UInt64((i * 7919) % 1000 + 1)) }
            try bench.runSwift(&results, b: b, keys: keys, values: values)
        }
    }

    func runSwift(_ results: inout MapResults, b: BPF, keys: [UInt64], values: [UInt64]) throws {
        let map = try b.hashTable("map", key: UInt64.self, value: UInt64.self)
        let hist = try b["hist"]
        let n = entries
        // Emptied key by key (bpf_get_next_key + bpf_delete_elem), as the C consumer does.
        let empty = { try map.clear() }
        let full = {
            try map.itemsDeleteBatch()
            try map.itemsUpdateBatch(keys: keys, values: values)
        }
        let wanted = Set(ops)
        if wanted.contains("update") {
            try measure("update", into: &results, perOp: n, setUp: empty) {
                for i in 0..<n { try map.update(keys[i], values[i]) }
                return UInt64(n)
            }
        }
        if wanted.contains("lookup") {
            try measure("lookup", into: &results, perOp: n, setUp: full) {
                var sum: UInt64 = 0
                for k in keys { sum &+= try map.lookup(k) ?? 0 }
                return sum
            }
        }
        if wanted.contains("lookup-dynamic") {
            let table = try b["map"]
            try measure("lookup-dynamic", into: &results, perOp: n, setUp: full) {
                var sum: UInt64 = 0
                for k in keys { sum &+= try table.lookup(k)?.uint ?? 0 }
                return sum
            }
        }
        if wanted.contains("items") {
            try measure("items", into: &results, perOp: n, setUp: full) {
                try map.items().reduce(0) { $0 &+ $1.value }
            }
        }
        if wanted.contains("items-dynamic") {
            let table = try b["map"]
            try measure("items-dynamic", into: &results, perOp: n, setUp: full) {
                try table.items().reduce(0) { $0 &+ ($1.value.uint ?? 0) }
            }
        }
        if wanted.contains("batch-dump") {
            try measure("batch-dump", into: &results, perOp: n, setUp: full) {
                try map.itemsLookupBatch().reduce(0) { $0 &+ $1.value }
            }
        }
        if wanted.contains("delete") {
            try measure("delete", into: &results, perOp: n, setUp: full) {
                var deleted: UInt64 = 0
                for k in keys where try map.delete(k) { deleted += 1 }
                return deleted
            }
        }
        if wanted.contains("batch-update") {
            try measure("batch-update", into: &results, perOp: n, setUp: empty) {
                try map.itemsUpdateBatch(keys: keys, values: values)
                return UInt64(n)
            }
        }
        if wanted.contains("hist") {
            try measure("hist", into: &results, perOp: histPrints, setUp: {}) {
                var len = 0
                for _ in 0..<histPrints { len = try hist.log2HistText().utf8.count }
                return UInt64(len)
            }
        }
        try map.itemsDeleteBatch()
    }

    // MARK: Python BCC and C

    func childArguments(tempDir: URL) throws -> [String] {
        let file = tempDir.appendingPathComponent("map.bpf.c")
        try Self.program.write(to: file, atomically: true, encoding: .utf8)
        let childOps = ops.filter { Self.childOps.contains($0) }
        return [file.path, "\(entries)", "1", "\(histPrints)", "\(cpu)", childOps.joined(separator: ",")]
    }

    func runPython(_ results: inout MapResults, tempDir: URL) throws {
        let script = tempDir.appendingPathComponent("consumer.py")
        try Consumers.python.write(to: script, atomically: true, encoding: .utf8)
        let output = try runChild(python, [script.path] + childArguments(tempDir: tempDir), timeout: timeout,
                                  tempDir: tempDir, label: "python", environment: pythonEnvironment())
        results.parse(output, consumer: "python", expected: ops.filter { Self.childOps.contains($0) })
    }

    func runC(_ results: inout MapResults, binary: String, tempDir: URL) throws {
        let output = try runChild(binary, try childArguments(tempDir: tempDir), timeout: timeout,
                                  tempDir: tempDir, label: "c")
        results.parse(output, consumer: "c", expected: ops.filter { Self.childOps.contains($0) })
    }
}
