import Foundation
import Glibc
@testable import SwiftBCC
import Testing

/// A temporary directory for one test: scripts and an `XDG_CACHE_HOME` of their own.
final class ScriptSandbox {
    let dir: URL
    var cacheHome: String { dir.appendingPathComponent("cache").path }
    var scriptsCache: String { cacheHome + "/swiftbcc/scripts" }

    init() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("swiftbcc-script-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(at: dir) }

    /// Writes `text` as `name` in the sandbox; executable with `executable`.
    func write(_ name: String, _ text: String, executable: Bool = false) throws -> String {
        let path = dir.appendingPathComponent(name).path
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        if executable { chmod(path, 0o755) }
        return path
    }

    /// The runner, beside the test binary (`swift build --build-tests` builds it).
    static func runner() throws -> String { try examplePath("swiftbcc") }

    /// The environment a script run gets: this sandbox's cache, and the runner on PATH (for
    /// `#!/usr/bin/env swiftbcc`).
    var environment: [String: String] {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        return ["XDG_CACHE_HOME": cacheHome, "PATH": productsDirectory().path + ":" + path]
    }

    /// Runs `swiftbcc <runnerArgs> <script> <args>`; a compile can take a while on a busy machine.
    func run(_ script: String, _ args: [String] = [], runnerArgs: [String] = [], timeout: Double = 300) throws -> (status: Int32?, child: Child) {
        let child = try Child(try Self.runner(), runnerArgs + [script] + args, environment: environment)
        return (child.wait(timeout: timeout), child)
    }

    /// The files in the scripts cache (entries, sidecars, locks), sorted.
    func cacheFiles() -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: scriptsCache)) ?? []).sorted()
    }

    /// The one cached executable (not a sidecar or lock file).
    func cachedExecutable() throws -> String {
        let exes = cacheFiles().filter { !$0.hasSuffix(".sum") && !$0.hasSuffix(".lock") }
        try #require(exes.count == 1, "cache holds \(cacheFiles())")
        return scriptsCache + "/" + exes[0]
    }
}

/// A script that needs no kernel: it prints its arguments and exits with the status it is given.
private let echoScript = """
    import SwiftBCC
    import Glibc

    let args = Array(CommandLine.arguments.dropFirst())
    print("echo:", args.joined(separator: ","), BPF.milliseconds(1.5))
    exit(Int32(args.last ?? "0") ?? 0)

    """

@Suite("swiftbcc script runner")
struct ScriptRunnerTests {
    @Test("A second run of an unchanged script reuses the cached executable (-v says hit/miss); args and exit status are the script's")
    func cacheHit() throws {
        let box = try ScriptSandbox()
        let script = try box.write("echo.swift", echoScript)
        let (first, c1) = try box.run(script, ["a b", "7"], runnerArgs: ["-v"])
        #expect(first == 7, "stderr: \(c1.stderr)")
        #expect(c1.stdout == "echo: a b,7 1500\n")
        #expect(c1.stderr.contains("swiftbcc: cache miss: compiling"), "stderr: \(c1.stderr)")
        let exe = try box.cachedExecutable()
        let built = try FileManager.default.attributesOfItem(atPath: exe)[.modificationDate] as? Date

        let (second, c2) = try box.run(script, ["x", "0"], runnerArgs: ["-v"], timeout: 60)
        #expect(second == 0, "stderr: \(c2.stderr)")
        #expect(c2.stdout == "echo: x,0 1500\n")
        #expect(c2.stderr == "swiftbcc: cache hit: \(exe)\n")
        #expect(try FileManager.default.attributesOfItem(atPath: exe)[.modificationDate] as? Date == built,
                "the hit did not rebuild the executable")

        // Without -v a hit prints nothing of its own.
        let (third, c3) = try box.run(script, ["3"], timeout: 60)
        #expect(third == 3)
        #expect(c3.stdout == "echo: 3 1500\n")
        #expect(c3.stderr.isEmpty, "stderr: \(c3.stderr)")

