import Foundation
import Glibc
@testable import SwiftBCC
import Testing

extension KernelSuite {
    @Suite("stackcount tool", .requiresBPF)
    struct StackcountTests {
        @Test("--help lists every flag of stackcount-bpfcc -h", .requiresPythonToolInstalled("stackcount"))
        func helpHasPythonFlags() throws {
            try ToolTest.expectPythonFlagsInHelp("stackcount", minimum: 20)
        }

        @Test("bad flag values are usage errors (exit 64); a bad pattern exits 1 with Python's message")
        func badValues() throws {
            try ToolTest.expectUsageError("stackcount", ["-i", "soon", "t:sched:sched_switch"])
            try ToolTest.expectUsageError("stackcount", ["-K", "-U", "t:sched:sched_switch"])
            let missing = try ToolTest.run(try examplePath("stackcount"), [])
            #expect(missing.status == 64 && missing.stderr.hasPrefix("Error: Missing expected argument '<pattern>'"), "stderr: \(missing.stderr)")
            for (pattern, message) in [("x:c:malloc", "stackcount: Type must be 'p', 't', or 'u', but got x\n"),
                                       ("a:b:c:d", "stackcount: Too many ':'-separated components in pattern a:b:c:d\n"),
                                       ("nosuchlib9:f", "stackcount: unable to find library nosuchlib9\n")] {
                let out = try ToolTest.run(try examplePath("stackcount"), [pattern])
                #expect(out.status == 1 && out.stderr == message, "\(pattern): \(String(describing: out.status)) \(out.stderr)")
            }
            let none = try ToolTest.run(try examplePath("stackcount"), ["t:nosuchcat9:nosuchevent"])
            #expect(none.status == 1 && none.stderr == "stackcount: No functions matched by pattern ^nosuchcat9:nosuchevent$\n",
                    "stderr: \(none.stderr)")
        }

