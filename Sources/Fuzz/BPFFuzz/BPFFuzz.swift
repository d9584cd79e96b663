// BPFFuzz: mutated BPF programs and random API call sequences through SwiftBCC, in child
// processes, with every crash attributed (SwiftBCC's own, or inside libclang/LLVM while
// compiling), every hang caught by a per-case deadline, every error checked to be a BPFError,
// and the process's fds checked for kernel objects left after cleanup(). docs/Reliability.md.
import ArgumentParser
import BenchSupport
import Foundation
import Glibc
import SwiftBCC

@main
struct BPFFuzz: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Feed mutated BPF programs and random API call sequences through SwiftBCC in child processes.",
        discussion: """
            Exits 1 when a child crashed in SwiftBCC's own code, hung past --case-timeout, threw an \
            error that is not a BPFError, or left a kernel object on its fds after cleanup(). A crash \
            inside libclang/LLVM (or libbcc's front end) while compiling is reported, not counted.
            """)

    @Option(help: "How many cases (one in ten is a mutated program, the rest API call sequences).")
    var cases = 1000

    @Option(help: "The seed (default: random, printed so a run can be repeated).")
    var seed: UInt64?

    @Option(help: "Children run at once.")
    var jobs = 2

    @Option(help: "Cases per child process (API sequences share the child's BPF object).")
    var batch = 50

    @Option(help: "Seconds a case may take before the child is killed as hung.")
    var caseTimeout = 60.0

    @Option(help: "Run cases FROM:TO in this process, as the children do (to replay a finding).")
    var child: String?

    @Option(help: "Print case N's program text and exit.")
    var print: Int?

    @Flag(help: .hidden)
    var selfTest = false

    mutating func run() throws {
        let seed = self.seed ?? UInt64.random(in: 0...UInt64(UInt32.max))
        if let n = print {
            Swift.print(kind(of: n) == .program ? programText(seed: seed, index: n) : "case \(n) is an API sequence on:\n\(apiProgram)")
            return
        }
        if let child {
            let bounds = child.split(separator: ":").compactMap { Int($0) }
            guard bounds.count == 2, bounds[0] <= bounds[1] else {
                throw ValidationError("--child takes FROM:TO, e.g. 0:50")
            }
            runChild(seed: seed, from: bounds[0], to: bounds[1])
            return
        }
        guard cases > 0, jobs > 0, batch > 0, caseTimeout > 0 else {
            throw ValidationError("--cases, --jobs, --batch and --case-timeout must be positive")
        }
        let findings = try Parent(seed: seed, cases: cases, jobs: jobs, batch: batch, caseTimeout: caseTimeout,
                                  selfTest: selfTest).run()
        if findings > 0 { throw ExitCode(1) }
    }

    /// Child mode: cases `from..<to`, one `start N` / `phase P` / `done N {tally}` line each on
    /// stdout, flushed before anything can crash.
    func runChild(seed: UInt64, from: Int, to: Int) {
        CrashReport.install()
        var bpf: BPF?
        let encoder = JSONEncoder()
        for i in from..<to {
            emit("start \(i)")
            let phase: (String) -> Void = { emit("phase \($0)") }
            if selfTest && i == 1 {
                phase("run")
                fatalError("BPFFuzz self-test: a deliberate trap in our own code")
            }
            let tally = kind(of: i) == .program
                ? runProgramCase(seed: seed, index: i, phase: phase)
                : runAPISequence(seed: seed, index: i, bpf: &bpf, phase: phase)
            let json = (try? encoder.encode(tally)).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
            emit("done \(i) \(json)")
        }
        bpf?.cleanup()
    }
}

/// One line on stdout, unbuffered: a child's progress must be on record before it can crash.
func emit(_ line: String) {
    var text = line + "\n"
    text.withUTF8 { buf in
        var offset = 0
        while offset < buf.count {
            let n = write(1, buf.baseAddress! + offset, buf.count - offset)
            if n <= 0 { break }
            offset += n
        }
    }
}

/// Runs the children, `jobs` at a time, and sums what they saw.
final class Parent: @unchecked Sendable {
    let seed: UInt64, cases: Int, jobs: Int, batch: Int, caseTimeout: Double, selfTest: Bool
    let exe: String
    let tempDir: URL
    private let lock = NSLock()
    private var nextBatch = 0
    private var tally = Tally()
    private var programs = 0, sequences = 0
    private var ownCrashes: [String] = []
    private var compilerCrashes: [String] = []
    private var hangs: [String] = []

