import Foundation
import Glibc
@testable import SwiftBCC
import Testing

/// Counted ring buffers: drops of a full ring are counted and read with `lostSamples()`.
@Suite("Counted ring buffers: the rewrite")
struct CountedRingRewriteTests {
    @Test("the counted forms become plain BCC C on the same lines")
    func rewrite() {
        let text = """
            BPF_RINGBUF_OUTPUT_COUNTED(events, 4);
            int f(void *ctx) { struct data_t d = {}; events.ringbuf_output_counted(&d, sizeof(d), 0);
              struct data_t *p = events.ringbuf_reserve_counted(sizeof(struct data_t)); return 0; }
            """
        let out = CountedRingBuffers.rewrite(text)
        #expect(out.split(separator: "\n").count == 3)
        #expect(out.hasPrefix("BPF_RINGBUF_OUTPUT(events, 4); BPF_PERCPU_ARRAY(events__lost, u64, 1);"))
        #expect(out.contains("events.ringbuf_output(&d, sizeof(d), 0)"))
        #expect(out.contains("events.ringbuf_reserve(sizeof(struct data_t))"))
        #expect(out.components(separatedBy: "events__lost.lookup(").count == 3)
        #expect(!out.contains("_counted"))
        #expect(CountedRingBuffers.rewrite("int f(void *c) { return 0; }") == "int f(void *c) { return 0; }")
    }
}

extension KernelSuite {
    @Suite("Counted ring buffers", .requiresRingBuffers)
    struct RingBufferLossTests {
        static func program(submit: String) -> String {
            EventSource.program(tables: "BPF_RINGBUF_OUTPUT_COUNTED(events, 1);", submit: submit)
        }

        @Test("a full ring's drops are counted: received + lostSamples == sent, for output and reserve",
              arguments: ["events.ringbuf_output_counted(&d, sizeof(d), 0);",
                          "struct data_t *p = events.ringbuf_reserve_counted(sizeof(struct data_t)); if (p) { *p = d; events.ringbuf_submit(p, 0); }"])
        func dropsCounted(submit: String) throws {
            let src = EventSource()
            let b = try BPF(text: Self.program(submit: submit), cflags: src.cflags)
            defer { b.cleanup() }
            let events = try b["events"]
            #expect(try events.lostSamples() == 0)
            // One 4 KiB page holds about a hundred 40-byte samples: most of 500 are dropped.
            let sent = 500
            src.fire(sent)
            var received = 0
            try events.openRingBuffer { _ in received += 1 }
            let deadline = Date().addingTimeInterval(10)
            while Date() < deadline {
                if try b.ringBufferPoll(timeout: 50) == 0 && received > 0 { break }
            }
            let lost = try events.lostSamples()
            #expect(received > 0 && lost > 0, "received \(received), lost \(lost)")
            #expect(UInt64(received) + lost == UInt64(sent), "received \(received) + lost \(lost) != sent \(sent)")
        }

        @Test("lostSamples on a ring that does not count says how to declare one; a compile error keeps its line")
        func notCounted() throws {
            let src = EventSource()
            let b = try BPF(text: EventSource.ringProgram, cflags: src.cflags)
            defer { b.cleanup() }
            #expect {
                _ = try b["events"].lostSamples()
            } throws: { error in
                guard case let .invalidArgument(message)? = error as? BPFError else { return false }
                return message.contains("BPF_RINGBUF_OUTPUT_COUNTED(events, pages)")
            }
            #expect {
                try BPF(text: "BPF_RINGBUF_OUTPUT_COUNTED(events, 1);\nint f(void *ctx) {\n  return no_such_var;\n}")
            } throws: { error in
                guard case let .compileFailed(_, diagnostics)? = error as? BPFError else { return false }
                return diagnostics.contains(":3:10: error: use of undeclared identifier 'no_such_var'")
            }
        }
    }
}
