import Foundation
import Glibc
@testable import SwiftBCC
import Testing

/// Helpers shared by the bcc tool tests (Sources/Tools): running a tool, its Python original
/// (/usr/sbin/<tool>-bpfcc), their help, and comparing their output.
enum ToolTest {
    /// The Python original of `tool`.
    static func pythonToolPath(_ tool: String) -> String { "/usr/sbin/\(tool)-bpfcc" }

    /// Runs `path args` to completion (at most `timeout` seconds): status, stdout, stderr.
    static func run(_ path: String, _ args: [String], timeout: Double = 60,
                    environment: [String: String]? = nil) throws -> (status: Int32?, stdout: String, stderr: String) {
        let child = try Child(path, args, environment: environment)
        let status = child.wait(timeout: timeout)
        return (status, child.stdout, child.stderr)
    }

    /// The flags (`-x`, `--fails`, ...) of the Python tool's own `-h` output: every option
    /// token in its "options:" section. Empty when the tool has no argument parser (syncsnoop
    /// ignores its arguments and starts tracing).
    static func pythonFlags(_ tool: String) throws -> [String] {
        // A tool without argparse would start tracing on -h (and run until killed).
        let source = try String(contentsOfFile: pythonToolPath(tool), encoding: .utf8)
        guard source.contains("argparse") else { return [] }
        let out = try run("/usr/bin/python3", [pythonToolPath(tool), "-h"], timeout: 30)
        guard out.stdout.contains("usage:") else { return [] }
        var flags: [String] = []
        var inOptions = false
        for line in out.stdout.split(separator: "\n", omittingEmptySubsequences: false) {
            if line.hasPrefix("options:") || line.hasPrefix("optional arguments:") { inOptions = true; continue }
            if inOptions && !line.isEmpty && !line.hasPrefix(" ") { inOptions = false }
            guard inOptions else { continue }
            let trimmed = line.drop { $0 == " " }
            guard trimmed.hasPrefix("-") else { continue }
            // "-T TPID, --tpid TPID   help text": the option names come before two spaces.
            let spec = trimmed.components(separatedBy: "  ").first ?? ""
            for part in spec.split(separator: ",") {
                if let flag = part.split(separator: " ").first, flag.hasPrefix("-") { flags.append(String(flag)) }
            }
        }
        return flags
    }

    /// The option tokens that appear in `help` (ArgumentParser's `--help` output).
    static func helpTokens(_ help: String) -> Set<String> {
        var tokens = Set<String>()
        for raw in help.split(whereSeparator: { " ,\n[]()<>|".contains($0) }) {
            var t = String(raw)
            if let eq = t.firstIndex(of: "=") { t = String(t[..<eq]) }
            if t.hasPrefix("-") { tokens.insert(t) }
        }
        return tokens
    }

    /// Checks that every flag of the Python tool's `-h` is in the Swift tool's `--help`.
    static func expectPythonFlagsInHelp(_ tool: String, minimum: Int = 1) throws {
        let flags = try pythonFlags(tool)
        #expect(flags.count >= minimum, "parsed too few flags from \(tool)-bpfcc -h: \(flags)")
        let help = try run(try examplePath(tool), ["--help"], timeout: 30)
        #expect(help.status == 0, "stderr: \(help.stderr)")
        let tokens = helpTokens(help.stdout)
        for flag in flags {
            #expect(tokens.contains(flag), "\(tool) --help lacks \(flag) of the Python tool; help:\n\(help.stdout)")
        }
    }

    /// Runs the Swift tool with `args` and checks it fails as a usage error: exit 64 and a usage
    /// line on stderr, no backtrace.
    static func expectUsageError(_ tool: String, _ args: [String]) throws {
        let out = try run(try examplePath(tool), args, timeout: 30)
        #expect(out.status == 64, "\(tool) \(args): status \(String(describing: out.status)); stderr: \(out.stderr)")
        #expect(out.stderr.contains("Usage: \(tool)"), "stderr: \(out.stderr)")
        #expect(out.stderr.contains("Error:"), "stderr: \(out.stderr)")
        #expect(!out.stderr.contains("Stack dump") && !out.stderr.contains("Fatal error"), "stderr: \(out.stderr)")
    }

    /// Starts `path args` and waits (up to `timeout` s) until its stdout has `lines` lines: the
    /// tools print their header once their probes are attached.
    static func start(_ path: String, _ args: [String], waitForLines lines: Int = 1, timeout: Double = 60,
                      environment: [String: String]? = nil) throws -> Child {
        let child = try Child(path, args, environment: environment)
        _ = eventually(timeout: timeout) { child.stdoutLines.count >= lines || !child.process.isRunning }
        return child
    }

