import Foundation
import Glibc
import Testing

/// Workloads for the profile, offcputime, stackcount and funccount tests: small C programs
/// (built with frame pointers, so user stacks walk) started under a unique name, so their comm
/// is the test's marker.
enum StackToolWorkloads {
    static let flags = ["-O0", "-fno-omit-frame-pointer"]

    static let clock = """
        #include <stdio.h>
        #include <stdlib.h>
        #include <time.h>
        #include <unistd.h>
        #include <sys/syscall.h>
        #include <fcntl.h>
        #include <signal.h>
        static double now(void) {
            struct timespec t;
            clock_gettime(CLOCK_MONOTONIC, &t);
            return t.tv_sec + t.tv_nsec / 1e9;
        }

        """

    /// `spin SECONDS`: burns CPU in `swiftbcc_spin` (user space) for that long.
    static let spin = clock + """
        __attribute__((noinline)) double swiftbcc_spin(double secs) {
            double end = now() + secs;
            volatile double x = 0;
            while (now() < end) { for (int i = 0; i < 10000; i++) x += i; }
            return x;
        }
        int main(int argc, char **argv) { swiftbcc_spin(argc > 1 ? atof(argv[1]) : 1); return 0; }
        """

    /// `nap SECONDS`: sleeps 5 ms at a time in `swiftbcc_nap` (nanosleep) for that long.
    static let nap = clock + """
        __attribute__((noinline)) void swiftbcc_nap(double secs) {
            double end = now() + secs;
            struct timespec ts = {0, 5000000};
            while (now() < end) nanosleep(&ts, 0);
        }
        int main(int argc, char **argv) { swiftbcc_nap(argc > 1 ? atof(argv[1]) : 1); return 0; }
        """

    /// `calls N`: prints "ready", waits for SIGUSR1 (sigwait: no syscall that the tests count),
    /// then N times each: the getppid syscall, libc's getpid(), `swiftbcc_tool_add` and a one-byte
    /// read(2) of /dev/zero; prints a checksum and sleeps (alive, so that its stacks can still be
    /// symbolized) until killed.
    static let calls = clock + """
        __attribute__((noinline)) int swiftbcc_tool_add(int a, int b) { __asm__ volatile(""); return a + b; }
        static int zero_fd = -1;
        __attribute__((noinline)) long swiftbcc_tool_calls(int n) {
            long t = 0;
            char c;
            for (int i = 0; i < n; i++) {
                t += syscall(SYS_getppid);
                t += getpid();
                t += swiftbcc_tool_add(i, 1);
                t += read(zero_fd, &c, 1);
            }
            return t;
        }
        int main(int argc, char **argv) {
            int n = argc > 1 ? atoi(argv[1]) : 1;
            zero_fd = open("/dev/zero", O_RDONLY);
            if (zero_fd < 0) return 3;
            sigset_t set;
            int sig = 0;
            sigemptyset(&set);
            sigaddset(&set, SIGUSR1);
            sigprocmask(SIG_BLOCK, &set, 0);
            printf("ready\\n");
            fflush(stdout);
            if (sigwait(&set, &sig) != 0) return 2;
            printf("%ld\\n", swiftbcc_tool_calls(n));
            fflush(stdout);
            sleep(600);
            return 0;
        }
        """

    /// The program `name` (spin, nap, calls), built once per test process.
    static func path(_ name: String) throws -> String {
        let source = ["spin": spin, "nap": nap, "calls": calls][name]!
        return try CPrograms.build("stacktools_\(name)", source: source, flags: flags)
    }

    /// A symlink named `marker` to program `name` in `dir`: run it and its comm is the marker.
    static func marked(_ name: String, _ marker: String, in dir: URL) throws -> String {
        try ToolTest.markedCommand(marker, in: dir, target: try path(name))
    }

    /// Process `pid`'s state letter and user/system CPU ticks (fields 3, 14 and 15 of
    /// /proc/<pid>/stat), for a failure's message.
    static func processState(_ pid: Int32) -> String {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = stat.lastIndex(of: ")") else { return "gone" }
        let f = stat[stat.index(after: close)...].split(separator: " ")
        guard f.count > 12 else { return stat }
        return "state \(f[0]) utime \(f[11]) stime \(f[12])"
    }

    /// Waits until process `pid` runs `path`'s program (the exec has happened), up to 10 s.
    static func waitForExec(_ pid: Int32, _ path: String) -> Bool {
        let real = URL(fileURLWithPath: path).resolvingSymlinksInPath().path
        return eventually(timeout: 10) {
            ((try? String(contentsOfFile: "/proc/\(pid)/maps", encoding: .utf8)) ?? "").contains(real)
        }
    }
}

extension StackToolWorkloads {
    /// A `calls` process named `marker`, waiting for `go()`.
    static func caller(_ marker: String, in dir: URL, count: Int) throws -> Caller {
        try Caller(try marked("calls", marker, in: dir), count: count)
    }
}

