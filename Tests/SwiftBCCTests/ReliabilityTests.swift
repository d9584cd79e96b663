import Foundation
import Glibc
@testable import SwiftBCC
import Testing

extension Tag {
    /// The reliability suite (scripts/reliability runs it with larger counts): nothing left in
    /// the kernel after any exit, flat fds and memory over cycles and soaks.
    @Tag static var reliability: Self
}

/// What the kernel holds now that a tracer can leave behind: programs, maps, links, tracefs
/// probe events.
struct KernelSnapshot: Equatable {
    let programs: Set<UInt32>
    let maps: Set<UInt32>
    let links: Set<UInt32>
    let probeEvents: Set<String>

    static func take() -> KernelSnapshot {
        KernelSnapshot(programs: Set(KernelObjects.programs().map(\.id)), maps: KernelObjects.mapIDs(),
                       links: KernelObjects.linkIDs(), probeEvents: KernelObjects.probeEvents())
    }

    /// What `self` has that `before` had not.
    func added(since before: KernelSnapshot) -> KernelSnapshot {
        KernelSnapshot(programs: programs.subtracting(before.programs), maps: maps.subtracting(before.maps),
                       links: links.subtracting(before.links), probeEvents: probeEvents.subtracting(before.probeEvents))
    }

    var isEmpty: Bool { programs.isEmpty && maps.isEmpty && links.isEmpty && probeEvents.isEmpty }
}

