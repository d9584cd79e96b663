import Foundation
import Glibc
@testable import SwiftBCC
import Testing

extension KernelSuite {
    @Suite("biosnoop tool", .requiresBPF)
    struct BiosnoopTests {
        static let header = "TIME(s)     COMM           PID     DISK      T SECTOR     BYTES  LAT(ms)"

        @Test("--help lists every flag of biosnoop-bpfcc -h", .requiresPythonToolInstalled("biosnoop"))
        func helpHasPythonFlags() throws {
            try ToolTest.expectPythonFlagsInHelp("biosnoop", minimum: 8)
        }

        @Test("a bad flag value is a usage error (exit 64); -d of a missing disk prints Python's line and exits 1")
        func badValue() throws {
            try ToolTest.expectUsageError("biosnoop", ["-d"])
            try ToolTest.expectUsageError("biosnoop", ["--attach", "usdt"])
            try ToolTest.expectUsageError("biosnoop", ["extra"])
            let out = try ToolTest.run(try examplePath("biosnoop"), ["-d", "nosuchdisk"])
            #expect(out.status == 1, "stderr: \(out.stderr)")
            #expect(out.stdout == "no such disk 'nosuchdisk'\n")
        }

        /// The rows of `child` whose COMM is `marker`.
        func rows(_ child: Child, _ marker: String) -> [String] {
            child.stdoutLines.dropFirst().filter { ToolTest.fields($0).count > 1 && ToolTest.fields($0)[1] == marker }
        }

        /// Runs biosnoop with `args` while a dd named by a marker does `blocks` 4 KiB direct writes;
        /// returns the tool, the marker, dd's pid and the disk written to.
        func traceWrites(_ args: [String], blocks: Int = 6) throws -> (child: Child, marker: String, pid: Int32, disk: String) {
            let marker = uniqueMarker("bs")
            let dir = try ToolTest.temporaryDirectory(marker)
            defer { try? FileManager.default.removeItem(at: dir) }
            let (path, disk) = try BlockWorkload.target(dir)
            let child = try ToolTest.startSlowTool("biosnoop", args)
            let pid = try BlockWorkload.directWrites(marker: marker, dir: dir, path: path, blocks: blocks)
            let got = eventually(timeout: 20) { writes(rows(child, marker)).count >= blocks }
            #expect(ToolTest.stop(child) == 0, "stderr: \(child.stderr)")
            #expect(got, "waited 20 s for \(blocks) rows of comm \(marker): stdout \(child.stdout) stderr \(child.stderr)")
            return (child, marker, pid, disk)
        }

        /// Checks the fixed columns of `row`: %-11.6f %-14.14s %-7s %-9s %-1s %-10s %-7s. dd's
        /// writes are W of 4096 bytes; ext4 may also read a metadata block in dd's context (R).
        func expectRow(_ row: String, marker: String, pid: Int32, disk: String) {
            #expect(ToolTest.matches(row.prefix(12), #"\d+\.\d{6} *"#), "row: \(row)")
            let f = ToolTest.fields(row)
            #expect(f.count >= 7, "row: \(row)")
            guard f.count >= 7 else { return }
            #expect(f[1] == marker && f[2] == String(pid) && f[3] == disk && (f[4] == "W" || f[4] == "R") && UInt64(f[5]) != nil
                    && (f[4] == "R" || f[6] == "4096"),
                    "row: \(row) (want comm \(marker), pid \(pid), disk \(disk), W 4096 bytes or a metadata R)")
            #expect(row.dropFirst(12).prefix(15) == marker.padding(toLength: 14, withPad: " ", startingAt: 0) + " ", "row: \(row)")
            #expect(row.dropFirst(27).prefix(8) == String(pid).padding(toLength: 7, withPad: " ", startingAt: 0) + " ", "row: \(row)")
            #expect(row.dropFirst(35).prefix(10) == disk.padding(toLength: 9, withPad: " ", startingAt: 0) + " ", "row: \(row)")
            #expect(row.dropFirst(45).prefix(2) == f[4] + " ", "row: \(row)")
            #expect(ToolTest.matches(row.dropFirst(47).prefix(11), #"\d+ *"#), "row: \(row)")
            #expect(ToolTest.matches(row.dropFirst(58).prefix(7), #"\d+ *"#), "row: \(row)")
        }

        /// dd's write rows among `rows`.
        func writes(_ rows: [String]) -> [String] { rows.filter { ToolTest.fields($0).count > 4 && ToolTest.fields($0)[4] == "W" } }

