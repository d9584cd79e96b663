import Foundation
import Glibc
@testable import SwiftBCC
import Testing

/// Type descriptions and dynamic values without the kernel.
@Suite("Type descriptions")
struct TypeDescriptionTests {
    // What libbcc 0.26 gives for `struct two { u8 a; u64 b; u8 c; }`.
    static let padded = #"["two", [["a","unsigned char"], ["__pad_1","char",[7]], ["b","unsigned long long"], ["c","unsigned char"], ["__pad_end","char",[7]] ], "struct_packed"]"#

    @Test("libbcc's padded struct: __pad_N fields give the offsets, size and alignment")
    func paddedStruct() throws {
        let t = try TypeDescription(json: Self.padded)
        #expect(t.size == 24)
        #expect(t.alignment == 8)
        #expect(t.fields.map(\.name) == ["a", "__pad_1", "b", "c", "__pad_end"])
        #expect(t.fields.map(\.offset) == [0, 1, 8, 16, 17])
        #expect(t.fields[1].isPadding && !t.fields[2].isPadding)
        #expect(t.description == "struct two { unsigned char a; char __pad_1[7]; unsigned long long b; unsigned char c; char __pad_end[7]; }")
        #expect(t.layout.contains("offset 8: unsigned long long b (8 bytes)"))
        #expect(t.layout.contains("char __pad_1[7]"))
        var bytes = [UInt8](repeating: 0xee, count: 24)
        bytes[0] = 1
        for i in 0..<8 { bytes[8 + i] = UInt8(i + 1) }
        bytes[16] = 200
        let v = t.decode(bytes)
        #expect(v["a"]?.int == 1)
        #expect(v["b"]?.uint == 0x0807060504030201)
        #expect(v["c"]?.uint == 200)
        #expect(v.fields.map(\.name) == ["a", "b", "c"])
        #expect("\(v)" == "two(a=1, b=578437695752307201, c=200)")
    }

