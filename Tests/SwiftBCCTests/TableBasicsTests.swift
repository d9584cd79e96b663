import Glibc
@testable import SwiftBCC
import Testing

extension KernelSuite {
    @Suite("Table basics", .requiresBPF)
    struct TableBasicsTests {
        @Test("b[name] gives libbcc's layout, and raw bytes round-trip from user space")
        func rawHash() throws {
            let b = try BPF(text: """
                struct key_t { u32 a; u64 b; };
                BPF_HASH(counts, struct key_t, u64, 64);
                BPF_ARRAY(slots, u32, 4);
                """)
            defer { b.cleanup() }
            let t = try b["counts"]
            #expect(t.kind == .hash)
            #expect(t.keySize == 16)
            #expect(t.leafSize == 8)
            #expect(t.maxEntries == 64)
            #expect(t.keyDescription.contains("__pad"))
            #expect(b.tableNames == ["counts", "slots"])
            #expect(try b.table("slots").kind == .array)
            let key = [UInt8](repeating: 1, count: 16)
            #expect(try t.lookup(rawKey: key) == nil)
            try t.update(rawKey: key, rawValue: [7, 0, 0, 0, 0, 0, 0, 0])
            #expect(try t.lookup(rawKey: key) == [7, 0, 0, 0, 0, 0, 0, 0])
            #expect(try t.rawKeys() == [key])
            #expect(try t.delete(rawKey: key))
            #expect(try !t.delete(rawKey: key))
            #expect(throws: BPFError.self) { try t.lookup(rawKey: [1, 2]) }
            #expect {
                try b.table("nope")
            } throws: { error in
                error as? BPFError == .tableNotFound(name: "nope", available: ["counts", "slots"])
            }
            b.cleanup()
            #expect(throws: BPFError.closed) { try t.rawKeys() }
        }
    }
}
