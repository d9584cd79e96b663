import Foundation
import Glibc
@testable import SwiftBCC
import Testing

/// ToolBench is a benchmark executable, not a timed test: this runs it in a tiny mode on two
/// of its loads (the pipe ping-pong of runqlat and the lines typed into an interactive bash of
/// bashreadline) and checks that both languages' tools started, measured their load and exited
/// on Ctrl-C, and that the table has their rows. It asserts nothing about speed.
extension KernelSuite {
    @Suite("ToolBench", .requiresBPF, .requiresUprobes, .requiresPythonToolInstalled("runqlat"),
           .requiresPythonToolInstalled("bashreadline"))
    struct ToolBenchTests {
        @Test("ToolBench: runqlat and bashreadline, Swift cold and warm and Python, each measured with the load's events")
        func smallRun() throws {
            let dir = FileManager.default.temporaryDirectory.appendingPathComponent("swiftbcc-tb-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(at: dir) }
            let child = try Child(try examplePath("ToolBench"),
                                  ["--only", "runqlat,bashreadline", "--rounds", "1", "--seconds", "1", "--warmups", "0",
                                   "--bash-rate", "100"],
                                  environment: ["TMPDIR": dir.path])
            let status = child.wait(timeout: 240)
            let out = child.stdout
            #expect(status == 0, "stdout: \(out)\nstderr: \(child.stderr)")
            let lines = out.split(separator: "\n").map(String.init)
            for tool in ["runqlat", "bashreadline"] {
                // "<tool>: Swift ...; warm ...; Python ..." with no "(note)": all three measured.
                let summary = lines.first { $0.hasPrefix(tool + ": ") }
                #expect(summary != nil && summary.map { !$0.contains("–") && !$0.contains("(") } == true, "\(out)")
                let row = lines.first { $0.hasPrefix("| `\(tool)") }
                #expect(row != nil && row.map { !$0.contains("<!--") } == true, "\(out)")
                if let row {
                    // The start columns (cold, warm, Python) are positive seconds.
                    let cells = row.split(separator: "|").map { $0.trimmingCharacters(in: .whitespaces) }
                    let starts = cells.count > 10 ? cells[8...10].compactMap(Double.init) : []
                    #expect(starts.count == 3 && starts.allSatisfy { $0 > 0 }, "\(row)")
                }
            }
            // About 1 s of 100 lines/s and the closing marker line, which bash read and ran.
            let bash = lines.first { $0.hasPrefix("bashreadline: ") } ?? ""
            let counts = bash.split(separator: " ").enumerated().compactMap { i, word in
                word.hasPrefix("events") ? Int(bash.split(separator: " ")[i - 1]) : nil
            }
            #expect(counts.count == 3 && counts.allSatisfy { (95...106).contains($0) }, "\(bash)")
            #expect(out.contains("| Ctrl-C to exit Swift / Python (s) |"), "\(out)")
            #expect(((try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? []).isEmpty, "the temp dir was removed")
        }
    }
}
