import Glibc

/// A reader of tracefs `trace_pipe`, line by line. Reading consumes the lines: every reader
/// on the machine shares the one pipe.
///
/// Safe across threads: readers take turns (the line buffer is shared), and `close()` from
/// another thread wakes a blocked reader, which then throws `.closed`; the fd is closed only
/// once no reader uses it, so its number cannot be reused under a reader.
final class TracePipe: @unchecked Sendable {
    private let fd: Int32
    private let wake = WakeFD()
    /// The line buffer; locked by the one reader reading now.
    private struct Lines {
        var buffer: [UInt8] = []
        var start = 0
    }
    private let lines = LockedBox(Lines())
    private struct Users {
        var closed = false
        var readers = 0
    }
    private let users = LockedBox(Users())

    init() throws {
        let root = try Tracefs.requireRoot()
        let path = root + "/trace_pipe"
        switch LibBCC.call("open", { open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK) }) {
        case .success(let fd): self.fd = fd
        case .failure(let failure):
            throw BPFError.from(.system(name: "open(\(path))", operation: "opening \(path)"), failure,
                                hint: "cannot read the trace pipe")
        }
    }

    /// Stops the pipe: wakes a blocked reader, and closes the fd now or when the last reader leaves.
    func close() {
        users.withLock { u in
            guard !u.closed else { return }
            u.closed = true
            wake.signal()
            if u.readers == 0 { Glibc.close(fd) }
        }
    }

    /// The next line without its line end (and trailing whitespace, as Python's `rstrip`).
    /// `timeoutMs`: 0 returns at once (nonblocking), < 0 waits until a line, a stop signal
    /// (throws `.interrupted`) or `close()` (throws `.closed`).
    func readLine(timeoutMs: Int) throws -> String? {
        try users.withLock { u in
            if u.closed { throw BPFError.closed }
            u.readers += 1
        }
        defer {
            users.withLock { u in
                u.readers -= 1
                if u.closed && u.readers == 0 { Glibc.close(fd) }
            }
        }
        return try lines.withLock { try readLine(&$0, timeoutMs: timeoutMs) }
    }

    private func readLine(_ lines: inout Lines, timeoutMs: Int) throws -> String? {
        let deadline = timeoutMs > 0 ? Interrupts.monotonicMs() + Int64(timeoutMs) : 0
        while true {
            if let nl = lines.buffer[lines.start...].firstIndex(of: UInt8(ascii: "\n")) {
                let line = Self.rstrip(lines.buffer[lines.start..<nl])
                lines.start = nl + 1
                if lines.start > 65536 { lines.buffer.removeFirst(lines.start); lines.start = 0 }
                return line
            }
            if users.withLock({ $0.closed }) { throw BPFError.closed }
            var chunk = [UInt8](repeating: 0, count: 8192)
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n > 0 {
                lines.buffer.append(contentsOf: chunk[0..<n])
                continue
            }
            if n < 0 && errno != EAGAIN && errno != EINTR {
                throw BPFError.systemCall(name: "read(trace_pipe)", errno: .current,
                                          detail: "check that tracefs is still mounted at \(Tracefs.root ?? "/sys/kernel/tracing")")
            }
            if timeoutMs == 0 { return nil }
            var wait = -1
            if timeoutMs > 0 {
                wait = Int(max(0, deadline - Interrupts.monotonicMs()))
                if wait == 0 { return nil }
            }
            switch try EventWait.wait(fds: [fd], wake: (wake.fd, -1), timeoutMs: wait, onReady: { _ in }) {
            case .ready: continue
            case .timedOut: if timeoutMs > 0 { return nil }
            case .woken: throw BPFError.closed
            }
        }
    }

    static func rstrip(_ bytes: ArraySlice<UInt8>) -> String {
        var end = bytes.endIndex
        while end > bytes.startIndex, [UInt8(ascii: " "), UInt8(ascii: "\t"), UInt8(ascii: "\r")].contains(bytes[end - 1]) {
            end -= 1
        }
        return String(decoding: bytes[bytes.startIndex..<end], as: UTF8.self)
    }
}
