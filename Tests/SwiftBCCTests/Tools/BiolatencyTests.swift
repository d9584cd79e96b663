import BCCTools
import Foundation
import Glibc
@testable import SwiftBCC
import Testing

extension KernelSuite {
    @Suite("biolatency tool", .requiresBPF)
    struct BiolatencyTests {
        static let tracing = "Tracing block device I/O... Hit Ctrl-C to end."

        @Test("--help lists every flag of biolatency-bpfcc -h", .requiresPythonToolInstalled("biolatency"))
        func helpHasPythonFlags() throws {
            try ToolTest.expectPythonFlagsInHelp("biolatency", minimum: 18)
        }

        @Test("bad values are usage errors (exit 64): a non-numeric or zero interval, -D with -F; -d of a missing disk exits 1 with Python's line")
        func badValue() throws {
            try ToolTest.expectUsageError("biolatency", ["soon"])
            try ToolTest.expectUsageError("biolatency", ["0"])
            try ToolTest.expectUsageError("biolatency", ["1", "x"])
            try ToolTest.expectUsageError("biolatency", ["-D", "-F"])
            let out = try ToolTest.run(try examplePath("biolatency"), ["-d", "nosuchdisk"])
            #expect(out.status == 1, "stderr: \(out.stderr)")
            #expect(out.stdout == "no such disk 'nosuchdisk'\n")
        }

        /// Runs `biolatency args` (which must end by itself: an interval and count) while a dd does
        /// `blocks` 4 KiB direct writes again and again until it ends; returns its stdout and the
        /// disk written to.
        func run(_ args: [String], blocks: Int = 12) throws -> (stdout: String, disk: String) {
            let marker = uniqueMarker("bl")
            let dir = try ToolTest.temporaryDirectory(marker)
            defer { try? FileManager.default.removeItem(at: dir) }
            let (path, disk) = try BlockWorkload.target(dir)
            let json = args.contains("-j")
            let child = try ToolTest.start(try examplePath("biolatency"), args, waitForLines: json ? 0 : 1, timeout: 300)
            if !json {
                try #require(child.stdoutLines.first == Self.tracing, "stdout: \(child.stdout) stderr: \(child.stderr)")
            }
            // -j prints no header: the writes go on until the tool ends, so some fall in its interval.
            let deadline = Date().addingTimeInterval(300)
            repeat {
                try BlockWorkload.directWrites(marker: marker, dir: dir, path: path, blocks: blocks)
            } while child.process.isRunning && Date() < deadline
            let status = child.wait(timeout: 60)
            #expect(status == 0, "biolatency \(args): status \(String(describing: status)), stderr \(child.stderr)")
            if !Probe.kprobes.ok && !args.contains("--attach") {
                #expect(child.stderr.contains("biolatency: using tracepoints (raw tracepoints "), "stderr: \(child.stderr)")
            }
            return (child.stdout, disk)
        }

        @Test("3 1 (one 3 s summary): the usecs histogram counts dd's writes, its text is Python's print_log2_hist for those counts byte for byte")
        func usecsHistogram() throws {
            let (out, _) = try run(["3", "1"])
            #expect(out.hasPrefix(Self.tracing + "\n\n     usecs               : count     distribution\n"), "stdout: \(out)")
            let hists = PrintedHistogram.parse(out)
            try #require(hists.count == 1, "stdout: \(out)")
            #expect(hists[0].total >= 12, "stdout: \(out)")
            let python = try PrintedHistogram.pythonText([(nil, hists[0].vals, "usecs")])
            #expect(out == Self.tracing + "\n\n" + python, "ours:\n\(out)\npython:\n\(python)")
        }

