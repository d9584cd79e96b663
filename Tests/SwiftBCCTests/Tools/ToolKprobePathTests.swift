import Foundation
import Glibc
@testable import SwiftBCC
import Testing

extension KernelSuite {
    /// The first tools' kprobe paths, run for real where kprobes exist (the VM lane): `--attach
    /// kprobe` uses that path only, so a row proves the kprobe program traced the event.
    @Suite("Tools' kprobe paths", .requiresBPF, .requiresKprobes, .tags(.vmLane))
    struct ToolKprobePathTests {
        /// Starts `tool --attach kprobe args`, runs `trigger` until a row contains `marker`,
        /// stops it with SIGINT and returns the rows.
        func rows(_ tool: String, _ args: [String], marker: String, trigger: () -> Void) throws -> [String] {
            // A compile under qemu TCG takes tens of seconds: a longer deadline than the host tests'.
            let child = try ToolTest.start(try examplePath(tool), ["--attach", "kprobe"] + args, timeout: 300)
            try #require(child.process.isRunning && !child.stdoutLines.isEmpty,
                         "\(tool) --attach kprobe did not start within 300 s: stdout \(child.stdout) stderr \(child.stderr)")
            let seen = ToolTest.waitForRow(child, containing: marker, timeout: 60, trigger: trigger)
            #expect(ToolTest.stop(child) == 0, "\(tool) stderr: \(child.stderr)")
            #expect(seen, "\(tool) --attach kprobe printed no row with \(marker): stdout \(child.stdout) stderr \(child.stderr)")
            #expect(!child.stderr.contains("using tracepoints"), "\(tool) fell back: \(child.stderr)")
            return child.stdoutLines.filter { $0.contains(marker) }
        }

        @Test("opensnoop --attach kprobe: our open of a marker file, with our pid and FD >= 0")
        func opensnoop() throws {
            let marker = uniqueMarker("okp")
            let dir = try ToolTest.temporaryDirectory(marker)
            defer { try? FileManager.default.removeItem(at: dir) }
            let file = dir.appendingPathComponent("file").path
            #expect(FileManager.default.createFile(atPath: file, contents: Data()))
            let found = try rows("opensnoop", ["-p", String(getpid())], marker: file) {
                let fd = open(file, O_RDONLY)
                if fd >= 0 { close(fd) }
            }
            let row = try #require(found.first)
            #expect(ToolTest.fields(row).first == String(getpid()), "row: \(row)")
            #expect((Int(ToolTest.fields(row)[2]) ?? -1) >= 0, "row: \(row)")
        }

        @Test("execsnoop --attach kprobe: a marked command's exec, with its arguments")
        func execsnoop() throws {
            let marker = uniqueMarker("ekp")
            let dir = try ToolTest.temporaryDirectory(marker)
            defer { try? FileManager.default.removeItem(at: dir) }
            let cmd = try ToolTest.markedCommand(marker, in: dir, target: "/bin/true")
            let found = try rows("execsnoop", [], marker: marker) { _ = try? ToolTest.spawn(cmd, ["kprobe-arg"]) }
            let row = try #require(found.first { $0.hasPrefix(String(marker.prefix(15))) })
            #expect(row.contains("kprobe-arg"), "row: \(row)")
        }
    }
}