        // A changed script is a new entry.
        try (echoScript + "print(\"changed\")\n").write(toFile: script, atomically: true, encoding: .utf8)
        let (fourth, c4) = try box.run(script, ["0"], runnerArgs: ["-v"])
        #expect(fourth == 0)
        #expect(c4.stderr.contains("cache miss"))
        #expect(c4.stdout == "echo: 0 1500\n", "exit(0) ends it before the new last line")
    }

    @Test("A type error exits non-zero with swiftc's diagnostic naming the script's path and line, and caches nothing")
    func typeError() throws {
        let box = try ScriptSandbox()
        let script = try box.write("broken.swift", "#!/usr/bin/env swiftbcc\nimport SwiftBCC\n\nlet pid: Int = \"not a number\"\nprint(pid)\n",
                                   executable: true)
        let (status, child) = try box.run(script)
        #expect(status != nil && status != 0)
        #expect(child.stderr.contains("\(script):4:16: error: cannot convert value of type 'String' to specified type 'Int'"),
                "stderr: \(child.stderr)")
        #expect(child.stdout.isEmpty)
        #expect(box.cacheFiles().allSatisfy { $0.hasSuffix(".lock") }, "cache holds \(box.cacheFiles())")

        // A script without .swift is compiled from a copy; the diagnostic still names it, and its line.
        let bare = try box.write("broken-tool", "#!/usr/bin/env swiftbcc\nimport SwiftBCC\nlet x: Int = 1\nlet y: Int = \"s\"\n",
                                 executable: true)
        let (status2, child2) = try box.run(bare)
        #expect(status2 != nil && status2 != 0)
        #expect(child2.stderr.contains("\(bare):4:14: error: cannot convert value of type 'String'"), "stderr: \(child2.stderr)")
        #expect(box.cacheFiles().allSatisfy { $0.hasSuffix(".lock") }, "cache holds \(box.cacheFiles())")
    }

    @Test("A damaged cache entry (truncated, or the same size with other bytes, or no sidecar) is detected and rebuilt")
    func damagedEntry() throws {
        let box = try ScriptSandbox()
        let script = try box.write("damaged.swift", echoScript)
        let (status, c1) = try box.run(script, ["0"])
        #expect(status == 0, "stderr: \(c1.stderr)")
        let exe = try box.cachedExecutable()
        let good = try Data(contentsOf: URL(fileURLWithPath: exe))

        let damages: [(String, () throws -> Void)] = [
            ("its size is 100 bytes", { try good.prefix(100).write(to: URL(fileURLWithPath: exe)) }),
            ("SHA-256", {
                var bad = good
                bad[bad.count / 2] ^= 0xff
                try bad.write(to: URL(fileURLWithPath: exe))
            }),
            ("checksum file", { try FileManager.default.removeItem(atPath: exe + ".sum") }),
        ]
        for (reason, damage) in damages {
            try damage()
            let (s, c) = try box.run(script, ["1", "0"], runnerArgs: ["-v"])
            #expect(s == 0, "stderr: \(c.stderr)")
            #expect(c.stdout == "echo: 1,0 1500\n")
            #expect(c.stderr.contains("is damaged (") && c.stderr.contains(reason) && c.stderr.contains("rebuilding"),
                    "stderr: \(c.stderr)")
            let (s2, c2) = try box.run(script, ["0"], runnerArgs: ["-v"], timeout: 60)
            #expect(s2 == 0)
            #expect(c2.stderr.hasPrefix("swiftbcc: cache hit"), "stderr: \(c2.stderr)")
        }
    }

    @Test("Two runners starting the same new script at once both run it; one compiles")
    func concurrentStart() throws {
        let box = try ScriptSandbox()
        let script = try box.write("together.swift", echoScript)
        let runner = try ScriptSandbox.runner()
        let children = try (0..<2).map { i in
            try Child(runner, ["-v", script, "\(i)", "0"], environment: box.environment)
        }
        for (i, child) in children.enumerated() {
            #expect(child.wait(timeout: 300) == 0, "stderr: \(child.stderr)")
            #expect(child.stdout == "echo: \(i),0 1500\n")
        }
        let compiles = children.filter { $0.stderr.contains("cache miss: compiling") }.count
        #expect(compiles == 1, "stderr: \(children.map(\.stderr))")
        #expect(box.cacheFiles().filter { $0.contains(".tmp.") || $0.contains("swiftbcc-src") }.isEmpty,
                "no temporary file is left: \(box.cacheFiles())")
        _ = try box.cachedExecutable()
    }
}