        @Test("-m -T 1 2: two summaries, each an empty line, the time as %-8s and a msecs histogram")
        func msecsTimestamps() throws {
            let (out, _) = try run(["-m", "-T", "1", "2"])
            let lines = out.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
            let stamps = lines.indices.filter { ToolTest.matches(lines[$0], #"\d\d:\d\d:\d\d"#) }
            #expect(stamps.count == 2, "stdout: \(out)")
            for i in stamps { #expect(i > 0 && lines[i - 1] == "", "stdout: \(out)") }
            let hists = PrintedHistogram.parse(out)
            #expect(!hists.isEmpty && hists.allSatisfy { $0.valType == "msecs" }, "stdout: \(out)")
            #expect(hists.map(\.total).reduce(0, +) >= 12, "stdout: \(out)")
        }

        @Test("-D 3 1: a 'disk = <disk>' section for the disk dd wrote to; -d <disk> -Q -e: the avg/total/count line")
        func perDiskAndExtension() throws {
            let (out, disk) = try run(["-D", "3", "1"])
            let marker = "\ndisk = \(disk)\n     usecs               : count     distribution\n"
            #expect(out.contains(marker), "stdout: \(out)")
            let section = try #require(out.components(separatedBy: "\ndisk = \(disk)\n").dropFirst().first)
            #expect((PrintedHistogram.parse(section).first?.total ?? 0) >= 12, "stdout: \(out)")

            let (ext, _) = try run(["-d", disk, "-Q", "-e", "3", "1"])
            let line = try #require(ext.split(separator: "\n").first { $0.hasPrefix("avg = ") }, "stdout: \(ext)")
            let m = try #require(String(line).wholeMatch(of: #/avg = (\d+) usecs, total: (\d+) usecs, count: (\d+)/#), "line: \(line)")
            let (avg, total, count) = (Int(m.1)!, Int(m.2)!, Int(m.3)!)
            #expect(count >= 12 && avg == total / count, "line: \(line)")
            #expect(ext.hasSuffix("\n" + line + "\n\n"), "stdout: \(ext)")
        }

        @Test("-F 3 1: dd's writes are in a '...Write' flags section")
        func perFlags() throws {
            let (out, _) = try run(["-F", "3", "1"])
            let sections = out.split(separator: "\n").filter { $0.hasPrefix("flags = ") }
            #expect(sections.contains { $0.hasSuffix("Write") }, "stdout: \(out)")
        }

        @Test("-j 3 1: no header, an empty line, then one Python dict per histogram: ts, val_type, data intervals")
        func json() throws {
            let (out, _) = try run(["-j", "3", "1"])
            let lines = out.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
            #expect(lines.first == "", "stdout: \(out)")
            let dict = try #require(lines.first { $0.hasPrefix("{") }, "stdout: \(out)")
            #expect(ToolTest.matches(dict, #"\{'ts': '\d{4}-\d\d-\d\d \d\d:\d\d:\d\d', 'val_type': 'usecs', 'data': \[(\{'interval-start': \d+, 'interval-end': \d+, 'count': \d+\}(, )?)+\]\}"#),
                    "line: \(dict)")
        }

        @Test("flags descriptions match biolatency-bpfcc's flags_print for the same cmd_flags",
              .requiresPythonToolInstalled("biolatency"))
        func flagsLikePython() throws {
            let samples: [UInt64] = [0, 1, 2, 3, 4, 5, 9, 1 | 1 << 11, 1 | 1 << 11 | 1 << 15, 0 | 1 << 19, 1 | 1 << 12 | 1 << 17,
                                     1 << 13 | 1 << 14 | 1 << 20 | 1 << 21, 0x3fff01, 0xffff_ffff]
            // Python's own flags_print, taken from the tool's source (its constants and the function).
            let script = """
                import ast, sys
                src = open('/usr/sbin/biolatency-bpfcc').read()
                keep = [n for n in ast.parse(src).body
                        if (isinstance(n, ast.FunctionDef) and n.name == 'flags_print')
                        or (isinstance(n, ast.Assign) and all(isinstance(t, ast.Name) and (t.id.startswith('REQ_') or t.id == 'req_opf') for t in n.targets))]
                ns = {}
                exec(compile(ast.Module(body=keep, type_ignores=[]), 'flags', 'exec'), ns)
                for f in sys.argv[1:]:
                    print(ns['flags_print'](int(f)))
                """
            let out = runPython(script, args: samples.map(String.init))
            try #require(out.status == 0, "python: \(out.stderr)")
            #expect(out.stdout == samples.map { BlockIO.flagsDescription($0) + "\n" }.joined())
        }

        @Test("--attach kprobe (the Python tool's path) 3 1: a usecs histogram of the writes", .requiresKprobes, .requiresBlockAccountingKprobes)
        func kprobePath() throws {
            let (out, _) = try run(["--attach", "kprobe", "3", "1"])
            let hists = PrintedHistogram.parse(out)
            #expect(hists.count == 1 && hists[0].total >= 12, "stdout: \(out)")
        }

        @Test("Python's biolatency and ours print the same header and histogram layout for the same writes",
              .requiresPythonTool("biolatency"))
        func sameAsPython() throws {
            let marker = uniqueMarker("bl")
            let dir = try ToolTest.temporaryDirectory(marker)
            defer { try? FileManager.default.removeItem(at: dir) }
            let (path, _) = try BlockWorkload.target(dir)
            let python = try #require(try ToolTest.startPython("biolatency", []))
            let swift = try ToolTest.startSlowTool("biolatency", [])
            try BlockWorkload.directWrites(marker: marker, dir: dir, path: path, blocks: 12)
            usleep(300_000)
            _ = ToolTest.stop(python)
            #expect(ToolTest.stop(swift) == 0)
            #expect(python.stdoutLines.first == swift.stdoutLines.first)
            let p = PrintedHistogram.parse(python.stdout), s = PrintedHistogram.parse(swift.stdout)
            #expect(p.count == 1 && s.count == 1, "python:\n\(python.stdout)\nswift:\n\(swift.stdout)")
            if let p = p.first, let s = s.first {
                #expect(p.lines[0] == s.lines[0] && p.total >= 12 && s.total >= 12)
            }
        }
    }
}