    init(seed: UInt64, cases: Int, jobs: Int, batch: Int, caseTimeout: Double, selfTest: Bool) throws {
        self.seed = seed; self.cases = cases; self.jobs = jobs; self.batch = batch
        self.caseTimeout = caseTimeout; self.selfTest = selfTest
        exe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        tempDir = try makeTempDir("bpffuzz")
    }

    /// The number of findings (SwiftBCC crashes, hangs, untyped errors, leaks).
    func run() throws -> Int {
        let start = Date()
        emit("BPFFuzz: \(cases) cases, seed \(seed), \(jobs) children at a time, \(batch) cases each")
        DispatchQueue.concurrentPerform(iterations: jobs) { _ in
            while let range = takeBatch() { runBatch(range) }
        }
        try? FileManager.default.removeItem(at: tempDir)
        let t = tally
        emit("BPFFuzz: \(programs) mutated programs (\(t.compiled) compiled, \(t.rejected) refused with a typed error), "
            + "\(sequences) API sequences; \(t.calls) calls, \(t.typedErrors) typed errors")
        for c in compilerCrashes { emit("BPFFuzz: reported, not counted: \(c)") }
        for c in ownCrashes { emit("BPFFuzz: CRASH of SwiftBCC's own: \(c)") }
        for h in hangs { emit("BPFFuzz: HANG: \(h)") }
        for u in t.untyped { emit("BPFFuzz: UNTYPED ERROR: \(u)") }
        for l in t.leaks { emit("BPFFuzz: LEFT BEHIND: \(l)") }
        emit("BPFFuzz: \(ownCrashes.count) crashes of SwiftBCC's own, \(compilerCrashes.count) inside the compiler, "
            + "\(hangs.count) hangs, \(t.untyped.count) untyped errors, \(t.leaks.count) leaks "
            + "(\(String(format: "%.1f", Date().timeIntervalSince(start))) s)")
        return ownCrashes.count + hangs.count + t.untyped.count + t.leaks.count
    }

    private func takeBatch() -> Range<Int>? {
        lock.lock(); defer { lock.unlock() }
        guard nextBatch < cases else { return nil }
        let r = nextBatch..<min(cases, nextBatch + batch)
        nextBatch = r.upperBound
        return r
    }

    /// Runs `range` in children; after a crash or hang, a new child goes on from the next case.
    private func runBatch(_ range: Range<Int>) {
        var next = range.lowerBound
        while next < range.upperBound {
            let outcome = runOneChild(from: next, to: range.upperBound)
            lock.lock()
            for (i, t) in outcome.done {
                tally.add(t)
                if kind(of: i) == .program { programs += 1 } else { sequences += 1 }
            }
            let replay = "replay: BPFFuzz --seed \(seed) --child \(range.lowerBound):\((outcome.failedCase ?? next) + 1)"
            switch outcome.failure {
            case .none: break
            case .crash(let location, let compiling)?:
                let lib = location?.library ?? "an unknown library"
                let text = "case \(outcome.failedCase ?? -1) (\(kind(of: outcome.failedCase ?? 0))): signal \(location?.signal ?? 0) in \(lib)"
                    + " (frames: \(location?.libraries.prefix(8).joined(separator: " < ") ?? "none")); \(replay)"
                if let location, location.isInsideCompiler(compiling: compiling) {
                    compilerCrashes.append("libclang/LLVM crash while compiling: " + text)
                } else {
                    ownCrashes.append(text + (outcome.stderrTail.isEmpty ? "" : "\n    " + outcome.stderrTail))
                }
            case .hang?:
                hangs.append("case \(outcome.failedCase ?? -1) ran past \(Int(caseTimeout)) s; \(replay)")
            case .exit(let status)? where outcome.compiling && status == 1:
                // LLVM's report_fatal_error (e.g. the BPF back end's "pass by value not
                // supported" for a struct passed to an undeclared function) exits the process;
                // Python's BPF() exits the same way.
                compilerCrashes.append("LLVM exited (status 1) while compiling case \(outcome.failedCase ?? -1): "
                    + "\(outcome.stderrTail.split(separator: "\n").last.map { $0.trimmingCharacters(in: .whitespaces) } ?? ""); \(replay)")
            case .exit(let status)?:
                ownCrashes.append("child exited with status \(status) during case \(outcome.failedCase ?? -1); \(replay)"
                    + (outcome.stderrTail.isEmpty ? "" : "\n    " + outcome.stderrTail))
            }
            lock.unlock()
            guard let failed = outcome.failedCase else { break }
            next = failed + 1
        }
    }

