import Glibc
import SwiftBCC
import Synchronization

/// The running kernel's BTF (`/sys/kernel/btf/vmlinux`), read just far enough to give the byte
/// offsets of struct members.
///
/// Why: libbcc compiles `task->real_parent->tgid` against the kernel headers it finds, and where
/// those are another kernel's (the 6.18 development host has 6.1 headers) the offsets are wrong and
/// the tools would print garbage PPIDs, exit codes and ages, or filter everything out (Python's
/// exitsnoop prints no rows there). BTF describes the running kernel itself, so the tools read
/// kernel structs at the offsets it gives (see ``KernelFields``) and fall back to the headers only
/// where the kernel has no BTF.
public final class KernelBTF: @unchecked Sendable {
    /// A struct member found by ``memberOffset(_:_:)``: its byte offset and size.
    public struct Member: Sendable, Equatable {
        /// Bytes from the start of the struct.
        public let offset: Int
        /// The member's size in bytes.
        public let size: Int
    }

    private let bytes: [UInt8]
    private let typeStart: Int
    private let stringStart: Int
    private let stringEnd: Int
    /// Byte offset of each type record (index 0 is the void type: -1).
    private var typeOffsets: [Int] = [-1]
    /// Struct/union names looked up so far -> type id of the first complete definition (0:
    /// none). Found by a scan of the type records per name asked for: a tool asks for a handful,
    /// and naming every struct at parse time (tens of thousands of `String`s and dictionary
    /// inserts) was most of a tool's start outside the compile under qemu TCG.
    private let structIDs = Mutex<[String: Int]>([:])

    /// The running kernel's BTF, parsed once; nil when the kernel has none or it cannot be read.
    public static let vmlinux: KernelBTF? = {
        guard let data = readFile("/sys/kernel/btf/vmlinux") else { return nil }
        return KernelBTF(data)
    }()

    /// Parses raw BTF; nil when `data` is not BTF.
    public init?(_ data: [UInt8]) {
        bytes = data
        guard data.count >= 24, data[0] == 0x9f, data[1] == 0xeb else { return nil }
        func u32(_ at: Int) -> Int {
            Int(data[at]) | Int(data[at + 1]) << 8 | Int(data[at + 2]) << 16 | Int(data[at + 3]) << 24
        }
        let hdrLen = u32(4)
        typeStart = hdrLen + u32(8)
        let typeEnd = typeStart + u32(12)
        stringStart = hdrLen + u32(16)
        stringEnd = stringStart + u32(20)
        guard typeEnd <= data.count, stringEnd <= data.count else { return nil }
        var at = typeStart
        while at + 12 <= typeEnd {
            typeOffsets.append(at)
            let info = u32(at + 4)
            let kind = (info >> 24) & 0x1f
            let vlen = info & 0xffff
            let extra: Int
            switch kind {
            case 1, 14, 17: extra = 4                 // INT, VAR, DECL_TAG
            case 3: extra = 12                        // ARRAY
            case 4, 5: extra = 12 * vlen              // STRUCT, UNION
            case 6, 13: extra = 8 * vlen              // ENUM, FUNC_PROTO
            case 15, 19: extra = 12 * vlen            // DATASEC, ENUM64
            default: extra = 0                        // PTR, FWD, TYPEDEF, modifiers, FUNC, FLOAT, TYPE_TAG
            }
            at += 12 + extra
        }
    }

    private func u32(_ at: Int) -> Int {
        Int(bytes[at]) | Int(bytes[at + 1]) << 8 | Int(bytes[at + 2]) << 16 | Int(bytes[at + 3]) << 24
    }

    private func string(at offset: Int) -> String {
        var i = stringStart + offset
        guard i < stringEnd else { return "" }
        let start = i
        while i < stringEnd && bytes[i] != 0 { i += 1 }
        return String(decoding: bytes[start..<i], as: UTF8.self)
    }

