import ArgumentParser
import Glibc
import Synchronization
import SwiftBCC

/// Options every tool takes besides its Python original's, all hidden from `--help`:
/// `--ebpf` prints the BPF program and exits (as every Python tool's hidden `--ebpf` does),
/// `--max-events N` exits 0 after N output rows, so tests and scripts can run a tool unattended,
/// and `--attach kfunc|kprobe|tracepoint|uprobe` uses that attach path only (no fallback).
public struct CommonOptions: ParsableArguments {
    /// `--ebpf`: print the BPF program and exit.
    @Flag(name: .customLong("ebpf"), help: .hidden)
    public var ebpf = false

    /// `--max-events N`: exit 0 after N output rows.
    @Option(name: .customLong("max-events"), help: .hidden)
    public var maxEvents: Int?

    /// `--attach kfunc|kprobe|tracepoint|uprobe`: that attach path only.
    @Option(name: .customLong("attach"), help: .hidden)
    public var attach: AttachKind?

    /// The defaults: no `--ebpf`, no row limit, every attach path.
    public init() {}

    /// Checks `--max-events` (at least 1).
    public func validate() throws {
        if let maxEvents, maxEvents < 1 { throw ValidationError("--max-events must be at least 1") }
    }

    /// The attach paths to try: all of `paths`, or with `--attach` the one of that kind.
    /// - Throws: `ToolError` when the tool has no path of the kind asked for.
    public func choose(_ paths: [AttachPath]) throws -> [AttachPath] {
        guard let attach else { return paths }
        let chosen = paths.filter { $0.kind == attach }
        guard !chosen.isEmpty else {
            throw ToolError("--attach \(attach.rawValue): this tool has no \(attach.rawValue) attach path; it has "
                + paths.map(\.kind.rawValue).joined(separator: ", ") + ".")
        }
        return chosen
    }
}

/// One run of a tool: stop conditions (a duration, `--max-events`, Ctrl-C/SIGTERM/SIGHUP), the
/// rows printed, and the event loop.
///
/// SIGINT, SIGTERM and SIGHUP all end the run the same way: the blocking poll or sleep returns,
/// the tool prints its summary (if it has one) and exits 0, its probes detached.
public final class ToolSession {
    /// The tool's name, for its messages.
    public let tool: String
    /// `--max-events`: the run ends after this many rows.
    public let maxEvents: Int?
    private let deadline: Double?
    /// The rows printed so far (through ``row(_:)``).
    public private(set) var rows = 0

    /// A run named `tool` that ends after `duration` seconds (nil: no limit) or `maxEvents`
    /// rows, or on Ctrl-C, SIGTERM or SIGHUP (installed here).
    public init(tool: String, duration: Double? = nil, maxEvents: Int? = nil) {
        self.tool = tool
        self.maxEvents = maxEvents
        self.deadline = duration.map { TimeFormat.monotonicSeconds() + $0 }
        ToolSignals.install()
    }

    /// The signal that ended the run (SIGHUP shows as SIGTERM), or nil.
    public var signal: Int32? { Interrupts.pendingSignal }

    /// Seconds left of the duration; nil without one.
    public var remaining: Double? { deadline.map { max(0, $0 - TimeFormat.monotonicSeconds()) } }

    /// True once a stop signal arrived, the duration passed, or `--max-events` rows were printed.
    public var isDone: Bool {
        if signal != nil { return true }
        if let maxEvents, rows >= maxEvents { return true }
        if let r = remaining, r <= 0 { return true }
        return false
    }

    /// Prints one output row (flushed) and counts it.
    public func row(_ line: String) {
        guard maxEvents.map({ rows < $0 }) ?? true else { return }
        emitLine(line)
        rows += 1
    }

    private var builder = RowBuilder()

    /// Builds one output row as bytes (``RowBuilder``, one buffer for the whole run), prints
    /// it (flushed) and counts it: the hot-path twin of ``row(_:)``.
    public func row(_ build: (inout RowBuilder) -> Void) {
        guard maxEvents.map({ rows < $0 }) ?? true else { return }
        builder.clear()
        build(&builder)
        builder.emit()
        rows += 1
    }

    /// How long a busy loop lets events gather after a poll that printed rows: one wakeup per
    /// batch instead of one per event (at 2,000 events/s the wakeup, not the row, was most of a
    /// tool's CPU), for at most this much more latency of a row.
    public static let coalescing = 0.01

