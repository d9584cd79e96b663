/// One parsed trace_pipe line. Python: the tuple `trace_fields()` returns,
/// `(task, pid, cpu, flags, ts, msg)`.
public struct TraceFields: Hashable, Sendable, CustomStringConvertible {
    /// The task's comm (`<...>` when the kernel did not record it).
    public var task: String
    /// The thread id the kernel recorded (the `-1234` after the task).
    public var pid: Int
    /// The CPU the line was written on (`[001]`).
    public var cpu: Int
    /// The irq/preempt flags column, e.g. `d..31` or `....`; empty when the kernel omits it.
    public var flags: String
    /// Seconds since boot.
    public var timestamp: Double
    /// The printed message, after the `bpf_trace_printk:` (or `0x...:`) tag.
    public var message: String
    /// The thread group id, when the line has the `(tgid)` column (`record-tgid` option).
    public var tgid: Int?

    /// A parsed line from its fields.
    public init(task: String, pid: Int, cpu: Int, flags: String, timestamp: Double, message: String, tgid: Int? = nil) {
        self.task = task; self.pid = pid; self.cpu = cpu; self.flags = flags
        self.timestamp = timestamp; self.message = message; self.tgid = tgid
    }

    /// The fields as Python prints the tuple: `(task, pid, cpu, flags, ts, msg)`.
    public var description: String {
        "(\(task), \(pid), \(cpu), \(flags), \(timestamp), \(message))"
    }

    /// Parses a trace_pipe line. Handles the current format
    /// (`  task-pid  [cpu] flags  ts: bpf_trace_printk: msg`), the format with a tgid column
    /// (`task-pid (tgid) [cpu] ...`), lines without the flags column, and the older
    /// `ts: 0x00000001: msg` / `ts: : msg` tags. Returns nil for lines that are not events
    /// (e.g. `CPU:1 [LOST 3 EVENTS]`).
    public static func parse(_ line: String) -> TraceFields? {
        if line.hasPrefix("CPU:") { return nil }
        let chars = Array(line.utf8)
        // The timestamp ends at the first ": " after "[cpu]".
        guard let lb = chars.firstIndex(of: UInt8(ascii: "[")),
              let rb = chars[lb...].firstIndex(of: UInt8(ascii: "]")) else { return nil }
        guard let cpu = Int(String(decoding: chars[(lb + 1)..<rb], as: UTF8.self)
            .trimmingCharacters(in: " ")) else { return nil }
        // Left of "[": "task-pid" optionally followed by "(tgid)".
        var left = String(decoding: chars[..<lb], as: UTF8.self).trimmingCharacters(in: " ")
        var tgid: Int?
        if left.hasSuffix(")"), let open = left.lastIndex(of: "(") {
            let inner = left[left.index(after: open)..<left.index(before: left.endIndex)].trimmingCharacters(in: " ")
            tgid = Int(inner)
            left = String(left[..<open]).trimmingCharacters(in: " ")
        }
        guard let dash = left.lastIndex(of: "-"), let pid = Int(left[left.index(after: dash)...]) else { return nil }
        let task = String(left[..<dash])
        // Right of "]": "flags ts: tag: msg" or "ts: tag: msg".
        let right = String(decoding: chars[(rb + 1)...], as: UTF8.self)
        guard let tsEnd = right.firstIndex(of: ":") else { return nil }
        let head = right[..<tsEnd].split(separator: " ", omittingEmptySubsequences: true)
        guard let tsText = head.last, let ts = Double(tsText) else { return nil }
        let flags = head.count >= 2 ? String(head[head.count - 2]) : ""
        // After the timestamp: ": <tag>: msg". Python: msg = line[sym_end + 2:].
        var rest = right[right.index(after: tsEnd)...]
        if rest.hasPrefix(" ") { rest = rest.dropFirst() }
        let message: String
        if let tagEnd = rest.firstIndex(of: ":") {
            var m = rest[rest.index(after: tagEnd)...]
            if m.hasPrefix(" ") { m = m.dropFirst() }
            message = String(m)
        } else {
            message = String(rest)
        }
        return TraceFields(task: task, pid: pid, cpu: cpu, flags: flags, timestamp: ts, message: message, tgid: tgid)
    }

    /// Formats with Python `str.format`-style positional fields: `{0}` task, `{1}` pid,
    /// `{2}` cpu, `{3}` flags, `{4}` timestamp, `{5}` message; `{{`/`}}` are literal braces.
    public func format(_ fmt: String) -> String {
        let values: [String] = [task, String(pid), String(cpu), flags, String(timestamp), message]
        var out = ""
        var i = fmt.startIndex
        while i < fmt.endIndex {
            let c = fmt[i]
            if c == "{" {
                let next = fmt.index(after: i)
                if next < fmt.endIndex && fmt[next] == "{" { out.append("{"); i = fmt.index(after: next); continue }
                if let close = fmt[next...].firstIndex(of: "}") {
                    let field = fmt[next..<close].split(separator: ":", maxSplits: 1).first.map(String.init) ?? ""
                    if let n = Int(field), n >= 0, n < values.count {
                        out += values[n]
                        i = fmt.index(after: close)
                        continue
                    }
                }
            } else if c == "}" {
                let next = fmt.index(after: i)
                if next < fmt.endIndex && fmt[next] == "}" { out.append("}"); i = fmt.index(after: next); continue }
            }
            out.append(c)
            i = fmt.index(after: i)
        }
        return out
    }
}

extension StringProtocol {
    func trimmingCharacters(in set: Character) -> String {
        var s = Substring(self)
        while s.first == set { s = s.dropFirst() }
        while s.last == set { s = s.dropLast() }
        return String(s)
    }
}
