import Glibc
import SwiftBCC

/// What the block I/O tools (biolatency, biosnoop) share: reading a `struct request`'s fields at
/// the running kernel's offsets, the `-d DISK` filter, and their two attach paths.
///
/// The Python tools attach kprobes to `blk_account_io_start` (`__blk_account_io_start`),
/// `blk_mq_start_request` (and `blk_start_request` where it exists) and `blk_account_io_done`
/// (`__blk_account_io_done`), each given the `struct request *`. Where kprobes are missing the
/// same functions run from raw tracepoints, which pass the same `struct request *` as their first
/// argument: `block_io_start` (6.5+; `block_rq_insert` before), `block_rq_issue` (fired inside
/// `blk_mq_start_request`) and `block_io_done` (6.5+; `block_rq_complete` before). So both paths
/// key requests by their pointer and read the same fields.
public enum BlockIO {
    /// The points in a request's life the tools time.
    public enum Point: Sendable, CaseIterable {
        /// The request is accounted (queued in the OS): `blk_account_io_start`.
        case accountStart
        /// The request is issued to the device: `blk_mq_start_request`.
        case issue
        /// The request completes: `blk_account_io_done`.
        case done

        /// The raw tracepoint that passes the request at this point on the running kernel.
        public var rawTracepoint: String {
            switch self {
            case .accountStart:
                return BPF.tracepointExists(category: "block", event: "block_io_start") ? "block_io_start" : "block_rq_insert"
            case .issue:
                return "block_rq_issue"
            case .done:
                return BPF.tracepointExists(category: "block", event: "block_io_done") ? "block_io_done" : "block_rq_complete"
            }
        }

        /// The kernel functions a kprobe goes on, as the Python tools choose them: the `__`
        /// variant where kprobes can list it, else the plain name (Python attaches it without
        /// checking; a kprobe may go on a function ftrace does not list).
        /// - Throws: `ToolError` when `blk_account_io_start` is not in the kernel at all (inlined).
        public func kprobeFunctions() throws -> [String] {
            func have(_ name: String) -> Bool { ((try? BPF.getKprobeFunctions("^" + name + "$")) ?? []).contains(name) }
            switch self {
            case .accountStart:
                if have("__blk_account_io_start") { return ["__blk_account_io_start"] }
                if have("blk_account_io_start") || !BPF.ksymnames(["blk_account_io_start"]).isEmpty {
                    return ["blk_account_io_start"]
                }
                throw ToolError("the kernel has neither __blk_account_io_start nor blk_account_io_start to put a kprobe on (inlined)")
            case .issue:
                return (have("blk_start_request") ? ["blk_start_request"] : []) + ["blk_mq_start_request"]
            case .done:
                return [have("__blk_account_io_done") ? "__blk_account_io_done" : "blk_account_io_done"]
            }
        }

        var kprobeNames: String {
            switch self {
            case .accountStart: return "blk_account_io_start"
            case .issue: return "blk_mq_start_request"
            case .done: return "blk_account_io_done"
            }
        }
    }

    /// Whether a request reaches its disk through `request->rq_disk` (before 5.17) rather than
    /// `request->q->disk`.
    public static var requestHasRqDisk: Bool { StructOffsets.has("request", "rq_disk") }

