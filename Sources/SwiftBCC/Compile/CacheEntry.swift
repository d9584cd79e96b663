internal import BCCDigest

/// What the compile cache stores for one program: everything a warm start needs to create the
/// maps and load the functions without libbcc's module, and to answer what the library asks of
/// a module (see `ModuleSource`).
///
/// On disk (`<key hex>.entry`):
/// ```
/// "SWBCCACH"                 8 bytes magic
/// format version             UInt32 LE (CompileCache.formatVersion)
/// payload length             UInt64 LE
/// SHA-256 of the payload     32 bytes
/// cache key                  32 bytes (the entry answers this key only)
/// payload                    the fields below, in order (UInt32 LE counts and lengths)
/// ```
/// A file whose magic, version, length, checksum or key does not match is not loaded.
struct CacheEntry: Equatable {
    struct MapReference: Equatable {
        /// The index of the ld_imm64 instruction (its first half) within the function.
        var instruction: UInt32
        /// The index of the table (in `tables`) whose fd goes in its imm.
        var table: UInt32
    }

    struct Function: Equatable {
        var name: String
        /// The instructions with every map reference's imm zeroed.
        var instructions: [UInt8]
        var mapReferences: [MapReference]
    }

    var license: String
    var kernVersion: UInt32
    /// In libbcc's order.
    var functions: [Function]
    /// In libbcc's order (libbcc's table ids).
    var tables: [TableDefinition]
    /// What the compile printed (clang's warnings), replayed on a warm start.
    var compileOutput: String

    static let magic: [UInt8] = Array("SWBCCACH".utf8)
    static let headerSize = 8 + 4 + 8 + 32 + 32

    // MARK: Encoding

    func encoded(key: [UInt8], version: UInt32) -> [UInt8] {
        var w = ByteWriter()
        w.string(license)
        w.u32(kernVersion)
        w.u32(UInt32(functions.count))
        for f in functions {
            w.string(f.name)
            w.bytes(f.instructions)
            w.u32(UInt32(f.mapReferences.count))
            for r in f.mapReferences {
                w.u32(r.instruction)
                w.u32(r.table)
            }
        }
        w.u32(UInt32(tables.count))
        for t in tables {
            w.string(t.name)
            w.u32(UInt32(bitPattern: t.mapType))
            w.u32(UInt32(t.keySize))
            w.u32(UInt32(t.leafSize))
            w.u32(UInt32(t.maxEntries))
            w.u32(UInt32(bitPattern: t.flags))
            w.string(t.keyDescription)
            w.string(t.leafDescription)
            w.u32(UInt32(t.eventFields.count))
            for f in t.eventFields { w.string(f) }
        }
        w.string(compileOutput)
        let payload = w.out
        var header = ByteWriter()
        header.out += Self.magic
        header.u32(version)
        header.u64(UInt64(payload.count))
        header.out += SHA256.digest(payload)
        header.out += key
        return header.out + payload
    }

    /// Why a file is not a loadable entry for `key`.
    enum DecodeError: Error, Equatable {
        case notAnEntry
        case foreignVersion(UInt32)
        case truncated
        case checksumMismatch
        case otherKey
        case malformed(String)

        var reason: String {
            switch self {
            case .notAnEntry: return "not a SwiftBCC cache entry"
            case .foreignVersion(let v): return "cache format version \(v), not \(CompileCache.formatVersion)"
            case .truncated: return "truncated"
            case .checksumMismatch: return "its SHA-256 does not match its header (corrupt)"
            case .otherKey: return "written for another key"
            case .malformed(let what): return "malformed (\(what))"
            }
        }
    }

