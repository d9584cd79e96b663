import Foundation
import Glibc
@testable import SwiftBCC
import Testing

/// Histogram text against Python BCC's, from the same counts and from the same map.
@Suite("Histograms", .requiresPythonBCC)
struct HistogramTests {
    static let cases: [[Int64]] = [
        [],
        [5],
        [0, 1],
        [0, 0, 0, 4, 7, 1, 0, 0, 3, 1000, 999, 13, 2, 0, 1],
        [0, 1, 2, 3],
        [0, 3, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 7],
        (0..<41).map { Int64($0 * $0 % 97) },
        (0..<65).map { $0 == 64 ? 1 : 0 },
        [0, 0, 0, 0, 12_345_678_901, 1, 40, 39, 41, 80],
        [0, -3, 5, 2],
        // Slots past 64 (Python's arbitrary-precision bounds; ours leave UInt64 there).
        (0..<70).map { $0 == 3 || $0 == 68 ? 2 : $0 == 64 ? 9 : 0 },
    ]

    func python(_ function: String, _ cases: [[Int64]], valType: String, strip: Bool) -> [String] {
        let script = """
            import sys, json
            from bcc.table import \(function)
            for vals in json.loads(sys.argv[1]):
                \(function)(vals, sys.argv[2], sys.argv[3] == "1")
                print("=====")
            """
        let json = "[" + cases.map { "[" + $0.map(String.init).joined(separator: ",") + "]" }.joined(separator: ",") + "]"
        let out = runPython(script, args: [json, valType, strip ? "1" : "0"])
        #expect(out.status == 0, "python: \(out.stderr)")
        var parts = out.stdout.components(separatedBy: "=====\n")
        parts.removeLast()
        return parts
    }

    @Test("log2 histogram text equals Python's _print_log2_hist for the same counts", arguments: [false, true])
    func log2(strip: Bool) {
        let expected = python("_print_log2_hist", Self.cases, valType: "usecs", strip: strip)
        #expect(expected.count == Self.cases.count)
        for (i, vals) in Self.cases.enumerated() where i < expected.count {
            let padded = vals + [Int64](repeating: 0, count: max(0, 65 - vals.count))
            #expect(Histogram.log2Text(padded, valType: "usecs", stripLeadingZero: strip) == expected[i], "case \(i): \(vals)")
        }
    }

    @Test("JSON histogram text equals Python's _print_json_hist for the same counts (timestamp aside)")
    func json() {
        let script = """
            import sys, json
            from bcc.table import _print_json_hist
            for vals in json.loads(sys.argv[1]):
                _print_json_hist(vals, "usecs")
                _print_json_hist(vals, "usecs", ("pid", 42))
                _print_json_hist(vals, "usecs", ("comm", "it's"))
            """
        let json = "[" + Self.cases.map { "[" + $0.map(String.init).joined(separator: ",") + "]" }.joined(separator: ",") + "]"
        let out = runPython(script, args: [json])
        #expect(out.status == 0, "python: \(out.stderr)")
        let lines = out.stdout.split(separator: "\n").map(String.init)
        #expect(lines.count == 3 * Self.cases.count)
        for (i, vals) in Self.cases.enumerated() where 3 * i + 2 < lines.count {
            let ts = String(lines[3 * i].dropFirst("{'ts': '".count).prefix(19))
            #expect(Histogram.jsonText(vals, valType: "usecs", timestamp: ts) == lines[3 * i] + "\n")
            #expect(Histogram.jsonText(vals, valType: "usecs", section: ("pid", "42"), timestamp: ts) == lines[3 * i + 1] + "\n")
            #expect(Histogram.jsonText(vals, valType: "usecs", section: ("comm", pythonStr("it's")), timestamp: ts)
                    == lines[3 * i + 2] + "\n")
        }
        #expect(Histogram.timestamp().wholeMatch(of: /\d{4}-\d\d-\d\d \d\d:\d\d:\d\d/) != nil)
    }

    @Test("linear histogram text equals Python's _print_linear_hist for the same counts", arguments: [false, true])
    func linear(strip: Bool) {
        let expected = python("_print_linear_hist", Self.cases, valType: "kbytes", strip: strip)
        #expect(expected.count == Self.cases.count)
        for (i, vals) in Self.cases.enumerated() where i < expected.count {
            #expect(Histogram.linearText(vals, valType: "kbytes", stripLeadingZero: strip) == expected[i], "case \(i): \(vals)")
        }
    }
}

