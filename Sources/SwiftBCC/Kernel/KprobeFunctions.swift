internal import CBCC
import Glibc

extension BPF {
    /// Where the kprobe blacklist is (debugfs); a missing or unreadable file counts as empty.
    public static let kprobeBlacklistPath = "/sys/kernel/debug/kprobes/blacklist"

    /// The kernel functions a kprobe could be attached to whose names match `eventRe` from
    /// their start (Python's `re.match`): text symbols of /proc/kallsyms, without the init and
    /// irq-entry sections, NOKPROBE (`_kbl_addr_*`), perf, `__SCT__` and `.cold` symbols and
    /// the kprobe blacklist, and limited to ftrace's `available_filter_functions` where that
    /// file is readable. Unlike Python BCC 0.26, a missing blacklist (no debugfs, or a kernel
    /// without kprobes) is treated as empty instead of raising.
    ///
    /// Python: `BPF.get_kprobe_functions(event_re)`.
    public static func getKprobeFunctions(_ eventRe: String) throws -> Set<String> {
        let regex = try compileRegex(eventRe)
        guard let kallsyms = FileIO.read("/proc/kallsyms") else {
            throw BPFError.systemCall(name: "open(/proc/kallsyms)", errno: .current, detail: "cannot list kernel symbols")
        }
        let blacklist = kprobeBlacklist()
        let traceable = availableFilterFunctions()
        var result = Set<String>()
        var inInit = 0, inIrq = 0
        for line in kallsyms.split(separator: "\n") {
            let fields = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
            guard fields.count >= 3 else { continue }
            let type = fields[1], fn = fields[2]
            // Skip everything between __init_begin and __init_end.
            if inInit == 0 {
                if fn == "__init_begin" { inInit = 1; continue }
            } else if inInit == 1 {
                if fn == "__init_end" { inInit = 2 }
                continue
            }
            // And between __irqentry_text_start and __irqentry_text_end (the end may come first
            // when the section is empty).
            if inIrq == 0 {
                if fn == "__irqentry_text_start" { inIrq = 1; continue }
                if fn == "__irqentry_text_end" { inIrq = 2; continue }
            } else if inIrq == 1 {
                if fn == "__irqentry_text_end" { inIrq = 2 }
                continue
            }
            guard type == "t" || type == "T" || type == "w" || type == "W" else { continue }
            if fn.hasPrefix("_kbl_addr_") || fn.hasPrefix("__perf") || fn.hasPrefix("perf_") || fn.hasPrefix("__SCT__") {
                continue
            }
            if isColdClone(fn) { continue }
            let name = String(fn)
            if blacklist.contains(name) { continue }
            if let traceable, !traceable.contains(name) { continue }
            if name.prefixMatch(of: regex) != nil { result.insert(name) }
        }
        return result
    }

    /// gcc's `foo.cold` and `foo.cold.12` clones.
    static func isColdClone(_ fn: Substring) -> Bool {
        if fn.hasSuffix(".cold") { return true }
        let parts = fn.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count >= 3, let last = parts.last, !last.isEmpty, last.allSatisfy(\.isNumber) else { return false }
        return parts[parts.count - 2] == "cold"
    }

    /// The function names of the kprobe blacklist; empty when the file is missing or unreadable.
    static func kprobeBlacklist() -> Set<String> {
        guard let text = FileIO.read(kprobeBlacklistPath) else { return [] }
        var names = Set<String>()
        for line in text.split(separator: "\n") {
            let fields = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
            if fields.count >= 2 { names.insert(String(fields[1])) }
        }
        return names
    }

    /// ftrace's traceable functions, or nil when tracefs does not let us read them.
    static func availableFilterFunctions() -> Set<String>? {
        for root in Tracefs.candidates {
            guard let text = FileIO.read(root + "/available_filter_functions"), !text.isEmpty else { continue }
            var names = Set<String>()
            for line in text.split(separator: "\n") {
                if let first = line.split(separator: " ", maxSplits: 1).first { names.insert(String(first)) }
            }
            return names
        }
        return nil
    }
}
