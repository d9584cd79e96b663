import Foundation
import Glibc
@testable import SwiftBCC
import Testing

/// EventPathBench is a benchmark executable, not a timed test: these tests check what its
/// numbers rest on (every consumer receives every event of the same fill), its skips, and that
/// a timeout or a signal stops its children and leaves nothing behind. They assert nothing
/// about speed.
extension KernelSuite {
    @Suite("EventPathBench", .requiresBPF, .requiresRingBuffers)
    struct EventPathBenchTests {
        /// A fresh TMPDIR for one benchmark run, so its temp dir and children can be found.
        final class RunDir {
            let url = FileManager.default.temporaryDirectory.appendingPathComponent("swiftbcc-epb-\(UUID().uuidString)")
            init() throws { try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true) }
            var entries: [String] { (try? FileManager.default.contentsOfDirectory(atPath: url.path)) ?? [] }
            deinit { try? FileManager.default.removeItem(at: url) }
        }

        /// Pids of processes whose command line mentions `text`.
        static func processes(mentioning text: String) -> [Int32] {
            let me = getpid()
            return ((try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []).compactMap { entry in
                guard let pid = Int32(entry), pid != me,
                      let data = FileManager.default.contents(atPath: "/proc/\(entry)/cmdline") else { return nil }
                let cmdline = String(decoding: data.map { $0 == 0 ? 32 : $0 }, as: UTF8.self)
                return cmdline.contains(text) ? pid : nil
            }
        }

        /// The ns/event the benchmark printed for `key` ("c/ring" ...), if it printed one.
        static func nsPerEvent(_ stdout: String, _ key: String) -> (value: Double, line: String)? {
            for line in stdout.split(separator: "\n") {
                let fields = line.split(separator: " ")
                if fields.count >= 3, fields[0] == key, fields[2] == "ns/event", let v = Double(fields[1]) {
                    return (v, String(line))
                }
            }
            return nil
        }

        @Test("One run: SwiftBCC, Python BCC and C each receive every event, perf and ring, in one table with ratios",
              .requiresPythonBCC, .requiresGccLibbcc)
        func allConsumers() throws {
            let dir = try RunDir()
            let child = try Child(try examplePath("EventPathBench"),
                                  ["--events", "3000", "--batch", "100", "--rounds", "2", "--timeout", "200"],
                                  environment: ["TMPDIR": dir.url.path])
            let status = child.wait(timeout: 300)
            let out = child.stdout
            #expect(status == 0, "stdout: \(out)\nstderr: \(child.stderr)")
            let keys = ["swift-typed", "swift-raw", "swift-dynamic", "swift-typed-vars", "python-noop", "python-event", "c"]
                .flatMap { ["\($0)/perf", "\($0)/ring"] } + ["python-event0/ring"]
            for key in keys {
                let result = Self.nsPerEvent(out, key)
                #expect(result != nil, "no ns/event for \(key): \(out)")
                if let result {
                    #expect(result.value > 0 && result.value.isFinite, "\(result.line)")
                    // A consumer that lost events says "received N of 3000".
                    #expect(!result.line.contains("received"), "\(result.line)")
                }
            }
            #expect(!out.contains("skipped:"), "\(out)")
            #expect(!out.contains("note:"), "\(out)")
            #expect(out.contains("| C on libbcc (`perf_reader_consume` / `bpf_consume_ringbuf`) | "), "\(out)")
            let ratio = try #require(out.split(separator: "\n").first { $0.hasPrefix("| SwiftBCC typed / C | ") }, "\(out)")
            #expect(ratio.split(separator: "|").count == 3, "perf and ring ratios: \(ratio)")
            #expect(out.contains("| Python `event(data)` / SwiftBCC typed | "), "\(out)")
            #expect(dir.entries.isEmpty, "temp files left: \(dir.entries)")
        }

        @Test("SIGTERM while Python BCC consumes: the benchmark stops its child, removes its temp dir and exits 0",
              .requiresPythonBCC)
        func sigterm() throws {
            let dir = try RunDir()
            let child = try Child(try examplePath("EventPathBench"),
                                  ["--only", "python", "--events", "200000", "--rounds", "50"],
                                  environment: ["TMPDIR": dir.url.path])
            #expect(eventually(timeout: 60) { !Self.processes(mentioning: dir.url.path + "/EventPathBench.").isEmpty },
                    "the Python consumer never started: \(child.stdout) \(child.stderr)")
            kill(child.process.processIdentifier, SIGTERM)
            #expect(child.wait(timeout: 20) == 0, "stdout: \(child.stdout)\nstderr: \(child.stderr)")
            #expect(child.stdout.contains("stopped by signal \(SIGTERM)"), "\(child.stdout)")
            #expect(Self.processes(mentioning: dir.url.path).isEmpty, "a consumer outlived the benchmark")
            #expect(dir.entries.isEmpty, "temp files left: \(dir.entries)")
        }

        @Test("A consumer past --timeout is stopped and its paths are skipped with the reason; the run exits 0")
        func timeout() throws {
            let dir = try RunDir()
            // Stands in for a hung Python: exec so the signal reaches the sleeping process itself.
            let hung = dir.url.appendingPathComponent("hung-python")
            try "#!/bin/sh\nexec sleep 120\n".write(to: hung, atomically: true, encoding: .utf8)
            chmod(hung.path, 0o755)
            let child = try Child(try examplePath("EventPathBench"),
                                  ["--only", "python", "--python", hung.path, "--timeout", "1"],
                                  environment: ["TMPDIR": dir.url.path])
            #expect(child.wait(timeout: 30) == 0, "stdout: \(child.stdout)\nstderr: \(child.stderr)")
            #expect(child.stdout.contains("skipped: Python BCC perf-event, perf-noop, ring-event, ring-event0, ring-noop: timed out"),
                    "\(child.stdout)")
            #expect(child.stdout.contains("no measurements"), "\(child.stdout)")
            #expect(Self.processes(mentioning: hung.path).isEmpty, "the hung consumer outlived its timeout")
            #expect(dir.entries == ["hung-python"], "temp files left: \(dir.entries)")
        }

        @Test("Missing Python or compiler: those rows are skipped with the reason, and the run exits 0")
        func missingTools() throws {
            let child = try Child(try examplePath("EventPathBench"),
                                  ["--only", "python,c", "--python", "/nonexistent/python3", "--cc", "no-such-cc"])
            #expect(child.wait(timeout: 30) == 0, "stdout: \(child.stdout)\nstderr: \(child.stderr)")
            #expect(child.stdout.contains("skipped: Python BCC: /nonexistent/python3 is not an executable"), "\(child.stdout)")
            #expect(child.stdout.contains("skipped: C (libbcc): no-such-cc not found on PATH"), "\(child.stdout)")
        }

        @Test("An unknown --only path is a usage error naming the valid ones")
        func unknownPath() throws {
            let child = try Child(try examplePath("EventPathBench"), ["--only", "perf-typed,nope"])
            let status = child.wait(timeout: 30)
            #expect(status != nil && status != 0)
            #expect(child.stderr.contains("Unknown path(s) nope"), "\(child.stderr)")
            #expect(child.stderr.contains("perf-typed, perf-raw, perf-dynamic, perf-typed-vars, perf-direct, ring-typed, ring-raw, ring-dynamic, ring-typed-vars, ring-direct, python, c"))
        }
    }
}
