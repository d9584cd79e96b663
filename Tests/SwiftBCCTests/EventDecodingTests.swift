import Foundation
import Glibc
@testable import SwiftBCC
import Testing

/// The test event by field name (a `Decodable` view of `data_t`).
struct DecodedEvent: Decodable, Sendable, Equatable {
    let tgid: UInt32
    let seq: Int
    let comm: String
}

extension KernelSuite {
    @Suite("Event decoding", .requiresBPF)
    struct EventDecodingTests {
        func poll(_ b: BPF, ring: Bool = false, until done: () -> Bool) throws {
            let deadline = Date().addingTimeInterval(10)
            while !done() && Date() < deadline {
                if ring { try b.ringBufferPoll(timeout: 100) } else { try b.perfBufferPoll(timeout: 100) }
            }
        }

        @Test("table.event(data) gives the fields by name and prints like Python; Decodable by field name")
        func dynamicPerf() throws {
            let src = EventSource()
            let b = try BPF(text: EventSource.perfProgram, cflags: src.cflags)
            defer { b.cleanup() }
            let events = try b["events"]
            var records: [DynamicValue] = []
            var decoded: [DecodedEvent] = []
            try events.openPerfBuffer { _, data in
                records.append(try events.event(data))
                decoded.append(try events.event(data, decoding: DecodedEvent.self))
            }
            src.fire(3)
            try poll(b) { records.count >= 3 }
            let comm = currentThreadComm()
            #expect(records.compactMap { $0["seq"]?.int }.sorted() == [0, 1, 2])
            #expect(records.allSatisfy { $0["tgid"]?.uint == UInt64(getpid()) && $0["comm"]?.string == comm })
            let first = try #require(records.first { $0["seq"]?.int == 0 })
            let ts = try #require(first["ts"]?.uint)
            #expect("\(first)" == "events(tgid=\(getpid()), seq=0, ts=\(ts), comm=b'\(comm)')")
            #expect("\(first["comm"]!)" == "b'\(comm)'")
            #expect(decoded.sorted { $0.seq < $1.seq } == (0..<3).map { DecodedEvent(tgid: UInt32(getpid()), seq: $0, comm: comm) })
            #expect(try events.eventFieldList() == ["tgid#u32", "seq#s32", "ts#u64", "comm#char[16]"])
        }

        @Test("Ring buffer events decode by field name too, in the callback and as a stream")
        func dynamicRing() async throws {
            try #require(Probe.ringBuffers.ok, "\(Probe.ringBuffers.reason)")
            let src = EventSource()
            let b = try BPF(text: EventSource.ringProgram, cflags: src.cflags)
            defer { b.cleanup() }
            let events = try b["events"]
            let seqs = try await withDeadline {
                let stream = events.events(decoding: DecodedEvent.self)
                src.fire(5)
                var seqs: [Int] = []
                for try await e in stream {
                    if let v = e.value { seqs.append(v.seq) }
                    if seqs.count == 5 { break }
                }
                return seqs
            }
            #expect(seqs == [0, 1, 2, 3, 4])
            let records = try await withDeadline {
                let stream = events.events(decoding: DynamicValue.self)
                src.fire(2, from: 10)
                var records: [DynamicValue] = []
                for try await e in stream {
                    if let v = e.value { records.append(v) }
                    if records.count == 2 { break }
                }
                return records
            }
            #expect(records.compactMap { $0["seq"]?.int } == [10, 11])
        }

        @Test("Field types libbcc leaves as typedefs are sized and decoded at C's offsets")
        func fieldTypes() throws {
            let src = EventSource()
            let b = try BPF(text: """
                struct odd_t { pid_t pid; uid_t uid; size_t sz; bool b; char two[2][3]; u16 arr2[2]; float f;
                               u8 *p; long l; s64 neg; __u32 k; uint32_t u3; unsigned __int128 big; };
                BPF_PERF_OUTPUT(events);
                TRACEPOINT_PROBE(syscalls, sys_enter_getpgid) {
                    if ((bpf_get_current_pid_tgid() >> 32) != TGID || args->pid != BASE) return 0;
                    struct odd_t d = {};
                    d.pid = -5; d.uid = 7; d.sz = 1ULL << 40; d.b = 1; d.two[1][2] = 'x'; d.arr2[1] = 0xBEEF;
                    d.p = (u8 *)0x1234; d.l = -9; d.neg = -1; d.k = 42; d.u3 = 43; d.big = 99;
                    events.perf_submit(args, &d, sizeof(d));
                    return 0;
                }
                """, cflags: src.cflags)
            defer { b.cleanup() }
            let events = try b["events"]
            let type = try #require(try events.eventType())
            #expect(type.size == 80, "\(type.layout)")
            var record: DynamicValue?
            var size = 0
            try events.openPerfBuffer { _, data in
                record = try events.event(data)
                size = data.count
            }
            src.fire(1)
            try poll(b) { record != nil }
            let r = try #require(record)
            #expect(size >= 80)
            #expect(r["pid"]?.int == -5)
            #expect(r["uid"]?.uint == 7)
            #expect(r["sz"]?.uint == 1 << 40)
            #expect(r["b"]?.bool == true)
            #expect(r["two"]?[1]?.string == "\0\0x" || r["two"]?[1]?[2]?.description == "b'x'")
            #expect(r["arr2"]?[1]?.uint == 0xBEEF)
            #expect(r["f"]?.double == 0)
            #expect(r["p"]?.uint == 0x1234)
            #expect(r["l"]?.int == -9)
            #expect(r["neg"]?.int == -1)
            #expect(r["k"]?.uint == 42)
            #expect(r["u3"]?.uint == 43)
            #expect(r["big"]?.description == "99")
        }

