import Foundation
import Glibc
@testable import SwiftBCC
import Testing

extension KernelSuite {
    @Suite("Tracepoints", .requiresBPF)
    struct TracepointTests {
        let tgid = getpid()

        func program(_ marker: String, name: String = "on_getppid") -> String {
            """
            int \(name)(void *ctx) {
                if ((bpf_get_current_pid_tgid() >> 32) != \(tgid)) return 0;
                bpf_trace_printk("\(marker) %d\\n", 42);
                return 0;
            }
            """
        }

        @Test("attachTracepoint: a getppid from this process prints our line, with our pid")
        func tracepointTraceLine() throws {
            let marker = uniqueMarker()
            let b = try BPF(text: program(marker))
            defer { b.cleanup() }
            try b.attachTracepoint(tp: "syscalls:sys_enter_getppid", fnName: "on_getppid")
            #expect(b.numOpenTracepoints == 1)
            var tid: Int32 = 0
            let f = try #require(waitForTrace(b, containing: marker) { tid = currentTid(); _ = getppid() })
            #expect(f.message == "\(marker) 42")
            #expect(f.pid == Int(tid))
            #expect(f.timestamp > 0)
            try b.detachTracepoint(tp: "syscalls:sys_enter_getppid")
            #expect(b.numOpenTracepoints == 0)
            // Detached: no more lines.
            _ = getppid()
            #expect(try waitForTrace(b, containing: marker, timeout: 0.5) == nil)
        }

        @Test("TRACEPOINT_PROBE is auto-attached at init")
        func tracepointProbe() throws {
            let marker = uniqueMarker()
            let b = try BPF(text: """
                TRACEPOINT_PROBE(syscalls, sys_enter_getppid) {
                    if ((bpf_get_current_pid_tgid() >> 32) != \(tgid)) return 0;
                    bpf_trace_printk("\(marker)\\n");
                    return 0;
                }
                """)
            defer { b.cleanup() }
            #expect(b.numOpenTracepoints == 1)
            #expect(try waitForTrace(b, containing: marker) { _ = getppid() } != nil)
        }

        @Test("autoAttach: false defers TRACEPOINT_PROBE's attach to autoAttach(); a second call is alreadyAttached")
        func deferredAutoAttach() throws {
            let b = try BPF(text: """
                BPF_ARRAY(calls, u64, 1);
                TRACEPOINT_PROBE(syscalls, sys_enter_getppid) {
                    if ((bpf_get_current_pid_tgid() >> 32) != \(tgid)) return 0;
                    int zero = 0;
                    u64 *n = calls.lookup(&zero);
                    if (n) __sync_fetch_and_add(n, 1);
                    return 0;
                }
                """, autoAttach: false)
            defer { b.cleanup() }
            let calls = try b["calls"]
            func count() throws -> UInt64 { TypedBytes.load(try #require(try calls.lookup(rawKey: [0, 0, 0, 0])), as: UInt64.self) }
            #expect(b.numOpenTracepoints == 0)
            for _ in 0..<5 { _ = getppid() }
            #expect(try count() == 0, "the probe ran before autoAttach()")
            try b.autoAttach()
            #expect(b.numOpenTracepoints == 1)
            for _ in 0..<5 { _ = getppid() }
            #expect(try count() >= 5)
            let again = try #require(throws: BPFError.self) { try b.autoAttach() }
            guard case let .alreadyAttached(_, target) = again else {
                Issue.record("second autoAttach: \(again)")
                return
            }
            #expect(target == "syscalls:sys_enter_getppid")
            #expect(b.numOpenTracepoints == 1)
        }

        @Test("raw tracepoint: explicit attach and RAW_TRACEPOINT_PROBE auto-attach")
        func rawTracepoint() throws {
            let marker = uniqueMarker()
            let b = try BPF(text: """
                #include <uapi/linux/ptrace.h>
                int on_enter(struct bpf_raw_tracepoint_args *ctx) {
                    if ((bpf_get_current_pid_tgid() >> 32) != \(tgid)) return 0;
                    if (ctx->args[1] != \(syscallNumberGetppid)) return 0;
                    bpf_trace_printk("\(marker) explicit\\n");
                    return 0;
                }
                RAW_TRACEPOINT_PROBE(sys_exit) {
                    if ((bpf_get_current_pid_tgid() >> 32) != \(tgid)) return 0;
                    bpf_trace_printk("\(marker) auto\\n");
                    return 0;
                }
                """)
            defer { b.cleanup() }
            #expect(b.numOpenRawTracepoints == 1)
            try b.attachRawTracepoint(tp: "sys_enter", fnName: "on_enter")
            #expect(b.numOpenRawTracepoints == 2)
            #expect(throws: BPFError.alreadyAttached(kind: "raw tracepoint", target: "sys_enter")) {
                try b.attachRawTracepoint(tp: "sys_enter", fnName: "on_enter")
            }
            #expect(try waitForTrace(b, containing: "\(marker) explicit") { _ = getppid() } != nil)
            #expect(try waitForTrace(b, containing: "\(marker) auto") { _ = getppid() } != nil)
            try b.detachRawTracepoint(tp: "sys_enter")
            #expect(b.numOpenRawTracepoints == 1)
            #expect(throws: BPFError.notAttached(kind: "raw tracepoint", target: "sys_enter")) {
                try b.detachRawTracepoint(tp: "sys_enter")
            }
        }

