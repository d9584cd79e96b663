import Foundation
import Glibc
@testable import SwiftBCC
import Testing

@Suite("Kernel queries")
struct KernelQueryTests {
    /// Text symbols of /proc/kallsyms, read independently of SwiftBCC.
    static func kallsymsText() throws -> [(type: Character, name: String)] {
        // Read to EOF: /proc files report size 0.
        let handle = try #require(FileHandle(forReadingAtPath: "/proc/kallsyms"))
        let text = String(decoding: handle.readDataToEndOfFile(), as: UTF8.self)
        // Without the init section (freed after boot), which Python skips too.
        let lines = text.split(separator: "\n")
        let initBegin = lines.firstIndex { $0.hasSuffix(" __init_begin") }
        let initEnd = lines.firstIndex { $0.hasSuffix(" __init_end") }
        return lines.enumerated().compactMap { i, line in
            if let b = initBegin, i >= b, i <= (initEnd ?? lines.count) { return nil }
            let f = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
            guard f.count >= 3, let t = f[1].first else { return nil }
            return (t, String(f[2]))
        }
    }

    @Test("getKprobeFunctions: kallsyms text symbols matching from the start, filtered as Python does")
    func kprobeFunctions() throws {
        let found = try BPF.getKprobeFunctions("vfs_")
        let syms = try Self.kallsymsText()
        let traceable = Self.traceableFunctions()
        let blacklist = BPF.kprobeBlacklist()
        let expected = Set(syms.filter { "tTwW".contains($0.type) && $0.name.hasPrefix("vfs_")
                && !$0.name.contains(".cold") && !blacklist.contains($0.name)
                && (traceable?.contains($0.name) ?? true) }.map(\.name))
        #expect(!found.isEmpty)
        #expect(found == expected, "extra: \(found.subtracting(expected).sorted()), missing: \(expected.subtracting(found).sorted())")
        #expect(found.contains("vfs_read"))
        // re.match anchors at the start only: "read$" matches nothing that does not start so.
        #expect(try BPF.getKprobeFunctions("read$").allSatisfy { $0 == "read" || $0.hasPrefix("read") })
        #expect(try BPF.getKprobeFunctions("vfs_read$") == ["vfs_read"])
        // perf functions are never offered.
        #expect(try BPF.getKprobeFunctions("perf_").isEmpty)
        #expect(try BPF.getKprobeFunctions(".*").allSatisfy { !$0.hasPrefix("__perf") && !$0.hasPrefix("_kbl_addr_") })
        #expect(throws: BPFError.self) { try BPF.getKprobeFunctions("(") }
    }

    /// The first words of ftrace's available_filter_functions, nil when it cannot be read.
    static func traceableFunctions() -> Set<String>? {
        for root in ["/sys/kernel/tracing", "/sys/kernel/debug/tracing"] {
            guard let text = try? String(contentsOfFile: root + "/available_filter_functions", encoding: .utf8),
                  !text.isEmpty else { continue }
            return Set(text.split(separator: "\n").compactMap { $0.split(separator: " ").first.map(String.init) })
        }
        return nil
    }

    @Test("getKprobeFunctions: the literal-prefix skip finds what the regex on every name finds")
    func prefixSkipIsExact() throws {
        let kallsyms = try #require(FileIO.readBytes("/proc/kallsyms"))
        let patterns = [#"^finish_task_switch$|^finish_task_switch\.isra\.\d$"#, "vfs_", "^__blk_account_io_done$",
                        "do_sys_(open|close)", "tcp_v4_conn?ect", "ksys_re[a-z]+", "sched_fork|__schedule", "schedule{1,2}"]
        for pattern in patterns {
            let regex = try BPF.compileRegex(pattern)
            let prefixes = try #require(RegexPrefixes.literalPrefixes(pattern), "\(pattern)")
            let skipping = BPF.kprobeCandidates(kallsyms: kallsyms, regex: regex, prefixes: prefixes)
            let everyName = BPF.kprobeCandidates(kallsyms: kallsyms, regex: regex, prefixes: nil)
            #expect(skipping == everyName, "\(pattern): \(skipping.symmetricDifference(everyName).sorted())")
        }
        #expect(!BPF.kprobeCandidates(kallsyms: kallsyms, regex: try BPF.compileRegex("vfs_read$"), prefixes: nil).isEmpty)
        // Many matches: the traceable filter reads ftrace's list into a set instead.
        let many = try BPF.getKprobeFunctions("[a-z].*")
        let traceable = Self.traceableFunctions()
        #expect(many.count > 64 && many.allSatisfy { traceable?.contains($0) ?? true })
    }

