import Foundation
import Glibc
import Testing

/// Runs a command; returns its exit status and stdout+stderr.
@discardableResult
func runCommand(_ path: String, _ args: [String]) throws -> (status: Int32, output: String) {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: path)
    p.arguments = args
    let pipe = Pipe()
    p.standardOutput = pipe
    p.standardError = pipe
    try p.run()
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    return (p.terminationStatus, String(decoding: data, as: UTF8.self))
}

/// A network namespace with a veth pair: `outer` stays in this namespace (address
/// `outerIP`), `inner` lives in the namespace (address `innerIP`). Names and the /24 are
/// random, so parallel runs do not collide. `close()` (also run by deinit) deletes both.
final class VethNamespace {
    let name: String
    let outer: String
    let inner: String
    let outerIP: String
    let innerIP: String
    private var closed = false

    var netnsPath: String { "/var/run/netns/\(name)" }

    init() throws {
        let tag = String(UInt32.random(in: 0x1000_0000...0xffff_ffff), radix: 16)
        name = "sbcc-\(tag)"
        outer = "sbA\(tag)"
        inner = "sbB\(tag)"
        let subnet = "10.\(Int.random(in: 200...250)).\(Int.random(in: 1...254))"
        outerIP = "\(subnet).1"
        innerIP = "\(subnet).2"
        do {
            try ip(["netns", "add", name])
            try ip(["link", "add", outer, "type", "veth", "peer", "name", inner])
            try ip(["link", "set", inner, "netns", name])
            try ip(["addr", "add", "\(outerIP)/24", "dev", outer])
            try ip(["link", "set", outer, "up"])
            try inside(["/usr/sbin/ip", "addr", "add", "\(innerIP)/24", "dev", inner])
            try inside(["/usr/sbin/ip", "link", "set", inner, "up"])
            try inside(["/usr/sbin/ip", "link", "set", "lo", "up"])
        } catch {
            close()
            throw error
        }
    }

    private func ip(_ args: [String]) throws {
        let r = try runCommand("/usr/sbin/ip", args)
        try #require(r.status == 0, "ip \(args.joined(separator: " ")) failed: \(r.output)")
    }

    /// Runs a command inside the namespace (`nsenter --net=`: `ip netns exec` would remount /sys).
    @discardableResult
    func inside(_ command: [String], check: Bool = true) throws -> (status: Int32, output: String) {
        let r = try runCommand("/usr/bin/nsenter", ["--net=\(netnsPath)"] + command)
        if check { try #require(r.status == 0, "\(command.joined(separator: " ")) in \(name) failed: \(r.output)") }
        return r
    }

    /// `ip link show dev <dev>` mentions an XDP program.
    func hasXDP(_ dev: String, inside: Bool) -> Bool {
        let args = ["link", "show", "dev", dev]
        let r = inside ? try? self.inside(["/usr/sbin/ip"] + args, check: false) : try? runCommand("/usr/sbin/ip", args)
        return r?.output.contains("xdp") ?? false
    }

    func close() {
        guard !closed else { return }
        closed = true
        _ = try? runCommand("/usr/sbin/ip", ["link", "del", outer])
        _ = try? runCommand("/usr/sbin/ip", ["netns", "del", name])
    }

    deinit { close() }
}

/// Sends `count` UDP datagrams to `host:port` from this process.
func sendUDP(to host: String, port: UInt16, count: Int, payload: String = "x") {
    let s = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
    guard s >= 0 else { return }
    defer { close(s) }
    var addr = sockaddr_in()
    addr.sin_family = sa_family_t(AF_INET)
    addr.sin_port = port.bigEndian
    inet_pton(AF_INET, host, &addr.sin_addr)
    for _ in 0..<count {
        _ = withUnsafePointer(to: &addr) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) { sa in
                payload.withCString { sendto(s, $0, strlen($0), 0, sa, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
        }
    }
}

/// Tries a TCP connection to `host:port` (a SYN goes out whether or not anyone listens).
func tryTCPConnect(to host: String, port: UInt16) {
    let s = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard s >= 0 else { return }
    defer { close(s) }
    var tv = timeval(tv_sec: 1, tv_usec: 0)
    setsockopt(s, SOL_SOCKET, SO_SNDTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
    var addr = sockaddr_in()
    addr.sin_family = sa_family_t(AF_INET)
    addr.sin_port = port.bigEndian
    inet_pton(AF_INET, host, &addr.sin_addr)
    _ = withUnsafePointer(to: &addr) { p in
        p.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(s, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
}
