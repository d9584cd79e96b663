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

        @Test("SIGINT during the compile (a fresh compile cache) ends it with exit 0, no program left behind")
        func sigintDuringCompile() throws {
            let cache = FileManager.default.temporaryDirectory.appendingPathComponent("swiftbcc-hw-\(uniqueMarker())")
            defer { try? FileManager.default.removeItem(at: cache) }
            let before = loadedProgramNames().filter { $0 == "hello" }.count
            let child = try Child(try examplePath("HelloWorld"), [], environment: ["SWIFTBCC_CACHE_DIR": cache.path])
            let pid = child.process.processIdentifier
            func catchesSIGINT() -> Bool {
                guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
                      let line = status.split(separator: "\n").first(where: { $0.hasPrefix("SigCgt:") }),
                      let mask = UInt64(line.split(separator: "\t").last ?? "", radix: 16) else { return false }
                return mask & (1 << (UInt64(SIGINT) - 1)) != 0
            }
            // The compile is done once its cache entry is stored.
            func compiled() -> Bool {
                let entries = (try? FileManager.default.contentsOfDirectory(atPath: cache.path + "/bpf")) ?? []
                return entries.contains { $0.hasSuffix(".entry") }
            }
            let deadline = Date().addingTimeInterval(20)
            while Date() < deadline && child.process.isRunning && !catchesSIGINT() { usleep(500) }
            // The handlers came before the compile finished: the window between start and the
            // event loop is covered (examples installed them after compiling before).
            let early = !compiled()
            kill(pid, SIGINT)
            #expect(early, "SIGINT was not caught until the compile had finished")
            #expect(child.wait(timeout: 60) == 0, "stderr: \(child.stderr)")
            #expect(child.stdoutLines.isEmpty, "stdout: \(child.stdout)")
            #expect(eventually { loadedProgramNames().filter { $0 == "hello" }.count == before })
        }

        @Test("--duration ends the run with exit 0")
        func duration() throws {
            let child = try Child(try examplePath("HelloWorld"), ["--duration", "1"])
            #expect(child.wait(timeout: 20) == 0, "stderr: \(child.stderr)")
        }
    }
}
