// bitesize: block I/O size histogram per process name. A port of bcc's tools/bitesize.py
// (/usr/sbin/bitesize-bpfcc): the same header and per-process log2 histograms of Kbytes,
// printed on Ctrl-C.
//
// Attach path: the block:block_rq_issue tracepoint (the Python tool's only one); its bytes and
// comm fields are ABI, so no struct offsets are involved. The Python tool takes no options
// (it has no argument parser); this one takes only the hidden options every tool has.
import ArgumentParser
import BCCTools
import Glibc
import SwiftBCC

struct Bitesize: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bitesize",
        abstract: "Block I/O size histogram per process name.",
        discussion: "Ctrl-C will print the partially gathered histogram then exit.")

    @OptionGroup var common: CommonOptions

    static let text = #"""
    #include <uapi/linux/ptrace.h>
    #include <linux/blkdev.h>

    struct proc_key_t {
        char name[TASK_COMM_LEN];
        u64 slot;
    };

    BPF_HISTOGRAM(dist, struct proc_key_t);

    TRACEPOINT_PROBE(block, block_rq_issue)
    {
        struct proc_key_t key = {.slot = bpf_log2l(args->bytes / 1024)};
        bpf_probe_read_kernel(&key.name, sizeof(key.name), args->comm);
        dist.atomic_increment(key);
        return 0;
    }
    """#

    /// The histograms bitesize prints for `dist`: Python's
    /// `dist.print_log2_hist("Kbytes", "Process Name", section_print_fn=bytes.decode)`.
    static func histogramText(_ dist: Table) throws -> String {
        try dist.log2HistText(valType: "Kbytes", sectionHeader: "Process Name", sectionPrintFn: { $0.string ?? "" })
    }

    func run() throws {
        let paths = try common.choose([AttachPath(.tracepoint, targets: "block:block_rq_issue", program: Self.text) { _ in }])
        if common.ebpf {
            print(paths[0].program)
            return
        }
        let (b, _) = try AttachSelection.load(tool: "bitesize", paths: paths)
        defer { b.cleanup() }
        emitLine("Tracing block I/O... Hit Ctrl-C to end.")
        let session = ToolSession(tool: "bitesize")
        _ = session.sleep(Double(IntervalOutput.forever))
        emit(try Self.histogramText(try b["dist"]))
    }
}

Bitesize.runTool()
