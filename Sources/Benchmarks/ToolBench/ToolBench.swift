// ToolBench (issue 12): the bcc tools in Swift against their Python originals
// (/usr/sbin/<tool>-bpfcc) on the same generated load, one after the other in one run: CPU
// time of the tool process's threads per event while the load runs (after its first output,
// so the compile is not counted), and the time from the spawn to its first output (the header,
// printed once its probes are attached). Each tool's stdout is a pseudo-terminal, as when a
// user runs it: Python's stdout is line-buffered there, and the Swift tools write each row
// once. Tools whose Python original cannot run on this kernel are skipped with its error.
import ArgumentParser
import BenchSupport
import Foundation
import Glibc
import SwiftBCC

@main
struct ToolBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "CPU per event and start time of the Swift bcc tools and their Python originals on the same load.")

    @Option(help: "Seconds of load per run.")
    var seconds = 4.0

    @Option(help: "Rounds (the median is reported).")
    var rounds = 3

    @Option(help: "Row tools: load events per second (connects, lookups, opens, stats, kills).")
    var rate = 2000

    @Option(help: "Exec load (execsnoop, exitsnoop): processes spawned per second, at most.")
    var execRate = 200

    @Option(help: "bashreadline's load: lines typed into an interactive bash per second.")
    var bashRate = 500

    @Option(help: "Seconds to wait for a tool's first output (a compile under qemu TCG takes minutes).")
    var startTimeout = 120.0

    @Option(help: "Unmeasured starts of each tool in both languages before the rounds (the first compile after a boot reads clang, LLVM and the headers from disk for the runs after it).")
    var warmups = 1

    @Option(help: "Tools to run (comma-separated): \(Self.all.map(\.name).joined(separator: ", ")).")
    var only: String?

    @Option(help: "The Python that runs Python BCC.")
    var python = "/usr/bin/python3"

    @Option(help: "Where the Swift tools are (default: beside this executable).")
    var toolsDir: String?

    /// A tool, its arguments (the same for both; `{pid}` is this benchmark's pid), and its load.
    struct Case {
        enum Load { case syscalls, tcpSessions, lookups, opens, stats, kills, execs, syncs, switches, directWrites, bashLines }
        var name: String
        var arguments: [String]
        var load: Load
        /// The tool prints its header before it compiles (Python's exitsnoop): it is ready at
        /// its first row, which the benchmark makes by spawning /bin/true.
        var headerFirst = false
        /// The tool prints its header before it compiles and no row until Ctrl-C (Python's
        /// profile): it is ready once it holds a perf event per CPU (its sampling events).
        var readyAtPerfEvents = false
        /// Whether the tool prints a row per event while the load runs (a histogram or stack
        /// tool prints its summary at Ctrl-C).
        var printsRows: Bool {
            switch load {
            case .syscalls, .switches, .directWrites: false
            case .tcpSessions, .lookups, .opens, .stats, .kills, .execs, .syncs, .bashLines: true
            }
        }
    }

    static let all: [Case] = [
        Case(name: "syscount", arguments: [], load: .syscalls),
        Case(name: "funccount", arguments: ["t:syscalls:sys_enter_getppid"], load: .syscalls),
        Case(name: "stackcount", arguments: ["t:syscalls:sys_enter_getppid"], load: .syscalls),
        Case(name: "tcplife", arguments: [], load: .tcpSessions),
        Case(name: "gethostlatency", arguments: [], load: .lookups),
        Case(name: "runqlat", arguments: [], load: .switches),
        Case(name: "profile", arguments: [], load: .syscalls, readyAtPerfEvents: true),
        Case(name: "bitesize", arguments: [], load: .directWrites),
        Case(name: "bashreadline", arguments: [], load: .bashLines),
        // The row tools whose Python originals need kprobes or kfuncs: run where they work (the
        // VM lane's kernel, `scripts/vm-run`; see docs/Performance.md).
        Case(name: "opensnoop", arguments: ["-p", "{pid}"], load: .opens),
        Case(name: "statsnoop", arguments: ["-p", "{pid}"], load: .stats),
        Case(name: "killsnoop", arguments: ["-p", "{pid}"], load: .kills),
        Case(name: "syncsnoop", arguments: [], load: .syncs),
        Case(name: "tcpconnect", arguments: ["-p", "{pid}"], load: .tcpSessions),
        Case(name: "execsnoop", arguments: ["-P", "{pid}"], load: .execs),
        Case(name: "exitsnoop", arguments: [], load: .execs, headerFirst: true),
        // Histogram and stack tools whose Python originals kprobe finish_task_switch.
        Case(name: "cpudist", arguments: [], load: .switches),
        Case(name: "offcputime", arguments: [], load: .switches),
    ]

    func run() throws {
        Interrupts.install()
        #if DEBUG
        print("warning: this is a debug build; build with -c release")
        #endif
        let wanted = only.map { Set($0.split(separator: ",").map(String.init)) }
        let dir = toolsDir ?? URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().path
        var table: [(Case, swift: Measure?, warm: Measure?, python: Measure?, note: String)] = []
        do {
            for c in Self.all where wanted?.contains(c.name) ?? true {
                let swiftPath = dir + "/" + c.name
                let pythonPath = "/usr/sbin/\(c.name)-bpfcc"
                var swift: [Measure] = [], warm: [Measure] = [], py: [Measure] = []
                var note = ""
                if access(swiftPath, X_OK) != 0 { note = "no \(swiftPath): swift build -c release --product \(c.name)" }
                for w in 0..<warmups where note.isEmpty && access(pythonPath, R_OK) == 0 {
                    try checkStop()
                    var env = ProcessInfo.processInfo.environment
                    env["SWIFTBCC_CACHE_DIR"] = NSTemporaryDirectory() + "toolbench-\(getpid())-\(c.name)-warmup\(w)"
                    defer { try? FileManager.default.removeItem(atPath: env["SWIFTBCC_CACHE_DIR"]!) }
                    _ = try measure(swiftPath, c, environment: env, startOnly: true)
                    try checkStop()
                    _ = try measure(python, c, prefix: [pythonPath], environment: pythonEnvironment(), startOnly: true)
                }
                for round in 0..<rounds where note.isEmpty {
                    try checkStop()
                    // Cold: a compile cache of its own (the first run fills it), then warm from it.
                    var env = ProcessInfo.processInfo.environment
                    env["SWIFTBCC_CACHE_DIR"] = NSTemporaryDirectory() + "toolbench-\(getpid())-\(c.name)-\(round)"
                    defer { try? FileManager.default.removeItem(atPath: env["SWIFTBCC_CACHE_DIR"]!) }
                    func runSwift() throws {
                        for cold in [true, false] {
                            switch try measure(swiftPath, c, environment: env) {
                            case .success(let m): if cold { swift.append(m) } else { warm.append(m) }
                            case .failure(let f): note = "Swift: \(f.reason)"
                            }
                        }
                    }
                    func runPython() throws {
                        guard access(pythonPath, R_OK) == 0 else {
                            note = "no \(pythonPath) (apt-get install bpfcc-tools)"
                            return
                        }
                        switch try measure(python, c, prefix: [pythonPath], environment: pythonEnvironment()) {
                        case .success(let m): py.append(m)
                        case .failure(let f): note = "Python: \(f.reason)"
                        }
                    }
                    // Which language goes first alternates by round: the first compile of a run
                    // may pay for what the second finds ready (the page cache and, under qemu
                    // TCG, perhaps the translations of libLLVM's code, which both load).
                    if round % 2 == 0 {
                        try runSwift(); try checkStop(); try runPython()
                    } else {
                        try runPython(); try checkStop(); try runSwift()
                    }
                }
                let s = Measure.median(swift), w = Measure.median(warm), p = Measure.median(py)
                for (language, m) in [("Swift", s), ("Swift warm", w), ("Python", p)] where (m?.ctrlCs ?? 1) > 1 {
                    note += (note.isEmpty ? "" : "; ") + "\(language) needed up to \(m!.ctrlCs) Ctrl-Cs to exit"
                }
                print("\(c.name): Swift \(s?.text ?? "–"); warm \(w?.text ?? "–"); Python \(p?.text ?? "–")"
                      + (note.isEmpty ? "" : " (\(note))"))
                table.append((c, s, w, p, note))
            }
        } catch is Stopped {
            print("stopped by signal \(Interrupts.pendingSignal ?? 0): partial results")
        }
        print("")
        print("| Tool (same run, medians of \(rounds)) | load | user CPU/event Swift (ns) | user CPU/event Python (ns) | user CPU Swift / Python | all CPU/event Swift (ns) | all CPU/event Python (ns) | all CPU Swift / Python | start Swift cold (s) | start Swift warm (s) | start Python (s) | cold start Swift / Python | Ctrl-C to exit Swift / Python (s) |")
        print("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
        for (c, s, w, p, note) in table {
            let load: String
            switch c.load {
            case .syscalls: load = "getppid() loop, \(Int(s?.events ?? 0)) calls"
            case .tcpSessions: load = "loopback TCP sessions, \(rate)/s, \(Int(s?.events ?? 0))"
            case .lookups: load = "getaddrinfo(\"localhost\"), \(rate)/s, \(Int(s?.events ?? 0))"
            case .opens: load = "open() of a missing file, \(rate)/s, \(Int(s?.events ?? 0))"
            case .stats: load = "statvfs() (the statfs syscall) of a missing file, \(rate)/s, \(Int(s?.events ?? 0))"
            case .kills: load = "kill(self, 0), \(rate)/s, \(Int(s?.events ?? 0))"
            case .syncs: load = "sync(), \(rate)/s, \(Int(s?.events ?? 0))"
            case .execs: load = "spawn and wait /bin/true, up to \(execRate)/s, \(Int(s?.events ?? 0))"
            case .switches: load = "pipe ping-pong of two threads, \(Int(s?.events ?? 0)) wakeups"
            case .directWrites: load = "O_DIRECT 4 KiB writes, \(rate)/s, \(Int(s?.events ?? 0))"
            case .bashLines: load = "lines typed into an interactive bash, \(bashRate)/s, \(Int(s?.events ?? 0))"
            }
            func ns(_ v: Double?) -> String { v.map { String(format: $0 * 1e9 < 10 ? "%.2f" : "%.0f", $0 * 1e9) } ?? "–" }
            func st(_ m: Measure?) -> String { m.map { String(format: "%.3f", $0.start) } ?? "–" }
            func ex(_ m: Measure?) -> String { m.map { String(format: "%.3f", $0.exit) } ?? "–" }
            print("| `\(([c.name] + c.arguments).joined(separator: " "))` | \(load) | \(ns(s?.userPerEvent)) | \(ns(p?.userPerEvent)) | "
                  + "\(formatRatio(s?.userPerEvent, p?.userPerEvent)) | \(ns(s?.cpuPerEvent)) | \(ns(p?.cpuPerEvent)) | "
                  + "\(formatRatio(s?.cpuPerEvent, p?.cpuPerEvent)) | \(st(s)) | \(st(w)) | \(st(p)) | \(formatRatio(s?.start, p?.start)) | \(ex(s)) / \(ex(p)) |"
                  + (note.isEmpty ? "" : " <!-- \(note) -->"))
        }
    }

    struct Measure {
        /// All CPU time (user and kernel) of the tool's threads per event.
        var cpuPerEvent: Double
        /// User-space CPU per event (issue 12's measure).
        var userPerEvent: Double
        var start: Double
        var events: Double
        /// Seconds from the (first) Ctrl-C to the exit: the summary of a histogram or stack tool.
        var exit: Double
        /// The Ctrl-Cs it took: Python's tools miss one that arrives while a ctypes callback runs
        /// (the KeyboardInterrupt is raised inside the callback, and ctypes ignores it: bcc#2083).
        var ctrlCs = 1
        var text: String {
            String(format: "%.0f ns user CPU/event, %.0f ns CPU/event over %.0f events, start %.3f s, exit %.3f s",
                   userPerEvent * 1e9, cpuPerEvent * 1e9, events, start, exit) + (ctrlCs > 1 ? " after \(ctrlCs) Ctrl-Cs" : "")
        }
        static func median(_ ms: [Measure]) -> Measure? {
            guard !ms.isEmpty else { return nil }
            let byCPU = ms.sorted { $0.cpuPerEvent < $1.cpuPerEvent }
            let byUser = ms.sorted { $0.userPerEvent < $1.userPerEvent }
            let byStart = ms.sorted { $0.start < $1.start }
            let byExit = ms.sorted { $0.exit < $1.exit }
            return Measure(cpuPerEvent: byCPU[ms.count / 2].cpuPerEvent, userPerEvent: byUser[ms.count / 2].userPerEvent,
                           start: byStart[ms.count / 2].start, events: byCPU[ms.count / 2].events,
                           exit: byExit[ms.count / 2].exit, ctrlCs: ms.map(\.ctrlCs).max() ?? 1)
        }
    }

    struct Failure: Error { var reason: String }

    /// One run: spawn on a pty, wait for the first output, CPU before and after the load.
    func measure(_ executable: String, _ c: Case, prefix: [String] = [],
                 environment: [String: String]?, startOnly: Bool = false) throws -> Result<Measure, Failure> {
        let pty = try PTY()
        defer { pty.close() }
        let t0 = Date()
        let load = c.load
        let arguments = prefix + c.arguments.map { $0 == "{pid}" ? String(getpid()) : $0 }
        let pid = try spawn(executable, arguments, stdout: pty.slave, environment: environment,
                            controllingTerminal: pty.slavePath)
        pty.closeSlave()
        var stopped = false
        defer {
            if !stopped { kill(pid, SIGKILL); _ = reap(pid) }
        }
        // The first output is the header: the probes are attached.
        let deadline = Date().addingTimeInterval(startTimeout)
        while pty.text.isEmpty {
            try checkStop()
            if Date() > deadline { return .failure(Failure(reason: "no output in \(startTimeout) s")) }
            if let status = reap(pid, wait: false) {
                stopped = true
                return .failure(Failure(reason: "exited with status \(status) before any output: "
                    + (pty.text.split(separator: "\n").last.map(String.init) ?? "")))
            }
            pty.pump(timeoutMs: 20)
        }
        // A tool that prints its header first is ready at its first row.
        // (Bytes, not Characters: the terminal ends lines with "\r\n", one Character.)
        while c.headerFirst && pty.text.utf8.lazy.filter({ $0 == 0x0a }).count < 2 {
            try checkStop()
            if Date() > deadline { return .failure(Failure(reason: "no row in \(startTimeout) s")) }
            if reap(pid, wait: false) != nil {
                stopped = true
                return .failure(Failure(reason: "exited before its first row: " + (pty.text.split(separator: "\n").last.map(String.init) ?? "")))
            }
            spawnTrue()
            pty.pump(timeoutMs: 20)
        }
        let cpus = Int(sysconf(Int32(_SC_NPROCESSORS_ONLN)))
        while c.readyAtPerfEvents && perfEventCount(pid) < cpus {
            try checkStop()
            if Date() > deadline { return .failure(Failure(reason: "no perf events open in \(startTimeout) s")) }
            if reap(pid, wait: false) != nil {
                stopped = true
                return .failure(Failure(reason: "exited before it opened its perf events: " + (pty.text.split(separator: "\n").last.map(String.init) ?? "")))
            }
            pty.pump(timeoutMs: 5)
        }
        let start = Date().timeIntervalSince(t0)
        if startOnly {
            let (exited, _, _) = interrupt(pid, pty: pty)
            if !exited { kill(pid, SIGKILL); _ = reap(pid) }
            stopped = true
            return .success(Measure(cpuPerEvent: 0, userPerEvent: 0, start: start, events: 0, exit: 0))
        }
        // Let it settle (Python prints its header before its last attach in some tools).
        let settle = Date().addingTimeInterval(0.5)
        while Date() < settle { pty.pump(timeoutMs: 20) }
        let cpu0 = cpuSeconds(pid), user0 = userSeconds(pid)
        let before = pty.received
        let events = try runLoad(load, pty: pty)
        // The drain: until the tool has printed nothing for a second (a tool that fell behind
        // the load is still printing its rows, and that CPU is the load's too), at most 120 s.
        var quietSince = Date(), lastReceived = pty.received
        let drainLimit = Date().addingTimeInterval(120)
        while Date().timeIntervalSince(quietSince) < 1.0 && Date() < drainLimit {
            pty.pump(timeoutMs: 20)
            if pty.received != lastReceived { lastReceived = pty.received; quietSince = Date() }
        }
        let cpu1 = cpuSeconds(pid), user1 = userSeconds(pid)
        // A tool that died after its first output (an error message) measured nothing.
        if let status = reap(pid, wait: false) {
            stopped = true
            return .failure(Failure(reason: "exited with status \(status) during the load: "
                + (pty.text.split(separator: "\n").last.map(String.init) ?? "")))
        }
        if c.printsRows && pty.received == before {
            return .failure(Failure(reason: "printed no row during the load"))
        }
        // Reading /proc/<pid>/stat above was an open() of this process (opensnoop -p traces
        // it): let the tool print that row before the Ctrl-C.
        let pause = Date().addingTimeInterval(0.3)
        while Date() < pause { pty.pump(timeoutMs: 20) }
        // Ctrl-C: the tool prints its summary and exits; SIGKILL if it has not within 30 s.
        let (exited, exitTime, ctrlCs) = interrupt(pid, pty: pty)
        if !exited { kill(pid, SIGKILL); _ = reap(pid) }
        stopped = true
        if !exited { return .failure(Failure(reason: "still running 30 s after the first of \(ctrlCs) Ctrl-Cs")) }
        guard let cpu0, let cpu1, let user0, let user1, events > 0 else { return .failure(Failure(reason: "no CPU times or no load")) }
        return .success(Measure(cpuPerEvent: (cpu1 - cpu0) / Double(events), userPerEvent: (user1 - user0) / Double(events),
                                start: start, events: Double(events), exit: exitTime, ctrlCs: ctrlCs))
    }

    /// Types Ctrl-C on the tool's terminal (the line discipline sends SIGINT to its process
    /// group, as a terminal does; a kill() from here would be an event for killsnoop), again
    /// every 5 s while it runs, for 30 s. Returns whether it exited, the seconds from the first
    /// Ctrl-C, and how many it took.
    func interrupt(_ pid: pid_t, pty: PTY) -> (exited: Bool, seconds: Double, ctrlCs: Int) {
        let first = Date()
        var ctrlCs = 0
        var next = first
        while Date().timeIntervalSince(first) < 30 {
            if reap(pid, wait: false) != nil { return (true, Date().timeIntervalSince(first), ctrlCs) }
            if Date() >= next {
                if !pty.typeInterrupt() { kill(pid, SIGINT) }
                ctrlCs += 1
                next = Date().addingTimeInterval(5)
            }
            pty.pump(timeoutMs: 20)
        }
        return (false, Date().timeIntervalSince(first), ctrlCs)
    }

    /// Runs the load for `seconds`; returns the number of events it made.
    func runLoad(_ load: Case.Load, pty: PTY) throws -> Int {
        let end = Date().addingTimeInterval(seconds)
        var n = 0
        switch load {
        case .syscalls:
            while Date() < end {
                for _ in 0..<10_000 { _ = getppid() }
                n += 10_000
                pty.pump(timeoutMs: 0)
            }
        case .switches:
            // Two threads hand a byte back and forth over two pipes: every hand-off wakes one.
            let pingPong = try PingPong()
            defer { pingPong.close() }
            while Date() < end {
                n += pingPong.roundTrips(1000) * 2
                pty.pump(timeoutMs: 0)
            }
        case .bashLines:
            let shell = try InteractiveBash(spawn: { try spawn("/bin/bash", $0, stdout: $1, stdin: $1, environment: $2) })
            defer { shell.close(reap: { _ = reap($0) }) }
            let interval = 1.0 / Double(bashRate)
            var next = Date()
            while Date() < end {
                try shell.type(":")
                n += 1
                next += interval
                while next.timeIntervalSinceNow > 0 {
                    pty.pump(timeoutMs: 0)
                    shell.pump(timeoutMs: max(0, Int32(next.timeIntervalSinceNow * 1000)))
                }
            }
            // The load ends when bash has read every line (the tool has seen them all).
            n += 1
            guard try shell.finish(timeout: 30, while: { pty.pump(timeoutMs: 0) }) else {
                throw Failure(reason: "bash did not read the typed lines within 30 s")
            }
        case .tcpSessions, .lookups, .opens, .stats, .kills, .execs, .syncs, .directWrites:
            let listener = load == .tcpSessions ? try LoopbackListener() : nil
            defer { listener?.close() }
            let writer = load == .directWrites ? try DirectWriter() : nil
            defer { writer?.close() }
            let missing = "/tmp/toolbench-missing-\(getpid())"
            let interval = 1.0 / Double(load == .execs ? execRate : rate)
            var next = Date()
            while Date() < end {
                switch load {
                case .tcpSessions: listener!.session()
                case .lookups: lookup()
                case .opens: _ = open(missing, O_RDONLY)
                case .stats:
                    var s = statvfs()  // glibc: the statfs syscall
                    _ = statvfs(missing, &s)
                case .kills: _ = kill(getpid(), 0)
                case .syncs: sync()
                case .execs: spawnTrue()
                case .directWrites: writer!.write()
                case .syscalls, .switches, .bashLines: break
                }
                n += 1
                next += interval
                // Paced: read the tool's output while waiting for the next event's time.
                var wait = next.timeIntervalSinceNow
                pty.pump(timeoutMs: 0)
                while wait > 0 {
                    if wait >= 0.001 { pty.pump(timeoutMs: Int32(wait * 1000)) } else { usleep(UInt32(wait * 1e6)) }
                    wait = next.timeIntervalSinceNow
                }
            }
        }
        return n
    }

    /// One short-lived process: /bin/true, spawned and waited for.
    func spawnTrue() {
        var pid: pid_t = 0
        var argv: [UnsafeMutablePointer<CChar>?] = [strdup("/bin/true"), nil]
        defer { free(argv[0]) }
        if posix_spawn(&pid, "/bin/true", nil, nil, &argv, environ) == 0 { _ = reap(pid) }
    }

    func lookup() {
        var result: UnsafeMutablePointer<addrinfo>?
        if getaddrinfo("localhost", nil, nil, &result) == 0 { freeaddrinfo(result) }
    }

    /// How many perf events `pid` has open (`anon_inode:[perf_event]` in /proc/<pid>/fd).
    func perfEventCount(_ pid: pid_t) -> Int {
        let dir = "/proc/\(pid)/fd"
        guard let fds = try? FileManager.default.contentsOfDirectory(atPath: dir) else { return 0 }
        return fds.count { (try? FileManager.default.destinationOfSymbolicLink(atPath: "\(dir)/\($0)")) == "anon_inode:[perf_event]" }
    }

    /// CPU time of `pid`'s threads (not its children's), in seconds: the sum of each thread's
    /// `/proc/<pid>/task/<tid>/schedstat` run time (nanoseconds, unlike the 10 ms ticks of
    /// `stat`'s utime and stime, which a counting tool's few microseconds per second never reach).
    func cpuSeconds(_ pid: pid_t) -> Double? {
        let dir = "/proc/\(pid)/task"
        guard let tids = try? FileManager.default.contentsOfDirectory(atPath: dir) else { return nil }
        var ns: UInt64 = 0
        for tid in tids {
            guard let text = try? String(contentsOfFile: "\(dir)/\(tid)/schedstat", encoding: .utf8),
                  let first = text.split(separator: " ").first, let v = UInt64(first) else { continue }
            ns += v
        }
        return Double(ns) / 1e9
    }

    /// User-space CPU time of `pid` (utime of `/proc/<pid>/stat`, all its threads), in seconds
    /// (10 ms ticks: enough over thousands of row events, not for a counting tool's idle loop).
    func userSeconds(_ pid: pid_t) -> Double? {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = stat.lastIndex(of: ")") else { return nil }
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        // Fields after "pid (comm)": state first, utime the 12th.
        guard fields.count > 12, let u = Double(fields[11]) else { return nil }
        return u / Double(sysconf(Int32(_SC_CLK_TCK)))
    }

    /// With `controllingTerminal` (the path of `stdout`'s pty slave), the child starts a session
    /// of its own and opens the slave as stdout, which makes it the session's controlling
    /// terminal: Ctrl-C typed on the master then interrupts it as in a terminal.
    func spawn(_ executable: String, _ arguments: [String], stdout: Int32, stdin: Int32? = nil,
               environment: [String: String]?, controllingTerminal: String? = nil) throws -> pid_t {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        if let stdin { posix_spawn_file_actions_adddup2(&actions, stdin, 0) } else {
            posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        }
        if let controllingTerminal {
            posix_spawnattr_setflags(&attributes, Int16(0x80) /* POSIX_SPAWN_SETSID */)
            posix_spawn_file_actions_addopen(&actions, 1, controllingTerminal, O_RDWR, 0)
        } else {
            posix_spawn_file_actions_adddup2(&actions, stdout, 1)
        }
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        let args = [executable] + arguments
        let env = (environment ?? ProcessInfo.processInfo.environment).map { "\($0)=\($1)" }
        var cArgs = args.map { strdup($0) } + [nil]
        var cEnv = env.map { strdup($0) } + [nil]
        defer {
            for p in cArgs { free(p) }
            for p in cEnv { free(p) }
        }
        var pid: pid_t = 0
        let rc = posix_spawn(&pid, executable, &actions, &attributes, &cArgs, &cEnv)
        guard rc == 0 else { throw Failure(reason: "posix_spawn(\(executable)): errno \(rc)") }
        return pid
    }

    /// The exit status once `pid` ended (nil while it runs, with `wait: false`).
    func reap(_ pid: pid_t, wait: Bool = true) -> Int32? {
        var status: Int32 = 0
        let r = waitpid(pid, &status, wait ? 0 : WNOHANG)
        if r == pid { return status }
        if r < 0 { return -1 }
        return nil
    }
}

