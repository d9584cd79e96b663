// Where SwiftBCC's warnings go: one overridable sink (`BPF.logHandler`).

private let sink = LockedBox<(@Sendable (String) -> Void)?>(nil)

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
    /// With a handler set, what libbcc itself prints on stderr while it compiles, loads or
    /// attaches and SwiftBCC passes on (clang warnings, `DEBUG_*` output) comes here too, line
    /// by line; without one it goes to stderr as it was. Errors are thrown as `BPFError`, not
    /// logged.
    public static var logHandler: (@Sendable (String) -> Void)? {
        get { sink.withLock { $0 } }
        set { sink.withLock { $0 = newValue } }
    }
}

/// Passes on what libbcc printed: to `BPF.logHandler` line by line when one is set, else to
/// stderr byte for byte.
func passOnLibbccOutput(_ text: String) {
    if let handler = BPF.logHandler {
        for line in text.split(separator: "\n", omittingEmptySubsequences: false).dropLast(text.hasSuffix("\n") ? 1 : 0) {
            handler(String(line))
        }
    } else {
        writeAll(Array(text.utf8), to: 2)
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
