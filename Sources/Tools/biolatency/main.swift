// biolatency: summarize block device I/O latency as a histogram. A port of bcc's
// tools/biolatency.py (/usr/sbin/biolatency-bpfcc): same flags, histograms and exit behaviour.
//
// Attach paths (BCCTools.BlockIO): kprobes on blk_mq_start_request (-Q: blk_account_io_start)
// and blk_account_io_done, as the Python tool; else the raw tracepoints that pass the same
// struct request * (block_rq_issue or block_io_start, block_io_done). The request's disk and
// cmd_flags are read at the running kernel's BTF offsets.
import ArgumentParser
import BCCTools
import Glibc
import SwiftBCC

struct Biolatency: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "biolatency",
        abstract: "Summarize block device I/O latency as a histogram",
        discussion: """
        examples:
            ./biolatency                    # summarize block I/O latency as a histogram
            ./biolatency 1 10               # print 1 second summaries, 10 times
            ./biolatency -mT 1              # 1s summaries, milliseconds, and timestamps
            ./biolatency -Q                 # include OS queued time in I/O time
            ./biolatency -D                 # show each disk device separately
            ./biolatency -F                 # show I/O flags separately
            ./biolatency -j                 # print a dictionary
            ./biolatency -e                 # show extension summary(total, average)
            ./biolatency -d sdc             # Trace sdc only
        """)

    @Flag(name: [.customShort("T"), .customLong("timestamp")], help: "include timestamp on output")
    var timestamp = false

    @Flag(name: [.customShort("Q"), .customLong("queued")], help: "include OS queued time in I/O time")
    var queued = false

    @Flag(name: [.customShort("m"), .customLong("milliseconds")], help: "millisecond histogram")
    var milliseconds = false

    @Flag(name: [.customShort("D"), .customLong("disks")], help: "print a histogram per disk device")
    var disks = false

    @Flag(name: [.customShort("F"), .customLong("flags")], help: "print a histogram per set of I/O flags")
    var flags = false

    @Flag(name: [.customShort("e"), .customLong("extension")], help: "summarize average/total value")
    var extension_ = false

    @Argument(help: "output interval, in seconds")
    var interval: Int = IntervalOutput.forever

    @Argument(help: "number of outputs")
    var count: Int = IntervalOutput.forever

    @Flag(name: [.customShort("j"), .customLong("json")], help: "json output")
    var json = false

    @Option(name: [.customShort("d"), .customLong("disk")], help: "Trace this disk only")
    var disk: String?

    @OptionGroup var common: CommonOptions

    func validate() throws {
        // Python prints "ERROR: can only use -D or -F. Exiting." and exits 0.
        if flags && disks { throw ValidationError("can only use -D or -F") }
        try validateIntervalCount(interval, count)
    }

    static let text = #"""
    typedef struct disk_key {
        char disk[DISK_NAME_LEN];
        u64 slot;
    } disk_key_t;

    typedef struct flag_key {
        u64 flags;
        u64 slot;
    } flag_key_t;

    typedef struct ext_val {
        u64 total;
        u64 count;
    } ext_val_t;

    BPF_HASH(start, u64);
    STORAGE

    // time block I/O
    static __always_inline int trace_req_start(void *ctx, void *req)
    {
        DISK_FILTER

        u64 key = (u64)req;
        u64 ts = bpf_ktime_get_ns();
        start.update(&key, &ts);
        return 0;
    }

    // output
    static __always_inline int trace_req_done(void *ctx, void *req)
    {
        u64 *tsp, delta;
        u64 req_key = (u64)req;

        // fetch timestamp and calculate delta
        tsp = start.lookup(&req_key);
        if (tsp == 0) {
            return 0;   // missed issue
        }
        delta = bpf_ktime_get_ns() - *tsp;

        FACTOR

        // store as histogram
        STORE

        start.delete(&req_key);
        return 0;
    }
    """#

    var label: String { milliseconds ? "msecs" : "usecs" }

    func program() throws -> String {
        var text = ProgramText(Self.text)
        text.replace("FACTOR", with: milliseconds ? "delta /= 1000000;" : "delta /= 1000;")
        var storage = "", store = ""
        if disks {
            storage += "BPF_HISTOGRAM(dist, disk_key_t);"
            store += """
                disk_key_t key = {.slot = bpf_log2l(delta)};
                bcctools_disk_name(key.disk, sizeof(key.disk), bcctools_rq_disk(req));
                dist.atomic_increment(key);
                """
        } else if flags {
            storage += "BPF_HISTOGRAM(dist, flag_key_t);"
            store += """
                flag_key_t key = {.slot = bpf_log2l(delta)};
                key.flags = bcctools_rq_cmd_flags(req);
                dist.atomic_increment(key);
                """
        } else {
            storage += "BPF_HISTOGRAM(dist);"
            store += "dist.atomic_increment(bpf_log2l(delta));"
        }
        text.replace("DISK_FILTER", with: try BlockIO.diskFilter(disk))
        if extension_ {
            storage += "BPF_ARRAY(extension, ext_val_t, 1);"
            store += """

                u32 index = 0;
                ext_val_t *ext_val = extension.lookup(&index);
                if (ext_val) {
                    lock_xadd(&ext_val->total, delta);
                    lock_xadd(&ext_val->count, 1);
                }
                """
        }
        text.replace("STORAGE", with: storage)
        text.replace("STORE", with: store)
        text.prepend(BlockIO.cHelpers())
        return text.text
    }

    func paths() throws -> [AttachPath] {
        BlockIO.attachPaths(program: try program(), probes: [
            (queued ? .accountStart : .issue, "trace_req_start"),
            (.done, "trace_req_done"),
        ])
    }

    func run() throws {
        let paths: [AttachPath]
        do {
            paths = try common.choose(try self.paths())
        } catch let error as BlockIO.DiskNotFound {
            emitLine(error.description)
            throw ExitCode(1)
        }
        if common.ebpf {
            print(AttachSelection.firstAvailable(paths).program)
            return
        }
        let (b, _) = try AttachSelection.load(tool: "biolatency", paths: paths)
        defer { b.cleanup() }
        if !json { emitLine("Tracing block device I/O... Hit Ctrl-C to end.") }

        let dist = try b["dist"]
        let ext = extension_ ? try b.arrayTable("extension", value: ExtensionValue.self) : nil
        let label = self.label
        let flags = self.flags
        let sectionHeader = flags ? "flags" : "disk"
        let sectionPrint: (DynamicValue) -> String = { value in
            if flags { return BlockIO.flagsDescription(value.uint ?? 0) }
            let disk = value.string ?? ""
            return disk.isEmpty ? "<unknown>" : disk
        }
        try IntervalOutput.run(tool: "biolatency", interval: interval, count: count, timestamp: timestamp,
                               maxOutputs: common.maxEvents) {
            if json {
                emit(try dist.jsonHistText(valType: label, sectionHeader: sectionHeader, sectionPrintFn: sectionPrint))
            } else {
                emit(try dist.log2HistText(valType: label, sectionHeader: sectionHeader, sectionPrintFn: sectionPrint))
                if let ext {
                    let v = try ext.lookup(0) ?? ExtensionValue()
                    if let line = IntervalOutput.extensionSummary(total: v.total, count: v.count, label: label) {
                        emit(line)
                    }
                    try ext.clear()
                }
            }
            try dist.clear()
        }
    }
}

Biolatency.runTool()