/// A pseudo-terminal whose slave is a tool's stdout; `pump` reads what it printed.
final class PTY {
    let master: Int32
    private(set) var slave: Int32
    /// `/dev/pts/N`, for a child that opens it as its controlling terminal.
    let slavePath: String
    private var bytes: [UInt8] = []
    /// All the bytes read so far (`text` keeps the last megabyte).
    private(set) var received = 0

    init() throws {
        // /dev/ptmx as posix_openpt opens it (glibc declares that only under _XOPEN_SOURCE):
        // unlock the slave, ask its number.
        master = open("/dev/ptmx", O_RDWR | O_NOCTTY)
        var unlock: Int32 = 0
        var number: UInt32 = 0
        guard master >= 0, ioctl(master, 0x4004_5431 /* TIOCSPTLCK */, &unlock) == 0, ioctl(master, 0x8004_5430 /* TIOCGPTN */, &number) == 0 else {
            throw ToolBench.Failure(reason: "no pseudo-terminal (/dev/ptmx)")
        }
        slavePath = "/dev/pts/\(number)"
        slave = open(slavePath, O_RDWR | O_NOCTTY)
        guard slave >= 0 else { throw ToolBench.Failure(reason: "no pseudo-terminal slave") }
        // Ctrl-C (VINTR) raises SIGINT, as in a terminal.
        var modes = termios()
        if tcgetattr(slave, &modes) == 0 {
            modes.c_lflag |= tcflag_t(ISIG)
            withUnsafeMutableBytes(of: &modes.c_cc) { $0[Int(VINTR)] = 0x03 }
            _ = tcsetattr(slave, TCSANOW, &modes)
        }
        // A wide terminal: tools that size columns to it print whole rows.
        var size = winsize(ws_row: 50, ws_col: 250, ws_xpixel: 0, ws_ypixel: 0)
        _ = ioctl(slave, UInt(TIOCSWINSZ), &size)
    }

