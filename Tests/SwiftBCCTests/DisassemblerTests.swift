import Foundation
@testable import SwiftBCC
import Testing

/// The BPF disassembler against Python BCC's `bcc.disassembler`, from the same bytes and from
/// the same program text.
@Suite("Disassembler")
struct DisassemblerTests {
    /// Opcodes of Python's table whose text SwiftBCC prints as Python does.
    static let pythonOpcodes: [UInt8] = [
        0x04, 0x05, 0x07, 0x0c, 0x0f, 0x14, 0x15, 0x17, 0x1c, 0x1d, 0x1f, 0x20, 0x24, 0x25, 0x27, 0x28,
        0x2c, 0x2d, 0x2f, 0x30, 0x34, 0x35, 0x37, 0x38, 0x3c, 0x3d, 0x3f, 0x40, 0x44, 0x45, 0x47, 0x48,
        0x4c, 0x4d, 0x4f, 0x50, 0x54, 0x55, 0x57, 0x58, 0x5c, 0x5d, 0x5f, 0x61, 0x62, 0x63, 0x64, 0x65,
        0x67, 0x69, 0x6a, 0x6b, 0x6c, 0x6d, 0x6f, 0x71, 0x72, 0x73, 0x74, 0x75, 0x77, 0x79, 0x7a, 0x7b,
        0x7c, 0x7d, 0x7f, 0x85, 0x94, 0x95, 0x97, 0x9c, 0x9f, 0xa4, 0xa5, 0xa7, 0xac, 0xad, 0xaf, 0xb4,
        0xb5, 0xb7, 0xbc, 0xbd, 0xbf, 0xc4, 0xc5, 0xc7, 0xcc, 0xcd, 0xcf, 0xd5,
    ]

    static func bytes(_ op: UInt8, dst: UInt8, src: UInt8, off: Int16, imm: Int32) -> [UInt8] {
        let o = UInt16(bitPattern: off), i = UInt32(bitPattern: imm)
        return [op, dst | src << 4, UInt8(o & 0xff), UInt8(o >> 8),
                UInt8(i & 0xff), UInt8((i >> 8) & 0xff), UInt8((i >> 16) & 0xff), UInt8(i >> 24)]
    }

    /// Every opcode of Python's table with varied registers, offsets and immediates, and two
    /// 64-bit loads.
    static let program: [UInt8] = {
        var out: [UInt8] = []
        for (n, op) in pythonOpcodes.enumerated() {
            let imm: Int32 = op == 0x85 ? Int32(n % 93) : [0, 1, -28, 4096, Int32.min, Int32.max, -1][n % 7]
            let off: Int16 = [-8, 0, 14, -32768, 32767, 3][n % 6]
            out += bytes(op, dst: UInt8(n % 11), src: op == 0x85 ? 0 : UInt8((n * 3) % 11), off: off, imm: imm)
        }
        out += bytes(0x18, dst: 1, src: 1, off: 0, imm: 6) + bytes(0, dst: 0, src: 0, off: 0, imm: 0)
        out += bytes(0x18, dst: 2, src: 0, off: 0, imm: 0x1234_5678) + bytes(0, dst: 0, src: 0, off: 0, imm: 0x9a)
        out += bytes(0x95, dst: 0, src: 0, off: 0, imm: 0)
        return out
    }()

    static func hex(_ b: [UInt8]) -> String { b.map { String(format: "%02x", $0) }.joined() }

    /// Python's lines, with its numbering of a 64-bit load's upper word (one too high) fixed.
    static func python(_ bytes: [UInt8]) -> [String] {
        let out = runPython("""
            import sys
            from bcc.disassembler import disassemble_str
            print("\\n".join(disassemble_str(bytes.fromhex(sys.argv[1]))))
            """, args: [hex(bytes)])
        #expect(out.status == 0, "python: \(out.stderr)")
        return out.stdout.split(separator: "\n").map { line in
            guard line.hasSuffix("(64-bit upper word)"), let n = Int(line.prefix(4).trimmingSpaces) else { return String(line) }
            return Disassembler.pad(n - 1) + line.dropFirst(4)
        }
    }