    /// C helpers reading a `struct request` (passed as `void *`) at the running kernel's offsets:
    /// `void *bcctools_rq_disk(void *req)`, `u32 bcctools_rq_cmd_flags(void *req)`,
    /// `u32 bcctools_rq_data_len(void *req)`, `u64 bcctools_rq_sector(void *req)`,
    /// `int bcctools_disk_major(void *disk)`, `int bcctools_disk_first_minor(void *disk)` and
    /// `bcctools_disk_name(char *dst, u32 size, void *disk)`.
    public static func cHelpers(useBTF: Bool = true) -> String {
        var members: [StructOffsets.Member] = [
            .init("BCCTOOLS_OFF_RQ_Q", "request", "q"),
            .init("BCCTOOLS_OFF_RQ_CMD_FLAGS", "request", "cmd_flags"),
            .init("BCCTOOLS_OFF_RQ_DATA_LEN", "request", "__data_len"),
            .init("BCCTOOLS_OFF_RQ_SECTOR", "request", "__sector"),
            .init("BCCTOOLS_OFF_DISK_MAJOR", "gendisk", "major"),
            .init("BCCTOOLS_OFF_DISK_FIRST_MINOR", "gendisk", "first_minor"),
            .init("BCCTOOLS_OFF_DISK_NAME", "gendisk", "disk_name"),
        ]
        let rqDisk = requestHasRqDisk
        members.append(rqDisk ? .init("BCCTOOLS_OFF_RQ_RQ_DISK", "request", "rq_disk")
                              : .init("BCCTOOLS_OFF_Q_DISK", "request_queue", "disk"))
        let diskRead = rqDisk ? "bcctools_read_ptr(req, BCCTOOLS_OFF_RQ_RQ_DISK)"
                              : "bcctools_read_ptr(bcctools_read_ptr(req, BCCTOOLS_OFF_RQ_Q), BCCTOOLS_OFF_Q_DISK)"
        // The read helpers (bcctools_read_u32/u64/ptr) and <linux/sched.h>.
        return KernelFields.cHelpers([.pid], useBTF: useBTF)
            + "#include <linux/blkdev.h>\n"
            + StructOffsets.defines(members, useBTF: useBTF) + """
            #ifndef BCCTOOLS_BLOCK_HELPERS
            #define BCCTOOLS_BLOCK_HELPERS
            static __always_inline void *bcctools_rq_disk(void *req) { return \(diskRead); }
            static __always_inline u32 bcctools_rq_cmd_flags(void *req) { return bcctools_read_u32(req, BCCTOOLS_OFF_RQ_CMD_FLAGS); }
            static __always_inline u32 bcctools_rq_data_len(void *req) { return bcctools_read_u32(req, BCCTOOLS_OFF_RQ_DATA_LEN); }
            static __always_inline u64 bcctools_rq_sector(void *req) { return bcctools_read_u64(req, BCCTOOLS_OFF_RQ_SECTOR); }
            static __always_inline int bcctools_disk_major(void *disk) { return disk ? (int)bcctools_read_u32(disk, BCCTOOLS_OFF_DISK_MAJOR) : -1; }
            static __always_inline int bcctools_disk_first_minor(void *disk) { return disk ? (int)bcctools_read_u32(disk, BCCTOOLS_OFF_DISK_FIRST_MINOR) : -1; }
            static __always_inline void bcctools_disk_name(char *dst, u32 size, void *disk) {
                if (disk) bpf_probe_read_kernel(dst, size, (const char *)disk + BCCTOOLS_OFF_DISK_NAME);
            }
            #endif

            """
    }

    /// The `-d DISK` filter: `DISK_FILTER` replaced by a check of the request's disk against
    /// `/dev/<disk>`'s major and minor (as the Python tools do, a partition never matches: its
    /// minor is not the disk's first minor), or by nothing.
    /// - Throws: `ToolError` (Python: `no such disk '<disk>'`, exit 1) when `/dev/<disk>` is missing.
    public static func diskFilter(_ disk: String?) throws -> String {
        guard let disk else { return "" }
        let (major, minor) = try deviceNumbers(disk)
        return """
            void *disk = bcctools_rq_disk(req);
            if (!(bcctools_disk_major(disk) == \(major) && bcctools_disk_first_minor(disk) == \(minor))) {
                return 0;
            }
            """
    }

    /// The major and minor of `/dev/<disk>` (Python: `os.stat(...).st_rdev`).
    /// - Throws: `DiskNotFound` when it does not exist.
    public static func deviceNumbers(_ disk: String) throws -> (major: UInt64, minor: UInt64) {
        var st = stat()
        guard !disk.isEmpty, stat("/dev/" + disk, &st) == 0 else { throw DiskNotFound(disk: disk) }
        let dev = UInt64(st.st_rdev)
        let major = ((dev >> 8) & 0xfff) | ((dev >> 32) & ~UInt64(0xfff))
        let minor = (dev & 0xff) | ((dev >> 12) & ~UInt64(0xff))
        return (major, minor)
    }

