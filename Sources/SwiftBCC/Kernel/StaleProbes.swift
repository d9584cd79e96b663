import Glibc

/// Probes left in tracefs by dead processes.
///
/// When libbcc cannot create a k/uprobe through the perf PMU (a kretprobe with `maxActive`,
/// or an old kernel), it writes the probe into tracefs `kprobe_events` / `uprobe_events` as
/// `<event>_bcc_<pid>`. Those entries outlive a process that is killed before it can clean up
/// (SIGKILL, a crash). SwiftBCC removes entries whose pid is gone when a `BPF` is created, so
/// a killed tool leaves nothing behind for long. Entries of live processes are never touched.
enum StaleProbes {
    /// The `<group>/<event>` names in `file` that belong to dead processes.
    static func stale(in text: String) -> [String] {
        var result: [String] = []
        for line in text.split(separator: "\n") {
            // "p:kprobes/p_do_sys_open_bcc_1234 do_sys_open" or "r16:kprobes/... fn"
            guard let colon = line.firstIndex(of: ":") else { continue }
            let rest = line[line.index(after: colon)...]
            let name = rest.split(separator: " ", maxSplits: 1).first.map(String.init) ?? ""
            guard let marker = name.ranges(of: "_bcc_").last,
                  let pid = Int32(name[marker.upperBound...]), pid > 0 else { continue }
            if kill(pid, 0) != 0 && errno == ESRCH { result.append(name) }
        }
        return result
    }

    /// Removes dead processes' entries from kprobe_events and uprobe_events; returns them.
    @discardableResult
    static func reap() -> [String] {
        guard let root = Tracefs.root else { return [] }
        var removed: [String] = []
        for file in ["kprobe_events", "uprobe_events"] {
            let path = root + "/" + file
            guard let text = FileIO.read(path), !text.isEmpty else { continue }
            for name in stale(in: text) where FileIO.write(path, "-:\(name)\n", append: true) == 0 {
                removed.append(name)
            }
        }
        return removed
    }
}
