import Foundation
import Glibc
@testable import SwiftBCC
import Testing

extension KernelSuite {
    @Suite("statsnoop tool", .requiresBPF)
    struct StatsnoopTests {
        @Test("--help lists every flag of statsnoop-bpfcc -h", .requiresPythonToolInstalled("statsnoop"))
        func helpHasPythonFlags() throws {
            try ToolTest.expectPythonFlagsInHelp("statsnoop", minimum: 8)
        }

        @Test("a bad flag value is a usage error (exit 64), not a trace")
        func badValue() throws {
            try ToolTest.expectUsageError("statsnoop", ["-p", "me"])
        }

        @Test("-p <our pid>: statfs() of a marker dir (FD 0, ERR 0) and of a missing path (FD -1, ERR 2) show our pid and the path")
        func rows() throws {
            let marker = uniqueMarker("ss")
            let dir = try ToolTest.temporaryDirectory(marker)
            defer { try? FileManager.default.removeItem(at: dir) }
            let missing = dir.appendingPathComponent("missing").path
            let child = try ToolTest.startTool("statsnoop", ["-p", String(getpid())])
            #expect(child.stdoutLines.first == "PID     COMM               FD ERR PATH")
            ToolTest.waitForRows(child, containing: [" " + dir.path, missing]) {
                ToolTest.statfs(dir.path)
                ToolTest.statfs(missing)
            }
            #expect(ToolTest.stop(child) == 0, "stderr: \(child.stderr)")
            let rows = Array(child.stdoutLines.dropFirst())
            #expect(rows.allSatisfy { ToolTest.fields($0).first == String(getpid()) }, "stdout: \(child.stdout)")
            let ok = try #require(rows.first { $0.hasSuffix(" " + dir.path) }, "stdout: \(child.stdout)")
            // %-7d %-16s %4d %3d %s
            #expect(ok.dropFirst(25).prefix(8) == "   0   0", "row: \(ok)")
            let bad = try #require(rows.first { $0.hasSuffix(" " + missing) }, "stdout: \(child.stdout)")
            #expect(bad.dropFirst(25).prefix(8) == "  -1   2", "row: \(bad)")
            if !Probe.kprobes.ok {
                #expect(child.stderr.contains("statsnoop: using tracepoints (syscalls:sys_enter_statx"), "stderr: \(child.stderr)")
            }
        }

        @Test("-x -t: failures only, with seconds since the first event")
        func failedTimestamp() throws {
            let marker = uniqueMarker("ss")
            let dir = try ToolTest.temporaryDirectory(marker)
            defer { try? FileManager.default.removeItem(at: dir) }
            let missing = dir.appendingPathComponent("missing").path
            let child = try ToolTest.startTool("statsnoop", ["-x", "-t", "-p", String(getpid())])
            #expect(child.stdoutLines.first == "TIME(s)       PID     COMM               FD ERR PATH")
            ToolTest.waitForRow(child, containing: missing) {
                ToolTest.statfs(dir.path)
                ToolTest.statfs(missing)
            }
            #expect(ToolTest.stop(child, signal: SIGHUP) == 0, "SIGHUP ends it like Ctrl-C; stderr: \(child.stderr)")
            let rows = Array(child.stdoutLines.dropFirst())
            #expect(!rows.contains { $0.hasSuffix(" " + dir.path) }, "stdout: \(child.stdout)")
            let row = try #require(rows.first { $0.hasSuffix(" " + missing) }, "stdout: \(child.stdout)")
            #expect(ToolTest.matches(row.prefix(14), #"\d+\.\d{9} *"#), "row: \(row)")
            #expect(rows.first.map { ToolTest.fields($0)[0] } == "0.000000000", "stdout: \(child.stdout)")
        }

        @Test("Python's statsnoop and ours print the same header and rows for the same stats",
              .requiresPythonTool("statsnoop"), .tags(.vmLane))
        func sameAsPython() throws {
            let marker = uniqueMarker("ss")
            let dir = try ToolTest.temporaryDirectory(marker)
            defer { try? FileManager.default.removeItem(at: dir) }
            let missing = dir.appendingPathComponent("missing").path
            let args = ["-p", String(getpid())]
            let python = try #require(try ToolTest.startPython("statsnoop", args))
            let swift = try ToolTest.startTool("statsnoop", args)
            ToolTest.waitForRow(swift, containing: missing) { ToolTest.statfs(missing) }
            let s = swift.stdoutLines.filter { $0.contains(missing) }
            // Python's kprobe programs take the path from the syscall wrapper's own registers
            // (their functions lack the syscall__ prefix libbcc rewrites), so on x86_64 since
            // 4.17 its PATH is empty: its rows must have our fields before the path.
            let fields = s.first.map { String($0.dropLast(missing.count)) } ?? missing
            ToolTest.waitForRow(python, containing: fields)
            _ = ToolTest.stop(python)
            #expect(ToolTest.stop(swift) == 0)
            #expect(python.stdoutLines.first == swift.stdoutLines.first)
            let p = python.stdoutLines.dropFirst()
            #expect(!s.isEmpty && s.allSatisfy { p.contains($0) || p.contains(String($0.dropLast(missing.count))) },
                    "python:\n\(python.stdout)\nswift:\n\(swift.stdout)")
        }
    }
}