    /// Starts the Swift tool and requires its header within the deadline.
    static func startTool(_ tool: String, _ args: [String], headerLines: Int = 1) throws -> Child {
        let child = try start(try examplePath(tool), args, waitForLines: headerLines)
        try #require(child.process.isRunning && child.stdoutLines.count >= headerLines,
                     "\(tool) \(args) did not start: stdout \(child.stdout) stderr \(child.stderr)")
        return child
    }

    /// Starts the Python original with unbuffered output; nil when it exits (dies) before
    /// printing `headerLines` lines.
    static func startPython(_ tool: String, _ args: [String], headerLines: Int = 1) throws -> Child? {
        let child = try start("/usr/bin/python3", ["-c", pythonLauncher, pythonToolPath(tool)] + args,
                              waitForLines: headerLines, timeout: 90, environment: ["PYTHONUNBUFFERED": "1"])
        return child.process.isRunning && child.stdoutLines.count >= headerLines ? child : nil
    }

    /// Runs the script in argv[1] as __main__ with SIGINT unblocked and raising
    /// KeyboardInterrupt: the test runner may hand its children a mask that blocks SIGINT (or an
    /// ignored disposition), and Python would then never see Ctrl-C.
    static let pythonLauncher = """
        import runpy, signal, sys
        signal.pthread_sigmask(signal.SIG_UNBLOCK, [signal.SIGINT, signal.SIGTERM])
        signal.signal(signal.SIGINT, signal.default_int_handler)
        sys.argv = sys.argv[1:]
        runpy.run_path(sys.argv[0], run_name="__main__")
        """

    /// Sends `signal` and waits for the exit status.
    static func stop(_ child: Child, signal: Int32 = SIGINT, timeout: Double = 20) -> Int32? {
        if child.process.isRunning { kill(child.process.processIdentifier, signal) }
        return child.wait(timeout: timeout)
    }

    /// Waits until `child`'s stdout has a line containing `marker` (or the deadline passes),
    /// running `trigger` every 0.2 s.
    @discardableResult
    static func waitForRow(_ child: Child, containing marker: String, timeout: Double = 20,
                           trigger: () -> Void = {}) -> Bool {
        eventually(timeout: timeout) {
            trigger()
            return child.stdoutLines.contains { $0.contains(marker) }
        }
    }

    /// Waits until `child`'s stdout has a line containing each of `markers` (events from
    /// different CPUs' buffers may be printed in any order), running `trigger` every 0.2 s.
    @discardableResult
    static func waitForRows(_ child: Child, containing markers: [String], timeout: Double = 20,
                            trigger: () -> Void = {}) -> Bool {
        eventually(timeout: timeout) {
            trigger()
            let lines = child.stdoutLines
            return markers.allSatisfy { m in lines.contains { $0.contains(m) } }
        }
    }

    /// Whether all of `text` matches the regular expression `pattern`.
    static func matches(_ text: some StringProtocol, _ pattern: String) -> Bool {
        guard let regex = try? Regex(pattern) else { return false }
        return String(text).wholeMatch(of: regex) != nil
    }

    /// Whitespace-separated fields of `line`.
    static func fields(_ line: String) -> [String] { line.split(separator: " ").map(String.init) }

    /// Lets a started tool that has nothing to do sit for `seconds`, expects its main thread to
    /// wake at most twice meanwhile (no poll or sleep slices), then stops it with Ctrl-C and
    /// expects exit 0 within 5 s.
    static func expectIdleThenStop(_ child: Child, seconds: Double, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let pid = child.process.processIdentifier
        usleep(300_000)
        let before = try #require(wakeups(pid), sourceLocation: sourceLocation)
        usleep(UInt32(seconds * 1_000_000))
        let after = try #require(wakeups(pid), sourceLocation: sourceLocation)
        #expect(after - before <= 2, "the idle tool woke \(after - before) times in \(seconds) s", sourceLocation: sourceLocation)
        let stopAsked = Date()
        #expect(stop(child) == 0, "stderr: \(child.stderr)", sourceLocation: sourceLocation)
        #expect(Date().timeIntervalSince(stopAsked) < 5, "Ctrl-C took \(Date().timeIntervalSince(stopAsked)) s",
                sourceLocation: sourceLocation)
    }

    /// The voluntary context switches of `pid`'s main thread (its wakeups from a blocking wait).
    static func wakeups(_ pid: Int32) -> Int? {
        guard let status = try? String(contentsOfFile: "/proc/\(pid)/task/\(pid)/status", encoding: .utf8),
              let line = status.split(separator: "\n").first(where: { $0.hasPrefix("voluntary_ctxt_switches:") })
        else { return nil }
        return Int(line.split(separator: "\t").last?.trimmingCharacters(in: .whitespaces) ?? "")
    }

    /// Runs `path args` as a child and waits for it; returns its pid and status.
    @discardableResult
    static func spawn(_ path: String, _ args: [String], timeout: Double = 20) throws -> (pid: Int32, status: Int32?) {
        let child = try Child(path, args)
        let pid = child.process.processIdentifier
        return (pid, child.wait(timeout: timeout))
    }

    /// Calls execve on `path` in a child made by posix_spawn (which runs the exec in the child
    /// and reports its failure): for a missing `path` that is a failed exec (ENOENT) by a child
    /// of this process. Returns posix_spawn's result.
    @discardableResult
    static func spawnFailingExec(_ path: String) -> Int32 {
        var pid: pid_t = 0
        let argv: [UnsafeMutablePointer<CChar>?] = [strdup(path), nil]
        defer { argv.forEach { free($0) } }
        let rc = posix_spawn(&pid, path, nil, nil, argv, environ)
        if rc == 0 { var status: Int32 = 0; waitpid(pid, &status, 0) }
        return rc
    }

    /// statfs(2) on `path` from this process, through libc's `statfs` (Swift's Glibc module does
    /// not import it): 0, or -1 with errno set.
    @discardableResult
    static func statfs(_ path: String) -> Int32 {
        typealias Fn = @convention(c) (UnsafePointer<CChar>, UnsafeMutableRawPointer) -> Int32
        guard let sym = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "statfs") else { return -1 }  // RTLD_DEFAULT
        let fn = unsafeBitCast(sym, to: Fn.self)
        var buffer = [UInt8](repeating: 0, count: 512)  // struct statfs is 120 bytes on x86_64
        return buffer.withUnsafeMutableBytes { fn(path, $0.baseAddress!) }
    }

    /// A directory for one test's files, removed by the caller.
    static func temporaryDirectory(_ marker: String) throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("swiftbcc-tools-\(marker)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        return dir
    }

    /// A command named `marker` (a symlink to `target`), so the exec'd process's comm is the marker.
    static func markedCommand(_ marker: String, in dir: URL, target: String = "/bin/sleep") throws -> String {
        let path = dir.appendingPathComponent(marker).path
        try? FileManager.default.removeItem(atPath: path)
        try FileManager.default.createSymbolicLink(atPath: path, withDestinationPath: target)
        return path
    }
}

