// Measures start-up side by side: the wall time from spawning a process to its hello-world
// tracepoint program being attached, and the process's peak RSS (VmHWM of /proc/self/status
// once attached), for SwiftBCC, Python BCC and a C program on libbcc's C API. Every round
// starts one child per consumer (interleaved, so they share the machine's state), each
// compiling the program cold (a fresh XDG_CACHE_HOME per child, so no compile cache helps),
// and a second SwiftBCC child ("swift-warm") that starts from SwiftBCC's compile cache
// (SWIFTBCC_CACHE_DIR pointing at a cache one unmeasured child filled before the rounds);
// the medians of --rounds rounds are reported. Run it in release:
//
//   swift build -c release --product StartBench
//   .build/release/StartBench --rounds 11
//
// The time starts in the parent just before the spawn (CLOCK_MONOTONIC, passed to the child)
// and ends in the child right after the attach returns. The Swift child is this executable
// (`--child-t0 NS`: BPF(text:) + attachTracepoint, nothing else); the Python child is
// /usr/bin/python3 on a script (`from bcc import BPF`, BPF(text=...), attach_tracepoint); the C
// child is compiled once with gcc -O2 -lbcc (bpf_module_create_c_from_string, bcc_prog_load,
// bpf_attach_tracepoint). Each prints "ATTACHED <ns> <VmHWM kB>" and exits (its fds, hence
// the attachment, go with it).
import ArgumentParser
import BenchSupport
import Foundation
import Glibc
import SwiftBCC

/// The hello-world program every consumer loads: a tracepoint that counts its hits.
let helloProgram = """
    BPF_ARRAY(counts, u64, 1);
    int hello(void *ctx) {
        int k = 0;
        u64 *v = counts.lookup(&k);
        if (v) (*v)++;
        return 0;
    }

    """

func monotonicNanoseconds() -> Int64 {
    var t = timespec()
    clock_gettime(CLOCK_MONOTONIC, &t)
    return Int64(t.tv_sec) * 1_000_000_000 + Int64(t.tv_nsec)
}

/// VmHWM of /proc/self/status in kB (0 when unreadable).
func peakRSSKiB() -> Int {
    guard let text = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return 0 }
    for line in text.split(separator: "\n") where line.hasPrefix("VmHWM:") {
        return Int(line.split(separator: " ").dropFirst().first ?? "") ?? 0
    }
    return 0
}

