import Foundation
import Glibc
@testable import SwiftBCC
import Testing

extension KernelSuite {
    @Suite("Raw sockets", .requiresBPF)
    struct SocketTests {
        @Test("attachRawSocket on lo: the filter sees our UDP packets and the socket receives only them")
        func socketFilterOnLoopback() throws {
            let port = UInt16.random(in: 20000...60000)
            let b = try BPF(text: """
                #include <uapi/linux/if_ether.h>
                #include <uapi/linux/ip.h>
                BPF_ARRAY(counts, u64, 1);
                int udp_filter(struct __sk_buff *skb) {
                    if (load_half(skb, 12) != ETH_P_IP) return 0;
                    if (load_byte(skb, 14 + 9) != 17) return 0;  // IPPROTO_UDP
                    u32 ihl = load_byte(skb, 14) & 0xf;
                    if (load_half(skb, 14 + ihl * 4 + 2) != \(port)) return 0;
                    int k = 0;
                    u64 *p = counts.lookup(&k);
                    if (p) __sync_fetch_and_add(p, 1);
                    return -1;
                }
                """)
            defer { b.cleanup() }
            let fn = try b.loadFunction("udp_filter", type: .socketFilter)
            let sock = try b.attachRawSocket(fn: fn, dev: "lo")
            #expect(sock >= 0)
            sendUDP(to: "127.0.0.1", port: port, count: 5, payload: "swiftbcc-socket")
            // On lo a packet socket sees every packet twice: going out and coming back in.
            #expect(eventually { (try? b["counts"].u64(at: 0)) == 10 }, "filter count: \(String(describing: try? b["counts"].u64(at: 0)))")
            // The socket received exactly the filtered frames: Ethernet + IP + UDP + payload.
            var frames = 0
            var buf = [UInt8](repeating: 0, count: 2048)
            while true {
                let n = recv(sock, &buf, buf.count, Int32(MSG_DONTWAIT))
                if n <= 0 { break }
                frames += 1
                #expect(String(decoding: buf[(n - 15)..<n], as: UTF8.self) == "swiftbcc-socket")
            }
            #expect(frames == 10)
            b.cleanup()
            #expect(fcntl(sock, F_GETFD) == -1, "cleanup left the raw socket open")
        }

        @Test("attachRawSocket on a missing device fails with a typed error")
        func missingDevice() throws {
            let b = try BPF(text: "int f(struct __sk_buff *skb) { return 0; }")
            defer { b.cleanup() }
            let fn = try b.loadFunction("f", type: .socketFilter)
            #expect(throws: BPFError.self) { try b.attachRawSocket(fn: fn, dev: "nosuchdev0") }
        }
    }

    @Suite("attachFunction (BPF_PROG_ATTACH)", .requiresBPF)
    struct AttachFunctionTests {
        static let cgroup2Root = "/sys/fs/cgroup/unified"

        @Test("a cgroup_skb egress program attached to a fresh cgroup counts a child's pings; detach stops it")
        func cgroupEgress() throws {
            let root = FileManager.default.fileExists(atPath: Self.cgroup2Root + "/cgroup.procs") ? Self.cgroup2Root : "/sys/fs/cgroup"
            try #require(FileManager.default.fileExists(atPath: root + "/cgroup.procs"), "no cgroup2 hierarchy mounted")
            let cg = root + "/swiftbcc-\(uniqueMarker())"
            try FileManager.default.createDirectory(atPath: cg, withIntermediateDirectories: false)
            defer { rmdir(cg) }
            let cgFD = open(cg, O_RDONLY | O_DIRECTORY)
            try #require(cgFD >= 0)
            defer { close(cgFD) }

            let b = try BPF(text: """
                BPF_ARRAY(counts, u64, 1);
                int count_egress(struct __sk_buff *skb) {
                    int k = 0; u64 *p = counts.lookup(&k); if (p) __sync_fetch_and_add(p, 1);
                    return 1;
                }
                """)
            defer { b.cleanup() }
            let fn = try b.loadFunction("count_egress", type: .cgroupSkb)
            try BPF.attachFunction(fn, attachableFD: cgFD, attachType: .cgroupInetEgress)
            func pingFromCgroup() throws {
                let r = try runCommand("/bin/sh", ["-c", "echo $$ > \(cg)/cgroup.procs && exec /usr/bin/ping -c 2 -i 0.2 -W 1 127.0.0.1"])
                #expect(r.status == 0, "\(r.output)")
            }
            try pingFromCgroup()
            let counted = try b["counts"].u64(at: 0)
            #expect(counted >= 2)
            try BPF.detachFunction(fn, attachableFD: cgFD, attachType: .cgroupInetEgress)
            try pingFromCgroup()
            #expect(try b["counts"].u64(at: 0) == counted)
            #expect(throws: BPFError.self) { try BPF.detachFunction(fn, attachableFD: cgFD, attachType: .cgroupInetEgress) }
        }
    }
}