    @Test("a struct with bitfields is laid out with C's rules")
    func bitfields() throws {
        // struct bf { u8 a; unsigned int x:3, y:30; int z:4; u16 w; }: x at bit 0 of the int at 0
        // (a takes byte 0, so x starts at bit 8), y does not fit the rest of that int: next int.
        let t = try TypeDescription(json: #"["bf", [["a","unsigned char"], ["x","unsigned int", 3], ["y","unsigned int", 30], ["z","int", 4], ["w","unsigned short"]], "struct"]"#)
        let f = Dictionary(uniqueKeysWithValues: t.fields.map { ($0.name, $0) })
        #expect(f["x"]?.offset == 0 && f["x"]?.bitOffset == 8 && f["x"]?.bitWidth == 3)
        #expect(f["y"]?.offset == 4 && f["y"]?.bitOffset == 0)
        #expect(f["z"]?.offset == 8 && f["z"]?.bitOffset == 0)
        #expect(f["w"]?.offset == 10)
        #expect(t.size == 12 && t.alignment == 4)
        var bytes = [UInt8](repeating: 0, count: 12)
        bytes[1] = 0b101                 // x = 5
        bytes[4] = 0xff; bytes[5] = 0xff; bytes[6] = 0xff; bytes[7] = 0x3f  // y = 2^30 - 1
        bytes[8] = 0b1101                // z = -3 (4-bit two's complement)
        let v = t.decode(bytes)
        #expect(v["x"]?.uint == 5)
        #expect(v["y"]?.uint == (1 << 30) - 1)
        #expect(v["z"]?.int == -3)
        #expect(v["w"]?.int == 0)
    }

    @Test("unions, anonymous members, nested structs, arrays, enums")
    func nested() throws {
        let json = #"["k", [["u",["un", [["x","unsigned int"], ["y","unsigned long long"] ], "union"]], ["", [["ua","unsigned short"], ["ub","unsigned char"] ], "union"], ["__pad_2","char",[6]], ["arr","int", [3]], ["in",["inner", [["p","unsigned char"], ["__pad_1","char",[3]], ["q","int"]], "struct_packed"], [2]], ["e", ["color", ["RED", "GREEN"], "enum"]]], "struct_packed"]"#
        let t = try TypeDescription(json: json)
        #expect(t.size == 8 + 2 + 6 + 12 + 16 + 4)
        guard case .union = t.fields[0].type.kind else { Issue.record("u is not a union"); return }
        #expect(t.fields[0].type.size == 8)
        #expect(t.fields[1].isAnonymous)
        #expect(t.fields[5].type == .enumeration(name: "color", cases: ["RED", "GREEN"]))
        var bytes = [UInt8](repeating: 0, count: t.size)
        bytes[0] = 0x44; bytes[4] = 0x01      // x = 0x44, y = 0x1_0000_0044
        bytes[8] = 0x34; bytes[9] = 0x12      // ua = 0x1234, ub = 0x34
        bytes[16] = 0xff; bytes[17] = 0xff; bytes[18] = 0xff; bytes[19] = 0xff  // arr[0] = -1
        bytes[20] = 2                          // arr[1] = 2
        bytes[28] = 9; bytes[32] = 7          // in[0] = {9, 7}
        bytes[36] = 1; bytes[44] = 1          // in[1].p = 1, e = GREEN
        let v = t.decode(bytes)
        #expect(v["u"]?["x"]?.uint == 0x44)
        #expect(v["u"]?["y"]?.uint == 0x1_0000_0044)
        #expect(v["ua"]?.uint == 0x1234)
        #expect(v["ub"]?.uint == 0x34)
        #expect(v["arr"]?.elements.compactMap(\.int) == [-1, 2, 0])
        #expect(v["in"]?[0]?["q"]?.int == 7)
        #expect(v["in"]?[1]?["p"]?.int == 1)
        #expect(v["in"]?[2] == nil)
        #expect(v["e"]?.int == 1)
        #expect(v["nope"] == nil)
        #expect("\(v)" == "k(u=un(x=68, y=4294967364), ua=4660, ub=52, arr=[-1, 2, 0], in=[inner(p=9, q=7), inner(p=1, q=0)], e=1)")
    }

    @Test("scalars print as Python's ctypes objects, their values as Python's ints, bytes and floats")
    func printing() throws {
        func value(_ json: String, _ bytes: [UInt8]) throws -> DynamicValue { try TypeDescription(json: json).decode(bytes) }
        let u64 = try value(#""unsigned long long""#, [5, 0, 0, 0, 0, 0, 0, 0])
        #expect("\(u64)" == "c_ulong(5)")
        #expect("\(u64.value)" == "5")
        #expect("\(try value(#""int""#, [0xfb, 0xff, 0xff, 0xff]))" == "c_int(-5)")
        #expect("\(try value(#""long long""#, [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]))" == "c_long(-1)")
        #expect("\(try value(#""_Bool""#, [1]))" == "c_bool(True)")
        #expect("\(try value(#""char""#, [0x61]))" == "c_char(b'a')")
        #expect("\(try value(#""float""#, Array(withUnsafeBytes(of: Float(0.1).bitPattern.littleEndian, Array.init))))"
                == "c_float(0.10000000149011612)")
        #expect("\(try value(#""double""#, Array(withUnsafeBytes(of: (1e16).bitPattern.littleEndian, Array.init))))"
                == "c_double(1e+16)")
        let u128 = try value(#""unsigned __int128""#, [UInt8](repeating: 0xff, count: 16))
        #expect("\(u128.value)" == "340282366920938463463374607431768211455")
        let s128 = try value(#""__int128""#, [0xfe] + [UInt8](repeating: 0xff, count: 15))
        #expect("\(s128.value)" == "-2" && s128.int == -2)
        let chars = try TypeDescription(json: #""char""#)
        #expect("\(DynamicValue(type: .array(of: chars, count: 6), bytes: Array("it's\0x".utf8)))" == #"b"it's""#)
        #expect(pythonBytes([0, 9, 10, 0x27, 0x22, 0x5c, 0x7f, 0x41]) == #"b'\x00\t\n\'"\\\x7fA'"#)
        #expect(pythonFloat(0.0001) == "0.0001")
        #expect(pythonFloat(0.00001) == "1e-05")
        #expect(pythonFloat(123456789012345680.0) == "1.2345678901234568e+17")
        #expect(pythonFloat(1e15) == "1000000000000000.0")
        #expect(pythonFloat(-2.5) == "-2.5")
        #expect(pythonFloat(1.0) == "1.0")
    }

    @Test("decoding into a Decodable Swift type by member name")
    func decodable() throws {
        let t = try TypeDescription(json: #"["ev", [["pid","unsigned int"], ["comm","char",[8]], ["__pad_2","char",[4]], ["ts","unsigned long long"], ["vals","unsigned short",[3]], ["", [["ua","unsigned short"]], "union"], ["ok","_Bool"], ["__pad_end","char",[7]]], "struct_packed"]"#)
        #expect(t.size == 40 && t.alignment == 8)
        var bytes = [UInt8](repeating: 0, count: 40)
        bytes[0] = 42
        for (i, c) in "bash".utf8.enumerated() { bytes[4 + i] = c }
        bytes[16] = 9
        bytes[24] = 1; bytes[26] = 2; bytes[28] = 3
        bytes[30] = 3
        bytes[32] = 1
        struct Event: Decodable, Equatable {
            let pid: UInt32
            let comm: String
            let ts: Int
            let vals: [UInt16]
            let ua: UInt8
            let ok: Bool
            let missing: Int?
        }
        let e = try t.decode(bytes).decode(Event.self)
        #expect(e == Event(pid: 42, comm: "bash", ts: 9, vals: [1, 2, 3], ua: 3, ok: true, missing: nil))

        struct Wrong: Decodable { let pid: UInt32; let nothere: Int }
        #expect {
            try t.decode(bytes).decode(Wrong.self)
        } throws: { error in
            guard case let .decodingFailed(type, detail) = error as? BPFError else { return false }
            return type == "Wrong" && detail.contains("nothere") && detail.contains("pid, comm, ts")
        }
        struct TooSmall: Decodable { let ts: Int8 }
        var big = bytes
        big[16] = 200
        #expect(throws: BPFError.self) { try t.decode(big).decode(TooSmall.self) }
        struct Raw: Decodable { let comm: [UInt8]; let vals: DynamicValue }
        let raw = try t.decode(bytes).decode(Raw.self)
        #expect(raw.comm == [98, 97, 115, 104, 0, 0, 0, 0])
        #expect("\(raw.vals)" == "[1, 2, 3]")
    }

    @Test("C type names as perf event fields spell them")
    func cTypes() throws {
        #expect(try TypeDescription(cType: "char[16]") == .array(of: .scalar(.char), count: 16))
        #expect(try TypeDescription(cType: "u32") == .scalar(.unsignedInt))
        #expect(try TypeDescription(cType: "struct task_struct *") == .scalar(.unsignedLongLong))
        #expect(try TypeDescription(cType: "enum state").size == 4)
        #expect(try TypeDescription(cType: "int [4][2]").size == 32)
        #expect(try TypeDescription(cType: "const unsigned long") == .scalar(.unsignedLong))
        let s = TypeDescription.structure(name: "data_t", members: [
            .init("pid", try .init(cType: "u32")), .init("ts", try .init(cType: "u64")), .init("comm", try .init(cType: "char[16]"))])
        #expect(s.fields.map(\.offset) == [0, 8, 16])
        #expect(s.size == 32)
        #expect(throws: BPFError.self) { try TypeDescription(cType: "struct foo") }
    }

    @Test("One alias table for tables and events: kernel and libc typedefs, s8 as Python's c_char")
    func typedefAliases() throws {
        let expected: [String: CScalar] = [
            "uid_t": .unsignedInt, "gid_t": .unsignedInt, "dev_t": .unsignedInt, "key_t": .int, "time_t": .long,
            "off_t": .long, "loff_t": .longLong, "ktime_t": .longLong, "sector_t": .unsignedLongLong,
            "u128": .unsignedInt128, "s128": .int128, "__u128": .unsignedInt128, "u_int8_t": .unsignedChar,
            "u_int16_t": .unsignedShort, "u_int32_t": .unsignedInt, "u_int64_t": .unsignedLongLong,
            "__kernel_pid_t": .int, "__kernel_size_t": .unsignedLong, "s8": .char, "u8": .unsignedChar,
        ]
        for (name, scalar) in expected {
            #expect(CScalar(cName: name) == scalar, "\(name)")
            #expect(try TypeDescription(cType: name) == .scalar(scalar), "\(name)")
        }
        #expect(try TypeDescription(cType: "const volatile dev_t") == .scalar(.unsignedInt))
        #expect(try TypeDescription(cType: "gid_t[3]") == .array(of: .scalar(.unsignedInt), count: 3))
        // s8 is c_char in Python's event classes: its value and arrays of it print as bytes.
        #expect(CScalar.char.ctypesName == "c_char")
        let ev = TypeDescription.structure(name: "ev", members: [.init("c", try .init(cType: "s8")),
                                                                .init("name", try .init(cType: "s8[4]"))])
        #expect("\(ev.decode([0xff, 0x68, 0x69, 0, 0x7a]))" == #"ev(c=b'\xff', name=b'hi')"#)
        #expect(try TypeDescription(cType: "__s8") == .scalar(.signedChar))
    }

    @Test("a malformed description is a typed error")
    func malformed() throws {
        for bad in [#"["a", "#, #""nosuchtype""#, #"["s", [["x"]], "struct"]"#, #"["s", [], "klass"]"#, "42"] {
            #expect {
                try TypeDescription(json: bad)
            } throws: { error in
                guard case .invalidTypeDescription = error as? BPFError else { return false }
                return "\(error)".contains("Cannot understand the type description")
            }
        }
    }

    @Test("a typedef'd array, which libbcc describes by its element, is sized from the table")
    func typedefArray() throws {
        let t = try TypeDescription.forTable(json: #""char""#, size: 8)
        #expect(t == .array(of: .scalar(.char), count: 8))
        #expect(t.decode(Array("abc\0\0\0\0\0".utf8)).string == "abc")
    }
}

extension KernelSuite {
    @Suite("Dynamic values from real maps", .requiresBPF)
    struct DynamicValueKernelTests {
        static let program = """
            struct key_t { u32 pid; char comm[16]; u64 ts; u8 flag; };
            struct val_t {
                int delta; u16 small; char name[5];
                unsigned int bits:3, more:5; int neg:4;
                u64 big;
                union { u32 x; u16 y; };
                struct { u8 p; u32 q; } nested;
                float f; double d; _Bool ok;
            };
            BPF_HASH(t, struct key_t, struct val_t);
            BPF_HASH(s, u32, u64);
            TRACEPOINT_PROBE(syscalls, sys_enter_getppid) {
                u32 pid = bpf_get_current_pid_tgid() >> 32;
                if (pid != TARGET) return 0;
                struct key_t k;
                __builtin_memset(&k, 0, sizeof(k));
                k.pid = pid;
                bpf_get_current_comm(&k.comm, sizeof(k.comm));
                k.ts = 0x1122334455667788ULL;
                k.flag = 7;
                struct val_t v;
                __builtin_memset(&v, 0, sizeof(v));
                v.delta = -5; v.small = 65535;
                v.name[0] = 'a'; v.name[1] = 'b'; v.name[2] = '\\'';
                v.bits = 5; v.more = 17; v.neg = -3;
                v.big = 1ULL << 63;
                v.x = 0xdeadbeef;
                v.nested.p = 9; v.nested.q = 123456;
                v.ok = 1;
                t.update(&k, &v);
                u64 one = 7;
                s.update(&pid, &one);
                return 0;
            }
            """

        @Test("a struct with padding, a char array and bitfields, filled by BPF, decodes and prints as Python's")
        func structFromBPF() throws {
            let b = try BPF(text: Self.program, cflags: ["-DTARGET=\(getpid())"])
            defer { b.cleanup() }
            let t = try b["t"]
            #expect(t.keyType.size == t.keySize && t.leafType.size == t.leafSize)
            #expect(t.keyType.fields.map(\.name) == ["pid", "comm", "__pad_2", "ts", "flag", "__pad_end"])
            _ = getppid()
            let keys = try t.rawKeys()
            try #require(keys.count == 1)
            let rawKey = keys[0]
            let rawLeaf = try #require(try t.lookup(rawKey: rawKey))
            let k = t.keyType.decode(rawKey)
            let v = t.leafType.decode(rawLeaf)
            #expect(k["pid"]?.int == Int64(getpid()))
            #expect(k["ts"]?.uint == 0x1122334455667788)
            #expect(k["flag"]?.int == 7)
            #expect(v["delta"]?.int == -5)
            #expect(v["name"]?.string == "ab'")
            #expect(v["bits"]?.int == 5 && v["more"]?.int == 17 && v["neg"]?.int == -3)
            #expect(v["big"]?.uint == 1 << 63)
            #expect(v["x"]?.uint == 0xdeadbeef && v["y"]?.uint == 0xbeef)
            #expect(v["nested"]?["q"]?.int == 123456)
            #expect(v["ok"]?.bool == true)

            struct Key: Decodable { let pid: Int32; let comm: String; let ts: UInt64; let flag: UInt8 }
            let key = try k.decode(Key.self)
            #expect(key.pid == getpid() && key.ts == 0x1122334455667788 && key.flag == 7 && !key.comm.isEmpty)

            // A second entry written from user space with what BPF cannot store (floats, odd bytes).
            var key2 = rawKey
            key2.replaceSubrange(4..<20, with: Array("it's\u{1}\u{7f}\"x".utf8) + [UInt8](repeating: 0, count: 8))
            var leaf2 = rawLeaf
            let fOff = try #require(t.leafType.fields.first { $0.name == "f" }).offset
            let dOff = try #require(t.leafType.fields.first { $0.name == "d" }).offset
            leaf2.replaceSubrange(fOff..<fOff + 4, with: withUnsafeBytes(of: Float(0.1).bitPattern.littleEndian, Array.init))
            leaf2.replaceSubrange(dOff..<dOff + 8, with: withUnsafeBytes(of: (-2.5e-7).bitPattern.littleEndian, Array.init))
            try t.update(rawKey: key2, rawValue: leaf2)
            #expect(try t.lookup(rawKey: key2) == leaf2)

            func swiftLines(_ kb: [UInt8], _ lb: [UInt8]) -> [String] {
                let k = t.keyType.decode(kb), v = t.leafType.decode(lb)
                let kf = ["pid", "comm", "ts", "flag"].map { "\(k[$0]!)" }
                // Bitfields are left out: CPython's ctypes (before 3.14) lays out a bitfield after
                // a char array differently from clang, so Python BCC reads `more` as 1 and `neg`
                // as 0 here where the program stored 17 and -3 (checked above).
                let vf = ["delta", "small", "name", "bits", "big", "x", "y", "f", "d", "ok"].map { "\(v[$0]!)" }
                return [kf.joined(separator: " "), vf.joined(separator: " ") + " \(v["nested"]!["p"]!) \(v["nested"]!["q"]!)"]
            }

            let s = try b["s"]
            let sk = try #require(try s.rawKeys().first)
            let sv = try #require(try s.lookup(rawKey: sk))
            let sKey = s.keyType.decode(sk), sVal = s.leafType.decode(sv)
            let swift = swiftLines(rawKey, rawLeaf) + swiftLines(key2, leaf2)
                + ["\(sKey) \(sVal) \(sKey.value) \(sVal.value)"]

            guard Probe.pythonBCC.ok else { return }
            let python = runPython("""
                import sys
                from bcc import BPF
                b = BPF(text=sys.argv[1], cflags=["-DTARGET=0"])
                t = b["t"]
                def show(kh, vh):
                    k = t.Key.from_buffer_copy(bytes.fromhex(kh)); v = t.Leaf.from_buffer_copy(bytes.fromhex(vh))
                    print(k.pid, k.comm, k.ts, k.flag)
                    print(v.delta, v.small, v.name, v.bits, v.big, v.x, v.y, v.f, v.d, v.ok, v.nested.p, v.nested.q)
                show(sys.argv[2], sys.argv[3])
                show(sys.argv[4], sys.argv[5])
                s = b["s"]
                k = s.Key.from_buffer_copy(bytes.fromhex(sys.argv[6])); v = s.Leaf.from_buffer_copy(bytes.fromhex(sys.argv[7]))
                print(k, v, k.value, v.value)
                """, args: [Self.program, hex(rawKey), hex(rawLeaf), hex(key2), hex(leaf2), hex(sk), hex(sv)])
            #expect(python.status == 0, "python: \(python.stderr)")
            #expect(python.stdout.split(separator: "\n").map(String.init) == swift)
        }
    }
}

func hex(_ bytes: [UInt8]) -> String {
    bytes.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined()
}