@main
struct StartBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Time start-to-attached and peak RSS of a hello-world tracepoint program: SwiftBCC, Python BCC and C side by side.")

    @Option(help: "Rounds (each starts every consumer once); medians are reported.")
    var rounds = 7

    @Option(help: "Consumers to run (comma-separated): swift, swift-child, swift-warm, python, c.")
    var consumers = "swift,swift-child,swift-warm,python,c"

    @Option(help: "The tracepoint the program attaches to.")
    var tracepoint = "syscalls:sys_enter_getpgid"

    @Option(help: "The Python that runs Python BCC.")
    var python = "/usr/bin/python3"

    @Option(help: "The C compiler for the C consumer (a name on PATH or a path).")
    var cc = "gcc"

    @Option(help: "Seconds a child may run before it is stopped.")
    var timeout = 120.0

    @Option(help: .hidden)
    var childT0: Int64?

    func validate() throws {
        guard rounds > 0, timeout > 0 else { throw ValidationError("--rounds and --timeout must be positive.") }
        guard tracepoint.split(separator: ":").count == 2 else { throw ValidationError("--tracepoint is category:event.") }
    }

    func run() throws {
        if let childT0 { return try runSwiftChild(t0: childT0) }
        Interrupts.install()
        #if DEBUG
        print("warning: this is a debug build; SwiftBCC's numbers mean little (build with -c release)")
        #endif
        let tempDir = try makeTempDir("StartBench")
        defer { try? FileManager.default.removeItem(at: tempDir) }
        var results = StartResults()
        do {
            let list = consumers.split(separator: ",").map(String.init)
            var commands: [(name: String, executable: String, arguments: [String], env: [String: String])] = []
            var base = ProcessInfo.processInfo.environment
            base["SWIFTBCC_CACHE_DIR"] = nil
            base["SWIFTBCC_CACHE"] = nil
            let me = CommandLine.arguments[0].hasPrefix("/") ? CommandLine.arguments[0]
                : FileManager.default.currentDirectoryPath + "/" + CommandLine.arguments[0]
            if list.contains("swift") {
                commands.append(("swift", me, ["--tracepoint", tracepoint], base))
            }
            if list.contains("swift-child") {
                // A cold start whose compile runs in the swiftbcc-compile helper (BPF.compilesInChild).
                var env = base
                env["SWIFTBCC_COMPILE_CHILD"] = "1"
                commands.append(("swift-child", me, ["--tracepoint", tracepoint], env))
            }
            if list.contains("swift-warm") {
                // One unmeasured child fills the cache the measured warm children start from.
                var env = base
                env["SWIFTBCC_CACHE_DIR"] = tempDir.appendingPathComponent("warm-cache").path
                let primed = try runChild(me, ["--tracepoint", tracepoint, "--child-t0", "\(monotonicNanoseconds())"],
                                          timeout: timeout, tempDir: tempDir, label: "swift-warm-prime", environment: env)
                if primed.status == 0 {
                    commands.append(("swift-warm", me, ["--tracepoint", tracepoint], env))
                } else {
                    results.skip("swift-warm", "the child that fills the cache exited with status \(primed.status): \(primed.lastError)")
                }
            }
            if list.contains("python") {
                if access(python, X_OK) == 0 {
                    let script = tempDir.appendingPathComponent("start.py")
                    try Self.pythonChild.write(to: script, atomically: true, encoding: .utf8)
                    commands.append(("python", python, [script.path, tracepoint], pythonEnvironment()))
                } else {
                    results.skip("python", "\(python) is not an executable (install python3-bpfcc, or pass --python)")
                }
            }
            if list.contains("c") {
                switch try buildC(Self.cChild, name: "start", cc: cc, timeout: timeout, tempDir: tempDir) {
                case let .failure(f): results.skip("c", f.reason)
                case let .success(binary): commands.append(("c", binary, [tracepoint], base))
                }
            }
            for round in 0..<rounds {
                for c in commands {
                    try checkStop()
                    var env = c.env
                    let cache = tempDir.appendingPathComponent("cache-\(c.name)-\(round)")
                    env["XDG_CACHE_HOME"] = cache.path  // cold: no compile cache carries over
                    let t0 = monotonicNanoseconds()
                    var args = c.arguments
                    if c.name.hasPrefix("swift") { args += ["--child-t0", "\(t0)"] } else { args.append("\(t0)") }
                    let out = try runChild(c.executable, args, timeout: timeout, tempDir: tempDir,
                                           label: "\(c.name)-\(round)", environment: env)
                    try? FileManager.default.removeItem(at: cache)
                    results.parse(out, consumer: c.name)
                }
            }
        } catch is Stopped {
            print("stopped by signal \(Interrupts.pendingSignal ?? 0): partial results")
        }
        results.printSummary(rounds: rounds)
    }

    /// The Swift consumer: compile, load, attach, report.
    func runSwiftChild(t0: Int64) throws {
        let b = try BPF(text: helloProgram)
        try b.attachTracepoint(tp: tracepoint, fnName: "hello")
        let ns = monotonicNanoseconds() - t0
        print("ATTACHED \(ns) \(peakRSSKiB())")
        fflush(nil)
        b.cleanup()
    }

    static let pythonChild = #"""
# Python BCC consumer for StartBench: compile, load, attach, report.
import sys
import time
from bcc import BPF

tp, t0 = sys.argv[1], int(sys.argv[2])
b = BPF(text="""\#(helloProgram)""")
b.attach_tracepoint(tp=tp, fn_name="hello")
ns = time.clock_gettime_ns(time.CLOCK_MONOTONIC) - t0
hwm = 0
with open("/proc/self/status") as f:
    for line in f:
        if line.startswith("VmHWM:"):
            hwm = int(line.split()[1])
print("ATTACHED %d %d" % (ns, hwm), flush=True)
b.cleanup()
"""#

    static let cChild = #"""
// C consumer on libbcc's C API for StartBench: compile, load, attach, report.
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <bcc/bcc_common.h>
#include <bcc/libbpf.h>

static const char *text = "\#(helloProgram.split(separator: "\n").joined(separator: "\\n"))\n";