/// The `calls` program: `go()` starts its calls (SIGUSR1) and waits until they are done; it stays
/// alive (asleep) until this goes away.
final class Caller {
    let process = Process()
    private let stdoutURL: URL

    init(_ path: String, count: Int) throws {
        stdoutURL = FileManager.default.temporaryDirectory.appendingPathComponent("swiftbcc-caller-\(UUID().uuidString).out")
        _ = FileManager.default.createFile(atPath: stdoutURL.path, contents: nil)
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = [String(count)]
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = try FileHandle(forWritingTo: stdoutURL)
        try process.run()
        try #require(eventually(timeout: 30) { output.hasPrefix("ready\n") || !process.isRunning } && process.isRunning,
                     "the caller did not start: \(output)")
    }

    private var output: String { (try? String(contentsOf: stdoutURL, encoding: .utf8)) ?? "" }

    var pid: Int32 { process.processIdentifier }

    /// Lets it make its calls; returns the checksum line ("" when it did not finish within 30 s).
    @discardableResult
    func go() -> String {
        kill(pid, SIGUSR1)
        var line = ""
        _ = eventually(timeout: 30) {
            line = String(output.dropFirst("ready\n".count))
            return line.hasSuffix("\n") || !process.isRunning
        }
        return line
    }

    deinit {
        if process.isRunning { kill(pid, SIGKILL) }
        process.waitUntilExit()
        try? FileManager.default.removeItem(at: stdoutURL)
    }
}

/// Starting the tools with deadlines for a loaded machine: libbcc's clang compile of a tool's
/// program takes seconds on an idle machine and minutes with both cores busy (other builds).
extension StackToolWorkloads {
    /// How long a tool (or its Python original) may take to compile and attach.
    static let startTimeout: Double = 240

    /// Starts `tool` and requires its first line (printed once attached) within the deadline.
    static func startTool(_ tool: String, _ args: [String]) throws -> Child {
        let child = try ToolTest.start(try examplePath(tool), args, waitForLines: 1, timeout: startTimeout)
        try #require(child.process.isRunning && !child.stdoutLines.isEmpty,
                     "\(tool) \(args) printed no first line within \(Int(startTimeout)) s: stdout \(child.stdout) stderr \(child.stderr)")
        return child
    }

    /// Starts the Python original and requires its first line within the deadline.
    static func startPython(_ tool: String, _ args: [String]) throws -> Child {
        let child = try ToolTest.start("/usr/bin/python3", ["-c", ToolTest.pythonLauncher, ToolTest.pythonToolPath(tool)] + args,
                                       waitForLines: 1, timeout: startTimeout, environment: ["PYTHONUNBUFFERED": "1"])
        try #require(child.process.isRunning && !child.stdoutLines.isEmpty,
                     "\(tool)-bpfcc \(args) printed no first line within \(Int(startTimeout)) s: stderr \(child.stderr)")
        return child
    }

    /// Runs `tool` with a duration argument to its end (compile time included in the deadline).
    static func run(_ tool: String, _ args: [String], seconds: Double) throws -> (status: Int32?, stdout: String, stderr: String) {
        try ToolTest.run(try examplePath(tool), args, timeout: startTimeout + seconds + 30)
    }
}

/// Does the Python original run here with these arguments (prints its first line and keeps
/// running)? Tried once per tool; for the tools that need a pattern (stackcount, funccount),
/// which ToolTestSupport's probe (no arguments) cannot start.
enum PythonStackToolProbe {
    private static let lock = NSLock()
    nonisolated(unsafe) private static var results: [String: Probe.Result] = [:]

    static func result(_ tool: String, _ args: [String]) -> Probe.Result {
        lock.lock()
        defer { lock.unlock() }
        if let r = results[tool] { return r }
        let r: Probe.Result
        if !Probe.pythonBCC.ok {
            r = Probe.Result(ok: false, reason: Probe.pythonBCC.reason)
        } else if let child = try? ToolTest.start("/usr/bin/python3", ["-c", ToolTest.pythonLauncher, ToolTest.pythonToolPath(tool)] + args,
                                                   waitForLines: 1, timeout: StackToolWorkloads.startTimeout,
                                                   environment: ["PYTHONUNBUFFERED": "1"]),
                  child.process.isRunning && !child.stdoutLines.isEmpty {
            _ = ToolTest.stop(child)
            r = Probe.Result(ok: true, reason: "\(tool)-bpfcc runs")
        } else {
            r = Probe.Result(ok: false, reason: "\(tool)-bpfcc \(args.joined(separator: " ")) does not run on this kernel")
        }
        results[tool] = r
        return r
    }
}

extension Trait where Self == ConditionTrait {
    /// Runs only where the Python original of `tool` runs with `args`.
    static func requiresPythonTool(_ tool: String, args: [String]) -> Self {
        .enabled("needs \(tool)-bpfcc \(args.joined(separator: " ")) to run on this kernel") {
            PythonStackToolProbe.result(tool, args).ok
        }
    }
}
