import Glibc

/// Wall-clock and relative time columns as the Python tools print them.
public enum TimeFormat {
    /// `strftime(format)` of the current local time (or UTC), e.g. `"%H:%M:%S"` (`-T` columns).
    public static func now(_ format: String = "%H:%M:%S", utc: Bool = false) -> String {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return strftime(format, seconds: ts.tv_sec, utc: utc)
    }

    /// `strftime(format)` of the time `seconds` since the epoch.
    public static func strftime(_ format: String, seconds: Int, utc: Bool = false) -> String {
        var t = time_t(seconds)
        var tmv = tm()
        if utc { gmtime_r(&t, &tmv) } else { localtime_r(&t, &tmv) }
        var buffer = [CChar](repeating: 0, count: 128)
        let n = Glibc.strftime(&buffer, buffer.count, format, &tmv)
        return String(decoding: buffer.prefix(n).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// `HH:MM:SS.mmm` of now (Python: `datetime.now().strftime("%H:%M:%S.%f")[:-3]`).
    public static func nowMillis(utc: Bool = false) -> String {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return strftime("%H:%M:%S", seconds: ts.tv_sec, utc: utc) + cformat(".%03d", Int32(ts.tv_nsec / 1_000_000))
    }

    /// The local time zone's abbreviation now (`strftime("%Z")`), e.g. `UTC`, `CET`.
    public static var zoneName: String { now("%Z") }

    /// Seconds since the epoch, as Python's `time.time()`.
    public static func wallSeconds() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }

    /// Monotonic seconds (the clock `bpf_ktime_get_ns` reads).
    public static func monotonicSeconds() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }
}

/// The `-t`/`-T` relative timestamp: seconds since a first moment (the tool's start, or the
/// first event's kernel timestamp, as each Python tool does it).
public struct RelativeClock: Sendable {
    private var first: UInt64?

    /// A clock whose first moment is the first value it is given.
    public init() {}

    /// Seconds from the first value passed here to `ns` (a `bpf_ktime_get_ns` value or any
    /// nanosecond count); the first call returns 0.
    public mutating func seconds(sinceFirst ns: UInt64) -> Double {
        if first == nil { first = ns }
        return Double(ns &- first!) / 1e9
    }
}