    func closeSlave() {
        if slave >= 0 { Glibc.close(slave) }
        slave = -1
    }

    func close() {
        closeSlave()
        Glibc.close(master)
    }

    /// Reads what is there (waiting up to `timeoutMs`).
    func pump(timeoutMs: Int32) {
        var p = pollfd(fd: master, events: Int16(POLLIN), revents: 0)
        var wait = timeoutMs
        while poll(&p, 1, wait) > 0 {
            var chunk = [UInt8](repeating: 0, count: 65536)
            let n = read(master, &chunk, chunk.count)
            if n <= 0 { return }
            bytes += chunk[..<n]
            received += n
            if bytes.count > 1 << 20 { bytes.removeFirst(bytes.count - (1 << 16)) }
            wait = 0
        }
    }

    var text: String { String(decoding: bytes, as: UTF8.self) }

    /// Types Ctrl-C (false if the write failed).
    func typeInterrupt() -> Bool {
        var c: UInt8 = 0x03
        return write(master, &c, 1) == 1
    }
}

/// A loopback TCP listener: `session()` connects to it, accepts, and closes both ends (one
/// TCP session for tcplife).
final class LoopbackListener {
    let fd: Int32
    var port: UInt16 = 0

    init() throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        addr.sin_port = 0
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, 4)
        let ok = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        } == 0 && listen(fd, 128) == 0
        guard ok else { throw ToolBench.Failure(reason: "cannot listen on 127.0.0.1") }
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) }
        }
        port = UInt16(bigEndian: addr.sin_port)
    }

    func session() {
        let c = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard c >= 0 else { return }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        addr.sin_port = port.bigEndian
        let connected = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(c, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        } == 0
        if connected {
            let a = accept(fd, nil, nil)
            if a >= 0 { Glibc.close(a) }
        }
        Glibc.close(c)
    }

    func close() { Glibc.close(fd) }
}

