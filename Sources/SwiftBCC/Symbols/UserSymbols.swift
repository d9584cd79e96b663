internal import CBCC
import Glibc

/// A function symbol of a user-space binary: its name and its address in the ELF file
/// (`st_value`), as `bcc_foreach_function_symbol` reports it.
public struct UserSymbol: Hashable, Sendable {
    /// The symbol's name, as the ELF symbol table has it.
    public let name: String
    /// The symbol's address in the ELF file (`st_value`).
    public let address: UInt64
}

/// How an IFUNC symbol (GNU indirect function, e.g. glibc's `strlen`) was resolved for a uprobe.
///
/// An IFUNC symbol's address is its resolver, which runs once per process, in the dynamic
/// loader, and returns the implementation for this CPU (`__strlen_avx2`, `__strlen_evex`, ...).
/// A uprobe on the resolver never sees a call to the function. When the probed library is one
/// this process has loaded itself (the same file: device and inode), SwiftBCC asks its own
/// dynamic loader for the symbol (`dlopen` with `RTLD_NOLOAD`, then `dlsym`) and maps the
/// address back to a file offset, so the uprobe sits on the code every process on this CPU
/// runs (unless a process picks another implementation, e.g. through `GLIBC_TUNABLES`).
/// SwiftBCC never loads a library to resolve a symbol (that would run its constructors, as
/// root, in the tracer): for any other library, e.g. one inside a container
/// (`/proc/<pid>/root/...`), the uprobe sits on the resolver, as in Python BCC, and
/// `failure` says why (also printed once as a warning).
public struct IFUNCResolution: Hashable, Sendable, CustomStringConvertible {
    /// The IFUNC symbol, e.g. `strlen`.
    public let symbol: String
    /// File offset of the resolver (where Python BCC 0.26 attaches).
    public let resolverOffset: UInt64
    /// File offset of the implementation the loader picked; nil when it could not be found.
    public let implementationOffset: UInt64?
    /// The implementation's symbol, when the library exports one at that address.
    public let implementationSymbol: String?
    /// Why the implementation could not be found (the uprobe then sits on the resolver).
    public let failure: String?

    /// One line saying where the uprobe sits: the implementation and its offset, or the resolver
    /// and why.
    public var description: String {
        if let implementationOffset {
            let name = implementationSymbol.map { " (\($0))" } ?? ""
            return "IFUNC \(symbol): resolver at 0x\(String(resolverOffset, radix: 16)); attached to the "
                + "implementation the dynamic loader picks on this CPU at 0x\(String(implementationOffset, radix: 16))\(name)"
        }
        return "IFUNC \(symbol): attached to the resolver at 0x\(String(resolverOffset, radix: 16)) as Python BCC does "
            + "(it runs once per process, so the probe sees no calls) because the implementation could not be found: "
            + (failure ?? "unknown reason")
    }
}

extension BPF {
    /// The full path of shared library `lib<name>.so` as the dynamic loader would find it
    /// (ld.so.cache, or the mappings of process `pid` when `pid` > 0), or nil.
    /// `name` may be `"c"`, `"libc"` or `"libc.so.6"`.
    ///
    /// Python: `BPF.find_library(libname)`; libbcc: `bcc_procutils_which_so`.
    public static func findLibrary(_ name: String, pid: Int32 = 0) -> String? {
        guard !name.isEmpty, let p = bcc_procutils_which_so(name, pid < 0 ? 0 : pid) else { return nil }
        defer { bcc_procutils_free(p) }
        return String(cString: p)
    }

    /// The path of executable `binPath`: itself when it contains a `/` and is executable, else
    /// the first executable of that name in the directories of `$PATH`, or nil.
    ///
    /// Python: `BPF.find_exe(bin_path)`.
    public static func findExe(_ binPath: String) -> String? {
        func isExe(_ p: String) -> Bool { FileIO.isRegularFile(p) && access(p, X_OK) == 0 }
        if binPath.contains("/") { return isExe(binPath) ? binPath : nil }
        guard !binPath.isEmpty, let path = getenv("PATH") else { return nil }
        for dir in String(cString: path).split(separator: ":") {
            let d = dir.trimmingCharacters(in: Character("\""))
            let candidate = (d.isEmpty ? "." : d) + "/" + binPath
            if isExe(candidate) { return candidate }
        }
        return nil
    }

