import Foundation
@testable import SwiftBCC
import Testing

/// trace_pipe line parsing, without the kernel.
@Suite("Trace line parsing")
struct TraceParsingTests {
    @Test("current format: task-pid [cpu] flags ts: bpf_trace_printk: msg")
    func currentFormat() throws {
        let f = try #require(TraceFields.parse("            bash-754     [001] ...21   442.045191: bpf_trace_printk: Hello World!"))
        #expect(f == TraceFields(task: "bash", pid: 754, cpu: 1, flags: "...21", timestamp: 442.045191, message: "Hello World!"))
    }

    @Test("older format: 4-character flags and a 0x address tag")
    func olderAddressTag() throws {
        let f = try #require(TraceFields.parse("           <...>-1234  [002] d... 12345.678901: 0x00000001: hello there"))
        #expect(f.task == "<...>")
        #expect(f.pid == 1234)
        #expect(f.cpu == 2)
        #expect(f.flags == "d...")
        #expect(f.timestamp == 12345.678901)
        #expect(f.message == "hello there")
    }

    @Test("oldest format: empty tag (': : msg')")
    func emptyTag() throws {
        let f = try #require(TraceFields.parse("            bash-1     [000] .... 1.000000: : msg"))
        #expect(f.message == "msg")
        #expect(f.flags == "....")
    }

    @Test("tgid column (record-tgid option)")
    func tgidColumn() throws {
        let f = try #require(TraceFields.parse("            bash-755     (    754) [001] ...21   442.045191: bpf_trace_printk: Hi"))
        #expect(f.pid == 755)
        #expect(f.tgid == 754)
        #expect(f.task == "bash")
        #expect(f.message == "Hi")
    }

    @Test("no flags column; task names with dashes and colons; colons in the message")
    func oddTasks() throws {
        let a = try #require(TraceFields.parse("  kworker/0:1-12 [000]  9.5: bpf_trace_printk: x: y"))
        #expect(a.task == "kworker/0:1")
        #expect(a.pid == 12)
        #expect(a.flags == "")
        #expect(a.timestamp == 9.5)
        #expect(a.message == "x: y")
        let b = try #require(TraceFields.parse("    my-task-name-99      [003] .N.1.     5.250000: bpf_trace_printk: a"))
        #expect(b.task == "my-task-name")
        #expect(b.pid == 99)
        #expect(b.flags == ".N.1.")
    }

    @Test("lines that are not events give nil")
    func notEvents() {
        #expect(TraceFields.parse("CPU:2 [LOST 10 EVENTS]") == nil)
        #expect(TraceFields.parse("") == nil)
        #expect(TraceFields.parse("garbage without brackets") == nil)
    }

    @Test("fmt uses Python str.format positions")
    func format() {
        let f = TraceFields(task: "bash", pid: 7, cpu: 1, flags: "....", timestamp: 1.5, message: "hi")
        #expect(f.format("pid {1}, msg = {5}") == "pid 7, msg = hi")
        #expect(f.format("{0} on {2} at {4} [{3}] {{x}}") == "bash on 1 at 1.5 [....] {x}")
        #expect(f.format("{9} stays") == "{9} stays")
    }

    @Test("agrees with Python BCC's trace_fields on the lines Python parses",
          .enabled(if: FileManager.default.fileExists(atPath: "/usr/lib/python3/dist-packages/bcc/__init__.py"),
                   "python3-bpfcc is not installed"))
    func matchesPython() throws {
        // Lines in the kernel's own layout: "%16s-%-7d [%03d] %s %5lu.%06lu: ".
        let lines = [
            "            bash-754     [001] ...21   442.045191: bpf_trace_printk: Hello World!",
            "           <...>-1234    [002] d...  12345.678901: 0x00000001: hello there",
            "         python3-31488   [000] ...21   124.677043: bpf_trace_printk: a: b",
        ]
        let script = """
        import sys
        from bcc import BPF
        lines = [l.encode() for l in sys.stdin.read().split("\\n") if l]
        class Fake(BPF):
            def __init__(self): self.it = iter(lines)
            def trace_readline(self, nonblocking=False): return next(self.it)
        f = Fake()
        for _ in lines:
            t, p, c, fl, ts, m = f.trace_fields()
            print("|".join([t.decode(), str(p), str(c), fl.decode(), repr(ts), m.decode()]))
        """
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        p.arguments = ["-c", script]
        let input = Pipe(), output = Pipe()
        p.standardInput = input
        p.standardOutput = output
        try p.run()
        input.fileHandleForWriting.write(lines.joined(separator: "\n").data(using: .utf8)!)
        try input.fileHandleForWriting.close()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        let pyLines = String(decoding: data, as: UTF8.self).split(separator: "\n").map(String.init)
        try #require(pyLines.count == lines.count, "python printed: \(pyLines)")
        for (line, py) in zip(lines, pyLines) {
            let f = try #require(TraceFields.parse(line))
            let ours = [f.task, String(f.pid), String(f.cpu), f.flags, String(f.timestamp), f.message].joined(separator: "|")
            #expect(ours == py)
        }
    }
}
