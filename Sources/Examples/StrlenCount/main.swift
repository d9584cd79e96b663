// bcc examples/tracing/strlen_count.py: trace libc's strlen() and count the strings it is
// called on; print the counts, lowest first, when tracing ends.
//
//   b = BPF(text=...)
//   b.attach_uprobe(name="c", sym="strlen", fn_name="count")
//   print("Tracing strlen()... Hit Ctrl-C to end.")
//   sleep until Ctrl-C
//   print("%10s %s" % ("COUNT", "STRING"))
//   for k, v in sorted(counts.items(), key=lambda counts: counts[1].value):
//       printb(b"%10d \"%s\"" % (v.value, k.c))
//
// Unlike Python BCC 0.26 (which attaches to strlen's IFUNC resolver in glibc 2.36 and so counts
// nothing useful), SwiftBCC attaches to the implementation the dynamic loader picks on this CPU.
// --count N stops after N strlen calls have been counted, --duration S after S seconds.
import ArgumentParser
import ExampleSupport
import Glibc
import SwiftBCC

@main
struct StrlenCount: ExampleCommand {
    static let configuration = CommandConfiguration(
        abstract: "Trace strlen() and print a frequency count of strings.")

    @OptionGroup var limits: RunOptions

    func run() throws {
        let b = try BPF(text: #"""
            #include <uapi/linux/ptrace.h>

            struct key_t {
                char c[80];
            };
            BPF_HASH(counts, struct key_t);

            int count(struct pt_regs *ctx) {
                if (!PT_REGS_PARM1(ctx))
                    return 0;

                struct key_t key = {};
                u64 zero = 0, *val;

                bpf_probe_read_user(&key.c, sizeof(key.c), (void *)PT_REGS_PARM1(ctx));
                // could also use `counts.increment(key)`
                val = counts.lookup_or_try_init(&key, &zero);
                if (val) {
                  (*val)++;
                }
                return 0;
            };
            """#)
        let run = limits.start()
        let attached = try b.attachUprobe(name: "c", sym: "strlen", fnName: "count")
        for a in attached { if let ifunc = a.ifunc { warn("StrlenCount: \(ifunc)") } }

        // header
        print("Tracing strlen()... Hit Ctrl-C to end.")
        fflush(nil)

        // struct key_t { char c[80]; } -> u64: a typed view checks the sizes against libbcc.
        let counts = try b.hashTable("counts", key: InlineArray<80, UInt8>.self, value: UInt64.self)
        // --count counts strlen calls, which only the map knows: check it now and then.
        while run.sleep(limits.count == nil ? 3600 : 0.1) {
            if let limit = limits.count, Int(clamping: try counts.values().reduce(0, &+)) >= limit { break }
        }

        // print output
        print(String(repeating: " ", count: 5) + "COUNT STRING")
        let rows = try counts.items().map { key, count in
            (count: count, string: Array((0..<key.count).map { key[$0] }.prefix { $0 != 0 }))
        }
        fflush(nil)
        for row in rows.sorted(by: { $0.count < $1.count }) {
            // printb: the string's bytes as they are.
            writeAll(Array(rjust(String(row.count), 10).utf8) + Array(" \"".utf8) + row.string + Array("\"\n".utf8), to: 1)
        }
        b.cleanup()
    }
}