extension KernelSuite {
    @Suite("swiftbcc script runner on the kernel", .requiresBPF)
    struct ScriptRunnerKernelTests {
        init() { TracePipeLock.acquire() }

        @Test("An executable #!/usr/bin/env swiftbcc script reads its own trace line from a tracepoint and exits 0")
        func shebangTracepoint() throws {
            let box = try ScriptSandbox()
            let marker = uniqueMarker("script")
            let script = try box.write("trace-getppid.swift", #"""
                #!/usr/bin/env swiftbcc
                import SwiftBCC
                import Glibc

                let marker = CommandLine.arguments[1]
                let b = try BPF(text: """
                    int on_getppid(void *ctx) {
                        if ((bpf_get_current_pid_tgid() >> 32) != \(getpid())) return 0;
                        bpf_trace_printk("\(marker)\\n");
                        return 0;
                    }
                    """)
                try b.attachTracepoint(tp: "syscalls:sys_enter_getppid", fnName: "on_getppid")
                for _ in 0..<100 {
                    _ = getppid()
                    while let f = try b.traceFields(timeout: 0.1) {
                        if f.message.contains(marker) {
                            print("script saw \(f.message) from \(f.task)")
                            exit(0)
                        }
                    }
                }
                print("no trace line")
                exit(1)

                """#, executable: true)
            let child = try Child(script, [marker], environment: box.environment)
            #expect(child.wait(timeout: 300) == 0, "stderr: \(child.stderr)")
            #expect(child.stdoutLines.contains { $0.hasPrefix("script saw \(marker) from ") }, "stdout: \(child.stdout)")
        }

        /// A perf-buffer tool as a script: events from getppid calls of process `parent`, printed
        /// with print (stdout is a file here, so fully buffered), in one of three main loops.
        static let eventLoopScript = #"""
            import SwiftBCC
            import Glibc

            let parent = Int32(CommandLine.arguments[1])!
            let mode = CommandLine.arguments[2]
            let b = try BPF(text: """
                BPF_PERF_OUTPUT(events);
                int on_getppid(void *ctx) {
                    u32 pid = bpf_get_current_pid_tgid() >> 32;
                    if (pid != \(parent)) return 0;
                    events.perf_submit(ctx, &pid, sizeof(pid));
                    return 0;
                }
                """)
            try b.attachTracepoint(tp: "syscalls:sys_enter_getppid", fnName: "on_getppid")
            var n = 0
            if mode == "stream" {
                let events = try b["events"].events(as: UInt32.self)
                writeAll(Array("ready\n".utf8), to: 2)
                for try await _ in events {
                    n += 1
                    print("event \(n)")
                    writeAll(Array("got \(n)\n".utf8), to: 2)
                }
            } else {
                try b["events"].openPerfBuffer { _, _ in
                    n += 1
                    print("event \(n)")
                    writeAll(Array("got \(n)\n".utf8), to: 2)
                }
                writeAll(Array("ready\n".utf8), to: 2)
            }
            if mode == "naive" {
                while true { try b.perfBufferPoll() }
            } else if mode == "condition" {
                while !BPF.isInterrupted { try b.perfBufferPoll() }
            } else if mode == "pollLoop" {
                try b.pollLoop()
            }
            print("loop ended after \(n) events")

            """#

        /// Starts the event-loop script, makes 5 events, waits until it has printed them, sends
        /// `signal`, and returns the child once it ended.
        func runEventLoop(_ mode: String, signal: Int32) throws -> Child {
            let box = try ScriptSandbox()
            let script = try box.write("events.swift", Self.eventLoopScript)
            let child = try Child(try ScriptSandbox.runner(), [script, "\(getpid())", mode], environment: box.environment)
            #expect(eventually(timeout: 300) { child.stderr.contains("ready") || !child.process.isRunning },
                    "stderr: \(child.stderr)")
            for _ in 0..<5 {
                _ = getppid()
                usleep(20_000)
            }
            // Its stdout is a file (fully buffered): the unbuffered stderr says when it has them.
            #expect(eventually(timeout: 30) { child.stderr.contains("got 5\n") }, "stderr: \(child.stderr)")
            kill(child.process.processIdentifier, signal)
            _ = child.wait(timeout: 20)
            withExtendedLifetime(box) {}
            return child
        }

        @Test("Ctrl-C in `while true { try b.perfBufferPoll() }` ends the process by SIGINT, with its printed lines flushed and no Swift error")
        func naiveLoopSigint() throws {
            let child = try runEventLoop("naive", signal: SIGINT)
            #expect(child.process.terminationReason == .uncaughtSignal && child.process.terminationStatus == SIGINT,
                    "status \(child.process.terminationStatus); stderr: \(child.stderr)")
            #expect(child.stdoutLines.prefix(5) == ["event 1", "event 2", "event 3", "event 4", "event 5"], "stdout: \(child.stdout)")
            #expect(!child.stderr.contains("Fatal error") && !child.stderr.contains("interrupted"), "stderr: \(child.stderr)")
        }

        @Test("`while !BPF.isInterrupted { try b.perfBufferPoll() }`, `try b.pollLoop()` and `for try await` over events(as:) end on SIGINT/SIGTERM; the program goes on and exits 0",
              arguments: [("condition", SIGINT), ("pollLoop", SIGINT), ("pollLoop", SIGTERM), ("stream", SIGINT)])
        func loopsEndNormally(mode: String, signal: Int32) throws {
            let child = try runEventLoop(mode, signal: signal)
            #expect(child.process.terminationReason == .exit && child.process.terminationStatus == 0,
                    "status \(child.process.terminationStatus); stderr: \(child.stderr)")
            let lines = child.stdoutLines
            #expect(lines.prefix(5) == ["event 1", "event 2", "event 3", "event 4", "event 5"], "stdout: \(child.stdout)")
            #expect(lines.last.map { $0.hasPrefix("loop ended after ") } == true, "stdout: \(child.stdout)")
        }

        @Test("README.md's first Swift block runs as a script: it prints Hello World! on execve (kprobe or tracepoint) and ends on Ctrl-C with exit 0")
        func readmeFirstScreen() throws {
            let readme = try String(contentsOfFile: packageDirectory() + "/README.md", encoding: .utf8)
            let block = try #require(swiftBlocks(in: readme).first, "README.md has no ```swift block")
            #expect(block.contains("import SwiftBCC"))
            let box = try ScriptSandbox()
            let script = try box.write("readme.swift", block)
            try drainTracePipe()
            let child = try Child(try ScriptSandbox.runner(), [script], environment: box.environment)
            let saw = eventually(timeout: 300) {
                execTrue()
                return child.stdoutLines.contains { $0.contains("Hello World!") } || !child.process.isRunning
            }
            #expect(saw, "stdout: \(child.stdout); stderr: \(child.stderr)")
            kill(child.process.processIdentifier, SIGINT)
            #expect(child.wait(timeout: 20) == 0, "stderr: \(child.stderr)")
            #expect(child.process.terminationReason == .exit)
            #expect(child.stdoutLines.allSatisfy { !$0.hasPrefix("b'") })
            if !Probe.kprobes.ok {
                #expect(child.stderr.contains("attaching hello to the tracepoint syscalls:sys_enter_execve"), "stderr: \(child.stderr)")
            }
        }
    }
}

/// The package's root directory (this file is Tests/SwiftBCCTests/ScriptRunnerTests.swift).
func packageDirectory(_ file: String = #filePath) -> String {
    URL(fileURLWithPath: file).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
}

/// The text of every ```swift fenced block in a Markdown document, in order.
func swiftBlocks(in markdown: String) -> [String] {
    var blocks: [String] = []
    var current: [Substring]?
    for line in markdown.split(separator: "\n", omittingEmptySubsequences: false) {
        let trimmed = line.trimmingCharacters(in: .whitespaces)
        if current == nil {
            if trimmed == "```swift" { current = [] }
        } else if trimmed == "```" {
            blocks.append(current!.joined(separator: "\n") + "\n")
            current = nil
        } else {
            current!.append(line)
        }
    }
    return blocks
}
