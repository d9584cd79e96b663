import Foundation
import Glibc
@testable import SwiftBCC
import Testing

/// What tcpconnect's tests share: the header, a row's expected text, a run against connects.
enum TcpconnectTest {
    static let tracing = "Tracing connect ... Hit Ctrl-C to end"
    static let header = "PID     COMM         IP SADDR            DADDR            DPORT "

    /// The row of a connect (`%-7d %-12.12s %-2d %-16s %-16s %-6d %s`) without the query.
    static func row(pid: Int32, comm: String, ip: Int = 4, saddr: String, daddr: String, dport: UInt16) -> String {
        func p(_ s: String, _ n: Int) -> String { s.padding(toLength: max(n, s.count), withPad: " ", startingAt: 0) }
        return p(String(pid), 7) + " " + p(String(comm.prefix(12)), 12) + " " + p(String(ip), 2) + " "
            + p(saddr, 16) + " " + p(daddr, 16) + " " + p(String(dport), 6) + " "
    }

    /// Starts tcpconnect `args` (optionally `--attach kind`), runs `connect` until a row has
    /// `marker`'s first 12 characters, stops it with SIGINT; returns the child.
    static func run(_ args: [String], marker: String, timeout: Double = 60, connect: () -> Void) throws -> Child {
        let child = try ToolTest.start(try examplePath("tcpconnect"), args, waitForLines: 2, timeout: timeout)
        try #require(child.process.isRunning && child.stdoutLines.count >= 2,
                     "tcpconnect \(args) did not start: stdout \(child.stdout) stderr \(child.stderr)")
        let seen = ToolTest.waitForRow(child, containing: String(marker.prefix(12)), trigger: connect)
        #expect(ToolTest.stop(child) == 0, "stderr: \(child.stderr)")
        #expect(seen, "no row with \(marker): stdout \(child.stdout) stderr \(child.stderr)")
        return child
    }

    /// A name other than localhost that /etc/hosts maps to 127.0.0.1, if any.
    static var hostsAlias: String? {
        guard let text = try? String(contentsOfFile: "/etc/hosts", encoding: .utf8) else { return nil }
        for line in text.split(separator: "\n") {
            let f = line.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
            guard f.count >= 2, f[0] == "127.0.0.1" else { continue }
            if let name = f.dropFirst().first(where: { $0 != "localhost" && !$0.hasPrefix("#") }) { return name }
        }
        return nil
    }
}

extension KernelSuite {
    @Suite("tcpconnect tool", .requiresBPF)
    struct TcpconnectTests {
        @Test("--help lists every flag of tcpconnect-bpfcc -h", .requiresPythonToolInstalled("tcpconnect"))
        func helpHasPythonFlags() throws {
            try ToolTest.expectPythonFlagsInHelp("tcpconnect", minimum: 24)
        }

        @Test("a bad flag value is a usage error (exit 64), not a trace")
        func badValue() throws {
            try ToolTest.expectUsageError("tcpconnect", ["-P", "80,x"])
            try ToolTest.expectUsageError("tcpconnect", ["-u", "root"])
            try ToolTest.expectUsageError("tcpconnect", ["-c", "-d"])
            try ToolTest.expectUsageError("tcpconnect", ["-4", "-6"])
        }

        @Test("--cgroupmap of a path without a pinned map is an error naming the option (exit 1)")
        func missingCgroupMap() throws {
            let out = try ToolTest.run(try examplePath("tcpconnect"), ["--cgroupmap", "/nonexistent/map"], timeout: 60)
            #expect(out.status == 1 && out.stderr.contains("--cgroupmap /nonexistent/map"), "stderr: \(out.stderr)")
        }

