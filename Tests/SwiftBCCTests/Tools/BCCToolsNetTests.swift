import BCCTools
import SwiftBCC
import Testing

@Suite("BCCTools network text")
struct BCCToolsNetTests {
    @Test("IPv4 addresses as the kernel stores them (__be32 in a little-endian u32) print dotted")
    func ipv4() {
        #expect(InetText.ipv4(0x0100_007f) == "127.0.0.1")
        #expect(InetText.ipv4(0x0403_020a) == "10.2.3.4")
        #expect(InetText.ipv4(0) == "0.0.0.0")
    }

    @Test("IPv6 addresses print as inet_ntop (Python's socket.inet_ntop) prints them")
    func ipv6() {
        #expect(InetText.ipv6([UInt8](repeating: 0, count: 15) + [1]) == "::1")
        #expect(InetText.ipv6([0x20, 0x01, 0x0d, 0xb8] + [UInt8](repeating: 0, count: 10) + [0x12, 0x34]) == "2001:db8::1234")
        #expect(InetText.ipv6([UInt8](repeating: 0, count: 10) + [0xff, 0xff, 127, 0, 0, 1]) == "::ffff:127.0.0.1")
    }

    @Test("port lists: comma-separated integers; anything else is a usage error naming the option")
    func portLists() throws {
        #expect(try InetText.portList("80", option: "-P") == [80])
        #expect(try InetText.portList("80,81, 443", option: "-P") == [80, 81, 443])
        for bad in ["", "80,", "x", "80,x", "70000", "-1"] {
            #expect(throws: (any Error).self, "\(bad)") { try InetText.portList(bad, option: "-P") }
        }
    }

    @Test("SocketProgram.includes: the light headers where BTF has every member, <net/sock.h> for offsetof otherwise; both compile",
          .requiresBPF)
    func socketIncludes() throws {
        let members: [StructOffsets.Member] = [.init("T_RX", "tcp_sock", "bytes_received"), .init("T_NUM", "sock_common", "skc_num")]
        // What tcplife and tcpconnect take from the headers: TCP states, IPPROTO_*, AF_*, an
        // opaque struct sock, TASK_COMM_LEN, ntohs.
        let body = """
            BPF_HASH(seen, struct sock *, u64);
            int probe(struct pt_regs *ctx, struct sock *sk) {
                u64 rx = 0;
                u16 num = 0;
                char comm[TASK_COMM_LEN];
                bpf_get_current_comm(&comm, sizeof(comm));
                bpf_probe_read_kernel(&rx, sizeof(rx), (char *)sk + T_RX);
                bpf_probe_read_kernel(&num, sizeof(num), (char *)sk + T_NUM);
                if (num == ntohs(80) && TCP_LAST_ACK == 9 && IPPROTO_TCP == 6 && AF_INET6 == 10 && comm[0])
                    seen.update(&sk, &rx);
                return 0;
            }
            """
        let light = SocketProgram.includes(reading: members)
        if KernelBTF.vmlinux?.memberOffset("tcp_sock", "bytes_received") != nil {
            #expect(light.contains("struct sock;") && !light.contains("net/sock.h"), "\(light)")
        }
        let fallback = SocketProgram.includes(reading: members + [.init("T_NONE", "tcp_sock", "no_such_member")])
        #expect(fallback.contains("#include <linux/tcp.h>") && fallback.contains("#include <net/sock.h>"), "\(fallback)")
        for (includes, useBTF) in [(light, true), (fallback, false)] {
            let b = try BPF(text: StructOffsets.defines(members, useBTF: useBTF) + includes + body)
            #expect(try b["seen"].keySize == 8)
            b.cleanup()
        }
    }

    @Test("RawEvent reads integers and C strings at offsets, zero and short past the end")
    func rawEvent() {
        let bytes: [UInt8] = [1, 0, 0, 0, 0x34, 0x12, 0x61, 0x62, 0, 0x63]
        bytes.withUnsafeBytes { raw in
            let e = RawEvent(raw)
            #expect(e.load(0, as: UInt32.self) == 1)
            #expect(e.load(4, as: UInt16.self) == 0x1234)
            #expect(e.load(8, as: UInt64.self) == 0)
            #expect(e.text(6, 4) == "ab")
            #expect(e.text(9, 16) == "c")
            #expect(e.slice(8, 16) == [0, 0x63])
        }
    }
}
