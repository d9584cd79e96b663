internal import CBCC
import Glibc

/// A program rebuilt from a compile cache entry: the maps created again with libbcc's
/// `bcc_create_map_xattr` (same name, type, sizes, flags and max entries as libbcc's
/// compile creates them), and each function's instructions with the new map fds patched into
/// their ld_imm64 map references. No libbcc module and no clang/LLVM are involved.
final class CachedModule: @unchecked Sendable {
    struct Function {
        let name: String
        /// Patched: ready for `bcc_prog_load_xattr`.
        let instructions: [UInt8]
    }

    struct Table {
        let definition: TableDefinition
        let fd: Int32
    }

    let license: String
    let kernVersion: UInt32
    let functions: [Function]
    let tables: [Table]
    private var closed = false

    private init(license: String, kernVersion: UInt32, functions: [Function], tables: [Table]) {
        self.license = license
        self.kernVersion = kernVersion
        self.functions = functions
        self.tables = tables
    }

    /// Creates `entry`'s maps and patches their fds into its functions. On a map the kernel
    /// refuses, closes the maps created so far and throws what a cold compile would:
    /// `.mapCreationFailed` (libbcc's compile fails the same way).
    static func create(from entry: CacheEntry, allowRlimit: Bool, program: String) throws -> CachedModule {
        var tables: [Table] = []
        for def in entry.tables {
            let created = LibBCC.call("bcc_create_map_xattr") {
                swiftbcc_create_map(def.mapType, def.name, Int32(def.keySize), Int32(def.leafSize),
                                    Int32(def.maxEntries), def.flags, allowRlimit)
            }
            switch created {
            case .success(let fd):
                tables.append(Table(definition: def, fd: fd))
            case .failure(let failure):
                for t in tables { Glibc.close(t.fd) }
                let detail = "could not open bpf map: \(def.name), error: \(failure.errno.text)"
                throw BPFError.mapCreationFailed(map: def.name, errno: failure.errno,
                                                 hint: Compilation.mapHint(map: def.name, errno: failure.errno, program: program),
                                                 detail: detail)
            }
        }
        let functions = entry.functions.map { f in
            var insns = f.instructions
            for ref in f.mapReferences {
                let fd = tables[Int(ref.table)].fd
                let at = Int(ref.instruction) * 8 + 4
                withUnsafeBytes(of: fd.littleEndian) { b in
                    for i in 0..<4 { insns[at + i] = b[i] }
                }
            }
            return Function(name: f.name, instructions: insns)
        }
        return CachedModule(license: entry.license, kernVersion: entry.kernVersion, functions: functions, tables: tables)
    }

    /// Closes the map fds (the kernel frees a map when its last fd closes: Tables hold their own).
    func close() {
        guard !closed else { return }
        closed = true
        for t in tables { Glibc.close(t.fd) }
    }

    deinit { close() }
}

extension CacheEntry {
    /// What the cache stores for libbcc's compiled module `m`, or why it cannot be cached: the
    /// instructions with each ld_imm64 map reference (`BPF_PSEUDO_MAP_FD`/`_VALUE` whose imm
    /// is one of the module's table fds) recorded as a table index and its imm zeroed.
    static func capture(_ m: UnsafeMutableRawPointer, compileOutput: String) -> Result<CacheEntry, Uncacheable> {
        let source = ModuleSource.libbcc(m)
        var tables: [TableDefinition] = []
        var fdToTable: [Int32: UInt32] = [:]
        for (i, name) in source.tableNames.enumerated() {
            guard let t = source.table(name), t.id == i else {
                return .failure(.init("table \(name) has no map fd of its own (shared, extern or not created)"))
            }
            if let reason = CompileCache.uncacheableMapType(t.definition) {
                return .failure(.init("table \(name) is \(reason)"))
            }
            guard fdToTable[t.fd] == nil else { return .failure(.init("table \(name) shares its map with another table")) }
            fdToTable[t.fd] = UInt32(i)
            tables.append(t.definition)
        }
        var functions: [Function] = []
        for name in source.functionNames {
            let captured: Result<Function, Uncacheable> = source.withInstructions(name) { buf in
                guard let buf, buf.count > 0, buf.count % 8 == 0 else {
                    return .failure(.init("function \(name) has no instructions libbcc reports"))
                }
                var insns = Array(buf)
                var refs: [MapReference] = []
                var i = 0
                let n = insns.count / 8
                while i < n {
                    let code = insns[i * 8], src = insns[i * 8 + 1] >> 4
                    if code == 0x18 { // BPF_LD | BPF_DW | BPF_IMM: two instructions
                        guard i + 1 < n else { return .failure(.init("function \(name) ends inside an ld_imm64")) }
                        if src == 1 || src == 2 { // BPF_PSEUDO_MAP_FD, BPF_PSEUDO_MAP_VALUE
                            let imm = insns[(i * 8 + 4)..<(i * 8 + 8)].withUnsafeBytes { Int32(littleEndian: $0.loadUnaligned(as: Int32.self)) }
                            guard let table = fdToTable[imm] else {
                                return .failure(.init("function \(name) refers to map fd \(imm), which is not one of its tables"))
                            }
                            refs.append(MapReference(instruction: UInt32(i), table: table))
                            for b in 4..<8 { insns[i * 8 + b] = 0 }
                        } else if src != 0 {
                            return .failure(.init("function \(name) has an ld_imm64 with src_reg \(src) (BTF or kfunc reference)"))
                        }
                        i += 2
                        continue
                    }
                    // BPF_JMP|BPF_CALL with src_reg BPF_PSEUDO_KFUNC_CALL (2) references a BTF id.
                    if code == 0x85 && src == 2 {
                        return .failure(.init("function \(name) calls a kernel function through BTF (kfunc call)"))
                    }
                    i += 1
                }
                return .success(Function(name: name, instructions: insns, mapReferences: refs))
            }
            switch captured {
            case .success(let f): functions.append(f)
            case .failure(let why): return .failure(why)
            }
        }
        return .success(CacheEntry(license: source.license, kernVersion: source.kernVersion, functions: functions,
                                   tables: tables, compileOutput: compileOutput))
    }
}

/// Why a program is compiled by libbcc every time rather than cached.
struct Uncacheable: Error, Equatable {
    let reason: String
    init(_ reason: String) { self.reason = reason }
}
