import Foundation
import Glibc
@testable import SwiftBCC
import Testing

extension KernelSuite {
    @Suite("bashreadline tool", .requiresBPF, .requiresUprobes)
    struct BashreadlineTests {
        static let header = "TIME      PID     COMMAND"

        @Test("--help lists every flag of bashreadline-bpfcc -h", .requiresPythonToolInstalled("bashreadline"))
        func helpHasPythonFlags() throws {
            try ToolTest.expectPythonFlagsInHelp("bashreadline", minimum: 4)
        }

        @Test("a bad flag value is a usage error (exit 64); a bare -s takes Python's default library")
        func badValue() throws {
            try ToolTest.expectUsageError("bashreadline", ["-x"])
            try ToolTest.expectUsageError("bashreadline", ["-s", "/bin/bash", "extra"])
            // -s alone is /lib/libreadline.so (Python's const): not a usage error.
            let out = try ToolTest.run(try examplePath("bashreadline"), ["-s", "--ebpf"], timeout: 30)
            #expect(out.status == 0 && out.stdout.contains("printret"), "stderr: \(out.stderr)")
        }

        /// An interactive bash (readline runs only on a terminal: `script` gives it a pty) that
        /// reads `line` and then `exit`; returns the directory holding `pid` (bash's $$, which the
        /// line writes there).
        static func interactiveBash(_ marker: String, in dir: URL) throws -> (line: String, pidFile: String) {
            let pidFile = dir.appendingPathComponent("pid").path
            let line = "echo $$ > \(pidFile) # \(marker)"
            let input = dir.appendingPathComponent("input").path
            try (line + "\nexit\n").write(toFile: input, atomically: true, encoding: .utf8)
            let run = try ToolTest.spawn("/bin/sh", ["-c", "script -qc 'env HISTFILE=/dev/null bash --norc -i' /dev/null < \(input) > /dev/null"])
            #expect(run.status == 0)
            return (line, pidFile)
        }

        @Test("a line typed into an interactive bash: its pid and the line")
        func lineRow() throws {
            let marker = uniqueMarker("br")
            let dir = try ToolTest.temporaryDirectory(marker)
            defer { try? FileManager.default.removeItem(at: dir) }
            let child = try ToolTest.startTool("bashreadline", [])
            #expect(child.stdoutLines.first == Self.header)
            var typed: (line: String, pidFile: String)?
            ToolTest.waitForRow(child, containing: marker) { if typed == nil { typed = try? Self.interactiveBash(marker, in: dir) } }
            #expect(ToolTest.stop(child) == 0, "stderr: \(child.stderr)")
            let (line, pidFile) = try #require(typed)
            let pid = try String(contentsOfFile: pidFile, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
            let row = try #require(child.stdoutLines.first { $0.contains(marker) }, "stdout: \(child.stdout)")
            #expect(ToolTest.matches(row.prefix(10), #"\d\d:\d\d:\d\d  "#), "row: \(row)")
            #expect(row.dropFirst(10) == pid.padding(toLength: 7, withPad: " ", startingAt: 0) + " " + line, "row: \(row)")
            // The next line it read, from the same shell.
            #expect(child.stdoutLines.contains { $0.dropFirst(10) == pid.padding(toLength: 7, withPad: " ", startingAt: 0) + " exit" },
                    "stdout: \(child.stdout)")
        }

        @Test("-s /bin/bash: the same probe through the option")
        func sharedOption() throws {
            let marker = uniqueMarker("br")
            let dir = try ToolTest.temporaryDirectory(marker)
            defer { try? FileManager.default.removeItem(at: dir) }
            let child = try ToolTest.startTool("bashreadline", ["-s", "/bin/bash"])
            var typed = false
            let seen = ToolTest.waitForRow(child, containing: marker) {
                if !typed { typed = (try? Self.interactiveBash(marker, in: dir)) != nil }
            }
            #expect(ToolTest.stop(child, signal: SIGTERM) == 0, "stderr: \(child.stderr)")
            #expect(seen, "stdout: \(child.stdout)")
        }

        @Test("Python's bashreadline and ours print the same header and rows for the same line",
              .requiresPythonTool("bashreadline"))
        func sameAsPython() throws {
            let marker = uniqueMarker("br")
            let dir = try ToolTest.temporaryDirectory(marker)
            defer { try? FileManager.default.removeItem(at: dir) }
            // Ours first: the kernel refuses a second uprobe at one offset with another ref_ctr_offset
            // (EINVAL, dmesg "ref_ctr_offset mismatch"); Python BCC passes a stray one (bcc#5236), ours 0.
            // Started second, Python's still attaches here; started first, it makes ours fail.
            let swift = try ToolTest.startTool("bashreadline", [])
            let python = try #require(try ToolTest.startPython("bashreadline", []))
            _ = try Self.interactiveBash(marker, in: dir)
            ToolTest.waitForRow(swift, containing: marker)
            ToolTest.waitForRow(python, containing: marker)
            _ = ToolTest.stop(python)
            #expect(ToolTest.stop(swift) == 0)
            #expect(python.stdoutLines.first == swift.stdoutLines.first)
            let p = python.stdoutLines.filter { $0.contains(marker) }.map { $0.dropFirst(10) }
            let s = swift.stdoutLines.filter { $0.contains(marker) }.map { $0.dropFirst(10) }
            #expect(!s.isEmpty && p == s, "python:\n\(python.stdout)\nswift:\n\(swift.stdout)")
        }
    }
}
