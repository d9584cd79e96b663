import Foundation
import Glibc
@testable import SwiftBCC
import Testing

/// Runs `bash -c script` and waits; returns bash's pid. (bash forks with clone(2); dash uses vfork.)
@discardableResult
func runShell(_ script: String) -> Int32 {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/bin/bash")
    p.arguments = ["-c", script]
    try? p.run()
    p.waitUntilExit()
    return p.processIdentifier
}

/// Runs /bin/true and waits; returns its pid.
@discardableResult
func execTruePid() -> Int32 {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/bin/true")
    try? p.run()
    p.waitUntilExit()
    return p.processIdentifier
}

extension KernelSuite {
    @Suite("Event examples", .requiresBPF)
    struct EventExamplesTests {
        /// Waits until the child prints a line matching `match`, running `trigger` meanwhile.
        func waitForLine(_ child: Child, timeout: Double = 30, trigger: () -> Void,
                         _ match: (String) -> Bool) -> String? {
            let deadline = Date().addingTimeInterval(timeout)
            while Date() < deadline && child.process.isRunning {
                trigger()
                if let line = child.stdoutLines.first(where: match) { return line }
                usleep(100_000)
            }
            return child.stdoutLines.first(where: match)
        }

        @Test("HelloBuffer prints \"pid uid command Hello World\" for our execve, like hello-buffer.py")
        func helloBuffer() throws {
            let child = try Child(try examplePath("HelloBuffer"), ["--duration", "60"])
            var pids = Set<Int32>()
            let line = waitForLine(child, trigger: { pids.insert(execTruePid()) }) { line in
                let cols = line.split(separator: " ", omittingEmptySubsequences: false)
                return cols.count >= 4 && pids.contains(Int32(cols[0]) ?? -1)
            }
            let found = try #require(line, "stdout: \(child.stdout.suffix(2000))\nstderr: \(child.stderr)")
            let cols = found.split(separator: " ").map(String.init)
            #expect(cols[1] == String(getuid()))
            #expect(found.hasSuffix(" Hello World"))
            #expect(cols.count == 5, "pid uid command Hello World: \(found)")
            #expect(child.stdoutLines.allSatisfy { $0.hasSuffix(" Hello World") && Int($0.prefix { $0 != " " }) != nil })
            if !Probe.kprobes.ok {
                #expect(child.stderr.contains("attaching hello to the tracepoint syscalls:sys_enter_execve"))
            }
            kill(child.process.processIdentifier, SIGTERM)
            #expect(child.wait(timeout: 10) == 0, "stderr: \(child.stderr)")
        }

        @Test("HelloBuffer --count 3 prints three events and exits 0")
        func helloBufferCount() throws {
            let child = try Child(try examplePath("HelloBuffer"), ["--count", "3"])
            let status = child.drive(timeout: 30) {
                execTrue()
            }
            #expect(status == 0, "stderr: \(child.stderr)")
            #expect(child.stdoutLines.count == 3, "stdout: \(child.stdout)")
        }

        @Test("HelloPerfOutput prints hello_perf_output.py's header and rows for our clone()")
        func helloPerfOutput() throws {
            let child = try Child(try examplePath("HelloPerfOutput"), ["--duration", "60"])
            var pids = Set<Int32>()
            // bash forks (clone) to run the first command.
            let line = waitForLine(child, trigger: { pids.insert(runShell("/bin/true; /bin/true")) }) { line in
                let cols = line.split(separator: " ")
                return cols.count == 5 && cols[1] == "bash" && pids.contains(Int32(cols[2]) ?? -1)
            }
            let found = try #require(line, "stdout: \(child.stdout.suffix(2000))\nstderr: \(child.stderr)")
            let lines = child.stdoutLines
            #expect(lines.first == "TIME(s)            COMM             PID    MESSAGE")
            // "%-18.9f %-16s %-6d %s"
            let time = String(found.prefix(18)).trimmingCharacters(in: .whitespaces)
            #expect(Double(time) != nil && time.split(separator: ".").last?.count == 9, "\(found)")
            #expect(found.dropFirst(19).hasPrefix("bash             "))
            #expect(found.hasSuffix(" Hello, perf_output!"))
            #expect(lines.dropFirst().first?.hasPrefix("0.000000000        ") == true)
            if !Probe.kprobes.ok {
                #expect(child.stderr.contains("attaching hello to the tracepoint syscalls:sys_enter_clone"))
            }
            kill(child.process.processIdentifier, SIGTERM)
            #expect(child.wait(timeout: 10) == 0, "stderr: \(child.stderr)")
        }

        @Test("HelloRingBuffer prints \"command - filename\" for our openat(), like hello-file-ring-buffer.py")
        func helloRingBuffer() throws {
            try #require(Probe.ringBuffers.ok, "\(Probe.ringBuffers.reason)")
            let child = try Child(try examplePath("HelloRingBuffer"), ["--duration", "60"])
            let path = "/tmp/swiftbcc-" + uniqueMarker()
            let comm = currentThreadComm()
            // A 1-page ring loses samples while the machine is busy: open until one gets through.
            let line = waitForLine(child, trigger: { _ = open(path, O_RDONLY) }) { $0.hasSuffix(" - " + path) }
            let found = try #require(line, "stdout: \(child.stdout.suffix(2000))\nstderr: \(child.stderr)")
            #expect(found == "\(comm) - \(path)")
            kill(child.process.processIdentifier, SIGINT)
            #expect(child.wait(timeout: 10) == 0, "stderr: \(child.stderr)")
        }

        @Test("HelloPerfOutput and HelloRingBuffer --duration end with exit 0")
        func durations() throws {
            let a = try Child(try examplePath("HelloPerfOutput"), ["--duration", "1"])
            let b = try Child(try examplePath("HelloRingBuffer"), ["--duration", "1"])
            #expect(a.wait(timeout: 20) == 0, "stderr: \(a.stderr)")
            #expect(b.wait(timeout: 20) == 0, "stderr: \(b.stderr)")
        }
    }
}