/// Does the Python original of a tool run on this kernel? Tried once per tool: it must print
/// its header and still be running (most die here: kprobes are missing, kfuncs are refused).
enum PythonToolProbe {
    private static let lock = NSLock()
    nonisolated(unsafe) private static var results: [String: Probe.Result] = [:]

    static func result(_ tool: String, headerLines: Int = 1) -> Probe.Result {
        lock.lock()
        defer { lock.unlock() }
        if let r = results[tool] { return r }
        let r: Probe.Result
        if !Probe.pythonBCC.ok {
            r = Probe.Result(ok: false, reason: Probe.pythonBCC.reason)
        } else if let child = try? ToolTest.startPython(tool, [], headerLines: headerLines) {
            _ = ToolTest.stop(child)
            r = Probe.Result(ok: true, reason: "\(tool)-bpfcc runs")
        } else {
            let out = (try? ToolTest.run("/usr/bin/python3", [ToolTest.pythonToolPath(tool)], timeout: 60))
            let last = out?.stderr.split(separator: "\n").last.map(String.init) ?? "no output"
            r = Probe.Result(ok: false, reason: "\(tool)-bpfcc does not run on this kernel: \(last)")
        }
        results[tool] = r
        return r
    }
}

extension Trait where Self == ConditionTrait {
    /// Runs only where the Python original of `tool` is installed (`bpfcc-tools`, which
    /// scripts/setup installs), to read its `-h`.
    static func requiresPythonToolInstalled(_ tool: String) -> Self {
        .enabled("needs /usr/sbin/\(tool)-bpfcc (apt-get install bpfcc-tools)") {
            FileManager.default.fileExists(atPath: ToolTest.pythonToolPath(tool)) && Probe.pythonBCC.ok
        }
    }

    /// Runs only where the Python original of `tool` runs (prints its header and keeps running).
    static func requiresPythonTool(_ tool: String, headerLines: Int = 1) -> Self {
        // The comment is built at discovery time, so it must not run the probe (seconds of Python).
        .enabled("needs \(tool)-bpfcc to run on this kernel (Python tools that use kprobes or kfuncs die where kprobes are missing and kfuncs refused)") {
            PythonToolProbe.result(tool, headerLines: headerLines).ok
        }
    }
}
