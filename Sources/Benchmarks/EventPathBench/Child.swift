// Runs the other consumers (and gcc) as child processes with a deadline: stdout and stderr go
// to files in the benchmark's temp dir, a child past its deadline gets SIGTERM and then
// SIGKILL, and a SIGINT/SIGTERM to the benchmark stops the child the same way. Every kernel
// object a consumer creates lives on its fds, so a killed child leaves nothing attached.
import Foundation
import Glibc
import SwiftBCC

/// SIGINT or SIGTERM arrived: the benchmark stops, cleans up and exits 0.
struct Stopped: Error {}

func checkStop() throws {
    if Interrupts.pendingSignal != nil { throw Stopped() }
}

struct ChildOutput {
    var status: Int32
    var timedOut: Bool
    var stdout: String
    var stderr: String

    /// The child's last stderr line (its error), for a skip reason.
    var lastError: String {
        stderr.split(separator: "\n").last.map(String.init) ?? "exit status \(status)"
    }
}

/// Runs `executable` with `arguments`, waiting at most `timeout` seconds.
func runChild(_ executable: String, _ arguments: [String], timeout: Double, tempDir: URL,
              label: String, environment: [String: String]? = nil) throws -> ChildOutput {
    let out = tempDir.appendingPathComponent("\(label).stdout")
    let err = tempDir.appendingPathComponent("\(label).stderr")
    _ = FileManager.default.createFile(atPath: out.path, contents: nil)
    _ = FileManager.default.createFile(atPath: err.path, contents: nil)
    let outHandle = try FileHandle(forWritingTo: out)
    let errHandle = try FileHandle(forWritingTo: err)
    defer {
        try? outHandle.close()
        try? errHandle.close()
    }
    let p = Process()
    p.executableURL = URL(fileURLWithPath: executable)
    p.arguments = arguments
    p.standardInput = FileHandle.nullDevice
    p.standardOutput = outHandle
    p.standardError = errHandle
    if let environment { p.environment = environment }
    try p.run()

    let deadline = Date().addingTimeInterval(timeout)
    var timedOut = false
    var stopped = false
    while p.isRunning {
        if Interrupts.pendingSignal != nil { stopped = true; break }
        if Date() >= deadline { timedOut = true; break }
        usleep(20_000)
    }
    if p.isRunning {
        p.terminate()
        let grace = Date().addingTimeInterval(3)
        while p.isRunning && Date() < grace { usleep(20_000) }
        if p.isRunning { kill(p.processIdentifier, SIGKILL) }
    }
    p.waitUntilExit()
    if stopped { throw Stopped() }
    return ChildOutput(status: p.terminationStatus, timedOut: timedOut,
                       stdout: (try? String(contentsOf: out, encoding: .utf8)) ?? "",
                       stderr: (try? String(contentsOf: err, encoding: .utf8)) ?? "")
}

/// The first executable named `name` on PATH (or `name` itself when it is a path).
func findExecutable(_ name: String) -> String? {
    if name.contains("/") { return access(name, X_OK) == 0 ? name : nil }
    let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin"
    for dir in path.split(separator: ":") {
        let candidate = "\(dir)/\(name)"
        if access(candidate, X_OK) == 0 { return candidate }
    }
    return nil
}
