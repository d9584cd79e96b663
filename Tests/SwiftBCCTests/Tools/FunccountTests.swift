import Foundation
import Glibc
@testable import SwiftBCC
import Testing

extension KernelSuite {
    @Suite("funccount tool", .requiresBPF)
    struct FunccountTests {
        @Test("--help lists every flag of funccount-bpfcc -h", .requiresPythonToolInstalled("funccount"))
        func helpHasPythonFlags() throws {
            try ToolTest.expectPythonFlagsInHelp("funccount", minimum: 14)
        }

        @Test("bad flag values are usage errors (exit 64); a bad pattern exits 1 with Python's message")
        func badValues() throws {
            try ToolTest.expectUsageError("funccount", ["-i", "soon", "t:sched:sched_switch"])
            try ToolTest.expectUsageError("funccount", ["-d", "0", "t:sched:sched_switch"])
            try ToolTest.expectUsageError("funccount", ["-c", "one", "t:sched:sched_switch"])
            let missing = try ToolTest.run(try examplePath("funccount"), [])
            #expect(missing.status == 64 && missing.stderr.hasPrefix("Error: Missing expected argument '<pattern>'"), "stderr: \(missing.stderr)")
            for (pattern, message) in [("x:c:malloc", "funccount: Type must be 'p', 't', or 'u', but got x\n"),
                                       ("nosuchlib9:f", "funccount: unable to find library nosuchlib9\n"),
                                       ("t:nosuchcat9:*", "funccount: No functions matched by pattern ^nosuchcat9:.*$\n")] {
                let out = try ToolTest.run(try examplePath("funccount"), [pattern])
                #expect(out.status == 1 && out.stderr == message, "\(pattern): \(String(describing: out.status)) \(out.stderr)")
            }
        }

        /// Starts funccount `args` (`PID`: the caller's pid, `BIN`: its binary), runs the
        /// caller's `calls` calls, stops funccount with Ctrl-C; returns its output lines.
        func count(_ args: [String], calls: Int) throws -> (lines: [String], child: Child, status: Int32?) {
            let marker = uniqueMarker("fc")
            let dir = try ToolTest.temporaryDirectory(marker)
            defer { try? FileManager.default.removeItem(at: dir) }
            let caller = try StackToolWorkloads.caller(marker, in: dir, count: calls)
            let bin = try StackToolWorkloads.path("calls")
            let child = try StackToolWorkloads.startTool("funccount", args.map { $0 == "PID" ? String(caller.pid) : $0.replacing("BIN", with: bin) })
            #expect(!caller.go().isEmpty, "the caller did not run")
            let status = ToolTest.stop(child)
            return (child.stdout.split(separator: "\n", omittingEmptySubsequences: false).map(String.init), child, status)
        }

        func row(_ name: String, _ n: Int) -> String {
            name.padding(toLength: 36, withPad: " ", startingAt: 0) + " " + String(repeating: " ", count: 8 - String(n).count) + String(n)
        }

        let tableHeader = "FUNC                                    COUNT"

