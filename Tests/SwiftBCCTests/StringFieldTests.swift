import Foundation
import Glibc
@testable import SwiftBCC
import Testing

/// A typed value with a `char text[12]` member.
struct Message: BitwiseCopyable {
    var text: InlineArray<12, CChar>
}

@Suite("Strings into char[N], typed")
struct TypedCharArrayTests {
    @Test("InlineArray(cString:) zero-pads, throws naming N, or truncates as strncpy when asked")
    func inlineArray() throws {
        let a = try InlineArray<12, CChar>(cString: "Hey root!")
        #expect(cString(a) == "Hey root!")
        #expect((0..<12).map { a[$0] } == Array("Hey root!".utf8).map { CChar(bitPattern: $0) } + [0, 0, 0])
        #expect {
            try InlineArray<4, CChar>(cString: "Hey root!")
        } throws: { error in
            "\(error)" == "Cannot encode the Swift value as char[4]: \"Hey root!\" is 9 bytes, more than 4; pass at most 4 bytes, "
                + "or truncating: true to keep the first 4 as C's strncpy would."
        }
        let cut = try InlineArray<4, CChar>(cString: "Hey root!", truncating: true)
        #expect((0..<4).map { cut[$0] } == Array("Hey ".utf8).map { CChar(bitPattern: $0) })
        let exact = try InlineArray<4, UInt8>(cString: "abcd")
        #expect((0..<4).map { exact[$0] } == Array("abcd".utf8))
        #expect(try InlineArray<3, UInt8>(cString: "").count == 3)
    }
}

extension KernelSuite {
    @Suite("Strings into char[N] fields", .requiresBPF)
    struct StringFieldTests {
        static let program = """
            struct msg_t { char text[12]; };
            struct entry_t { u32 pid; char comm[8]; u64 ts; };
            BPF_HASH(msgs, u32, struct msg_t);
            BPF_HASH(entries, u32, struct entry_t);
            BPF_ARRAY(echo, struct msg_t, 1);
            TRACEPOINT_PROBE(syscalls, sys_enter_getppid) {
                if ((bpf_get_current_pid_tgid() >> 32) != TARGET) return 0;
                u32 k = 1;
                int zero = 0;
                struct msg_t *m = msgs.lookup(&k);
                if (m) echo.update(&zero, m);
                return 0;
            }
            """

        struct Entry: Encodable { let pid: UInt32; let comm: String; let ts: UInt64 }
        struct CutEntry: Encodable { let pid: UInt32; let comm: TruncatingString }

        @Test("a String into a struct with one char[12] member, read back by the BPF program; too long names the member and N")
        func dynamicString() throws {
            let b = try BPF(text: Self.program, cflags: ourPidFlag())
            defer { b.cleanup() }
            let msgs = try b["msgs"]
            try msgs.update(UInt32(1), "Hey root!")
            #expect(try msgs[UInt32(1)]?.bytes == Array("Hey root!".utf8) + [0, 0, 0])
            triggerGetppid()
            #expect(try b["echo"][0]?["text"]?.string == "Hey root!")
            #expect {
                try msgs.update(UInt32(2), "Hey root, this is long")
            } throws: { error in
                "\(error)" == "Cannot encode the Swift value as struct msg_t: member text (char[12]): \"Hey root, this is long\" is 22 "
                    + "bytes, more than the 12 of char[12]; pass at most 12 bytes, or TruncatingString(...) to keep the first 12 as C's strncpy would."
            }
            #expect(try msgs[UInt32(2)] == nil)
            try msgs.update(UInt32(2), TruncatingString("Hey root, this is long"))
            #expect(try msgs[UInt32(2)]?.bytes == Array("Hey root, th".utf8))
            try msgs.update(UInt32(3), [UInt8]([0x48, 0xff, 0x00, 0x41]))
            #expect(try msgs[UInt32(3)]?.bytes == [0x48, 0xff, 0, 0x41] + [UInt8](repeating: 0, count: 8))
            #expect(throws: BPFError.self) { try msgs.update(UInt32(4), [UInt8](repeating: 1, count: 13)) }
            try msgs.update(UInt32(4), "exactly 12 b")
            #expect(try msgs[UInt32(4)]?.bytes == Array("exactly 12 b".utf8))
        }

        @Test("an Encodable struct's String member into its char[8] field, zero-padded; TruncatingString cuts")
        func encodableString() throws {
            let b = try BPF(text: Self.program, cflags: ourPidFlag())
            defer { b.cleanup() }
            let entries = try b["entries"]
            try entries.update(UInt32(1), Entry(pid: 7, comm: "bash", ts: 9))
            let v = try #require(try entries[UInt32(1)])
            #expect(v["comm"]?.bytes == Array("bash".utf8) + [0, 0, 0, 0])
            #expect(v["pid"]?.uint == 7 && v["ts"]?.uint == 9)
            #expect {
                try entries.update(UInt32(2), Entry(pid: 7, comm: "a-long-command", ts: 9))
            } throws: { error in
                "\(error)".hasPrefix("Cannot encode the Swift value as struct entry_t: member comm (char[8]): \"a-long-command\" is 14 bytes, more than the 8")
            }
            try entries.update(UInt32(2), CutEntry(pid: 8, comm: "a-long-command"))
            #expect(try entries[UInt32(2)]?["comm"]?.bytes == Array("a-long-c".utf8))
            #expect(try entries[UInt32(2)]?["ts"]?.uint == 0)
        }

        @Test("typed: InlineArray(cString:) in a typed value, through the kernel and back")
        func typedString() throws {
            let b = try BPF(text: Self.program, cflags: ourPidFlag())
            defer { b.cleanup() }
            let msgs = try b.hashTable("msgs", key: UInt32.self, value: Message.self)
            try msgs.update(1, Message(text: try InlineArray(cString: "Hey root!")))
            triggerGetppid()
            #expect(try b["echo"][0]?["text"]?.string == "Hey root!")
            #expect(cString(try #require(try msgs[1]).text) == "Hey root!")
        }
    }
}
