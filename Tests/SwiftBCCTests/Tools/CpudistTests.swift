import Foundation
import Glibc
@testable import SwiftBCC
import Testing

extension KernelSuite {
    @Suite("cpudist tool", .requiresBPF)
    struct CpudistTests {
        @Test("--help lists every flag of cpudist-bpfcc -h", .requiresPythonToolInstalled("cpudist"))
        func helpHasPythonFlags() throws {
            try ToolTest.expectPythonFlagsInHelp("cpudist", minimum: 18)
        }

        @Test("bad values are usage errors (exit 64): a non-numeric pid, a zero count, a non-numeric interval")
        func badValue() throws {
            try ToolTest.expectUsageError("cpudist", ["-p", "x1"])
            try ToolTest.expectUsageError("cpudist", ["1", "0"])
            try ToolTest.expectUsageError("cpudist", ["one"])
        }

        /// Runs `cpudist args` (ending by itself) while this thread sleeps and wakes; its stdout.
        func run(_ args: [String], header: String = "Tracing on-CPU time... Hit Ctrl-C to end.") throws -> (stdout: String, stderr: String) {
            let child = try ToolTest.startSlowTool("cpudist", args)
            #expect(child.stdoutLines.first == header)
            let status = SchedulerWorkload.sleepUntilExit(child)
            #expect(status == 0, "cpudist \(args): status \(String(describing: status)), stderr \(child.stderr)")
            return (child.stdout, child.stderr)
        }

        @Test("-L -p <our pid> 2 1: a 'tid = <tid> <comm>' section (comm's newline kept, as Python's) for this thread, byte for byte Python's print_log2_hist text")
        func perThread() throws {
            let tid = currentTid()
            let comm = SchedulerWorkload.comm(tid)
            let (out, err) = try run(["-L", "-p", String(getpid()), "2", "1"])
            if !Probe.kprobes.ok {
                #expect(err.contains("cpudist: using tracepoints (raw tracepoint sched_switch); kprobes: "), "stderr: \(err)")
            }
            let head = "\ntid = \(tid) \(comm)\n"
            let start = try #require(out.range(of: head), "no section for our thread \(tid): \(out)")
            var section = String(out[start.lowerBound...])
            if let next = section.dropFirst().range(of: "\ntid = ") { section = String(section[..<next.lowerBound]) }
            let hists = PrintedHistogram.parse(section)
            try #require(hists.count == 1, "section: \(section)")
            #expect(hists[0].valType == "usecs" && hists[0].total > 50, "section: \(section)")
            let python = try PrintedHistogram.pythonText([(("tid", "\(tid) \(comm)"), hists[0].vals, "usecs")])
            #expect(section == python, "ours:\n\(section)\npython:\n\(python)")
        }

        @Test("-O -m -e -p <our pid> 2 1: off-CPU msecs histogram (our 2 ms sleeps) and the avg/total/count line")
        func offCPUExtension() throws {
            let (out, _) = try run(["-O", "-m", "-e", "-p", String(getpid()), "2", "1"],
                                   header: "Tracing off-CPU time... Hit Ctrl-C to end.")
            let hists = PrintedHistogram.parse(out)
            try #require(hists.count == 1, "stdout: \(out)")
            #expect(hists[0].valType == "msecs" && hists[0].vals[2] > 50, "2 ms sleeps land in 2 -> 3: \(out)")
            let line = try #require(out.split(separator: "\n").first { $0.hasPrefix("avg = ") }, "stdout: \(out)")
            let m = try #require(String(line).wholeMatch(of: #/avg = (\d+) msecs, total: (\d+) msecs, count: (\d+)/#), "line: \(line)")
            #expect(Int(m.3)! >= hists[0].total && Int(m.1)! == Int(m.2)! / Int(m.3)!, "line: \(line)")
        }

        @Test("-P -T -p <our pid> 1 2: two timestamped summaries with a 'pid = <our pid> <comm>' section")
        func perProcess() throws {
            let (out, _) = try run(["-P", "-T", "-p", String(getpid()), "1", "2"])
            let lines = out.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
            #expect(lines.filter { ToolTest.matches($0, #"\d\d:\d\d:\d\d"#) }.count == 2, "stdout: \(out)")
            #expect(out.contains("\npid = \(getpid()) \(SchedulerWorkload.comm(getpid()))\n"), "stdout: \(out)")
        }

        @Test("--attach kprobe -L -p <our pid> 2 1 (the Python tool's path): a section for this thread",
              .requiresKprobes, .tags(.vmLane))
        func kprobePath() throws {
            let tid = currentTid()
            let (out, err) = try run(["--attach", "kprobe", "-L", "-p", String(getpid()), "2", "1"])
            #expect(out.contains("\ntid = \(tid) \(SchedulerWorkload.comm(tid))\n"), "stdout: \(out) stderr: \(err)")
            #expect(PrintedHistogram.parse(out).map(\.total).reduce(0, +) > 0, "stdout: \(out)")
        }

        @Test("Python's cpudist and ours print the same header line and sections for the same thread",
              .requiresPythonTool("cpudist"))
        func sameAsPython() throws {
            let tid = currentTid()
            let args = ["-L", "-p", String(getpid()), "2", "1"]
            let python = try #require(try ToolTest.startPython("cpudist", args))
            let swift = try ToolTest.startSlowTool("cpudist", args)
            SchedulerWorkload.sleepUntilExit(swift)
            #expect(python.wait(timeout: 30) == 0, "python: \(python.stderr)")
            #expect(python.stdoutLines.first == swift.stdoutLines.first)
            let head = "\ntid = \(tid) \(SchedulerWorkload.comm(tid))\n\n     usecs               : count     distribution\n"
            #expect(python.stdout.contains(head) && swift.stdout.contains(head),
                    "python:\n\(python.stdout)\nswift:\n\(swift.stdout)")
        }
    }
}
