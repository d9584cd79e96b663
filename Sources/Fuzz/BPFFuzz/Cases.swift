// The cases: mutated BPF programs compiled, loaded and attached, and random sequences of API
// calls on a live BPF object. Every case is a pure function of (seed, index), so any case can
// be replayed alone (`BPFFuzz --replay N --seed S`) and printed (`--print N`).
import Foundation
import Glibc
import SwiftBCC

/// SplitMix64: small, fast, and the same sequence on every machine.
struct Rng {
    var state: UInt64
    init(seed: UInt64, index: Int) { state = seed &+ UInt64(index) &* 0x9E37_79B9_7F4A_7C15 ^ 0xD1B5_4A32_D192_ED03 }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    mutating func int(_ range: Range<Int>) -> Int { range.lowerBound + Int(next() % UInt64(range.count)) }
    mutating func chance(_ p: Double) -> Bool { Double(next() % 1_000_000) < p * 1_000_000 }
    mutating func pick<T>(_ xs: [T]) -> T { xs[int(0..<xs.count)] }
    mutating func bytes(_ n: Int) -> [UInt8] { (0..<n).map { _ in UInt8(truncatingIfNeeded: next()) } }
}

enum CaseKind: String { case program, api }

/// Which kind case `index` is: one in ten is a mutated program (a compile each, the expensive
/// part), the rest API sequences on a shared, occasionally recompiled, BPF.
func kind(of index: Int) -> CaseKind { index % 10 == 0 ? .program : .api }

// MARK: Programs

