import Foundation
import Glibc
@testable import SwiftBCC
import Testing

extension KernelSuite {
    @Suite("exitsnoop tool", .requiresBPF)
    struct ExitsnoopTests {
        static let header = "PCOMM            PID     PPID    TID     AGE(s)  EXIT_CODE "

        @Test("--help lists every flag of exitsnoop-bpfcc -h", .requiresPythonToolInstalled("exitsnoop"))
        func helpHasPythonFlags() throws {
            try ToolTest.expectPythonFlagsInHelp("exitsnoop", minimum: 11)
        }

        @Test("a bad flag value is a usage error (exit 64), not a trace")
        func badValue() throws {
            try ToolTest.expectUsageError("exitsnoop", ["-p", "abc"])
            try ToolTest.expectUsageError("exitsnoop", ["--label"])
        }

        @Test("exit 3 and SIGKILL of marker-named children: comm, pid, our pid as PPID, tid, age and the exit status")
        func exitRows() throws {
            let marker = uniqueMarker("xs")
            let dir = try ToolTest.temporaryDirectory(marker)
            defer { try? FileManager.default.removeItem(at: dir) }
            let sh = try ToolTest.markedCommand(marker, in: dir, target: "/bin/sh")
            let sleeper = try ToolTest.markedCommand(marker + "k", in: dir)
            let child = try ToolTest.startTool("exitsnoop", [])
            #expect(child.stdoutLines.first == Self.header)
            var exited: Int32 = 0
            var killed: Int32 = 0
            ToolTest.waitForRows(child, containing: [marker + " ", marker + "k"]) {
                if exited == 0, let run = try? ToolTest.spawn(sh, ["-c", "sleep 0.3; exit 3"]) { exited = run.pid }
                if killed == 0, let k = try? Child(sleeper, ["10"]) {
                    killed = k.process.processIdentifier
                    usleep(100_000)
                    kill(killed, SIGKILL)
                    _ = k.wait(timeout: 10)
                }
            }
            #expect(ToolTest.stop(child) == 0, "stderr: \(child.stderr)")
            let lines = child.stdoutLines
            // Ctrl-C prints an empty line, as the Python tool's print() does.
            #expect(child.stdout.hasSuffix("\n\n"), "stdout: \(child.stdout)")
            let row = try #require(lines.first { ToolTest.fields($0).first == marker }, "stdout: \(child.stdout)")
            let f = ToolTest.fields(row)
            #expect(f[1] == String(exited) && f[3] == String(exited), "row: \(row)")
            #expect(f[2] == String(getpid()), "PPID: \(row)")
            let age = try #require(Double(f[4]))
            #expect(age >= 0.25 && age < 10, "row: \(row)")
            #expect(row.hasSuffix(" code 3"), "row: \(row)")
            #expect(row.hasPrefix(marker.padding(toLength: 16, withPad: " ", startingAt: 0) + " "))
            let killedRow = try #require(lines.first { ToolTest.fields($0).first == marker + "k" }, "stdout: \(child.stdout)")
            #expect(ToolTest.fields(killedRow)[1] == String(killed))
            #expect(killedRow.hasSuffix(" signal 9 (KILL)"), "row: \(killedRow)")
        }

        @Test("-x hides exit 0; -t --label: local time column and label")
        func failedTimestampLabel() throws {
            let marker = uniqueMarker("xs")
            let dir = try ToolTest.temporaryDirectory(marker)
            defer { try? FileManager.default.removeItem(at: dir) }
            let sh = try ToolTest.markedCommand(marker, in: dir, target: "/bin/sh")
            let ok = try ToolTest.markedCommand(marker + "ok", in: dir, target: "/bin/true")
            let child = try ToolTest.startTool("exitsnoop", ["-x", "-t", "--label", "L1"])
            let zone = String(cString: { var t = time(nil); var tmv = tm(); localtime_r(&t, &tmv); return tmv.tm_zone }())
            #expect(child.stdoutLines.first == "TIME-\(zone)".padding(toLength: 13, withPad: " ", startingAt: 0) + "LABEL " + Self.header)
            ToolTest.waitForRow(child, containing: marker + " ") {
                _ = try? ToolTest.spawn(ok, [])
                _ = try? ToolTest.spawn(sh, ["-c", "exit 7"])
            }
            #expect(ToolTest.stop(child, signal: SIGTERM) == 0, "stderr: \(child.stderr)")
            #expect(!child.stdout.contains(marker + "ok"), "-x shows exit 0: \(child.stdout)")
            let row = try #require(child.stdoutLines.first { $0.contains(marker + " ") })
            #expect(ToolTest.matches(row.prefix(13), #"\d\d:\d\d:\d\d\.\d{3} "#), "row: \(row)")
            #expect(row.dropFirst(13).hasPrefix("L1    \(marker) "), "row: \(row)")
            #expect(row.hasSuffix(" code 7"), "row: \(row)")
        }

