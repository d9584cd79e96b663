internal import CBCC
import Glibc
import Synchronization

/// A BPF module compiled from restricted C by libbcc, and everything loaded and attached from
/// it. Python: `bcc.BPF`.
///
/// ```swift
/// let b = try BPF(text: #"int hello(void *ctx) { bpf_trace_printk("Hello World!\n"); return 0; }"#)
/// try b.attachKprobe(event: b.getSyscallFnName("execve"), fnName: "hello")
/// try b.tracePrint()
/// ```
///
/// A `BPF` owns the module, the loaded function fds and every attachment. `cleanup()` (also
/// run by `deinit` and at process exit) detaches probes, then closes readers and buffers, then
/// destroys the module, in Python BCC's order. All methods are safe to call from any thread.
public final class BPF: @unchecked Sendable {
    /// A loaded function: its name, program type and program fd. Python: `BPF.Function`.
    public struct Function: Hashable, Sendable {
        /// The function's name in the C source.
        public let name: String
        /// The program type it was loaded as.
        public let type: ProgramType
        /// The program's file descriptor, owned by the `BPF` (closed by `cleanup()`).
        public let fd: Int32
    }

    struct FunctionKey: Hashable {
        let name: String
        let type: ProgramType
    }

    /// The debug flags this module was compiled with.
    public let debug: DebugFlags
    /// `"<text>"` or the source file's path, for messages.
    public let sourceName: String
    /// What the program was compiled from (for the compile cache and the printer module).
    let compileInputs: CompileCacheKey.Inputs
    /// Whether libbcc may raise RLIMIT_MEMLOCK (used again by a warm start's loads).
    let allowRlimit: Bool
    /// Functions clang warned were implicitly declared (called but not defined): a load that
    /// fails after such a call is reported as `.undefinedFunction`.
    private(set) var undeclaredFunctions: [(name: String, diagnostic: String)] = []

    /// Everything that changes after init, guarded by one lock (see `State`).
    let state = LockedBox(State())
    /// Open perf buffers and ring buffers (Events/). Lock order: `state`, then `eventReaders`'
    /// own lock; event callbacks run with neither held.
    let eventReaders = EventReaders()
    /// Set once by `cleanup()`; atomic, so any thread may read it without the lock.
    private let closedFlag = Atomic<Bool>(false)
    var isClosed: Bool { closedFlag.load(ordering: .acquiring) }

    /// A `BPF`'s mutable state. Only reachable inside `state.withLock`, which is not recursive:
    /// functions that need it while it is locked take it as `inout State`.
    struct State {
        /// The compiled program: libbcc's module, or one rebuilt from the compile cache; nil
        /// after `cleanup()`.
        var module: ModuleSource?
        /// A libbcc module compiled on first use of `keySprintf`/`keyScanf` (libbcc's
        /// LLVM-generated printers and parsers) when `module` came from the cache.
        var printerModule: UnsafeMutableRawPointer?
        var functions: [FunctionKey: Function] = [:]
        /// Every attachment, of every family (Attach/).
        var attachments = AttachmentStore()
        var tracePipe: TracePipe?
        /// Tables opened through `table(_:)` / `b["name"]`.
        var tables: [String: Table] = [:]
        /// USDT contexts compiled into this module, kept alive (their semaphores stay set) until cleanup.
        var usdtContexts: [USDT] = []

        /// The module; throws `.closed` after `cleanup()`.
        func requireModule() throws -> ModuleSource {
            guard let module else { throw BPFError.closed }
            return module
        }

        /// The module's function names, in libbcc's order (none after cleanup).
        var functionNames: [String] {
            module?.functionNames ?? []
        }
    }

    // MARK: Compile

