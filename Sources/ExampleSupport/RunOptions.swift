import ArgumentParser
import Glibc
import SwiftBCC

/// The flags every example takes besides its original's, so that tests and users can run it
/// unattended: `--count N` exits 0 after N output lines or events, `--duration S` after S seconds.
public struct RunOptions: ParsableArguments {
    @Option(help: "Exit 0 after this many output lines or events.")
    public var count: Int?

    @Option(help: "Exit 0 after this many seconds.")
    public var duration: Double?

    public init() {}

    public func validate() throws {
        if let count, count < 1 { throw ValidationError("--count must be at least 1") }
        if let duration, !(duration.isFinite && duration > 0) {
            throw ValidationError("--duration must be a number of seconds greater than 0")
        }
    }

    /// Starts the clock for `--duration` and the counter for `--count`.
    public func start() -> RunLimit { RunLimit(count: count, duration: duration) }
}

/// Tracks `--count` and `--duration` for one run, and stops on SIGINT/SIGTERM.
public final class RunLimit {
    public let count: Int?
    public let duration: Double?
    private let startMs: Int64
    public private(set) var emitted = 0

    init(count: Int?, duration: Double?) {
        self.count = count
        self.duration = duration
        self.startMs = RunLimit.nowMs()
        // Ctrl-C and SIGTERM end blocking SwiftBCC calls, so the example detaches and exits 0.
        // (`ExampleCommand` installed the handlers before parsing; this is for a program that
        // uses RunOptions without it. Once installed, the call is one atomic load.)
        Interrupts.install()
    }

    static func nowMs() -> Int64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Int64(ts.tv_sec) * 1000 + Int64(ts.tv_nsec) / 1_000_000
    }

    /// Seconds left before `--duration` runs out; nil without `--duration`.
    public var remaining: Double? {
        duration.map { max(0, $0 - Double(RunLimit.nowMs() - startMs) / 1000) }
    }

    /// True once the count is reached, the duration has passed, or a stop signal arrived.
    public var isDone: Bool {
        if Interrupts.pendingSignal != nil { return true }
        if let count, emitted >= count { return true }
        if let r = remaining, r <= 0 { return true }
        return false
    }

    /// Counts one output line or event; returns true when the run should stop.
    @discardableResult
    public func record(_ n: Int = 1) -> Bool {
        emitted += n
        return isDone
    }

    /// Prints `line` on stdout (flushed) and counts it.
    @discardableResult
    public func emit(_ line: String) -> Bool {
        print(line)
        fflush(nil)
        return record()
    }

    /// `tracePrint` with the run's limits: prints trace_pipe lines (formatted with `fmt` as in
    /// `BPF.tracePrint(fmt:)`) until the count or duration is reached or a signal arrives.
    public func tracePrint(_ b: BPF, fmt: String? = nil) throws {
        do {
            while !isDone {
                if let fmt {
                    guard let f = try b.traceFields(timeout: remaining) else { continue }
                    emit(f.format(fmt))
                } else {
                    // Kernels since 5.x end bpf_trace_printk lines with the message's own "\n"
                    // plus one more: skip the empty lines that makes.
                    guard let line = try b.traceReadline(timeout: remaining), !line.isEmpty else { continue }
                    emit(line)
                }
            }
        } catch BPFError.interrupted {
            return
        }
    }

    /// Runs an event loop: calls `poll` with a timeout in milliseconds (e.g.
    /// `{ try b.perfBufferPoll(timeout: $0) }`) until the count or duration is reached or a
    /// signal arrives; Ctrl-C/SIGTERM end it quietly, as KeyboardInterrupt ends a Python tool's loop.
    public func pollLoop(_ poll: (Int) throws -> Void) throws {
        do {
            while !isDone {
                try poll(BPF.milliseconds(remaining))
            }
        } catch BPFError.interrupted {
            return
        }
    }

    /// Sleeps up to `seconds` (less if `--duration` ends sooner); returns false when the run
    /// should stop (duration over or signal).
    public func sleep(_ seconds: Double) -> Bool {
        var left = min(seconds, remaining ?? seconds)
        while left > 0 && Interrupts.pendingSignal == nil {
            let step = min(left, 0.05)
            usleep(UInt32(step * 1_000_000))
            left -= step
        }
        return !isDone
    }
}

/// Prints one line on stderr (the example's own; SwiftBCC's go through `BPF.logHandler`).
public func warn(_ message: String) {
    writeAll(Array((message.hasSuffix("\n") ? message : message + "\n").utf8), to: 2)
}

// Column padding: `ljust(s, width)` / `rjust(s, width)` (C's `%-Ns` / `%Ns`) come from SwiftBCC
// (public), so the histograms and the examples share one implementation.

/// Attaches `fnName` as a kprobe on `event`, as the Python originals do; on a kernel without
/// kprobes it says so in one stderr line (starting with the example's name) and attaches the
/// function to the tracepoint that replaces it (e.g. `syscalls:sys_enter_clone` for
/// `__x64_sys_clone`): SwiftBCC's `attachKprobe(event:fnName:fallbackToTracepoint:)`.
public func attachKprobeOrTracepoint(_ b: BPF, event: String, fnName: String, example: String) throws {
    try b.attachKprobe(event: event, fnName: fnName, fallbackToTracepoint: true, warningPrefix: example)
}

/// An example's command: `@main struct HelloWorld: ExampleCommand`. SwiftBCC's stop-signal
/// handlers are installed before the command line is parsed, so Ctrl-C, SIGTERM, SIGHUP or
/// SIGQUIT at any point of the run (during the compile, between attaching and the event loop)
/// ends it the way the Python original's KeyboardInterrupt does: the probes detached, exit 0.
public protocol ExampleCommand: ParsableCommand {}

extension ExampleCommand {
    /// ArgumentParser's `main()`, with the handlers installed first and a stop during the
    /// compile (`BPFError.interrupted`, the compile child ended by the same Ctrl-C) as exit 0.
    public static func main() {
        Interrupts.install()
        do {
            var command = try parseAsRoot()
            try command.run()
        } catch BPFError.interrupted {
            fflush(nil)
            Glibc.exit(0)
        } catch {
            exit(withError: error)
        }
    }
}
