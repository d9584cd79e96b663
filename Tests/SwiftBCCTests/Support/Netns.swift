import Foundation
import Glibc
@testable import SwiftBCC
import Testing

/// Runs a command; returns its exit status and stdout+stderr. Spawned with posix_spawn and
/// reaped with waitpid, polled against a deadline (Foundation's Process could miss a child's
/// exit and wait forever: HelloLSM's VM-lane test, which runs a command every 0.2 s, once hung
/// until the lane's limit): a command still running after `timeout` seconds is killed and
/// reported with status -1 and a note in its output.
@discardableResult
func runCommand(_ path: String, _ args: [String], timeout: Double = 60) throws -> (status: Int32, output: String) {
    let outPath = FileManager.default.temporaryDirectory.appendingPathComponent("swiftbcc-cmd-\(UUID().uuidString).out").path
    defer { unlink(outPath) }
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
    posix_spawn_file_actions_addopen(&actions, 1, outPath, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
    posix_spawn_file_actions_adddup2(&actions, 1, 2)
    let argv: [UnsafeMutablePointer<CChar>?] = ([path] + args).map { strdup($0) } + [nil]
    defer { for p in argv { free(p) } }
    var pid: pid_t = 0
    let rc = posix_spawn(&pid, path, &actions, nil, argv, environ)
    guard rc == 0 else {
        throw BPFError.systemCall(name: "posix_spawn(\(path))", errno: Errno(rc), detail: "cannot run \(path)")
    }
    let deadline = Date().addingTimeInterval(timeout)
    var status: Int32 = 0
    while true {
        let r = waitpid(pid, &status, WNOHANG)
        if r == pid { break }
        if r < 0 && errno != EINTR { return (-1, "waitpid(\(pid)) failed: errno \(errno)") }
        if Date() >= deadline {
            kill(pid, SIGKILL)
            _ = waitpid(pid, &status, 0)
            let output = (try? String(contentsOfFile: outPath, encoding: .utf8)) ?? ""
            return (-1, output + "\n[runCommand: \(path) \(args.joined(separator: " ")) was still running after \(timeout) s and was killed]")
        }
        usleep(5_000)
    }
    let output = (try? Data(contentsOf: URL(fileURLWithPath: outPath))).map { String(decoding: $0, as: UTF8.self) } ?? ""
    // WIFEXITED: the low 7 bits are 0; the exit code is the next byte. A signal gives 128 + sig.
    let code = (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
    return (code, output)
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
