import Foundation
import Glibc
@testable import SwiftBCC
import Testing

private func stacksCount(_ b: BPF) throws -> Int { try b["stacks"].count }

extension KernelSuite {
    @Suite("Build-id stacks", .requiresUprobes, .requiresGccLibbcc)
    struct BuildIDStackTests {
        @Test("BPF_STACK_TRACE_BUILDID frames carry the binary's build id and symbolize after addModule")
        func buildIDStack() throws {
            let dir = FileManager.default.temporaryDirectory.appendingPathComponent("swiftbcc-bid-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(at: dir) }
            try """
                #include <stdio.h>
                #include <unistd.h>
                __attribute__((noinline)) int bid_marker(int x) { __asm__ volatile(""); return x * 3 + 1; }
                __attribute__((noinline)) int bid_caller(int x) { return bid_marker(x) + 1; }
                int main(void) {
                    printf("ready\\n"); fflush(stdout);
                    for (int i = 0; i < 1000; i++) { bid_caller(i); usleep(10000); }
                    return 0;
                }
                """.write(to: dir.appendingPathComponent("bid.c"), atomically: true, encoding: .utf8)
            let exe = dir.appendingPathComponent("bid").path
            let gcc = try Child("/usr/bin/env", ["gcc", "-O1", "-fno-omit-frame-pointer", "-Wl,--build-id", "-o", exe,
                                                 dir.appendingPathComponent("bid.c").path])
            #expect(gcc.wait(timeout: 120) == 0, "gcc: \(gcc.stderr)")
            let readelf = try Child("/usr/bin/env", ["readelf", "-n", exe])
            _ = readelf.wait(timeout: 30)
            let idHex = try #require(readelf.stdout.split(separator: "\n").first { $0.contains("Build ID:") }?
                .split(separator: " ").last.map(String.init))

            let b = try BPF(text: """
                BPF_STACK_TRACE_BUILDID(stacks, 128);
                BPF_ARRAY(ids, int, 1);
                int on_call(struct pt_regs *ctx) {
                    int id = stacks.get_stackid(ctx, BPF_F_USER_STACK);
                    int zero = 0;
                    ids.update(&zero, &id);
                    return 0;
                }
                """)
            defer { b.cleanup() }
            let child = try Child(exe, [])
            defer { kill(child.process.processIdentifier, SIGKILL); _ = child.wait(timeout: 5) }
            #expect(eventually(timeout: 5) { child.stdout.contains("ready") })
            try b.attachUprobe(name: exe, sym: "bid_marker", fnName: "on_call", pid: child.process.processIdentifier)
            let ids = try b.arrayTable("ids", value: Int32.self)
            #expect(eventually(timeout: 5) { ((try? stacksCount(b)) ?? 0) > 0 })
            let id = try #require(try ids[0])
            #expect(id >= 0, "get_stackid failed: \(id)")
            let stacks = try b["stacks"]
            let frames = try stacks.walkBuildID(id)
            #expect(!frames.isEmpty)
            let first = try #require(frames.first)
            #expect(first.description.hasPrefix(idHex + "+0x"))
            #expect(try stacks.walk(id) == frames.map(\.offset))
            try BPF.addModule(exe)
            #expect(BPF.sym(first) == "bid_marker")
            #expect(b.sym(first, showModule: true) == "bid_marker [bid]")
            let names = frames.map { BPF.sym($0) }
            // At a function's first instruction the frame-pointer walk skips its caller (bid_caller):
            // the next frame with this build id is main.
            #expect(names.contains("main"), "\(names)")
            #expect(frames.filter { $0.buildID == first.buildID }.count >= 2, "\(frames)")
            #expect(throws: BPFError.self) { try b["ids"].walkBuildID(0) }
        }
    }
}
