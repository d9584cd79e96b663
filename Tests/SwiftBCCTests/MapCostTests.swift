import Foundation
import Glibc
@testable import SwiftBCC
import Testing

extension KernelSuite {
    /// Typed map operations must not allocate per operation: counted with uprobes on malloc and
    /// swift_slowAlloc on this thread (the `CallCounter` of EventPathCostTests) around 0 and
    /// then N typed lookups, updates and deletes; whole-table reads and batch calls allocate a
    /// bounded number of times however many entries they move.
    @Suite("Map cost", .requiresBPF, .requiresUprobes)
    struct MapCostTests {
        static let counted: [(library: String, symbol: String)] = [
            ("c", "malloc"), ("/opt/swift/usr/lib/swift/linux/libswiftCore.so", "swift_slowAlloc"),
        ]

        struct TwoKey: BitwiseCopyable { var a: UInt64; var b: UInt64 }
        struct PaddedKey: BitwiseCopyable, Equatable {
            var pid: UInt32
            var slot: UInt64
        }

        static let program = """
            struct padded_t { u32 pid; u64 slot; };
            BPF_HASH(map, u64, u64, 4096);
            BPF_HASH(padded, struct padded_t, u64, 4096);
            struct two_t { u64 a; u64 b; };
            BPF_HASH(two, struct two_t, u64, 4096);
            BPF_ARRAY(arr, u64, 4096);
            """

        /// Calls counted around `body(n)` for n = 0 and n = `n`.
        func counts(_ counter: CallCounter, n: Int, _ body: (Int) throws -> Void) throws -> (base: [UInt64], busy: [UInt64]) {
            try body(1)  // warm up: lazily created state (metadata, the table cache) is not per operation
            let base = try counter.measure { try body(0) }
            let busy = try counter.measure { try body(n) }
            return (base, busy)
        }

        @Test("Typed lookup, update and delete (hash with a u64 key, a 16-byte struct key, a padded struct key; array) allocate nothing per operation")
        func singleOps() throws {
            let b = try BPF(text: Self.program)
            defer { b.cleanup() }
            let map = try b.hashTable("map", key: UInt64.self, value: UInt64.self)
            let padded = try b.hashTable("padded", key: PaddedKey.self, value: UInt64.self)
            let arr = try b.arrayTable("arr", value: UInt64.self)
            let two = try b.hashTable("two", key: TwoKey.self, value: UInt64.self)
            let counter = try CallCounter(thread: currentTid(), symbols: Self.counted)
            let n = 1000
            var sum: UInt64 = 0
            let cases: [(String, (Int) throws -> Void)] = [
                ("hash update", { k in for i in 0..<k { try map.update(UInt64(i), UInt64(i) * 2) } }),
                ("hash lookup", { k in for i in 0..<k { sum &+= try map.lookup(UInt64(i)) ?? 0 } }),
                ("hash delete", { k in for i in 0..<k { _ = try map.delete(UInt64(i)) } }),
                ("padded-key update", { k in for i in 0..<k { try padded.update(PaddedKey(pid: 7, slot: UInt64(i)), 1) } }),
                ("padded-key lookup", { k in for i in 0..<k { sum &+= try padded.lookup(PaddedKey(pid: 7, slot: UInt64(i))) ?? 0 } }),
                ("padded-key delete", { k in for i in 0..<k { _ = try padded.delete(PaddedKey(pid: 7, slot: UInt64(i))) } }),
                ("two-key update", { k in for i in 0..<k { try two.update(TwoKey(a: 7, b: UInt64(i)), 1) } }),
                ("array update", { k in for i in 0..<k { try arr.update(i, UInt64(i)) } }),
                ("array lookup", { k in for i in 0..<k { sum &+= try arr.lookup(i) ?? 0 } }),
            ]
            for (name, body) in cases {
                let (base, busy) = try counts(counter, n: n, body)
                #expect(busy == base, "\(name): malloc, swift_slowAlloc: \(base) for 0 operations, \(busy) for \(n)")
            }
            #expect(sum > 0, "the lookups found the values")
            // What the padded key reached the kernel as: padding zeroed, so the dynamic view finds it.
            try padded.update(PaddedKey(pid: 9, slot: 3), 42)
            let raw: [UInt8] = [9, 0, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0, 0, 0, 0, 0]
            #expect(try b["padded"].lookup(rawKey: raw) == [42, 0, 0, 0, 0, 0, 0, 0])
        }

        @Test("Control: the dynamic Table lookup is seen allocating per operation")
        func control() throws {
            let b = try BPF(text: Self.program)
            defer { b.cleanup() }
            let table = try b["map"]
            let counter = try CallCounter(thread: currentTid(), symbols: Self.counted)
            let n = 200
            let (base, busy) = try counts(counter, n: n) { k in for i in 0..<k { _ = try table.lookup(UInt64(i)) } }
            #expect(busy[0] + busy[1] >= base[0] + base[1] + UInt64(n), "\(base) for 0 operations, \(busy) for \(n)")
        }

        @Test("Typed items(), batch dump, batch update and batch delete allocate a bounded number of times for 10 or 3000 entries")
        func wholeTable() throws {
            let b = try BPF(text: Self.program)
            defer { b.cleanup() }
            let map = try b.hashTable("map", key: UInt64.self, value: UInt64.self)
            let counter = try CallCounter(thread: currentTid(), symbols: Self.counted)
            func prepared(_ n: Int) -> ([UInt64], [UInt64]) { ((0..<UInt64(n)).map { $0 }, (0..<UInt64(n)).map { $0 * 3 }) }
            let small = prepared(10), large = prepared(3000)
            func batchUpdate(_ kv: ([UInt64], [UInt64])) throws -> [UInt64] {
                try map.clear()
                return try counter.measure { try map.itemsUpdateBatch(keys: kv.0, values: kv.1) }
            }
            func items(_ kv: ([UInt64], [UInt64])) throws -> [UInt64] {
                try map.clear()
                try map.itemsUpdateBatch(keys: kv.0, values: kv.1)
                var got: [(key: UInt64, value: UInt64)] = []
                let c = try counter.measure { got = try map.items() }
                #expect(got.count == kv.0.count && got.allSatisfy { $0.value == $0.key * 3 })
                return c
            }
            func batchDelete(_ kv: ([UInt64], [UInt64])) throws -> [UInt64] {
                try map.clear()
                try map.itemsUpdateBatch(keys: kv.0, values: kv.1)
                let c = try counter.measure { try map.itemsDeleteBatch(keys: kv.0) }
                #expect(try map.count == 0)
                return c
            }
            let ops: [(String, (([UInt64], [UInt64])) throws -> [UInt64])] =
                [("batch update", batchUpdate), ("items()", items), ("batch delete", batchDelete)]
            for (name, op) in ops {
                _ = try op(small)
                let few = try op(small), many = try op(large)
                let growth = zip(few, many).map { Int($1) - Int($0) }
                #expect(growth.allSatisfy { $0 <= 4 }, "\(name): malloc, swift_slowAlloc: \(few) for 10 entries, \(many) for 3000")
            }
        }
    }
}
