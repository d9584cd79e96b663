import Foundation
import Glibc
@testable import SwiftBCC
import Testing

/// Runs bash, which forks with the clone syscall for its first command (Foundation's
/// posix_spawn uses clone3 and dash uses vfork: neither is clone).
func forkSome() {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/bin/bash")
    p.arguments = ["-c", "/bin/true; /bin/true"]
    try? p.run()
    p.waitUntilExit()
}

extension KernelSuite {
    @Suite("HelloMap example", .requiresBPF)
    struct HelloMapTests {
        @Test("--count 3 --interval 0.3 prints three lines of Python's format while processes fork, then exits 0")
        func countThree() throws {
            let child = try Child(try examplePath("HelloMap"), ["--count", "3", "--interval", "0.3"])
            let status = child.drive(timeout: 30, every: 0.05) {
                forkSome()
            }
            #expect(status == 0, "stderr: \(child.stderr)")
            let lines = child.stdoutLines
            #expect(lines.count == 3, "stdout: \(child.stdout)")
            // "ID <uid>: <count>\t" per user, as Python's "ID {}: {}\t".format(k.value, v.value).
            let entry = /ID \d+: \d+\t/
            for line in lines {
                #expect(line == "No entries yet" || (line.wholeMatch(of: /(ID \d+: \d+\t)+/) != nil), "line: \(line)")
            }
            let last = try #require(lines.last)
            #expect(last.contains("ID \(getuid()): "), "we forked as uid \(getuid()): \(last)")
            #expect(last.contains(entry))
            if !Probe.kprobes.ok {
                #expect(child.stderr.contains("attaching hello_world to the tracepoint syscalls:sys_enter_clone"))
            }
        }

        @Test("the counts grow with our forks, line after line")
        func counting() throws {
            let child = try Child(try examplePath("HelloMap"), ["--count", "4", "--interval", "0.4"])
            while child.process.isRunning {
                forkSome()
                usleep(50_000)
                if child.stdoutLines.count >= 4 { break }
            }
            #expect(child.wait(timeout: 30) == 0, "stderr: \(child.stderr)")
            let me = "ID \(getuid()): "
            let counts = child.stdoutLines.compactMap { line -> Int? in
                guard let r = line.range(of: me) else { return nil }
                return Int(line[r.upperBound...].prefix { $0.isNumber })
            }
            #expect(counts.count >= 2, "stdout: \(child.stdout)")
            #expect(counts == counts.sorted() && counts.first! < counts.last!, "counts: \(counts)")
        }

        @Test("SIGTERM detaches and exits 0, leaving no program behind; --duration ends the run")
        func sigtermAndDuration() throws {
            let before = loadedProgramNames().filter { $0 == "hello_world" }.count
            let child = try Child(try examplePath("HelloMap"), ["--interval", "0.2"])
            #expect(eventually(timeout: 30) { !child.stdoutLines.isEmpty }, "stderr: \(child.stderr)")
            #expect(loadedProgramNames().filter { $0 == "hello_world" }.count == before + 1)
            kill(child.process.processIdentifier, SIGTERM)
            #expect(child.wait(timeout: 10) == 0, "stderr: \(child.stderr)")
            #expect(eventually { loadedProgramNames().filter { $0 == "hello_world" }.count == before })

            let timed = try Child(try examplePath("HelloMap"), ["--duration", "1", "--interval", "0.3"])
            #expect(timed.wait(timeout: 20) == 0, "stderr: \(timed.stderr)")
            #expect(timed.stdoutLines.count >= 2)
            let bad = try Child(try examplePath("HelloMap"), ["--interval", "0"])
            #expect(bad.wait(timeout: 20) != 0)
        }
    }
}