        @Test("Event fields decode and print as Python's event class (s8 is c_char: bytes)", .requiresPythonBCC)
        func pythonParity() throws {
            let program = """
                enum state { IDLE, BUSY };
                struct ev { s8 c; u8 b; s16 h; u16 uh; int i; u32 u; s64 l; u64 ul; s8 name[5]; char comm[6];
                            enum state st; long sl; unsigned long long ull; };
                BPF_PERF_OUTPUT(events);
                int f(void *ctx) { struct ev x = {}; events.perf_submit(ctx, &x, sizeof(x)); return 0; }
                """
            let b = try BPF(text: program)
            defer { b.cleanup() }
            let type = try #require(try b["events"].eventType())
            // Every byte different, high bits set in some, NULs inside the char arrays.
            var bytes = (0..<type.size).map { UInt8(truncatingIfNeeded: $0 &* 73 &+ 0x91) }
            let name = try #require(type.fields.first { $0.name == "name" })
            bytes[name.offset + 2] = 0
            let swift = ["\(type.size)"] + type.decode(bytes).fields.map { "\($0.name) \($0.value)" }
            let python = runPython("""
                import sys, ctypes as ct
                from bcc import BPF
                import bcc.table
                b = BPF(text=sys.argv[1])
                cls = bcc.table._get_event_class(b["events"])
                data = bytes.fromhex(sys.argv[2])
                print(ct.sizeof(cls))
                e = ct.cast(ct.create_string_buffer(data, len(data)), ct.POINTER(cls)).contents
                for name, _ in cls._fields_:
                    print(name, repr(getattr(e, name)))
                """, args: [program, bytes.map { String(format: "%02x", $0) }.joined()])
            try #require(python.status == 0, "\(python.stderr)")
            #expect(swift == python.stdout.split(separator: "\n").map(String.init))
            #expect(swift.contains { $0.hasPrefix("c b'") }, "s8 prints as bytes: \(swift)")
        }

        @Test("A nested struct field cannot be sized from libbcc's field list: a clear error pointing to loadEvent(as:)")
        func nestedStruct() throws {
            let b = try BPF(text: """
                struct inner { int a; };
                struct outer { u32 x; struct inner in; };
                BPF_PERF_OUTPUT(events);
                int f(void *ctx) { struct outer o = {}; events.perf_submit(ctx, &o, sizeof(o)); return 0; }
                """)
            defer { b.cleanup() }
            #expect(throws: BPFError.unsupportedEventField(table: "events", field: "in", type: "struct inner")) {
                try b["events"].eventType()
            }
            // The typed path still works: the C layout is unknown, so only each event's size is checked.
            try b["events"].openPerfBuffer(of: UInt64.self) { _, _ in }
        }

        @Test("A table the program submits no struct through has no event type; event(data) says so")
        func noStruct() throws {
            let b = try BPF(text: """
                BPF_PERF_OUTPUT(events);
                int f(void *ctx) { u64 v = 1; events.perf_submit(ctx, &v, sizeof(v)); return 0; }
                """)
            defer { b.cleanup() }
            #expect(try b["events"].eventType() == nil)
            #expect(try b["events"].eventFieldList().isEmpty)
            let bytes: [UInt8] = [1, 0, 0, 0, 0, 0, 0, 0]
            #expect(throws: BPFError.self) { try bytes.withUnsafeBytes { try b["events"].event($0) } }
            // Typed decoding needs no struct description.
            try b["events"].openPerfBuffer(of: UInt64.self) { _, _ in }
        }
    }
}