/// Two threads that hand a byte back and forth over two pipes (runqlat's, cpudist's and
/// offcputime's load: each hand-off blocks one thread and wakes the other).
final class PingPong: @unchecked Sendable {
    private var ping: [Int32] = [-1, -1], pong: [Int32] = [-1, -1]
    private let thread: Thread

    init() throws {
        guard pipe(&ping) == 0, pipe(&pong) == 0 else { throw ToolBench.Failure(reason: "pipe: errno \(errno)") }
        let (input, output) = (ping[0], pong[1])
        thread = Thread {
            var byte: UInt8 = 0
            while read(input, &byte, 1) == 1 { _ = write(output, &byte, 1) }
        }
        thread.start()
    }

    /// `count` hand-offs each way; returns how many completed.
    func roundTrips(_ count: Int) -> Int {
        var byte: UInt8 = 1
        for i in 0..<count {
            guard write(ping[1], &byte, 1) == 1, read(pong[0], &byte, 1) == 1 else { return i }
        }
        return count
    }

    /// Closing the write end ends the thread's read loop.
    func close() {
        Glibc.close(ping[1])
        Glibc.close(pong[0])
        usleep(10_000)
        Glibc.close(ping[0])
        Glibc.close(pong[1])
    }
}

/// 4 KiB writes with O_DIRECT into a preallocated file under /var/tmp: each one block
/// request (bitesize's load; /var/tmp is on a disk where /tmp may be tmpfs).
final class DirectWriter {
    let fd: Int32
    let path = "/var/tmp/toolbench-direct-\(getpid())"
    private let buffer: UnsafeMutableRawPointer
    private var block = 0
    static let blocks = 256

