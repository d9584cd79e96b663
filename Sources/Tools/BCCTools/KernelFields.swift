import SwiftBCC

/// Kernel struct fields the tools read (the parent's tgid, exit code, start time, mount
/// namespace, the working directory's dentries), as small C functions to put in a BPF program.
///
/// Each function reads its field with `bpf_probe_read_kernel` at an offset taken from the running
/// kernel's BTF (``KernelBTF``), so it is right even when libbcc compiles against another kernel's
/// headers; without BTF the offset is `offsetof(...)` from the headers, as the Python tools have it.
public enum KernelField: String, CaseIterable, Sendable {
    /// `u32 bcctools_task_tgid(void *task)`: `task->tgid`.
    case tgid
    /// `u32 bcctools_task_pid(void *task)`: `task->pid` (the thread id).
    case pid
    /// `u32 bcctools_task_ppid(void *task)`: `task->real_parent->tgid`.
    case ppid
    /// `int bcctools_task_exit_code(void *task)`: `task->exit_code`.
    case exitCode
    /// `u64 bcctools_task_start_time(void *task)`: `task->start_time` (monotonic ns).
    case startTime
    /// `u32 bcctools_task_mntns(void *task)`: `task->nsproxy->mnt_ns->ns.inum`.
    case mountNamespace
    /// `void *bcctools_task_pwd(void *task)`: `task->fs->pwd.dentry`;
    /// `const char *bcctools_dentry_name(void *d)`: `d->d_name.name`;
    /// `void *bcctools_dentry_parent(void *d)`: `d->d_parent`.
    case workingDirectory
}

/// The kernel struct reads the tools share (``Field``), as C helper functions put in front of a
/// tool's program, with offsets from the running kernel's BTF (``KernelBTF``), else `offsetof`
/// from the headers.
public enum KernelFields {
    /// Where the offsets come from: "BTF" or "headers".
    public static var source: String { KernelBTF.vmlinux != nil && btfOffsets != nil ? "BTF" : "headers" }

    /// (C macro name, struct, member path) for every offset the helpers use.
    static let offsets: [(String, String, String)] = [
        ("BCCTOOLS_OFF_TASK_TGID", "task_struct", "tgid"),
        ("BCCTOOLS_OFF_TASK_PID", "task_struct", "pid"),
        ("BCCTOOLS_OFF_TASK_REAL_PARENT", "task_struct", "real_parent"),
        ("BCCTOOLS_OFF_TASK_EXIT_CODE", "task_struct", "exit_code"),
        ("BCCTOOLS_OFF_TASK_START_TIME", "task_struct", "start_time"),
        ("BCCTOOLS_OFF_TASK_NSPROXY", "task_struct", "nsproxy"),
        ("BCCTOOLS_OFF_NSPROXY_MNT_NS", "nsproxy", "mnt_ns"),
        ("BCCTOOLS_OFF_MNT_NS_INUM", "mnt_namespace", "ns.inum"),
        ("BCCTOOLS_OFF_TASK_FS", "task_struct", "fs"),
        ("BCCTOOLS_OFF_FS_PWD_DENTRY", "fs_struct", "pwd.dentry"),
        ("BCCTOOLS_OFF_DENTRY_NAME", "dentry", "d_name.name"),
        ("BCCTOOLS_OFF_DENTRY_PARENT", "dentry", "d_parent"),
    ]

    /// Every offset from BTF, or nil when BTF is missing or lacks one of them.
    static let btfOffsets: [String: Int]? = {
        guard let btf = KernelBTF.vmlinux else { return nil }
        var result: [String: Int] = [:]
        for (macro, structName, path) in offsets {
            guard let m = btf.memberOffset(structName, path) else { return nil }
            result[macro] = m.offset
        }
        return result
    }()

    static func headerOffset(_ structName: String, _ path: String) -> String {
        "offsetof(struct \(structName), \(path))"
    }