    static func decode(_ data: [UInt8], key: [UInt8], version: UInt32) throws(DecodeError) -> CacheEntry {
        guard data.count >= headerSize else { throw data.starts(with: magic.prefix(data.count)) ? .truncated : .notAnEntry }
        guard Array(data[0..<8]) == magic else { throw .notAnEntry }
        var h = ByteReader(data[8..<headerSize])
        let v = try h.u32()
        guard v == version else { throw .foreignVersion(v) }
        let length = try h.u64()
        let sum = try h.raw(32)
        let entryKey = try h.raw(32)
        guard UInt64(data.count - headerSize) == length else { throw .truncated }
        let payload = data[headerSize...]
        guard SHA256.digest(Array(payload)) == sum else { throw .checksumMismatch }
        guard entryKey == key else { throw .otherKey }
        var r = ByteReader(payload)
        let license = try r.string()
        let kernVersion = try r.u32()
        var functions: [Function] = []
        for _ in 0..<(try r.count()) {
            let name = try r.string()
            let insns = try r.bytes()
            guard insns.count % 8 == 0, !insns.isEmpty else { throw .malformed("function \(name) size \(insns.count)") }
            var refs: [MapReference] = []
            for _ in 0..<(try r.count()) {
                refs.append(MapReference(instruction: try r.u32(), table: try r.u32()))
            }
            functions.append(Function(name: name, instructions: insns, mapReferences: refs))
        }
        var tables: [TableDefinition] = []
        for _ in 0..<(try r.count()) {
            let name = try r.string()
            let type = Int32(bitPattern: try r.u32())
            let k = Int(try r.u32()), l = Int(try r.u32()), m = Int(try r.u32())
            let flags = Int32(bitPattern: try r.u32())
            let kd = try r.string(), ld = try r.string()
            var fields: [String] = []
            for _ in 0..<(try r.count()) { fields.append(try r.string()) }
            tables.append(TableDefinition(name: name, mapType: type, keySize: k, leafSize: l, maxEntries: m, flags: flags,
                                          keyDescription: kd, leafDescription: ld, eventFields: fields))
        }
        let output = try r.string()
        guard r.isAtEnd else { throw .malformed("trailing bytes") }
        for f in functions {
            for ref in f.mapReferences {
                guard Int(ref.table) < tables.count,
                      Int(ref.instruction) * 8 + 16 <= f.instructions.count else {
                    throw .malformed("map reference \(ref) in \(f.name)")
                }
            }
        }
        return CacheEntry(license: license, kernVersion: kernVersion, functions: functions, tables: tables,
                          compileOutput: output)
    }
}

/// Little-endian writer of the entry's fields.
struct ByteWriter {
    var out: [UInt8] = []
    mutating func u32(_ v: UInt32) { withUnsafeBytes(of: v.littleEndian) { out += $0 } }
    mutating func u64(_ v: UInt64) { withUnsafeBytes(of: v.littleEndian) { out += $0 } }
    mutating func bytes(_ b: [UInt8]) {
        u32(UInt32(b.count))
        out += b
    }
    mutating func string(_ s: String) { bytes(Array(s.utf8)) }
}

/// Reader of `ByteWriter`'s output; every read checks the bounds.
struct ByteReader {
    private let data: ArraySlice<UInt8>
    private var at: Int
    init(_ data: ArraySlice<UInt8>) {
        self.data = data
        self.at = data.startIndex
    }
    var isAtEnd: Bool { at == data.endIndex }

    mutating func raw(_ n: Int) throws(CacheEntry.DecodeError) -> [UInt8] {
        guard n >= 0, data.endIndex - at >= n else { throw .malformed("a field runs past the end") }
        defer { at += n }
        return Array(data[at..<at + n])
    }
    mutating func u32() throws(CacheEntry.DecodeError) -> UInt32 {
        let b = try raw(4)
        return UInt32(b[0]) | UInt32(b[1]) << 8 | UInt32(b[2]) << 16 | UInt32(b[3]) << 24
    }
    mutating func u64() throws(CacheEntry.DecodeError) -> UInt64 {
        let lo = UInt64(try u32()), hi = UInt64(try u32())
        return lo | hi << 32
    }
    /// A count of items that follow: each takes at least 4 bytes, so a larger count is corrupt.
    mutating func count() throws(CacheEntry.DecodeError) -> Int {
        let n = Int(try u32())
        guard n <= (data.endIndex - at) / 4 else { throw .malformed("a count runs past the end") }
        return n
    }
    mutating func bytes() throws(CacheEntry.DecodeError) -> [UInt8] { try raw(Int(try u32())) }
    mutating func string() throws(CacheEntry.DecodeError) -> String {
        let b = try bytes()
        guard let s = String(validating: b, as: UTF8.self) else { throw .malformed("a string is not UTF-8") }
        return s
    }
}
