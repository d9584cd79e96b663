// ebpf-beginners ebpf.py: count clone() calls per user id in a BPF_HASH, print it every 2 s.
//
//   b = BPF(text=program)
//   clone = b.get_syscall_fnname("clone")
//   b.attach_kprobe(event=clone, fn_name="hello_world")
//   while True:
//      sleep(2)
//      s = ""
//      if len(b["clones"].items()):
//         for k,v in b["clones"].items():
//            s += "ID {}: {}\t".format(k.value, v.value)
//         print(s)
//      else:
//         print("No entries yet")
import ArgumentParser
import ExampleSupport
import SwiftBCC

@main
struct HelloMap: ExampleCommand {
    static let configuration = CommandConfiguration(
        abstract: "Count clone() calls per user id in a BPF hash map and print the counts every interval.")

    @Option(help: "Seconds between two prints.")
    var interval: Double = 2

    @OptionGroup var limits: RunOptions

    func validate() throws {
        guard interval > 0 else { throw ValidationError("--interval must be greater than 0") }
    }

    func run() throws {
        let program = #"""
        BPF_HASH(clones);

        int hello_world(void *ctx) {
           u64 uid;
           u64 counter = 0;
           u64 *p;

           uid = bpf_get_current_uid_gid() & 0xFFFFFFFF;
           p = clones.lookup(&uid);
           if (p != 0) {
              counter = *p;
           }

           counter++;
           clones.update(&uid, &counter);

           return 0;
        }
        """#
        let b = try BPF(text: program)
        let run = limits.start()
        let clone = b.getSyscallFnName("clone")
        try attachKprobeOrTracepoint(b, event: clone, fnName: "hello_world", example: "HelloMap")
        // BPF_HASH(clones) is a u64 -> u64 hash: a typed view checks that against libbcc.
        let clones = try b.hashTable("clones", key: UInt64.self, value: UInt64.self)
        while run.sleep(interval) {
            let items = try clones.items()
            if !items.isEmpty {
                var s = ""
                for (k, v) in items {
                    s += "ID \(k): \(v)\t"
                }
                if run.emit(s) { break }
            } else {
                if run.emit("No entries yet") { break }
            }
        }
        b.cleanup()
    }
}
