// learning-ebpf chapter9 hello-lsm.py: a kfunc on the LSM function security_file_permission
// that prints the file name, the access mask and the command for one user's file accesses.
//
//   b = BPF(text=program)    # KFUNC_PROBE(security_file_permission, struct file *f, int mask)
//   b.trace_print()
//
// It needs a kernel that lets BPF trampoline (fentry) programs run; where the kernel refuses
// them, it exits 1 with SwiftBCC's error saying what was refused. --uid picks the user (the
// original hard-codes 1001); --count N exits after N lines, --duration S after S seconds.
import ArgumentParser
import ExampleSupport
import SwiftBCC

@main
struct HelloLSM: ExampleCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print the files one user accesses (kfunc on security_file_permission).")

    @Option(help: "Only accesses by this user id are printed.")
    var uid: UInt32 = 1001

    @OptionGroup var limits: RunOptions

    func run() throws {
        let program = #"""
            #include <linux/fs.h>

            // Probe on LSM function
            // int security_file_permission(struct file *file, int mask);
            KFUNC_PROBE(security_file_permission, struct file *f, int mask)
            {
              char command[256];

              bpf_get_current_comm(command, sizeof(command));

              __u32 uid = bpf_get_current_uid_gid() & 0xFFFFFFFF;
              if (uid != UID) {
                return 0;
              }

              bpf_trace_printk("File %s mask %x", f->f_path.dentry->d_iname, mask);
              bpf_trace_printk("     opened by: %s", command);

              return 0;
            }
            """#
        let b = try BPF(text: program, cflags: ["-DUID=\(uid)"])
        let run = limits.start()
        try run.tracePrint(b)
        b.cleanup()
    }
}
