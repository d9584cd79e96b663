import Foundation
import Glibc
@testable import SwiftBCC
import Testing

extension KernelSuite {
    @Suite("opensnoop tool", .requiresBPF)
    struct OpensnoopTests {
        @Test("--help lists every flag of opensnoop-bpfcc -h", .requiresPythonToolInstalled("opensnoop"))
        func helpHasPythonFlags() throws {
            try ToolTest.expectPythonFlagsInHelp("opensnoop", minimum: 28)
        }

        @Test("a bad flag value is a usage error (exit 64), not a trace")
        func badValue() throws {
            try ToolTest.expectUsageError("opensnoop", ["-f", "O_BOGUS"])
            try ToolTest.expectUsageError("opensnoop", ["-b", "3"])
            try ToolTest.expectUsageError("opensnoop", ["-p", "abc"])
        }

        /// Opens `path` with `flags` in this process and closes it; returns open's result.
        @discardableResult
        func openClose(_ path: String, _ flags: Int32 = O_RDONLY) -> Int32 {
            let fd = open(path, flags, 0o644)
            if fd >= 0 { close(fd) }
            return fd
        }

        @Test("-p <our pid>: our opens of a marker file show our pid, FD >= 0 / ERR 0, and FD -1 / ERR 2 for a missing one")
        func pidRows() throws {
            let marker = uniqueMarker("os")
            let dir = try ToolTest.temporaryDirectory(marker)
            defer { try? FileManager.default.removeItem(at: dir) }
            let file = dir.appendingPathComponent("file").path
            let missing = dir.appendingPathComponent("missing").path
            #expect(FileManager.default.createFile(atPath: file, contents: Data()))
            let child = try ToolTest.startTool("opensnoop", ["-p", String(getpid())])
            #expect(child.stdoutLines.first == "PID    COMM               FD ERR PATH")
            ToolTest.waitForRows(child, containing: [" " + file, missing]) { openClose(file); openClose(missing) }
            #expect(ToolTest.stop(child) == 0, "stderr: \(child.stderr)")
            let rows = child.stdoutLines.dropFirst()
            #expect(rows.allSatisfy { ToolTest.fields($0).first == String(getpid()) }, "stdout: \(child.stdout)")
            let ok = try #require(rows.first { $0.hasSuffix(" " + file) }, "stdout: \(child.stdout)")
            let bad = try #require(rows.first { $0.hasSuffix(" " + missing) }, "stdout: \(child.stdout)")
            // %-6d %-16s %4d %3d %s: the FD and ERR columns end at fixed positions.
            #expect(Int(ok.dropFirst(24).prefix(4).trimmingCharacters(in: .whitespaces)) ?? -1 >= 0, "row: \(ok)")
            #expect(ok.dropFirst(29).prefix(3) == "  0", "row: \(ok)")
            #expect(bad.dropFirst(24).prefix(8) == "  -1   2", "row: \(bad)")
            if !Probe.kprobes.ok && !Probe.kfunc.ok {
                #expect(child.stderr.contains("opensnoop: using tracepoints"), "stderr: \(child.stderr)")
                // Headers of another release do not matter to a tool that reads BTF offsets.
                if access("/sys/kernel/btf/vmlinux", R_OK) == 0 {
                    #expect(!child.stderr.contains("kernel headers in"), "stderr: \(child.stderr)")
                }
            }
        }

        @Test("-t <our tid> -x -e -T -U: TID column, failures only, octal flags, timestamps and UID")
        func tidFailedExtended() throws {
            let marker = uniqueMarker("os")
            let dir = try ToolTest.temporaryDirectory(marker)
            defer { try? FileManager.default.removeItem(at: dir) }
            let file = dir.appendingPathComponent("file").path
            let missing = dir.appendingPathComponent("nodir/missing").path
            let tid = currentTid()
            let child = try ToolTest.startTool("opensnoop", ["-t", String(tid), "-x", "-e", "-T", "-U", "-u", String(getuid())])
            #expect(child.stdoutLines.first == "TIME(s)       UID   TID    COMM               FD ERR FLAGS    PATH")
            ToolTest.waitForRow(child, containing: missing) {
                openClose(file, O_WRONLY | O_CREAT)
                openClose(missing, O_WRONLY | O_CREAT)
            }
            #expect(ToolTest.stop(child, signal: SIGTERM) == 0, "stderr: \(child.stderr)")
            let rows = Array(child.stdoutLines.dropFirst())
            #expect(!rows.contains { $0.hasSuffix(" " + file) }, "-x shows only failures: \(child.stdout)")
            let row = try #require(rows.first { $0.hasSuffix(" " + missing) }, "stdout: \(child.stdout)")
            #expect(ToolTest.matches(row.prefix(14), #"\d+\.\d{9} *"#), "row: \(row)")
            #expect(row.dropFirst(14).prefix(6) == String(getuid()).padding(toLength: 6, withPad: " ", startingAt: 0))
            #expect(row.dropFirst(20).prefix(7) == String(tid).padding(toLength: 7, withPad: " ", startingAt: 0))
            #expect(row.hasSuffix("  -1   2 00000101 " + missing), "row: \(row)")
        }