/// The corpus mutated programs start from: the shapes bcc's examples and tools use.
let corpus: [String] = [
    #"""
    int hello(void *ctx) { bpf_trace_printk("Hello World!\n"); return 0; }
    """#,
    #"""
    BPF_HASH(counts, u32, u64, 64);
    TRACEPOINT_PROBE(syscalls, sys_enter_getpid) {
        u32 pid = bpf_get_current_pid_tgid() >> 32;
        u64 zero = 0, *v = counts.lookup_or_try_init(&pid, &zero);
        if (v) { (*v)++; }
        return 0;
    }
    """#,
    #"""
    struct event { u32 pid; char comm[16]; u64 ts; };
    BPF_PERF_OUTPUT(events);
    BPF_RINGBUF_OUTPUT(ring, 8);
    int on_enter(struct pt_regs *ctx) {
        struct event e = {};
        e.pid = bpf_get_current_pid_tgid() >> 32;
        bpf_get_current_comm(&e.comm, sizeof(e.comm));
        e.ts = bpf_ktime_get_ns();
        events.perf_submit(ctx, &e, sizeof(e));
        ring.ringbuf_output(&e, sizeof(e), 0);
        return 0;
    }
    """#,
    #"""
    BPF_HISTOGRAM(dist, int, 64);
    BPF_ARRAY(start, u64, 1);
    int on_enter(void *ctx) {
        int k = 0;
        u64 ts = bpf_ktime_get_ns(), *s = start.lookup(&k);
        if (s) { dist.increment(bpf_log2l(ts - *s)); *s = ts; }
        for (int i = 0; i < 8; i++) { if (ts & (1ULL << i)) { dist.atomic_increment(i); } }
        return 0;
    }
    """#,
    #"""
    #include <uapi/linux/ptrace.h>
    BPF_PROG_ARRAY(progs, 4);
    BPF_STACK_TRACE(stacks, 128);
    BPF_PERCPU_ARRAY(pcpu, u64, 4);
    int tail(struct pt_regs *ctx) { int k = 1; u64 *v = pcpu.lookup(&k); if (v) { *v += 1; } return 0; }
    int entry(struct pt_regs *ctx) {
        int id = stacks.get_stackid(ctx, 0);
        if (id >= 0) { int k = 0; u64 *v = pcpu.lookup(&k); if (v) { *v += id; } }
        progs.call(ctx, 0);
        return 0;
    }
    """#,
    #"""
    #include <uapi/linux/bpf.h>
    int xdp_pass(struct xdp_md *ctx) {
        void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
        if (data + 14 > end) { return XDP_PASS; }
        return ((unsigned char *)data)[12] == 0x08 ? XDP_PASS : XDP_PASS;
    }
    """#,
]

/// Tokens a mutation inserts: C syntax, BCC macros, helpers, numbers at the edges.
let tokens = [
    "(", ")", "{", "}", "[", "]", ";", ",", "*", "&", "->", ".", "=", "+", "-", "/", "%", "<<", "#",
    "0", "1", "-1", "64", "4096", "0x7fffffff", "4294967296", "18446744073709551615", "1e308", "'\\0'",
    "\"", "\"x\"", "\\", "/*", "*/", "//", "\n", "\t", " ",
    "int", "u64", "u32", "char", "void", "struct", "union", "unsigned", "static", "const", "volatile",
    "return", "if", "else", "while (1)", "for (;;)", "goto out;", "out:", "sizeof", "typeof", "__attribute__((packed))",
    "#include <linux/sched.h>", "#include \"nosuch.h\"", "#define X", "#if 0", "#endif", "#pragma unroll",
    "BPF_HASH(h2, u32, u64, 0);", "BPF_ARRAY(a2, u64, 0);", "BPF_RINGBUF_OUTPUT(r2, 3);", "BPF_PERF_OUTPUT(p2);",
    "BPF_TABLE(\"nosuch\", u32, u32, t2, 4);", "BPF_HISTOGRAM(h3);", "BPF_STACK_TRACE(s3, 0);",
    "bpf_trace_printk(\"%s %d %llu\\n\", 1);", "bpf_probe_read(0, 8, 0);", "bpf_nosuch_helper();",
    "bpf_get_current_comm(0, 16);", "bpf_ktime_get_ns()", "bpf_tail_call(ctx, 0, 0);",
    "TRACEPOINT_PROBE(nosuch, event) { return 0; }", "RAW_TRACEPOINT_PROBE(nosuch) { return 0; }",
    "KFUNC_PROBE(nosuch_fn) { return 0; }", "int kprobe__nosuch_fn(void *ctx) { return 0; }",
    "int tracepoint__syscalls__sys_enter_nosuch(void *ctx) { return 0; }", "ctx", "ctx->", "args->",
    "\u{00e9}", "\u{1F600}", "\u{0}",
]

/// `text` with one or two mutations: delete, duplicate or swap a span, insert or replace with
/// a token, rarely truncate. Mild enough that about a third still compile.
func mutate(_ text: String, _ rng: inout Rng) -> String {
    var chars = Array(text)
    if rng.chance(0.3) {
        // A mild one, which usually still compiles: a number changed, a blank or comment added,
        // so that loading and attaching get fuzzed too.
        let digits = chars.indices.filter { chars[$0].isNumber }
        if let at = digits.isEmpty ? nil : rng.pick(digits), rng.chance(0.6) {
            chars[at] = rng.pick(Array("0123456789"))
        } else {
            chars.insert(contentsOf: Array(rng.pick([" ", "\n", "/* x */", "\t"])), at: rng.int(0..<max(1, chars.count)))
        }
        return String(chars)
    }
    for _ in 0..<rng.int(1..<3) {
        guard !chars.isEmpty else { chars = Array(rng.pick(tokens)); continue }
        let at = rng.int(0..<chars.count)
        let len = min(chars.count - at, rng.int(1..<8))
        switch rng.int(0..<16) {
        case 0...2: chars.removeSubrange(at..<(at + len))
        case 3...5: chars.insert(contentsOf: chars[at..<(at + len)], at: at)
        case 6...9: chars.insert(contentsOf: Array(rng.pick(tokens)), at: at)
        case 10...12: chars.replaceSubrange(at..<(at + len), with: Array(rng.pick(tokens)))
        case 13, 14: chars.swapAt(at, rng.int(0..<chars.count))
        default: chars.removeSubrange(at...)
        }
    }
    return String(chars)
}

/// Program case `index`: the mutated text.
func programText(seed: UInt64, index: Int) -> String {
    var rng = Rng(seed: seed, index: index)
    return mutate(rng.pick(corpus), &rng)
}

/// Counts what the cases saw; printed by the child for each case, summed by the parent.
struct Tally: Codable {
    var compiled = 0
    var rejected = 0
    var calls = 0
    var typedErrors = 0
    /// Errors that are not a `BPFError` (a finding: every error must be typed).
    var untyped: [String] = []
    /// Kernel objects left on the process's fds after `cleanup()` (a finding).
    var leaks: [String] = []

    mutating func add(_ other: Tally) {
        compiled += other.compiled; rejected += other.rejected; calls += other.calls
        typedErrors += other.typedErrors; untyped += other.untyped; leaks += other.leaks
    }
}

/// The process's fds that hold kernel objects: BPF programs, maps, links, perf events.
func kernelObjectFDs() -> [String] {
    guard let names = try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd") else { return [] }
    return names.compactMap { name -> String? in
        guard let target = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/fd/\(name)") else { return nil }
        return target.contains("bpf-") || target.contains("perf_event") || target.contains("bpf_link") ? "\(name) -> \(target)" : nil
    }.sorted()
}

/// Runs program case `index`: compile; when that works, load the functions as random types,
/// attach the first to a tracepoint, fire it, clean up and check nothing is left.
func runProgramCase(seed: UInt64, index: Int, phase: (String) -> Void) -> Tally {
    var tally = Tally()
    var rng = Rng(seed: seed, index: index)
    let text = mutate(rng.pick(corpus), &rng)
    let before = Set(kernelObjectFDs())
    do {
        phase("compile")
        let b = try BPF(text: text)
        phase("run")
        tally.compiled += 1
        for name in b.functionNames {
            tally.calls += 1
            do {
                _ = try b.loadFunction(name, type: rng.pick([.tracepoint, .kprobe, .socketFilter, .xdp, .perfEvent, .rawTracepoint]))
            } catch is BPFError { tally.typedErrors += 1 } catch { tally.untyped.append("loadFunction: \(error)") }
        }
        // Not attached when it prints: its lines would sit in trace_pipe for whatever reads it next.
        if let first = b.functionNames.first, !text.contains("trace_printk") {
            tally.calls += 1
            do {
                try b.attachTracepoint(tp: "syscalls:sys_enter_getpid", fnName: first)
                _ = getpid()
            } catch is BPFError { tally.typedErrors += 1 } catch { tally.untyped.append("attachTracepoint: \(error)") }
        }
        b.cleanup()
    } catch is BPFError {
        phase("run")
        tally.rejected += 1
    } catch {
        phase("run")
        tally.untyped.append("BPF(text:): \(error)")
    }
    let left = kernelObjectFDs().filter { !before.contains($0) }
    if !left.isEmpty { tally.leaks.append("program case \(index): \(left.joined(separator: ", "))") }
    return tally
}

// MARK: API sequences

/// The program API sequences run against: one of each table kind the library types, and a
/// function of each program type the calls use.
let apiProgram = #"""
#include <uapi/linux/ptrace.h>
#include <uapi/linux/bpf.h>
struct event { u32 pid; char comm[16]; };
BPF_HASH(counts, u32, u64, 64);
BPF_ARRAY(arr, u64, 8);
BPF_PERCPU_ARRAY(pcpu, u64, 4);
BPF_PERCPU_HASH(phash, u32, u32, 16);
BPF_HISTOGRAM(hist, int, 16);
BPF_PERF_OUTPUT(events);
BPF_RINGBUF_OUTPUT(ring, 8);
BPF_STACK_TRACE(stacks, 64);
BPF_PROG_ARRAY(progs, 4);
BPF_QUEUE(queue, u64, 16);
int on_tp(void *ctx) {
    u32 pid = bpf_get_current_pid_tgid() >> 32;
    u64 zero = 0, *v = counts.lookup_or_try_init(&pid, &zero);
    if (v) { (*v)++; }
    struct event e = {.pid = pid};
    bpf_get_current_comm(&e.comm, sizeof(e.comm));
    events.perf_submit(ctx, &e, sizeof(e));
    ring.ringbuf_output(&e, sizeof(e), 0);
    return 0;
}
int on_kprobe(struct pt_regs *ctx) { return 0; }
int on_xdp(struct xdp_md *ctx) { return XDP_PASS; }
int on_sock(struct __sk_buff *skb) { return 0; }
int on_perf(struct bpf_perf_event_data *ctx) { return 0; }
"""#

let functionNames = ["on_tp", "on_kprobe", "on_xdp", "on_sock", "on_perf", "nosuch", "", "on_tp\0x", "ON_TP"]
let tableNames = ["counts", "arr", "pcpu", "phash", "hist", "events", "ring", "stacks", "progs", "queue", "nosuch", "", "counts\0"]
let tracepoints = ["syscalls:sys_enter_getpid", "syscalls:sys_enter_nosuch", "nosuch:x", "", ":", "syscalls:",
                   "a:b:c", "syscalls:sys_enter_getpid\0x", String(repeating: "x", count: 300) + ":y", "../..:passwd",
                   "sched:sched_switch", "raw_syscalls:sys_enter"]
let rawTracepoints = ["sys_enter", "sched_switch", "nosuch", "", "sys_enter\0"]
let binaries = ["c", "/bin/true", "/nonexistent/binary", "", "/proc/self/exe", "/etc/passwd", "libc.so.6"]
// Uprobes only on rarely called functions and only in this process (or a pid that does not
// exist): a uprobe on malloc in every process slows the whole machine to a crawl.
let symbols = ["getpid", "getppid", "nosuch_symbol", "", "getpid\0"]
let cflagSets: [[String]] = [[], ["-DX=1"], ["-w"], ["--no-such-flag"], ["-I"], ["-O9"], ["-DX=1", "-include", "/nonexistent.h"]]

/// The kernel-object fds the child held before the shared BPF was compiled (program cases
/// running meanwhile clean up their own).
nonisolated(unsafe) var apiBaseline: Set<String> = []

/// One API sequence: 1-12 random calls on `bpf` (compiled first when nil, with random cflags
/// that may be refused); `cleanup()` sometimes, after which `bpf` is nil again and nothing of
/// its may be left on the process's fds.
func runAPISequence(seed: UInt64, index: Int, bpf: inout BPF?, phase: (String) -> Void) -> Tally {
    var tally = Tally()
    var rng = Rng(seed: seed, index: index)
    func call(_ what: String, _ body: () throws -> Void) {
        tally.calls += 1
        do { try body() } catch is BPFError { tally.typedErrors += 1 } catch { tally.untyped.append("\(what): \(error)") }
    }
    if bpf == nil {
        apiBaseline = Set(kernelObjectFDs())
        let flags = rng.pick(cflagSets)
        phase("compile cflags: \(flags)")
        call("BPF(text:cflags: \(flags))") { bpf = try BPF(text: apiProgram, cflags: flags) }
        if bpf == nil { call("BPF(text:)") { bpf = try BPF(text: apiProgram) } }
        phase("run")
    }
    guard let b = bpf else { return tally }
    var closed = false
    for _ in 0..<rng.int(1..<13) {
        let fn = rng.pick(functionNames)
        // cleanup() one call in 80, the other calls evenly.
        let op = rng.int(0..<80)
        switch op == 79 ? 99 : op % 21 {
        case 0: call("attachTracepoint") { try b.attachTracepoint(tp: rng.pick(tracepoints), fnName: fn) }
        case 1: call("detachTracepoint") { try b.detachTracepoint(tp: rng.pick(tracepoints)) }
        case 2: call("attachRawTracepoint") { try b.attachRawTracepoint(tp: rng.pick(rawTracepoints), fnName: fn) }
        case 3: call("detachRawTracepoint") { try b.detachRawTracepoint(tp: rng.pick(rawTracepoints)) }
        case 4:
            call("attachUprobe") {
                try b.attachUprobe(name: rng.pick(binaries), sym: rng.pick(symbols), fnName: fn,
                                   pid: rng.pick([getpid(), 999_999_999, -7]))
            }
        case 5: call("detachUprobe") { try b.detachUprobe(name: rng.pick(binaries), sym: rng.pick(symbols)) }
        case 6:
            call("attachPerfEvent") {
                try b.attachPerfEvent(evType: UInt32(rng.int(0..<7)), evConfig: rng.chance(0.2) ? rng.next() : UInt64(rng.int(0..<12)),
                                      fnName: fn, samplePeriod: rng.pick([0, 1_000_000, 50_000_000]),
                                      sampleFreq: rng.chance(0.5) ? UInt64(rng.int(0..<100)) : 0,
                                      pid: rng.pick([-1, getpid(), 999_999_999]), cpu: rng.pick([-1, 0, 1, 4096]))
            }
        case 7: call("loadFunction") { _ = try b.loadFunction(fn, type: ProgramType(rawValue: Int32(rng.int(-1..<34)))) }
        case 8: call("attachKprobe") { try b.attachKprobe(event: rng.pick(["vfs_read", b.getSyscallFnName("getpid"), "", "nosuch"]), fnName: fn) }
        case 9: call("attachKfunc") { try b.attachKfunc(fnName: rng.pick(["kfunc__vfs_read", fn])) }
        case 10: call("attachXDP") { try b.attachXDP(dev: rng.pick(["nosuch0", "", "lo\0x"]), fnName: fn) }
        case 11: call("dumpFunction") { _ = try b.dumpFunction(fn) }
        case 12: _ = b.getSyscallFnName(String(decoding: rng.bytes(rng.int(0..<12)), as: UTF8.self)); tally.calls += 1
        case 13: _ = b.ksym(rng.next(), showModule: rng.chance(0.5), showOffset: rng.chance(0.5)); tally.calls += 1
        case 14: _ = b.sym(rng.next(), pid: rng.pick([-1, getpid(), 999_999_999])); tally.calls += 1
        case 15:
            call("openPerfBuffer") {
                try b.table(rng.pick(tableNames)).openPerfBuffer(pageCount: rng.pick([1, 3, 8, 0, -1])) { _, _ in }
            }
        case 16: call("perfBufferPoll") { try b.perfBufferPoll(timeout: 0) }
        case 17: call("openRingBuffer") { try b.table(rng.pick(tableNames)).openRingBuffer { _ in } }
        case 18: call("ringBufferPoll") { _ = try b.ringBufferPoll(timeout: 0) }
        case 19, 20: tableCalls(b, &rng, call)
        default:
            b.cleanup()
            closed = true
            // Every call after cleanup() must throw (.closed).
            call("after cleanup") { try b.attachTracepoint(tp: "syscalls:sys_enter_getpid", fnName: "on_tp") }
            call("after cleanup") { _ = try b.table("counts").rawKeys() }
        }
    }
    if closed || rng.chance(0.03) {
        b.cleanup()
        bpf = nil
        let left = kernelObjectFDs().filter { !apiBaseline.contains($0) }
        if !left.isEmpty { tally.leaks.append("API case \(index): \(left.joined(separator: ", "))") }
    }
    return tally
}

/// Random calls on one of `b`'s tables (or a name it lacks).
func tableCalls(_ b: BPF, _ rng: inout Rng, _ call: (String, () throws -> Void) -> Void) {
    let name = rng.pick(tableNames)
    let size = rng.pick([0, 1, 4, 8, 16, 4096])
    switch rng.int(0..<16) {
    case 0: call("lookup(rawKey:)") { _ = try b.table(name).lookup(rawKey: rng.bytes(size)) }
    case 1: call("update(rawKey:)") { try b.table(name).update(rawKey: rng.bytes(size), rawValue: rng.bytes(rng.pick([0, 4, 8, 16]))) }
    case 2: call("delete(rawKey:)") { _ = try b.table(name).delete(rawKey: rng.bytes(size)) }
    case 3: call("rawItems") { _ = try b.table(name).rawItems() }
    case 4: call("items") { _ = try b.table(name).items() }
    case 5: call("clear") { try b.table(name).clear() }
    case 6: call("zero") { try b.table(name).zero() }
    case 7: call("keyScanf") { _ = try b.table(name).keyScanf(rng.pick(["1", "0x10", "", "nosuch", "{1 2}", "-1", "99999999999999999999"])) }
    case 8: call("leafScanf") { _ = try b.table(name).leafScanf(rng.pick(["1", "", "[1,2]", "\"x\""])) }
    case 9: call("itemsLookupBatch") { _ = try b.table(name).itemsLookupBatch() }
    case 10: call("itemsDeleteBatch") { try b.table(name).itemsDeleteBatch() }
    case 11: call("hashTable") { let t = try b.hashTable(name, key: UInt32.self, value: UInt64.self); try t.update(7, 9); _ = try t.items() }
    case 12: call("arrayTable") { let t = try b.arrayTable(name, value: UInt64.self); try t.update(rng.int(-2..<12), 1); _ = try t.lookup(rng.int(-2..<12)) }
    case 13: call("perCPUArrayTable") { _ = try b.perCPUArrayTable(name, value: UInt64.self).items() }
    case 14: call("queueStackTable") { let q = try b.queueStackTable(name, value: UInt64.self); try q.push(1); _ = try q.pop(); _ = try q.peek() }
    default: call("typed update") { try b.table(name).update(UInt32(rng.int(0..<100)), UInt64(rng.next())) }
    }
}
