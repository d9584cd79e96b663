import Foundation
import Glibc
import Testing

/// Workloads for the network tools' tests (tcplife, tcpconnect): a loopback TCP listener on a
/// port the kernel picks, and clients in child processes whose comm is a marker.
final class LoopbackListener {
    let fd: Int32
    let port: UInt16
    let family: Int32

    /// Listens on 127.0.0.1 (or ::1 with `ipv6`), port 0: the kernel picks a free port.
    init(ipv6: Bool = false) throws {
        family = ipv6 ? AF_INET6 : AF_INET
        let fd = socket(family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        self.fd = fd
        try #require(fd >= 0, "socket: errno \(errno)")
        var rc: Int32
        if ipv6 {
            var addr = sockaddr_in6()
            addr.sin6_family = sa_family_t(AF_INET6)
            addr.sin6_addr = in6addr_loopback
            rc = withUnsafePointer(to: &addr) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in6>.size)) }
            }
        } else {
            var addr = sockaddr_in()
            addr.sin_family = sa_family_t(AF_INET)
            addr.sin_addr.s_addr = UInt32(0x7f00_0001).bigEndian
            rc = withUnsafePointer(to: &addr) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
        }
        try #require(rc == 0, "bind: errno \(errno)")
        try #require(listen(fd, 64) == 0, "listen: errno \(errno)")
        var storage = sockaddr_storage()
        var len = socklen_t(MemoryLayout<sockaddr_storage>.size)
        _ = withUnsafeMutablePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) }
        }
        // sin_port and sin6_port are both at offset 2, in network order.
        let port = withUnsafeBytes(of: &storage) { UInt16(bigEndian: $0.loadUnaligned(fromByteOffset: 2, as: UInt16.self)) }
        self.port = port
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
    }

    /// Accepts every connection waiting and closes it (a server that hangs up), so each session
    /// runs to TCP_CLOSE on both sides.
    func acceptAndClose() {
        while true {
            let c = accept(fd, nil, nil)
            if c < 0 { break }
            var buffer = [UInt8](repeating: 0, count: 64)
            _ = read(c, &buffer, buffer.count)
            close(c)
        }
    }

    /// Accepts one connection (waiting up to `timeout` seconds) and reads it to its end; returns
    /// the bytes read, or nil when none came.
    func acceptAndDrain(timeout: Double = 20) -> Int? {
        let end = Date().addingTimeInterval(timeout)
        var c: Int32 = -1
        while c < 0 && Date() < end {
            c = accept(fd, nil, nil)
            if c < 0 { usleep(20_000) }
        }
        guard c >= 0 else { return nil }
        defer { close(c) }
        var tv = timeval(tv_sec: Int(timeout), tv_usec: 0)
        setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        var total = 0
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = read(c, &buffer, buffer.count)
            if n <= 0 { break }
            total += n
        }
        return total
    }

    deinit { close(fd) }

    /// The loopback address as the tools print it.
    var address: String { family == AF_INET6 ? "::1" : "127.0.0.1" }
}

enum NetWorkload {
    /// Runs a bash named `comm` (a symlink to /bin/bash in `dir`) that connects to
    /// `host:port` through bash's /dev/tcp, writes a line and closes; returns its pid.
    @discardableResult
    static func bashConnect(_ comm: String, in dir: URL, host: String = "127.0.0.1", port: UInt16) throws -> Int32 {
        let bash = try ToolTest.markedCommand(comm, in: dir, target: "/bin/bash")
        let run = try ToolTest.spawn(bash, ["-c", "exec 3<>/dev/tcp/\(host)/\(port); echo hi >&3; exec 3>&-"])
        return run.pid
    }

    /// Starts a bash named `comm` that sends `bytes` zero bytes to `127.0.0.1:port` and closes.
    static func bashSend(_ comm: String, in dir: URL, port: UInt16, bytes: Int) throws -> Child {
        let bash = try ToolTest.markedCommand(comm, in: dir, target: "/bin/bash")
        return try Child(bash, ["-c", "exec 3<>/dev/tcp/127.0.0.1/\(port); head -c \(bytes) /dev/zero >&3; exec 3>&-"])
    }

    /// Runs a python3 named `comm` that looks `name` up with getaddrinfo and connects to the
    /// first address on `port`; returns its pid.
    @discardableResult
    static func pythonLookupConnect(_ comm: String, in dir: URL, name: String, port: UInt16, family: String = "AF_INET") throws -> Int32 {
        let python = try ToolTest.markedCommand(comm, in: dir, target: "/usr/bin/python3")
        let script = """
            import socket, sys
            ai = socket.getaddrinfo(sys.argv[1], int(sys.argv[2]), socket.\(family), socket.SOCK_STREAM)
            s = socket.socket(ai[0][0], socket.SOCK_STREAM)
            s.connect(ai[0][4])
            s.close()
            """
        return try ToolTest.spawn(python, ["-c", script, name, String(port)]).pid
    }
}
