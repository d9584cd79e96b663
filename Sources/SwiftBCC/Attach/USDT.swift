internal import CBCC
import Glibc

/// One USDT probe (`<sys/sdt.h>` `DTRACE_PROBE*`) of a binary: provider, name and where it is.
/// Python: `bcc.usdt.USDTProbe`.
public struct USDTProbe: Hashable, Sendable, CustomStringConvertible {
    /// The probe's provider, the first argument of `DTRACE_PROBE*` (`myapp`).
    public let provider: String
    /// The probe's name, the second argument of `DTRACE_PROBE*` (`request`).
    public let name: String
    /// The binary or library that holds the probe.
    public let binPath: String
    /// Virtual address of the probe's semaphore (0 when it has none).
    public let semaphore: UInt64
    /// File offset of the semaphore.
    public let semaphoreOffset: UInt64
    /// How many places in the binary fire the probe (a probe in an inlined function has several).
    public let numLocations: Int
    /// How many arguments the probe passes (`bpf_usdt_readarg(1, ...)` reads the first).
    public let numArguments: Int

    /// `provider:name`. Python: `probe.short_name()`.
    public var shortName: String { "\(provider):\(name)" }

    /// Python: `str(probe)`: `provider:name [sema 0x...]`.
    public var description: String { "\(provider):\(name) [sema 0x\(String(semaphore, radix: 16))]" }
}

/// A USDT context: the USDT probes of a process (`pid`) or binary (`path`), some of them
/// enabled to run BPF functions. Pass it to `BPF(text:usdtContexts:)`: the argument readers
/// libbcc generates (`bpf_usdt_readarg`) are compiled in and the probes attached.
///
/// ```swift
/// let u = try USDT(path: "/usr/bin/myapp")
/// try u.enableProbe(probe: "myapp:request", fnName: "on_request")
/// let b = try BPF(text: program, usdtContexts: [u])
/// ```
///
/// Python: `bcc.usdt.USDT(pid=, path=)`; libbcc: `bcc_usdt_new_frompid`, `bcc_usdt_new_frompath`.
public final class USDT: @unchecked Sendable {
    let context: UnsafeMutableRawPointer
    /// The process instrumented, if any.
    public let pid: Int32?
    /// The binary instrumented, if given.
    public let path: String?
    private let lock = Lock()

    /// Instruments process `pid` (all its binaries, or only `path` when given); semaphores of
    /// enabled probes are set in that process. Python: `USDT(pid=pid, path=None)`.
    public init(pid: Int32, path: String? = nil) throws {
        guard pid > 0 else { throw BPFError.invalidArgument("USDT(pid:) needs a process id > 0; use USDT(path:) for a binary.") }
        let created = LibBCC.call("bcc_usdt_new_frompid", passThrough: false) { bcc_usdt_new_frompid(pid, path) }
        guard case .success(let ctx) = created else {
            throw BPFError.usdtContextFailed(target: "process \(pid)" + (path.map { " (\($0))" } ?? ""))
        }
        self.context = ctx
        self.pid = pid
        self.path = path
    }

    /// Instruments binary `path` for every process that runs it. Python: `USDT(path=path)`.
    public init(path: String) throws {
        guard !path.isEmpty else { throw BPFError.invalidArgument("USDT(path:) needs the path of a binary with USDT probes.") }
        let resolved = path.contains("/") ? path : (BPF.findExe(path) ?? BPF.findLibrary(path) ?? path)
        let created = LibBCC.call("bcc_usdt_new_frompath", passThrough: false) { bcc_usdt_new_frompath(resolved) }
        guard case .success(let ctx) = created else { throw BPFError.usdtContextFailed(target: resolved) }
        self.context = ctx
        self.pid = nil
        self.path = resolved
    }

    deinit { bcc_usdt_close(context) }

    var target: String { pid.map { "process \($0)" } ?? path ?? "?" }

    /// Makes BPF function `fnName` run at USDT probe `probe` (`"name"` or `"provider:name"`).
    /// Python: `u.enable_probe(probe, fn_name)`; libbcc: `bcc_usdt_enable_probe`,
    /// `bcc_usdt_enable_fully_specified_probe`.
    public func enableProbe(probe: String, fnName: String) throws {
        let parts = probe.split(separator: ":", maxSplits: 1).map(String.init)
        let enabled = lock.withLock {
            LibBCC.call("bcc_usdt_enable_probe") { () -> Int32 in
                let rc = parts.count == 2
                    ? bcc_usdt_enable_fully_specified_probe(context, parts[0], parts[1], fnName)
                    : bcc_usdt_enable_probe(context, probe, fnName)
                return rc == 0 ? 0 : -1
            }
        }
        if case .failure(let failure) = enabled {
            let available = enumerateProbes().map(\.shortName)
            throw BPFError.usdtProbeNotFound(probe: probe, target: target, available: available,
                                             detail: failure.output.trimmingTrailingNewlines)
        }
    }

