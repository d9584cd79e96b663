import Glibc
@testable import SwiftBCC

/// The struct the event test programs submit: `struct data_t { u32 tgid; s32 seq; u64 ts; char comm[16]; }`.
struct TestEvent: BitwiseCopyable, Equatable {
    var tgid: UInt32
    var seq: Int32
    var ts: UInt64
    var comm: InlineArray<16, CChar>

    static func == (a: TestEvent, b: TestEvent) -> Bool {
        a.tgid == b.tgid && a.seq == b.seq && a.ts == b.ts && cString(a.comm) == cString(b.comm)
    }
}

/// Event generator: every `getpgid(base + i)` this process makes sends one event with
/// `seq == i` through the program's output tables. `base` is far above pid_max, so the call
/// only fails with ESRCH, and other processes' and tests' calls are filtered out by tgid and range.
struct EventSource {
    let base: Int32 = 0x2000_0000 + Int32.random(in: 0..<0x0100_0000)

    /// Makes `count` events with seq `start ..< start + count`.
    func fire(_ count: Int, from start: Int = 0) {
        for i in start..<(start + count) { _ = getpgid(pid_t(base) + pid_t(i)) }
    }

    var cflags: [String] { ["-DTGID=\(getpid())", "-DBASE=\(base)"] }

    /// A program whose sys_enter_getpgid tracepoint submits a `data_t` through `submit`, a C
    /// statement using `d` (e.g. `events.perf_submit(args, &d, sizeof(d));`).
    static func program(tables: String, submit: String) -> String {
        """
        struct data_t { u32 tgid; s32 seq; u64 ts; char comm[16]; };
        \(tables)
        TRACEPOINT_PROBE(syscalls, sys_enter_getpgid) {
            u32 tgid = bpf_get_current_pid_tgid() >> 32;
            if (tgid != TGID) return 0;
            s32 seq = args->pid - BASE;
            if (seq < 0 || seq >= 0x01000000) return 0;
            struct data_t d = {};
            d.tgid = tgid;
            d.seq = seq;
            d.ts = bpf_ktime_get_ns();
            bpf_get_current_comm(&d.comm, sizeof(d.comm));
            \(submit)
            return 0;
        }
        """
    }

    static let perfProgram = program(tables: "BPF_PERF_OUTPUT(events);",
                                     submit: "events.perf_submit(args, &d, sizeof(d));")
    static let ringProgram = program(tables: "BPF_RINGBUF_OUTPUT(events, 8);",
                                     submit: "events.ringbuf_output(&d, sizeof(d), 0);")
}

/// The calling thread's comm, as bpf_get_current_comm() sees it.
func currentThreadComm() -> String {
    (FileIO.read("/proc/thread-self/comm") ?? "").trimmingTrailingNewlines
}

/// glibc's sched_{get,set}affinity (declared only under _GNU_SOURCE, so looked up at run time).
private typealias AffinityFunction = @convention(c) (pid_t, Int, UnsafeMutableRawPointer?) -> Int32
private let getAffinity = unsafeBitCast(dlsym(nil, "sched_getaffinity"), to: AffinityFunction.self)
private let setAffinity = unsafeBitCast(dlsym(nil, "sched_setaffinity"), to: AffinityFunction.self)

/// Runs `body` pinned to `cpu`, then restores the thread's affinity.
func onCPU(_ cpu: Int, _ body: () -> Void) {
    var old = cpu_set_t()
    let size = MemoryLayout<cpu_set_t>.size
    _ = getAffinity(0, size, &old)
    defer { _ = setAffinity(0, size, &old) }
    var set = cpu_set_t()
    withUnsafeMutableBytes(of: &set) { $0[cpu / 8] |= UInt8(1 << (cpu % 8)) }
    if setAffinity(0, size, &set) == 0 { body() }
}

/// Pins every thread of this process named `name` to `cpu`; returns how many.
@discardableResult
func pinThreads(named name: String, to cpu: Int) -> Int {
    var set = cpu_set_t()
    withUnsafeMutableBytes(of: &set) { $0[cpu / 8] |= UInt8(1 << (cpu % 8)) }
    var pinned = 0
    for tid in FileIO.listDirectory("/proc/self/task") {
        guard FileIO.read("/proc/self/task/\(tid)/comm")?.trimmingTrailingNewlines == name, let t = pid_t(tid) else { continue }
        if setAffinity(t, MemoryLayout<cpu_set_t>.size, &set) == 0 { pinned += 1 }
    }
    return pinned
}

/// Runs `body` once pinned to each online CPU (so per-CPU perf buffers each see it), then
/// restores the thread's affinity.
func onEachCPU(_ body: (Int) -> Void) {
    var old = cpu_set_t()
    let size = MemoryLayout<cpu_set_t>.size
    _ = getAffinity(0, size, &old)
    defer { _ = setAffinity(0, size, &old) }
    for cpu in CPUs.online {
        var set = cpu_set_t()
        withUnsafeMutableBytes(of: &set) { $0[cpu / 8] |= UInt8(1 << (cpu % 8)) }
        if setAffinity(0, size, &set) == 0 { body(cpu) }
    }
}

/// The first word of the `.invalidArgument` message `body` throws (the refused function's
/// name, e.g. "perfBufferPoll"), or what happened instead.
func invalidArgumentWord(_ body: () throws -> Void) -> String {
    do {
        try body()
        return "no error"
    } catch let BPFError.invalidArgument(message) {
        return String(message.prefix { $0 != " " })
    } catch {
        return "\(error)"
    }
}

/// Fires one event per timeout too large for the clock (`Int.max`, past `Int32.max`) and polls
/// with it until the event is `seen`: a poll must return once it has read, not trap.
func pollWithHugeTimeouts(_ src: EventSource, seen: () -> [Int32], poll: (Int) throws -> Void) rethrows {
    for (i, timeout) in [Int.max, Int(Int32.max) + 1, Int(Int32.max)].enumerated() {
        src.fire(1, from: i)
        while !seen().contains(Int32(i)) { try poll(timeout) }
    }
}