int main(int argc, char **argv) {
    if (argc != 3) { fprintf(stderr, "usage: %s CATEGORY:EVENT T0\n", argv[0]); return 2; }
    long long t0 = atoll(argv[2]);
    char category[256];
    snprintf(category, sizeof category, "%s", argv[1]);
    char *event = strchr(category, ':');
    if (!event) return 2;
    *event++ = 0;
    void *mod = bpf_module_create_c_from_string(text, 0, NULL, 0, true, NULL);
    if (!mod) { fprintf(stderr, "bpf_module_create_c_from_string failed\n"); return 1; }
    void *start = bpf_function_start(mod, "hello");
    size_t size = bpf_function_size(mod, "hello");
    int fd = bcc_prog_load(BPF_PROG_TYPE_TRACEPOINT, "hello", start, (int)size, bpf_module_license(mod),
                           bpf_module_kern_version(mod), 0, NULL, 0);
    if (fd < 0) { fprintf(stderr, "bcc_prog_load: %s\n", strerror(errno)); return 1; }
    int tp = bpf_attach_tracepoint(fd, category, event);
    if (tp < 0) { fprintf(stderr, "bpf_attach_tracepoint: %s\n", strerror(errno)); return 1; }
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    long long ns = (long long)t.tv_sec * 1000000000LL + t.tv_nsec - t0;
    long hwm = 0;
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    while (f && fgets(line, sizeof line, f)) if (strncmp(line, "VmHWM:", 6) == 0) hwm = atol(line + 6);
    if (f) fclose(f);
    printf("ATTACHED %lld %ld\n", ns, hwm);
    fflush(stdout);
    bpf_close_perf_event_fd(tp);
    close(fd);
    bpf_module_destroy(mod);
    return 0;
}
"""#
}

struct StartResults {
    var seconds: [String: [Double]] = [:]
    var rss: [String: [Double]] = [:]
    var skipped: [(what: String, reason: String)] = []

    mutating func skip(_ what: String, _ reason: String) {
        skipped.append((what, reason))
        print("\(what): skipped: \(reason)")
        fflush(nil)
    }

    mutating func parse(_ output: ChildOutput, consumer: String) {
        for line in output.stdout.split(separator: "\n") {
            let f = line.split(separator: " ")
            if f.count == 3, f[0] == "ATTACHED", let ns = Double(f[1]), let kb = Double(f[2]) {
                seconds[consumer, default: []].append(ns / 1e9)
                rss[consumer, default: []].append(kb / 1024)
                print("\(consumer.padding(toLength: 7, withPad: " ", startingAt: 0)) attached after "
                      + String(format: "%.3f s, peak RSS %.1f MiB", ns / 1e9, kb / 1024))
                fflush(nil)
                return
            }
        }
        let reason = output.timedOut ? "timed out (see --timeout)"
            : output.status != 0 ? "exited with status \(output.status): \(output.lastError)" : "reported nothing"
        skip(consumer, reason)
    }

    static func median(_ xs: [Double]) -> Double? {
        guard !xs.isEmpty else { return nil }
        let s = xs.sorted()
        return s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
    }

    func printSummary(rounds: Int) {
        print("")
        guard !seconds.isEmpty else {
            print("no measurements")
            for (what, reason) in skipped { print("skipped: \(what): \(reason)") }
            return
        }
        let labels = [("swift", "SwiftBCC (`BPF(text:)` + `attachTracepoint`)"),
                      ("swift-child", "SwiftBCC, cold, compiled in a child (`BPF.compilesInChild`)"),
                      ("swift-warm", "SwiftBCC, warm compile cache (same calls)"),
                      ("python", "Python BCC (`BPF(text=...)` + `attach_tracepoint`)"),
                      ("c", "C on libbcc (`bpf_module_create_c_from_string` + `bcc_prog_load` + `bpf_attach_tracepoint`)")]
        print("| Hello-world tracepoint (medians of \(rounds) rounds, same run) | start to attached (s) | peak RSS (MiB) | time / C | RSS / C | time / Python | RSS / Python |")
        print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
        let pT = Self.median(seconds["python"] ?? []), pR = Self.median(rss["python"] ?? [])
        let cT = Self.median(seconds["c"] ?? []), cR = Self.median(rss["c"] ?? [])
        for (key, label) in labels {
            guard let t = Self.median(seconds[key] ?? []), let r = Self.median(rss[key] ?? []) else { continue }
            print("| \(label) | " + String(format: "%.3f", t) + " | " + String(format: "%.1f", r)
                  + " | \(formatRatio(t, cT)) | \(formatRatio(r, cR)) | \(formatRatio(t, pT)) | \(formatRatio(r, pR)) |")
        }
        if let s = Self.median(seconds["swift"] ?? []), let p = Self.median(seconds["python"] ?? []) {
            print("")
            print("SwiftBCC / Python: time \(formatRatio(s, p)), RSS \(formatRatio(Self.median(rss["swift"] ?? []), Self.median(rss["python"] ?? [])))")
            if let w = Self.median(seconds["swift-warm"] ?? []) {
                print("SwiftBCC warm / Python: time \(formatRatio(w, p)), RSS \(formatRatio(Self.median(rss["swift-warm"] ?? []), Self.median(rss["python"] ?? [])))")
            }
        }
        for (what, reason) in skipped { print("skipped: \(what): \(reason)") }
    }
}