extension KernelSuite {
    @Suite("Histograms from a map shared with Python", .requiresBPF, .requiresPythonBCC)
    struct PinnedHistogramTests {
        @Test("print_log2_hist / print_linear_hist of the same pinned maps, filled by BPF, are byte-for-byte Python's")
        func samePinnedMaps() throws {
            let marker = uniqueMarker("swiftbcc_hist_")
            let dir = "/sys/fs/bpf/\(marker)"
            try #require(mkdir(dir, 0o700) == 0, "cannot create \(dir): bpffs must be mounted at /sys/fs/bpf")
            defer {
                for name in ["dist", "sect", "comm", "lin"] { unlink("\(dir)/\(name)") }
                rmdir(dir)
            }
            let tables = """
                struct sect_key { u32 pid; u64 slot; };
                struct comm_key { char comm[16]; u64 slot; };
                BPF_TABLE_PINNED("hash", int, u64, dist, 64, "\(dir)/dist");
                BPF_TABLE_PINNED("hash", struct sect_key, u64, sect, 1024, "\(dir)/sect");
                BPF_TABLE_PINNED("hash", struct comm_key, u64, comm, 64, "\(dir)/comm");
                BPF_TABLE_PINNED("hash", int, u64, lin, 64, "\(dir)/lin");
                """
            let b = try BPF(text: getppidProgram(declarations: tables + "BPF_ARRAY(n, u64, 1);", probe: """
                u64 *c = n.lookup(&(int){0});
                if (!c) return 0;
                u64 i = ++(*c);
                dist.increment(bpf_log2l(i * i * 37));
                struct sect_key sk; __builtin_memset(&sk, 0, sizeof(sk));
                sk.pid = i % 3 + 100; sk.slot = bpf_log2l(i * (sk.pid - 99));
                sect.increment(sk);
                struct comm_key ck; __builtin_memset(&ck, 0, sizeof(ck));
                bpf_get_current_comm(&ck.comm, sizeof(ck.comm));
                ck.slot = bpf_log2l(i);
                comm.increment(ck);
                lin.increment((int)(i % 23) + 2);
                """), cflags: ourPidFlag())
            defer { b.cleanup() }
            triggerGetppid(300)
            #expect(try b["dist"].count > 3)

            func text(_ body: () throws -> Void) throws -> String {
                let (_, out) = try StderrCapture.capture(includingStdout: true) { try body() }
                return out.stdout
            }
            let sortDesc: ([DynamicValue]) -> [DynamicValue] = { $0.sorted { ($0.int ?? 0) > ($1.int ?? 0) } }
            let swift = [
                try b["dist"].log2HistText(valType: "usecs"),
                try b["dist"].log2HistText(valType: "usecs", strip: true),
                try b["sect"].log2HistText(valType: "x", sectionHeader: "pid"),
                try b["sect"].log2HistText(valType: "x", sectionHeader: "pid", sectionPrintFn: { "pid \($0.value)!" },
                                          bucketSortFn: sortDesc),
                try b["comm"].log2HistText(valType: "calls", sectionHeader: "comm"),
                try b["lin"].linearHistText(valType: "n"),
                try b["lin"].linearHistText(valType: "n", strip: true),
                try b["sect"].jsonHistText(valType: "x", sectionHeader: "pid", bucketSortFn: sortDesc),
                try b["comm"].jsonHistText(valType: "calls", sectionHeader: "comm", sectionPrintFn: { $0.string ?? "" }),
                // The print functions write the same text to stdout.
                try text { try b["dist"].printLog2Hist(valType: "usecs") },
            ]
            let python = runPython("""
                import sys
                from bcc import BPF
                b = BPF(text=sys.argv[1] + "int unused(void *ctx) { return 0; }")
                def sep(): print("=====")
                b["dist"].print_log2_hist("usecs"); sep()
                b["dist"].print_log2_hist("usecs", strip_leading_zero=True); sep()
                b["sect"].print_log2_hist("x", "pid"); sep()
                b["sect"].print_log2_hist("x", "pid", section_print_fn=lambda v: "pid %d!" % v,
                                          bucket_sort_fn=lambda l: sorted(l, reverse=True)); sep()
                b["comm"].print_log2_hist("calls", "comm"); sep()
                b["lin"].print_linear_hist("n"); sep()
                b["lin"].print_linear_hist("n", strip_leading_zero=True); sep()
                b["sect"].print_json_hist("x", "pid", bucket_sort_fn=lambda l: sorted(l, reverse=True)); sep()
                b["comm"].print_json_hist("calls", "comm", section_print_fn=lambda c: c.decode()); sep()
                b["dist"].print_log2_hist("usecs"); sep()
                """, args: [tables])
            #expect(python.status == 0, "python: \(python.stderr)")
            var expected = python.stdout.components(separatedBy: "=====\n")
            expected.removeLast()
            try #require(expected.count == swift.count, "python printed: \(python.stdout)")
            // The JSON form carries the local time to the second: compare without it.
            let noTime = { (s: String) in s.replacing(/'ts': '[^']*'/, with: "'ts': ''") }
            for (i, s) in swift.enumerated() {
                #expect(noTime(s) == noTime(expected[i]), "section \(i)")
            }
            #expect(swift[2].contains("\npid = 100\n"))
            #expect(swift[4].contains("\ncomm = b'"))
        }

        @Test("a slot beyond the histogram's range is a typed error, as Python's IndexError")
        func outOfRange() throws {
            let b = try BPF(text: "BPF_HASH(h, int, u64);")
            defer { b.cleanup() }
            try b["h"].update(Int32(1500), UInt64(1))
            #expect {
                try b["h"].linearHistText()
            } throws: { error in
                "\(error)".contains("Index in print_linear_hist() of 1500 exceeds max of 1025")
            }
            #expect(throws: BPFError.self) { try b["h"].log2HistText() }
        }
    }
}
