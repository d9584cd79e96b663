import Glibc

extension BPF {
    /// Opens tracefs `trace_pipe` if it is not open yet. Python: `b.trace_open()`.
    public func traceOpen() throws {
        try state.withLock { s in
            if isClosed { throw BPFError.closed }
            if s.tracePipe == nil { s.tracePipe = try TracePipe() }
        }
    }

    private func pipe() throws -> TracePipe {
        try traceOpen()
        return try state.withLock { s in
            guard let p = s.tracePipe else { throw BPFError.closed }
            return p
        }
    }

    /// Reads one line from trace_pipe, as text. With `nonblocking`, returns nil when no line is
    /// waiting; with `timeout` (seconds), returns nil when none came in time; otherwise waits.
    /// Returns nil when SIGINT or SIGTERM arrives while waiting (`BPF.isInterrupted` is then
    /// true; a program that waits again anyway ends by the signal: see `Interrupts`).
    ///
    /// Python: `b.trace_readline(nonblocking=False)` (which returns bytes).
    public func traceReadline(nonblocking: Bool = false, timeout: Double? = nil) throws -> String? {
        let p = try pipe()
        if nonblocking { return try p.readLine(timeoutMs: 0) }
        return try Interrupts.waiting(or: nil) { try p.readLine(timeoutMs: Self.milliseconds(timeout)) }
    }

    /// Reads trace_pipe lines until one parses, and returns its fields (task, pid, cpu, flags,
    /// timestamp, message). Returns nil when `nonblocking` (or `timeout`) and nothing came, or
    /// when SIGINT or SIGTERM arrived (as `traceReadline`).
    ///
    /// Python: `b.trace_fields(nonblocking=False)`.
    public func traceFields(nonblocking: Bool = false, timeout: Double? = nil) throws -> TraceFields? {
        while true {
            guard let line = try traceReadline(nonblocking: nonblocking, timeout: timeout) else { return nil }
            if let fields = TraceFields.parse(line) { return fields }
            if Self.isInterrupted && !nonblocking { return nil }
        }
    }

    /// Prints trace_pipe lines on stdout until SIGINT or SIGTERM (then it returns normally,
    /// so the program can clean up and exit 0). Lines are printed as text, not as Python 3's
    /// `b'...'` reprs. With `fmt`, each line's fields are formatted as Python's
    /// `fmt.format(*fields)`: `"pid {1}, msg = {5}"`.
    ///
    /// Python: `b.trace_print(fmt=None)`.
    public func tracePrint(fmt: String? = nil) throws {
        do {
            while !Self.isInterrupted {
                let line: String?
                if let fmt {
                    line = try traceFields().map { $0.format(fmt) }
                } else {
                    line = try traceReadline()
                }
                // Skip the empty lines a "\n"-terminated bpf_trace_printk message leaves.
                if let line, !line.isEmpty { Self.printFlushed(line) }
            }
        } catch BPFError.interrupted {
            return
        }
    }

    /// A timeout in seconds as poll(2) milliseconds (for `perfBufferPoll(timeout:)` and friends): nil, negative, infinite or NaN wait
    /// forever (-1); anything else is at least 1 ms and at most Int32.max ms.
    public static func milliseconds(_ seconds: Double?) -> Int {
        guard let seconds, seconds.isFinite, seconds >= 0 else { return -1 }
        return Int(min(Double(Int32.max), max(1, (seconds * 1000).rounded(.up))))
    }

    static func printFlushed(_ line: String) {
        print(line)
        fflush(nil)
    }
}
