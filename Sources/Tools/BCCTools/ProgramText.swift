import SwiftBCC

/// A BPF program's text and the substitutions the Python tools make in it: placeholders such
/// as `PID_FILTER` replaced by a C statement (or by nothing), and `#define`s put in front.
public struct ProgramText: Sendable, CustomStringConvertible {
    /// The program text with the substitutions made so far.
    public private(set) var text: String

    /// The program text before any substitution.
    public init(_ text: String) { self.text = text }

    /// The text (what `--ebpf` prints).
    public var description: String { text }

    /// Replaces every `placeholder` with `replacement` (Python: `bpf_text.replace(...)`).
    public mutating func replace(_ placeholder: String, with replacement: String) {
        text = text.replacing(placeholder, with: replacement)
    }

    /// Replaces `placeholder` with `if (<condition>) { return 0; }` when `condition` is given,
    /// else with nothing: the filter statements the tools use (`if (pid != 123) { return 0; }`).
    public mutating func filter(_ placeholder: String, skipIf condition: String?) {
        replace(placeholder, with: condition.map { "if (\($0)) { return 0; }" } ?? "")
    }

    /// Puts `#define name value` in front (Python: `text = "#define X %d\n" % v + text`).
    public mutating func define(_ name: String, _ value: String = "") {
        text = "#define \(name)\(value.isEmpty ? "" : " " + value)\n" + text
    }

    /// Puts `code` in front of the program.
    public mutating func prepend(_ code: String) { text = code + text }

    /// Appends `code`.
    public mutating func append(_ code: String) { text += code }

    /// Drops every line containing `marker` (opensnoop's `EXTENDED_STRUCT_MEMBER` lines).
    public mutating func removeLines(containing marker: String) {
        text = text.split(separator: "\n", omittingEmptySubsequences: false)
            .filter { !$0.contains(marker) }.joined(separator: "\n")
    }
}

/// The pid/tid/uid filters the tools share, as C conditions on the variables `pid`, `tid`
/// and `uid` the programs define (`u32 pid = id >> 32; u32 tid = id; u32 uid = ...`).
public struct TaskFilter: Sendable {
    /// Only this process (tgid), or nil for every process.
    public var pid: Int?
    /// Only this thread, or nil for every thread.
    public var tid: Int?
    /// Only this user id, or nil for every user (0 filters: root).
    public var uid: Int?

    /// The filters given; nil ones do not filter.
    public init(pid: Int? = nil, tid: Int? = nil, uid: Int? = nil) {
        self.pid = pid
        self.tid = tid
        self.uid = uid
    }

    /// `tid != N` when a tid is given (the tid trumps the pid, as in opensnoop), else
    /// `pid != N`, else nil.
    public var pidTidCondition: String? {
        if let tid { return "tid != \(tid)" }
        if let pid { return "pid != \(pid)" }
        return nil
    }

    /// `uid != N`, or nil.
    public var uidCondition: String? { uid.map { "uid != \($0)" } }

    /// Applies `PID_TID_FILTER` (or the placeholder given) and `UID_FILTER` to `text`.
    public func apply(to text: inout ProgramText, pidTid: String = "PID_TID_FILTER", uid uidPlaceholder: String = "UID_FILTER") {
        text.filter(pidTid, skipIf: pidTidCondition)
        text.filter(uidPlaceholder, skipIf: uidCondition)
    }
}