    init() throws {
        var p: UnsafeMutableRawPointer?
        guard posix_memalign(&p, 4096, 4096) == 0, let p else { throw ToolBench.Failure(reason: "posix_memalign") }
        buffer = p
        memset(buffer, 0x5a, 4096)
        // Allocate the blocks first, so that a write is one data request and no journal.
        let setup = open(path, O_CREAT | O_TRUNC | O_WRONLY, 0o600)
        guard setup >= 0 else { throw ToolBench.Failure(reason: "open \(path): errno \(errno)") }
        for b in 0..<Self.blocks { _ = pwrite(setup, buffer, 4096, off_t(b * 4096)) }
        fsync(setup)
        Glibc.close(setup)
        fd = open(path, O_WRONLY | 0o40000 /* O_DIRECT on x86-64, not exported by Glibc */)
        guard fd >= 0 else {
            unlink(path)
            throw ToolBench.Failure(reason: "O_DIRECT open of \(path): errno \(errno) (needs a disk file system, not tmpfs)")
        }
    }

    func write() {
        _ = pwrite(fd, buffer, 4096, off_t(block * 4096))
        block = (block + 1) % Self.blocks
    }

    func close() {
        Glibc.close(fd)
        unlink(path)
        free(buffer)
    }
}

/// An interactive bash on a pseudo-terminal of its own (readline reads only from a terminal):
/// bashreadline's load is lines typed into it.
final class InteractiveBash {
    let pty: PTY
    let pid: pid_t
    private let marker = "toolbench-\(getpid())"

