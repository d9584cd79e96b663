import Foundation
import Glibc
@testable import SwiftBCC
import Testing

extension KernelSuite {
    @Suite("offcputime tool", .requiresBPF)
    struct OffcputimeTests {
        @Test("--help lists every flag of offcputime-bpfcc -h", .requiresPythonToolInstalled("offcputime"))
        func helpHasPythonFlags() throws {
            try ToolTest.expectPythonFlagsInHelp("offcputime", minimum: 20)
        }

        @Test("bad flag values are usage errors (exit 64); -k with -U exits 2 with Python's message")
        func badValues() throws {
            try ToolTest.expectUsageError("offcputime", ["-m", "0"])
            try ToolTest.expectUsageError("offcputime", ["-p", "x"])
            try ToolTest.expectUsageError("offcputime", ["-p", "1", "-t", "2"])
            try ToolTest.expectUsageError("offcputime", ["-U", "-K"])
            try ToolTest.expectUsageError("offcputime", ["--state", "-1"])
            let out = try ToolTest.run(try examplePath("offcputime"), ["-k", "-U"])
            #expect(out.status == 2)
            #expect(out.stderr == "ERROR: Displaying user stacks for kernel threads doesn't make sense.\n")
        }

        /// A child named `marker` that sleeps 5 ms at a time.
        func napper(_ marker: String, dir: URL) throws -> Child {
            let path = try StackToolWorkloads.marked("nap", marker, in: dir)
            let child = try Child(path, ["600"])
            try #require(StackToolWorkloads.waitForExec(child.process.processIdentifier, path), "the napper did not start")
            return child
        }

        /// Runs offcputime `args` against a fresh napper; returns its pid, the marker and the run.
        func runAgainstNapper(_ args: (Int32) -> [String]) throws -> (pid: Int32, marker: String,
                                                                        out: (status: Int32?, stdout: String, stderr: String)) {
            let marker = uniqueMarker("oc")
            let dir = try ToolTest.temporaryDirectory(marker)
            defer { try? FileManager.default.removeItem(at: dir) }
            let nap = try napper(marker, dir: dir)
            let pid = nap.process.processIdentifier
            let out = try StackToolWorkloads.run("offcputime", args(pid), seconds: 3)
            kill(pid, SIGKILL)
            return (pid, marker, out)
        }

        /// Folded lines as (frames, value).
        func folded(_ stdout: String) -> [(frames: [String], value: UInt64)] {
            stdout.split(separator: "\n").compactMap { line in
                guard let space = line.lastIndex(of: " "), let v = UInt64(line[line.index(after: space)...]) else { return nil }
                return (line[..<space].split(separator: ";").map(String.init), v)
            }
        }

        @Test("-f -p <napper> 2: folded stacks of the napper's comm, through main, clock_nanosleep and schedule")
        func foldedForPid() throws {
            let (_, marker, out) = try runAgainstNapper { ["-f", "-p", String($0), "2"] }
            #expect(out.status == 0, "stderr: \(out.stderr)")
            let stacks = folded(out.stdout)
            #expect(!stacks.isEmpty && stacks.count == out.stdout.split(separator: "\n").count, "stdout:\n\(out.stdout)")
            #expect(stacks.allSatisfy { $0.frames.first == marker }, "stdout:\n\(out.stdout)")
            // User frames: libc's clock_nanosleep (no frame pointer of its own: the walk goes from it
            // to main, past swiftbcc_nap), then the kernel's nanosleep path into schedule.
            let nap = stacks.first { s in
                s.frames.contains("main") && s.frames.contains { $0.contains("clock_nanosleep") }
                    && s.frames.contains("do_nanosleep") && s.frames.contains { $0 == "schedule" || $0 == "__schedule" }
            }
            #expect(nap != nil, "no stack through main, clock_nanosleep, do_nanosleep and schedule:\n\(out.stdout)")
            // Each 5 ms nap counts about 5000 us; the run lasts 2 s.
            #expect((nap?.value ?? 0) > 5000, "stdout:\n\(out.stdout)")
        }

        @Test("-p <napper> -K 1: the header, kernel frames, '-  comm (tid)' and the microseconds")
        func multiLineKernelOnly() throws {
            let (pid, marker, out) = try runAgainstNapper { ["-p", String($0), "-K", "1"] }
            #expect(out.status == 0, "stderr: \(out.stderr)")
            let lines = out.stdout.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
            #expect(lines.first == "Tracing off-CPU time (us) of PID \(pid) by kernel stack for 1 secs.")
            #expect(lines.count > 1 && lines[1] == "")
            let who = "    -                \(marker) (\(pid))"
            let i = try #require(lines.firstIndex(of: who), "stdout:\n\(out.stdout)")
            let after = Array(lines[(i + 1)...].prefix(2))
            #expect(ToolTest.matches(after.first ?? "", #" {8}\d+"#), "stdout:\n\(out.stdout)")
            #expect(after.dropFirst().first == "", "stdout:\n\(out.stdout)")
            #expect(lines[..<i].contains { $0 == "    schedule" || $0 == "    __schedule" }, "stdout:\n\(out.stdout)")
            #expect(!lines.contains("    main"), "-K: no user frames")
        }

