import ArgumentParser
import Glibc
import SwiftBCC

/// The output loop of the histogram tools (biolatency, runqlat, cpudist): every `interval`
/// seconds, `count` times (or until Ctrl-C/SIGTERM), an empty line, the time when `-T`, then the
/// tool's summary.
public enum IntervalOutput {
    /// Python's `99999999`: the default of the `interval` and `count` positional arguments.
    public static let forever = 99_999_999

    /// Runs Python's loop: `sleep(interval)` (a stop signal cuts it short and makes this the last
    /// output), `print()`, `%-8s` of `strftime("%H:%M:%S")` with `timestamp`, then `body`; ends
    /// after `count` outputs (`maxOutputs`, the hidden `--max-events`, lowers it).
    public static func run(tool: String, interval: Int, count: Int, timestamp: Bool, maxOutputs: Int? = nil,
                           body: () throws -> Void) throws {
        let session = ToolSession(tool: tool)
        var countdown = min(count, maxOutputs ?? count)
        while true {
            let exiting = !session.sleep(Double(interval))
            emitLine("")
            if timestamp { emitLine(pad(TimeFormat.now("%H:%M:%S"), 8)) }
            try body()
            countdown -= 1
            if exiting || countdown == 0 { return }
        }
    }

    /// The `-e` summary line of biolatency and cpudist, as Python prints it
    /// (`"\navg = %ld %s, total: %ld %s, count: %ld\n" % (total / count, ...)`, then print's
    /// newline); nil when `count` is 0 (Python prints nothing then). The average is Python's
    /// float division truncated by `%ld`.
    public static func extensionSummary(total: UInt64, count: UInt64, label: String) -> String? {
        guard count > 0 else { return nil }
        let avg = (Double(total) / Double(count)).rounded(.towardZero)
        let avgText = avg < 9.2e18 ? String(Int64(avg)) : String(UInt64(avg))
        return "\navg = \(avgText) \(label), total: \(total) \(label), count: \(count)\n\n"
    }
}

/// The `{u64 total; u64 count;}` value of the `-e` extension array (biolatency, cpudist).
public struct ExtensionValue: BitwiseCopyable, Sendable {
    /// The sum of the values (microseconds or milliseconds, as the histogram).
    public var total: UInt64
    /// How many values were added.
    public var count: UInt64
    /// A value with this total and count (zero for an empty slot).
    public init(total: UInt64 = 0, count: UInt64 = 0) {
        self.total = total
        self.count = count
    }
}

/// Positional `interval` and `count` of the histogram tools: whole numbers of at least 1 (Python
/// takes any string and fails in `int()` or spins with 0).
public func validateIntervalCount(_ interval: Int, _ count: Int) throws {
    if interval < 1 { throw ValidationError("interval must be at least 1 second") }
    if count < 1 { throw ValidationError("count must be at least 1") }
}