        /// Starts stackcount `args` (with `-p` the caller's pid), runs the caller's calls, stops
        /// it with Ctrl-C and returns its output.
        func count(_ args: [String], calls: Int, folded: Bool = false) throws -> (marker: String, child: Child, status: Int32?) {
            let marker = uniqueMarker("sk")
            let dir = try ToolTest.temporaryDirectory(marker)
            defer { try? FileManager.default.removeItem(at: dir) }
            let caller = try StackToolWorkloads.caller(marker, in: dir, count: calls)
            let bin = try StackToolWorkloads.path("calls")
            let full = args.map { $0 == "PID" ? String(caller.pid) : $0.replacing("BIN", with: bin) }
            let child: Child
            if folded {
                // Folded output has no header: wait until the probe is attached (the program loaded).
                child = try Child(try examplePath("stackcount"), full)
                #expect(eventually(timeout: StackToolWorkloads.startTimeout) { !child.process.isRunning || loadedProgramNames().contains("trace_count") },
                        "stackcount did not attach: \(child.stderr)")
                usleep(500_000)  // from loaded to attached: one uprobe, milliseconds
            } else {
                child = try StackToolWorkloads.startTool("stackcount", full)
            }
            let out = caller.go()
            #expect(!out.isEmpty, "the caller did not run")
            return (marker, child, ToolTest.stop(child))
        }

        @Test("-p <pid> t:syscalls:sys_enter_getppid: the header, the stack through swiftbcc_tool_calls, the exact count, Detaching...")
        func tracepointForPid() throws {
            let (_, child, status) = try count(["-p", "PID", "t:syscalls:sys_enter_getppid"], calls: 37)
            #expect(status == 0, "stderr: \(child.stderr)")
            let lines = child.stdout.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
            #expect(lines.first == "Tracing 1 functions for \"t:syscalls:sys_enter_getppid\"... Hit Ctrl-C to end.")
            // User frames: libc's syscall() (no frame pointer of its own, so the walk goes from it
            // to main, past swiftbcc_tool_calls), main.
            let user = lines.drop { $0 != "  syscall" }.prefix { $0.hasPrefix("  ") && !$0.hasPrefix("    ") }
            #expect(Array(user.prefix(2)) == ["  syscall", "  main"], "stdout:\n\(child.stdout)")
            // Kernel frames come first: the syscall entry.
            #expect(lines.contains { $0.hasPrefix("  ") && $0.contains("syscall") }, "stdout:\n\(child.stdout)")
            #expect(lines.filter { $0.hasPrefix("    ") }.map { $0.dropFirst(4) } == ["37"], "stdout:\n\(child.stdout)")
            #expect(Array(lines.suffix(3)) == ["", "Detaching...", ""], "stdout:\n\(child.stdout)")
        }

        @Test("-f -U -p <pid> <binary>:swiftbcc_tool_add (a uprobe): one folded line, comm first, the exact count")
        func uprobeFolded() throws {
            let (marker, child, status) = try count(["-f", "-U", "-p", "PID", "BIN:swiftbcc_tool_add"], calls: 23, folded: true)
            #expect(status == 0, "stderr: \(child.stderr)")
            let lines = child.stdout.split(separator: "\n").map(String.init)
            #expect(lines.count == 1, "stdout:\n\(child.stdout)")
            let line = lines.first ?? ""
            #expect(line.hasPrefix(marker + ";") && line.hasSuffix(";main;swiftbcc_tool_calls;swiftbcc_tool_add 23"), "line: \(line)")
        }

        @Test("-P -K -v -s t:syscalls:sys_enter_getppid: kernel frames with raw addresses and offsets, '    comm [pid]', the count")
        func perProcessVerbose() throws {
            let marker = uniqueMarker("sk")
            let dir = try ToolTest.temporaryDirectory(marker)
            defer { try? FileManager.default.removeItem(at: dir) }
            let caller = try StackToolWorkloads.caller(marker, in: dir, count: 19)
            let child = try StackToolWorkloads.startTool("stackcount", ["-P", "-K", "-v", "-s", "t:syscalls:sys_enter_getppid"])
            caller.go()
            #expect(ToolTest.stop(child) == 0, "stderr: \(child.stderr)")
            let lines = child.stdout.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
            let who = "    \(marker) [\(caller.pid)]"
            let i = try #require(lines.firstIndex(of: who), "stdout:\n\(child.stdout)")
            #expect(lines.dropFirst(i + 1).first == "    19", "stdout:\n\(child.stdout)")
            // The frames above it, back to the previous blank line: "  <16 hex> name+0xoff".
            let frames = lines[..<i].reversed().prefix { !$0.isEmpty }
            #expect(!frames.isEmpty && frames.allSatisfy { ToolTest.matches($0, #"  [0-9a-f]{16} \S+\+0x[0-9a-f]+"#) },
                    "frames: \(Array(frames))")
        }

        @Test("-p <pid> u:<binary>:tick (a USDT probe): its user stack and the exact count", .requiresUprobes)
        func usdtProbe() throws {
            let exe = try KernelSuite.USDTTests.targetPath()
            let target = try WaitingProcess(exe, [])
            let child = try StackToolWorkloads.startTool("stackcount", ["-p", String(target.pid), "u:\(exe):tick"])
            target.go()
            #expect(ToolTest.stop(child) == 0, "stderr: \(child.stderr)")
            let lines = child.stdout.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
            #expect(lines.first == "Tracing 1 functions for \"u:\(exe):tick\"... Hit Ctrl-C to end.")
            #expect(lines.filter { $0.hasPrefix("    ") } == ["    5"], "stdout:\n\(child.stdout)")
            // The target has exited when the stacks are symbolized: its frames may be [unknown].
            #expect(lines.contains { $0.hasPrefix("  ") && !$0.hasPrefix("    ") }, "stdout:\n\(child.stdout)")
            #expect(lines.suffix(3) == ["", "Detaching...", ""], "stdout:\n\(child.stdout)")
        }

        @Test("-T -i 1 -D 2: two summaries with a timestamp each, then Detaching... and exit 0 on its own")
        func intervals() throws {
            let out = try StackToolWorkloads.run("stackcount", ["-T", "-i", "1", "-D", "2", "t:syscalls:sys_enter_getppid"], seconds: 2)
            #expect(out.status == 0, "stderr: \(out.stderr)")
            let lines = out.stdout.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
            #expect(lines.filter { ToolTest.matches($0, #"\d\d:\d\d:\d\d"#) }.count == 2, "stdout:\n\(out.stdout)")
            #expect(lines.suffix(2) == ["Detaching...", ""], "stdout:\n\(out.stdout)")
        }

        @Test("a kernel function without kprobes: exit 1 and a message saying to use t: or a kernel with kprobes", .requiresNoKprobes)
        func kernelFunctionWithoutKprobes() throws {
            let out = try ToolTest.run(try examplePath("stackcount"), ["vfs_read"])
            #expect(out.status == 1)
            #expect(out.stderr.hasPrefix("stackcount: 'vfs_read' names kernel functions, which need kprobes"), "stderr: \(out.stderr)")
            #expect(out.stderr.contains("t:category:event") && out.stderr.contains("a kernel with kprobes"), "stderr: \(out.stderr)")
            #expect(out.stdout.isEmpty)
        }

        @Test("-p <pid> vfs_read (kprobes): the stacks through vfs_read add up to the caller's reads", .tags(.vmLane), .requiresKprobes)
        func kprobeForPid() throws {
            let (_, child, status) = try count(["-p", "PID", "vfs_read"], calls: 29)
            #expect(status == 0, "stderr: \(child.stderr)")
            let lines = child.stdout.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
            #expect(lines.first == "Tracing 1 functions for \"vfs_read\"... Hit Ctrl-C to end.")
            // Kernel frames from vfs_read, then libc's read wrapper (no frame pointer: the walk goes
            // on to main, past swiftbcc_tool_calls).
            #expect(lines.contains("  vfs_read") && lines.contains("  main"), "stdout:\n\(child.stdout)")
            #expect(lines.firstIndex(of: "  vfs_read") ?? 99 < lines.firstIndex(of: "  main") ?? 0, "stdout:\n\(child.stdout)")
            // The 29 reads of /dev/zero (the caller waits for its start with sigwait, not a read).
            let counts = lines.filter { ToolTest.matches($0, #"    \d+"#) }.compactMap { Int($0.dropFirst(4)) }
            #expect(counts == [29], "stdout:\n\(child.stdout)")
        }

        @Test("Python's stackcount and ours print the same lines for the same uprobe calls",
              .requiresPythonTool("stackcount", args: ["t:syscalls:sys_enter_getppid"]))
        func sameAsPython() throws {
            // One caller each, one after the other: Python BCC 0.26 gives its uprobes a garbage
            // ref_ctr_offset (bcc#5236), and the kernel then refuses a second uprobe on the same
            // instruction with EINVAL.
            var outputs: [String] = []
            for python in [true, false] {
                let marker = uniqueMarker("sk")
                let dir = try ToolTest.temporaryDirectory(marker)
                defer { try? FileManager.default.removeItem(at: dir) }
                let caller = try StackToolWorkloads.caller(marker, in: dir, count: 31)
                let args = ["-p", String(caller.pid), try StackToolWorkloads.path("calls") + ":swiftbcc_tool_add"]
                let child = python ? try StackToolWorkloads.startPython("stackcount", args) : try StackToolWorkloads.startTool("stackcount", args)
                caller.go()
                #expect(ToolTest.stop(child) == 0, "\(python ? "python" : "swift") stderr: \(child.stderr)")
                outputs.append(child.stdout)
            }
            #expect(outputs[0].contains("    31\n") && outputs[0].contains("  swiftbcc_tool_add\n"), "python:\n\(outputs[0])")
            #expect(outputs[0] == outputs[1], "python:\n\(outputs[0])\nswift:\n\(outputs[1])")
        }
    }
}
