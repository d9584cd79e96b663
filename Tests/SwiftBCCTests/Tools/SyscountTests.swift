import Foundation
import Glibc
@testable import SwiftBCC
import Testing

extension KernelSuite {
    @Suite("syscount tool", .requiresBPF)
    struct SyscountTests {
        @Test("--help lists every flag of syscount-bpfcc -h", .requiresPythonToolInstalled("syscount"))
        func helpHasPythonFlags() throws {
            try ToolTest.expectPythonFlagsInHelp("syscount", minimum: 27)
        }

        @Test("a bad flag value is a usage error (exit 64), not a trace; an unknown --syscall exits 1 as Python's does")
        func badValue() throws {
            try ToolTest.expectUsageError("syscount", ["-e", "EBOGUS"])
            try ToolTest.expectUsageError("syscount", ["-i", "soon"])
            let out = try ToolTest.run(try examplePath("syscount"), ["--syscall", "nosuch"])
            #expect(out.status == 1)
            #expect(out.stdout == "Error: syscall 'nosuch' not found. Exiting.\n")
        }

        @Test("-l lists the syscall names sorted, four %-22s columns joined by three spaces")
        func listSyscalls() throws {
            let out = try ToolTest.run(try examplePath("syscount"), ["-l"])
            #expect(out.status == 0)
            let lines = out.stdout.split(separator: "\n").map(String.init)
            #expect(lines.first == ["_sysctl", "accept", "accept4", "access"].map { $0.padding(toLength: 22, withPad: " ", startingAt: 0) }
                .joined(separator: "   "))
            let names = lines.flatMap { ToolTest.fields($0) }
            #expect(names == names.sorted() && names.contains("getppid") && names.contains("openat2"))
        }

        /// Starts syscount with `args` and waits for its "Tracing ..." line (printed once attached).
        func start(_ args: [String]) throws -> Child {
            try ToolTest.startTool("syscount", args)
        }

        /// The summary rows after the column header, up to the empty line.
        func rows(_ child: Child, header: String) -> [String] {
            let lines = child.stdout.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
            guard let h = lines.firstIndex(of: header) else { return [] }
            return Array(lines[(h + 1)...].prefix { !$0.isEmpty })
        }

        @Test("-t <our tid> --syscall getppid: Ctrl-C prints the time, the header, getppid with our exact call count, and Detaching...")
        func countOurCalls() throws {
            let child = try start(["-t", String(currentTid()), "--syscall", "getppid"])
            #expect(child.stdoutLines.first == "Tracing syscall 'getppid'... Ctrl+C to quit.")
            for _ in 0..<57 { _ = getppid() }
            #expect(ToolTest.stop(child) == 0, "stderr: \(child.stderr)")
            let lines = child.stdout.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
            #expect(lines.count == 7, "stdout: \(child.stdout)")
            #expect(ToolTest.matches(lines[1], #"\[\d\d:\d\d:\d\d\]"#))
            #expect(lines[2] == "SYSCALL                   COUNT")
            #expect(lines[3] == "getppid                      57")
            #expect(Array(lines[4...]) == ["", "Detaching...", ""])
        }

        @Test("waiting for Ctrl-C the tool does not wake up (one wait, no sleep slices), and Ctrl-C still ends it at once")
        func idleDoesNotWake() throws {
            let child = try start(["-t", String(currentTid()), "--syscall", "getppid"])
            // Half-second sleep slices made 6 in these 3 s; one wait on the signal pipe makes none.
            try ToolTest.expectIdleThenStop(child, seconds: 3)
            #expect(child.stdout.hasSuffix("\nDetaching...\n"), "stdout: \(child.stdout)")
        }

        @Test("-P -L -m -t <our tid>: our pid and comm with the call count and a latency in ms")
        func byProcessLatency() throws {
            let child = try start(["-P", "-L", "-m", "-t", String(currentTid()), "--syscall", "getppid"])
            for _ in 0..<23 { _ = getppid() }
            #expect(ToolTest.stop(child, signal: SIGTERM) == 0, "stderr: \(child.stderr)")
            let header = "PID    COMM               COUNT        TIME (ms)"
            let r = rows(child, header: header)
            #expect(r.count == 1, "stdout: \(child.stdout)")
            let row = try #require(r.first)
            let comm = (try? String(contentsOfFile: "/proc/self/comm", encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
            #expect(row.hasPrefix(String(getpid()).padding(toLength: 6, withPad: " ", startingAt: 0) + " "
                                  + comm.padding(toLength: 15, withPad: " ", startingAt: 0) + " "), "row: \(row)")
            #expect(ToolTest.matches(row.dropFirst(23), #" {6}23 +\d+\.\d{6}"#), "row: \(row)")
            #expect(row.count == 22 + 1 + 8 + 1 + 16, "row: \(row)")
        }