        @Test("-p <pid> 't:syscalls:sys_enter_getp*': every matching tracepoint traced, exactly the caller's getpid and getppid counted")
        func tracepointWildcard() throws {
            let matching = try BPF.getTracepoints("^syscalls:sys_enter_getp.*$")
            let (lines, child, status) = try count(["-p", "PID", "t:syscalls:sys_enter_getp*"], calls: 37)
            #expect(status == 0, "stderr: \(child.stderr)")
            #expect(lines == [
                "Tracing \(matching.count) functions for \"t:syscalls:sys_enter_getp*\"... Hit Ctrl-C to end.",
                "", tableHeader, row("syscalls:sys_enter_getpid", 37), row("syscalls:sys_enter_getppid", 37),
                "Detaching...", "",
            ], "stdout:\n\(child.stdout)")
        }

        @Test("-p <pid> c:getpid (a uprobe on libc): exactly the caller's calls")
        func libcUprobe() throws {
            let (lines, child, status) = try count(["-p", "PID", "c:getpid"], calls: 41)
            #expect(status == 0, "stderr: \(child.stderr)")
            #expect(lines == ["Tracing 1 functions for \"c:getpid\"... Hit Ctrl-C to end.", "", tableHeader,
                              row("getpid", 41), "Detaching...", ""], "stdout:\n\(child.stdout)")
        }

        @Test("-r -p <pid> '<binary>:swiftbcc_tool_(add|calls)': a regular expression over a binary's functions")
        func binaryRegex() throws {
            let (lines, child, status) = try count(["-r", "-p", "PID", "BIN:swiftbcc_tool_(add|calls)$"], calls: 13)
            #expect(status == 0, "stderr: \(child.stderr)")
            #expect(lines.first?.hasPrefix("Tracing 2 functions for ") == true, "stdout:\n\(child.stdout)")
            #expect(Array(lines.dropFirst()) == ["", tableHeader, row("swiftbcc_tool_calls", 1), row("swiftbcc_tool_add", 13),
                                                 "Detaching...", ""], "stdout:\n\(child.stdout)")
        }

        @Test("-p <pid> 'u:<binary>:*' (USDT probes): each probe's hits in that process", .requiresUprobes)
        func usdtProbes() throws {
            let exe = try KernelSuite.USDTTests.targetPath()
            let target = try WaitingProcess(exe, [])
            let child = try StackToolWorkloads.startTool("funccount", ["-p", String(target.pid), "u:\(exe):*"])
            target.go()
            #expect(ToolTest.stop(child) == 0, "stderr: \(child.stderr)")
            let lines = child.stdout.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
            #expect(lines == ["Tracing 2 functions for \"u:\(exe):*\"... Hit Ctrl-C to end.", "", tableHeader,
                              row("message", 1), row("tick", 5), "Detaching...", ""], "stdout:\n\(child.stdout)")
        }

        @Test("-T -i 1 -d 2: two tables with a timestamp each, then Detaching... and exit 0 on its own")
        func intervals() throws {
            let out = try StackToolWorkloads.run("funccount", ["-T", "-i", "1", "-d", "2", "t:syscalls:sys_enter_getppid"], seconds: 2)
            #expect(out.status == 0, "stderr: \(out.stderr)")
            let lines = out.stdout.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
            #expect(lines.filter { $0 == tableHeader }.count == 2, "stdout:\n\(out.stdout)")
            #expect(lines.filter { ToolTest.matches($0, #"\d\d:\d\d:\d\d"#) }.count == 2, "stdout:\n\(out.stdout)")
            #expect(lines.suffix(2) == ["Detaching...", ""], "stdout:\n\(out.stdout)")
        }

        @Test("a kernel function pattern without kprobes: exit 1 and a message saying to use t: or a kernel with kprobes",
              .requiresNoKprobes)
        func kernelFunctionWithoutKprobes() throws {
            let out = try ToolTest.run(try examplePath("funccount"), ["vfs_read*"])
            #expect(out.status == 1)
            #expect(out.stderr.hasPrefix("funccount: 'vfs_read*' names kernel functions, which need kprobes"), "stderr: \(out.stderr)")
            #expect(out.stderr.contains("t:category:event") && out.stderr.contains("a kernel with kprobes"), "stderr: \(out.stderr)")
        }

        @Test("-p <pid> 'vfs_read*' (kprobes): the caller's reads counted under vfs_read", .tags(.vmLane), .requiresKprobes)
        func kprobeWildcard() throws {
            let (lines, child, status) = try count(["-p", "PID", "vfs_read*"], calls: 29)
            #expect(status == 0, "stderr: \(child.stderr)")
            #expect(lines.first?.hasPrefix("Tracing ") == true && lines.first?.hasSuffix(" functions for \"vfs_read*\"... Hit Ctrl-C to end.") == true,
                    "stdout:\n\(child.stdout)")
            // The 29 reads of /dev/zero (the caller waits for its start with sigwait, not a read).
            #expect(Array(lines.dropFirst()) == ["", tableHeader, row("vfs_read", 29), "Detaching...", ""], "stdout:\n\(child.stdout)")
        }

        @Test("Python's funccount and ours print the same table for the same uprobe calls (the header without Python's b'')",
              .requiresPythonTool("funccount", args: ["t:syscalls:sys_enter_getppid"]))
        func sameAsPython() throws {
            // One caller each, one after the other: Python BCC 0.26 gives its uprobes a garbage
            // ref_ctr_offset (bcc#5236), and the kernel then refuses a second uprobe on the same
            // instruction with EINVAL.
            let pattern = try StackToolWorkloads.path("calls") + ":swiftbcc_tool_*"
            var outputs: [[String]] = []
            for python in [true, false] {
                let marker = uniqueMarker("fc")
                let dir = try ToolTest.temporaryDirectory(marker)
                defer { try? FileManager.default.removeItem(at: dir) }
                let caller = try StackToolWorkloads.caller(marker, in: dir, count: 17)
                let args = ["-p", String(caller.pid), pattern]
                let child = python ? try StackToolWorkloads.startPython("funccount", args) : try StackToolWorkloads.startTool("funccount", args)
                caller.go()
                #expect(ToolTest.stop(child) == 0, "\(python ? "python" : "swift") stderr: \(child.stderr)")
                outputs.append(child.stdout.split(separator: "\n", omittingEmptySubsequences: false).map(String.init))
            }
            let (p, s) = (outputs[0], outputs[1])
            #expect(p.first == "Tracing 2 functions for \"b'\(pattern)'\"... Hit Ctrl-C to end.", "python:\n\(p)")
            #expect(s.first == "Tracing 2 functions for \"\(pattern)\"... Hit Ctrl-C to end.", "swift:\n\(s)")
            #expect(Array(p.dropFirst()) == Array(s.dropFirst()), "python:\n\(p)\nswift:\n\(s)")
            #expect(s.contains(row("swiftbcc_tool_add", 17)) && s.contains(row("swiftbcc_tool_calls", 1)), "swift:\n\(s)")
        }
    }
}