    @Test("the literal prefixes of a pattern: one per top-level alternative, none where one may start anyhow")
    func literalPrefixes() {
        func prefixes(_ p: String) -> [String]? { RegexPrefixes.literalPrefixes(p)?.map { String(decoding: $0, as: UTF8.self) } }
        #expect(prefixes(#"^finish_task_switch$|^finish_task_switch\.isra\.\d$"#) == ["finish_task_switch", "finish_task_switch"])
        #expect(prefixes("vfs_") == ["vfs_"])
        #expect(prefixes("tcp_v4_conn?ect") == ["tcp_v4_con"])
        #expect(prefixes("schedule{1,2}") == ["schedul"])
        #expect(prefixes("do_sys_(open|close)") == ["do_sys_"])
        #expect(prefixes("a[x|y]b|cd") == ["a", "cd"])
        #expect(prefixes("ab+c") == ["ab"])
        for none in [".*", "x*vfs", "[a-z]_foo", "(?i)vfs_", "vfs|", "|vfs", #"\Avfs"#, "(vfs)", "é"] {
            #expect(prefixes(none) == nil, "\(none)")
        }
    }

    @Test("a missing kprobe blacklist counts as empty (Python raises)")
    func missingBlacklist() throws {
        if !FileManager.default.fileExists(atPath: BPF.kprobeBlacklistPath) {
            #expect(BPF.kprobeBlacklist().isEmpty)
            #expect(try !BPF.getKprobeFunctions("do_sys_").isEmpty)
        } else {
            let lines = try String(contentsOfFile: BPF.kprobeBlacklistPath, encoding: .utf8).split(separator: "\n")
            #expect(BPF.kprobeBlacklist().count <= lines.count)
        }
    }

    @Test("programName drops the prefixes libbcc 0.26 drops (one only) and keeps 15 bytes")
    func programNames() {
        let cases = [
            "kprobe__vfs_read": "vfs_read", "kretprobe__vfs_read": "vfs_read",
            "tracepoint__syscalls__sys_enter_getpid": "syscalls__sys_e", "raw_tracepoint__sys_enter": "sys_enter",
            "kfunc__vfs_read": "vfs_read", "kretfunc__vfs_read": "vfs_read", "kmod_ret__do_x": "do_x",
            "lsm__file_open": "file_open", "bpf_iter__task": "task", "kfunc__kretfunc__x": "kretfunc__x",
            "hello": "hello", "hello_kprobe__x": "hello_kprobe__x", "a_rather_long_function_name": "a_rather_long_f",
        ]
        for (function, name) in cases {
            #expect(KernelObjects.programName(forFunction: function) == name, "\(function)")
        }
    }

    @Test(".cold clones are recognised as Python's regex does")
    func coldClones() {
        #expect(BPF.isColdClone("foo.cold"))
        #expect(BPF.isColdClone("foo.cold.12"))
        #expect(!BPF.isColdClone("foo.cold.x"))
        #expect(!BPF.isColdClone("foo.colder"))
        #expect(!BPF.isColdClone("cold_start"))
    }

    @Test("getTracepoints and tracepointExists agree with tracefs's events directory")
    func tracepointsMatchTracefs() throws {
        let root = try #require(Tracefs.root)
        let dir = root + "/events/syscalls"
        let events = try FileManager.default.contentsOfDirectory(atPath: dir).filter { $0.hasPrefix("sys_enter_") }
        let tps = try BPF.getTracepoints("syscalls:sys_enter_")
        #expect(Set(tps) == Set(events.map { "syscalls:" + $0 }))
        for e in events.prefix(20) { #expect(BPF.tracepointExists(category: "syscalls", event: e)) }
        #expect(!BPF.tracepointExists(category: "syscalls", event: "sys_enter_nosuchcall"))
        #expect(!BPF.tracepointExists(category: "nosuchcategory", event: "x"))
    }
}

extension KernelSuite {
    @Suite("Kprobes by regex", .requiresBPF)
    struct KprobeRegexTests {
        static let program = "int on_any(void *ctx) { return 0; }"

        @Test("attachKprobe(eventRe:) without kprobes throws .kprobesUnavailable and leaves nothing loaded", .requiresNoKprobes)
        func noKprobes() throws {
            let fn = uniqueFunctionName("kre")
            let b = try BPF(text: Self.program + "\nint \(fn)(void *ctx) { return 0; }")
            defer { b.cleanup() }
            #expect {
                try b.attachKprobe(eventRe: "vfs_(read|write)$", fnName: fn)
            } throws: { error in
                guard case BPFError.kprobesUnavailable(event: "vfs_read", _, _) = error else { return false }
                return true
            }
            #expect(b.numOpenKprobes == 0)
            #expect(!loadedProgramNames().contains(fn))
            #expect(throws: BPFError.self) { try b.attachKprobe(eventRe: "no_such_kernel_function_xyz", fnName: "on_any") }
        }

        @Test("attachKprobe(eventRe:) and attachKretprobe(eventRe:) attach every match", .requiresKprobes, .tags(.vmLane))
        func withKprobes() throws {
            let b = try BPF(text: Self.program)
            defer { b.cleanup() }
            let attached = try b.attachKprobe(eventRe: "vfs_(read|write)$", fnName: "on_any")
            #expect(Set(attached) == ["vfs_read", "vfs_write"])
            #expect(b.numOpenKprobes == 2)
            let ret = try b.attachKretprobe(eventRe: "vfs_read$", fnName: "on_any")
            #expect(ret == ["vfs_read"])
            #expect(b.numOpenKprobes == 3)
        }
    }
}
