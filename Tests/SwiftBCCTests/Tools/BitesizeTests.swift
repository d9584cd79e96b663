import Foundation
import Glibc
@testable import SwiftBCC
import Testing

extension KernelSuite {
    @Suite("bitesize tool", .requiresBPF)
    struct BitesizeTests {
        @Test("--help: bitesize-bpfcc has no options (no argument parser), ours shows only -h/--help",
              .requiresPythonToolInstalled("bitesize"))
        func helpHasPythonFlags() throws {
            #expect(try ToolTest.pythonFlags("bitesize").isEmpty)
            let help = try ToolTest.run(try examplePath("bitesize"), ["--help"], timeout: 30)
            #expect(help.status == 0, "stderr: \(help.stderr)")
            #expect(ToolTest.helpTokens(help.stdout) == ["-h", "--help"], "help:\n\(help.stdout)")
        }

        @Test("an unknown option or a bad hidden option value is a usage error (exit 64)")
        func badValue() throws {
            try ToolTest.expectUsageError("bitesize", ["-x"])
            try ToolTest.expectUsageError("bitesize", ["--max-events", "zero"])
        }

        /// The section of `text` for process `name`: its `Process Name = <name>` line and histogram.
        static func section(_ text: String, _ name: String) -> String? {
            guard let start = text.range(of: "\nProcess Name = \(name)\n") else { return nil }
            let rest = text[start.upperBound...]
            let end = rest.range(of: "\nProcess Name = ")?.lowerBound ?? rest.endIndex
            return "\nProcess Name = \(name)\n" + rest[..<end]
        }

        /// 5 writes of 4 KiB by a dd named `marker` (larger writes to a file may be split where
        /// its blocks are not contiguous on disk, so they do not give known sizes).
        static func workload(_ marker: String) throws {
            let dir = try ToolTest.temporaryDirectory(marker)
            defer { try? FileManager.default.removeItem(at: dir) }
            let (path, _) = try BlockWorkload.target(dir)
            try BlockWorkload.directWrites(marker: marker, dir: dir, path: path, blocks: 5, blockSize: "4k")
        }

        @Test("dd's 4 KiB direct writes: its section on Ctrl-C counts them in 4 -> 7 Kbytes, byte-for-byte Python's print_log2_hist text for its counts")
        func processHistogram() throws {
            let marker = uniqueMarker("bz")
            let child = try ToolTest.startSlowTool("bitesize", [])
            #expect(child.stdoutLines.first == "Tracing block I/O... Hit Ctrl-C to end.")
            try Self.workload(marker)
            usleep(300_000)
            #expect(ToolTest.stop(child) == 0, "stderr: \(child.stderr)")
            let text = try #require(Self.section(child.stdout, marker), "no section for \(marker): \(child.stdout)")
            let hists = PrintedHistogram.parse(text)
            try #require(hists.count == 1, "section: \(text)")
            let h = hists[0]
            #expect(h.valType == "Kbytes" && h.lines[0] == "     Kbytes              : count     distribution")
            // The 5 writes; ext4 may add a 4 KiB metadata read in dd's context (same slot).
            #expect(h.vals[3] >= 5 && h.vals[3] <= 7, "section: \(text)")
            let python = try PrintedHistogram.pythonText([(("Process Name", marker), h.vals, "Kbytes")])
            #expect(text == python, "ours:\n\(text)\npython:\n\(python)")
        }

        @Test("SIGTERM prints the histograms and exits 0 like Ctrl-C")
        func sigterm() throws {
            let marker = uniqueMarker("bz")
            let child = try ToolTest.startSlowTool("bitesize", [])
            try Self.workload(marker)
            usleep(300_000)
            #expect(ToolTest.stop(child, signal: SIGTERM) == 0, "stderr: \(child.stderr)")
            #expect(Self.section(child.stdout, marker) != nil, "stdout: \(child.stdout)")
        }

        @Test("Python's bitesize and ours print the same section, byte for byte, for the same writes",
              .requiresPythonTool("bitesize"))
        func sameAsPython() throws {
            let marker = uniqueMarker("bz")
            let python = try #require(try ToolTest.startPython("bitesize", []))
            let swift = try ToolTest.startSlowTool("bitesize", [])
            #expect(python.stdoutLines.first == swift.stdoutLines.first)
            try Self.workload(marker)
            usleep(300_000)
            _ = ToolTest.stop(python)
            #expect(ToolTest.stop(swift) == 0)
            let p = try #require(Self.section(python.stdout, marker), "python: \(python.stdout) \(python.stderr)")
            let s = try #require(Self.section(swift.stdout, marker), "swift: \(swift.stdout)")
            #expect(p == s, "python:\n\(p)\nswift:\n\(s)")
        }
    }
}