        @Test("a marked bash's connect to our listener: its pid, comm, addresses and port; the fallback named on stderr")
        func connectRow() throws {
            let marker = uniqueMarker("tc")
            let dir = try ToolTest.temporaryDirectory(marker)
            defer { try? FileManager.default.removeItem(at: dir) }
            let listener = try LoopbackListener()
            var pid: Int32 = 0
            let child = try TcpconnectTest.run([], marker: marker) {
                if pid == 0, let p = try? NetWorkload.bashConnect(marker, in: dir, port: listener.port) { pid = p }
                listener.acceptAndClose()
            }
            #expect(Array(child.stdoutLines.prefix(2)) == [TcpconnectTest.tracing, TcpconnectTest.header])
            let expected = TcpconnectTest.row(pid: pid, comm: marker, saddr: "127.0.0.1", daddr: "127.0.0.1", dport: listener.port)
            #expect(child.stdout.contains("\n" + expected + "\n"), "expected \(expected); stdout: \(child.stdout)")
            if !Probe.kprobes.ok {
                #expect(child.stderr.contains("tcpconnect: using tracepoints (sock:inet_sock_set_state); kprobes: this kernel has no kprobes"),
                        "stderr: \(child.stderr)")
            }
        }

        @Test("-t -U -L -P port: time, uid and local port columns; other ports filtered out")
        func columnsAndPortFilter() throws {
            let marker = uniqueMarker("tc")
            let dir = try ToolTest.temporaryDirectory(marker)
            defer { try? FileManager.default.removeItem(at: dir) }
            let listener = try LoopbackListener()
            let other = try LoopbackListener()
            var pid: Int32 = 0
            let child = try TcpconnectTest.run(["-t", "-U", "-L", "-P", "1,\(listener.port)"], marker: marker) {
                if pid == 0 {
                    _ = try? NetWorkload.bashConnect(marker + "x", in: dir, port: other.port)
                    if let p = try? NetWorkload.bashConnect(marker, in: dir, port: listener.port) { pid = p }
                }
                listener.acceptAndClose()
                other.acceptAndClose()
            }
            #expect(child.stdoutLines.dropFirst().first == "TIME(s)  UID   PID     COMM         IP SADDR            LPORT  DADDR            DPORT ")
            let row = try #require(child.stdoutLines.first { $0.contains(marker) }, "stdout: \(child.stdout)")
            let f = ToolTest.fields(row)
            try #require(f.count == 9, "row: \(row)")
            #expect(ToolTest.matches(row.prefix(9), #"\d+\.\d{3} *"#), "row: \(row)")
            #expect(row.dropFirst(9).hasPrefix(String(getuid()).padding(toLength: 6, withPad: " ", startingAt: 0) + String(pid) + " "), "row: \(row)")
            #expect(f[3] == marker && f[4] == "4" && f[5] == "127.0.0.1" && (Int(f[6]) ?? 0) > 0, "row: \(row)")
            #expect(f[7] == "127.0.0.1" && f[8] == String(listener.port), "row: \(row)")
            #expect(!child.stdout.contains(String(other.port)), "-P shows another port: \(child.stdout)")
        }

        @Test("-6: a connect to ::1 is IP 6 with IPv6 addresses; -4 hides it")
        func ipv6Connect() throws {
            let marker = uniqueMarker("tc")
            let dir = try ToolTest.temporaryDirectory(marker)
            defer { try? FileManager.default.removeItem(at: dir) }
            let listener = try LoopbackListener(ipv6: true)
            var pid: Int32 = 0
            let v4only = try ToolTest.start(try examplePath("tcpconnect"), ["-4", "-P", String(listener.port)], waitForLines: 2)
            let child = try TcpconnectTest.run(["-6"], marker: marker) {
                if pid == 0, let p = try? NetWorkload.bashConnect(marker, in: dir, host: "::1", port: listener.port) { pid = p }
                listener.acceptAndClose()
            }
            let expected = TcpconnectTest.row(pid: pid, comm: marker, ip: 6, saddr: "::1", daddr: "::1", dport: listener.port)
            #expect(child.stdout.contains("\n" + expected + "\n"), "expected \(expected); stdout: \(child.stdout)")
            #expect(ToolTest.stop(v4only) == 0)
            #expect(v4only.stdoutLines.count == 2, "-4 printed a row: \(v4only.stdout)")
        }

