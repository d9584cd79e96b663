internal import CBCC
import Glibc

/// One table as the compile defined it: what `bpf_table_*_id` report, and what creating the
/// map again needs.
struct TableDefinition: Equatable, Sendable {
    var name: String
    var mapType: Int32
    var keySize: Int
    var leafSize: Int
    var maxEntries: Int
    var flags: Int32
    /// libbcc's JSON type descriptions (`bpf_table_key_desc_id`, `bpf_table_leaf_desc_id`).
    var keyDescription: String
    var leafDescription: String
    /// libbcc's `name#type` event fields for this table (`bpf_perf_event_fields`): empty when
    /// the program submits no struct through it.
    var eventFields: [String]
}

/// Where a `BPF`'s compiled program lives: libbcc's module (a cold compile), or a module
/// rebuilt from the compile cache (a warm start), whose maps SwiftBCC created itself and whose
/// instructions carry their fds. Everything the library asks of "the module" goes through
/// here, so a warm start calls no `bpf_module_*`/`bpf_function_*`/`bpf_table_*` function.
enum ModuleSource {
    case libbcc(UnsafeMutableRawPointer)
    case cached(CachedModule)

    /// The function names, in libbcc's order.
    var functionNames: [String] {
        switch self {
        case .libbcc(let m):
            return (0..<Compiler.api.bpf_num_functions!(m)).compactMap { stringOrNil(Compiler.api.bpf_function_name!(m, $0)) }
        case .cached(let c):
            return c.functions.map(\.name)
        }
    }

    /// Runs `body` with the instructions of function `name` (nil when there is no such function).
    func withInstructions<T>(_ name: String, _ body: (UnsafeRawBufferPointer?) throws -> T) rethrows -> T {
        switch self {
        case .libbcc(let m):
            guard let start = Compiler.api.bpf_function_start!(m, name) else { return try body(nil) }
            return try body(UnsafeRawBufferPointer(start: start, count: Compiler.api.bpf_function_size!(m, name)))
        case .cached(let c):
            guard let fn = c.functions.first(where: { $0.name == name }) else { return try body(nil) }
            return try fn.instructions.withUnsafeBytes { try body($0) }
        }
    }

    /// The program's license (`bpf_module_license`).
    var license: String {
        switch self {
        case .libbcc(let m): return stringOrNil(Compiler.api.bpf_module_license!(m)) ?? ""
        case .cached(let c): return c.license
        }
    }

    /// The kernel version the program was compiled for (`bpf_module_kern_version`).
    var kernVersion: UInt32 {
        switch self {
        case .libbcc(let m): return Compiler.api.bpf_module_kern_version!(m)
        case .cached(let c): return c.kernVersion
        }
    }

    /// The table names, in libbcc's order.
    var tableNames: [String] {
        switch self {
        case .libbcc(let m):
            return (0..<Compiler.api.bpf_num_tables!(m)).compactMap { stringOrNil(Compiler.api.bpf_table_name!(m, $0)) }
        case .cached(let c):
            return c.tables.map(\.definition.name)
        }
    }

    /// Table `name`'s index (libbcc's table id), definition and map fd; nil when the program
    /// has no such table.
    func table(_ name: String) -> (id: Int, definition: TableDefinition, fd: Int32)? {
        switch self {
        case .libbcc(let m):
            let fd = Compiler.api.bpf_table_fd!(m, name)
            guard fd >= 0 else { return nil }
            let id = Compiler.api.bpf_table_id!(m, name)
            return (id, Self.definition(m, id: id), fd)
        case .cached(let c):
            guard let i = c.tables.firstIndex(where: { $0.definition.name == name }) else { return nil }
            return (i, c.tables[i].definition, c.tables[i].fd)
        }
    }

    /// libbcc's `name#type` event fields for table `name` (empty for none).
    func eventFields(_ name: String) -> [String] {
        switch self {
        case .libbcc(let m):
            return Self.eventFields(m, name)
        case .cached(let c):
            return c.tables.first(where: { $0.definition.name == name })?.definition.eventFields ?? []
        }
    }

    /// Loads function `name` (whose instructions are `insns`) as `type`; returns the program fd
    /// or the failure with what libbcc printed (the verifier log).
    func load(_ name: String, insns: UnsafeRawBufferPointer, type: ProgramType, logLevel: Int32,
              device: String?, attachType: AttachType?, allowRlimit: Bool) -> Result<Int32, CallFailure> {
        let base = insns.baseAddress!.assumingMemoryBound(to: bpf_insn.self)
        switch self {
        case .libbcc(let m):
            return LibBCC.call("bcc_func_load", passThrough: true) {
                Compiler.api.bcc_func_load!(m, type.rawValue, name, base, Int32(insns.count), Compiler.api.bpf_module_license!(m),
                              Compiler.api.bpf_module_kern_version!(m), logLevel, nil, 0, device, attachType?.rawValue ?? -1)
            }
        case .cached(let c):
            // A cached module never has a device (offloaded programs are not cached); a device
            // asked for at load time needs libbcc's module.
            if let device {
                return .failure(CallFailure(call: "bcc_func_load", errno: .EINVAL,
                                            output: "cannot offload \(name) to \(device): this BPF was started from the "
                                                + "compile cache (pass cache: false to load programs onto a device)\n"))
            }
            return LibBCC.call("bcc_prog_load_xattr", passThrough: true) {
                swiftbcc_prog_load(type.rawValue, name, base, Int32(insns.count), c.license, c.kernVersion,
                                   logLevel, attachType?.rawValue ?? -1, allowRlimit)
            }
        }
    }

    /// Frees the module (libbcc's: `bpf_module_destroy`; a cached one: closes its map fds).
    func destroy() {
        switch self {
        case .libbcc(let m): Compiler.api.bpf_module_destroy!(m)
        case .cached(let c): c.close()
        }
    }

    /// libbcc's module, when this is one.
    var libbccModule: UnsafeMutableRawPointer? {
        if case .libbcc(let m) = self { return m }
        return nil
    }

    static func definition(_ m: UnsafeMutableRawPointer, id: Int) -> TableDefinition {
        let name = stringOrNil(Compiler.api.bpf_table_name!(m, id)) ?? ""
        return TableDefinition(name: name, mapType: Compiler.api.bpf_table_type_id!(m, id),
                               keySize: Compiler.api.bpf_table_key_size_id!(m, id), leafSize: Compiler.api.bpf_table_leaf_size_id!(m, id),
                               maxEntries: Compiler.api.bpf_table_max_entries_id!(m, id), flags: Compiler.api.bpf_table_flags_id!(m, id),
                               keyDescription: stringOrNil(Compiler.api.bpf_table_key_desc_id!(m, id)) ?? "",
                               leafDescription: stringOrNil(Compiler.api.bpf_table_leaf_desc_id!(m, id)) ?? "",
                               eventFields: eventFields(m, name))
    }

    static func eventFields(_ m: UnsafeMutableRawPointer, _ name: String) -> [String] {
        let n = Compiler.api.bpf_perf_event_fields!(m, name)
        return (0..<n).compactMap { stringOrNil(Compiler.api.bpf_perf_event_field!(m, name, $0)) }
    }
}