    @Test("every opcode Python decodes prints as Python prints it", .requiresPythonBCC)
    func sameAsPythonFromBytes() {
        let expected = Self.python(Self.program)
        let got = Disassembler.disassembleStr(Self.program)
        #expect(got.count == expected.count)
        for (g, e) in zip(got, expected) { #expect(g == e) }
        #expect(got.contains("  92: (18) r1 = <map at fd #6>"))
        #expect(got.contains("  93:      (64-bit upper word)"))
        #expect(got.contains("  94: (18) r2 = 0x9a12345678"))
    }

    @Test("instructions Python gets wrong or cannot decode")
    func beyondPython() {
        func line(_ b: [UInt8]) -> String { Disassembler.disassembleStr(b).joined(separator: "\n") }
        #expect(line(Self.bytes(0xdb, dst: 1, src: 2, off: 0, imm: 0)) == "   0: (db) lock *(u64*)(r1 +0) += r2")
        #expect(line(Self.bytes(0xc3, dst: 1, src: 2, off: -4, imm: 0x01)) == "   0: (c3) r2 = atomic_fetch_add((u32*)(r1 -4), r2)")
        #expect(line(Self.bytes(0xdb, dst: 3, src: 4, off: 8, imm: 0xe1)) == "   0: (db) r4 = xchg((u64*)(r3 +8), r4)")
        #expect(line(Self.bytes(0xdb, dst: 3, src: 4, off: 8, imm: 0xf1)) == "   0: (db) r0 = cmpxchg((u64*)(r3 +8), r0, r4)")
        #expect(line(Self.bytes(0xdd, dst: 1, src: 2, off: 3, imm: 0)) == "   0: (dd) if r1 s<= r2 goto pc+3 <4>")
        #expect(line(Self.bytes(0x26, dst: 1, src: 0, off: -1, imm: 7)) == "   0: (26) if w1 > 7 goto pc-1 <0>")
        #expect(line(Self.bytes(0xdc, dst: 5, src: 0, off: 0, imm: 16)) == "   0: (dc) r5 = be16 r5")
        #expect(line(Self.bytes(0xd4, dst: 5, src: 0, off: 0, imm: 32)) == "   0: (d4) r5 = le32 r5")
        #expect(line(Self.bytes(0x87, dst: 2, src: 0, off: 0, imm: 0)) == "   0: (87) r2 = - (u64)r2")
        #expect(line(Self.bytes(0xbf, dst: 1, src: 2, off: 16, imm: 0)) == "   0: (bf) r1 = (s16)r2")
        #expect(line(Self.bytes(0x3f, dst: 1, src: 2, off: 1, imm: 0)) == "   0: (3f) r1 s/= r2")
        #expect(line(Self.bytes(0x85, dst: 0, src: 0, off: 0, imm: 130)) == "   0: (85) call bpf_ringbuf_output#130")
        #expect(line(Self.bytes(0x85, dst: 0, src: 0, off: 0, imm: 100_000)) == "   0: (85) call <unknown helper #100000>")
        #expect(line(Self.bytes(0x85, dst: 0, src: 1, off: 0, imm: -7)) == "   0: (85) call -7")
        #expect(line(Self.bytes(0x18, dst: 1, src: 0, off: 0, imm: -1) + Self.bytes(0, dst: 0, src: 0, off: 0, imm: 0))
                == "   0: (18) r1 = 0xffffffff\n   1:      (64-bit upper word)")
        #expect(line(Self.bytes(0x18, dst: 1, src: 0, off: 0, imm: 1)) == "   0: (18) r1 = <lddw without its upper word>")
        #expect(line(Self.bytes(0xfe, dst: 0, src: 0, off: 0, imm: 0)) == "   0: (fe) unknown <0xfe>")
        #expect(line(Self.bytes(0x95, dst: 0, src: 0, off: 0, imm: 0) + [1, 2, 3]) == "   0: (95) exit")
        #expect(Disassembler.disassembleProg("f", []) == "Disassemble of BPF program f:")
    }
}

