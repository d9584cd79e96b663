import Foundation
import Glibc
@testable import SwiftBCC
import Testing

extension KernelSuite {
    @Suite("USDT", .requiresBPF, .requiresUprobes)
    struct USDTTests {
        static let target = """
            #include <stdio.h>
            #include <string.h>
            #include <sys/sdt.h>
            int main(void) {
                if (getchar() == EOF) return 2;
                for (long i = 0; i < 5; i++) DTRACE_PROBE2(swiftbcc, tick, i, i * 100);
                char msg[16];  /* on the stack: a BPF read of a not yet faulted-in page fails */
                strcpy(msg, "hello-usdt");
                DTRACE_PROBE1(swiftbcc, message, msg);
                return 0;
            }
            """

        /// sums[0]: sum of tick's arg 1, [1]: sum of arg 2, [2]: tick hits; msg: message's string.
        static let program = """
            #include <uapi/linux/ptrace.h>
            struct msg_t { char c[16]; };
            BPF_ARRAY(sums, u64, 3);
            BPF_ARRAY(msg, struct msg_t, 1);
            static void add(int i, u64 v) { u64 *p = sums.lookup(&i); if (p) __sync_fetch_and_add(p, v); }
            int on_tick(struct pt_regs *ctx) {
                long i = 0, v = 0;
                bpf_usdt_readarg(1, ctx, &i);
                bpf_usdt_readarg(2, ctx, &v);
                add(0, i); add(1, v); add(2, 1);
                return 0;
            }
            int on_message(struct pt_regs *ctx) {
                u64 addr = 0;
                int k = 0;
                struct msg_t m = {};
                bpf_usdt_readarg(1, ctx, &addr);
                bpf_probe_read_user_str(&m.c, sizeof(m.c), (void *)addr);
                msg.update(&k, &m);
                return 0;
            }
            """

        static func targetPath() throws -> String { try CPrograms.build("usdt_target", source: target) }

        func check(_ b: BPF) throws {
            let sums = try b["sums"]
            #expect(try sums.u64(at: 0) == 10)
            #expect(try sums.u64(at: 1) == 1000)
            #expect(try sums.u64(at: 2) == 5)
            let m = try #require(try b["msg"].lookup(rawKey: leBytes(UInt32(0))))
            #expect(String(decoding: m.prefix { $0 != 0 }, as: UTF8.self) == "hello-usdt")
        }

        @Test("USDT(path:): probes enumerated, bpf_usdt_readarg reads integer and pointer arguments")
        func byPath() throws {
            let exe = try Self.targetPath()
            let u = try USDT(path: exe)
            let probes = u.enumerateProbes()
            #expect(Set(probes.map(\.shortName)) == ["swiftbcc:tick", "swiftbcc:message"])
            #expect(probes.first { $0.name == "tick" }?.numArguments == 2)
            #expect(probes.allSatisfy { $0.semaphore == 0 && $0.binPath == exe })
            try u.enableProbe(probe: "swiftbcc:tick", fnName: "on_tick")
            try u.enableProbe(probe: "message", fnName: "on_message")
            #expect(try u.getProbeArgCType(probe: "swiftbcc:tick", argIndex: 0) == "int64_t")
            #expect(try u.getProbeArgCType(probe: "tick", argIndex: 1) == "int64_t")
            #expect(try u.getProbeArgCType(probe: "swiftbcc:no_such_probe", argIndex: 0) == nil)
            // Indices past the probe's arguments, negative or beyond Int32 are errors, not traps
            // (libbcc does not check them).
            for bad in [2, -1, Int(Int32.max) + 1, Int.max] {
                #expect {
                    try u.getProbeArgCType(probe: "swiftbcc:tick", argIndex: bad)
                } throws: { error in
                    guard case let .invalidArgument(message)? = error as? BPFError else { return false }
                    return message.contains("Argument index \(bad) ")
                }
            }
            #expect(try u.getText().contains("on_tick"))

            let b = try BPF(text: Self.program, usdtContexts: [u])
            defer { b.cleanup() }
            #expect(b.numOpenUprobes == 2)
            try WaitingProcess(exe, []).go()
            try check(b)
            b.cleanup()
            #expect(b.numOpenUprobes == 0)
        }