    private func kind(_ id: Int) -> Int { (u32(typeOffsets[id] + 4) >> 24) & 0x1f }

    /// The type id of the first struct or union named `name` that has members, or nil.
    private func structID(_ name: String) -> Int? {
        if let id = structIDs.withLock({ $0[name] }) { return id == 0 ? nil : id }
        let wanted = Array(name.utf8)
        var found = 0
        if !wanted.isEmpty {
            bytes.withUnsafeBufferPointer { all in
                for id in 1..<typeOffsets.count {
                    let at = typeOffsets[id]
                    let info = u32(at + 4)
                    let kind = (info >> 24) & 0x1f
                    guard kind == 4 || kind == 5, info & 0xffff > 0 else { continue }
                    let start = stringStart + u32(at)
                    guard start + wanted.count < stringEnd, all[start + wanted.count] == 0,
                          memcmp(all.baseAddress! + start, wanted, wanted.count) == 0 else { continue }
                    found = id
                    break
                }
            }
        }
        structIDs.withLock { $0[name] = found }
        return found == 0 ? nil : found
    }

    /// Follows typedefs and const/volatile/restrict/type tags to the type they name.
    private func resolve(_ id: Int) -> Int {
        var id = id
        var guardCount = 0
        while id > 0, id < typeOffsets.count, [8, 9, 10, 11, 18].contains(kind(id)), guardCount < 64 {
            id = u32(typeOffsets[id] + 8)
            guardCount += 1
        }
        return id
    }

    /// The size in bytes of type `id`.
    private func size(_ id: Int) -> Int {
        let id = resolve(id)
        guard id > 0, id < typeOffsets.count else { return 0 }
        switch kind(id) {
        case 2: return 8
        case 3:
            let at = typeOffsets[id] + 12
            return size(u32(at)) * u32(at + 8)
        case 1, 4, 5, 6, 16, 19: return u32(typeOffsets[id] + 8)
        default: return 0
        }
    }

    /// Looks `name` up among the members of struct/union `id`, descending into anonymous
    /// struct and union members; returns the bit offset and the member's type id.
    private func find(_ name: String, in id: Int) -> (bitOffset: Int, type: Int)? {
        let id = resolve(id)
        guard id > 0, id < typeOffsets.count, kind(id) == 4 || kind(id) == 5 else { return nil }
        let at = typeOffsets[id]
        let info = u32(at + 4)
        let kindFlag = info >> 31 == 1
        for i in 0..<(info & 0xffff) {
            let m = at + 12 + 12 * i
            let memberName = string(at: u32(m))
            let type = u32(m + 4)
            let raw = u32(m + 8)
            let bitOffset = kindFlag ? raw & 0xff_ffff : raw
            if memberName == name { return (bitOffset, type) }
            if memberName.isEmpty, let inner = find(name, in: type) {
                return (bitOffset + inner.bitOffset, inner.type)
            }
        }
        return nil
    }

    /// The byte offset and size of `path` (members separated by dots, e.g. `"pwd.dentry"`) in
    /// `struct <structName>`; nil when the struct or a member is missing or is a bit field.
    public func memberOffset(_ structName: String, _ path: String) -> Member? {
        guard var type = structID(structName) else { return nil }
        var bits = 0
        for name in path.split(separator: ".") {
            guard let found = find(String(name), in: type) else { return nil }
            bits += found.bitOffset
            type = found.type
        }
        guard bits % 8 == 0 else { return nil }
        return Member(offset: bits / 8, size: size(type))
    }

    /// Whether the kernel has `struct <name>` (with a body).
    public func hasStruct(_ name: String) -> Bool { structID(name) != nil }

    private static func readFile(_ path: String) -> [UInt8]? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var out: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1 << 20)
        while true {
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { break }
            out.append(contentsOf: chunk[0..<n])
        }
        return out.isEmpty ? nil : out
    }
}