extension KernelSuite {
    @Suite("Disassembler and table layouts on compiled programs", .requiresBPF, .requiresPythonBCC)
    struct CompiledDisassemblerTests {
        static let program = #"""
            struct key_t { u32 pid; char comm[16]; u64 ts; };
            struct inner_t { u16 port; unsigned long addr; };
            struct value_t { struct inner_t in; __int128 big; long l; long m; };
            BPF_HASH(counts, struct key_t, u64, 64);
            BPF_HASH(nested, u32, struct value_t, 8);
            BPF_PERCPU_ARRAY(per, u64, 4);
            BPF_HASH(big, unsigned __int128, u32);
            int hello(void *ctx) {
                struct key_t k = {};
                k.pid = bpf_get_current_pid_tgid() >> 32;
                bpf_get_current_comm(&k.comm, sizeof(k.comm));
                k.ts = bpf_ktime_get_ns();
                u64 zero = 0, *v = counts.lookup_or_try_init(&k, &zero);
                if (v) { (*v)++; }
                if (k.pid > 100) bpf_trace_printk("x %d\n", k.pid);
                return 0;
            }
            """#

        /// Python's output for the program, map fds replaced by `#`.
        static func python(_ body: String) -> String {
            let out = runPython("""
                import sys
                from bcc import BPF
                b = BPF(text=sys.argv[1])
                \(body)
                """, args: [program])
            #expect(out.status == 0, "python: \(out.stderr)")
            return out.stdout
        }

        static func withoutFDs(_ s: String) -> String {
            s.replacing(/fd #\d+/, with: "fd #").replacing(/FD \d+/, with: "FD ")
        }

        @Test("disassembleFunction prints what Python's disassemble_func prints")
        func disassembleFunction() throws {
            let expected = Self.python("print(b.disassemble_func('hello'))").split(separator: "\n").map { line in
                // Python numbers a 64-bit load's upper word one too high.
                guard line.hasSuffix("(64-bit upper word)"), let n = Int(line.prefix(4).trimmingSpaces) else { return String(line) }
                return Disassembler.pad(n - 1) + line.dropFirst(4)
            }
            let b = try BPF(text: Self.program)
            defer { b.cleanup() }
            let got = try b.disassembleFunction("hello").split(separator: "\n").map(String.init)
            #expect(got.first == "Disassemble of BPF program hello:")
            #expect(got.count == expected.count)
            #expect(got.contains { $0.contains("call bpf_get_current_comm#16") })
            for (g, e) in zip(got, expected) { #expect(Self.withoutFDs(g) == Self.withoutFDs(e)) }
            #expect(throws: BPFError.self) { try b.disassembleFunction("nope") }
        }

        @Test("decodeTable prints Python's decode_table layout, with and without sizes", arguments: ["counts", "per", "big"])
        func decodeTable(name: String) throws {
            let expected = Self.python("print(b.decode_table('\(name)'))\nprint(b.decode_table('\(name)', sizeinfo=True))")
            let b = try BPF(text: Self.program)
            defer { b.cleanup() }
            let got = try b.decodeTable(name) + "\n" + b.decodeTable(name, sizeInfo: true) + "\n"
            #expect(Self.withoutFDs(got) == Self.withoutFDs(expected))
            #expect(got.hasPrefix("Layout of BPF map \(name) (type "))
            #expect(got.contains("FD \(try b[name].fd),"))
        }

        @Test("decodeTable of nested structs: Python's text; with sizes, nested members have offsets (Python leaves them out)")
        func decodeNested() throws {
            let expected = Self.python("print(b.decode_table('nested'))")
            let b = try BPF(text: Self.program)
            defer { b.cleanup() }
            #expect(Self.withoutFDs(try b.decodeTable("nested") + "\n") == Self.withoutFDs(expected))
            let sized = try b.decodeTable("nested", sizeInfo: true)
            #expect(sized.contains("    [0 +16] struct {\n      [0 +2] unsigned short port;\n      [2 +6] char[6] __pad_1;\n      [8 +8] unsigned long long addr;\n    } in;"))
            #expect(sized.contains("    [16 +16] long long[2] big;"))
        }
    }
}
