import Foundation
import Glibc
@testable import SwiftBCC
import Testing

/// A marker no other test or process prints.
func uniqueMarker(_ prefix: String = "m") -> String {
    prefix + String(UInt32.random(in: 0x1000_0000...0xffff_ffff), radix: 16)
}

/// A function name unique to this run, at most 15 characters (the kernel's program name length).
func uniqueFunctionName(_ prefix: String) -> String {
    String((prefix + "_" + String(UInt32.random(in: 0x1000_0000...0xffff_ffff), radix: 16)).prefix(15))
}

/// Reads trace_pipe through `b` until a line whose message contains `marker` arrives.
func waitForTrace(_ b: BPF, containing marker: String, timeout: Double = 10,
                  trigger: () -> Void = {}) throws -> TraceFields? {
    TracePipeLock.acquire()
    let deadline = Date().addingTimeInterval(timeout)
    while Date() < deadline {
        trigger()
        while let f = try b.traceFields(timeout: 0.2) {
            if f.message.contains(marker) { return f }
        }
    }
    return nil
}

/// Waits until `condition` holds, up to `timeout` seconds.
func eventually(timeout: Double = 3, _ condition: () -> Bool) -> Bool {
    let deadline = Date().addingTimeInterval(timeout)
    repeat {
        if condition() { return true }
        usleep(20_000)
    } while Date() < deadline
    return condition()
}

/// Names of the programs loaded in the kernel now.
func loadedProgramNames() -> [String] { KernelObjects.programs().map(\.name) }

/// The directory holding the built products (the test runner sits beside the examples).
func productsDirectory() -> URL {
    URL(fileURLWithPath: FileIO.readLink("/proc/self/exe") ?? CommandLine.arguments[0]).deletingLastPathComponent()
}

/// Path of a built example executable; fails the test with a hint when it is missing.
func examplePath(_ name: String) throws -> String {
    let path = productsDirectory().appendingPathComponent(name).path
    try #require(FileManager.default.isExecutableFile(atPath: path),
                 "\(path) is missing: build the examples first (swift build)")
    return path
}

/// A child process whose stdout and stderr go to files, readable while it runs.
final class Child {
    let process = Process()
    let stdoutURL: URL
    let stderrURL: URL

    init(_ path: String, _ args: [String], environment: [String: String]? = nil) throws {
        let dir = FileManager.default.temporaryDirectory
        stdoutURL = dir.appendingPathComponent("swiftbcc-\(UUID().uuidString).out")
        stderrURL = dir.appendingPathComponent("swiftbcc-\(UUID().uuidString).err")
        _ = FileManager.default.createFile(atPath: stdoutURL.path, contents: nil)
        _ = FileManager.default.createFile(atPath: stderrURL.path, contents: nil)
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = args
        // Children use the test process's compile cache (TestCompileCache), unless told otherwise.
        process.environment = ProcessInfo.processInfo.environment
            .merging(TestCompileCache.childEnvironment) { $1 }
            .merging(environment ?? [:]) { $1 }
        process.standardOutput = try FileHandle(forWritingTo: stdoutURL)
        process.standardError = try FileHandle(forWritingTo: stderrURL)
        try process.run()
    }

    // Decoded leniently: a tracer's output may hold bytes that are not UTF-8 (StrlenCount
    // prints the strings it saw as they are), and strict decoding would drop it all.
    var stdout: String { (try? Data(contentsOf: stdoutURL)).map { String(decoding: $0, as: UTF8.self) } ?? "" }
    var stderr: String { (try? Data(contentsOf: stderrURL)).map { String(decoding: $0, as: UTF8.self) } ?? "" }
    var stdoutLines: [String] { stdout.split(separator: "\n").map(String.init) }

    /// Waits for exit up to `timeout` seconds; kills the child and returns nil on timeout.
    func wait(timeout: Double) -> Int32? {
        let deadline = Date().addingTimeInterval(timeout)
        while process.isRunning && Date() < deadline { usleep(20_000) }
        if process.isRunning {
            process.terminate()
            kill(process.processIdentifier, SIGKILL)
            // Bounded: never wait without a deadline for Foundation to see the exit.
            let killedBy = Date().addingTimeInterval(5)
            while process.isRunning && Date() < killedBy { usleep(20_000) }
            return nil
        }
        return process.terminationStatus
    }

    /// Runs `trigger` every `interval` seconds while the child runs (at most `timeout` seconds),
    /// then returns its exit status as `wait(timeout: 5)` does.
    func drive(timeout: Double, every interval: Double = 0.1, _ trigger: () -> Void) -> Int32? {
        let deadline = Date().addingTimeInterval(timeout)
        while process.isRunning && Date() < deadline {
            trigger()
            usleep(UInt32(interval * 1_000_000))
        }
        return wait(timeout: 5)
    }

    deinit {
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        try? FileManager.default.removeItem(at: stdoutURL)
        try? FileManager.default.removeItem(at: stderrURL)
    }
}

/// Runs /bin/true (an execve) and waits for it.
func execTrue() {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/bin/true")
    try? p.run()
    p.waitUntilExit()
}

/// Captures what is written to fd 2 while `body` runs (what a user would see on stderr).
func capturingStderr<T>(_ body: () throws -> T) rethrows -> (T, String) {
    let (result, output) = try StderrCapture.capture(body)
    return (result, output.text)
}

/// The calling thread's id (what trace_pipe shows as the pid), from /proc/thread-self.
func currentTid() -> Int32 {
    let link = FileIO.readLink("/proc/thread-self") ?? ""
    return Int32(link.split(separator: "/").last ?? "") ?? -1
}

/// __NR_getppid.
#if arch(x86_64)
let syscallNumberGetppid = 110
#elseif arch(arm64)
let syscallNumberGetppid = 173
#endif

/// trace_pipe is one pipe for the whole machine, and reading it consumes lines: two test
/// processes reading it at once steal each other's lines. Tests that read it (directly or
/// through a child) first take this machine-wide lock; it is held until the process exits.
enum TracePipeLock {
    private static let fd: Int32 = {
        let fd = open("/tmp/swiftbcc-trace-pipe.lock", O_CREAT | O_RDWR | O_CLOEXEC, 0o666)
        if fd >= 0 { flock(fd, LOCK_EX) }
        return fd
    }()

    static func acquire() { _ = fd }
}

/// Reads and drops what trace_pipe holds now (lines earlier tests left), so a child that
/// prints every trace_pipe line, like HelloWorld, sees only new ones.
func drainTracePipe() throws {
    TracePipeLock.acquire()
    let b = try BPF(text: "int drain_(void *ctx) { return 0; }")
    defer { b.cleanup() }
    while try b.traceReadline(nonblocking: true) != nil {}
}
