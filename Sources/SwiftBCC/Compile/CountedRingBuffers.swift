/// Ring buffers that count what they drop. A BPF ring buffer never reports drops: when it is
/// full, `ringbuf_output` fails and `ringbuf_reserve` returns NULL, and the sample is gone. The
/// program text may say instead
///
/// ```c
/// BPF_RINGBUF_OUTPUT_COUNTED(events, 8);                 // the ring and events__lost
/// events.ringbuf_output_counted(&data, sizeof(data), 0); // counts a failed output
/// struct data_t *d = events.ringbuf_reserve_counted(sizeof(struct data_t)); // counts NULL
/// ```
///
/// and `b["events"].lostSamples()` reads the count (Python BCC has no twin). SwiftBCC rewrites
/// these forms into plain BCC C before libbcc compiles the text (a C macro cannot do it: libbcc
/// rejects map methods inside macros), on the same line, so clang's line numbers stay right.
enum CountedRingBuffers {
    static let declaration = "BPF_RINGBUF_OUTPUT_COUNTED("
    static let output = ".ringbuf_output_counted("
    static let reserve = ".ringbuf_reserve_counted("

    /// The per-CPU array that counts `ring`'s drops.
    static func counterName(_ ring: String) -> String { ring + "__lost" }

    /// `text` with the counted forms rewritten; unchanged when it uses none.
    static func rewrite(_ text: String) -> String {
        guard text.contains(declaration) || text.contains(output) || text.contains(reserve) else { return text }
        var s = text
        // BPF_RINGBUF_OUTPUT_COUNTED(name, pages) -> the ring and its counter.
        while let r = s.firstRange(of: declaration), let (args, end) = arguments(in: s, from: r.upperBound), args.count == 2 {
            let name = args[0]
            s.replaceSubrange(r.lowerBound..<end, with: "BPF_RINGBUF_OUTPUT(\(name), \(args[1])); "
                + "BPF_PERCPU_ARRAY(\(counterName(name)), u64, 1)")
        }
        for (form, plain) in [(output, ".ringbuf_output("), (reserve, ".ringbuf_reserve(")] {
            while let r = s.firstRange(of: form), let (args, end) = arguments(in: s, from: r.upperBound) {
                let ring = receiver(in: s, before: r.lowerBound)
                let call = "\(ring)\(plain)\(args.joined(separator: ", ")))"
                let count = "{ int __swiftbcc_k = 0; u64 *__swiftbcc_n = \(counterName(ring)).lookup(&__swiftbcc_k); "
                    + "if (__swiftbcc_n) __sync_fetch_and_add(__swiftbcc_n, 1); }"
                let expression = form == output
                    ? "({ int __swiftbcc_r = \(call); if (__swiftbcc_r < 0) \(count) __swiftbcc_r; })"
                    : "({ void *__swiftbcc_p = \(call); if (!__swiftbcc_p) \(count) __swiftbcc_p; })"
                let start = s.index(r.lowerBound, offsetBy: -ring.count)
                s.replaceSubrange(start..<end, with: expression)
            }
        }
        return s
    }

    /// The identifier right before `index` (the ring the method is called on).
    static func receiver(in s: String, before index: String.Index) -> String {
        var start = index
        while start > s.startIndex {
            let prev = s.index(before: start)
            let c = s[prev]
            guard c.isLetter || c.isNumber || c == "_" else { break }
            start = prev
        }
        return String(s[start..<index])
    }

    /// The comma-separated arguments of a call whose `(` ends right before `from`, split at
    /// top-level commas, and the index after its `)`; nil when the parentheses do not close.
    static func arguments(in s: String, from: String.Index) -> ([String], String.Index)? {
        var depth = 0
        var current = ""
        var args: [String] = []
        var i = from
        while i < s.endIndex {
            let c = s[i]
            switch c {
            case "(", "[", "{": depth += 1; current.append(c)
            case ")" where depth == 0:
                args.append(current.trimmingCharacters(in: " "))
                return (args, s.index(after: i))
            case ")", "]", "}": depth -= 1; current.append(c)
            case "," where depth == 0:
                args.append(current.trimmingCharacters(in: " "))
                current = ""
            default: current.append(c)
            }
            i = s.index(after: i)
        }
        return nil
    }
}

extension Table {
    /// The samples this ring buffer dropped because it was full, summed over CPUs: what the
    /// program's `ringbuf_output_counted`/`ringbuf_reserve_counted` calls counted (declare the
    /// ring with `BPF_RINGBUF_OUTPUT_COUNTED(name, pages)`). The ring-buffer twin of a perf
    /// buffer's lost-samples callback.
    /// - Throws: `.wrongTableKind` for a table that is not a ring buffer, `.invalidArgument`
    ///   when the ring was not declared counted.
    public func lostSamples() throws -> UInt64 {
        try requireKind(.ringBuf, "RingBuf (BPF_RINGBUF_OUTPUT_COUNTED)")
        let bpf = try liveBPF()
        let counter = CountedRingBuffers.counterName(name)
        guard bpf.tableNames.contains(counter) else {
            throw BPFError.invalidArgument("Ring buffer \(name) does not count its drops: declare it with "
                + "BPF_RINGBUF_OUTPUT_COUNTED(\(name), pages) and submit with \(name).ringbuf_output_counted(...) "
                + "or \(name).ringbuf_reserve_counted(...).")
        }
        let table = try bpf.table(counter)
        return try table.percpuCounterSum(index: 0)
    }

    /// The sum over CPUs of a per-CPU array's u64 at `index`.
    func percpuCounterSum(index: Int) throws -> UInt64 {
        guard let raw = try lookup(rawKey: keyType.encode(index).bytes) else { return 0 }
        let slot = (leafSize + 7) & ~7
        var sum: UInt64 = 0
        for cpu in 0..<(raw.count / Swift.max(slot, 1)) {
            sum &+= raw.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: cpu * slot, as: UInt64.self) }
        }
        return sum
    }
}
