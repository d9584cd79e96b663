import Glibc
import SwiftBCC

/// Stack ids as `get_stackid` hands them out, and the stack output of profile and offcputime:
/// the multi-line form (kernel frames, `--`, user frames, `-  comm (pid)`, the value) and the
/// folded form (`comm;user frames;-;kernel frames value`, one line per stack, for flame graphs).
public enum StackIDs {
    /// A failed `get_stackid`: negative, but not `-EFAULT` (no stack of that kind here, such as
    /// the kernel stack of code running in user space), as the Python tools' `stack_id_err`.
    public static func isError(_ id: Int32) -> Bool { id < 0 && id != -EFAULT }

    /// The frames of stack `id` in `table`, innermost first; none for a negative id.
    public static func frames(_ table: Table, _ id: Int32) throws -> [UInt64] {
        id < 0 ? [] : try table.walk(id)
    }
}

/// Which stacks a tool shows and how: `-U` (user only), `-K` (kernel only), `-d` (a delimiter
/// between them), `-a` (`_[k]` after kernel frames, profile's), `-f` (folded).
public struct StackStyle: Sendable {
    /// `-U`: user stacks only.
    public var userOnly: Bool
    /// `-K`: kernel stacks only.
    public var kernelOnly: Bool
    /// `-d`: a `--` line (or `-` in folded output) between the user and kernel frames.
    public var delimited: Bool
    /// `-a`: `_[k]` after each kernel frame (profile).
    public var annotations: Bool
    /// `-f`: one folded line per stack (`comm;frames... value`), for flame graphs.
    public var folded: Bool

    /// The style of these flags (all off: both stacks, multi-line).
    public init(userOnly: Bool = false, kernelOnly: Bool = false, delimited: Bool = false,
                annotations: Bool = false, folded: Bool = false) {
        self.userOnly = userOnly
        self.kernelOnly = kernelOnly
        self.delimited = delimited
        self.annotations = annotations
        self.folded = folded
    }

    /// `-d` takes effect only when both stacks are shown.
    public var needDelimiter: Bool { delimited && !(kernelOnly || userOnly) }

    /// "user", "kernel" or "user + kernel", for the tools' first line.
    public var context: String { userOnly ? "user" : kernelOnly ? "kernel" : "user + kernel" }

    /// The C expressions that get the two stack ids (`-1` for the one not shown).
    public func stackGets(ctx: String) -> (user: String, kernel: String) {
        (kernelOnly ? "-1" : "stack_traces.get_stackid(\(ctx), BPF_F_USER_STACK)",
         userOnly ? "-1" : "stack_traces.get_stackid(\(ctx), 0)")
    }
}

/// One stack of a profile/offcputime summary: who, the two stack ids and their frames already
/// symbolized (innermost first), and the value (samples, or microseconds off CPU).
public struct StackRecord: Sendable {
    /// The task's command name.
    public var comm: String
    /// Its process id.
    public var pid: UInt32
    /// The user stack's id in the stack table (negative: none, or not collected).
    public var userStackID: Int32
    /// The kernel stack's id (negative: none, or not collected).
    public var kernelStackID: Int32
    /// The user frames, symbolized, innermost first.
    public var user: [String]
    /// The kernel frames, symbolized, innermost first.
    public var kernel: [String]
    /// The count or the time this stack sums.
    public var value: UInt64

    /// A record with these fields.
    public init(comm: String, pid: UInt32, userStackID: Int32, kernelStackID: Int32,
                user: [String], kernel: [String], value: UInt64) {
        self.comm = comm
        self.pid = pid
        self.userStackID = userStackID
        self.kernelStackID = kernelStackID
        self.user = user
        self.kernel = kernel
        self.value = value
    }
}

extension StackStyle {
    /// The stack ids of `record` that count as missing for the closing warning (a kernel id when
    /// kernel stacks are shown, a user id when user stacks are), as the Python tools count them.
    public func missing(_ record: StackRecord) -> [Int32] {
        var ids: [Int32] = []
        if !userOnly && StackIDs.isError(record.kernelStackID) { ids.append(record.kernelStackID) }
        if !kernelOnly && StackIDs.isError(record.userStackID) { ids.append(record.userStackID) }
        return ids
    }

    /// A kernel frame as printed: with `-a`, `_[k]` after it.
    public func kernelFrame(_ name: String) -> String { annotations ? name + "_[k]" : name }

    /// The folded line: `comm;outermost user frame;...;-;...;innermost kernel frame value`.
    /// A failed stack id shows as `[Missed User Stack]` / `[Missed Kernel Stack]`.
    public func foldedLine(_ r: StackRecord) -> String {
        var line = [r.comm]
        if !kernelOnly {
            if StackIDs.isError(r.userStackID) {
                line.append("[Missed User Stack]")
            } else {
                line += r.user.reversed()
            }
        }
        if !userOnly {
            if needDelimiter && r.kernelStackID >= 0 && r.userStackID >= 0 { line.append("-") }
            if StackIDs.isError(r.kernelStackID) {
                line.append("[Missed Kernel Stack]")
            } else {
                line += r.kernel.reversed().map(kernelFrame)
            }
        }
        return line.joined(separator: ";") + " \(r.value)"
    }

    /// The multi-line form: four-space-indented kernel frames (innermost first), `    --`, user
    /// frames, `    -                <comm> (<pid>)`, `        <value>` and an empty line.
    public func multiLine(_ r: StackRecord) -> [String] {
        var lines: [String] = []
        if !userOnly {
            if StackIDs.isError(r.kernelStackID) {
                lines.append("    [Missed Kernel Stack]")
            } else {
                lines += r.kernel.map { "    " + kernelFrame($0) }
            }
        }
        if !kernelOnly {
            if needDelimiter && r.userStackID >= 0 && r.kernelStackID >= 0 { lines.append("    --") }
            if StackIDs.isError(r.userStackID) {
                lines.append("    [Missed User Stack]")
            } else {
                lines += r.user.map { "    " + $0 }
            }
        }
        lines.append("    \(pad("-", 16)) \(r.comm) (\(r.pid))")
        lines.append("        \(r.value)")
        lines.append("")
        return lines
    }

    /// The lines for `r`: folded or multi-line.
    public func lines(_ r: StackRecord) -> [String] { folded ? [foldedLine(r)] : multiLine(r) }
}

/// Sorts summary entries by value, smallest first, as the Python tools' `sorted(counts.items(),
/// key=value)` (stable: equal values keep the map's order).
public func sortedByValue<K, V: Comparable>(_ items: [(key: K, value: V)]) -> [(key: K, value: V)] {
    items.enumerated().sorted { a, b in
        a.element.value != b.element.value ? a.element.value < b.element.value : a.offset < b.offset
    }.map(\.element)
}
