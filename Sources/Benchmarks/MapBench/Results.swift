// The numbers of one run, printed as they come and then as Markdown tables with ratios.
import BenchSupport
import Foundation

struct MapResults {
    let entries: Int
    /// Best ns per entry (histogram: per print) by consumer ("swift", "c", "python") and operation.
    var ns: [String: [String: Double]] = [:]
    var checks: [String: [String: UInt64]] = [:]
    var notes: [String] = []
    var skipped: [(what: String, reason: String)] = []

    static let rows: [(op: String, label: String, c: String, python: String)] = [
        ("update", "100k single updates: typed `update(k, v)` / `bpf_update_elem` / `t[k] = v`", "update", "update"),
        ("lookup", "single lookups: typed `lookup(k)` / `bpf_lookup_elem` / `t[k]`", "lookup", "lookup"),
        ("lookup-dynamic", "single lookups, dynamic `table.lookup(k)` (DynamicValue)", "lookup", "lookup"),
        ("delete", "single deletes: typed `delete(k)` / `bpf_delete_elem` / `del t[k]`", "delete", "delete"),
        ("items", "full dump: typed `items()` / `bpf_get_next_key`+`bpf_lookup_elem` / `t.items()`", "items", "items"),
        ("items-dynamic", "full dump, dynamic `table.items()` (DynamicValue)", "items", "items"),
        ("batch-dump", "batch dump: typed `itemsLookupBatch()` / `bpf_lookup_batch` / `items_lookup_batch()`", "batch-dump", "batch-dump"),
        ("batch-update", "batch update: typed `itemsUpdateBatch` / `bpf_update_batch` / `items_update_batch`", "batch-update", "batch-update"),
        ("hist", "log2 histogram print (ns per print): `log2HistText()` / C snprintf / `print_log2_hist()`", "hist", "hist"),
    ]

    init(entries: Int) { self.entries = entries }

    /// What each operation's checksum must be (nil: not checked).
    func expectedCheck(_ op: String) -> UInt64? {
        let n = UInt64(entries)
        switch op {
        case "update", "delete", "batch-update": return n
        case "lookup", "lookup-dynamic", "items", "items-dynamic", "batch-dump": return n &* n  // sum of 2k+1
        default: return nil
        }
    }

    /// Keeps the best (lowest) ns/op of every round reported so far.
    mutating func record(_ consumer: String, _ op: String, ns value: Double, check: UInt64) {
        ns[consumer, default: [:]][op] = Swift.min(value, ns[consumer]?[op] ?? .infinity)
        checks[consumer, default: [:]][op] = check
        var line = "\(consumer.padding(toLength: 7, withPad: " ", startingAt: 0)) \(op.padding(toLength: 15, withPad: " ", startingAt: 0)) "
            + String(format: "%12.1f ns/op", value)
        if let want = expectedCheck(op), want != check {
            notes.append("\(consumer) \(op): checksum \(check), expected \(want) (it did not see every entry)")
            line += "  (checksum \(check), expected \(want))"
        }
        print(line)
        fflush(nil)
    }

    mutating func skip(_ what: String, _ reason: String) {
        skipped.append((what, reason))
        print("\(what): skipped: \(reason)")
        fflush(nil)
    }

    /// Reads a child's "RESULT op ns check" and "SKIP op reason" lines; operations it did not
    /// report are skipped with the child's failure.
    mutating func parse(_ output: ChildOutput, consumer: String, expected: [String]) {
        var reported = Set<String>()
        for line in output.stdout.split(separator: "\n") {
            let parts = line.split(separator: " ", maxSplits: 2).map(String.init)
            if parts.first == "RESULT" {
                let f = line.split(separator: " ").map(String.init)
                guard f.count == 4, let value = Double(f[2]), let check = UInt64(f[3]) else {
                    notes.append("\(consumer): unreadable line: \(line)")
                    continue
                }
                reported.insert(f[1])
                record(consumer, f[1], ns: value, check: check)
            } else if parts.first == "SKIP", parts.count >= 2 {
                if parts[1] == "all" { reported.formUnion(expected) }
                reported.insert(parts[1])
                skip("\(consumer) \(parts[1])", parts.count > 2 ? parts[2] : "no reason given")
            }
        }
        let missing = expected.filter { !reported.contains($0) }
        if !missing.isEmpty {
            let reason = output.timedOut ? "timed out (see --timeout)"
                : output.status != 0 ? "exited with status \(output.status): \(output.lastError)"
                : "reported nothing"
            skip("\(consumer) \(missing.joined(separator: ", "))", reason)
        }
    }

    func cell(_ consumer: String, _ op: String) -> String {
        ns[consumer]?[op].map(formatNumber) ?? "–"
    }

    func printSummary() {
        print("")
        guard !ns.isEmpty else {
            print("no measurements")
            for (what, reason) in skipped { print("skipped: \(what): \(reason)") }
            return
        }
        print("| Operation on a BPF_HASH(u64, u64) of \(entries) entries (same run) | SwiftBCC ns/op | C ns/op | Python ns/op | Swift / C | Swift / Python |")
        print("| --- | ---: | ---: | ---: | ---: | ---: |")
        for (op, label, c, py) in Self.rows where ns["swift"]?[op] != nil || ns["c"]?[c] != nil || ns["python"]?[py] != nil {
            let s = ns["swift"]?[op]
            print("| \(label) | \(cell("swift", op)) | \(cell("c", c)) | \(cell("python", py)) | "
                  + "\(formatRatio(s, ns["c"]?[c])) | \(formatRatio(s, ns["python"]?[py])) |")
        }
        // items() reads with batch lookups: compare it with C's batch dump too.
        if let s = ns["swift"]?["items"], let c = ns["c"]?["batch-dump"] {
            print("")
            print("typed `items()` / C `bpf_lookup_batch` dump: \(formatRatio(s, c))")
        }
        for (what, reason) in skipped { print("skipped: \(what): \(reason)") }
        for note in notes { print("note: \(note)") }
    }
}
