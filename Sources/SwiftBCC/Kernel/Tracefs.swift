import Glibc

/// Where tracefs is mounted. Python BCC looks at /sys/kernel/debug/tracing first, then
/// /sys/kernel/tracing; either works when it has a `trace_pipe`.
public enum Tracefs {
    /// The mount points tried, in order: `/sys/kernel/tracing`, then `/sys/kernel/debug/tracing`.
    /// Python: `bcc.TRACEFS` (which tries them in the other order).
    public static let candidates = ["/sys/kernel/tracing", "/sys/kernel/debug/tracing"]

    /// The tracefs root, or nil when neither candidate is mounted.
    public static var root: String? {
        candidates.first { access($0 + "/trace_pipe", F_OK) == 0 }
    }

    static func requireRoot() throws -> String {
        guard let root else { throw BPFError.tracefsUnavailable(searched: candidates) }
        return root
    }
}