    enum Failure {
        case crash(CrashReport.Location?, compiling: Bool)
        case hang
        case exit(Int32)
    }

    struct Outcome {
        var done: [(Int, Tally)] = []
        var failedCase: Int?
        var failure: Failure?
        /// The child was inside BPF(text:) (libbcc's compile) when it ended.
        var compiling = false
        var stderrTail = ""
    }

    private func runOneChild(from: Int, to: Int) -> Outcome {
        let label = "child-\(from)-\(to)-\(UUID().uuidString.prefix(8))"
        let outURL = tempDir.appendingPathComponent("\(label).out"), errURL = tempDir.appendingPathComponent("\(label).err")
        _ = FileManager.default.createFile(atPath: outURL.path, contents: nil)
        _ = FileManager.default.createFile(atPath: errURL.path, contents: nil)
        defer { try? FileManager.default.removeItem(at: outURL); try? FileManager.default.removeItem(at: errURL) }
        var result = Outcome()
        guard let out = try? FileHandle(forWritingTo: outURL), let err = try? FileHandle(forWritingTo: errURL) else {
            result.failure = .exit(-1); result.failedCase = from
            return result
        }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: exe)
        p.arguments = ["--seed", "\(seed)", "--child", "\(from):\(to)"] + (selfTest ? ["--self-test"] : [])
        var env = ProcessInfo.processInfo.environment
        env["SWIFT_BACKTRACE"] = "enable=no"
        p.environment = env
        p.standardInput = FileHandle.nullDevice
        p.standardOutput = out
        p.standardError = err
        do { try p.run() } catch {
            result.failure = .exit(-1); result.failedCase = from
            return result
        }
        var lastProgress = Date(), seenLines = 0, hung = false
        while p.isRunning {
            usleep(50_000)
            let lines = (try? String(contentsOf: outURL, encoding: .utf8))?.split(separator: "\n").count ?? 0
            if lines != seenLines { seenLines = lines; lastProgress = Date() }
            if Date().timeIntervalSince(lastProgress) > caseTimeout {
                hung = true
                kill(p.processIdentifier, SIGKILL)
                break
            }
        }
        p.waitUntilExit()
        try? out.close(); try? err.close()
        let stdoutText = (try? String(contentsOf: outURL, encoding: .utf8)) ?? ""
        let stderrText = (try? String(contentsOf: errURL, encoding: .utf8)) ?? ""
        var started: Int?, compiling = false
        let decoder = JSONDecoder()
        for line in stdoutText.split(separator: "\n") {
            let words = line.split(separator: " ", maxSplits: 2)
            if words.first == "start", words.count > 1 { started = Int(words[1]); compiling = false }
            if words.first == "phase", words.count > 1 { compiling = words[1] == "compile" }
            if words.first == "done", words.count > 2, let i = Int(words[1]) {
                result.done.append((i, (try? decoder.decode(Tally.self, from: Data(words[2].utf8))) ?? Tally()))
                started = nil
            }
        }
        let crashed = p.terminationReason == .uncaughtSignal
        result.compiling = compiling
        if hung {
            result.failure = .hang
        } else if crashed {
            result.failure = .crash(CrashReport.parse(stderrText), compiling: compiling)
        } else if p.terminationStatus != 0 || result.done.count < to - from {
            result.failure = .exit(p.terminationStatus)
        } else {
            return result
        }
        result.failedCase = started ?? result.done.last.map { $0.0 + 1 } ?? from
        result.stderrTail = stderrText.split(separator: "\n")
            .filter { !$0.hasPrefix(CrashReport.framesMarker) && !$0.contains(" r-xp ") && !$0.contains(" r--p ") && !$0.contains(" rw-p ") && !$0.contains(" ---p ") && !$0.hasPrefix("BPFFUZZ-") }
            .suffix(3).joined(separator: "\n    ")
        return result
    }
}