        @Test("-c: connects counted per source, destination and port, printed on Ctrl-C")
        func counts() throws {
            let marker = uniqueMarker("tc")
            let dir = try ToolTest.temporaryDirectory(marker)
            defer { try? FileManager.default.removeItem(at: dir) }
            let listener = try LoopbackListener()
            let child = try ToolTest.start(try examplePath("tcpconnect"), ["-c", "-P", String(listener.port)])
            try #require(child.process.isRunning && child.stdoutLines.first == TcpconnectTest.tracing,
                         "stdout: \(child.stdout) stderr: \(child.stderr)")
            for _ in 0..<3 {
                try NetWorkload.bashConnect(marker, in: dir, port: listener.port)
                listener.acceptAndClose()
            }
            usleep(300_000)
            #expect(ToolTest.stop(child) == 0, "stderr: \(child.stderr)")
            func p(_ s: String, _ n: Int) -> String { s.padding(toLength: max(n, s.count), withPad: " ", startingAt: 0) }
            #expect(child.stdout == TcpconnectTest.tracing + "\n\n" + p("LADDR", 25) + " " + p("RADDR", 25) + " " + p("RPORT", 20)
                    + " " + p("CONNECTS", 10) + "\n" + p("127.0.0.1", 25) + " " + p("127.0.0.1", 25) + " "
                    + p(String(listener.port), 20) + " " + p("3", 10) + "\n", "stdout: \(child.stdout)")
        }

        // In the VM lane too: there -d runs beside the kprobe path.
        @Test("-d: the QUERY column has the name a process looked up (getaddrinfo uprobe), localhost or No DNS Query otherwise",
              .requiresUprobes, .tags(.vmLane))
        func dnsQuery() throws {
            let marker = uniqueMarker("tc")
            let dir = try ToolTest.temporaryDirectory(marker)
            defer { try? FileManager.default.removeItem(at: dir) }
            let listener = try LoopbackListener()
            let alias = TcpconnectTest.hostsAlias
            var step = 0
            var pids: [Int32] = []
            let child = try TcpconnectTest.run(["-d", "-P", String(listener.port)], marker: marker + "n", timeout: 300) {
                // Connects by address first (no query cached yet), then by the /etc/hosts name.
                if step == 0, let a = try? NetWorkload.bashConnect(marker, in: dir, port: listener.port),
                   let b = try? NetWorkload.bashConnect(marker + "2", in: dir, host: "127.0.0.2", port: listener.port),
                   let c = try? NetWorkload.pythonLookupConnect(marker + "n", in: dir, name: alias ?? "localhost", port: listener.port) {
                    pids = [a, b, c]
                    step = 1
                }
                listener.acceptAndClose()
            }
            try #require(pids.count == 3)
            #expect(child.stdoutLines.dropFirst().first == TcpconnectTest.header + " QUERY")
            let lines = child.stdoutLines
            let byAddress = TcpconnectTest.row(pid: pids[0], comm: marker, saddr: "127.0.0.1", daddr: "127.0.0.1", dport: listener.port)
            #expect(lines.contains(byAddress + "localhost"), "stdout: \(child.stdout)")
            let unnamed = TcpconnectTest.row(pid: pids[1], comm: marker + "2", saddr: "127.0.0.1", daddr: "127.0.0.2", dport: listener.port)
            #expect(lines.contains(unnamed + "No DNS Query"), "stdout: \(child.stdout)")
            let named = TcpconnectTest.row(pid: pids[2], comm: marker + "n", saddr: "127.0.0.1", daddr: "127.0.0.1", dport: listener.port)
            #expect(lines.contains(named + (alias ?? "localhost")), "stdout: \(child.stdout)")
            if !Probe.kprobes.ok {
                #expect(child.stderr.contains("using tracepoints (sock:inet_sock_set_state; uprobes on libc getaddrinfo)"),
                        "stderr: \(child.stderr)")
            }
        }
    }

    /// tcpconnect's kprobe path (Python's: tcp_v4_connect/tcp_v6_connect), run for real where
    /// kprobes exist (the VM lane), and compared with Python's tool there.
    @Suite("tcpconnect kprobe path", .requiresBPF, .requiresKprobes, .tags(.vmLane))
    struct TcpconnectKprobeTests {
        @Test("tcpconnect --attach kprobe: a marked bash's v4 and v6 connects, with pid, comm, addresses, ports")
        func kprobeRows() throws {
            let marker = uniqueMarker("tk")
            let dir = try ToolTest.temporaryDirectory(marker)
            defer { try? FileManager.default.removeItem(at: dir) }
            let v4 = try LoopbackListener()
            let v6 = try LoopbackListener(ipv6: true)
            var pids: [Int32] = []
            // A compile under qemu TCG takes tens of seconds.
            let child = try TcpconnectTest.run(["--attach", "kprobe", "-L"], marker: marker + "6", timeout: 300) {
                if pids.isEmpty, let a = try? NetWorkload.bashConnect(marker, in: dir, port: v4.port),
                   let b = try? NetWorkload.bashConnect(marker + "6", in: dir, host: "::1", port: v6.port) {
                    pids = [a, b]
                }
                v4.acceptAndClose()
                v6.acceptAndClose()
            }
            #expect(!child.stderr.contains("using tracepoints"), "fell back: \(child.stderr)")
            try #require(pids.count == 2)
            let r4 = try #require(child.stdoutLines.first { ToolTest.fields($0).first == String(pids[0]) }, "stdout: \(child.stdout)")
            let f4 = ToolTest.fields(r4)
            try #require(f4.count == 7, "row: \(r4)")
            #expect(f4[1] == marker && f4[2] == "4", "row: \(r4)")
            #expect(f4[3] == "127.0.0.1" && (Int(f4[4]) ?? 0) > 0, "row: \(r4)")
            #expect(f4[5] == "127.0.0.1" && f4[6] == String(v4.port), "row: \(r4)")
            let r6 = try #require(child.stdoutLines.first { ToolTest.fields($0).first == String(pids[1]) }, "stdout: \(child.stdout)")
            let f6 = ToolTest.fields(r6)
            #expect(f6.count == 7 && f6[2] == "6" && f6[3] == "::1" && f6[5] == "::1" && f6[6] == String(v6.port), "row: \(r6)")
        }

        @Test("Python's tcpconnect and ours print the same header and row for the same connect",
              .requiresPythonTool("tcpconnect"))
        func sameAsPython() throws {
            let marker = uniqueMarker("tk")
            let dir = try ToolTest.temporaryDirectory(marker)
            defer { try? FileManager.default.removeItem(at: dir) }
            let listener = try LoopbackListener()
            let args = ["-P", String(listener.port)]
            let python = try #require(try ToolTest.startPython("tcpconnect", args, headerLines: 2))
            let swift = try ToolTest.start(try examplePath("tcpconnect"), ["--attach", "kprobe"] + args, waitForLines: 2, timeout: 300)
            try #require(swift.stdoutLines.count >= 2, "stderr: \(swift.stderr)")
            try NetWorkload.bashConnect(marker, in: dir, port: listener.port)
            listener.acceptAndClose()
            ToolTest.waitForRow(swift, containing: marker, timeout: 60)
            ToolTest.waitForRow(python, containing: marker, timeout: 60)
            _ = ToolTest.stop(python)
            #expect(ToolTest.stop(swift) == 0)
            #expect(Array(python.stdoutLines.prefix(2)) == Array(swift.stdoutLines.prefix(2)))
            let p = python.stdout.split(separator: "\n").filter { $0.contains(marker) }
            let s = swift.stdout.split(separator: "\n").filter { $0.contains(marker) }
            #expect(!s.isEmpty && p == s, "python:\n\(python.stdout)\nswift:\n\(swift.stdout)")
        }
    }
}