    /// The binary a uprobe `name` means: a path as given; else library `lib<name>.so`
    /// (`findLibrary`, in process `pid`'s mappings when `pid` > 0); else executable `name` in
    /// `$PATH` (`findExe`). A path that only process `pid` sees (a container's, in another mount
    /// namespace) is the same path under `/proc/<pid>/root`, where libbcc finds it too (Python
    /// leaves it to libbcc, whose `bcc_resolve_symname` prefixes it).
    static func resolveBinary(_ name: String, pid: Int32 = -1) throws -> String {
        guard !name.isEmpty else {
            throw BPFError.invalidArgument("A uprobe needs a binary: a library name such as \"c\", a path, or an executable name.")
        }
        if name.contains("/") {
            if FileIO.exists(name) { return name }
            if pid > 0, name.hasPrefix("/") {
                let inRoot = "/proc/\(pid)/root" + name
                if FileIO.exists(inRoot) { return inRoot }
            }
            throw BPFError.binaryNotFound(name: name, pid: pid)
        }
        if let lib = findLibrary(name, pid: pid) { return lib }
        if let exe = findExe(name) { return exe }
        throw BPFError.binaryNotFound(name: name, pid: pid)
    }

    /// Every function symbol (`STT_FUNC` and `STT_GNU_IFUNC`) of binary `name` whose name
    /// matches `symRe` from its start (Python's `re.match`).
    ///
    /// Python: `BPF.get_user_functions_and_addresses(name, sym_re)`; libbcc: `bcc_foreach_function_symbol`.
    public static func getUserFunctionsAndAddresses(_ name: String, symRe: String) throws -> [UserSymbol] {
        let path = try resolveBinary(name)
        let regex = try compileRegex(symRe)
        let all = try allFunctionSymbols(path)
        return all.filter { $0.name.prefixMatch(of: regex) != nil }
    }

    /// The names of the functions of `name` matching `symRe`. Python: `BPF.get_user_functions(name, sym_re)`.
    public static func getUserFunctions(_ name: String, symRe: String) throws -> Set<String> {
        Set(try getUserFunctionsAndAddresses(name, symRe: symRe).map(\.name))
    }

    /// The distinct addresses of the functions of `name` matching `symRe` (a uprobe can sit at
    /// an address once, however many names it has). Python: `BPF.get_user_addresses(name, sym_re)`.
    public static func getUserAddresses(_ name: String, symRe: String) throws -> Set<UInt64> {
        Set(try getUserFunctionsAndAddresses(name, symRe: symRe).map(\.address))
    }

    /// bcc_foreach_function_symbol's callback has no payload: one enumeration at a time.
    private static let symbolEnumeration = Lock()
    nonisolated(unsafe) private static var enumerated: [UserSymbol] = []

    static func allFunctionSymbols(_ path: String) throws -> [UserSymbol] {
        try symbolEnumeration.withLock {
            enumerated = []
            defer { enumerated = [] }
            let listed = LibBCC.call("bcc_foreach_function_symbol") { () -> Int32 in
                let rc = bcc_foreach_function_symbol(path) { name, addr in
                    if let name { BPF.enumerated.append(UserSymbol(name: String(cString: name), address: addr)) }
                    return 0
                }
                if rc < 0 { Glibc.errno = ENOEXEC }
                return rc
            }
            if case .failure(let failure) = listed {
                throw BPFError.from(.system(name: "bcc_foreach_function_symbol(\(path))"), failure,
                                    hint: "cannot read the ELF symbols of \(path)")
            }
            return enumerated
        }
    }

    /// The module path (prefixed `/proc/<pid>/root` for a pid) and file offset of `symbol` (or
    /// of the virtual address `addr`) in binary `path`, as Python's `_check_path_symbol`.
    /// `symbolTypes` is a bit mask of ELF symbol types (`1 << STT_*`), all by default.
    ///
    /// libbcc: `bcc_resolve_symname`.
    static func resolveSymbolOffset(path: String, symbol: String?, addr: UInt64, pid: Int32,
                                    symbolTypes: UInt32 = 65535) -> (module: String, offset: UInt64)? {
        var sym = bcc_symbol()
        var option = bcc_symbol_option(use_debug_file: 1, check_debug_file_crc: 1, lazy_symbolize: 1,
                                       use_symbol_type: symbolTypes)
        let cPid: Int32 = pid == -1 ? 0 : pid
        let resolved = LibBCC.call("bcc_resolve_symname") { () -> Int32 in
            bcc_resolve_symname(path, symbol, addr, cPid, &option, &sym) == 0 ? 0 : -1
        }
        guard case .success = resolved, let module = sym.module else { return nil }
        defer { bcc_procutils_free(module) }
        return (String(cString: module), sym.offset)
    }