        @Test("attachTracepoint(tpRe:) attaches every match")
        func tracepointRegex() throws {
            let b = try BPF(text: "int any(void *ctx) { return 0; }")
            defer { b.cleanup() }
            let attached = try b.attachTracepoint(tpRe: "syscalls:sys_enter_get(pid|pgid|ppid)$", fnName: "any")
            #expect(Set(attached) == ["syscalls:sys_enter_getpid", "syscalls:sys_enter_getpgid", "syscalls:sys_enter_getppid"])
            #expect(b.numOpenTracepoints == 3)
        }

        @Test("attachTracepoint(tpRe:) is all or nothing: a failing match detaches the others and unloads the function")
        func tracepointRegexRollback() throws {
            let (first, second) = (uniqueFunctionName("tr1"), uniqueFunctionName("tr2"))
            let b = try BPF(text: "int \(first)(void *ctx) { return 0; }\nint \(second)(void *ctx) { return 0; }")
            defer { b.cleanup() }
            // The last match (in order: getpgid, getpid, getppid) is attached already.
            try b.attachTracepoint(tp: "syscalls:sys_enter_getppid", fnName: first)
            #expect(throws: BPFError.alreadyAttached(kind: "tracepoint", target: "syscalls:sys_enter_getppid")) {
                try b.attachTracepoint(tpRe: "syscalls:sys_enter_get(pid|pgid|ppid)$", fnName: second)
            }
            #expect(b.numOpenTracepoints == 1)
            #expect(throws: BPFError.notAttached(kind: "tracepoint", target: "syscalls:sys_enter_getpgid")) {
                try b.detachTracepoint(tp: "syscalls:sys_enter_getpgid")
            }
            let loaded = loadedProgramNames()
            #expect(loaded.contains(first))
            #expect(!loaded.contains(second))
            // A pattern that matches nothing is an error too.
            #expect(throws: BPFError.tracepointNotFound(tracepoint: "matching /syscalls:sys_enter_nosuchcall/")) {
                try b.attachTracepoint(tpRe: "syscalls:sys_enter_nosuchcall", fnName: second)
            }
        }

        @Test("bad tracepoints give typed errors")
        func badTracepoints() throws {
            let b = try BPF(text: "int f(void *ctx) { return 0; }")
            defer { b.cleanup() }
            #expect(throws: BPFError.tracepointNotFound(tracepoint: "syscalls:sys_enter_nosuchcall")) {
                try b.attachTracepoint(tp: "syscalls:sys_enter_nosuchcall", fnName: "f")
            }
            #expect {
                try b.attachTracepoint(tp: "no-colon", fnName: "f")
            } throws: { error in
                guard case BPFError.invalidArgument(let m) = error else { return false }
                return m.contains("category:event")
            }
            #expect(throws: BPFError.notAttached(kind: "tracepoint", target: "sched:sched_switch")) {
                try b.detachTracepoint(tp: "sched:sched_switch")
            }
            #expect(throws: BPFError.self) { try b.attachRawTracepoint(tp: "no_such_raw_tp", fnName: "f") }
            #expect(b.numOpenTracepoints == 0)
        }

        @Test("tracepointExists and getTracepoints read tracefs")
        func queries() throws {
            #expect(BPF.tracepointExists(category: "syscalls", event: "sys_enter_execve"))
            #expect(!BPF.tracepointExists(category: "syscalls", event: "sys_enter_nosuchcall"))
            let tps = try BPF.getTracepoints("sched:sched_process_")
            #expect(tps.contains("sched:sched_process_exec"))
            #expect(tps.allSatisfy { $0.hasPrefix("sched:sched_process_") })
        }

        @Test("nonblocking reads return at once; a timeout returns nil when no line comes in time")
        func nonblocking() throws {
            TracePipeLock.acquire()
            let b = try BPF(text: "int f(void *ctx) { return 0; }")
            defer { b.cleanup() }
            // Drain (bounded: another program on the machine may print all the time).
            var drained = 0
            while drained < 100_000, try b.traceReadline(nonblocking: true) != nil { drained += 1 }
            let start = Date()
            _ = try b.traceFields(nonblocking: true)
            #expect(Date().timeIntervalSince(start) < 0.5, "a nonblocking read blocked")
            // Nothing of ours prints a marker: a 0.3 s timeout ends with nil, after about 0.3 s.
            let marker = uniqueMarker()
            let t0 = Date()
            #expect(try waitForTrace(b, containing: marker, timeout: 0.3) == nil)
            #expect(Date().timeIntervalSince(t0) >= 0.25)
        }
    }
}
