// bcc examples/tracing/bitehist.py: block I/O size histograms (log2 and linear, in kbytes).
// The original uses a kprobe on blk_account_io_done; this one uses the block:block_rq_complete
// tracepoint, which every kernel here has (with or without kprobes).
//
//   b = BPF(text=...)   # BPF_HISTOGRAM(dist); BPF_HISTOGRAM(dist_linear);
//   print("Tracing... Hit Ctrl-C to end.")
//   try: sleep(99999999)
//   except KeyboardInterrupt: print()
//   print("log2 histogram"); print("~~~~~~~~~~~~~~")
//   b["dist"].print_log2_hist("kbytes")
//   print("\nlinear histogram"); print("~~~~~~~~~~~~~~~~")
//   b["dist_linear"].print_linear_hist("kbytes")
import ArgumentParser
import ExampleSupport
import Glibc
import SwiftBCC

@main
struct BiteHist: ExampleCommand {
    static let configuration = CommandConfiguration(
        abstract: "Summarize block device I/O size as histograms until Ctrl-C (or --count I/Os, or --duration).",
        discussion: "--count N stops after N block I/O completions have been traced.")

    @OptionGroup var limits: RunOptions

    func run() throws {
        let b = try BPF(text: #"""
        BPF_HISTOGRAM(dist);
        BPF_HISTOGRAM(dist_linear);

        TRACEPOINT_PROBE(block, block_rq_complete) {
            u64 kbytes = ((u64)args->nr_sector * 512) / 1024;
            dist.increment(bpf_log2l(kbytes));
            dist_linear.increment(kbytes);
            return 0;
        }
        """#)

        print("Tracing... Hit Ctrl-C to end.")
        fflush(nil)
        let run = limits.start()
        let dist = try b.arrayTable("dist", value: UInt64.self)
        // Wait for Ctrl-C / SIGTERM, --duration, or --count traced I/Os.
        while run.sleep(0.1) {
            if let count = limits.count, try dist.values().reduce(0, +) >= UInt64(count) { break }
        }
        print()

        print("log2 histogram")
        print("~~~~~~~~~~~~~~")
        try b["dist"].printLog2Hist(valType: "kbytes")

        print("\nlinear histogram")
        print("~~~~~~~~~~~~~~~~")
        try b["dist_linear"].printLinearHist(valType: "kbytes")
        b.cleanup()
    }
}
