import Glibc

/// A reader of tracefs `trace_pipe`, line by line. Reading consumes the lines: every reader
/// on the machine shares the one pipe.
final class TracePipe {
    let fd: Int32
    private var buffer: [UInt8] = []
    private var start = 0

    init() throws {
        let root = try Tracefs.requireRoot()
        let path = root + "/trace_pipe"
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)
        guard fd >= 0 else {
            let err = errno
            if err == EPERM || err == EACCES {
                throw BPFError.permissionDenied(operation: "opening \(path)", errno: err)
            }
            throw BPFError.systemCall(name: "open(\(path))", errno: err, detail: "cannot read the trace pipe")
        }
        self.fd = fd
    }

    func close() { Glibc.close(fd) }

    /// The next line without its line end (and trailing whitespace, as Python's `rstrip`).
    /// `timeoutMs`: 0 returns at once (nonblocking), < 0 waits until a line or a stop signal.
    func readLine(timeoutMs: Int32) throws -> String? {
        let deadline = timeoutMs > 0 ? Interrupts.monotonicMs() + Int64(timeoutMs) : 0
        while true {
            if let nl = buffer[start...].firstIndex(of: UInt8(ascii: "\n")) {
                let line = buffer[start..<nl]
                start = nl + 1
                if start > 65536 { buffer.removeFirst(start); start = 0 }
                return Self.rstrip(line)
            }
            var chunk = [UInt8](repeating: 0, count: 8192)
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n > 0 {
                buffer.append(contentsOf: chunk[0..<n])
                continue
            }
            if n < 0 && errno != EAGAIN && errno != EINTR {
                throw BPFError.systemCall(name: "read(trace_pipe)", errno: errno, detail: "")
            }
            if timeoutMs == 0 { return nil }
            let wait: Int32 = timeoutMs < 0 ? -1 : Int32(clamping: max(0, deadline - Interrupts.monotonicMs()))
            if timeoutMs > 0 && wait == 0 { return nil }
            if try !Interrupts.waitReadable(fd, timeoutMs: wait), timeoutMs > 0 { return nil }
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
