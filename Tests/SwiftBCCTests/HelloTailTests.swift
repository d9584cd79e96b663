import Foundation
import Glibc
@testable import SwiftBCC
import Testing

extension KernelSuite {
    @Suite("HelloTail example", .requiresBPF)
    struct HelloTailTests {
        init() { TracePipeLock.acquire() }

        @Test("execve is tail-called into hello_exec: --count 3 prints three trace lines, then exits 0")
        func countThree() throws {
            let before = loadedProgramNames().filter { ["hello", "hello_exec", "hello_timer", "ignore_opcode"].contains($0) }.count
            let child = try Child(try examplePath("HelloTail"), ["--count", "3"])
            let status = child.drive(timeout: 30) {
                execTrue()
            }
            #expect(status == 0, "stderr: \(child.stderr)")
            let lines = child.stdoutLines
            #expect(lines.count == 3, "stdout: \(child.stdout)")
            // trace_pipe is machine-wide: other programs' lines may come through, ours must.
            #expect(lines.contains { $0.hasSuffix("bpf_trace_printk: Executing a program") }, "stdout: \(child.stdout)")
            #expect(!lines.contains { $0.contains("Another syscall") }, "every syscall below 500 is tail-called: \(child.stdout)")
            #expect(eventually {
                loadedProgramNames().filter { ["hello", "hello_exec", "hello_timer", "ignore_opcode"].contains($0) }.count == before
            })
        }

        @Test("timer syscalls go to hello_timer")
        func timers() throws {
            let child = try Child(try examplePath("HelloTail"), [])
            defer { kill(child.process.processIdentifier, SIGTERM); _ = child.wait(timeout: 10) }
            // The first execve line shows the handlers are in place.
            #expect(eventually(timeout: 30) {
                execTrue()
                return child.stdout.contains("Executing a program")
            }, "stderr: \(child.stderr)")
            var timer: timer_t? = nil
            #expect(timer_create(CLOCK_MONOTONIC, nil, &timer) == 0)
            #expect(timer_delete(timer) == 0)
            #expect(eventually(timeout: 10) {
                child.stdout.contains("Creating a timer") && child.stdout.contains("Deleting a timer")
            }, "stdout: \(child.stdout)")
        }
    }
}
