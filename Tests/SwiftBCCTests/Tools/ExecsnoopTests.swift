import Foundation
import Glibc
@testable import SwiftBCC
import Testing

extension KernelSuite {
    @Suite("execsnoop tool", .requiresBPF)
    struct ExecsnoopTests {
        @Test("--help lists every flag of execsnoop-bpfcc -h", .requiresPythonToolInstalled("execsnoop"))
        func helpHasPythonFlags() throws {
            try ToolTest.expectPythonFlagsInHelp("execsnoop", minimum: 20)
        }

        @Test("a bad flag value is a usage error (exit 64), not a trace")
        func badValue() throws {
            try ToolTest.expectUsageError("execsnoop", ["--max-args", "many"])
            try ToolTest.expectUsageError("execsnoop", ["-u", "no-such-user-\(uniqueMarker())"])
            try ToolTest.expectUsageError("execsnoop", ["--no-such-flag"])
        }

        @Test("-x -P <our pid>: an exec of a command named by a marker shows comm, pid, our pid as PPID, RET 0 and its args; a failed exec shows RET -2")
        func execRows() throws {
            let marker = uniqueMarker("ex")
            let dir = try ToolTest.temporaryDirectory(marker)
            defer { try? FileManager.default.removeItem(at: dir) }
            let command = try ToolTest.markedCommand(marker, in: dir)
            let child = try ToolTest.startTool("execsnoop", ["-x", "-P", String(getpid())])
            #expect(child.stdoutLines.first == "PCOMM            PID     PPID    RET ARGS")
            var pids: [Int32] = []
            ToolTest.waitForRow(child, containing: marker) {
                if let run = try? ToolTest.spawn(command, ["0.01", marker]) { pids.append(run.pid) }
            }
            // A failed exec: the spawned child's execve returns ENOENT.
            let missing = dir.appendingPathComponent("missing-\(marker)").path
            ToolTest.waitForRows(child, containing: [" " + command, "missing-\(marker)"]) { ToolTest.spawnFailingExec(missing) }
            #expect(ToolTest.stop(child) == 0, "stderr: \(child.stderr)")
            let rows = child.stdoutLines.filter { $0.contains(marker) }
            let ok = try #require(rows.first { ToolTest.fields($0).first == marker }, "rows: \(child.stdout)")
            let f = ToolTest.fields(ok)
            #expect(pids.contains(Int32(f[1]) ?? -1), "row \(ok), pids \(pids)")
            #expect(f[2] == String(getpid()), "PPID: \(ok)")
            #expect(f[3] == "0")
            #expect(Array(f[4...]) == [command, "0.01", marker])
            // Columns: %-16s %-7d %-7s %3d %s.
            #expect(ok.hasPrefix(marker.padding(toLength: 16, withPad: " ", startingAt: 0) + " "))
            let failed = try #require(rows.first { $0.contains("missing-\(marker)") }, "rows: \(child.stdout)")
            #expect(ToolTest.fields(failed)[3] == "-2", "row: \(failed)")
            // Only our children (PPID filter) were printed.
            #expect(child.stdoutLines.dropFirst().allSatisfy { ToolTest.fields($0)[2] == String(getpid()) },
                    "stdout: \(child.stdout)")
            if !Probe.kprobes.ok {
                #expect(child.stderr.contains("execsnoop: using tracepoints (syscalls:sys_enter_execve"), "stderr: \(child.stderr)")
            }
        }

        @Test("-T -t -U -q: time, seconds and UID columns, quoted args; failed execs hidden without -x")
        func columns() throws {
            let marker = uniqueMarker("ex")
            let dir = try ToolTest.temporaryDirectory(marker)
            defer { try? FileManager.default.removeItem(at: dir) }
            let command = try ToolTest.markedCommand(marker, in: dir)
            let child = try ToolTest.startTool("execsnoop", ["-T", "-t", "-U", "-q", "-n", "^" + marker])
            #expect(child.stdoutLines.first == "TIME     TIME(s) UID   PCOMM            PID     PPID    RET ARGS")
            ToolTest.spawnFailingExec(dir.appendingPathComponent("missing-\(marker)").path)
            ToolTest.waitForRow(child, containing: marker) { _ = try? ToolTest.spawn(command, ["0.01", "a\"b"]) }
            #expect(ToolTest.stop(child, signal: SIGTERM) == 0, "stderr: \(child.stderr)")
            let rows = Array(child.stdoutLines.dropFirst())
            #expect(!rows.isEmpty && rows.allSatisfy { ToolTest.fields($0)[3] == marker }, "stdout: \(child.stdout)")
            let row = try #require(rows.first)
            // %-9s HH:MM:SS, %-8.3f seconds, %-6d uid.
            #expect(ToolTest.matches(row.prefix(9), #"\d\d:\d\d:\d\d "#), "row: \(row)")
            #expect(ToolTest.matches(row.dropFirst(9).prefix(8), #"\d+\.\d{3} *"#), "row: \(row)")
            #expect(row.dropFirst(17).prefix(6) == String(getuid()).padding(toLength: 6, withPad: " ", startingAt: 0))
            #expect(row.hasSuffix("\"\(command)\" \"0.01\" \"a\\\"b\""), "row: \(row)")
            #expect(!child.stdout.contains("missing-\(marker)"))
        }

