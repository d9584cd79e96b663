import Foundation
import Glibc
@testable import SwiftBCC
import Testing

extension KernelSuite {
    /// The event examples' primary path, a real kprobe: runs in the VM lane (scripts/vm-test) on
    /// Debian's 6.1 kernel; skipped, with the probe's reason, on a kernel without kprobes.
    @Suite("Event examples on kprobes", .requiresKprobes, .tags(.vmLane))
    struct EventKprobeExampleTests {
        @Test("HelloBuffer attaches a real kprobe to execve and prints pid uid command Hello World")
        func helloBufferKprobe() throws {
            let execve = BPF.getSyscallPrefix() + "execve"
            let child = try Child(try examplePath("HelloBuffer"), ["--count", "3"])
            var sawProbe = false
            let status = child.drive(timeout: 120) {
                sawProbe = sawProbe || hasKprobe(on: execve)
                execTrue()
            }
            #expect(status == 0, "stderr: \(child.stderr)")
            #expect(sawProbe, "no kprobe on \(execve) appeared in kprobes/list")
            #expect(!child.stderr.contains("no kprobes"), "fell back: \(child.stderr)")
            #expect(child.stdoutLines.count == 3, "stdout: \(child.stdout)")
            #expect(child.stdoutLines.allSatisfy { $0.hasSuffix(" Hello World") && Int($0.prefix { $0 != " " }) != nil },
                    "stdout: \(child.stdout)")
            #expect(eventually { !hasKprobe(on: execve) })
        }

        @Test("HelloPerfOutput attaches a real kprobe to clone and prints its header and rows")
        func helloPerfOutputKprobe() throws {
            let clone = BPF.getSyscallPrefix() + "clone"
            let child = try Child(try examplePath("HelloPerfOutput"), ["--count", "2"])
            var sawProbe = false
            let status = child.drive(timeout: 120) {
                sawProbe = sawProbe || hasKprobe(on: clone)
                runShell("/bin/true; /bin/true")
            }
            #expect(status == 0, "stderr: \(child.stderr)")
            #expect(sawProbe, "no kprobe on \(clone) appeared in kprobes/list")
            #expect(!child.stderr.contains("no kprobes"), "fell back: \(child.stderr)")
            let lines = child.stdoutLines
            #expect(lines.count == 3, "stdout: \(child.stdout)")
            #expect(lines.first == "TIME(s)            COMM             PID    MESSAGE")
            #expect(lines.dropFirst().allSatisfy { $0.hasSuffix(" Hello, perf_output!") }, "stdout: \(child.stdout)")
            #expect(eventually { !hasKprobe(on: clone) })
        }
    }
}
