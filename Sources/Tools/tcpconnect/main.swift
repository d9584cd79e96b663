// tcpconnect: trace TCP connect()s. A port of bcc's tools/tcpconnect.py
// (/usr/sbin/tcpconnect-bpfcc): same flags, header and rows.
//
// Attach paths: kprobes + kretprobes on tcp_v4_connect/tcp_v6_connect (the Python tool's), else
// the sock:inet_sock_set_state tracepoint: a TCP_CLOSE -> TCP_SYN_SENT change runs in the
// connecting task (its pid, uid and comm are kept), and the socket's next change (to
// ESTABLISHED, or CLOSE when the connect fails) gives the local port, which connect() picks
// only after SYN_SENT. A socket still without a local port then had connect() fail before
// sending anything, which the kprobe path (Python's) does not report either.
//
// -d/--dns: Python's captures DNS responses with kprobes on udp_recvmsg and parses them with
// dnslib; here uprobes on libc's getaddrinfo() record each name looked up and the addresses
// it returned, which works without kprobes (lookups that bypass libc are not seen).
import ArgumentParser
import BCCTools
import Glibc
import SwiftBCC

struct Tcpconnect: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tcpconnect",
        abstract: "Trace TCP connects",
        discussion: """
        examples:
            ./tcpconnect           # trace all TCP connect()s
            ./tcpconnect -t        # include timestamps
            ./tcpconnect -d        # include DNS queries associated with connects
            ./tcpconnect -p 181    # only trace PID 181
            ./tcpconnect -P 80     # only trace port 80
            ./tcpconnect -P 80,81  # only trace port 80 and 81
            ./tcpconnect -4        # only trace IPv4 family
            ./tcpconnect -6        # only trace IPv6 family
            ./tcpconnect -U        # include UID
            ./tcpconnect -u 1000   # only trace UID 1000
            ./tcpconnect -c        # count connects per src ip and dest ip/port
            ./tcpconnect -L        # include LPORT while printing outputs
            ./tcpconnect --cgroupmap mappath  # only trace cgroups in this BPF map
            ./tcpconnect --mntnsmap mappath   # only trace mount namespaces in the map
        """)

    @Flag(name: [.customShort("t"), .customLong("timestamp")], help: "include timestamp on output")
    var timestamp = false

    @Option(name: [.customShort("p"), .customLong("pid")], help: "trace this PID only")
    var pid: Int?

    @Option(name: [.customShort("P"), .customLong("port")], help: "comma-separated list of destination ports to trace.",
            transform: { try InetText.portList($0, option: "--port") })
    var port: [Int]?

    @Flag(name: [.customShort("4"), .customLong("ipv4")], help: "trace IPv4 family only")
    var ipv4 = false

    @Flag(name: [.customShort("6"), .customLong("ipv6")], help: "trace IPv6 family only")
    var ipv6 = false

    @Flag(name: [.customShort("L"), .customLong("lport")], help: "include LPORT on output")
    var lport = false

    @Flag(name: [.customShort("U"), .customLong("print-uid")], help: "include UID on output")
    var printUID = false

    @Option(name: [.customShort("u"), .customLong("uid")], help: "trace this UID only")
    var uid: Int?

    @Flag(name: [.customShort("c"), .customLong("count")], help: "count connects per src ip and dest ip/port")
    var count = false

    @Option(name: .customLong("cgroupmap"), help: "trace cgroups in this BPF map only")
    var cgroupmap: String?

    @Option(name: .customLong("mntnsmap"), help: "trace mount namespaces in this BPF map only")
    var mntnsmap: String?

    @Flag(name: [.customShort("d"), .customLong("dns")], help: "include likely DNS query associated with each connect")
    var dns = false

    @OptionGroup var common: CommonOptions

    func validate() throws {
        if ipv4 && ipv6 { throw ValidationError("argument -6/--ipv6: not allowed with argument -4/--ipv4") }
        if count && dns { throw ValidationError("you may not specify -d/--dns with -c/--count.") }
    }

    // What both paths share: the event and count layouts, and the function that applies the
    // port and family filters and emits (or counts) one connect.
    static let common = #"""

    struct ipv4_data_t {
        u64 ts_us;
        u32 pid;
        u32 uid;
        u32 saddr;
        u32 daddr;
        u64 ip;
        u16 lport;
        u16 dport;
        char task[TASK_COMM_LEN];
    };
    BPF_PERF_OUTPUT(ipv4_events);

    struct ipv6_data_t {
        u64 ts_us;
        u32 pid;
        u32 uid;
        unsigned __int128 saddr;
        unsigned __int128 daddr;
        u64 ip;
        u16 lport;
        u16 dport;
        char task[TASK_COMM_LEN];
    };
    BPF_PERF_OUTPUT(ipv6_events);

    struct ipv4_flow_key_t {
        u32 saddr;
        u32 daddr;
        u16 dport;
    };
    BPF_HASH(ipv4_count, struct ipv4_flow_key_t);

    struct ipv6_flow_key_t {
        unsigned __int128 saddr;
        unsigned __int128 daddr;
        u16 dport;
    };
    BPF_HASH(ipv6_count, struct ipv6_flow_key_t);

    // dport in host order; v6 addresses are 16 bytes at a kernel pointer.
    static __always_inline int tcpconnect_emit(void *ctx, short ipver, u32 pid, u32 uid, u64 ts_ns,
                                               const char *task, u16 lport, u16 dport,
                                               u32 saddr4, u32 daddr4, const void *saddr6, const void *daddr6)
    {
        FILTER_PORT
        FILTER_FAMILY
        if (ipver == 4) {
            IPV4_CODE
        } else {
            IPV6_CODE
        }
        return 0;
    }

    """#

    static let ipv4Trace = """
            struct ipv4_data_t data4 = {.pid = pid, .uid = uid, .ip = ipver};
            data4.ts_us = ts_ns / 1000;
            data4.saddr = saddr4;
            data4.daddr = daddr4;
            data4.lport = lport;
            data4.dport = dport;
            bpf_probe_read_kernel(&data4.task, sizeof(data4.task), task);
            ipv4_events.perf_submit(ctx, &data4, sizeof(data4));
    """
    static let ipv6Trace = """
            struct ipv6_data_t data6 = {.pid = pid, .uid = uid, .ip = ipver};
            data6.ts_us = ts_ns / 1000;
            bpf_probe_read_kernel(&data6.saddr, sizeof(data6.saddr), saddr6);
            bpf_probe_read_kernel(&data6.daddr, sizeof(data6.daddr), daddr6);
            data6.lport = lport;
            data6.dport = dport;
            bpf_probe_read_kernel(&data6.task, sizeof(data6.task), task);
            ipv6_events.perf_submit(ctx, &data6, sizeof(data6));
    """
    static let ipv4Count = """
            struct ipv4_flow_key_t flow_key = {};
            flow_key.saddr = saddr4;
            flow_key.daddr = daddr4;
            flow_key.dport = dport;
            ipv4_count.increment(flow_key);
    """
    static let ipv6Count = """
            struct ipv6_flow_key_t flow_key = {};
            bpf_probe_read_kernel(&flow_key.saddr, sizeof(flow_key.saddr), saddr6);
            bpf_probe_read_kernel(&flow_key.daddr, sizeof(flow_key.daddr), daddr6);
            flow_key.dport = dport;
            ipv6_count.increment(flow_key);
    """

    static let kprobeText = #"""
    BPF_HASH(currsock, u32, struct sock *);

    int trace_connect_entry(struct pt_regs *ctx, struct sock *sk)
    {
        if (container_should_be_filtered())
            return 0;
        u64 pid_tgid = bpf_get_current_pid_tgid();
        u32 pid = pid_tgid >> 32;
        u32 tid = pid_tgid;
        FILTER_PID
        u32 uid = bpf_get_current_uid_gid();
        FILTER_UID
        currsock.update(&tid, &sk);
        return 0;
    }

    static __always_inline int trace_connect_return(struct pt_regs *ctx, short ipver)
    {
        int ret = PT_REGS_RC(ctx);
        u64 pid_tgid = bpf_get_current_pid_tgid();
        u32 pid = pid_tgid >> 32;
        u32 tid = pid_tgid;
        struct sock **skpp = currsock.lookup(&tid);
        if (skpp == 0)
            return 0;   // missed the entry
        if (ret != 0) {
            // no SYN was sent: the addresses may not be set
            currsock.delete(&tid);
            return 0;
        }
        char *skp = (char *)*skpp;
        u16 lport = 0, dport = 0;
        u32 saddr4 = 0, daddr4 = 0;
        bpf_probe_read_kernel(&lport, sizeof(lport), skp + TCPCONNECT_SKC_NUM);
        bpf_probe_read_kernel(&dport, sizeof(dport), skp + TCPCONNECT_SKC_DPORT);
        bpf_probe_read_kernel(&saddr4, sizeof(saddr4), skp + TCPCONNECT_SKC_RCV_SADDR);
        bpf_probe_read_kernel(&daddr4, sizeof(daddr4), skp + TCPCONNECT_SKC_DADDR);
        char task[TASK_COMM_LEN] = {};
        bpf_get_current_comm(&task, sizeof(task));
        tcpconnect_emit(ctx, ipver, pid, bpf_get_current_uid_gid(), bpf_ktime_get_ns(), task, lport, ntohs(dport),
                        saddr4, daddr4, skp + TCPCONNECT_SKC_V6_RCV_SADDR, skp + TCPCONNECT_SKC_V6_DADDR);
        currsock.delete(&tid);
        return 0;
    }

    int trace_connect_v4_return(struct pt_regs *ctx)
    {
        return trace_connect_return(ctx, 4);
    }

    int trace_connect_v6_return(struct pt_regs *ctx)
    {
        return trace_connect_return(ctx, 6);
    }
    """#

    static let tracepointText = #"""
    struct conn_t {
        u64 ts;
        u32 pid;
        u32 uid;
        char task[TASK_COMM_LEN];
    };
    BPF_HASH(connecting, const void *, struct conn_t);

    TRACEPOINT_PROBE(sock, inet_sock_set_state)
    {
        if (args->protocol != IPPROTO_TCP)
            return 0;
        const void *sk = args->skaddr;
        if (args->oldstate == TCP_CLOSE && args->newstate == TCP_SYN_SENT) {
            // connect(): in the connecting task
            if (container_should_be_filtered())
                return 0;
            u64 pid_tgid = bpf_get_current_pid_tgid();
            u32 pid = pid_tgid >> 32;
            FILTER_PID
            u32 uid = bpf_get_current_uid_gid();
            FILTER_UID
            struct conn_t c = {.ts = bpf_ktime_get_ns(), .pid = pid, .uid = uid};
            bpf_get_current_comm(&c.task, sizeof(c.task));
            connecting.update(&sk, &c);
            return 0;
        }
        if (args->oldstate != TCP_SYN_SENT)
            return 0;
        struct conn_t *c = connecting.lookup(&sk);
        if (c == 0)
            return 0;
        if (args->sport != 0) {
            u32 saddr4 = 0, daddr4 = 0;
            __builtin_memcpy(&saddr4, args->saddr, sizeof(saddr4));
            __builtin_memcpy(&daddr4, args->daddr, sizeof(daddr4));
            u8 saddr6[16], daddr6[16];
            __builtin_memcpy(saddr6, args->saddr_v6, sizeof(saddr6));
            __builtin_memcpy(daddr6, args->daddr_v6, sizeof(daddr6));
            short ipver = args->family == AF_INET6 ? 6 : 4;
            tcpconnect_emit(args, ipver, c->pid, c->uid, c->ts, c->task, args->sport, args->dport,
                            saddr4, daddr4, saddr6, daddr6);
        }
        connecting.delete(&sk);
        return 0;
    }
    """#

    // -d: getaddrinfo(node, service, hints, res): the name on entry; on a successful return each
    // address of *res (struct addrinfo: ai_family at 4, ai_addr at 24, ai_next at 40) is put in
    // dns_names with the name and the time. A map, not events: the uretprobe runs before the
    // connect, so the name is there when the connect's event is printed (events on other CPUs'
    // buffers may be read in another order). Numeric hosts ("127.0.0.1") are no query.
    static let dnsText = #"""

    struct dns_query_t {
        u64 res;
        char host[80];
    };
    BPF_HASH(dns_queries, u32, struct dns_query_t);

    struct dns_key_t {
        u32 family;
        u8 addr[16];
    };
    struct dns_name_t {
        u64 ts;
        char host[80];
    };
    BPF_TABLE("lru_hash", struct dns_key_t, struct dns_name_t, dns_names, 10240);

    static __always_inline int dns_is_numeric(const char *host)
    {
        int other = 0;
        for (int i = 0; i < 80; i++) {
            char ch = host[i];
            if (ch == 0)
                break;
            if (ch == ':')
                return 1;   // IPv6 (no host name has a colon)
            if (!((ch >= '0' && ch <= '9') || ch == '.'))
                other = 1;
        }
        return !other;
    }

    int dns_entry(struct pt_regs *ctx)
    {
        const char *node = (const char *)PT_REGS_PARM1(ctx);
        if (!node)
            return 0;
        struct dns_query_t q = {.res = PT_REGS_PARM4(ctx)};
        bpf_probe_read_user_str(&q.host, sizeof(q.host), node);
        if (dns_is_numeric(q.host))
            return 0;
        u32 tid = bpf_get_current_pid_tgid();
        dns_queries.update(&tid, &q);
        return 0;
    }

    int dns_return(struct pt_regs *ctx)
    {
        u32 tid = bpf_get_current_pid_tgid();
        struct dns_query_t *q = dns_queries.lookup(&tid);
        if (q == 0)
            return 0;
        if (PT_REGS_RC(ctx) == 0 && q->res) {
            struct dns_name_t name = {.ts = bpf_ktime_get_ns()};
            bpf_probe_read_kernel(&name.host, sizeof(name.host), q->host);
            const char *ai = 0;
            bpf_probe_read_user(&ai, sizeof(ai), (void *)q->res);
            for (int i = 0; i < 12; i++) {   // a bounded loop (Linux 5.3 on)
                if (!ai)
                    break;
                int family = 0;
                const char *sa = 0;
                bpf_probe_read_user(&family, sizeof(family), ai + 4);
                bpf_probe_read_user(&sa, sizeof(sa), ai + 24);
                if (sa && (family == AF_INET || family == AF_INET6)) {
                    struct dns_key_t key = {.family = family};
                    if (family == AF_INET)
                        bpf_probe_read_user(&key.addr, 4, sa + 4);     // sin_addr
                    else
                        bpf_probe_read_user(&key.addr, 16, sa + 8);    // sin6_addr
                    dns_names.update(&key, &name);
                }
                bpf_probe_read_user(&ai, sizeof(ai), ai + 40);
            }
        }
        dns_queries.delete(&tid);
        return 0;
    }
    """#

    static let members: [StructOffsets.Member] = [
        .init("TCPCONNECT_SKC_NUM", "sock_common", "skc_num"),
        .init("TCPCONNECT_SKC_DPORT", "sock_common", "skc_dport"),
        .init("TCPCONNECT_SKC_RCV_SADDR", "sock_common", "skc_rcv_saddr"),
        .init("TCPCONNECT_SKC_DADDR", "sock_common", "skc_daddr"),
        .init("TCPCONNECT_SKC_V6_RCV_SADDR", "sock_common", "skc_v6_rcv_saddr"),
        .init("TCPCONNECT_SKC_V6_DADDR", "sock_common", "skc_v6_daddr"),
    ]

    func program(_ variant: String) throws -> String {
        var text = ProgramText(Self.common + variant)
        text.replace("IPV4_CODE", with: count ? Self.ipv4Count : Self.ipv4Trace)
        text.replace("IPV6_CODE", with: count ? Self.ipv6Count : Self.ipv6Trace)
        text.filter("FILTER_PID", skipIf: pid.map { "pid != \($0)" })
        text.filter("FILTER_UID", skipIf: uid.map { "uid != \($0)" })
        text.filter("FILTER_PORT", skipIf: port.map { $0.map { "dport != \($0)" }.joined(separator: " && ") })
        text.filter("FILTER_FAMILY", skipIf: ipv4 ? "ipver != 4" : ipv6 ? "ipver != 6" : nil)
        if dns { text.append(Self.dnsText) }
        text.prepend(try Containers.filterText(cgroupMap: cgroupmap, mountNamespaceMap: mntnsmap))
        text.prepend(SocketProgram.includes(reading: Self.members))
        text.prepend(StructOffsets.defines(Self.members))
        return text.text
    }

    func attachDNS(_ b: BPF) throws {
        guard dns else { return }
        try b.attachUprobe(name: "c", sym: "getaddrinfo", fnName: "dns_entry")
        try b.attachUretprobe(name: "c", sym: "getaddrinfo", fnName: "dns_return")
    }

    func run() throws {
        let dnsTargets = dns ? "; uprobes on libc getaddrinfo" : ""
        let paths = [
            AttachPath(.kprobe, targets: "tcp_v4_connect, tcp_v6_connect entry and return" + dnsTargets,
                       program: try program(Self.kprobeText)) { b in
                try b.attachKprobe(event: "tcp_v4_connect", fnName: "trace_connect_entry")
                try b.attachKprobe(event: "tcp_v6_connect", fnName: "trace_connect_entry")
                try b.attachKretprobe(event: "tcp_v4_connect", fnName: "trace_connect_v4_return")
                try b.attachKretprobe(event: "tcp_v6_connect", fnName: "trace_connect_v6_return")
                try attachDNS(b)
            },
            AttachPath(.tracepoint, targets: "sock:inet_sock_set_state" + dnsTargets,
                       program: try program(Self.tracepointText)) { b in try attachDNS(b) },
        ]
        if common.ebpf {
            print(AttachSelection.firstAvailable(try common.choose(paths)).program)
            return
        }
        let (b, _) = try AttachSelection.load(tool: "tcpconnect", paths: try common.choose(paths))
        emitLine("Tracing connect ... Hit Ctrl-C to end")
        let session = ToolSession(tool: "tcpconnect", maxEvents: common.maxEvents)
        if count {
            while session.sleep(3600) {}
            try printCounts(b)
            b.cleanup()
            return
        }

        var head = ""
        if timestamp { head += pad("TIME(s)", 9) }
        if printUID { head += pad("UID", 6) }
        head += "\(pad("PID", 7)) \(pad("COMM", 12)) \(pad("IP", 2)) \(pad("SADDR", 16)) "
        if lport { head += "\(pad("LPORT", 6)) " }
        head += "\(pad("DADDR", 16)) \(pad("DPORT", 6))"
        if dns { head += " QUERY" }

        // The options as locals: an ArgumentParser property read costs microseconds (generic
        // metadata on every access), too much for once per event.
        let timestamp = self.timestamp, printUID = self.printUID, lport = self.lport
        let dnsNames = dns ? try DNSNames(b) : nil
        var startTS: UInt64 = 0
        /// One connect's row, built as bytes: Python's `%-7d %-12.12s %-2d %-16s [%-6d ]%-16s %-6d %s`
        /// after the optional time and UID columns. The event's fields are at the offsets given
        /// (`ipv4_data_t` or `ipv6_data_t`); `address` appends an address of the event.
        func emitRow(_ data: UnsafeRawBufferPointer, saddr: Int, daddr: Int, ip: Int, lp: Int, dp: Int, task: Int,
                     address: (inout RowBuilder, Int) -> Void) {
            let e = RawEvent(data)
            session.row { r in
                if timestamp {
                    let ts = e.load(0, as: UInt64.self)
                    if startTS == 0 { startTS = ts }
                    r.left(9) { $0.append(cformat("%.3f", (Double(ts) - Double(startTS)) / 1_000_000)) }
                }
                if printUID { r.left(6) { $0.decimal(UInt64(e.load(12, as: UInt32.self))) } }
                r.left(7) { $0.decimal(UInt64(e.load(8, as: UInt32.self))) }; r.space()
                r.left(12) { $0.cString(data, at: task, count: 16, maxScalars: 12) }; r.space()
                r.left(2) { $0.decimal(e.load(ip, as: UInt64.self)) }; r.space()
                r.left(16) { address(&$0, saddr) }; r.space()
                if lport { r.left(6) { $0.decimal(UInt64(e.load(lp, as: UInt16.self))) }; r.space() }
                r.left(16) { address(&$0, daddr) }; r.space()
                r.left(6) { $0.decimal(UInt64(e.load(dp, as: UInt16.self))) }; r.space()
                if let dnsNames {
                    let v6 = e.load(ip, as: UInt64.self) == 6
                    var text = RowBuilder(capacity: 48)
                    address(&text, daddr)
                    r.append(dnsNames.query(text.text, family: v6 ? AF_INET6 : AF_INET, bytes: e.slice(daddr, v6 ? 16 : 4)))
                }
            }
        }
        // struct ipv4_data_t: ts_us 0, pid 8, uid 12, saddr 16, daddr 20, ip 24, lport 32, dport 34, task 36.
        try b["ipv4_events"].openPerfBuffer { _, data in
            let e = RawEvent(data)
            emitRow(data, saddr: 16, daddr: 20, ip: 24, lp: 32, dp: 34, task: 36,
                    address: { r, at in r.ipv4(e.load(at, as: UInt32.self)) })
        }
        // struct ipv6_data_t: ts_us 0, pid 8, uid 12, saddr 16, daddr 32, ip 48, lport 56, dport 58, task 60.
        try b["ipv6_events"].openPerfBuffer { _, data in
            let e = RawEvent(data)
            emitRow(data, saddr: 16, daddr: 32, ip: 48, lp: 56, dp: 58, task: 60,
                    address: { r, at in r.append(InetText.ipv6(e.slice(at, 16))) })
        }
        try session.pollLoop(b, header: head)
        b.cleanup()
    }

    /// `-c`'s summary on Ctrl-C: connects per (source, destination, port), most first.
    func printCounts(_ b: BPF) throws {
        emitLine("\n\(pad("LADDR", 25)) \(pad("RADDR", 25)) \(pad("RPORT", 20)) \(pad("CONNECTS", 10))")
        func rows(_ table: String, key: ([UInt8]) -> (String, String, UInt16)) throws {
            let t = try b[table]
            var entries: [(key: (String, String, UInt16), value: UInt64)] = []
            for k in try t.rawKeys() {
                guard let v = try t.lookup(rawKey: k), v.count >= 8 else { continue }
                let value = v.withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) }
                entries.append((key(k), value))
            }
            for (k, v) in entries.sorted(by: { $0.value > $1.value }) {
                emitLine("\(pad(k.0, 25)) \(pad(k.1, 25)) \(pad(String(k.2), 20)) \(pad(String(v), 10))")
            }
        }
        // struct ipv4_flow_key_t: saddr 0, daddr 4, dport 8; ipv6: saddr 0, daddr 16, dport 32.
        try rows("ipv4_count") { k in
            k.withUnsafeBytes { r in
                (InetText.ipv4(r.loadUnaligned(fromByteOffset: 0, as: UInt32.self)),
                 InetText.ipv4(r.loadUnaligned(fromByteOffset: 4, as: UInt32.self)),
                 r.loadUnaligned(fromByteOffset: 8, as: UInt16.self))
            }
        }
        try rows("ipv6_count") { k in
            (InetText.ipv6(k[0..<16]), InetText.ipv6(k[16..<32]),
             k.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: 32, as: UInt16.self) })
        }
    }
}

/// `-d`'s names: the last name looked up with getaddrinfo() for each address and when, from the
/// program's `dns_names` map (Python: a TTLCache of 10240 entries for 24 hours, filled from DNS
/// responses).
struct DNSNames {
    static let ttl = 86400.0
    /// Lookups this much older than the connect get their age shown (Python's DELAY_DNS, ms).
    static let delayMS = 100.0

    let table: Table

    init(_ b: BPF) throws { table = try b["dns_names"] }

    /// The QUERY column for a connect to `address` (`bytes`: its 4 or 16 bytes in network order).
    func query(_ address: String, family: Int32, bytes: [UInt8]) -> String {
        // struct dns_key_t: u32 family, u8 addr[16]; struct dns_name_t: u64 ts, char host[80].
        var key = withUnsafeBytes(of: UInt32(family)) { Array($0) } + bytes
        key += [UInt8](repeating: 0, count: max(0, 20 - key.count))
        if let value = try? table.lookup(rawKey: key), value.count >= 8 + 80 {
            let ts = value.withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) }
            let ms = (TimeFormat.monotonicSeconds() * 1e9 - Double(ts)) / 1e6
            if ms < Self.ttl * 1000 {
                let name = value[8..<88].withUnsafeBytes { RawEvent($0).text(0, 80) }
                return ms > Self.delayMS ? name + cformat(" (%.3fms)", ms) : name
            }
        }
        return address == "127.0.0.1" || address == "::1" ? "localhost" : "No DNS Query"
    }
}

Tcpconnect.runTool()
