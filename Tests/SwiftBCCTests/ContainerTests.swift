import Foundation
import Glibc
@testable import SwiftBCC
import Testing

/// A process in its own mount namespace (as in a container) running a library only it can see.
final class NamespacedChild {
    let dir: URL
    let child: Child
    let libraryPath: String
    var pid: Int32 { child.process.processIdentifier }

    init() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("swiftbcc-ns-\(UUID().uuidString)")
        let mnt = dir.appendingPathComponent("mnt")
        try FileManager.default.createDirectory(at: mnt, withIntermediateDirectories: true)
        try "__attribute__((noinline)) int ns_marker(int x) { return x + 1; }\n"
            .write(to: dir.appendingPathComponent("lib.c"), atomically: true, encoding: .utf8)
        try """
            #include <dlfcn.h>
            #include <stdio.h>
            #include <unistd.h>
            int main(int c, char **v) {
                void *h = dlopen(v[1], RTLD_NOW);
                if (!h) { fprintf(stderr, "dlopen: %s\\n", dlerror()); return 2; }
                int (*f)(int) = (int (*)(int))dlsym(h, "ns_marker");
                printf("ready\\n"); fflush(stdout);
                for (int i = 0; i < 2000; i++) { f(i); usleep(10000); }
                return 0;
            }
            """.write(to: dir.appendingPathComponent("main.c"), atomically: true, encoding: .utf8)
        for args in [["-shared", "-fPIC", "-o", dir.path + "/libnsmarker.so", dir.path + "/lib.c"],
                     ["-o", dir.path + "/main", dir.path + "/main.c", "-ldl"]] {
            let gcc = try Child("/usr/bin/env", ["gcc"] + args)
            guard gcc.wait(timeout: 120) == 0 else { throw BPFError.invalidArgument("gcc: \(gcc.stderr)") }
        }
        libraryPath = mnt.path + "/libnsmarker.so"
        // unshare execs sh, which execs main: one pid throughout.
        child = try Child("/usr/bin/unshare", ["-m", "--propagation", "private", "sh", "-c",
            "mount -t tmpfs tmpfs \(mnt.path) && cp \(dir.path)/libnsmarker.so \(mnt.path)/ && exec \(dir.path)/main \(libraryPath)"])
        let deadline = Date().addingTimeInterval(10)
        while !child.stdout.contains("ready") && child.process.isRunning && Date() < deadline { usleep(20_000) }
        guard child.stdout.contains("ready") else {
            throw BPFError.invalidArgument("the namespaced child did not start: \(child.stderr)")
        }
    }

    deinit {
        if child.process.isRunning { kill(pid, SIGKILL) }
        _ = child.wait(timeout: 5)
        try? FileManager.default.removeItem(at: dir)
    }
}

extension KernelSuite {
    @Suite("Uprobes in another mount namespace", .requiresUprobes, .requiresGccLibbcc)
    struct ContainerTests {
        static let program = "BPF_ARRAY(hits, u64, 1); int hit(void *ctx) { int k = 0; hits.increment(k); return 0; }"

        @Test("a path only the process sees resolves through /proc/PID/root, by symbol and by regex, as Python's")
        func pathInMountNamespace() throws {
            let ns = try NamespacedChild()
            #expect(!FileIO.exists(ns.libraryPath), "the library should be invisible outside the namespace")
            #expect(FileIO.exists("/proc/\(ns.pid)/root" + ns.libraryPath))
            let b = try BPF(text: Self.program)
            defer { b.cleanup() }
            #expect(throws: BPFError.binaryNotFound(name: ns.libraryPath, pid: -1)) {
                try b.attachUprobe(name: ns.libraryPath, sym: "ns_marker", fnName: "hit")
            }
            let attached = try b.attachUprobe(name: ns.libraryPath, sym: "ns_marker", fnName: "hit", pid: ns.pid)
            #expect(attached.count == 1)
            #expect(attached.first?.eventName.hasPrefix("p__proc_\(ns.pid)_root_") == true, "\(attached)")
            let hits = try b["hits"]
            #expect(eventually(timeout: 5) { ((try? hits.u64(at: 0)) ?? 0) > 0 }, "no call of ns_marker seen")
            b.cleanup()

            let c = try BPF(text: Self.program)
            defer { c.cleanup() }
            let byRegex = try c.attachUprobe(name: ns.libraryPath, symRe: "ns_mark.*", fnName: "hit", pid: ns.pid)
            #expect(byRegex.count == 1)
            let regexHits = try c["hits"]
            #expect(eventually(timeout: 5) { ((try? regexHits.u64(at: 0)) ?? 0) > 0 }, "no call seen through the regex attach")
        }
    }
}