        @Test("--max-args 2 keeps the file name and one argument, then ...; -l matches the joined arguments")
        func maxArgsAndLine() throws {
            let marker = uniqueMarker("ex")
            let dir = try ToolTest.temporaryDirectory(marker)
            defer { try? FileManager.default.removeItem(at: dir) }
            let command = try ToolTest.markedCommand(marker, in: dir)
            let other = try ToolTest.markedCommand("o" + marker, in: dir)
            let child = try ToolTest.startTool("execsnoop", ["--max-args", "2", "-l", "/\(marker) 0\\.01", "-P", String(getpid())])
            ToolTest.waitForRow(child, containing: marker) {
                _ = try? ToolTest.spawn(other, ["0.02", "x\(marker)"])      // -l does not match
                _ = try? ToolTest.spawn(command, ["0.01", "x\(marker)", "third"])
            }
            #expect(ToolTest.stop(child) == 0, "stderr: \(child.stderr)")
            let rows = Array(child.stdoutLines.dropFirst())
            #expect(!rows.isEmpty && rows.allSatisfy { $0.hasSuffix(" \(command) 0.01 ...") }, "stdout: \(child.stdout)")
        }

        /// Runs execsnoop (`extra` flags) over 12 execs of a marked command with three
        /// arguments, 100 ms apart (each alone, no batching); returns its rows of them and its
        /// main thread's wakeups (voluntary context switches) from before the first to after
        /// the last.
        func execWakeups(_ extra: [String], marker: String) throws -> (rows: [String], wakeups: Int) {
            let dir = try ToolTest.temporaryDirectory(marker)
            defer { try? FileManager.default.removeItem(at: dir) }
            let command = try ToolTest.markedCommand(marker, in: dir)
            let child = try ToolTest.startTool("execsnoop", extra + ["-P", String(getpid())])
            let tool = child.process.processIdentifier
            // One exec first: the tool is past its start-up.
            ToolTest.waitForRow(child, containing: marker) { _ = try? ToolTest.spawn(command, ["0", marker, "first"]) }
            usleep(200_000)
            let before = try #require(ToolTest.wakeups(tool))
            for i in 0..<12 {
                _ = try ToolTest.spawn(command, ["0", marker, "n\(i)"])
                usleep(100_000)
            }
            ToolTest.waitForRow(child, containing: "\(marker) n11")
            let after = try #require(ToolTest.wakeups(tool))
            #expect(ToolTest.stop(child) == 0, "stderr: \(child.stderr)")
            let rows = child.stdoutLines.filter { $0.contains(" \(marker) n") }
            #expect(rows.count == 12 && rows.allSatisfy { $0.hasPrefix(marker) && ToolTest.fields($0).suffix(3).first == "0" },
                    "stdout: \(child.stdout)")
            return (rows, after - before)
        }

        @Test("ring buffer events: one wakeup per exec (its argument records do not wake the tool); --perf-buffer, Python's output, prints the same rows",
              .requiresRingBuffers)
        func oneWakeupPerExec() throws {
            let marker = uniqueMarker("ex")
            let ring = try execWakeups([], marker: marker)
            let perf = try execWakeups(["--perf-buffer"], marker: marker)
            // 12 execs, 4 records each: the perf buffer wakes the tool at least twice per exec
            // (the arguments, then the return ~1 ms later) unless the two are read together.
            #expect(ring.wakeups <= 18, "ring buffer: \(ring.wakeups) wakeups for 12 execs (perf buffer: \(perf.wakeups))")
            // The same rows but for the PID column.
            let shape = { (row: String) in ToolTest.fields(row).enumerated().filter { $0.offset != 1 }.map(\.element) }
            #expect(ring.rows.map(shape) == perf.rows.map(shape),
                    "ring:\n\(ring.rows.joined(separator: "\n"))\nperf:\n\(perf.rows.joined(separator: "\n"))")
        }

        @Test("Python's execsnoop and ours print the same header and rows for the same execs",
              .requiresPythonTool("execsnoop"), .tags(.vmLane))
        func sameAsPython() throws {
            let marker = uniqueMarker("ex")
            let dir = try ToolTest.temporaryDirectory(marker)
            defer { try? FileManager.default.removeItem(at: dir) }
            let command = try ToolTest.markedCommand(marker, in: dir)
            let args = ["-U", "-x", "-P", String(getpid())]
            let python = try #require(try ToolTest.startPython("execsnoop", args))
            let swift = try ToolTest.startTool("execsnoop", args)
            // One exec, seen by both (a repeated trigger would give the two tools different pids).
            _ = try ToolTest.spawn(command, ["0.01", marker])
            ToolTest.waitForRow(swift, containing: marker)
            ToolTest.waitForRow(python, containing: marker)
            _ = ToolTest.stop(python)
            #expect(ToolTest.stop(swift) == 0)
            #expect(python.stdoutLines.first == swift.stdoutLines.first)
            let p = python.stdoutLines.filter { $0.contains(marker) }
            let s = swift.stdoutLines.filter { $0.contains(marker) }
            #expect(!s.isEmpty && s.allSatisfy(p.contains), "python:\n\(python.stdout)\nswift:\n\(swift.stdout)")
        }
    }
}