/// The BPF programs, maps and links process `pid` holds fds of (its /proc/PID/fdinfo), as a
/// snapshot without probe events: what that process made, whatever other processes do meanwhile.
func heldObjects(pid: pid_t) -> KernelSnapshot {
    var progs = Set<UInt32>(), maps = Set<UInt32>(), links = Set<UInt32>()
    let dir = "/proc/\(pid)/fdinfo"
    for fd in FileIO.listDirectory(dir) {
        for line in (FileIO.read("\(dir)/\(fd)") ?? "").split(separator: "\n") {
            let parts = line.split(separator: ":", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            guard parts.count == 2, let id = UInt32(parts[1]) else { continue }
            switch parts[0] {
            case "prog_id": progs.insert(id)
            case "map_id": maps.insert(id)
            case "link_id": links.insert(id)
            default: break
            }
        }
    }
    return KernelSnapshot(programs: progs, maps: maps, links: links, probeEvents: [])
}

/// This process's resident memory (VmRSS) in bytes and its open fd count.
func residentBytes() -> Int {
    for line in (FileIO.read("/proc/self/status") ?? "").split(separator: "\n") where line.hasPrefix("VmRSS:") {
        return (Int(line.split(separator: " ").dropFirst().first ?? "") ?? 0) * 1024
    }
    return 0
}

/// This process's fds on BPF objects, perf events and memfds (what a cycle opens), by number.
func bpfRelatedFDs() -> Set<String> {
    Set(FileIO.listDirectory("/proc/self/fd").compactMap { fd in
        let target = FileIO.readLink("/proc/self/fd/" + fd) ?? ""
        return target.contains("bpf") || target.contains("perf_event") || target.contains("memfd") ? fd + " " + target : nil
    })
}

/// An environment number (scripts/reliability sets larger ones), else `default`.
func reliabilityCount(_ name: String, default value: Int) -> Int {
    ProcessInfo.processInfo.environment[name].flatMap(Int.init) ?? value
}

extension KernelSuite {
    @Suite("Reliability", .requiresBPF, .tags(.reliability))
    struct ReliabilityTests {
        enum Exit: String, CaseIterable, CustomTestStringConvertible {
            case duration, sigint, sigterm, sighup, sigkill
            var testDescription: String { rawValue }
            var signal: Int32? {
                switch self {
                case .duration: nil
                case .sigint: SIGINT
                case .sigterm: SIGTERM
                case .sighup: SIGHUP
                case .sigkill: SIGKILL
                }
            }
        }

        static let examples = ["HelloWorld", "HelloMap", "HelloTail", "BiteHist", "HelloBuffer", "HelloPerfOutput",
                               "HelloRingBuffer", "StrlenCount"]
        static let tools = ["execsnoop", "opensnoop", "exitsnoop", "killsnoop", "syncsnoop", "statsnoop", "syscount",
                            "tcplife", "tcpconnect", "gethostlatency", "bashreadline"]

        @Test("every example leaves no program, map, link or probe event behind, whatever ends it",
              arguments: examples, Exit.allCases)
        func nothingLeftBehind(example: String, exit: Exit) throws {
            try runAndCheck(example, exit: exit, args: exit == .duration ? ["--duration", "3"] : [])
        }

        @Test("every tool leaves no program, map, link or probe event behind, whatever signal ends it",
              arguments: tools, [Exit.sigint, .sigterm, .sighup, .sigkill])
        func toolsLeaveNothing(tool: String, exit: Exit) throws {
            // A tool tries attach paths first (a test kfunc program comes and goes): it is
            // attached once it prints its header, as the Python tools do.
            try runAndCheck(tool, exit: exit, args: [], attachedWhenOutput: true)
        }

        func runAndCheck(_ example: String, exit: Exit, args: [String], attachedWhenOutput: Bool = false) throws {
            TracePipeLock.acquire()
            let eventsBefore = KernelObjects.probeEvents()
            let child = try Child(try examplePath(example), args)
            defer { if child.process.isRunning { kill(child.process.processIdentifier, SIGKILL) } }
            let pid = child.process.processIdentifier
            // Attached once it holds a program (or it ended on its own); what it holds then is
            // what it made (other processes on the machine may load programs meanwhile).
            var made = KernelSnapshot(programs: [], maps: [], links: [], probeEvents: [])
            #expect(eventually(timeout: 60) {
                made = heldObjects(pid: pid)
                return (!made.programs.isEmpty && (!attachedWhenOutput || !child.stdout.isEmpty)) || !child.process.isRunning
            }, "\(example) loaded no program; stderr: \(child.stderr)")
            if let signal = exit.signal {
                try #require(child.process.isRunning, "\(example) ended before the signal; stderr: \(child.stderr)")
                usleep(200_000)
                made = heldObjects(pid: pid)
                kill(pid, signal)
            }
            let status = child.drive(timeout: 20, every: 0.1) { _ = getppid(); _ = geteuid() }
            if exit == .sigkill {
                #expect(status == SIGKILL && child.process.terminationReason == .uncaughtSignal)
            } else {
                #expect(status == 0, "\(example) after \(exit): stderr: \(child.stderr)")
            }
            #expect(!made.programs.isEmpty, "\(example) held no program")
            func leftover() -> KernelSnapshot {
                let now = KernelSnapshot.take()
                return KernelSnapshot(programs: made.programs.intersection(now.programs), maps: made.maps.intersection(now.maps),
                                      links: made.links.intersection(now.links),
                                      probeEvents: now.probeEvents.subtracting(eventsBefore).filter { $0.contains("_\(pid)") || $0.contains("bcc_\(pid)") })
            }
            // The kernel frees a killed process's objects as its fds are released: give it a moment.
            _ = eventually(timeout: 5) { leftover().isEmpty }
            let left = leftover()
            #expect(left.isEmpty, "\(example) after \(exit) left \(left)")
        }

        @Test("create/attach/detach/cleanup cycles keep fds and perf events flat and memory bounded")
        func cycles() throws {
            let n = reliabilityCount("SWIFTBCC_RELIABILITY_CYCLES", default: 25)
            let program = """
                BPF_HASH(counts, u32, u64);
                BPF_PERF_OUTPUT(events);
                int on_getppid(void *ctx) { u32 k = 0; counts.increment(k); return 0; }
                """
            func cycle() throws {
                let b = try BPF(text: program)
                try b.attachTracepoint(tp: "syscalls:sys_enter_getppid", fnName: "on_getppid")
                try b["events"].openPerfBuffer { _, _ in }
                _ = getppid()
                _ = try b["counts"].items()
                try b.detachTracepoint(tp: "syscalls:sys_enter_getppid")
                b.cleanup()
            }
            for _ in 0..<3 { try cycle() }  // warm up: libbcc's and LLVM's one-time allocations
            let before = heldObjects(pid: getpid())
            let fds = bpfRelatedFDs()
            let perfFDs = KernelObjects.openPerfEventFDs()
            let rss = residentBytes()
            for _ in 0..<n { try cycle() }
            let grown = residentBytes() - rss
            let after = bpfRelatedFDs()
            #expect(after.isSubset(of: fds), "fds opened by \(n) cycles and left open: \(after.subtracting(fds).sorted())")
            #expect(KernelObjects.openPerfEventFDs() == perfFDs)
            #expect(heldObjects(pid: getpid()).added(since: before).isEmpty)
            // Each cycle compiles with clang; what libbcc keeps per compile must not pile up.
            #expect(grown < 64 << 20, "RSS grew \(grown >> 20) MiB over \(n) cycles")
        }

        @Test("soaks: perf and ring buffer events are all accounted (received + lost == sent) with flat memory",
              arguments: ["perf", "ring"])
        func soak(kind: String) throws {
            if kind == "ring" { try #require(Probe.ringBuffers.ok, "\(Probe.ringBuffers.reason)") }
            let sent = reliabilityCount("SWIFTBCC_SOAK_EVENTS", default: 200_000)
            let src = EventSource()
            let program = kind == "perf" ? EventSource.perfProgram
                : EventSource.program(tables: "BPF_RINGBUF_OUTPUT_COUNTED(events, 64);",
                                      submit: "events.ringbuf_output_counted(&d, sizeof(d), 0);")
            let b = try BPF(text: program, cflags: src.cflags)
            defer { b.cleanup() }
            let events = try b["events"]
            var received = 0
            var lost: UInt64 = 0
            if kind == "perf" {
                try events.openPerfBuffer(pageCount: 64, lostCallback: { lost += $0 }) { _, _ in received += 1 }
            } else {
                try events.openRingBuffer { _ in received += 1 }
            }
            func drain() throws {
                if kind == "perf" { try b.perfBufferPoll(timeout: 0) } else { _ = try b.ringBufferPoll(timeout: 0) }
            }
            // Warm up, then measure memory over the rest.
            src.fire(1000)
            try drain()
            let rss = residentBytes()
            var fired = 1000
            while fired < sent {
                let batch = min(5000, sent - fired)
                src.fire(batch, from: fired % 0x00ff_ffff)
                fired += batch
                try drain()
            }
            let deadline = Date().addingTimeInterval(20)
            while Date() < deadline {
                try drain()
                if kind == "ring" { lost = try events.lostSamples() }
                if UInt64(received) + lost >= UInt64(sent) { break }
                usleep(10_000)
            }
            let grown = residentBytes() - rss
            #expect(UInt64(received) + lost == UInt64(sent), "\(kind): received \(received) + lost \(lost) != sent \(sent)")
            #expect(grown < 5 << 20, "\(kind): RSS grew \(grown >> 10) KiB over \(sent) events")
        }
    }
}
