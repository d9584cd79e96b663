internal import CBCC
import Glibc

/// The BPF programs loaded in the kernel, machine-wide (like `bpftool prog list`), found by
/// iterating program ids with the bpf syscall. Used to check that nothing is left behind.
public enum KernelObjects {
    /// One loaded program: its id, type and (up to 15-character) name.
    public struct Program: Hashable, Sendable {
        public let id: UInt32
        public let type: ProgramType
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

    /// The kernel's name for a program loaded from function `functionName`: libbcc drops a
    /// `kprobe__`, `tracepoint__` or `raw_tracepoint__` prefix and the kernel keeps 15 bytes.
    public static func programName(forFunction functionName: String) -> String {
        var name = Substring(functionName)
        for prefix in ["kprobe__", "tracepoint__", "raw_tracepoint__"] where name.hasPrefix(prefix) {
            name = name.dropFirst(prefix.count)
            break
        }
        return String(decoding: Array(name.utf8.prefix(15)), as: UTF8.self)
    }

    /// The number of this process's open perf event file descriptors (kprobes, uprobes,
    /// tracepoints and perf buffers each hold one or more).
    public static func openPerfEventFDs() -> Int {
        FileIO.listDirectory("/proc/self/fd").filter {
            FileIO.readLink("/proc/self/fd/" + $0) == "anon_inode:[perf_event]"
        }.count
    }
}
