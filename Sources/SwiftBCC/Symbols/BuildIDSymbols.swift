internal import CBCC
import Glibc

/// The process-wide build-id symbol cache (`bcc_buildsymcache_new`), as Python's `BPF._bsymcache`:
/// modules added with ``BPF/addModule(_:)`` resolve the frames of a `BPF_F_STACK_BUILD_ID` stack.
enum BuildIDSymbolCache {
    private static let lock = Lock()
    nonisolated(unsafe) private static let cache: UnsafeMutableRawPointer? = bcc_buildsymcache_new()

    static func add(_ module: String) -> Int32 {
        guard let cache else { return -1 }
        return lock.withLock { bcc_buildsymcache_add_module(cache, module) }
    }

    static func resolve(buildID: [UInt8], offset: UInt64) -> (name: String?, offset: UInt64, module: String?) {
        guard let cache else { return (nil, offset, nil) }
        return lock.withLock {
            var trace = bpf_stack_build_id()
            trace.status = 1  // BPF_STACK_BUILD_ID_VALID
            withUnsafeMutableBytes(of: &trace.build_id) { raw in
                for (i, b) in buildID.prefix(raw.count).enumerated() { raw[i] = b }
            }
            trace.offset = offset
            var sym = bcc_symbol()
            guard bcc_buildsymcache_resolve(cache, &trace, &sym) == 0 else { return (nil, offset, nil) }
            return (stringOrNil(sym.name), sym.offset, stringOrNil(sym.module))
        }
    }
}

extension BPF {
    /// Adds the executable or library at `path` to the build-id symbol cache, so frames of a
    /// `BPF_STACK_TRACE_BUILDID` stack in it resolve with ``BPF/sym(buildID:offset:showModule:showOffset:)``.
    /// Python prints an error and goes on; this throws `.systemCall` (`ENOENT` for a missing
    /// file, else `EINVAL`: no build id or not an ELF file).
    /// Python: `BPF.add_module(modname)`; libbcc: `bcc_buildsymcache_add_module`.
    public static func addModule(_ path: String) throws {
        guard access(path, R_OK) == 0 else {
            throw BPFError.systemCall(name: "bcc_buildsymcache_add_module(\(path))", errno: .current,
                                      detail: "give the path of an executable or shared library")
        }
        if case .failure(let failure) = LibBCC.call("bcc_buildsymcache_add_module", { BuildIDSymbolCache.add(path) == 0 ? 0 : -1 }) {
            throw BPFError.systemCall(name: "bcc_buildsymcache_add_module(\(path))", errno: .EINVAL,
                                      detail: "libbcc could not read a build id from it (link it with -Wl,--build-id)"
                                          + (failure.output.isEmpty ? "" : ": " + failure.output.trimmingTrailingNewlines))
        }
    }

    /// The symbol for a build-id frame (`struct bpf_stack_build_id`: the module's 20-byte build
    /// id and the offset in it), from the modules ``addModule(_:)`` added; `[unknown]` when none
    /// matches. Python: `BPF.sym(addr, pid)` with a `bpf_stack_build_id` `addr`; libbcc:
    /// `bcc_buildsymcache_resolve`.
    public static func sym(buildID: [UInt8], offset: UInt64, showModule: Bool = false, showOffset: Bool = false) -> String {
        let (name, off, module) = BuildIDSymbolCache.resolve(buildID: buildID, offset: offset)
        var s = name ?? "[unknown]"
        if showOffset && name != nil { s += "+0x" + String(off, radix: 16) }
        if showModule, let module {
            s += " [\(module.split(separator: "/").last.map(String.init) ?? module)]"
        }
        return s
    }
}
