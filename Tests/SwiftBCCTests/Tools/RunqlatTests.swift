import Foundation
import Glibc
@testable import SwiftBCC
import Testing

extension KernelSuite {
    @Suite("runqlat tool", .requiresBPF)
    struct RunqlatTests {
        static let tracing = "Tracing run queue latency... Hit Ctrl-C to end."

        @Test("--help lists every flag of runqlat-bpfcc -h", .requiresPythonToolInstalled("runqlat"))
        func helpHasPythonFlags() throws {
            try ToolTest.expectPythonFlagsInHelp("runqlat", minimum: 13)
        }

        @Test("bad values are usage errors (exit 64): a non-numeric pid, interval or count, a zero interval")
        func badValue() throws {
            try ToolTest.expectUsageError("runqlat", ["-p", "abc"])
            try ToolTest.expectUsageError("runqlat", ["soon"])
            try ToolTest.expectUsageError("runqlat", ["0"])
            try ToolTest.expectUsageError("runqlat", ["1", "many"])
        }

        /// Runs `runqlat args` (ending by itself) while this thread sleeps and wakes; its stdout.
        func run(_ args: [String]) throws -> String {
            let child = try ToolTest.startSlowTool("runqlat", args)
            #expect(child.stdoutLines.first == Self.tracing)
            let status = SchedulerWorkload.sleepUntilExit(child)
            #expect(status == 0, "runqlat \(args): status \(String(describing: status)), stderr \(child.stderr)")
            return child.stdout
        }

        @Test("-p <our pid> 2 1: our wakeups' latencies in a usecs histogram, byte for byte Python's print_log2_hist text for those counts")
        func pidHistogram() throws {
            let out = try run(["-p", String(getpid()), "2", "1"])
            let hists = PrintedHistogram.parse(out)
            try #require(hists.count == 1, "stdout: \(out)")
            #expect(hists[0].valType == "usecs" && hists[0].total > 50, "stdout: \(out)")
            let python = try PrintedHistogram.pythonText([(nil, hists[0].vals, "usecs")])
            #expect(out == Self.tracing + "\n\n" + python, "ours:\n\(out)\npython:\n\(python)")
        }

        @Test("-L -T -p <our pid> 1 2: two timestamped summaries with a 'tid = <our tid>' section")
        func perThread() throws {
            let tid = currentTid()
            let out = try run(["-L", "-T", "-p", String(getpid()), "1", "2"])
            let lines = out.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
            #expect(lines.filter { ToolTest.matches($0, #"\d\d:\d\d:\d\d"#) }.count == 2, "stdout: \(out)")
            #expect(lines.contains("tid = \(tid)"), "stdout: \(out)")
            let hists = PrintedHistogram.parse(out)
            #expect(!hists.isEmpty && hists.allSatisfy { $0.valType == "usecs" }, "stdout: \(out)")
        }

        @Test("-P 2 1: a 'pid = <our pid>' section; --pidnss 2 1: a section for our pid namespace's inode (read at BTF offsets)")
        func perProcessAndNamespace() throws {
            let out = try run(["-P", "2", "1"])
            #expect(out.contains("\npid = \(getpid())\n     usecs               : count     distribution\n"), "stdout: \(out)")
            let link = try #require(FileIO.readLink("/proc/self/ns/pid"))  // pid:[4026531836]
            let inum = link.filter(\.isNumber)
            let ns = try run(["--pidnss", "2", "1"])
            #expect(ns.contains("\npidns = \(inum)\n     usecs               : count     distribution\n"), "stdout: \(ns)")
        }

        @Test("--attach kprobe -p <our pid> 2 1 (the Python tool's other path): a usecs histogram of our wakeups",
              .requiresKprobes, .tags(.vmLane))
        func kprobePath() throws {
            let out = try run(["--attach", "kprobe", "-p", String(getpid()), "2", "1"])
            let hists = PrintedHistogram.parse(out)
            #expect(hists.count == 1 && hists[0].total > 0, "stdout: \(out)")
        }

        @Test("Python's runqlat and ours print the same header line and histogram layout", .requiresPythonTool("runqlat"))
        func sameAsPython() throws {
            let python = try #require(try ToolTest.startPython("runqlat", ["-p", String(getpid()), "2", "1"]))
            let swift = try ToolTest.startSlowTool("runqlat", ["-p", String(getpid()), "2", "1"])
            SchedulerWorkload.sleepUntilExit(swift)
            #expect(python.wait(timeout: 30) == 0, "python: \(python.stderr)")
            #expect(python.stdoutLines.first == swift.stdoutLines.first)
            let s = PrintedHistogram.parse(swift.stdout)
            #expect(s.count == 1 && s[0].total > 0, "swift: \(swift.stdout)")
            // Python's histogram (its counts are its own: it reads task fields at the headers' offsets).
            for p in PrintedHistogram.parse(python.stdout) {
                #expect(p.lines[0] == "     usecs               : count     distribution", "python: \(python.stdout)")
                let again = try PrintedHistogram.pythonText([(nil, p.vals, "usecs")])
                #expect(p.lines.joined(separator: "\n") + "\n" == again)
            }
        }
    }
}
