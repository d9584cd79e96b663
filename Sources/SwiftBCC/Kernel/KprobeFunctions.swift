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
        guard let kallsyms = FileIO.readBytes("/proc/kallsyms") else {
            throw BPFError.systemCall(name: "open(/proc/kallsyms)", errno: .current, detail: "cannot list kernel symbols")
        }
        let candidates = kprobeCandidates(kallsyms: kallsyms, regex: regex, prefixes: RegexPrefixes.literalPrefixes(eventRe))
        guard !candidates.isEmpty else { return [] }
        let blacklist = kprobeBlacklist()
        let traceable = availableFilterFunctions(among: candidates)
        return candidates.filter { !blacklist.contains($0) && (traceable?.contains($0) ?? true) }
    }

    /// The text symbols of a kallsyms file (`address type name [module]` lines) that a kprobe
    /// could go on (Python's rules: not in the init or irq-entry sections, no NOKPROBE
    /// `_kbl_addr_*`, perf, `__SCT__` or `.cold` symbols) and whose names `regex` matches from
    /// their start. The scan reads bytes: a `String` is made only of a name that starts with one
    /// of `prefixes` (every name the regex can match does; nil: no such prefix is known), so the
    /// regex runs on a handful of names, not on 100,000 (seconds under qemu TCG).
    static func kprobeCandidates(kallsyms: [UInt8], regex: Regex<AnyRegexOutput>, prefixes: [[UInt8]]?) -> Set<String> {
        var result = Set<String>()
        var inInit = 0, inIrq = 0
        kallsyms.withUnsafeBufferPointer { all in
            var lineStart = 0
            while lineStart < all.count {
                var lineEnd = lineStart
                while lineEnd < all.count, all[lineEnd] != 0x0a { lineEnd += 1 }
                defer { lineStart = lineEnd + 1 }
                let fields = KallsymsLine(all, lineStart..<lineEnd)
                let typeField = fields.type, nameField = fields.name
                guard typeField.count == 1, !nameField.isEmpty else { continue }
                let name = UnsafeBufferPointer(rebasing: all[nameField])
                func isName(_ s: StaticString) -> Bool {
                    name.count == s.utf8CodeUnitCount && memcmp(name.baseAddress!, s.utf8Start, name.count) == 0
                }
                func hasPrefix(_ s: StaticString) -> Bool {
                    name.count >= s.utf8CodeUnitCount && memcmp(name.baseAddress!, s.utf8Start, s.utf8CodeUnitCount) == 0
                }
                // Skip everything between __init_begin and __init_end.
                if inInit == 0 {
                    if isName("__init_begin") { inInit = 1; continue }
                } else if inInit == 1 {
                    if isName("__init_end") { inInit = 2 }
                    continue
                }
                // And between __irqentry_text_start and __irqentry_text_end (the end may come
                // first when the section is empty).
                if inIrq == 0 {
                    if isName("__irqentry_text_start") { inIrq = 1; continue }
                    if isName("__irqentry_text_end") { inIrq = 2; continue }
                } else if inIrq == 1 {
                    if isName("__irqentry_text_end") { inIrq = 2 }
                    continue
                }
                let type = all[typeField.lowerBound]
                guard type == UInt8(ascii: "t") || type == UInt8(ascii: "T") || type == UInt8(ascii: "w") || type == UInt8(ascii: "W") else {
                    continue
                }
                if hasPrefix("_kbl_addr_") || hasPrefix("__perf") || hasPrefix("perf_") || hasPrefix("__SCT__") { continue }
                if let prefixes, !prefixes.contains(where: { name.starts(with: $0) }) { continue }
                let fn = String(decoding: name, as: UTF8.self)
                if isColdClone(Substring(fn)) { continue }
                if fn.prefixMatch(of: regex) != nil { result.insert(fn) }
            }
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

    /// Those of `names` that ftrace lists as traceable (`available_filter_functions`), or nil
    /// when tracefs does not let us read that file. Only the first word of each line is
    /// compared, as bytes, with the few names asked.
    static func availableFilterFunctions(among names: Set<String>) -> Set<String>? {
        let wanted = names.map { ($0, Array($0.utf8)) }
        for root in Tracefs.candidates {
            guard let text = FileIO.readBytes(root + "/available_filter_functions"), !text.isEmpty else { continue }
            var found = Set<String>()
            // Many names (a pattern like ".*"): the words of every line in a set, then look up.
            if names.count > 64 {
                var all = Set<String>()
                for line in text.split(separator: 0x0a) {
                    if let first = line.split(separator: 0x20, maxSplits: 1).first { all.insert(String(decoding: first, as: UTF8.self)) }
                }
                return names.intersection(all)
            }
            text.withUnsafeBufferPointer { all in
                var lineStart = 0
                while lineStart < all.count {
                    var end = lineStart
                    while end < all.count, all[end] != 0x0a, all[end] != 0x20 { end += 1 }
                    let word = UnsafeBufferPointer(rebasing: all[lineStart..<end])
                    for (name, bytes) in wanted where bytes.count == word.count && word.elementsEqual(bytes) { found.insert(name) }
                    while end < all.count, all[end] != 0x0a { end += 1 }
                    lineStart = end + 1
                }
            }
            return found
        }
        return nil
    }
}

/// The literal text that every match of a regular expression must start with: one prefix per
/// top-level alternative (`^finish_task_switch$|^finish_task_switch\.isra\.\d$` gives
/// `finish_task_switch` twice), so a scan can skip names that start with none of them before
/// running the regex. Nil when some alternative has no literal start (`.*`, `[a-z]_foo`,
/// `x*y`), or the pattern has inline options (`(?i)`) or non-ASCII text.
enum RegexPrefixes {
    static func literalPrefixes(_ pattern: String) -> [[UInt8]]? {
        let p = Array(pattern.utf8)
        guard !p.contains(where: { $0 >= 0x80 }) else { return nil }
        for i in p.indices.dropLast() where p[i] == UInt8(ascii: "(") && p[i + 1] == UInt8(ascii: "?") { return nil }
        // The top-level alternatives: a `|` outside parentheses and brackets, not escaped.
        var alternatives: [ArraySlice<UInt8>] = []
        var depth = 0, inClass = false, start = 0, i = 0
        while i < p.count {
            let c = p[i]
            if c == UInt8(ascii: "\\") { i += 2; continue }
            if inClass {
                if c == UInt8(ascii: "]") { inClass = false }
            } else if c == UInt8(ascii: "[") {
                inClass = true
            } else if c == UInt8(ascii: "(") {
                depth += 1
            } else if c == UInt8(ascii: ")") {
                depth -= 1
            } else if c == UInt8(ascii: "|") && depth == 0 {
                alternatives.append(p[start..<i])
                start = i + 1
            }
            i += 1
        }
        alternatives.append(p[start..<p.count])
        let special = Array("\\.[]()*+?{}|$^".utf8)
        var prefixes: [[UInt8]] = []
        for alternative in alternatives {
            var literal: [UInt8] = []
            for c in alternative.drop(while: { $0 == UInt8(ascii: "^") }) {
                if special.contains(c) {
                    // A quantifier that allows zero makes the character before it optional.
                    if c == UInt8(ascii: "*") || c == UInt8(ascii: "?") || c == UInt8(ascii: "{") { _ = literal.popLast() }
                    break
                }
                literal.append(c)
            }
            if literal.isEmpty { return nil }
            prefixes.append(literal)
        }
        return prefixes
    }
}
