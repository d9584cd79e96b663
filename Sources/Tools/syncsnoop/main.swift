// syncsnoop: trace sync() syscalls. A port of bcc's tools/syncsnoop.py
// (/usr/sbin/syncsnoop-bpfcc), which takes no options: same header and rows.
//
// Attach paths: a kprobe on the sync syscall function (the Python tool's), else the
// syscalls:sys_enter_sync tracepoint.
import ArgumentParser
import BCCTools
import Glibc
import SwiftBCC

struct Syncsnoop: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "syncsnoop",
        abstract: "Trace sync() syscalls",
        discussion: "The time is the kernel's monotonic clock, in seconds, as the Python tool prints it.")

    @OptionGroup var common: CommonOptions

    static let common = #"""
    struct data_t {
        u64 ts;
    };

    BPF_PERF_OUTPUT(events);

    static __always_inline void syncsnoop_submit(void *ctx) {
        struct data_t data = {};
        data.ts = bpf_ktime_get_ns() / 1000;
        events.perf_submit(ctx, &data, sizeof(data));
    }

    """#

    static let kprobeText = "void syscall__sync(void *ctx) { syncsnoop_submit(ctx); }\n"

    static let tracepointText = "TRACEPOINT_PROBE(syscalls, sys_enter_sync) { syncsnoop_submit(args); return 0; }\n"

    func run() throws {
        let syscall = BPF.getSyscallPrefix() + "sync"
        let paths = [
            AttachPath(.kprobe, targets: syscall, program: Self.common + Self.kprobeText) { b in
                try b.attachKprobe(event: syscall, fnName: "syscall__sync")
            },
            AttachPath(.tracepoint, targets: "syscalls:sys_enter_sync", program: Self.common + Self.tracepointText) { _ in },
        ]
        if common.ebpf {
            print(AttachSelection.firstAvailable(try common.choose(paths)).program)
            return
        }
        let (b, _) = try AttachSelection.load(tool: "syncsnoop", paths: try common.choose(paths))
        let session = ToolSession(tool: "syncsnoop", maxEvents: common.maxEvents)
        try b["events"].openPerfBuffer(of: UInt64.self) { _, ts in
            // Python's "%-18.9f sync()" of ts / 1e6, as bytes (vsnprintf and a String a row
            // cost 0.41x Python's user CPU per event under qemu TCG).
            session.row { r in
                r.left(18) { $0.fixed(ts, scale: 6, digits: 9) }
                r.append(" sync()")
            }
        }
        try session.pollLoop(b, header: "\(pad("TIME(s)", 18)) CALL")
        b.cleanup()
    }
}

Syncsnoop.runTool()
