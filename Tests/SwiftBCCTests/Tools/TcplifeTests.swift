import Foundation
import Glibc
@testable import SwiftBCC
import Testing

extension KernelSuite {
    @Suite("tcplife tool", .requiresBPF)
    struct TcplifeTests {
        static let header = "PID   COMM       LADDR           LPORT RADDR           RPORT TX_KB RX_KB MS"

        @Test("--help lists every flag of tcplife-bpfcc -h", .requiresPythonToolInstalled("tcplife"))
        func helpHasPythonFlags() throws {
            try ToolTest.expectPythonFlagsInHelp("tcplife", minimum: 18)
        }

        @Test("a bad flag value is a usage error (exit 64), not a trace")
        func badValue() throws {
            try ToolTest.expectUsageError("tcplife", ["-p", "abc"])
            try ToolTest.expectUsageError("tcplife", ["-L", "80,x"])
            try ToolTest.expectUsageError("tcplife", ["-4", "-6"])
        }

        /// One session from a marker-named bash to a listener of ours, with `args` and `-D port`:
        /// the tool's lines and the client's pid.
        func session(_ args: [String], marker: String) throws -> (child: Child, pid: Int32, port: UInt16) {
            let dir = try ToolTest.temporaryDirectory(marker)
            defer { try? FileManager.default.removeItem(at: dir) }
            let listener = try LoopbackListener()
            let child = try ToolTest.startTool("tcplife", args + ["-D", String(listener.port)])
            var pid: Int32 = 0
            ToolTest.waitForRow(child, containing: String(marker.prefix(10))) {
                if pid == 0, let p = try? NetWorkload.bashConnect(marker, in: dir, port: listener.port) { pid = p }
                listener.acceptAndClose()
            }
            #expect(ToolTest.stop(child) == 0, "stderr: \(child.stderr)")
            return (child, pid, listener.port)
        }

        @Test("a loopback session from a marked client: its pid, comm, both addresses and ports, KB and ms columns")
        func sessionRow() throws {
            let marker = uniqueMarker("tl")
            let (child, pid, port) = try session([], marker: marker)
            #expect(child.stdoutLines.first == Self.header)
            let row = try #require(child.stdoutLines.first { $0.contains(String(marker.prefix(10))) }, "stdout: \(child.stdout)")
            let f = ToolTest.fields(row)
            try #require(f.count == 9, "row: \(row)")
            #expect(f[0] == String(pid) && f[1] == String(marker.prefix(10)), "row: \(row)")
            #expect(f[2] == "127.0.0.1" && f[4] == "127.0.0.1" && f[5] == String(port), "row: \(row)")
            #expect((Int(f[3]) ?? 0) > 0, "row: \(row)")
            // "hi\n" each way at most: 0 KB (the counters are read at BTF offsets, not the headers').
            #expect(f[6] == "0" && f[7] == "0", "row: \(row)")
            #expect(ToolTest.matches(f[8], #"\d+\.\d\d"#) && (Double(f[8]) ?? 1e9) < 10_000, "row: \(row)")
            // %-5d %-10.10s %-15s %-5d %-15s %-5d %5d %5d %.2f
            #expect(ToolTest.matches(row, #"\d+ +\S{1,10} +127\.0\.0\.1 +\d+ +127\.0\.0\.1 +\d+ +\d+ +\d+ \d+\.\d\d"#), "row: \(row)")
            #expect(row.dropFirst(6).hasPrefix(String(marker.prefix(10)) + " 127.0.0.1       "), "row: \(row)")
        }

        /// A marked bash sends 100 KB to our listener, which reads it all; returns the bash's pid.
        static func transfer(marker: String, listener: LoopbackListener) throws -> Int32 {
            let dir = try ToolTest.temporaryDirectory(marker)
            defer { try? FileManager.default.removeItem(at: dir) }
            let bash = try NetWorkload.bashSend(marker, in: dir, port: listener.port, bytes: 100 * 1024)
            let read = listener.acceptAndDrain()
            #expect(read == 100 * 1024)
            #expect(bash.wait(timeout: 20) == 0, "bash stderr: \(bash.stderr)")
            return bash.process.processIdentifier
        }

        @Test("100 KB sent: TX_KB 100 on the client's row (tcp_sock's counters read at the running kernel's offsets)")
        func byteCounters() throws {
            let marker = uniqueMarker("tl")
            let listener = try LoopbackListener()
            let child = try ToolTest.startTool("tcplife", ["-D", String(listener.port)])
            let pid = try Self.transfer(marker: marker, listener: listener)
            ToolTest.waitForRow(child, containing: String(marker.prefix(10)))
            #expect(ToolTest.stop(child) == 0, "stderr: \(child.stderr)")
            let row = try #require(child.stdoutLines.first { $0.contains(String(marker.prefix(10))) }, "stdout: \(child.stdout)")
            let f = ToolTest.fields(row)
            try #require(f.count == 9, "row: \(row)")
            #expect(f[0] == String(pid) && f[6] == "100" && f[7] == "0", "row: \(row)")
        }

