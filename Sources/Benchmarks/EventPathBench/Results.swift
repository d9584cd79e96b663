// The numbers of one run, printed as they come and then as a Markdown table with ratios.
import BenchSupport
import Foundation

struct Results {
    /// Best ns/event by "<consumer>/<perf|ring>".
    var ns: [String: Double] = [:]
    var notes: [String] = []
    var skipped: [(what: String, reason: String)] = []

    static let rows: [(key: String, label: String)] = [
        ("swift-typed", "SwiftBCC, typed callback (`openPerfBuffer(of:)` / `openRingBuffer(of:)`)"),
        ("swift-raw", "SwiftBCC, raw callback + `data.loadEvent(as:)`"),
        ("swift-dynamic", "SwiftBCC, dynamic `table.event(data)`"),
        ("swift-typed-vars", "SwiftBCC, typed callback counting into captured `var`s"),
        ("swift-direct", "SwiftBCC, direct reader (`perfBufferReader()` / `ringBufferReader()`, `consume(as:)`)"),
        ("python-noop", "Python BCC, callback ignores the data"),
        ("python-event", "Python BCC, `b[\"events\"].event(data)`"),
        ("python-event0", "Python BCC, `b[\"events\"].event(data)`, callback returns 0"),
        ("c", "C on libbcc (`perf_reader_consume` / `bpf_consume_ringbuf`)"),
    ]

    static let ratios: [(label: String, numerator: String, denominator: String)] = [
        ("Python (callback ignores the data) / SwiftBCC typed", "python-noop", "swift-typed"),
        ("Python `event(data)` / SwiftBCC typed", "python-event", "swift-typed"),
        ("Python `event(data)` / SwiftBCC `event(data)`", "python-event", "swift-dynamic"),
        ("SwiftBCC direct reader / C", "swift-direct", "c"),
        ("SwiftBCC typed / C", "swift-typed", "c"),
        ("SwiftBCC raw + `loadEvent` / C", "swift-raw", "c"),
        ("SwiftBCC `event(data)` / C", "swift-dynamic", "c"),
    ]

    mutating func record(_ key: String, nsPerEvent: Double, received: Int, expected: Int) {
        ns[key] = nsPerEvent
        var line = "\(key.padding(toLength: 22, withPad: " ", startingAt: 0)) \(String(format: "%9.1f", nsPerEvent)) ns/event  "
            + "\(String(format: "%7.2f", 1000 / nsPerEvent)) M events/s"
        if received != expected {
            let note = "\(key): received \(received) of \(expected) events in the last round (lost some: the buffers were too small or the kernel dropped samples)"
            notes.append(note)
            line += "  (received \(received) of \(expected))"
        }
        print(line)
        fflush(nil)
    }

    mutating func skip(_ what: String, _ reason: String) {
        skipped.append((what, reason))
        print("\(what): skipped: \(reason)")
        fflush(nil)
    }

    /// Reads a child consumer's "RESULT path ns received expected" and "SKIP path reason" lines;
    /// paths it did not report are skipped with the child's failure.
    mutating func parse(_ output: ChildOutput, consumer: String, keys: [String: String]) {
        var reported = Set<String>()
        for line in output.stdout.split(separator: "\n") {
            let fields = line.split(separator: " ", maxSplits: 2).map(String.init)
            if fields.first == "RESULT" {
                let parts = line.split(separator: " ").map(String.init)
                guard parts.count == 5, let key = keys[parts[1]], let value = Double(parts[2]),
                      let received = Int(parts[3]), let expected = Int(parts[4]) else {
                    notes.append("\(consumer): unreadable line: \(line)")
                    continue
                }
                reported.insert(parts[1])
                record(key, nsPerEvent: value, received: received, expected: expected)
            } else if fields.first == "SKIP", fields.count >= 2 {
                reported.insert(fields[1])
                skip("\(consumer) \(fields[1])", fields.count > 2 ? fields[2] : "no reason given")
            }
        }
        let missing = keys.keys.filter { !reported.contains($0) }.sorted()
        if !missing.isEmpty {
            let reason = output.timedOut ? "timed out (see --timeout)"
                : output.status != 0 ? "exited with status \(output.status): \(output.lastError)"
                : "reported nothing"
            skip("\(consumer) \(missing.joined(separator: ", "))", reason)
        }
    }

    func cell(_ key: String) -> String {
        ns[key].map { String(format: $0 < 100 ? "%.1f" : "%.0f", $0) } ?? "–"
    }

    func ratio(_ numerator: String, _ denominator: String) -> String {
        guard let a = ns[numerator], let b = ns[denominator], b > 0 else { return "–" }
        return String(format: a / b < 10 ? "%.2f×" : "%.0f×", a / b)
    }

    func printSummary(onlineCPUs: Int) {
        print("")
        guard !ns.isEmpty else {
            print("no measurements")
            for (what, reason) in skipped { print("skipped: \(what): \(reason)") }
            return
        }
        print("| Consumer (same run, \(onlineCPUs) online CPUs) | perf ns/event | ring ns/event |")
        print("| --- | ---: | ---: |")
        for (key, label) in Self.rows where ns["\(key)/perf"] != nil || ns["\(key)/ring"] != nil {
            print("| \(label) | \(cell("\(key)/perf")) | \(cell("\(key)/ring")) |")
        }
        print("")
        print("| Ratio of ns/event (same run) | perf | ring |")
        print("| --- | ---: | ---: |")
        for (label, a, b) in Self.ratios {
            let perf = ratio("\(a)/perf", "\(b)/perf")
            let ring = ratio("\(a)/ring", "\(b)/ring")
            if perf != "–" || ring != "–" { print("| \(label) | \(perf) | \(ring) |") }
        }
        for (what, reason) in skipped { print("skipped: \(what): \(reason)") }
        for note in notes { print("note: \(note)") }
    }
}
