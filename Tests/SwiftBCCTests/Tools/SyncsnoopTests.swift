import Foundation
import Glibc
@testable import SwiftBCC
import Testing

extension KernelSuite {
    @Suite("syncsnoop tool", .requiresBPF)
    struct SyncsnoopTests {
        @Test("the Python tool has no options (no argparse; it ignores -h and starts tracing), and ours lists none but --help",
              .requiresPythonToolInstalled("syncsnoop"))
        func helpHasPythonFlags() throws {
            let source = try String(contentsOfFile: ToolTest.pythonToolPath("syncsnoop"), encoding: .utf8)
            #expect(!source.contains("argparse"))
            #expect(try ToolTest.pythonFlags("syncsnoop").isEmpty)
            let help = try ToolTest.run(try examplePath("syncsnoop"), ["--help"])
            #expect(help.status == 0)
            #expect(ToolTest.helpTokens(help.stdout) == ["-h", "--help"], "help: \(help.stdout)")
        }

        @Test("an unknown flag is a usage error (exit 64), not a trace")
        func badFlag() throws {
            try ToolTest.expectUsageError("syncsnoop", ["-x"])
            try ToolTest.expectUsageError("syncsnoop", ["--max-events", "zero"])
        }

        @Test("our sync() shows a row whose monotonic time lies between the clock readings around the call")
        func syncRow() throws {
            let child = try ToolTest.startTool("syncsnoop", [])
            #expect(child.stdoutLines.first == "TIME(s)            CALL")
            var windows: [(Double, Double)] = []
            let found = eventually(timeout: 20) {
                var a = timespec(), z = timespec()
                clock_gettime(CLOCK_MONOTONIC, &a)
                sync()
                clock_gettime(CLOCK_MONOTONIC, &z)
                windows.append((Double(a.tv_sec) + Double(a.tv_nsec) / 1e9 - 1e-6, Double(z.tv_sec) + Double(z.tv_nsec) / 1e9 + 1e-6))
                return child.stdoutLines.count > 1
            }
            #expect(found, "stderr: \(child.stderr)")
            usleep(300_000)
            #expect(ToolTest.stop(child) == 0, "stderr: \(child.stderr)")
            let rows = Array(child.stdoutLines.dropFirst())
            #expect(rows.allSatisfy { ToolTest.matches($0, #"\d+\.\d{9} +sync\(\)"#) && $0.dropFirst(18).hasPrefix(" sync()") },
                    "stdout: \(child.stdout)")
            let times = rows.compactMap { Double(ToolTest.fields($0)[0]) }
            #expect(windows.contains { w in times.contains { $0 >= w.0 && $0 <= w.1 } }, "rows \(rows), windows \(windows)")
            if !Probe.kprobes.ok {
                #expect(child.stderr.contains("syncsnoop: using tracepoints (syscalls:sys_enter_sync)"), "stderr: \(child.stderr)")
            }
        }

        @Test("--max-events 1 exits 0 after one row")
        func maxEvents() throws {
            let child = try ToolTest.startTool("syncsnoop", ["--max-events", "1"])
            let status = child.drive(timeout: 20, every: 0.2) { sync() }
            #expect(status == 0, "stderr: \(child.stderr)")
            #expect(child.stdoutLines.count == 2, "stdout: \(child.stdout)")
        }

        @Test("Python's syncsnoop and ours print the same header and rows for the same sync()s",
              .requiresPythonTool("syncsnoop"), .tags(.vmLane))
        func sameAsPython() throws {
            let python = try #require(try ToolTest.startPython("syncsnoop", []))
            let swift = try ToolTest.startTool("syncsnoop", [])
            _ = eventually(timeout: 20) { sync(); return swift.stdoutLines.count > 1 && python.stdoutLines.count > 1 }
            // No more syncs: let Python print what it has read before it is stopped.
            _ = eventually(timeout: 10) { python.stdoutLines.count >= swift.stdoutLines.count }
            _ = ToolTest.stop(python)
            #expect(ToolTest.stop(swift) == 0)
            #expect(python.stdoutLines.first == swift.stdoutLines.first)
            // Each tool's probe reads the clock itself (under qemu TCG the two probes on one
            // sync() are ~0.1 ms apart): the same layout, and a Python row within 50 ms of each
            // of ours.
            let layout = #"\d+\.\d{9} {2,}sync\(\)"#
            let p = python.stdoutLines.dropFirst()
            let s = swift.stdoutLines.dropFirst()
            #expect(!s.isEmpty && (p + s).allSatisfy { ToolTest.matches($0, layout) && $0.firstIndex(of: "s") == $0.index($0.startIndex, offsetBy: 19) },
                    "python:\n\(python.stdout)\nswift:\n\(swift.stdout)")
            let pTimes = p.compactMap { Double(ToolTest.fields($0)[0]) }
            for row in s {
                let t = Double(ToolTest.fields(row)[0]) ?? -1
                #expect(pTimes.contains { abs($0 - t) < 0.05 }, "no Python row near \(row): python:\n\(python.stdout)")
            }
        }
    }
}
