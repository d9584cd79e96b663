import Glibc
import SwiftBCC

/// `--cgroupmap` and `--mntnsmap`, as Python's `bcc.containers.filter_by_containers`: the
/// program gets `container_should_be_filtered()`, true for a task whose cgroup id (or mount
/// namespace inode) is not a key of the pinned hash map at the given path.
public enum Containers {
    /// The C text defining `container_should_be_filtered()`; put it before the program.
    /// - Throws: `BPFError.invalidArgument` when a path is given but holds no pinned BPF map
    ///   (Python BCC would create an empty map there and trace nothing).
    public static func filterText(cgroupMap: String?, mountNamespaceMap: String?) throws -> String {
        var text = ""
        if let cgroupMap {
            try checkPinned(cgroupMap, option: "--cgroupmap", key: "u64 cgroup id", value: "u64")
            text += """
            BPF_TABLE_PINNED("hash", u64, u64, cgroupset, 1024, "\(cgroupMap)");
            static inline int _cgroup_filter() {
                u64 cgroupid = bpf_get_current_cgroup_id();
                return cgroupset.lookup(&cgroupid) == NULL;
            }

            """
        } else {
            text += "static inline int _cgroup_filter() { return 0; }\n"
        }
        if let mountNamespaceMap {
            try checkPinned(mountNamespaceMap, option: "--mntnsmap", key: "u64 mount namespace inode", value: "u32")
            text += KernelFields.cHelpers([.mountNamespace])
            text += """
            BPF_TABLE_PINNED("hash", u64, u32, mount_ns_set, 1024, "\(mountNamespaceMap)");
            static inline int _mntns_filter() {
                u64 ns_id = bcctools_task_mntns((void *)bpf_get_current_task());
                return mount_ns_set.lookup(&ns_id) == NULL;
            }

            """
        } else {
            text += "static inline int _mntns_filter() { return 0; }\n"
        }
        text += "static inline int container_should_be_filtered() { return _cgroup_filter() || _mntns_filter(); }\n"
        return text
    }

    static func checkPinned(_ path: String, option: String, key: String, value: String) throws {
        guard !path.contains("\""), !path.contains("\\") else {
            throw BPFError.invalidArgument("\(option) \(path): the path may not contain quotes or backslashes.")
        }
        var st = stat()
        guard stat(path, &st) == 0 else {
            let code = errno
            throw BPFError.invalidArgument("\(option) \(path): \(String(cString: strerror(code))); give the path of a "
                + "pinned BPF hash map (key \(key), value \(value)) on a bpffs such as /sys/fs/bpf, "
                + "created e.g. with SwiftBCC's Table.pin(_:) or bpftool map create.")
        }
    }
}
