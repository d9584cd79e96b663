internal import CBCC
import Glibc

/// The BPF programs loaded in the kernel, machine-wide (like `bpftool prog list`), found by
/// iterating program ids with the bpf syscall. Used to check that nothing is left behind.
public enum KernelObjects {
    /// One loaded program: its id, type and (up to 15-character) name.
    public struct Program: Hashable, Sendable {
        /// The program's kernel id (as `bpftool prog show id N` takes it).
        public let id: UInt32
        /// The program's type.
        public let type: ProgramType
        /// The program's name: its function name, cut to 15 characters by the kernel.
        public let name: String
    }

    /// Every program the kernel has loaded now (needs CAP_SYS_ADMIN to see them).
    public static func programs() -> [Program] {
        var result: [Program] = []
        var id: UInt32 = 0
        while swiftbcc_prog_get_next_id(id, &id) == 0 {
            let fd = swiftbcc_prog_get_fd_by_id(id)
            guard fd >= 0 else { continue }
            defer { close(fd) }
            var info = bpf_prog_info()
            var len = UInt32(MemoryLayout<bpf_prog_info>.size)
            guard swiftbcc_obj_get_info_by_fd(fd, &info, &len) == 0 else { continue }
            let name = withUnsafePointer(to: info.name) {
                $0.withMemoryRebound(to: CChar.self, capacity: 16) { String(cString: $0) }
            }
            result.append(Program(id: info.id, type: ProgramType(rawValue: Int32(info.type)), name: name))
        }
        return result
    }

    /// The ids of every BPF map the kernel has now.
    public static func mapIDs() -> Set<UInt32> { ids(swiftbcc_map_get_next_id) }

    /// The ids of every BPF link the kernel has now (XDP, raw tracepoint, kfunc/LSM links).
    public static func linkIDs() -> Set<UInt32> { ids(swiftbcc_link_get_next_id) }

    private static func ids(_ next: (UInt32, UnsafeMutablePointer<UInt32>) -> Int32) -> Set<UInt32> {
        var result = Set<UInt32>()
        var id: UInt32 = 0
        while next(id, &id) == 0 { result.insert(id) }
        return result
    }

    /// The kprobe and uprobe events in tracefs now (`kprobe_events`, `uprobe_events` lines):
    /// a killed tracer that used tracefs (not the perf PMUs) leaves its events here.
    public static func probeEvents() -> Set<String> {
        guard let root = Tracefs.root else { return [] }
        var lines = Set<String>()
        for file in ["kprobe_events", "uprobe_events"] {
            for line in (FileIO.read(root + "/" + file) ?? "").split(separator: "\n") { lines.insert(String(line)) }
        }
        return lines
    }

    /// The prefixes libbcc drops from a function's name before it gives the name to the kernel,
    /// in the order it tries them (the first match only), whatever the program type.
    /// libbcc 0.26: `bcc_prog_load_xattr`.
    static let libbccNamePrefixes = [
        "kprobe__", "kretprobe__", "tracepoint__", "raw_tracepoint__", "kfunc__", "kmod_ret__",
        "kretfunc__", "lsm__", "bpf_iter__",
    ]

    /// The kernel's name for a program loaded from function `functionName`: libbcc drops a
    /// `kprobe__`, `kretprobe__`, `tracepoint__`, `raw_tracepoint__`, `kfunc__`, `kmod_ret__`,
    /// `kretfunc__`, `lsm__` or `bpf_iter__` prefix and the kernel keeps 15 bytes
    /// (`kfunc__vfs_read` is `vfs_read`, `tracepoint__syscalls__sys_enter_getpid` is
    /// `syscalls__sys_e`).
    public static func programName(forFunction functionName: String) -> String {
        var name = Substring(functionName)
        if let prefix = libbccNamePrefixes.first(where: { name.hasPrefix($0) }) {
            name = name.dropFirst(prefix.count)
        }
        return String(decoding: Array(name.utf8.prefix(15)), as: UTF8.self)
    }

    /// This process's open perf event file descriptors (kprobes, uprobes, tracepoints, perf
    /// events and perf buffers each hold one or more). Compare sets, not counts: which fds a
    /// `BPF` opened is `after.subtracting(before)`, whatever else closes meanwhile.
    public static func openPerfEventFDs() -> Set<Int32> {
        Set(FileIO.listDirectory("/proc/self/fd").compactMap { name in
            FileIO.readLink("/proc/self/fd/" + name) == "anon_inode:[perf_event]" ? Int32(name) : nil
        })
    }
}
