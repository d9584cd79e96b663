// biosnoop: trace block device I/O with the issuing PID and comm, disk, sector, size and latency.
// A port of bcc's tools/biosnoop.py (/usr/sbin/biosnoop-bpfcc): same flags, header and rows.
//
// Attach paths (BCCTools.BlockIO): kprobes on blk_account_io_start, blk_mq_start_request and
// blk_account_io_done, as the Python tool; else the raw tracepoints that pass the same
// struct request * (block_io_start or block_rq_insert, block_rq_issue, block_io_done or
// block_rq_complete). The request's disk, size, sector and flags are read at the running
// kernel's BTF offsets.
import ArgumentParser
import BCCTools
import Glibc
import SwiftBCC

struct Biosnoop: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "biosnoop",
        abstract: "Trace block I/O",
        discussion: """
        examples:
            ./biosnoop           # trace all block I/O
            ./biosnoop -Q        # include OS queued time
            ./biosnoop -d sdc    # trace sdc only
            ./biosnoop -P        # display block I/O pattern
        """)

    @Flag(name: [.customShort("Q"), .customLong("queue")], help: "include OS queued time")
    var queue = false

    @Option(name: [.customShort("d"), .customLong("disk")], help: "trace this disk only")
    var disk: String?

    @Flag(name: [.customShort("P"), .customLong("pattern")], help: "display block I/O pattern (sequential or random)")
    var pattern = false

    @OptionGroup var common: CommonOptions

    static let text = #"""
    // for saving the timestamp and __data_len of each request
    struct start_req_t {
        u64 ts;
        u64 data_len;
    };

    struct val_t {
        u64 ts;
        u32 pid;
        char name[TASK_COMM_LEN];
    };

    struct sector_key_t {
        u32 dev_major;
        u32 dev_minor;
    };

    enum bio_pattern {
        UNKNOWN,
        SEQUENTIAL,
        RANDOM,
    };

    struct data_t {
        u32 pid;
        u64 rwflag;
        u64 delta;
        u64 qdelta;
        u64 sector;
        u64 len;
        u32 pattern;
        u64 ts;
        char disk_name[DISK_NAME_LEN];
        char name[TASK_COMM_LEN];
    };

    #ifdef INCLUDE_PATTERN
    BPF_HASH(last_sectors, struct sector_key_t, u64);
    #endif

    BPF_HASH(start, u64, struct start_req_t);
    BPF_HASH(infobyreq, u64, struct val_t);
    BPF_PERF_OUTPUT(events);

    // cache PID and comm by-req
    static __always_inline int trace_pid_start(void *ctx, void *req)
    {
        DISK_FILTER

        struct val_t val = {};
        u64 key = (u64)req;

        if (bpf_get_current_comm(&val.name, sizeof(val.name)) == 0) {
            val.pid = bpf_get_current_pid_tgid() >> 32;
            if (##QUEUE##) {
                val.ts = bpf_ktime_get_ns();
            }
            infobyreq.update(&key, &val);
        }
        return 0;
    }

    // time block I/O
    static __always_inline int trace_req_start(void *ctx, void *req)
    {
        DISK_FILTER

        u64 key = (u64)req;
        struct start_req_t start_req = {
            .ts = bpf_ktime_get_ns(),
            .data_len = bcctools_rq_data_len(req)
        };
        start.update(&key, &start_req);
        return 0;
    }

    // output
    static __always_inline int trace_req_completion(void *ctx, void *req)
    {
        struct start_req_t *startp;
        struct val_t *valp;
        struct data_t data = {};
        void *rq_disk;
        u64 ts;
        u64 key = (u64)req;

        // fetch timestamp and calculate delta
        startp = start.lookup(&key);
        if (startp == 0) {
            // missed tracing issue
            return 0;
        }
        ts = bpf_ktime_get_ns();
        rq_disk = bcctools_rq_disk(req);
        data.delta = ts - startp->ts;
        data.ts = ts / 1000;
        data.qdelta = 0;
        data.len = startp->data_len;

        valp = infobyreq.lookup(&key);
        if (valp == 0) {
            data.name[0] = '?';
            data.name[1] = 0;
        } else {
            if (##QUEUE##) {
                data.qdelta = startp->ts - valp->ts;
            }
            data.pid = valp->pid;
            data.sector = bcctools_rq_sector(req);
            bpf_probe_read_kernel(&data.name, sizeof(data.name), valp->name);
            bcctools_disk_name(data.disk_name, sizeof(data.disk_name), rq_disk);
        }

    #ifdef INCLUDE_PATTERN
        data.pattern = UNKNOWN;

        u64 *sector, last_sector;
        u64 req_sector = bcctools_rq_sector(req);

        struct sector_key_t sector_key = {
            .dev_major = bcctools_disk_major(rq_disk),
            .dev_minor = bcctools_disk_first_minor(rq_disk)
        };

        sector = last_sectors.lookup(&sector_key);
        if (sector != 0) {
            data.pattern = req_sector == *sector ? SEQUENTIAL : RANDOM;
        }

        last_sector = req_sector + data.len / 512;
        last_sectors.update(&sector_key, &last_sector);
    #endif

        // REQ_OP_MASK ((1 << REQ_OP_BITS) - 1), REQ_OP_WRITE 1: the layout since 4.10.
        data.rwflag = !!((bcctools_rq_cmd_flags(req) & 0xff) == 1);

        events.perf_submit(ctx, &data, sizeof(data));
        start.delete(&key);
        infobyreq.delete(&key);

        return 0;
    }
    """#

    func program() throws -> String {
        var text = ProgramText(Self.text)
        if pattern { text.define("INCLUDE_PATTERN") }
        text.replace("##QUEUE##", with: queue ? "1" : "0")
        text.replace("DISK_FILTER", with: try BlockIO.diskFilter(disk))
        text.prepend(BlockIO.cHelpers())
        return text.text
    }

    struct Event: BitwiseCopyable {
        var pid: UInt32
        var rwflag: UInt64
        var delta: UInt64
        var qdelta: UInt64
        var sector: UInt64
        var len: UInt64
        var pattern: UInt32
        var ts: UInt64
        var diskName: InlineArray<32, CChar>
        var name: InlineArray<16, CChar>
    }

    func run() throws {
        let paths: [AttachPath]
        do {
            paths = try common.choose(BlockIO.attachPaths(program: try program(), probes: [
                (.accountStart, "trace_pid_start"), (.issue, "trace_req_start"), (.done, "trace_req_completion"),
            ]))
        } catch let error as BlockIO.DiskNotFound {
            emitLine(error.description)
            throw ExitCode(1)
        }
        if common.ebpf {
            print(AttachSelection.firstAvailable(paths).program)
            return
        }
        let (b, _) = try AttachSelection.load(tool: "biosnoop", paths: paths)
        defer { b.cleanup() }

        var header = "\(pad("TIME(s)", 11)) \(pad("COMM", 14)) \(pad("PID", 7)) \(pad("DISK", 9)) T \(pad("SECTOR", 10)) \(pad("BYTES", 7))"
        if pattern { header += "P " }
        if queue { header += "QUE(ms) " }
        header += "LAT(ms)"

        let session = ToolSession(tool: "biosnoop", maxEvents: common.maxEvents)
        var startTs: UInt64 = 0
        // The options as locals: an ArgumentParser property read costs microseconds (generic
        // metadata on every access), too much for once per event.
        let pattern = self.pattern
        let queue = self.queue
        try b["events"].openPerfBuffer(of: Event.self, pageCount: 64) { _, event in
            if startTs == 0 { startTs = event.ts }
            session.row { r in
                r.left(11) { $0.fixedDelta(event.ts, since: startTs, scale: 6, digits: 6) }; r.space()
                r.left(14) { $0.cString(event.name, maxScalars: 14) }; r.space()
                r.left(7) { $0.decimal(UInt64(event.pid)) }; r.space()
                r.left(9) { if event.diskName[0] == 0 { $0.append("<unknown>") } else { $0.cString(event.diskName) } }; r.space()
                r.byte(event.rwflag == 1 ? UInt8(ascii: "W") : UInt8(ascii: "R")); r.space()
                r.left(10) { $0.decimal(event.sector) }; r.space()
                r.left(7) { $0.decimal(event.len) }
                if pattern { r.byte(event.pattern == 1 ? UInt8(ascii: "S") : event.pattern == 2 ? UInt8(ascii: "R") : UInt8(ascii: "?")); r.space() }
                if queue { r.right(7) { $0.fixed(event.qdelta, scale: 6, digits: 2) }; r.space() }
                r.right(7) { $0.fixed(event.delta, scale: 6, digits: 2) }
            }
        }
        try session.pollLoop(b, header: header)
    }
}

Biosnoop.runTool()