    init(spawn: ([String], Int32, [String: String]) throws -> pid_t) throws {
        pty = try PTY()
        var env = ProcessInfo.processInfo.environment
        env["TERM"] = "dumb"
        env["PS1"] = "$ "
        env["HISTFILE"] = "/dev/null"
        pid = try spawn(["--norc", "--noprofile", "-i"], pty.slave, env)
        pty.closeSlave()
        _ = fcntl(pty.master, F_SETFL, fcntl(pty.master, F_GETFL) | O_NONBLOCK)
    }

    /// Types `line` and Return (waiting, and reading bash's echo, while its input is full).
    func type(_ line: String) throws {
        var bytes = Array((line + "\r").utf8)
        let deadline = Date().addingTimeInterval(30)
        while !bytes.isEmpty {
            let n = Glibc.write(pty.master, bytes, bytes.count)
            if n > 0 { bytes.removeFirst(n) } else if errno == EAGAIN || errno == EINTR {
                guard Date() < deadline else { throw ToolBench.Failure(reason: "bash read no input for 30 s") }
                pump(timeoutMs: 1)
            } else {
                throw ToolBench.Failure(reason: "write to bash's terminal: errno \(errno)")
            }
        }
    }

    func pump(timeoutMs: Int32) { pty.pump(timeoutMs: timeoutMs) }

    /// Types a command whose output (not its echo) is a marker, and waits for it.
    func finish(timeout: Double, while work: () -> Void) throws -> Bool {
        try type("echo \(marker)-$((40+2))")
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            work()
            pump(timeoutMs: 10)
            if pty.text.contains("\(marker)-42") { return true }
        }
        return false
    }

    func close(reap: (pid_t) -> Void) {
        kill(pid, SIGKILL)
        reap(pid)
        pty.close()
    }
}
