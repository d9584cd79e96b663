import Foundation
import Glibc
@testable import SwiftBCC
import Testing

/// Integers as Python users pass them: stack ids of any integer type, 128-bit values as two halves.
@Suite("Numbers as Python passes them")
struct NumbersTests {
    @Test("__int128 indexes as two 64-bit halves, like Python's c_long * 2")
    func int128Halves() throws {
        let signed = TypeDescription.scalar(.int128)
        let v = signed.decode(leBytes(UInt64(5)) + leBytes(UInt64.max))
        #expect(v[0]?.int == 5 && v[1]?.int == -1)
        #expect(v[0]?.type == .scalar(.long))
        #expect(v.elements.map(\.int) == [5, -1])
        #expect(v[2] == nil)
        let unsigned = TypeDescription.scalar(.unsignedInt128)
        let u = unsigned.decode(leBytes(UInt64.max) + leBytes(UInt64(2)))
        #expect(u[0]?.uint == UInt64.max && u[1]?.uint == 2 && u[1]?.type == .scalar(.unsignedLong))
        #expect(try unsigned.encode([UInt64(9), 3]).bytes == leBytes(UInt64(9)) + leBytes(UInt64(3)))
        #expect(try signed.encode([Int64(-2), -1]).int == -2)
        #expect(throws: BPFError.self) { try signed.encode([Int64(1), 2, 3]) }
        #expect(try unsigned.encode(UInt64(7)).uint == 7)
        #expect("\(u)" == "c_ulong_Array_2(\(u.pythonValue))")
    }

    @Test("stack id normalisation: errors and their unsigned wraps are no ids")
    func stackIndex() {
        #expect(Table.stackIndex(Int32(3)) == 3)
        #expect(Table.stackIndex(UInt64(3)) == 3)
        #expect(Table.stackIndex(Int32(-14)) == nil)
        #expect(Table.stackIndex(UInt64(bitPattern: -14)) == nil)
        #expect(Table.stackIndex(UInt32(bitPattern: -14)) == nil)
        #expect(Table.stackIndex(Int64(Int32.max) + 1) == nil)
        #expect(Table.stackIndex(UInt8(200)) == 200)
    }
}

extension KernelSuite {
    @Suite("Stack ids of every integer type", .requiresBPF)
    struct StackIDTypesTests {
        @Test("walk takes UInt64, Int64, Int32, UInt32 and DynamicValue ids; a failed get_stackid walks as empty")
        func walkIntegerTypes() throws {
            // A one-entry stack map: the second, different stack collides and get_stackid fails with -EEXIST.
            let b = try BPF(text: getppidProgram(
                declarations: "BPF_STACK_TRACE(one, 1); BPF_ARRAY(ids, u64, 2); BPF_ARRAY(ids32, int, 2);",
                probe: """
                    s64 k = one.get_stackid(args, 0);
                    s64 u = one.get_stackid(args, BPF_F_USER_STACK);
                    u64 uk = k, uu = u;
                    int ik = k, iu = u;
                    ids.update(&(int){0}, &uk); ids.update(&(int){1}, &uu);
                    ids32.update(&(int){0}, &ik); ids32.update(&(int){1}, &iu);
                    """), cflags: ourPidFlag())
            defer { b.cleanup() }
            triggerGetppid()
            let ids = try b.arrayTable("ids", value: UInt64.self)
            let good = try #require(try ids[0]), bad = try #require(try ids[1])
            #expect(Int64(bitPattern: good) >= 0)
            #expect(Int64(bitPattern: bad) == -Int64(EEXIST), "the second get_stackid did not fail: \(bad)")
            let stacks = try b["one"]
            let frames = try stacks.walk(good)
            #expect(!frames.isEmpty)
            #expect(try stacks.walk(Int64(bitPattern: good)) == frames)
            #expect(try stacks.walk(Int32(truncatingIfNeeded: good)) == frames)
            #expect(try stacks.walk(UInt32(truncatingIfNeeded: good)) == frames)
            #expect(try stacks.walk(b["ids32"][0]!) == frames)
            #expect(try stacks.walk(b["ids"][0]!) == frames)
            #expect(try stacks.walk(bad).isEmpty)
            #expect(try stacks.walk(Int64(bitPattern: bad)).isEmpty)
            #expect(try stacks.walk(UInt32(truncatingIfNeeded: bad)).isEmpty)
            #expect(try stacks.walk(b["ids32"][1]!).isEmpty)
            #expect(try stacks.walk(b["ids"][1]!).isEmpty)
            #expect(try stacks.walk(good, resolve: { b.ksym($0) }) == frames.map { b.ksym($0) })
        }

        @Test("a 128-bit key goes in as two halves and comes out indexable")
        func int128Key() throws {
            let b = try BPF(text: "BPF_HASH(big, unsigned __int128, u32);")
            defer { b.cleanup() }
            let big = try b["big"]
            try big.update([UInt64(5), 7], UInt32(1))
            let key = try #require(try big.keys().first)
            #expect(key[0]?.uint == 5 && key[1]?.uint == 7)
            #expect(try big[key]?.uint == 1)
            #expect(try big.lookup([UInt64(5), 7])?.uint == 1)
        }
    }
}