        @Test("-e ENOENT and -x: only failed opens of a missing file are counted")
        func errnoFilter() throws {
            let marker = uniqueMarker("sc")
            let missing = "/tmp/swiftbcc-tools-\(marker)-missing"
            let existing = "/proc/self/comm"
            for args in [["-e", "ENOENT"], ["-x"]] {
                let child = try start(args + ["-t", String(currentTid())])
                for _ in 0..<9 {
                    let fd = open(missing, O_RDONLY)
                    if fd >= 0 { close(fd) }
                    let ok = open(existing, O_RDONLY)
                    if ok >= 0 { close(ok) }
                }
                #expect(ToolTest.stop(child) == 0, "stderr: \(child.stderr)")
                let r = rows(child, header: "SYSCALL                   COUNT")
                #expect(r.contains("openat                        9"), "\(args): \(child.stdout)")
                if args == ["-x"] {
                    #expect(child.stdoutLines.first == "Tracing failed syscalls, printing top 10... Ctrl+C to quit.")
                }
            }
        }

        @Test("-c <our pid> -P: a child's syscalls are counted under its pid and comm")
        func childrenOfPid() throws {
            let marker = uniqueMarker("sc")
            let dir = try ToolTest.temporaryDirectory(marker)
            defer { try? FileManager.default.removeItem(at: dir) }
            let command = try ToolTest.markedCommand(marker, in: dir)
            let child = try start(["-c", String(getpid()), "-P"])
            let target = try Child(command, ["30"])
            usleep(500_000)
            #expect(ToolTest.stop(child) == 0, "stderr: \(child.stderr)")
            kill(target.process.processIdentifier, SIGKILL)
            let r = rows(child, header: "PID    COMM               COUNT")
            #expect(r.contains { $0.hasPrefix(String(target.process.processIdentifier).padding(toLength: 6, withPad: " ", startingAt: 0)
                                                + " " + marker + " ") }, "stdout: \(child.stdout)")
        }

        @Test("-i 1 -d 2: two summaries, then Detaching... and exit 0")
        func intervalDuration() throws {
            let child = try Child(try examplePath("syscount"), ["-i", "1", "-d", "2", "-T", "2"])
            #expect(child.wait(timeout: 60) == 0, "stderr: \(child.stderr)")
            let lines = child.stdoutLines
            #expect(lines.filter { $0 == "SYSCALL                   COUNT" }.count == 2, "stdout: \(child.stdout)")
            #expect(lines.last == "Detaching...")
            // -T 2: at most two rows under each header.
            let text = child.stdout.components(separatedBy: "SYSCALL                   COUNT\n").dropFirst()
            #expect(text.allSatisfy { $0.split(separator: "\n", omittingEmptySubsequences: false).prefix { !$0.isEmpty }.count <= 2 },
                    "stdout: \(child.stdout)")
        }

        @Test("Python's syscount and ours print the same lines for the same calls (-t, --syscall; and -P -L)",
              .requiresPythonTool("syscount"))
        func sameAsPython() throws {
            for extra in [[], ["-P", "-L"]] {
                let args = ["-t", String(currentTid()), "--syscall", "getppid"] + extra
                let python = try #require(try ToolTest.startPython("syscount", args))
                let swift = try start(args)
                for _ in 0..<31 { _ = getppid() }
                #expect(ToolTest.stop(python) == 0, "python stderr: \(python.stderr)")
                #expect(ToolTest.stop(swift) == 0)
                let p = python.stdoutLines, s = swift.stdoutLines
                #expect(p.count == s.count, "python:\n\(python.stdout)\nswift:\n\(swift.stdout)")
                for (i, (a, b)) in zip(p, s).enumerated() {
                    if i == 1 { #expect(ToolTest.matches(a, #"\[\d\d:\d\d:\d\d\]"#) && ToolTest.matches(b, #"\[\d\d:\d\d:\d\d\]"#)); continue }
                    if extra.isEmpty || i != 3 {
                        #expect(a == b, "line \(i)")
                    } else {
                        // -L: same pid, comm and count; the latency (last field) is each tool's own.
                        #expect(a.count == b.count && a.prefix(31) == b.prefix(31), "python \(a) swift \(b)")
                    }
                }
            }
        }
    }
}
