// tcplife: trace the lifespan of TCP sessions and summarize. A port of bcc's tools/tcplife.py
// (/usr/sbin/tcplife-bpfcc): same flags, header and rows.
//
// Attach paths: the sock:inet_sock_set_state tracepoint (Python's choice wherever it exists,
// Linux 4.16 on), else a kprobe on tcp_set_state(). The byte counters (tcp_sock.bytes_received,
// bytes_acked) and, on the kprobe path, the sock_common fields are read at the running kernel's
// BTF offsets (StructOffsets), so they are right with another kernel's headers too.
import ArgumentParser
import BCCTools
import Glibc
import SwiftBCC

struct Tcplife: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tcplife",
        abstract: "Trace the lifespan of TCP sessions and summarize",
        discussion: """
        examples:
            ./tcplife           # trace all TCP connect()s
            ./tcplife -T        # include time column (HH:MM:SS)
            ./tcplife -w        # wider columns (fit IPv6)
            ./tcplife -stT      # csv output, with times & timestamps
            ./tcplife -p 181    # only trace PID 181
            ./tcplife -L 80     # only trace local port 80
            ./tcplife -L 80,81  # only trace local ports 80 and 81
            ./tcplife -D 80     # only trace remote port 80
            ./tcplife -4        # only trace IPv4 family
            ./tcplife -6        # only trace IPv6 family
        """)

    @Flag(name: [.customShort("T"), .customLong("time")], help: "include time column on output (HH:MM:SS)")
    var time = false

    @Flag(name: [.customShort("t"), .customLong("timestamp")], help: "include timestamp on output (seconds)")
    var timestamp = false

    @Flag(name: [.customShort("w"), .customLong("wide")], help: "wide column output (fits IPv6 addresses)")
    var wide = false

    @Flag(name: [.customShort("s"), .customLong("csv")], help: "comma separated values output")
    var csv = false

    @Option(name: [.customShort("p"), .customLong("pid")], help: "trace this PID only")
    var pid: Int?

    @Option(name: [.customShort("L"), .customLong("localport")], help: "comma-separated list of local ports to trace.",
            transform: { try InetText.portList($0, option: "--localport") })
    var localport: [Int]?

    @Option(name: [.customShort("D"), .customLong("remoteport")], help: "comma-separated list of remote ports to trace.",
            transform: { try InetText.portList($0, option: "--remoteport") })
    var remoteport: [Int]?

    @Flag(name: [.customShort("4"), .customLong("ipv4")], help: "trace IPv4 family only")
    var ipv4 = false

    @Flag(name: [.customShort("6"), .customLong("ipv6")], help: "trace IPv6 family only")
    var ipv6 = false

    @OptionGroup var common: CommonOptions

    func validate() throws {
        if ipv4 && ipv6 { throw ValidationError("argument -6/--ipv6: not allowed with argument -4/--ipv4") }
    }

    // The session bookkeeping both paths share: birth time for every early state, the task
    // that owns the session on SYN_SENT (client) or LAST_ACK (server closing), one event on
    // TCP_CLOSE. Addresses come in as the path has them: v4 as __be32, v6 as 16 bytes at a
    // kernel pointer (the tracepoint's record or the sock).
    static let common = #"""
    struct ipv4_data_t {
        u64 ts_us;
        u32 pid;
        u32 saddr;
        u32 daddr;
        u64 ports;
        u64 rx_b;
        u64 tx_b;
        u64 span_us;
        char task[TASK_COMM_LEN];
    };
    BPF_PERF_OUTPUT(ipv4_events);

    struct ipv6_data_t {
        u64 ts_us;
        u32 pid;
        unsigned __int128 saddr;
        unsigned __int128 daddr;
        u64 ports;
        u64 rx_b;
        u64 tx_b;
        u64 span_us;
        char task[TASK_COMM_LEN];
    };
    BPF_PERF_OUTPUT(ipv6_events);

    struct id_t {
        u32 pid;
        char task[TASK_COMM_LEN];
    };

    BPF_HASH(birth, struct sock *, u64);
    BPF_HASH(whoami, struct sock *, struct id_t);

    static __always_inline int tcplife_state(void *ctx, struct sock *sk, int newstate, u16 family,
                                             u16 lport, u16 dport, u32 saddr4, u32 daddr4,
                                             const void *saddr6, const void *daddr6)
    {
        u32 pid = bpf_get_current_pid_tgid() >> 32;

        FILTER_LPORT
        FILTER_DPORT

        // Timestamps are taken before the PID filter: early states run in any task's context.
        if (newstate < TCP_FIN_WAIT1) {
            u64 ts = bpf_ktime_get_ns();
            birth.update(&sk, &ts);
        }

        if (newstate == TCP_SYN_SENT || newstate == TCP_LAST_ACK) {
            FILTER_PID
            struct id_t me = {.pid = pid};
            bpf_get_current_comm(&me.task, sizeof(me.task));
            whoami.update(&sk, &me);
        }

        if (newstate != TCP_CLOSE)
            return 0;

        u64 *tsp = birth.lookup(&sk);
        if (tsp == 0) {
            whoami.delete(&sk);
            return 0;
        }
        u64 delta_us = (bpf_ktime_get_ns() - *tsp) / 1000;
        birth.delete(&sk);

        struct id_t *mep = whoami.lookup(&sk);
        if (mep != 0)
            pid = mep->pid;
        FILTER_PID

        FILTER_FAMILY

        // tcp_get_info()'s counters, at the running kernel's offsets.
        u64 rx_b = 0, tx_b = 0;
        bpf_probe_read_kernel(&rx_b, sizeof(rx_b), (char *)sk + TCPLIFE_BYTES_RECEIVED);
        bpf_probe_read_kernel(&tx_b, sizeof(tx_b), (char *)sk + TCPLIFE_BYTES_ACKED);

        if (family == AF_INET) {
            struct ipv4_data_t data4 = {};
            data4.span_us = delta_us;
            data4.rx_b = rx_b;
            data4.tx_b = tx_b;
            data4.ts_us = bpf_ktime_get_ns() / 1000;
            data4.saddr = saddr4;
            data4.daddr = daddr4;
            data4.ports = dport + ((0ULL + lport) << 32);
            data4.pid = pid;
            if (mep == 0)
                bpf_get_current_comm(&data4.task, sizeof(data4.task));
            else
                bpf_probe_read_kernel(&data4.task, sizeof(data4.task), (void *)mep->task);
            ipv4_events.perf_submit(ctx, &data4, sizeof(data4));
        } else {
            struct ipv6_data_t data6 = {};
            data6.span_us = delta_us;
            data6.rx_b = rx_b;
            data6.tx_b = tx_b;
            data6.ts_us = bpf_ktime_get_ns() / 1000;
            bpf_probe_read_kernel(&data6.saddr, sizeof(data6.saddr), saddr6);
            bpf_probe_read_kernel(&data6.daddr, sizeof(data6.daddr), daddr6);
            data6.ports = dport + ((0ULL + lport) << 32);
            data6.pid = pid;
            if (mep == 0)
                bpf_get_current_comm(&data6.task, sizeof(data6.task));
            else
                bpf_probe_read_kernel(&data6.task, sizeof(data6.task), (void *)mep->task);
            ipv6_events.perf_submit(ctx, &data6, sizeof(data6));
        }

        if (mep != 0)
            whoami.delete(&sk);
        return 0;
    }

    """#

    static let tracepointText = #"""
    TRACEPOINT_PROBE(sock, inet_sock_set_state)
    {
        if (args->protocol != IPPROTO_TCP)
            return 0;
        u32 saddr4 = 0, daddr4 = 0;
        __builtin_memcpy(&saddr4, args->saddr, sizeof(saddr4));
        __builtin_memcpy(&daddr4, args->daddr, sizeof(daddr4));
        u8 saddr6[16], daddr6[16];
        __builtin_memcpy(saddr6, args->saddr_v6, sizeof(saddr6));
        __builtin_memcpy(daddr6, args->daddr_v6, sizeof(daddr6));
        return tcplife_state(args, (struct sock *)args->skaddr, args->newstate, args->family,
                             args->sport, args->dport, saddr4, daddr4, saddr6, daddr6);
    }
    """#

    static let kprobeText = #"""
    int tcplife_set_state(struct pt_regs *ctx, struct sock *sk, int state)
    {
        u16 lport = 0, dport = 0, family = 0;
        u32 saddr4 = 0, daddr4 = 0;
        bpf_probe_read_kernel(&lport, sizeof(lport), (char *)sk + TCPLIFE_SKC_NUM);
        bpf_probe_read_kernel(&dport, sizeof(dport), (char *)sk + TCPLIFE_SKC_DPORT);
        bpf_probe_read_kernel(&family, sizeof(family), (char *)sk + TCPLIFE_SKC_FAMILY);
        bpf_probe_read_kernel(&saddr4, sizeof(saddr4), (char *)sk + TCPLIFE_SKC_RCV_SADDR);
        bpf_probe_read_kernel(&daddr4, sizeof(daddr4), (char *)sk + TCPLIFE_SKC_DADDR);
        dport = ntohs(dport);
        return tcplife_state(ctx, sk, state, family, lport, dport, saddr4, daddr4,
                             (char *)sk + TCPLIFE_SKC_V6_RCV_SADDR, (char *)sk + TCPLIFE_SKC_V6_DADDR);
    }
    """#

    /// The kernel struct members the programs read, at BTF offsets (sock_common is at the start
    /// of struct sock, and sock at the start of tcp_sock).
    static let members: [StructOffsets.Member] = [
        .init("TCPLIFE_BYTES_RECEIVED", "tcp_sock", "bytes_received"),
        .init("TCPLIFE_BYTES_ACKED", "tcp_sock", "bytes_acked"),
        .init("TCPLIFE_SKC_NUM", "sock_common", "skc_num"),
        .init("TCPLIFE_SKC_DPORT", "sock_common", "skc_dport"),
        .init("TCPLIFE_SKC_FAMILY", "sock_common", "skc_family"),
        .init("TCPLIFE_SKC_RCV_SADDR", "sock_common", "skc_rcv_saddr"),
        .init("TCPLIFE_SKC_DADDR", "sock_common", "skc_daddr"),
        .init("TCPLIFE_SKC_V6_RCV_SADDR", "sock_common", "skc_v6_rcv_saddr"),
        .init("TCPLIFE_SKC_V6_DADDR", "sock_common", "skc_v6_daddr"),
    ]

    func program(_ variant: String) -> String {
        var text = ProgramText(Self.common + variant)
        text.filter("FILTER_PID", skipIf: pid.map { "pid != \($0)" })
        if let remoteport {
            let cond = remoteport.map { "dport != \($0)" }.joined(separator: " && ")
            text.replace("FILTER_DPORT", with: "if (\(cond)) { birth.delete(&sk); return 0; }")
        }
        if let localport {
            let cond = localport.map { "lport != \($0)" }.joined(separator: " && ")
            text.replace("FILTER_LPORT", with: "if (\(cond)) { birth.delete(&sk); return 0; }")
        }
        text.filter("FILTER_FAMILY", skipIf: ipv4 ? "family != AF_INET" : ipv6 ? "family != AF_INET6" : nil)
        text.replace("FILTER_DPORT", with: "")
        text.replace("FILTER_LPORT", with: "")
        text.prepend(SocketProgram.includes(reading: Self.members))
        text.prepend(StructOffsets.defines(Self.members))
        return text.text
    }

    /// The header line (after any time columns).
    var header: String {
        let ip = wide || csv ? "IP" : ""
        if csv { return ["PID", "COMM", ip, "LADDR", "LPORT", "RADDR", "RPORT", "TX_KB", "RX_KB", "MS"].joined(separator: ",") }
        if wide {
            return "\(pad("PID", 5)) \(pad("COMM", 16)) \(pad(ip, 2)) \(pad("LADDR", 26)) \(pad("LPORT", 5)) "
                + "\(pad("RADDR", 26)) \(pad("RPORT", 5)) \(padLeft("TX_KB", 6)) \(padLeft("RX_KB", 6)) MS"
        }
        return "\(pad("PID", 5)) \(pad("COMM", 10)) \(pad("LADDR", 15)) \(pad("LPORT", 5)) "
            + "\(pad("RADDR", 15)) \(pad("RPORT", 5)) \(padLeft("TX_KB", 5)) \(padLeft("RX_KB", 5)) MS"
    }

    /// One session's row (after any time columns), in the layout of `-w`, `-s` or the default:
    /// Python's `%-5d %-10.10s %s%-15s %-5d %-15s %-5d %5d %5d %.2f` and its `-w` and `-s`
    /// twins, built as bytes. `comm` is the event's `char[16]` at `commOffset`; `address`
    /// appends one address.
    static func row(_ r: inout RowBuilder, csv: Bool, wide: Bool, pid: UInt32, event: UnsafeRawBufferPointer, commOffset: Int, family: UInt64,
             laddr: (inout RowBuilder) -> Void, lport: UInt64, raddr: (inout RowBuilder) -> Void, rport: UInt64,
             txKB: UInt64, rxKB: UInt64, spanUS: UInt64) {
        if csv {
            r.decimal(UInt64(pid)); r.byte(0x2c)
            r.cString(event, at: commOffset, count: 16); r.byte(0x2c)
            r.decimal(family); r.byte(0x2c)
            laddr(&r); r.byte(0x2c)
            r.decimal(lport); r.byte(0x2c)
            raddr(&r); r.byte(0x2c)
            r.decimal(rport); r.byte(0x2c)
            r.decimal(txKB); r.byte(0x2c)
            r.decimal(rxKB); r.byte(0x2c)
        } else {
            // -w: a 2-wide IP column, and wider comm, address and KB columns.
            let (commWidth, addressWidth, kbWidth) = wide ? (16, 26, 6) : (10, 15, 5)
            r.left(5) { $0.decimal(UInt64(pid)) }; r.space()
            r.left(commWidth) { $0.cString(event, at: commOffset, count: 16, maxScalars: commWidth) }; r.space()
            if wide { r.left(2) { $0.decimal(family) }; r.space() }
            r.left(addressWidth, laddr); r.space()
            r.left(5) { $0.decimal(lport) }; r.space()
            r.left(addressWidth, raddr); r.space()
            r.left(5) { $0.decimal(rport) }; r.space()
            r.right(kbWidth) { $0.decimal(txKB) }; r.space()
            r.right(kbWidth) { $0.decimal(rxKB) }; r.space()
        }
        r.fixed(spanUS, scale: 3, digits: 2)
    }

    func run() throws {
        let paths = [
            AttachPath(.tracepoint, targets: "sock:inet_sock_set_state", program: program(Self.tracepointText)) { _ in },
            AttachPath(.kprobe, targets: "tcp_set_state", program: program(Self.kprobeText)) { b in
                try b.attachKprobe(event: "tcp_set_state", fnName: "tcplife_set_state")
            },
        ]
        if common.ebpf {
            print(AttachSelection.firstAvailable(try common.choose(paths)).program)
            return
        }
        let (b, _) = try AttachSelection.load(tool: "tcplife", paths: try common.choose(paths))

        var head = ""
        if time { head += csv ? "TIME," : pad("TIME", 8) + " " }
        if timestamp { head += csv ? "TIME(s)," : pad("TIME(s)", 9) + " " }

        let session = ToolSession(tool: "tcplife", maxEvents: common.maxEvents)
        // The options as locals: an ArgumentParser property read costs microseconds (generic
        // metadata on every access), too much for once per event.
        let time = self.time, timestamp = self.timestamp, csv = self.csv, wide = self.wide
        var startTS: UInt64 = 0
        /// `-T`'s and `-t`'s columns: Python's `"%-8s " % strftime("%H:%M:%S")` and
        /// `"%-9.6f " % ((ts - start_ts) / 1e6)` (with `,` after each for `-s`).
        func prefix(_ r: inout RowBuilder, _ tsUS: UInt64) {
            if time {
                if csv { r.clock(); r.byte(0x2c) } else { r.left(8) { $0.clock() }; r.space() }
            }
            if timestamp {
                if startTS == 0 { startTS = tsUS }
                if csv { r.fixedDelta(tsUS, since: startTS, scale: 6, digits: 6); r.byte(0x2c) }
                else { r.left(9) { $0.fixedDelta(tsUS, since: startTS, scale: 6, digits: 6) }; r.space() }
            }
        }
        // struct ipv4_data_t: ts_us 0, pid 8, saddr 12, daddr 16, ports 24, rx_b 32, tx_b 40,
        // span_us 48, task 56 (72 bytes).
        let timed = time || timestamp
        try b["ipv4_events"].openPerfBuffer(pageCount: 64) { _, data in
            let e = RawEvent(data)
            let ports = e.load(24, as: UInt64.self)
            let saddr = e.load(12, as: UInt32.self), daddr = e.load(16, as: UInt32.self)
            session.row { r in
                if timed { prefix(&r, e.load(0, as: UInt64.self)) }
                Self.row(&r, csv: csv, wide: wide, pid: e.load(8, as: UInt32.self), event: data, commOffset: 56, family: 4,
                    laddr: { $0.ipv4(saddr) }, lport: ports >> 32, raddr: { $0.ipv4(daddr) }, rport: ports & 0xffff_ffff,
                    txKB: e.load(40, as: UInt64.self) / 1024, rxKB: e.load(32, as: UInt64.self) / 1024,
                    spanUS: e.load(48, as: UInt64.self))
            }
        }
        // struct ipv6_data_t: ts_us 0, pid 8, saddr 16, daddr 32, ports 48, rx_b 56, tx_b 64,
        // span_us 72, task 80 (96 bytes; the __int128 members are 16-byte aligned).
        try b["ipv6_events"].openPerfBuffer(pageCount: 64) { _, data in
            let e = RawEvent(data)
            let ports = e.load(48, as: UInt64.self)
            let saddr = InetText.ipv6(e.slice(16, 16)), daddr = InetText.ipv6(e.slice(32, 16))
            session.row { r in
                if timed { prefix(&r, e.load(0, as: UInt64.self)) }
                Self.row(&r, csv: csv, wide: wide, pid: e.load(8, as: UInt32.self), event: data, commOffset: 80, family: 6,
                    laddr: { $0.append(saddr) }, lport: ports >> 32, raddr: { $0.append(daddr) }, rport: ports & 0xffff_ffff,
                    txKB: e.load(64, as: UInt64.self) / 1024, rxKB: e.load(56, as: UInt64.self) / 1024,
                    spanUS: e.load(72, as: UInt64.self))
            }
        }
        try session.pollLoop(b, header: head + header)
        b.cleanup()
    }
}

Tcplife.runTool()
