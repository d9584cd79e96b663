import ArgumentParser
import Glibc

/// IP addresses and ports as the network tools (tcplife, tcpconnect) print them.
public enum InetText {
    /// An IPv4 address as the kernel stores it (`__be32` read into a u32 on this little-endian
    /// machine): dotted quad (Python: `inet_ntop(AF_INET, pack("I", addr))`).
    public static func ipv4(_ raw: UInt32) -> String {
        withUnsafeBytes(of: raw) { b in "\(b[0]).\(b[1]).\(b[2]).\(b[3])" }
    }

    /// An IPv6 address from its 16 bytes in network order: libc's `inet_ntop` text (the one
    /// Python's `socket.inet_ntop` prints).
    public static func ipv6(_ bytes: some Collection<UInt8>) -> String {
        var raw = Array(bytes.prefix(16))
        while raw.count < 16 { raw.append(0) }
        var out = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN) + 1)
        let ok = raw.withUnsafeBytes { src in inet_ntop(AF_INET6, src.baseAddress, &out, socklen_t(out.count)) }
        guard ok != nil else { return "?" }
        return String(decoding: out.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// A comma-separated port list (`-L 80,81`): the ports, or a usage error naming the option.
    public static func portList(_ text: String, option: String) throws -> [Int] {
        let parts = text.split(separator: ",", omittingEmptySubsequences: false)
        var ports: [Int] = []
        for part in parts {
            guard let p = Int(part.filter { $0 != " " && $0 != "\t" }), (0...65535).contains(p) else {
                throw ValidationError("\(option): '\(text)' is not a comma-separated list of port numbers")
            }
            ports.append(p)
        }
        return ports
    }
}

/// An event's raw bytes read at C struct offsets (for structs with `unsigned __int128` members,
/// whose 16-byte alignment a Swift struct does not reproduce).
public struct RawEvent {
    /// The event's bytes, as the perf buffer callback gets them (valid only during the callback).
    public let bytes: UnsafeRawBufferPointer

    /// A reader of `bytes`.
    public init(_ bytes: UnsafeRawBufferPointer) { self.bytes = bytes }

    /// The `T` at byte `offset` (zero when the event is too short). Inlinable: specialized in
    /// the tool, not a generic call per field.
    @inlinable
    public func load<T: FixedWidthInteger>(_ offset: Int, as type: T.Type) -> T {
        guard offset + MemoryLayout<T>.size <= bytes.count else { return 0 }
        return bytes.loadUnaligned(fromByteOffset: offset, as: T.self)
    }

    /// `count` bytes from `offset` (fewer when the event is shorter).
    public func slice(_ offset: Int, _ count: Int) -> [UInt8] {
        guard offset < bytes.count else { return [] }
        return Array(bytes[offset..<min(bytes.count, offset + count)])
    }

    /// A NUL-terminated C string in a `char[count]` at `offset`, bytes that are not UTF-8 replaced.
    public func text(_ offset: Int, _ count: Int) -> String {
        guard offset < bytes.count else { return "" }
        let field = UnsafeRawBufferPointer(rebasing: bytes[offset..<min(bytes.count, offset + count)])
        let end = field.firstIndex(of: 0) ?? field.count
        return String(decoding: UnsafeRawBufferPointer(rebasing: field[0..<end]), as: UTF8.self)
    }
}

/// The headers of a socket tool's BPF program (tcplife, tcpconnect).
public enum SocketProgram {
    /// The includes for a program that reads these members of `struct sock` and its kin: when
    /// the running kernel's BTF has every one (``StructOffsets/defines(_:useBTF:)`` gives
    /// numbers), only TCP's states, `IPPROTO_*`, `AF_*`, an opaque `struct sock` and
    /// `TASK_COMM_LEN`, which compile in a third of the time of `<net/sock.h>` and
    /// `<linux/tcp.h>`; else those two (and `<bcc/proto.h>`), for the `offsetof` fallback.
    public static func includes(reading members: [StructOffsets.Member]) -> String {
        let allBTF = members.allSatisfy { StructOffsets.btf($0.structName, $0.path) != nil }
        if !allBTF {
            return "#include <uapi/linux/ptrace.h>\n#include <linux/tcp.h>\n#include <net/sock.h>\n#include <bcc/proto.h>\n"
        }
        return """
            #include <uapi/linux/ptrace.h>
            #include <net/tcp_states.h>
            #include <uapi/linux/in.h>
            #include <linux/socket.h>
            struct sock;
            #ifndef TASK_COMM_LEN
            #define TASK_COMM_LEN 16
            #endif

            """
    }
}