        @Test("-f O_WRONLY keeps write opens only; -F prints the full path of a relative open")
        func flagFilterFullPath() throws {
            let marker = uniqueMarker("os")
            let dir = try ToolTest.temporaryDirectory(marker)
            defer { try? FileManager.default.removeItem(at: dir) }
            let real = URL(fileURLWithPath: realpath(dir.path, nil).map { p in defer { free(p) }; return String(cString: p) } ?? dir.path)
            let file = real.appendingPathComponent("file").path
            #expect(FileManager.default.createFile(atPath: file, contents: Data("x".utf8)))
            let child = try ToolTest.startTool("opensnoop", ["-f", "O_WRONLY", "-F", "-n", "dd"])
            // dd opens its output file relative to its working directory, for writing.
            ToolTest.waitForRow(child, containing: file) {
                let p = Process()
                p.executableURL = URL(fileURLWithPath: "/bin/dd")
                p.arguments = ["if=/dev/null", "of=file", "status=none"]
                p.currentDirectoryURL = real
                try? p.run()
                p.waitUntilExit()
            }
            #expect(ToolTest.stop(child) == 0, "stderr: \(child.stderr)")
            let rows = Array(child.stdoutLines.dropFirst())
            #expect(rows.contains { $0.hasSuffix(" " + file) && ToolTest.fields($0)[1] == "dd" }, "stdout: \(child.stdout)")
            // dd's read-only opens (libraries, /dev/null) are filtered out by -f O_WRONLY.
            #expect(!rows.contains { $0.contains("/dev/null") || $0.contains(".so") }, "stdout: \(child.stdout)")
        }

        @Test("-d 1 ends the trace after a second with exit 0")
        func duration() throws {
            let child = try Child(try examplePath("opensnoop"), ["-d", "1", "-p", "1"])
            #expect(child.wait(timeout: 60) == 0, "stderr: \(child.stderr)")
            #expect(child.stdoutLines == ["PID    COMM               FD ERR PATH"])
        }

        @Test("with no events the tool does not wake up (no poll slices), and Ctrl-C still ends it at once")
        func idleDoesNotWake() throws {
            // A process that opens nothing: opensnoop -p filters in the kernel, so no event comes.
            let sleeper = Process()
            sleeper.executableURL = URL(fileURLWithPath: "/bin/sleep")
            sleeper.arguments = ["60"]
            try sleeper.run()
            // SIGKILL: a child of the test process may inherit SIGTERM blocked.
            defer { kill(sleeper.processIdentifier, SIGKILL); sleeper.waitUntilExit() }
            let child = try ToolTest.startTool("opensnoop", ["-p", String(sleeper.processIdentifier)])
            // A 250 ms poll slice made 8 in these 2 s; a wait for events alone makes none.
            try ToolTest.expectIdleThenStop(child, seconds: 2)
            #expect(child.stdoutLines == ["PID    COMM               FD ERR PATH"], "stdout: \(child.stdout)")
        }

        @Test("Python's opensnoop and ours print the same header and rows for the same opens",
              .requiresPythonTool("opensnoop"), .tags(.vmLane))
        func sameAsPython() throws {
            let marker = uniqueMarker("os")
            let dir = try ToolTest.temporaryDirectory(marker)
            defer { try? FileManager.default.removeItem(at: dir) }
            let missing = dir.appendingPathComponent("missing").path
            let args = ["-U", "-e", "-p", String(getpid())]
            let python = try #require(try ToolTest.startPython("opensnoop", args))
            let swift = try ToolTest.startTool("opensnoop", args)
            ToolTest.waitForRow(swift, containing: missing) { openClose(missing) }
            ToolTest.waitForRow(python, containing: missing)
            _ = ToolTest.stop(python)
            #expect(ToolTest.stop(swift) == 0)
            #expect(python.stdoutLines.first == swift.stdoutLines.first)
            let p = python.stdoutLines.filter { $0.contains(missing) }
            let s = swift.stdoutLines.filter { $0.contains(missing) }
            #expect(!s.isEmpty && s.allSatisfy(p.contains), "python:\n\(python.stdout)\nswift:\n\(swift.stdout)")
        }
    }
}