    /// The C text defining the helpers for `fields` (and what they need); put it before the
    /// code that calls them.
    /// `useBTF: false` takes the offsets from the headers even where BTF exists (for tests,
    /// and to compare with what the Python tools read).
    public static func cHelpers(_ fields: Set<KernelField>, useBTF: Bool = true) -> String {
        guard !fields.isEmpty else { return "" }
        let btf = useBTF ? btfOffsets : nil
        var text = "#include <linux/sched.h>\n"
        if btf == nil {
            if fields.contains(.mountNamespace) {
                text += """
                #include <linux/nsproxy.h>
                #include <linux/mount.h>
                #include <linux/ns_common.h>
                #ifndef MNT_NAMESPACE_DEFINED
                #define MNT_NAMESPACE_DEFINED
                struct mnt_namespace {
                #if LINUX_VERSION_CODE < KERNEL_VERSION(5, 11, 0)
                    atomic_t count;
                #endif
                    struct ns_common ns;
                };
                #endif

                """
            }
            if fields.contains(.workingDirectory) {
                text += "#include <linux/fs_struct.h>\n#include <linux/dcache.h>\n"
            }
        }
        // Guards: a program may get helpers from several places (a tool's own and --mntnsmap's).
        text += "#ifndef BCCTOOLS_HELPERS_COMMON\n#define BCCTOOLS_HELPERS_COMMON\n"
        for (macro, structName, path) in offsets {
            let value = btf.map { String($0[macro]!) } ?? headerOffset(structName, path)
            text += "#define \(macro) (\(value))\n"
        }
        text += """
        static __always_inline u64 bcctools_read_u64(const void *base, u64 off) {
            u64 v = 0; bpf_probe_read_kernel(&v, sizeof(v), (const char *)base + off); return v;
        }
        static __always_inline u32 bcctools_read_u32(const void *base, u64 off) {
            u32 v = 0; bpf_probe_read_kernel(&v, sizeof(v), (const char *)base + off); return v;
        }
        static __always_inline void *bcctools_read_ptr(const void *base, u64 off) {
            void *v = 0; if (base) bpf_probe_read_kernel(&v, sizeof(v), (const char *)base + off); return v;
        }
        #endif

        """
        func guarded(_ field: KernelField, _ code: String) -> String {
            let name = "BCCTOOLS_HELPER_" + field.rawValue.uppercased()
            return "#ifndef \(name)\n#define \(name)\n" + code + "#endif\n"
        }
        let helperCode: [(KernelField, String)] = [
            (.tgid, "static __always_inline u32 bcctools_task_tgid(void *task) { return bcctools_read_u32(task, BCCTOOLS_OFF_TASK_TGID); }\n"),
            (.pid, "static __always_inline u32 bcctools_task_pid(void *task) { return bcctools_read_u32(task, BCCTOOLS_OFF_TASK_PID); }\n"),
            (.ppid, """
            static __always_inline u32 bcctools_task_ppid(void *task) {
                void *parent = bcctools_read_ptr(task, BCCTOOLS_OFF_TASK_REAL_PARENT);
                return parent ? bcctools_read_u32(parent, BCCTOOLS_OFF_TASK_TGID) : 0;
            }

            """),
            (.exitCode, "static __always_inline int bcctools_task_exit_code(void *task) { return (int)bcctools_read_u32(task, BCCTOOLS_OFF_TASK_EXIT_CODE); }\n"),
            (.startTime, "static __always_inline u64 bcctools_task_start_time(void *task) { return bcctools_read_u64(task, BCCTOOLS_OFF_TASK_START_TIME); }\n"),
            (.mountNamespace, """
            static __always_inline u32 bcctools_task_mntns(void *task) {
                void *nsproxy = bcctools_read_ptr(task, BCCTOOLS_OFF_TASK_NSPROXY);
                void *mnt_ns = bcctools_read_ptr(nsproxy, BCCTOOLS_OFF_NSPROXY_MNT_NS);
                return mnt_ns ? bcctools_read_u32(mnt_ns, BCCTOOLS_OFF_MNT_NS_INUM) : 0;
            }

            """),
            (.workingDirectory, """
            static __always_inline void *bcctools_task_pwd(void *task) {
                void *fs = bcctools_read_ptr(task, BCCTOOLS_OFF_TASK_FS);
                return bcctools_read_ptr(fs, BCCTOOLS_OFF_FS_PWD_DENTRY);
            }
            static __always_inline const char *bcctools_dentry_name(void *d) {
                return (const char *)bcctools_read_ptr(d, BCCTOOLS_OFF_DENTRY_NAME);
            }
            static __always_inline void *bcctools_dentry_parent(void *d) {
                return bcctools_read_ptr(d, BCCTOOLS_OFF_DENTRY_PARENT);
            }

            """),
        ]
        for (field, code) in helperCode where fields.contains(field) {
            text += guarded(field, code)
        }
        return text
    }
}
