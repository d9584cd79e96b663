// ebpf-beginners packet.py (with its packet.h): count the IP packets a network device
// receives, per protocol, with an XDP program; print the counts every 2 seconds.
//
//   b = BPF(text=program)     # program: #include "packet.h", BPF_HASH(packets), hello_packet()
//   b.attach_xdp(dev="eth0", fn=b.load_func("hello_packet", BPF.XDP))
//   while True:
//       sleep(2)
//       s = ""
//       for k, v in b["packets"].items():
//           s += "Protocol {}: counter {},".format(k.value, v.value)
//       print(s)
//
// Besides the original's behaviour: --dev picks the device (the original hard-codes eth0),
// --count N exits after N lines, --duration S after S seconds, and Ctrl-C/SIGTERM remove the
// XDP program from the device before exiting 0 (packet.py leaves it attached).
import ArgumentParser
import ExampleSupport
import Glibc
import SwiftBCC

@main
struct PacketCount: ExampleCommand {
    static let configuration = CommandConfiguration(
        abstract: "Count the IP packets a network device receives, per protocol (XDP).")

    @Option(help: "The network device to attach the XDP program to.")
    var dev = "eth0"

    @OptionGroup var limits: RunOptions

    static let program = #"""
        #include "packet.h"

        BPF_HASH(packets);

        int hello_packet(struct xdp_md *ctx) {
            u64 counter = 0;
            u64 key = 0;
            u64 *p;

            key = lookup_protocol(ctx);
            if (key != 0) {
                p = packets.lookup(&key);
                if (p != 0) {
                    counter = *p;
                }
                counter++;
                packets.update(&key, &counter);
            }

            return XDP_PASS;
        }
        """#

    func run() throws {
        // packet.h sits beside packet.py in the original; here it is written to a temporary
        // directory that the quoted include is resolved against.
        let dir = try TemporaryHeader.write(name: "packet.h", text: packetH)
        defer { TemporaryHeader.remove(dir) }
        let b = try BPF(text: Self.program, cflags: ["-iquote", dir])
        let run = limits.start()
        try b.attachXDP(dev: dev, fn: b.loadFunction("hello_packet", type: .xdp))

        // BPF_HASH(packets) is a u64 -> u64 hash: a typed view checks that against libbcc.
        let packets = try b.hashTable("packets", key: UInt64.self, value: UInt64.self)
        while run.sleep(2) {
            var s = ""
            for (k, v) in try packets.items() {
                s += "Protocol \(k): counter \(v),"
            }
            if run.emit(s) { break }
        }
        b.cleanup()
    }
}

/// A header file in a fresh temporary directory, for `-iquote`.
enum TemporaryHeader {
    static func write(name: String, text: String) throws -> String {
        var template = Array("/tmp/packetcount-XXXXXX".utf8CString)
        guard let p = mkdtemp(&template) else {
            throw BPFError.systemCall(name: "mkdtemp", errno: .current, detail: "cannot create a directory for \(name)")
        }
        let dir = String(cString: p)
        let fd = open(dir + "/" + name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw BPFError.systemCall(name: "open(\(dir)/\(name))", errno: .current, detail: "") }
        defer { close(fd) }
        let bytes = Array(text.utf8)
        guard bytes.withUnsafeBytes({ Glibc.write(fd, $0.baseAddress, $0.count) }) == bytes.count else {
            throw BPFError.systemCall(name: "write(\(dir)/\(name))", errno: .current, detail: "")
        }
        return dir
    }

    static func remove(_ dir: String) {
        for entry in ["packet.h"] { unlink(dir + "/" + entry) }
        rmdir(dir)
    }
}

/// ebpf-beginners packet.h.
let packetH = #"""
    #include <linux/ip.h>

    // Returns the protocol byte for an IP packet, 0 for anything else
    static __always_inline u64 lookup_protocol(struct xdp_md *ctx)
    {
        u64 protocol = 0;

        void *data = (void *)(long)ctx->data;
        void *data_end = (void *)(long)ctx->data_end;
        struct ethhdr *eth = data;
        if (data + sizeof(struct ethhdr) > data_end)
            return 0;

        if (bpf_ntohs(eth->h_proto) == ETH_P_IP)
        {
            struct iphdr *iph = data + sizeof(struct ethhdr);
            if (data + sizeof(struct ethhdr) + sizeof(struct iphdr) <= data_end)
                protocol = iph->protocol;
        }
        return protocol;
    }

    """#