        @Test("-p PID prints that process's exit and returns, exit 0")
        func pidReturns() throws {
            let marker = uniqueMarker("xs")
            let dir = try ToolTest.temporaryDirectory(marker)
            defer { try? FileManager.default.removeItem(at: dir) }
            let sleeper = try ToolTest.markedCommand(marker, in: dir)
            let target = try Child(sleeper, ["30"])
            let pid = target.process.processIdentifier
            let child = try ToolTest.startTool("exitsnoop", ["-p", String(pid), "--utc"])
            #expect(child.stdoutLines.first == "TIME-UTC     " + Self.header)
            // SIGKILL: the test runner may pass a mask blocking SIGTERM on to its children.
            kill(pid, SIGKILL)
            #expect(child.wait(timeout: 30) == 0, "stderr: \(child.stderr)")
            let rows = Array(child.stdoutLines.dropFirst())
            #expect(rows.count == 1, "stdout: \(child.stdout)")
            #expect(rows.first?.hasSuffix(" signal 9 (KILL)") == true, "stdout: \(child.stdout)")
            #expect(rows.first.map { ToolTest.fields($0)[2] } == String(pid))
        }

        @Test("Python's exitsnoop prints the same header, for each flag combination",
              .requiresPythonTool("exitsnoop"))
        func sameHeaderAsPython() throws {
            for args in [["-x"], ["--utc", "--label", "x"]] {
                let python = try #require(try ToolTest.startPython("exitsnoop", args))
                _ = ToolTest.stop(python)
                let swift = try ToolTest.startTool("exitsnoop", args)
                #expect(ToolTest.stop(swift) == 0)
                #expect(python.stdoutLines.first == swift.stdoutLines.first, "\(args)")
            }
        }

        @Test("--per-thread: Python's rows for the same exit have our row's layout (with other headers, Python's numbers are read at wrong offsets)",
              .requiresPythonTool("exitsnoop"))
        func rowLayoutAsPython() throws {
            let marker = uniqueMarker("xs")
            let dir = try ToolTest.temporaryDirectory(marker)
            defer { try? FileManager.default.removeItem(at: dir) }
            let sh = try ToolTest.markedCommand(marker, in: dir, target: "/bin/sh")
            // --per-thread and no -x: Python's filter reads no task field, so every exit reaches
            // its output; comm comes from a helper and is right everywhere.
            let args = ["--per-thread", "--label", "lab"]
            let python = try #require(try ToolTest.startPython("exitsnoop", args))
            let swift = try ToolTest.startTool("exitsnoop", args)
            // One exit, seen by both (a repeated trigger would give the two tools different pids).
            _ = try ToolTest.spawn(sh, ["-c", "exit 5"])
            ToolTest.waitForRow(swift, containing: marker)
            ToolTest.waitForRow(python, containing: marker)
            _ = ToolTest.stop(python)
            #expect(ToolTest.stop(swift) == 0)
            #expect(python.stdoutLines.first == swift.stdoutLines.first)
            let p = try #require(python.stdoutLines.first { $0.contains(marker) }, "python: \(python.stdout)")
            let s = try #require(swift.stdoutLines.first { $0.contains(marker) }, "swift: \(swift.stdout)")
            // %-6s label, %-16s comm, three %-7d, %-7.2f, then the status.
            let layout = #"lab   \#(marker) {6}( -?\d+ *){3} -?\d+\.\d\d *( 0| code -?\d+| signal \d+ \(\w+\)(, core dumped )?|, core dumped )"#
            #expect(ToolTest.matches(s, layout), "swift row: \(s)")
            #expect(ToolTest.matches(p, layout), "python row: \(p)")
            #expect(p.prefix(6 + 17) == s.prefix(6 + 17))
        }

        @Test("Python's exitsnoop and ours print the same rows for the same exits",
              .requiresPythonTool("exitsnoop"), .requiresExactKernelHeaders, .tags(.vmLane))
        func sameRowsAsPython() throws {
            let marker = uniqueMarker("xs")
            let dir = try ToolTest.temporaryDirectory(marker)
            defer { try? FileManager.default.removeItem(at: dir) }
            let sh = try ToolTest.markedCommand(marker, in: dir, target: "/bin/sh")
            let python = try #require(try ToolTest.startPython("exitsnoop", ["--label", ""]))
            let swift = try ToolTest.startTool("exitsnoop", ["--label", ""])
            // One exit, seen by both (a repeated trigger would give the two tools different pids).
            _ = try ToolTest.spawn(sh, ["-c", "exit 5"])
            ToolTest.waitForRow(swift, containing: marker)
            ToolTest.waitForRow(python, containing: marker)
            _ = ToolTest.stop(python)
            #expect(ToolTest.stop(swift) == 0)
            let p = python.stdoutLines.filter { $0.contains(marker) }
            let s = swift.stdoutLines.filter { $0.contains(marker) }
            // AGE(s) may differ in its last digit: compare every other field.
            let strip = { (row: String) -> [String] in var f = ToolTest.fields(row); if f.count > 5 { f.remove(at: 5) }; return f }
            #expect(!s.isEmpty && s.map(strip) == p.map(strip), "python:\n\(python.stdout)\nswift:\n\(swift.stdout)")
        }
    }
}
