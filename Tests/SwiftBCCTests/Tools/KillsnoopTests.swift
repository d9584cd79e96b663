import Foundation
import Glibc
@testable import SwiftBCC
import Testing

extension KernelSuite {
    @Suite("killsnoop tool", .requiresBPF)
    struct KillsnoopTests {
        /// What the tool's PID columns are padded to.
        static var width: Int {
            ((try? String(contentsOfFile: "/proc/sys/kernel/pid_max", encoding: .utf8))?
                .trimmingCharacters(in: .whitespacesAndNewlines).count ?? 5) + 1
        }

        static var header: String {
            "TIME      " + "PID".padding(toLength: width, withPad: " ", startingAt: 0) + " COMM             SIG  "
                + "TPID".padding(toLength: width, withPad: " ", startingAt: 0) + " RESULT"
        }

        @Test("--help lists every flag of killsnoop-bpfcc -h", .requiresPythonToolInstalled("killsnoop"))
        func helpHasPythonFlags() throws {
            try ToolTest.expectPythonFlagsInHelp("killsnoop", minimum: 10)
        }

        @Test("a bad flag value is a usage error (exit 64), not a trace")
        func badValue() throws {
            try ToolTest.expectUsageError("killsnoop", ["-s", "KILL"])
            try ToolTest.expectUsageError("killsnoop", ["-T"])
        }

        @Test("-p <our pid>: kill(child, 0) shows our pid, signal 0, the target and result 0; a dead target shows -3 (ESRCH)")
        func rows() throws {
            let marker = uniqueMarker("ks")
            let dir = try ToolTest.temporaryDirectory(marker)
            defer { try? FileManager.default.removeItem(at: dir) }
            let target = try Child(try ToolTest.markedCommand(marker, in: dir), ["30"])
            let tpid = target.process.processIdentifier
            // A pid nobody has: a child that has exited and been reaped.
            let gone = try ToolTest.spawn("/bin/true", []).pid
            let child = try ToolTest.startTool("killsnoop", ["-p", String(getpid())])
            #expect(child.stdoutLines.first == Self.header)
            let w = Self.width
            let okTail = " " + "0   ".padding(toLength: 4, withPad: " ", startingAt: 0) + " "
                + String(tpid).padding(toLength: w, withPad: " ", startingAt: 0) + " 0"
            let goneTail = " 0    " + String(gone).padding(toLength: w, withPad: " ", startingAt: 0) + " -3"
            ToolTest.waitForRows(child, containing: [okTail, goneTail]) {
                kill(tpid, 0)
                kill(gone, 0)
            }
            #expect(ToolTest.stop(child) == 0, "stderr: \(child.stderr)")
            let rows = Array(child.stdoutLines.dropFirst())
            #expect(rows.allSatisfy { ToolTest.fields($0)[1] == String(getpid()) }, "stdout: \(child.stdout)")
            let ok = try #require(rows.first { $0.hasSuffix(okTail) }, "stdout: \(child.stdout)")
            #expect(ToolTest.matches(ok.prefix(10), #"\d\d:\d\d:\d\d  "#), "row: \(ok)")
            #expect(ok.dropFirst(10).hasPrefix(String(getpid()).padding(toLength: w, withPad: " ", startingAt: 0) + " "))
            #expect(rows.contains { $0.hasSuffix(goneTail) }, "stdout: \(child.stdout)")
            if !Probe.kprobes.ok {
                #expect(child.stderr.contains("killsnoop: using tracepoints (syscalls:sys_enter_kill"), "stderr: \(child.stderr)")
            }
        }

        @Test("-x -T <target> -s 0: only failed kills of that target with that signal")
        func filters() throws {
            let gone = try ToolTest.spawn("/bin/true", []).pid
            let other = try ToolTest.spawn("/bin/true", []).pid
            let child = try ToolTest.startTool("killsnoop", ["-x", "-T", String(gone), "-s", "0"])
            let goneTail = " 0    " + String(gone).padding(toLength: Self.width, withPad: " ", startingAt: 0) + " -3"
            ToolTest.waitForRow(child, containing: goneTail) {
                kill(other, 0)                 // another target
                kill(gone, 28)                 // another signal (SIGWINCH; the pid is gone anyway)
                kill(getpid(), 0)              // succeeds: not shown with -x
                kill(gone, 0)
            }
            #expect(ToolTest.stop(child, signal: SIGTERM) == 0, "stderr: \(child.stderr)")
            let rows = Array(child.stdoutLines.dropFirst())
            #expect(!rows.isEmpty && rows.allSatisfy { $0.hasSuffix(goneTail) }, "stdout: \(child.stdout)")
        }

        @Test("Python's killsnoop and ours print the same header and rows for the same kills",
              .requiresPythonTool("killsnoop"), .tags(.vmLane))
        func sameAsPython() throws {
            let gone = try ToolTest.spawn("/bin/true", []).pid
            let args = ["-p", String(getpid()), "-T", String(gone)]
            let python = try #require(try ToolTest.startPython("killsnoop", args))
            let swift = try ToolTest.startTool("killsnoop", args)
            ToolTest.waitForRow(swift, containing: " -3") { kill(gone, 0) }
            ToolTest.waitForRow(python, containing: " -3")
            _ = ToolTest.stop(python)
            #expect(ToolTest.stop(swift) == 0)
            #expect(python.stdoutLines.first == swift.stdoutLines.first)
            // The TIME column may differ by a second: compare from the PID column on.
            let p = python.stdoutLines.dropFirst().map { $0.dropFirst(10) }
            let s = swift.stdoutLines.dropFirst().map { $0.dropFirst(10) }
            #expect(!s.isEmpty && s.allSatisfy(p.contains), "python:\n\(python.stdout)\nswift:\n\(swift.stdout)")
        }
    }
}
