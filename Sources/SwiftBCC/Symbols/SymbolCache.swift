internal import CBCC
import Glibc

/// One libbcc symbol cache (`bcc_symcache_new`) for a pid; pid -1 is the kernel.
final class SymbolCache: @unchecked Sendable {
    private let cache: UnsafeMutableRawPointer?
    let pid: Int32
    /// Serializes libbcc's cache, which is not thread-safe (guards no Swift state).
    private let lock = Lock()

    init(pid: Int32) {
        self.pid = pid
        self.cache = bcc_symcache_new(pid, nil)
    }

    deinit { if let cache { bcc_free_symcache(cache, pid) } }

    /// (name, offset, module) for an address, as Python's `SymbolCache.resolve`.
    func resolve(_ addr: UInt64, demangle: Bool) -> (name: String?, offset: UInt64, module: String?) {
        guard let cache else { return (nil, addr, nil) }
        return lock.withLock {
            var sym = bcc_symbol()
            let res = demangle ? bcc_symcache_resolve(cache, addr, &sym)
                               : bcc_symcache_resolve_no_demangle(cache, addr, &sym)
            if res < 0 {
                if sym.module != nil && sym.offset != 0 {
                    return (nil, sym.offset, stringOrNil(sym.module))
                }
                return (nil, addr, nil)
            }
            let name: String?
            if demangle {
                name = stringOrNil(sym.demangle_name) ?? stringOrNil(sym.name)
                bcc_symbol_free_demangle_name(&sym)
            } else {
                name = stringOrNil(sym.name)
            }
            return (name, sym.offset, stringOrNil(sym.module))
        }
    }

    /// The address of `name` (in `module`, or anywhere for the kernel), as Python's `resolve_name`.
    func resolveName(module: String?, name: String) -> UInt64? {
        guard let cache else { return nil }
        return lock.withLock {
            var addr: UInt64 = 0
            let res: Int32
            if let module {
                res = bcc_symcache_resolve_name(cache, module, name, &addr)
            } else {
                res = bcc_symcache_resolve_name(cache, nil, name, &addr)
            }
            return res < 0 ? nil : addr
        }
    }

    func refresh() {
        guard let cache else { return }
        lock.withLock { bcc_symcache_refresh(cache) }
    }

    private static let caches = LockedBox<[Int32: SymbolCache]>([:])

    /// The shared cache for a pid; any pid below zero means the kernel (pid -1).
    static func forPid(_ pid: Int32) -> SymbolCache {
        let key: Int32 = pid < 0 ? -1 : pid
        return caches.withLock { caches in
            if let c = caches[key] { return c }
            let c = SymbolCache(pid: key)
            caches[key] = c
            return c
        }
    }
}

extension BPF {
    /// Translates an address into a symbol name for a process (`pid` < 0: the kernel).
    /// With `showOffset`, `+0x<offset>` follows the name; with `showModule`, ` [<module>]`.
    /// Unknown addresses give `[unknown]`.
    /// Python: `BPF.sym(addr, pid, show_module, show_offset, demangle)`; libbcc: `bcc_symcache_resolve`.
    public static func sym(_ addr: UInt64, pid: Int32, showModule: Bool = false, showOffset: Bool = false,
                           demangle: Bool = true) -> String {
        let (name, offset, module) = SymbolCache.forPid(pid).resolve(addr, demangle: demangle)
        var s = name ?? "[unknown]"
        if showOffset && name != nil { s += "+0x" + String(offset, radix: 16) }
        if showModule, let module {
            let base = module.split(separator: "/").last.map(String.init) ?? module
            s += " [\(base)]"
        }
        return s
    }

    /// Translates a kernel address into a kernel function name, e.g. `default_idle+0x0 [kernel]`.
    /// Python: `BPF.ksym(addr, show_module, show_offset)`; libbcc: `bcc_symcache_resolve_no_demangle`.
    public static func ksym(_ addr: UInt64, showModule: Bool = false, showOffset: Bool = false) -> String {
        sym(addr, pid: -1, showModule: showModule, showOffset: showOffset, demangle: false)
    }

    /// The address of a kernel symbol, or nil when the kernel has none by that name
    /// (Python returns -1). Python: `BPF.ksymname(name)`; libbcc: `bcc_symcache_resolve_name`.
    public static func ksymname(_ name: String) -> UInt64? {
        SymbolCache.forPid(-1).resolveName(module: nil, name: name)
    }

    /// The addresses of those of `names` that are kernel symbols (a name missing from the
    /// result has none), by one scan of /proc/kallsyms that stops once it has seen them all,
    /// with the rules of libbcc's symbol cache that ``ksymname(_:)-type.method`` asks (kernel
    /// addresses, no data symbols; the first address of a name listed twice). For a tool's
    /// start, which asks whether a few functions exist: the symbol cache reads and sorts all of
    /// /proc/kallsyms (0.12-0.15 s here, seconds under qemu TCG) on its first use.
    /// Python: one `BPF.ksymname(name)` per name.
    public static func ksymnames(_ names: some Sequence<String>) -> [String: UInt64] {
        var found: [String: UInt64] = [:]
        for symbol in KernelSymbolScan.scan(path: "/proc/kallsyms", wanted: Set(names)) ?? [] where found[symbol.name] == nil {
            found[symbol.name] = symbol.address
        }
        return found
    }

    /// Instance form of ``BPF/sym(_:pid:showModule:showOffset:demangle:)-type.method``. Python: `b.sym(...)`.
    public func sym(_ addr: UInt64, pid: Int32, showModule: Bool = false, showOffset: Bool = false,
                    demangle: Bool = true) -> String {
        Self.sym(addr, pid: pid, showModule: showModule, showOffset: showOffset, demangle: demangle)
    }

    /// Instance form of ``BPF/ksym(_:showModule:showOffset:)-type.method``. Python: `b.ksym(addr)`.
    public func ksym(_ addr: UInt64, showModule: Bool = false, showOffset: Bool = false) -> String {
        Self.ksym(addr, showModule: showModule, showOffset: showOffset)
    }

    /// Instance form of ``BPF/ksymname(_:)-type.method``. Python: `b.ksymname(name)`.
    public func ksymname(_ name: String) -> UInt64? { Self.ksymname(name) }
}