        @Test("USDT(pid:): the probes of one running process")
        func byPid() throws {
            let exe = try Self.targetPath()
            let mine = try WaitingProcess(exe, [])
            let other = try WaitingProcess(exe, [])
            let u = try USDT(pid: mine.pid)
            try u.enableProbe(probe: "swiftbcc:tick", fnName: "on_tick")
            try u.enableProbe(probe: "swiftbcc:message", fnName: "on_message")
            let b = try BPF(text: Self.program, usdtContexts: [u])
            defer { b.cleanup() }
            #expect(b.uprobeAttachments.allSatisfy { $0.pid == mine.pid })
            // attachUSDTIgnorePID: the same context's probes, in every process.
            let all = try BPF(text: Self.program, usdtContexts: [u], attachUSDTIgnorePID: true)
            defer { all.cleanup() }
            #expect(all.uprobeAttachments.allSatisfy { $0.pid == -1 })
            other.go()
            mine.go()
            try check(b)
            #expect(try all["sums"].u64(at: 2) == 10)
        }

        @Test("bad USDT targets and probes give typed errors")
        func errors() throws {
            let exe = try Self.targetPath()
            let u = try USDT(path: exe)
            #expect {
                try u.enableProbe(probe: "swiftbcc:nosuch", fnName: "on_tick")
            } throws: { error in
                guard case BPFError.usdtProbeNotFound(_, _, let available, _) = error else { return false }
                return available.contains("swiftbcc:tick")
            }
            #expect(throws: BPFError.self) { try USDT(path: "/no/such/binary") }
            #expect(throws: BPFError.self) { try USDT(pid: 0) }
            #expect(throws: BPFError.self) { try USDT(pid: Int32.max - 5) }
            // A program that does not define the enabled function fails to attach and leaves nothing.
            let u2 = try USDT(path: exe)
            try u2.enableProbe(probe: "swiftbcc:tick", fnName: "missing_fn")
            #expect(throws: BPFError.self) { try BPF(text: Self.program, usdtContexts: [u2]) }
        }

        static let semaphoreTarget = """
            #define _SDT_HAS_SEMAPHORES 1
            #include <stdio.h>
            #include <sys/sdt.h>
            __extension__ volatile unsigned short swiftbcc_sem_semaphore
                __attribute__((unused)) __attribute__((section(".probes")));
            int main(void) {
                if (getchar() == EOF) return 2;
                int fired = 0;
                for (int i = 0; i < 3; i++)
                    if (swiftbcc_sem_semaphore) { DTRACE_PROBE1(swiftbcc, sem, i); fired++; }
                printf("%d\\n", fired);
                return 0;
            }
            """

        @Test("a probe with a semaphore: USDT(pid:) sets it so the probe fires; USDT(path:) refuses it")
        func semaphore() throws {
            let exe = try CPrograms.build("usdt_sem_target", source: Self.semaphoreTarget)
            let byPath = try USDT(path: exe)
            let probe = try #require(byPath.enumerateProbes().first { $0.shortName == "swiftbcc:sem" })
            #expect(probe.semaphore != 0)
            #expect(throws: BPFError.self) { try byPath.enableProbe(probe: "swiftbcc:sem", fnName: "on_sem") }

            let child = try WaitingProcess(exe, [])
            let u = try USDT(pid: child.pid)
            try u.enableProbe(probe: "swiftbcc:sem", fnName: "on_sem")
            let b = try BPF(text: """
                #include <uapi/linux/ptrace.h>
                BPF_ARRAY(sums, u64, 2);
                int on_sem(struct pt_regs *ctx) {
                    int i = 0;
                    bpf_usdt_readarg(1, ctx, &i);
                    int k0 = 0, k1 = 1;
                    u64 *p = sums.lookup(&k0); if (p) __sync_fetch_and_add(p, i);
                    p = sums.lookup(&k1); if (p) __sync_fetch_and_add(p, 1);
                    return 0;
                }
                """, usdtContexts: [u])
            defer { b.cleanup() }
            let out = child.go()
            #expect(out.trimmingCharacters(in: .whitespacesAndNewlines) == "3", "the semaphore was not set")
            #expect(try b["sums"].u64(at: 1) == 3)
            #expect(try b["sums"].u64(at: 0) == 3)  // 0 + 1 + 2
        }
    }
}