    /// Every USDT probe of the context's binaries. Python: `u.enumerate_probes()`; libbcc: `bcc_usdt_foreach`.
    public func enumerateProbes() -> [USDTProbe] {
        lock.withLock {
            USDT.collectLock.withLock {
                USDT.collected = []
                defer { USDT.collected = [] }
                bcc_usdt_foreach(context) { p in
                    guard let p = p?.pointee else { return }
                    USDT.collected.append(USDTProbe(
                        provider: stringOrNil(p.provider) ?? "", name: stringOrNil(p.name) ?? "",
                        binPath: stringOrNil(p.bin_path) ?? "", semaphore: p.semaphore,
                        semaphoreOffset: p.semaphore_offset, numLocations: Int(p.num_locations),
                        numArguments: Int(p.num_arguments)))
                }
                return USDT.collected
            }
        }
    }

    /// The C type libbcc gives argument `argIndex` (0-based) of `probe` (`"provider:name"` or
    /// `"name"`), e.g. `int64_t`; nil when the context has no such probe. An index outside
    /// `0..<numArguments` throws `.invalidArgument` (libbcc would read past its argument list).
    ///
    /// Python: `u.get_probe_arg_ctype(probe_name, arg_index)`; libbcc: `bcc_usdt_get_probe_argctype`.
    public func getProbeArgCType(probe: String, argIndex: Int) throws -> String? {
        let parts = probe.split(separator: ":", maxSplits: 1).map(String.init)
        let found = enumerateProbes().first {
            parts.count == 2 ? $0.provider == parts[0] && $0.name == parts[1] : $0.name == probe
        }
        guard let found else { return nil }
        guard argIndex >= 0, argIndex < found.numArguments, let index = Int32(exactly: argIndex) else {
            throw BPFError.invalidArgument("Argument index \(argIndex) of USDT probe \(found.shortName) is out of range: "
                + (found.numArguments == 0 ? "the probe has no arguments."
                                           : "give a 0-based index below its \(found.numArguments) arguments."))
        }
        return lock.withLock {
            parts.count == 2
                ? stringOrNil(bcc_usdt_get_fully_specified_probe_argctype(context, parts[0], parts[1], index))
                : stringOrNil(bcc_usdt_get_probe_argctype(context, probe, index))
        }
    }

    /// The C text libbcc generates to read the enabled probes' arguments (what `BPF` prepends
    /// to the program). Python: `u.get_text()`; libbcc: `bcc_usdt_genargs`.
    public func getText() throws -> String {
        try USDT.generateArguments([self])
    }

    /// (binary, function, address, pid) for every enabled probe location.
    struct ActiveProbe: Hashable {
        let binPath: String
        let fnName: String
        let address: UInt64
        let pid: Int32
    }

    /// Python: `u.enumerate_active_probes()`; libbcc: `bcc_usdt_foreach_uprobe`.
    func enumerateActiveProbes() -> [ActiveProbe] {
        lock.withLock {
            USDT.collectLock.withLock {
                USDT.active = []
                defer { USDT.active = [] }
                bcc_usdt_foreach_uprobe(context) { bin, fn, addr, pid in
                    USDT.active.append(ActiveProbe(binPath: stringOrNil(bin) ?? "", fnName: stringOrNil(fn) ?? "",
                                                   address: addr, pid: pid))
                }
                return USDT.active
            }
        }
    }

    /// libbcc's generated argument readers for `contexts`. libbcc keeps the text in a static
    /// buffer: one call at a time, copied at once.
    static func generateArguments(_ contexts: [USDT]) throws -> String {
        try collectLock.withLock {
            var ptrs: [UnsafeMutableRawPointer?] = contexts.map { $0.context }
            let generated = LibBCC.call("bcc_usdt_genargs", passThrough: false) {
                ptrs.withUnsafeMutableBufferPointer { bcc_usdt_genargs($0.baseAddress, Int32($0.count)) }.map { String(cString: $0) }
            }
            switch generated {
            case .success(let text): return text
            case .failure(let failure): throw BPFError.usdtArgumentsFailed(detail: failure.output.trimmingTrailingNewlines)
            }
        }
    }

    // libbcc's USDT callbacks take no payload: collected here, one enumeration at a time.
    private static let collectLock = Lock()
    nonisolated(unsafe) private static var collected: [USDTProbe] = []
    nonisolated(unsafe) private static var active: [ActiveProbe] = []
}
