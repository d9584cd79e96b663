internal import CBCC
import Glibc

/// Captures what libbcc writes to file descriptor 2 (and, while compiling, fd 1) while a
/// closure runs.
///
/// libbcc reports clang diagnostics, verifier logs and attach failures by printing them to
/// stderr (and "Unable to find kernel headers" to stdout). SwiftBCC puts that text into the
/// `BPFError` it throws instead, so the user sees it once, in the error. On success the
/// captured text is passed through to where it was going (clang warnings, `DEBUG_*` output),
/// so nothing is lost either.
///
/// fds 1 and 2 are process-wide: captures are serialized by a lock, and anything another
/// thread prints while a capture runs is captured too (and passed through afterwards).
/// Captures nest: an inner capture's pass-through lands in the outer capture.
enum StderrCapture {
    /// Recursive: a capture may run inside another (the inner one restores the outer's fd).
    private static let lock = Lock(recursive: true)
    /// The redirects in force, outermost first; changed only under `lock`, read without it by
    /// the exit hook (the process is ending then).
    nonisolated(unsafe) private static var active: [Redirect] = []
    nonisolated(unsafe) private static var exitHookInstalled = false

    /// LLVM's `report_fatal_error` (e.g. the BPF back end's "pass by value not supported")
    /// calls `exit(1)` in the middle of a compile, while fd 2 points at a capture: without this
    /// hook its message would vanish with the process. At exit, every capture in force is
    /// restored and what it holds is written to the real stderr, after a line saying why.
    private static func installExitHook() {
        guard !exitHookInstalled else { return }
        exitHookInstalled = true
        atexit {
            let redirects = StderrCapture.active
            guard !redirects.isEmpty else { return }
            StderrCapture.active = []
            var texts: [String] = []
            for r in redirects.reversed() {
                texts.append(r.read())
                r.restore()
            }
            let captured = texts.reversed().joined()
            writeAll(Array(("SwiftBCC: the process is exiting inside a libbcc call (LLVM's fatal error handler "
                + "exits this way while compiling); what libbcc and clang printed:\n" + captured
                + (captured.hasSuffix("\n") || captured.isEmpty ? "" : "\n")).utf8), to: 2)
        }
    }

    struct Output {
        var stderr: String
        var stdout: String = ""

        /// Everything captured, stderr first.
        var text: String {
            stdout.isEmpty ? stderr : stderr.isEmpty ? stdout : stderr + (stderr.hasSuffix("\n") ? "" : "\n") + stdout
        }

        /// Writes the captured text back to the real stdout and stderr.
        func passThrough() {
            if !stderr.isEmpty { passOnLibbccOutput(stderr) }
            if !stdout.isEmpty { writeAll(Array(stdout.utf8), to: 1) }
        }
    }

    /// Runs `body` with fd 2 (and fd 1 when `includingStdout`) redirected to in-memory files
    /// and returns its result and what was written. `errno` is not preserved across the
    /// restore: read it inside `body`.
    static func capture<T>(includingStdout: Bool = false, _ body: () throws -> T) rethrows -> (T, Output) {
        try lock.withLock {
            fflush(nil)
            installExitHook()
            let err = Redirect(fd: 2)
            let out = includingStdout ? Redirect(fd: 1) : nil
            let depth = active.count
            active += [err, out].compactMap { $0 }
            defer {
                fflush(nil)
                active.removeSubrange(depth...)
                err?.restore()
                out?.restore()
            }
            let result = try body()
            fflush(nil)
            return (result, Output(stderr: err?.read() ?? "", stdout: out?.read() ?? ""))
        }
    }

    /// One fd pointed at a memfd until `restore()`.
    private final class Redirect {
        let fd: Int32
        let memfd: Int32
        let saved: Int32

        init?(fd: Int32) {
            let memfd = swiftbcc_memfd("swiftbcc-capture")
            guard memfd >= 0 else { return nil }
            let saved = dup(fd)
            guard saved >= 0, dup2(memfd, fd) >= 0 else {
                close(memfd)
                if saved >= 0 { close(saved) }
                return nil
            }
            self.fd = fd
            self.memfd = memfd
            self.saved = saved
        }

        func restore() {
            dup2(saved, fd)
            close(saved)
            close(memfd)
        }

        func read() -> String {
            var bytes: [UInt8] = []
            var chunk = [UInt8](repeating: 0, count: 16384)
            var offset: off_t = 0
            while true {
                let n = chunk.withUnsafeMutableBytes { pread(memfd, $0.baseAddress, $0.count, offset) }
                if n <= 0 { break }
                bytes.append(contentsOf: chunk[0..<n])
                offset += off_t(n)
            }
            return String(decoding: bytes, as: UTF8.self)
        }
    }
}