        @Test("-s -T -t: CSV with time and seconds columns; -w -p <pid>: the wide layout, other pids filtered")
        func csvAndWide() throws {
            let marker = uniqueMarker("tl")
            let (csv, pid, port) = try session(["-s", "-T", "-t"], marker: marker)
            #expect(csv.stdoutLines.first == "TIME,TIME(s),PID,COMM,IP,LADDR,LPORT,RADDR,RPORT,TX_KB,RX_KB,MS")
            let row = try #require(csv.stdoutLines.first { $0.contains(marker) }, "stdout: \(csv.stdout)")
            let pattern = #"\d\d:\d\d:\d\d,\d+\.\d{6},\#(pid),\#(marker),4,127\.0\.0\.1,\d+,127\.0\.0\.1,\#(port),0,0,\d+\.\d\d"#
            #expect(ToolTest.matches(row, pattern), "row: \(row)")

            let wideHeader = "PID   COMM             IP LADDR                      LPORT RADDR                      RPORT  TX_KB  RX_KB MS"
            let marker2 = uniqueMarker("tl")
            let (wide, pid2, port2) = try session(["-w"], marker: marker2)
            #expect(wide.stdoutLines.first == wideHeader)
            let w = try #require(wide.stdoutLines.first { $0.contains(marker2) }, "stdout: \(wide.stdout)")
            let addr26: String = "127.0.0.1".padding(toLength: 26, withPad: " ", startingAt: 0)
            let pid5: String = String(pid2).padding(toLength: 5, withPad: " ", startingAt: 0)
            let comm16: String = marker2.padding(toLength: 16, withPad: " ", startingAt: 0)
            let port5: String = String(port2).padding(toLength: 5, withPad: " ", startingAt: 0)
            let widePrefix = pid5 + " " + comm16 + " 4  " + addr26 + " "
            let wideRemote = " " + addr26 + " " + port5 + "      0      0 "
            #expect(w.hasPrefix(widePrefix), "row: \(w)")
            #expect(w.contains(wideRemote), "row: \(w)")

            // -p: a pid that is not the client's: no row for it.
            let marker3 = uniqueMarker("tl")
            let dir = try ToolTest.temporaryDirectory(marker3)
            defer { try? FileManager.default.removeItem(at: dir) }
            let listener = try LoopbackListener()
            let filtered = try ToolTest.startTool("tcplife", ["-p", String(getpid()), "-D", String(listener.port)])
            try NetWorkload.bashConnect(marker3, in: dir, port: listener.port)
            listener.acceptAndClose()
            usleep(500_000)
            #expect(ToolTest.stop(filtered, signal: SIGTERM) == 0)
            #expect(!filtered.stdout.contains(String(marker3.prefix(10))), "stdout: \(filtered.stdout)")
        }

        @Test("-6: an IPv6 loopback session, addresses ::1")
        func ipv6Session() throws {
            let marker = uniqueMarker("tl")
            let dir = try ToolTest.temporaryDirectory(marker)
            defer { try? FileManager.default.removeItem(at: dir) }
            let listener = try LoopbackListener(ipv6: true)
            let child = try ToolTest.startTool("tcplife", ["-6", "-L", "1,\(listener.port)"])
            ToolTest.waitForRow(child, containing: " ::1 ") {
                _ = try? NetWorkload.bashConnect(marker, in: dir, host: "::1", port: listener.port)
                listener.acceptAndClose()
            }
            #expect(ToolTest.stop(child) == 0, "stderr: \(child.stderr)")
            // -L port: the server side's session (local port = the listener's).
            let row = try #require(child.stdoutLines.dropFirst().first, "stdout: \(child.stdout)")
            let f = ToolTest.fields(row)
            #expect(f.count == 9 && f[2] == "::1" && f[3] == String(listener.port) && f[4] == "::1", "row: \(row)")
        }

        @Test("Python's tcplife and ours print the same header and the same session (pid, comm, addresses, ports)",
              .requiresPythonTool("tcplife"))
        func sameAsPython() throws {
            for args in [["-w"], ["-s", "-T"], ["-T", "-t"]] {
                let python = try #require(try ToolTest.startPython("tcplife", args))
                _ = ToolTest.stop(python)
                let swift = try ToolTest.startTool("tcplife", args)
                #expect(ToolTest.stop(swift) == 0)
                #expect(python.stdoutLines.first == swift.stdoutLines.first, "\(args)")
            }
            let marker = uniqueMarker("tl")
            let dir = try ToolTest.temporaryDirectory(marker)
            defer { try? FileManager.default.removeItem(at: dir) }
            let listener = try LoopbackListener()
            let args = ["-D", String(listener.port)]
            let python = try #require(try ToolTest.startPython("tcplife", args))
            let swift = try ToolTest.startTool("tcplife", args)
            // One session, seen by both.
            try NetWorkload.bashConnect(marker, in: dir, port: listener.port)
            listener.acceptAndClose()
            let comm = String(marker.prefix(10))
            ToolTest.waitForRow(swift, containing: comm)
            ToolTest.waitForRow(python, containing: comm)
            _ = ToolTest.stop(python)
            #expect(ToolTest.stop(swift) == 0)
            #expect(python.stdoutLines.first == swift.stdoutLines.first)
            let p = try #require(python.stdoutLines.first { $0.contains(comm) }, "python: \(python.stdout)")
            let s = try #require(swift.stdoutLines.first { $0.contains(comm) }, "swift: \(swift.stdout)")
            // PID through RPORT are the same text; TX_KB/RX_KB Python reads at the headers' offsets
            // (wrong with another kernel's headers), MS may differ.
            let layout = #"\d+ +\S+ +[\d.]+ +\d+ +[\d.]+ +\d+ +\d+ +\d+ \d+\.\d\d"#
            #expect(ToolTest.matches(s, layout) && ToolTest.matches(p, layout), "python: \(p)\nswift: \(s)")
            #expect(Array(ToolTest.fields(p).prefix(6)) == Array(ToolTest.fields(s).prefix(6)), "python: \(p)\nswift: \(s)")
            #expect(p.prefix(6 + 11 + 16 + 6 + 16 + 6) == s.prefix(6 + 11 + 16 + 6 + 16 + 6), "python: \(p)\nswift: \(s)")
        }
    }

