internal import CBCC
import Glibc

extension BPF {
    /// Attaches `fnName` as a kprobe to every kernel function matching `eventRe`
    /// (``getKprobeFunctions(_:)``) and returns the functions attached. Python's rule, kept on
    /// purpose because a broad pattern always meets functions that cannot be probed: a function
    /// that refuses the probe is skipped, and only when all refuse does it throw (the first
    /// error, e.g. `.kprobesUnavailable`), leaving nothing attached or loaded. (Unlike
    /// `attachTracepoint(tpRe:)` and `attachUprobe(symRe:)`, which are all or nothing.) A
    /// function that does not load (`.functionNotFound`, `.loadFailed`) throws at once.
    ///
    /// Python: `b.attach_kprobe(event_re=, fn_name=)`.
    @discardableResult
    public func attachKprobe(eventRe: String, fnName: String) throws -> [String] {
        try attachKprobes(eventRe: eventRe, fnName: fnName, isReturn: false, maxActive: 0)
    }

    /// Attaches `fnName` as a kretprobe to every kernel function matching `eventRe`, skipping
    /// those that refuse it as ``attachKprobe(eventRe:fnName:)`` does.
    /// Python: `b.attach_kretprobe(event_re=, fn_name=, maxactive=0)`.
    @discardableResult
    public func attachKretprobe(eventRe: String, fnName: String, maxActive: Int32 = 0) throws -> [String] {
        try attachKprobes(eventRe: eventRe, fnName: fnName, isReturn: true, maxActive: maxActive)
    }

    private func attachKprobes(eventRe: String, fnName: String, isReturn: Bool, maxActive: Int32) throws -> [String] {
        let matches = try Self.getKprobeFunctions(eventRe).sorted()
        guard !matches.isEmpty else {
            throw BPFError.symbolNotFound(symbol: "matching /\(eventRe)/", binary: "the kernel (traceable functions of /proc/kallsyms)")
        }
        return try state.withLock { s in
            try Self.checkProbeQuota(matches.count, open: s.attachments.count(.uprobe) + s.attachments.count(.kprobe))
            // Loaded once for all matches; unloaded again when every attach fails.
            return try withFunction(&s, fnName, type: .kprobe) { s, _ in
                var attached: [String] = []
                var firstError: Error?
                for event in matches {
                    do {
                        try attachKprobe(&s, event: event, fnName: fnName, offset: 0,
                                         maxActive: isReturn ? maxActive : 0, isReturn: isReturn)
                        attached.append(event)
                    } catch {
                        if firstError == nil { firstError = error }
                        // Without kprobes every attach fails the same way: stop at the first.
                        if case BPFError.kprobesUnavailable = error { break }
                    }
                }
                if attached.isEmpty, let firstError { throw firstError }
                return attached
            }
        }
    }
}