    /// Compiles `text` with libbcc (clang/LLVM) and auto-attaches its `kprobe__*`,
    /// `kretprobe__*`, `tracepoint__*` and `raw_tracepoint__*` functions.
    /// - Parameters:
    ///   - text: the program's restricted C source.
    ///   - cflags: extra clang flags, e.g. `["-DMAX=10"]`.
    ///   - debug: `DEBUG_*` flags; their output goes to stderr.
    ///   - usdtContexts: USDT contexts whose enabled probes the program handles: libbcc's
    ///     argument readers (`bpf_usdt_readarg`) are prepended to `text` and the probes attached;
    ///     with `attachUSDTIgnorePID`, in every process rather than the context's.
    ///   - allowRlimit: whether libbcc may raise `RLIMIT_MEMLOCK` and retry when creating a map
    ///     or loading a program fails with `EPERM` (Python's `allow_rlimit`).
    ///   - device: the network device to offload the programs and maps to (Python's `device`),
    ///     or nil for none.
    ///   - attachUSDTIgnorePID: attach the USDT contexts' probes in every process running the
    ///     binary, not only the contexts' pids (Python's `attach_usdt_ignore_pid`).
    ///   - cache: whether to use the compile cache (a warm start creates the maps and loads the
    ///     cached instructions without running clang; see docs/Performance.md, "Compile cache").
    ///     `SWIFTBCC_CACHE=0` in the environment turns it off too.
    ///   - autoAttach: whether to load and attach the functions whose names say where they go
    ///     (``autoAttach()``) now, as Python does; `false` leaves it to a later `autoAttach()`
    ///     call, so a caller can check the tables first and attach nothing when they are wrong.
    /// - Throws: `BPFError.compileFailed` with clang's diagnostics,
    ///   `BPFError.kernelHeadersNotFound` when libbcc finds no kernel headers.
    ///
    /// Python: `BPF(text=..., cflags=[...], debug=0)`; libbcc: `bpf_module_create_c_from_string`.
    public convenience init(text: String, cflags: [String] = [], debug: DebugFlags = [],
                            usdtContexts: [USDT] = [], allowRlimit: Bool = true, device: String? = nil,
                            attachUSDTIgnorePID: Bool = false, cache: Bool = true, autoAttach: Bool = true) throws {
        try self.init(compiling: text, sourceName: "<text>", cflags: cflags, debug: debug,
                      allowRlimit: allowRlimit, device: device, usdtContexts: usdtContexts,
                      attachUSDTIgnorePID: attachUSDTIgnorePID, cache: cache, autoAttach: autoAttach)
    }

    /// Compiles the C file at `srcFile`. A relative path that does not exist from the current
    /// directory is looked up beside the executable, as Python does. A quoted `#include "x.h"`
    /// resolves against the current directory (as in Python BCC) and the source file's directory.
    ///
    /// The parameters are `init(text:...)`'s, and `hdrFile`, a header that must exist (Python
    /// checks it; the program includes it itself).
    ///
    /// Python: `BPF(src_file=..., hdr_file=..., cflags=[...], debug=0)`.
    public convenience init(srcFile: String, hdrFile: String? = nil, cflags: [String] = [],
                            debug: DebugFlags = [], usdtContexts: [USDT] = [], allowRlimit: Bool = true,
                            device: String? = nil, attachUSDTIgnorePID: Bool = false, cache: Bool = true,
                            autoAttach: Bool = true) throws {
        let path = try Self.findFile(srcFile)
        if let hdrFile { _ = try Self.findFile(hdrFile) }
        guard let text = FileIO.read(path) else {
            throw BPFError.systemCall(name: "open(\(path))", errno: .current, detail: "cannot read the BPF source file")
        }
        let dir = path.contains("/") ? String(path[..<path.lastIndex(of: "/")!]) : "."
        try self.init(compiling: text, sourceName: path, cflags: cflags + ["-iquote", dir.isEmpty ? "/" : dir],
                      debug: debug, allowRlimit: allowRlimit, device: device, usdtContexts: usdtContexts,
                      attachUSDTIgnorePID: attachUSDTIgnorePID, cache: cache, autoAttach: autoAttach)
    }

    init(compiling programText: String, sourceName: String, cflags: [String], debug: DebugFlags,
         allowRlimit: Bool, device: String?, usdtContexts: [USDT] = [], attachUSDTIgnorePID: Bool = false,
         cache: Bool = true, autoAttach attachNow: Bool = true, compileInChild: Bool? = nil) throws {
        self.debug = debug
        self.sourceName = sourceName
        self.allowRlimit = allowRlimit
        try CFlags.validate(cflags)
        KernelInfo.warnOnceIfHeadersMismatch()
        StaleProbes.reap()
        let text = CountedRingBuffers.rewrite(try Self.prependingUSDTArguments(usdtContexts, to: programText))
        compileInputs = CompileCacheKey.Inputs(text: text, cflags: cflags, debug: debug, device: device)
        let module = try Self.compile(compileInputs, cache: cache, allowRlimit: allowRlimit, usdtContexts: usdtContexts.count,
                                      sourceName: sourceName, programText: programText, inChild: compileInChild)
        // clang's warnings (replayed on a warm start) went on to stderr; the ones a later load
        // failure can explain are kept.
        undeclaredFunctions = Compilation.undeclaredFunctions(in: module.output)
        state.withLock { $0.module = module.source }
        Registry.add(self)
        do {
            try attachUSDTProbes(usdtContexts, ignorePID: attachUSDTIgnorePID)
            if attachNow { try autoAttach() }
        } catch {
            cleanup()
            throw error
        }
    }

