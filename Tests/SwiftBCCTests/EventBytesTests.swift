import Glibc
@testable import SwiftBCC
import Testing

/// Reading event bytes and computing poll deadlines, without the kernel.
@Suite("Event bytes and deadlines")
struct EventBytesTests {
    @Test("cString(fromByteOffset:count:) stops at the NUL and the event's end; negative arguments are typed errors")
    func cStringField() throws {
        let bytes: [UInt8] = [0x41, 0x42, 0, 0x43, 0x44, 0x45]
        try bytes.withUnsafeBytes { (data) throws in
            #expect(try data.cString(fromByteOffset: 0, count: 6) == "AB")
            #expect(try data.cString(fromByteOffset: 3, count: 16) == "CDE", "a field cut off by the event's end")
            #expect(try data.cString(fromByteOffset: 3, count: 2) == "CD")
            #expect(try data.cString(fromByteOffset: 9, count: 4) == "", "a field past the event's end is absent")
            #expect(try data.cString(fromByteOffset: 3, count: 0) == "")
            #expect(throws: BPFError.invalidArgument("cString(fromByteOffset: 0, count: -1): the offset and the count of "
                + "a char[] field cannot be negative; pass the field's offset and its array size.")) {
                try data.cString(fromByteOffset: 0, count: -1)
            }
            #expect(throws: BPFError.self) { try data.cString(fromByteOffset: -1, count: 4) }
        }
        #expect(cString((UInt8(0x68), UInt8(0x69), UInt8(0), UInt8(0x78))) == "hi")
    }

    @Test("Poll deadlines: negative and unaddable timeouts wait forever; poll(2) gets at most Int32.max ms")
    func deadlines() {
        let now = Interrupts.monotonicMs()
        #expect(Interrupts.deadline(afterMs: -1) == Int64.max)
        #expect(Interrupts.deadline(afterMs: Int.max) == Int64.max)
        #expect(Interrupts.pollTimeout(until: Int64.max) == -1)
        let inAMonth = Interrupts.deadline(afterMs: 30 * 24 * 3600 * 1000)
        #expect(inAMonth >= now + 30 * 24 * 3600 * 1000)
        #expect(Interrupts.pollTimeout(until: inAMonth) == Int32.max)
        #expect(Interrupts.pollTimeout(until: now - 5) == 0)
        let soon = Interrupts.pollTimeout(until: Interrupts.deadline(afterMs: 500))
        #expect(soon > 0 && soon <= 500)
    }
}
