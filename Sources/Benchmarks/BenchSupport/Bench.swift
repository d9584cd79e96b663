// Shared by EventPathBench, MapBench and StartBench: child processes with deadlines, stop signals, temp dirs.
// Runs the other consumers (and gcc) as child processes with a deadline: stdout and stderr go
// to files in the benchmark's temp dir, a child past its deadline gets SIGTERM and then
// SIGKILL, and a SIGINT/SIGTERM to the benchmark stops the child the same way. Every kernel
// object a consumer creates lives on its fds, so a killed child leaves nothing attached.
import Foundation
import Glibc
import SwiftBCC

/// SIGINT or SIGTERM arrived: the benchmark stops, cleans up and exits 0.
public struct Stopped: Error { public init() {} }

public func checkStop() throws {
    if Interrupts.pendingSignal != nil { throw Stopped() }
}

public struct ChildOutput {
    public var status: Int32
    public var timedOut: Bool
    public var stdout: String
    public var stderr: String

    /// The child's last stderr line (its error), for a skip reason.
    public var lastError: String {
        stderr.split(separator: "\n").last.map(String.init) ?? "exit status \(status)"
    }
}

/// Runs `executable` with `arguments`, waiting at most `timeout` seconds.
public func runChild(_ executable: String, _ arguments: [String], timeout: Double, tempDir: URL,
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
public func findExecutable(_ name: String) -> String? {
    if name.contains("/") { return access(name, X_OK) == 0 ? name : nil }
    let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin"
    for dir in path.split(separator: ":") {
        let candidate = "\(dir)/\(name)"
        if access(candidate, X_OK) == 0 { return candidate }
    }
    return nil
}

/// A fresh temp dir named `<prefix>.XXXXXX`.
public func makeTempDir(_ prefix: String) throws -> URL {
    let tmp = NSTemporaryDirectory().hasSuffix("/") ? NSTemporaryDirectory() : NSTemporaryDirectory() + "/"
    var template = Array((tmp + "\(prefix).XXXXXX").utf8CString)
    guard let dir = template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) else {
        throw BPFError.systemCall(name: "mkdtemp", errno: .current, detail: "could not create the benchmark's temp dir")
    }
    return URL(fileURLWithPath: String(cString: dir))
}

/// Pins this process (and the children it starts) to `cpu`.
public func pinToCPU(_ cpu: Int) -> Bool {
    typealias Affinity = @convention(c) (pid_t, Int, UnsafeMutableRawPointer?) -> Int32
    guard let sym = dlsym(nil, "sched_setaffinity") else { return false }
    var set = cpu_set_t()
    withUnsafeMutableBytes(of: &set) { $0[cpu / 8] |= UInt8(1 << (cpu % 8)) }
    return unsafeBitCast(sym, to: Affinity.self)(0, MemoryLayout<cpu_set_t>.size, &set) == 0
}

/// Builds C `source` with `cc ... -lbcc` in `tempDir`; the binary's path, or the reason it failed.
public func buildC(_ source: String, name: String, cc: String, timeout: Double, tempDir: URL) throws -> Result<String, BuildFailure> {
    guard let compiler = findExecutable(cc) else {
        return .failure(BuildFailure(reason: "\(cc) not found on PATH (apt-get install gcc, or pass --cc)"))
    }
    let src = tempDir.appendingPathComponent("\(name).c")
    let binary = tempDir.appendingPathComponent(name)
    try source.write(to: src, atomically: true, encoding: .utf8)
    let build = try runChild(compiler, ["-O2", "-o", binary.path, src.path, "-lbcc"], timeout: timeout,
                             tempDir: tempDir, label: "gcc-\(name)")
    guard build.status == 0, !build.timedOut else {
        let reason = build.timedOut ? "timed out after \(Int(timeout)) s"
            : build.stderr.split(separator: "\n").first(where: { $0.contains("error") }).map(String.init) ?? build.lastError
        return .failure(BuildFailure(reason: "\(cc) could not build \(name): \(reason)"))
    }
    return .success(binary.path)
}

public struct BuildFailure: Error { public var reason: String }

/// The environment for /usr/bin/python3 (a pyenv or venv setting for another interpreter would break it).
public func pythonEnvironment() -> [String: String] {
    var env = ProcessInfo.processInfo.environment
    env["PYTHONHOME"] = nil
    env["PYTHONPATH"] = nil
    return env
}

/// `x` formatted for a table cell.
public func formatNumber(_ x: Double) -> String {
    String(format: x < 10 ? "%.2f" : x < 100 ? "%.1f" : "%.0f", x)
}

/// `a / b` formatted as a ratio (×).
public func formatRatio(_ a: Double?, _ b: Double?) -> String {
    guard let a, let b, b > 0 else { return "–" }
    return String(format: a / b < 10 ? "%.2f×" : "%.0f×", a / b)
}