    deinit {
        cleanup()
    }

    /// Python's `_find_file`: the path itself, else the same name beside the executable.
    static func findFile(_ name: String) throws -> String {
        if FileIO.isRegularFile(name) { return name }
        var searched = [name]
        if !name.hasPrefix("/"), let exe = FileIO.readLink("/proc/self/exe"), let slash = exe.lastIndex(of: "/") {
            let candidate = String(exe[..<slash]) + "/" + name
            searched.append(candidate)
            if FileIO.isRegularFile(candidate) { return candidate }
        }
        throw BPFError.sourceFileNotFound(path: name, searched: searched)
    }

    /// Runs `body` with the libbcc module, holding the state lock (so `cleanup()` cannot
    /// destroy the module meanwhile); throws `.closed` after `cleanup()`.
    func withModule<T>(_ body: (ModuleSource) throws -> T) throws -> T {
        try state.withLock { try body($0.requireModule()) }
    }

    // MARK: Functions

    /// The names of the functions the module defines, in libbcc's order.
    /// libbcc: `bpf_num_functions`, `bpf_function_name`.
    public var functionNames: [String] {
        state.withLock { $0.functionNames }
    }

    /// Loads function `name` as a program of `type`; cached per name and type, so loading twice
    /// returns the same fd. A verifier rejection throws `.loadFailed` with the verifier's log.
    ///
    /// Python: `b.load_func(name, BPF.KPROBE)`; libbcc: `bcc_func_load`.
    @discardableResult
    public func loadFunction(_ name: String, type: ProgramType, device: String? = nil,
                             attachType: AttachType? = nil) throws -> Function {
        try state.withLock { try load(&$0, name, type: type, device: device, attachType: attachType) }
    }

    /// `loadFunction` with the state locked.
    func load(_ s: inout State, _ name: String, type: ProgramType, device: String? = nil,
              attachType: AttachType? = nil) throws -> Function {
        let key = FunctionKey(name: name, type: type)
        if let fn = s.functions[key] { return fn }
        let m = try s.requireModule()
        try Self.requireNoNUL(name, "function name")
        let logLevel: Int32 = debug.contains(.bpfRegisterState) ? 2 : debug.contains(.bpf) ? 1 : 0
        let loaded = m.withInstructions(name) { insns in
            insns.map { m.load(name, insns: $0, type: type, logLevel: logLevel, device: device, attachType: attachType,
                               allowRlimit: allowRlimit) }
        }
        guard let loaded else {
            throw BPFError.functionNotFound(name: name, available: s.functionNames)
        }
        switch loaded {
        case .failure(let failure):
            if let undeclared = undeclaredFunctions.first {
                throw BPFError.undefinedFunction(name: undeclared.name, function: name, diagnostics: undeclared.diagnostic)
            }
            throw BPFError.from(.load(function: name, type: type), failure)
        case .success(let fd):
            let fn = Function(name: name, type: type, fd: fd)
            s.functions[key] = fn
            return fn
        }
    }

    /// Loads `name` as `type` and runs `body` with it; when `body` throws and the function was
    /// loaded just for this call, it is unloaded again, so a failed attach leaves nothing loaded
    /// (and a function loaded before, by the user or another attach, stays loaded). `loadError`
    /// turns a load failure into the error the attach reports.
    func withFunction<T>(_ s: inout State, _ name: String, type: ProgramType,
                         loadError: (BPFError) -> BPFError = { $0 },
                         _ body: (inout State, Function) throws -> T) throws -> T {
        let key = FunctionKey(name: name, type: type)
        let wasLoaded = s.functions[key] != nil
        let fn: Function
        do { fn = try load(&s, name, type: type) } catch let error as BPFError { throw loadError(error) }
        do {
            return try body(&s, fn)
        } catch {
            if !wasLoaded, s.functions.removeValue(forKey: key) != nil { Glibc.close(fn.fd) }
            throw error
        }
    }