    /// `-d` named a disk that has no `/dev` entry: the tools print Python's line and exit 1.
    public struct DiskNotFound: Error, CustomStringConvertible, Sendable {
        /// The disk name `-d` gave.
        public let disk: String
        /// Python's message: `no such disk 'sdz'`.
        public var description: String { "no such disk '\(disk)'" }
    }

    /// The kprobe path and the raw tracepoint path for a program whose functions `function(ctx, req)`
    /// (`static __always_inline int f(void *ctx, void *req)`) run at `probes`' points: each path's
    /// program is `program` plus the entry points calling them.
    public static func attachPaths(program: String, probes: [(point: Point, function: String)]) -> [AttachPath] {
        var kprobeText = program, rawText = program
        for (_, fn) in probes {
            kprobeText += "\nint kprobe_\(fn)(struct pt_regs *ctx) { return \(fn)(ctx, (void *)PT_REGS_PARM1(ctx)); }\n"
            rawText += "\nint rawtp_\(fn)(struct bpf_raw_tracepoint_args *ctx) { return \(fn)(ctx, (void *)ctx->args[0]); }\n"
        }
        for (point, fn) in probes where point == .accountStart {
            kprobeText += "\nint kretprobe_\(fn)(struct pt_regs *ctx) { void *req = (void *)PT_REGS_RC(ctx); return req ? \(fn)(ctx, req) : 0; }\n"
        }
        let kprobe = AttachPath(.kprobe, targets: probes.map(\.point.kprobeNames).joined(separator: ", "), program: kprobeText) { b in
            for (point, fn) in probes {
                let events: [String]
                do {
                    events = try point.kprobeFunctions()
                } catch let error as ToolError where point == .accountStart {
                    // 5.16 to 6.4 inline blk_account_io_start and have no block_io_start tracepoint:
                    // the request is allocated just before it is accounted, in the submitter's context.
                    guard ((try? BPF.getKprobeFunctions("^__blk_mq_alloc_requests$")) ?? []).contains("__blk_mq_alloc_requests") else {
                        throw error
                    }
                    try b.attachKretprobe(event: "__blk_mq_alloc_requests", fnName: "kretprobe_" + fn)
                    warn("\(CommandLine.arguments.first.map { String($0.split(separator: "/").last ?? "") } ?? ""): "
                        + "blk_account_io_start is inlined in this kernel: a kretprobe on __blk_mq_alloc_requests takes its place")
                    continue
                }
                for event in events {
                    try b.attachKprobe(event: event, fnName: "kprobe_" + fn)
                }
            }
        }
        let raw = AttachPath(.tracepoint, targets: "raw tracepoints " + probes.map(\.point.rawTracepoint).joined(separator: ", "),
                             program: rawText) { b in
            for (point, fn) in probes {
                try b.attachRawTracepoint(tp: point.rawTracepoint, fnName: "rawtp_" + fn)
            }
        }
        return [kprobe, raw]
    }

    /// biolatency's `-F` section name for a request's `cmd_flags`, as its `flags_print` builds it:
    /// the operation (`Read`, `Write`, ...; `Unknown`), prefixed by `Sync-`, `Metadata-`,
    /// `ForcedUnitAccess-`, `Priority-`, `NoMerge-`, `Idle-`, `ReadAhead-`, `Background-`,
    /// `NoWait-` in that order of tests (so the last test's prefix comes first).
    public static func flagsDescription(_ flags: UInt64) -> String {
        let ops: [UInt64: String] = [0: "Read", 1: "Write", 2: "Flush", 3: "Discard", 5: "SecureErase",
                                     6: "ZoneReset", 7: "WriteSame", 9: "WriteZeros"]
        let opBits: UInt64 = 8
        var desc = ops[flags & ((1 << opBits) - 1)] ?? "Unknown"
        let prefixes: [(UInt64, String)] = [(3, "Sync-"), (4, "Metadata-"), (9, "ForcedUnitAccess-"), (5, "Priority-"),
                                            (6, "NoMerge-"), (7, "Idle-"), (11, "ReadAhead-"), (12, "Background-"),
                                            (13, "NoWait-")]
        for (bit, prefix) in prefixes where flags & (1 << (opBits + bit)) != 0 {
            desc = prefix + desc
        }
        return desc
    }
}