    /// The file offset of `symbol` in `path` when it is an IFUNC symbol, else nil.
    static func ifuncResolverOffset(path: String, symbol: String, pid: Int32) -> UInt64? {
        resolveSymbolOffset(path: path, symbol: symbol, addr: 0, pid: pid, symbolTypes: 1 << 10)?.offset
    }

    /// Resolves IFUNC `symbol` of library `path` (the file being probed, `/proc/<pid>/root/...`
    /// for a pid) to the implementation this CPU gets, when this process has loaded the same
    /// file (device and inode): asks this process's dynamic loader (`dlopen` with
    /// `RTLD_NOLOAD`, which never loads anything, then `dlsym`) and maps the address it returns
    /// to a file offset through /proc/self/maps. Any other library is not resolved (loading it
    /// here would run its constructors in the tracer); the result then says why.
    static func resolveIFUNC(path: String, symbol: String, resolverOffset: UInt64) -> IFUNCResolution {
        func failed(_ why: String) -> IFUNCResolution {
            IFUNCResolution(symbol: symbol, resolverOffset: resolverOffset, implementationOffset: nil,
                            implementationSymbol: nil, failure: why)
        }
        guard let probed = FileIdentity(path) else {
            return failed("cannot stat \(path): \(Errno.current.text)")
        }
        let own = ProcMaps.mappings(pid: getpid())
        guard let loaded = own.first(where: { $0.inode == probed.inode && FileIdentity($0.path) == probed }) else {
            return failed("\(path) is not a library this process has loaded, and SwiftBCC does not load one into "
                + "the tracer to ask its resolver")
        }
        guard let handle = dlopen(loaded.path, RTLD_LAZY | RTLD_NOLOAD) else {
            return failed("the dynamic loader has not loaded \(loaded.path) (it is only mapped): "
                + (stringOrNil(dlerror()) ?? "unknown error"))
        }
        defer { dlclose(handle) }
        guard let impl = dlsym(handle, symbol) else {
            return failed("dlsym(\(symbol)) found nothing in \(loaded.path)")
        }
        let address = UInt64(UInt(bitPattern: impl))
        guard let mapping = own.first(where: { $0.start <= address && address < $0.end }),
              mapping.inode == probed.inode, FileIdentity(mapping.path) == probed else {
            return failed("dlsym(\(symbol)) returned code outside \(path)")
        }
        let offset = address - mapping.start + mapping.fileOffset
        // A name only when the library exports a symbol that starts exactly there.
        let (name, symOffset, _) = SymbolCache(pid: getpid()).resolve(address, demangle: false)
        let implName = (name != nil && symOffset == 0 && name != symbol) ? name : nil
        return IFUNCResolution(symbol: symbol, resolverOffset: resolverOffset, implementationOffset: offset,
                               implementationSymbol: implName, failure: nil)
    }
}

/// A file's device and inode: two paths name the same file when these are equal.
struct FileIdentity: Equatable {
    let device: UInt64
    let inode: UInt64

    init?(_ path: String) {
        var st = stat()
        guard !path.isEmpty, stat(path, &st) == 0 else { return nil }
        device = UInt64(st.st_dev)
        inode = UInt64(st.st_ino)
    }
}

/// /proc/<pid>/maps.
enum ProcMaps {
    struct Mapping {
        let start: UInt64
        let end: UInt64
        let perms: String
        let fileOffset: UInt64
        /// The mapped file's inode (0 for anonymous memory).
        let inode: UInt64
        let path: String
    }

    static func mappings(pid: Int32) -> [Mapping] {
        guard let text = FileIO.read("/proc/\(pid)/maps") else { return [] }
        var result: [Mapping] = []
        for line in text.split(separator: "\n") {
            let fields = line.split(separator: " ", maxSplits: 5, omittingEmptySubsequences: true)
            guard fields.count >= 5 else { continue }
            let range = fields[0].split(separator: "-")
            guard range.count == 2, let start = UInt64(range[0], radix: 16), let end = UInt64(range[1], radix: 16),
                  let offset = UInt64(fields[2], radix: 16) else { continue }
            let path = fields.count == 6 ? fields[5].trimmingCharacters(in: Character(" ")) : ""
            result.append(Mapping(start: start, end: end, perms: String(fields[1]), fileOffset: offset,
                                  inode: UInt64(fields[4]) ?? 0, path: path))
        }
        return result
    }
}