        @Test("dd's 4 KiB direct writes: rows with dd's comm and pid, the disk, W and 4096 bytes, in Python's columns")
        func directWriteRows() throws {
            let (child, marker, pid, disk) = try traceWrites([])
            #expect(child.stdoutLines.first == Self.header)
            let r = rows(child, marker)
            #expect(writes(r).count >= 6, "stdout: \(child.stdout)")
            for row in r { expectRow(row, marker: marker, pid: pid, disk: disk) }
            for row in writes(r) { #expect(ToolTest.matches(row.dropFirst(58), #"4096   [ \d]{3}\d+\.\d\d"#), "row: \(row)") }
            if !Probe.kprobes.ok {
                #expect(child.stderr.contains("biosnoop: using tracepoints (raw tracepoints "), "stderr: \(child.stderr)")
            }
        }

        @Test("-Q -P: the P and QUE(ms) columns; -d <disk> keeps dd's writes, -d null (another device) drops them")
        func queuePatternDisk() throws {
            let (child, marker, pid, disk) = try traceWrites(["-Q", "-P"])
            #expect(child.stdoutLines.first == "TIME(s)     COMM           PID     DISK      T SECTOR     BYTES  P QUE(ms) LAT(ms)")
            let r = rows(child, marker)
            for row in r {
                expectRow(row, marker: marker, pid: pid, disk: disk)
                #expect(ToolTest.matches(row.dropFirst(58), #"\d+ {3,}[SR?] +\d+\.\d\d +\d+\.\d\d"#), "row: \(row)")
            }
            // One dd writing consecutive blocks: after the first, its writes follow each other (S) or not (R), never unknown.
            #expect(r.dropFirst().allSatisfy { ToolTest.fields($0)[7] != "?" }, "stdout: \(child.stdout)")

            let kept = try traceWrites(["-d", disk])
            for row in rows(kept.child, kept.marker) { expectRow(row, marker: kept.marker, pid: kept.pid, disk: disk) }

            let marker2 = uniqueMarker("bs")
            let dir = try ToolTest.temporaryDirectory(marker2)
            defer { try? FileManager.default.removeItem(at: dir) }
            let (path, _) = try BlockWorkload.target(dir)
            let filtered = try ToolTest.startSlowTool("biosnoop", ["-d", "null"])
            try BlockWorkload.directWrites(marker: marker2, dir: dir, path: path, blocks: 4)
            usleep(1_000_000)
            #expect(ToolTest.stop(filtered) == 0)
            #expect(rows(filtered, marker2).isEmpty, "-d null shows no writes to \(disk): \(filtered.stdout)")
        }

        @Test("--attach kprobe (the Python tool's path) gives the same rows", .requiresKprobes, .requiresBlockAccountingKprobes)
        func kprobePath() throws {
            let (child, marker, pid, disk) = try traceWrites(["--attach", "kprobe"])
            #expect(child.stdoutLines.first == Self.header)
            for row in rows(child, marker) { expectRow(row, marker: marker, pid: pid, disk: disk) }
            #expect(!child.stderr.contains("using"), "stderr: \(child.stderr)")
        }

        @Test("Python's biosnoop and ours print the same header and the same columns for the same writes",
              .requiresPythonTool("biosnoop"))
        func sameAsPython() throws {
            let marker = uniqueMarker("bs")
            let dir = try ToolTest.temporaryDirectory(marker)
            defer { try? FileManager.default.removeItem(at: dir) }
            let (path, disk) = try BlockWorkload.target(dir)
            let python = try #require(try ToolTest.startPython("biosnoop", []))
            let swift = try ToolTest.startSlowTool("biosnoop", [])
            let pid = try BlockWorkload.directWrites(marker: marker, dir: dir, path: path, blocks: 4)
            _ = eventually(timeout: 20) { writes(rows(python, marker)).count >= 4 && writes(rows(swift, marker)).count >= 4 }
            _ = ToolTest.stop(python)
            #expect(ToolTest.stop(swift) == 0)
            #expect(python.stdoutLines.first == swift.stdoutLines.first)
            let p = rows(python, marker), s = rows(swift, marker)
            #expect(p.count == s.count && writes(p).count >= 4, "python:\n\(python.stdout)\nswift:\n\(swift.stdout)")
            for (a, b) in zip(p, s) {
                expectRow(a, marker: marker, pid: pid, disk: disk)
                expectRow(b, marker: marker, pid: pid, disk: disk)
                // Same comm, pid, disk, type, sector and size; times are each tool's own.
                #expect(Array(ToolTest.fields(a)[1...6]) == Array(ToolTest.fields(b)[1...6]), "python \(a) swift \(b)")
            }
        }
    }
}