    /// Polls `b`'s perf and ring buffers until the run is done (`until`, checked after each poll,
    /// lets a tool stop earlier). An idle tool does not wake up: the poll waits
    /// for an event, a stop signal, `cleanup()` or the end of the duration. When
    /// events come faster than ``coalescing`` (a poll printed more than one row, or printed
    /// rows within ``coalescing`` of the last that did) it waits that long before the next
    /// poll, so that the events of a busy period are read in batches; a lone event costs one
    /// wakeup, not two.
    ///
    /// `header` (the tool's column header) is printed first. Open the buffers before
    /// calling this: a user, or a test, takes the header to mean the tool is ready, and an
    /// event the kernel sends to a perf buffer nobody has opened yet is lost.
    public func pollLoop(_ b: BPF, header: String? = nil, until stop: () -> Bool = { false }) throws {
        if let header { emitLine(header) }
        var lastRows = -Double.infinity
        do {
            while !isDone && !stop() {
                // No timeout without a duration: a stop signal, `cleanup()` and every event wake
                // the poll, and `until` can only turn true after an event, so an idle tool
                // sleeps (Python's `perf_buffer_poll()` waits forever too; a 250 ms slice cost
                // 4 wakeups a second).
                let ms = remaining.map { Int(min($0, 3600) * 1000) + 1 } ?? -1
                let before = rows
                try b.pollBuffers(timeout: ms)
                guard rows != before else { continue }
                let now = TimeFormat.monotonicSeconds()
                let busy = rows - before > 1 || now - lastRows < Self.coalescing
                lastRows = now
                if busy && !isDone && !stop() { _ = sleep(Self.coalescing) }
            }
        } catch BPFError.interrupted {
            return
        }
    }

    /// Sleeps up to `seconds` (less when the duration ends first or a signal arrives); returns
    /// false when the run is done.
    @discardableResult
    public func sleep(_ seconds: Double) -> Bool {
        let end = TimeFormat.monotonicSeconds() + seconds
        let left = min(end, deadline ?? end) - TimeFormat.monotonicSeconds()
        // One wait that a stop signal ends (Interrupts.sleep): no slices, so an idle counting
        // tool does not wake until its interval or duration ends.
        if left > 0 { Interrupts.sleep(left) }
        return !isDone
    }
}

/// Ctrl-C, SIGTERM and SIGHUP for the tools.
public enum ToolSignals {
    private static let installed = Mutex(false)

    /// Installs SwiftBCC's SIGINT/SIGTERM handling (blocking calls return, `Interrupts`
    /// records the signal) and makes SIGHUP do what SIGTERM does.
    public static func install() {
        guard !installed.withLock({ done in defer { done = true }; return done }) else { return }
        Interrupts.install()
        var action = sigaction()
        var old = sigaction()
        sigaction(SIGHUP, nil, &old)
        guard old.__sigaction_handler.sa_handler == nil else { return }
        // Async-signal-safe: kill(2) re-raises it as SIGTERM, whose handler does the rest.
        action.__sigaction_handler.sa_handler = { _ in
            let saved = errno
            kill(getpid(), SIGTERM)
            errno = saved
        }
        sigemptyset(&action.sa_mask)
        action.sa_flags = SA_RESTART
        sigaction(SIGHUP, &action, nil)
        var set = sigset_t()
        sigemptyset(&set)
        sigaddset(&set, SIGHUP)
        pthread_sigmask(SIG_UNBLOCK, &set, nil)
    }
}

extension ParsableCommand {
    /// Parses the command line and runs the tool, the way every tool's `main.swift` starts:
    /// usage errors print the usage and exit 64 (ArgumentParser), a `BPFError` prints its
    /// description on stderr after the tool's name and exits 1 (never a backtrace), a stop
    /// signal that surfaces as `BPFError.interrupted` exits 0.
    ///
    /// `arguments` replaces the command line's (without the program name): for a tool that
    /// rewrites it first (bashreadline's `-s` with an optional value).
    public static func runTool(arguments: [String]? = nil) -> Never {
        let name = configuration.commandName ?? String(describing: Self.self)
        do {
            var command = try parseAsRoot(arguments)
            // Before compiling: a Ctrl-C while clang runs then ends the run cleanly (exit 0)
            // instead of killing the process.
            ToolSignals.install()
            // Tools run long: a cold compile runs in the swiftbcc-compile child, so the tool
            // never holds LLVM (SWIFTBCC_COMPILE_CHILD=0 keeps it in process).
            if getenv("SWIFTBCC_COMPILE_CHILD") == nil { BPF.compilesInChild = true }
            // Kernel structs are read at BTF offsets where the kernel has BTF (KernelFields), so
            // headers of another release cannot make them wrong: no warning then.
            if access("/sys/kernel/btf/vmlinux", R_OK) == 0 { BPF.warnsOnHeadersMismatch = false }
            try command.run()
            fflush(nil)
            Glibc.exit(0)
        } catch BPFError.interrupted {
            fflush(nil)
            Glibc.exit(0)
        } catch let error as BPFError {
            warn("\(name): \(error)")
            Glibc.exit(1)
        } catch let error as ToolError {
            warn("\(name): \(error)")
            Glibc.exit(1)
        } catch {
            exit(withError: error)
        }
    }
}

/// A tool-level failure that is not the library's (a name that does not exist, ...).
public struct ToolError: Error, CustomStringConvertible, Sendable {
    /// The message the tool prints after its name.
    public let description: String
    /// An error with this message.
    public init(_ description: String) { self.description = description }
}