        @Test("-m 4000 -t <napper>: only blocks of 4 ms or more are counted")
        func minBlockTime() throws {
            let (_, marker, out) = try runAgainstNapper { ["-f", "-m", "4000", "-t", String($0), "1"] }
            #expect(out.status == 0, "stderr: \(out.stderr)")
            let stacks = folded(out.stdout)
            #expect(stacks.contains { $0.frames.first == marker && $0.frames.contains("do_nanosleep") }, "stdout:\n\(out.stdout)")
            #expect(stacks.allSatisfy { $0.value >= 4000 }, "stdout:\n\(out.stdout)")
        }

        @Test("without kprobes the sched_switch tracepoint is used, said in one stderr line", .requiresNoKprobes)
        func tracepointFallback() throws {
            let (_, marker, out) = try runAgainstNapper { ["-f", "-p", String($0), "1"] }
            #expect(out.status == 0)
            // One line of ours (SwiftBCC's own warning about the headers may precede it).
            let ours = out.stderr.split(separator: "\n").filter { $0.hasPrefix("offcputime: ") }
            #expect(ours.count == 1 && ours.first?.hasPrefix("offcputime: using tracepoints (sched:sched_switch); kprobes: ") == true,
                    "stderr: \(out.stderr)")
            #expect(out.stdout.contains(marker + ";"))
        }

        @Test("Ctrl-C ends the run: a blank line, the summary, exit 0")
        func interrupt() throws {
            let marker = uniqueMarker("oc")
            let dir = try ToolTest.temporaryDirectory(marker)
            defer { try? FileManager.default.removeItem(at: dir) }
            let nap = try napper(marker, dir: dir)
            let pid = nap.process.processIdentifier
            let child = try StackToolWorkloads.startTool("offcputime", ["-p", String(pid)])
            #expect(child.stdoutLines.first == "Tracing off-CPU time (us) of PID \(pid) by user + kernel stack... Hit Ctrl-C to end.")
            usleep(500_000)
            // The summary symbolizes the stacks: allow for a loaded machine.
            #expect(ToolTest.stop(child, timeout: 90) == 0, "stderr: \(child.stderr)")
            kill(pid, SIGKILL)
            #expect(child.stdout.contains("    do_nanosleep\n") && child.stdout.contains("    main\n"), "stdout:\n\(child.stdout)")
            #expect(child.stdout.contains("    -                \(marker) (\(pid))\n"), "stdout:\n\(child.stdout)")
        }

        @Test("the kprobe path (finish_task_switch, Python's): folded stacks of the napper through schedule",
              .tags(.vmLane), .requiresKprobes)
        func kprobePath() throws {
            let (_, marker, out) = try runAgainstNapper { ["--attach", "kprobe", "-f", "-p", String($0), "2"] }
            #expect(out.status == 0, "stderr: \(out.stderr)")
            #expect(!out.stderr.contains("offcputime: using"), "stderr: \(out.stderr)")
            let stacks = folded(out.stdout)
            #expect(stacks.contains { s in
                s.frames.first == marker && s.frames.contains("main") && s.frames.contains("do_nanosleep")
                    && s.frames.contains { $0 == "schedule" || $0 == "__schedule" }
            }, "stdout:\n\(out.stdout)")
        }

        /// Not in the VM lane (it takes about 250 s under TCG there, where it passed); runs wherever
        /// Python's offcputime runs: `SWIFTBCC_VM_FILTER='OffcputimeTests/sameAsPython' ./scripts/vm-test`.
        @Test("Python's offcputime and ours: the same header and the same napper stack (kernel with kprobes)",
              .requiresPythonTool("offcputime"))
        func sameAsPython() throws {
            let marker = uniqueMarker("oc")
            let dir = try ToolTest.temporaryDirectory(marker)
            defer { try? FileManager.default.removeItem(at: dir) }
            let nap = try napper(marker, dir: dir)
            let pid = String(nap.process.processIdentifier)
            defer { kill(nap.process.processIdentifier, SIGKILL) }
            let args = ["-U", "-p", pid, "2"]
            let python = try ToolTest.run("/usr/bin/python3", [ToolTest.pythonToolPath("offcputime")] + args, timeout: StackToolWorkloads.startTimeout + 60)
            let swift = try StackToolWorkloads.run("offcputime", args, seconds: 3)
            let p = python.stdout.split(separator: "\n").map(String.init), s = swift.stdout.split(separator: "\n").map(String.init)
            #expect(p.first == s.first && s.first == "Tracing off-CPU time (us) of PID \(pid) by user stack for 2 secs.")
            // The user stack of the naps, frame by frame.
            func napStack(_ lines: [String]) -> [String] {
                guard let i = lines.firstIndex(where: { $0.hasPrefix("    ") && $0.contains("clock_nanosleep") }) else { return [] }
                return Array(lines[i...].prefix { $0.hasPrefix("    ") && !$0.hasPrefix("    -  ") })
            }
            #expect(!napStack(s).isEmpty && napStack(p) == napStack(s), "python:\n\(python.stdout)\nswift:\n\(swift.stdout)")
        }
    }
}
