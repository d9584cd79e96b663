import Foundation
import Glibc
@testable import SwiftBCC
import Testing

extension KernelSuite {
    @Suite("XDP", .requiresBPF)
    struct XDPTests {
        static let program = """
            #include <linux/ip.h>
            BPF_HASH(packets, u64, u64);
            int count_packets(struct xdp_md *ctx) {
                void *data = (void *)(long)ctx->data;
                void *data_end = (void *)(long)ctx->data_end;
                struct ethhdr *eth = data;
                if (data + sizeof(struct ethhdr) > data_end) return XDP_PASS;
                if (bpf_ntohs(eth->h_proto) != ETH_P_IP) return XDP_PASS;
                struct iphdr *iph = data + sizeof(struct ethhdr);
                if (data + sizeof(struct ethhdr) + sizeof(struct iphdr) > data_end) return XDP_PASS;
                u64 key = iph->protocol;
                packets.increment(key);
                return XDP_PASS;
            }
            """

        /// ICMP, UDP and TCP packets sent from inside the namespace to the outer end.
        static func sendTraffic(_ ns: VethNamespace) throws {
            try ns.inside(["/usr/bin/ping", "-c", "3", "-i", "0.2", "-W", "1", ns.outerIP])
            try ns.inside(["/bin/bash", "-c", "for i in 1 2 3 4; do echo x > /dev/udp/\(ns.outerIP)/9999; done"])
            for _ in 0..<2 {
                try ns.inside(["/bin/bash", "-c", "timeout 2 bash -c 'echo > /dev/tcp/\(ns.outerIP)/9' || true"])
            }
        }

        @Test("attachXDP counts ICMP, UDP and TCP per protocol on a veth; cleanup removes the program",
              arguments: [XDPFlags(), .skbMode])
        func perProtocolCounts(flags: XDPFlags) throws {
            let ns = try VethNamespace()
            defer { ns.close() }
            let b = try BPF(text: Self.program)
            defer { b.cleanup() }
            let fn = try b.loadFunction("count_packets", type: .xdp)
            try b.attachXDP(dev: ns.outer, fn: fn, flags: flags)
            #expect(b.xdpAttachedDevices == [ns.outer])
            #expect(ns.hasXDP(ns.outer, inside: false))
            try Self.sendTraffic(ns)
            let counts = try b["packets"].u64Pairs()
            #expect(counts[1] == 3, "ICMP: \(counts)")
            #expect(counts[17] == 4, "UDP: \(counts)")
            #expect(counts[6] == 2, "TCP: \(counts)")
            b.cleanup()
            #expect(!ns.hasXDP(ns.outer, inside: false), "cleanup left the XDP program on \(ns.outer)")
        }

        @Test("removeXDP detaches explicitly; bad devices and functions give typed errors")
        func removeAndErrors() throws {
            let ns = try VethNamespace()
            defer { ns.close() }
            let b = try BPF(text: Self.program + "\nint not_xdp(void *ctx) { return 0; }")
            defer { b.cleanup() }
            try b.attachXDP(dev: ns.outer, fnName: "count_packets", flags: .skbMode)
            #expect(ns.hasXDP(ns.outer, inside: false))
            try b.removeXDP(dev: ns.outer, flags: .skbMode)
            #expect(!ns.hasXDP(ns.outer, inside: false))
            #expect(b.xdpAttachedDevices.isEmpty)

            #expect {
                try b.attachXDP(dev: "nosuchdev0", fnName: "count_packets")
            } throws: { error in
                guard case BPFError.attachFailed(kind: "XDP device", target: "nosuchdev0", _, ENODEV, _, _) = error else { return false }
                return "\(error)".contains("no network device nosuchdev0")
            }
            let kp = try b.loadFunction("not_xdp", type: .kprobe)
            #expect(throws: BPFError.self) { try b.attachXDP(dev: ns.outer, fn: kp) }
            let other = try BPF(text: Self.program)
            defer { other.cleanup() }
            let foreign = try other.loadFunction("count_packets", type: .xdp)
            #expect(throws: BPFError.self) { try b.attachXDP(dev: ns.outer, fn: foreign) }
            #expect(!ns.hasXDP(ns.outer, inside: false))
        }
    }
}