    /// The attach skeleton every family shares: with the state locked, `.alreadyAttached` when
    /// `A` has `key` already, load `fnName` as `type` (unloaded again if the attach fails),
    /// `make` the attachment (the family's libbcc call), and store it.
    @discardableResult
    func attach<A: Attachment>(_ s: inout State, _ type: A.Type, key: String, kind: String, target: String,
                               fnName: String, programType: ProgramType,
                               loadError: (BPFError) -> BPFError = { $0 },
                               _ make: (Function) throws -> A) throws -> A {
        _ = try s.requireModule()
        try Self.requireNoNUL(target, "\(kind) target")
        try s.attachments.ensureAbsent(A.self, key, kind: kind, target: target)
        return try withFunction(&s, fnName, type: programType, loadError: loadError) { s, fn in
            let a = try make(fn)
            s.attachments.put(a)
            return a
        }
    }

    /// The detach skeleton: removes `A`'s attachment `key` (`.notAttached` when absent) and
    /// detaches it.
    func detach<A: Attachment>(_ type: A.Type, key: String, kind: String, target: String) throws {
        try state.withLock { s in
            _ = try s.requireModule()
            try s.attachments.remove(A.self, key, kind: kind, target: target).detach()
        }
    }

    /// How many attachments `family` has.
    func numOpen(_ family: AttachmentFamily) -> Int {
        state.withLock { $0.attachments.count(family) }
    }

    /// Loads every function of the module as `type`. Python: `b.load_funcs(prog_type)`.
    @discardableResult
    public func loadFunctions(type: ProgramType = .kprobe) throws -> [Function] {
        try state.withLock { s in
            _ = try s.requireModule()
            return try s.functionNames.map { try load(&s, $0, type: type) }
        }
    }

    /// Throws `.closed` after `cleanup()`: for calls that do work (resolving symbols, reading
    /// tracefs) before they reach the module.
    func requireOpen() throws {
        if isClosed { throw BPFError.closed }
    }

    /// Names reach C as NUL-terminated strings: a NUL inside would cut them short silently.
    static func requireNoNUL(_ text: String, _ what: String) throws {
        if text.utf8.contains(0) {
            throw BPFError.invalidArgument("The \(what) \(text.debugDescription) contains a NUL character; "
                + "C would see only \(String(text.prefix { $0 != "\0" }).debugDescription).")
        }
    }

    /// The compiled BPF instructions of function `name`. Python: `b.dump_func(name)`.
    public func dumpFunction(_ name: String) throws -> [UInt8] {
        try state.withLock { s in
            let m = try s.requireModule()
            guard let insns = m.withInstructions(name, { $0.map { Array($0) } }) else {
                throw BPFError.functionNotFound(name: name, available: s.functionNames)
            }
            return insns
        }
    }

    // MARK: Cleanup

    /// Detaches every probe, closes trace_pipe, readers and buffers, closes the function fds
    /// and destroys the module. Idempotent; `deinit` and process exit call it too.
    /// Python: `b.cleanup()`.
    public func cleanup() {
        state.withLock { s in
            guard !isClosed else { return }
            closedFlag.store(true, ordering: .releasing)
            // Attachments newest first (probes, links, XDP, sockets), then readers and buffers,
            // then the module: Python BCC's order.
            for attachment in s.attachments.removeAll() { attachment.detach() }
            eventReaders.close()
            s.tracePipe?.close()
            s.tracePipe = nil
            for table in s.tables.values { table.closeForCleanup() }
            s.tables.removeAll()
            for fn in s.functions.values { Glibc.close(fn.fd) }
            s.functions.removeAll()
            if let m = s.module {
                m.destroy()
                s.module = nil
            }
            if let p = s.printerModule {
                Compiler.api.bpf_module_destroy!(p)
                s.printerModule = nil
            }
            s.usdtContexts.removeAll()
        }
        Registry.remove(self)
    }
}

/// Live `BPF` objects, cleaned up at process exit like Python's `atexit.register(self.cleanup)`
/// (a `BPF` held in a top-level `let` is never deinitialized).
enum Registry {
    struct Weak { weak var bpf: BPF? }
    private struct Live {
        var bpfs: [ObjectIdentifier: Weak] = [:]
        var registered = false
    }
    private static let live = LockedBox(Live())

    static func add(_ bpf: BPF) {
        live.withLock { l in
            l.bpfs[ObjectIdentifier(bpf)] = Weak(bpf: bpf)
            if !l.registered {
                l.registered = true
                atexit { Registry.cleanupAll() }
            }
        }
    }

    static func remove(_ bpf: BPF) {
        live.withLock { _ = $0.bpfs.removeValue(forKey: ObjectIdentifier(bpf)) }
    }

    static func cleanupAll() {
        let all = live.withLock { $0.bpfs.values.compactMap(\.bpf) }
        all.forEach { $0.cleanup() }
    }
}