    /// Python's tcplife where it reads the byte counters right too: with the running kernel's own
    /// headers (the VM lane), every column but MS is the same text.
    @Suite("tcplife with exact headers", .requiresBPF, .requiresExactKernelHeaders, .requiresPythonTool("tcplife"), .tags(.vmLane))
    struct TcplifeExactHeaderTests {
        @Test("Python's tcplife and ours print the same row, TX_KB and RX_KB included, for a 100 KB session")
        func sameRowAsPython() throws {
            let marker = uniqueMarker("tl")
            let listener = try LoopbackListener()
            let args = ["-D", String(listener.port)]
            let swift = try ToolTest.start(try examplePath("tcplife"), args, timeout: 300)
            try #require(swift.process.isRunning && !swift.stdoutLines.isEmpty, "stderr: \(swift.stderr)")
            let python = try #require(try ToolTest.startPython("tcplife", args))
            _ = try TcplifeTests.transfer(marker: marker, listener: listener)
            let comm = String(marker.prefix(10))
            ToolTest.waitForRow(swift, containing: comm, timeout: 60)
            ToolTest.waitForRow(python, containing: comm, timeout: 60)
            _ = ToolTest.stop(python)
            #expect(ToolTest.stop(swift) == 0)
            let p = try #require(python.stdoutLines.first { $0.contains(comm) }, "python: \(python.stdout)")
            let s = try #require(swift.stdoutLines.first { $0.contains(comm) }, "swift: \(swift.stdout)")
            #expect(Array(ToolTest.fields(p).prefix(8)) == Array(ToolTest.fields(s).prefix(8)), "python: \(p)\nswift: \(s)")
            #expect(ToolTest.fields(s).dropFirst(6).first == "100", "swift: \(s)")
        }
    }

    /// tcplife's kprobe path (tcp_set_state, Python's before Linux 4.16), run where kprobes exist
    /// (the VM lane): the sock fields are read at BTF offsets there.
    @Suite("tcplife kprobe path", .requiresBPF, .requiresKprobes, .tags(.vmLane))
    struct TcplifeKprobeTests {
        @Test("tcplife --attach kprobe: a marked bash's loopback session, with pid, comm, addresses, ports")
        func kprobeSession() throws {
            let marker = uniqueMarker("tk")
            let dir = try ToolTest.temporaryDirectory(marker)
            defer { try? FileManager.default.removeItem(at: dir) }
            let listener = try LoopbackListener()
            // A compile under qemu TCG takes tens of seconds.
            let child = try ToolTest.start(try examplePath("tcplife"), ["--attach", "kprobe", "-D", String(listener.port)], timeout: 300)
            try #require(child.process.isRunning && !child.stdoutLines.isEmpty, "stdout \(child.stdout) stderr \(child.stderr)")
            var pid: Int32 = 0
            let seen = ToolTest.waitForRow(child, containing: marker, timeout: 60) {
                if pid == 0, let p = try? NetWorkload.bashConnect(marker, in: dir, port: listener.port) { pid = p }
                listener.acceptAndClose()
            }
            #expect(ToolTest.stop(child) == 0, "stderr: \(child.stderr)")
            #expect(seen, "stdout \(child.stdout) stderr \(child.stderr)")
            #expect(!child.stderr.contains("using "), "fell back: \(child.stderr)")
            let row = try #require(child.stdoutLines.first { $0.contains(marker) })
            let f = ToolTest.fields(row)
            try #require(f.count == 9, "row: \(row)")
            #expect(f[0] == String(pid) && f[1] == marker, "row: \(row)")
            #expect(f[2] == "127.0.0.1" && (Int(f[3]) ?? 0) > 0, "row: \(row)")
            #expect(f[4] == "127.0.0.1" && f[5] == String(listener.port), "row: \(row)")
            #expect(f[6] == "0" && f[7] == "0", "row: \(row)")
        }
    }
}
