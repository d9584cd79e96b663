@testable import SwiftBCC
import Testing

/// Type descriptions and encoding errors say what libbcc says, once, and what to pass instead.
@Suite("Type text")
struct TypeTextTests {
    /// libbcc 0.26's descriptions (bpf_table_leaf_desc) of structs none of which is declared packed.
    static let unpacked: [(json: String, size: Int)] = [
        (#"["msg_t", [["text","char",[12]] ], "struct_packed"]"#, 12),
        (#"["bits", [["a","unsigned int", 3], ["b","unsigned int", 5], ["c","unsigned short"], ["d","unsigned long long"] ], "struct"]"#, 16),
        (#"["outer", [["a","unsigned char"], ["__pad_1","char",[7]], ["in",["inner", [["x","unsigned char"], ["__pad_1","char",[7]], ["y","unsigned long long"] ], "struct_packed"]], ["z","unsigned char"], ["__pad_end","char",[7]] ], "struct_packed"]"#, 32),
        (#"["withun", [["t","unsigned char"], ["__pad_1","char",[7]], ["u",["un", [["a","unsigned char"], ["b","unsigned long long"] ], "union"]] ], "struct_packed"]"#, 16),
        (#"["arr", [["a","unsigned char"], ["__pad_1","char",[7]], ["xs",["inner", [["x","unsigned char"], ["__pad_1","char",[7]], ["y","unsigned long long"] ], "struct_packed"], [2]] ], "struct_packed"]"#, 40),
        (#"["i128", [["a","unsigned char"], ["__pad_1","char",[15]], ["b","__int128"] ], "struct_packed"]"#, 32),
        (#"["anon", [["a","unsigned char"], ["__pad_1","char",[7]], ["", [["x","unsigned int"], ["y","unsigned long long"] ], "union"], ["z","unsigned char"], ["__pad_end","char",[7]] ], "struct_packed"]"#, 24),
        (#"["charr", [["name","char", [5]], ["__pad_1","char",[3]], ["v","unsigned int"] ], "struct_packed"]"#, 12),
        (#"["bytes", [["a","unsigned char"], ["b","char",[3]] ], "struct_packed"]"#, 4),
    ]

    @Test("a struct not declared packed prints no __attribute__((packed)), in descriptions and layouts", arguments: 0..<9)
    func notPacked(index: Int) throws {
        let (json, size) = Self.unpacked[index]
        let t = try TypeDescription(json: json)
        #expect(t.size == size)
        #expect(!t.isPackedLayout)
        #expect(!t.description.contains("packed"), "\(t.description)")
        #expect(!t.layout.contains("packed"), "\(t.layout)")
    }

    @Test("a struct only packing explains is printed packed")
    func packed() throws {
        let t = try TypeDescription(json: #"["pk", [["a","unsigned char"], ["b","unsigned int"] ], "struct_packed"]"#)
        #expect(t.size == 5 && t.alignment == 1 && t.isPackedLayout)
        #expect(t.description == "struct pk { unsigned char a; unsigned int b; } __attribute__((packed))")
        let outer = TypeDescription.structure(name: "o", members: [.init("p", t), .init("c", .scalar(.char))])
        #expect(outer.description.contains("} __attribute__((packed)) p;"))
        #expect(!outer.isPackedLayout)
    }

    @Test("cName: the C type without members")
    func cName() throws {
        #expect(try TypeDescription(json: Self.unpacked[2].json).cName == "struct outer")
        #expect(TypeDescription.array(of: .array(of: .scalar(.int), count: 3), count: 2).cName == "int[2][3]")
        #expect(TypeDescription.union(name: "", members: [.init("x", .scalar(.int))]).cName == "union (anonymous)")
    }

    static func message(_ t: TypeDescription, _ value: some Encodable) -> String {
        do {
            _ = try t.encode(value)
            return "no error"
        } catch {
            return "\(error)"
        }
    }

    struct Named: Encodable { let name: String; let v: Int }
    struct WrongKind: Encodable { let name: Int; let v: Int }
    struct Unknown: Encodable { let nam: String }
    struct Outer: Encodable { struct Inner: Encodable { let x: Int; let y: Int }; let a: Int; let `in`: Inner; let z: Int }

    @Test("an encoding error names the member and its C type once and says what to pass")
    func encodingErrors() throws {
        let charr = try TypeDescription(json: Self.unpacked[7].json)
        #expect(Self.message(charr, Named(name: "toolongname", v: 1))
                == "Cannot encode the Swift value as struct charr: member name (char[5]): \"toolongname\" is 11 bytes, more than "
                + "the 5 of char[5]; pass at most 5 bytes, or TruncatingString(...) to keep the first 5 as C's strncpy would.")
        #expect(Self.message(charr, Named(name: "a", v: -1))
                == "Cannot encode the Swift value as struct charr: member v (unsigned int): -1 does not fit; pass an integer in 0...4294967295.")
        #expect(Self.message(charr, WrongKind(name: 3, v: 1))
                == "Cannot encode the Swift value as struct charr: member name (char[5]): an integer was given; pass a String or "
                + "[UInt8] of at most 5 bytes (TruncatingString to cut a longer one as C would).")
        #expect(Self.message(charr, Unknown(nam: "x"))
                == "Cannot encode the Swift value as struct charr: member nam: struct charr has no such member; use one of name, v.")
        #expect(Self.message(charr, 5)
                == "Cannot encode the Swift value as struct charr: an integer was given; pass an Encodable struct with members name, v, "
                + "or a 12-byte DynamicValue.")
        let outer = try TypeDescription(json: Self.unpacked[2].json)
        #expect(Self.message(outer, Outer(a: 1, in: .init(x: 256, y: 2), z: 3))
                == "Cannot encode the Swift value as struct outer: member in.x (unsigned char): 256 does not fit; pass an integer in 0...255 or a one-byte String.")
        let bits = try TypeDescription(json: Self.unpacked[1].json)
        struct Bits: Encodable { let a: Int }
        #expect(Self.message(bits, Bits(a: 8))
                == "Cannot encode the Swift value as struct bits: member a (unsigned int : 3): 8 does not fit; pass an integer in 0...7.")
        #expect(Self.message(.scalar(.unsignedLongLong), -1)
                == "Cannot encode the Swift value as unsigned long long: -1 does not fit; pass an integer in 0...18446744073709551615.")
        #expect(Self.message(.array(of: .scalar(.int), count: 2), [1, 2, 3])
                == "Cannot encode the Swift value as int[2]: more than 2 elements were given; pass at most 2.")
        #expect(Self.message(.scalar(.int), outer.decode([]))
                == "Cannot encode the Swift value as int: a 32-byte struct outer was given for 4 bytes; pass an integer in -2147483648...2147483647.")
        // Each message names the C type once.
        for m in [Self.message(charr, Named(name: "a", v: -1)), Self.message(.scalar(.unsignedLongLong), -1)] {
            #expect(m.components(separatedBy: "unsigned").count == 2, "\(m)")
        }
    }
}
