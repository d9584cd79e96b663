import Foundation
import Glibc
@testable import SwiftBCC
import Testing

extension KernelSuite {
    @Suite("HelloWorld example", .requiresBPF)
    struct HelloWorldTests {
        init() { TracePipeLock.acquire() }

        @Test("--count 3 prints three Hello World! lines while /bin/true runs, then exits 0")
        func countThree() throws {
            try drainTracePipe()
            let child = try Child(try examplePath("HelloWorld"), ["--count", "3"])
            let status = child.drive(timeout: 30) {
                execTrue()
            }
            #expect(status == 0, "stderr: \(child.stderr)")
            let lines = child.stdoutLines
            #expect(lines.count == 3, "stdout: \(child.stdout)")
            #expect(lines.allSatisfy { $0.hasSuffix("Hello World!") && $0.contains("bpf_trace_printk") })
            #expect(lines.allSatisfy { !$0.hasPrefix("b'") })
            if !Probe.kprobes.ok {
                #expect(child.stderr.contains("attaching hello to the tracepoint syscalls:sys_enter_execve"))
            }
        }

        @Test("SIGTERM detaches and exits 0, leaving no program behind")
        func sigterm() throws {
            let before = loadedProgramNames().filter { $0 == "hello" }.count
            let child = try Child(try examplePath("HelloWorld"), [])
            #expect(eventually(timeout: 30) {
                execTrue()
                return !child.stdoutLines.isEmpty
            }, "HelloWorld printed nothing; stderr: \(child.stderr)")
            #expect(loadedProgramNames().filter { $0 == "hello" }.count == before + 1)
            kill(child.process.processIdentifier, SIGTERM)
            #expect(child.wait(timeout: 10) == 0, "stderr: \(child.stderr)")
            #expect(eventually { loadedProgramNames().filter { $0 == "hello" }.count == before })
        }

        @Test("--duration ends the run with exit 0")
        func duration() throws {
            let child = try Child(try examplePath("HelloWorld"), ["--duration", "1"])
            #expect(child.wait(timeout: 20) == 0, "stderr: \(child.stderr)")
        }
    }
}
