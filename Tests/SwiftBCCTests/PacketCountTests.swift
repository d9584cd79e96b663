import Foundation
import Glibc
@testable import SwiftBCC
import Testing

extension KernelSuite {
    @Suite("PacketCount example", .requiresBPF)
    struct PacketCountTests {
        /// PacketCount on the namespace's inner device, once its XDP program is attached.
        static func startAttached(in ns: VethNamespace) throws -> Child {
            let child = try Child("/usr/bin/nsenter", ["--net=\(ns.netnsPath)", try examplePath("PacketCount"), "--dev", ns.inner])
            #expect(eventually(timeout: 30) { ns.hasXDP(ns.inner, inside: true) || !child.process.isRunning },
                    "PacketCount attached no XDP program; stderr: \(child.stderr)")
            try #require(child.process.isRunning, "PacketCount exited; stderr: \(child.stderr)")
            return child
        }

        @Test("counts ICMP, UDP and TCP per protocol on a veth in a namespace; SIGTERM removes XDP and exits 0")
        func perProtocolInNamespace() throws {
            let ns = try VethNamespace()
            defer { ns.close() }
            let child = try Self.startAttached(in: ns)

            let ping = try runCommand("/usr/bin/ping", ["-c", "3", "-i", "0.2", "-W", "1", ns.innerIP])
            #expect(ping.status == 0, "\(ping.output)")
            sendUDP(to: ns.innerIP, port: 9999, count: 4)
            tryTCPConnect(to: ns.innerIP, port: 9)
            tryTCPConnect(to: ns.innerIP, port: 9)

            let expected = ["Protocol 1: counter 3,", "Protocol 17: counter 4,", "Protocol 6: counter 2,"]
            #expect(eventually(timeout: 10) {
                child.stdoutLines.last.map { line in expected.allSatisfy { line.contains($0) } } ?? false
            }, "stdout: \(child.stdout)")
            let last = child.stdoutLines.last ?? ""
            // The original's format: "Protocol <p>: counter <n>," repeated, nothing else.
            #expect(last.count == expected.map(\.count).reduce(0, +), "last line: \(last)")

            kill(child.process.processIdentifier, SIGTERM)
            #expect(child.wait(timeout: 10) == 0, "stderr: \(child.stderr)")
            #expect(!ns.hasXDP(ns.inner, inside: true), "the XDP program is still attached after SIGTERM")
        }

        @Test("--count 2 prints two lines and exits 0; a missing device fails with a clear error")
        func countAndBadDevice() throws {
            let ns = try VethNamespace()
            defer { ns.close() }
            let child = try Child("/usr/bin/nsenter", ["--net=\(ns.netnsPath)", try examplePath("PacketCount"),
                                                       "--dev", ns.inner, "--count", "2"])
            #expect(child.wait(timeout: 30) == 0, "stderr: \(child.stderr)")
            #expect(child.stdout.filter { $0 == "\n" }.count == 2, "stdout: \(child.stdout)")
            #expect(!ns.hasXDP(ns.inner, inside: true))

            let bad = try Child(try examplePath("PacketCount"), ["--dev", "nosuchdev0", "--count", "1"])
            #expect(bad.wait(timeout: 30) != 0)
            #expect(bad.stderr.contains("no network device nosuchdev0"), "stderr: \(bad.stderr)")
        }

        @Test("SIGHUP, SIGQUIT (detach, exit 0) and SIGKILL (the kernel drops the XDP link) leave no XDP program on the device",
              arguments: [SIGHUP, SIGQUIT, SIGKILL])
        func nothingLeftAfterSignal(signal: Int32) throws {
            let ns = try VethNamespace()
            defer { ns.close() }
            let child = try Self.startAttached(in: ns)
            let programsBefore = loadedProgramNames().filter { $0 == "hello_packet" }.count
            #expect(programsBefore >= 1)
            kill(child.process.processIdentifier, signal)
            let status = child.wait(timeout: 10)
            if signal == SIGKILL {
                #expect(child.process.terminationReason == .uncaughtSignal && status == SIGKILL)
            } else {
                #expect(status == 0, "stderr: \(child.stderr)")
            }
            #expect(eventually(timeout: 5) { !ns.hasXDP(ns.inner, inside: true) },
                    "the XDP program is still attached after signal \(signal)")
            #expect(eventually(timeout: 5) { loadedProgramNames().filter { $0 == "hello_packet" }.count < programsBefore },
                    "the program is still loaded after signal \(signal)")
        }
    }
}
