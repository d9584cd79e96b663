// Where SwiftBCC's warnings go: one overridable sink (`BPF.logHandler`).

private let sinkLock = Lock()
nonisolated(unsafe) private var sinkHandler: (@Sendable (String) -> Void)?

extension BPF {
    /// Receives each warning SwiftBCC writes about an operation that went on anyway: kernel
    /// headers of another kernel, an IFUNC resolved to a fallback address, a kprobe replaced by
    /// a tracepoint (`attachSyscall`). It gets the line without its newline, exactly as
    /// SwiftBCC would print it (`"SwiftBCC warning: kernel headers in ..."`).
    ///
    /// nil (the default) writes each line to stderr. Set it before creating a `BPF` to send the
    /// lines elsewhere, e.g. to swift-log: `BPF.logHandler = { logger.warning("\($0)") }`; set
    /// it back to nil to restore stderr. Warnings said once per process stay once.
    ///
    /// Not routed here: what libbcc itself prints while it compiles or attaches (clang
    /// warnings, `DEBUG_*` output), which SwiftBCC captures and passes through to stderr, and
    /// errors, which are thrown as `BPFError`.
    public static var logHandler: (@Sendable (String) -> Void)? {
        get { sinkLock.withLock { sinkHandler } }
        set { sinkLock.withLock { sinkHandler = newValue } }
    }
}

/// Sends one warning line to `BPF.logHandler`, or to stderr.
func logWarning(_ line: String) {
    if let handler = BPF.logHandler {
        handler(line)
    } else {
        writeAll(Array((line + "\n").utf8), to: 2)
    }
}
