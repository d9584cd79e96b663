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
        public let name: String
        public let type: ProgramType
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

    let lock = Lock()
    private var modulePointer: UnsafeMutableRawPointer?
    var functions: [FunctionKey: Function] = [:]
    /// kprobe event name ("p_<event>" / "r_<event>") -> function name -> perf event fd.
    var kprobeFDs: [String: [String: Int32]] = [:]
    /// "category:event" -> perf event fd.
    var tracepointFDs: [String: Int32] = [:]
    /// raw tracepoint name -> link fd.
    var rawTracepointFDs: [String: Int32] = [:]
    /// uprobe event name ("p_..." / "r_...") -> the attachment and its perf event fd.
    var uprobes: [String: UprobeRecord] = [:]
    /// (type, config) -> cpu -> perf event fd.
    var perfEvents: [PerfEventKey: [Int32: Int32]] = [:]
    /// Device name -> the XDP flags this BPF attached a program with.
    var xdpDevices: [String: XDPFlags] = [:]
    /// Raw sockets opened by `attachRawSocket`, closed at cleanup.
    var rawSockets: [Int32] = []
    /// USDT contexts compiled into this module, kept alive (their semaphores stay set) until cleanup.
    var usdtContexts: [USDT] = []
    /// kfunc (fentry), kretfunc (fexit) and LSM function name -> link fd.
    var kfuncEntryFDs: [String: Int32] = [:]
    var kfuncExitFDs: [String: Int32] = [:]
    var lsmFDs: [String: Int32] = [:]
    var tracePipe: TracePipe?
    /// Tables opened through `table(_:)` / `b["name"]`.
    var tables: [String: Table] = [:]
    /// Open perf buffers and ring buffers (Events/).
    let eventReaders = EventReaders()
    /// Set once by `cleanup()`; atomic, so any thread may read it without the lock.
    private let closedFlag = Atomic<Bool>(false)
    var isClosed: Bool { closedFlag.load(ordering: .acquiring) }

    // MARK: Compile

    /// Compiles `text` with libbcc (clang/LLVM) and auto-attaches its `kprobe__*`,
    /// `kretprobe__*`, `tracepoint__*` and `raw_tracepoint__*` functions.
    /// - Parameters:
    ///   - cflags: extra clang flags, e.g. `["-DMAX=10"]`.
    ///   - debug: `DEBUG_*` flags; their output goes to stderr.
    ///   - usdtContexts: USDT contexts whose enabled probes the program handles: libbcc's
    ///     argument readers (`bpf_usdt_readarg`) are prepended to `text` and the probes attached;
    ///     with `attachUsdtIgnorePid`, in every process rather than the context's.
    /// - Throws: `BPFError.compileFailed` with clang's diagnostics,
    ///   `BPFError.kernelHeadersNotFound` when libbcc finds no kernel headers.
    ///
    /// Python: `BPF(text=..., cflags=[...], debug=0)`; libbcc: `bpf_module_create_c_from_string`.
    public convenience init(text: String, cflags: [String] = [], debug: DebugFlags = [],
                            usdtContexts: [USDT] = [], allowRlimit: Bool = true, device: String? = nil,
                            attachUsdtIgnorePid: Bool = false) throws {
        try self.init(compiling: text, sourceName: "<text>", cflags: cflags, debug: debug,
                      allowRlimit: allowRlimit, device: device, usdtContexts: usdtContexts,
                      attachUsdtIgnorePid: attachUsdtIgnorePid)
    }

    /// Compiles the C file at `srcFile`. A relative path that does not exist from the current
    /// directory is looked up beside the executable, as Python does. A quoted `#include "x.h"`
    /// resolves against the current directory (as in Python BCC) and the source file's directory.
    ///
    /// Python: `BPF(src_file=..., hdr_file=..., cflags=[...], debug=0)`.
    public convenience init(srcFile: String, hdrFile: String? = nil, cflags: [String] = [],
                            debug: DebugFlags = [], usdtContexts: [USDT] = [], allowRlimit: Bool = true,
                            device: String? = nil, attachUsdtIgnorePid: Bool = false) throws {
        let path = try Self.findFile(srcFile)
        if let hdrFile { _ = try Self.findFile(hdrFile) }
        guard let text = FileIO.read(path) else {
            throw BPFError.systemCall(name: "open(\(path))", errno: errno, detail: "cannot read the BPF source file")
        }
        let dir = path.contains("/") ? String(path[..<path.lastIndex(of: "/")!]) : "."
        try self.init(compiling: text, sourceName: path, cflags: cflags + ["-iquote", dir.isEmpty ? "/" : dir],
                      debug: debug, allowRlimit: allowRlimit, device: device, usdtContexts: usdtContexts,
                      attachUsdtIgnorePid: attachUsdtIgnorePid)
    }

    init(compiling programText: String, sourceName: String, cflags: [String], debug: DebugFlags,
         allowRlimit: Bool, device: String?, usdtContexts: [USDT] = [], attachUsdtIgnorePid: Bool = false) throws {
        self.debug = debug
        self.sourceName = sourceName
        KernelInfo.warnOnceIfHeadersMismatch()
        StaleProbes.reap()
        let text = try Self.prependingUSDTArguments(usdtContexts, to: programText)
        let (module, output) = StderrCapture.capture(includingStdout: true) {
            withCStringArray(cflags) { array, count in
                bpf_module_create_c_from_string(text, debug.rawValue, array, count, allowRlimit, device)
            }
        }
        guard let module else {
            if output.text.contains("Unable to find kernel headers") {
                throw BPFError.kernelHeadersNotFound(release: KernelInfo.release,
                                                     searched: KernelInfo.headerSearchPaths,
                                                     package: KernelInfo.headersPackage,
                                                     diagnostics: output.text)
            }
            throw BPFError.compileFailed(source: sourceName, diagnostics: output.text)
        }
        output.passThrough()
        modulePointer = module
        Registry.add(self)
        do {
            try attachUSDTProbes(usdtContexts, ignorePid: attachUsdtIgnorePid)
            try autoAttach()
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

    /// The libbcc module pointer; throws `.closed` after `cleanup()`.
    func module() throws -> UnsafeMutableRawPointer {
        try lock.withLock {
            guard let modulePointer else { throw BPFError.closed }
            return modulePointer
        }
    }

    // MARK: Functions

    /// The names of the functions the module defines, in libbcc's order.
    /// libbcc: `bpf_num_functions`, `bpf_function_name`.
    public var functionNames: [String] {
        lock.withLock {
            guard let m = modulePointer else { return [] }
            return (0..<bpf_num_functions(m)).compactMap { stringOrNil(bpf_function_name(m, $0)) }
        }
    }

    /// Loads function `name` as a program of `type`; cached per name and type, so loading twice
    /// returns the same fd. A verifier rejection throws `.loadFailed` with the verifier's log.
    ///
    /// Python: `b.load_func(name, BPF.KPROBE)`; libbcc: `bcc_func_load`.
    @discardableResult
    public func loadFunction(_ name: String, type: ProgramType, device: String? = nil,
                             attachType: AttachType? = nil) throws -> Function {
        try lock.withLock {
            let key = FunctionKey(name: name, type: type)
            if let fn = functions[key] { return fn }
            let m = try module()
            guard let start = bpf_function_start(m, name) else {
                throw BPFError.functionNotFound(name: name, available: functionNames)
            }
            let size = bpf_function_size(m, name)
            let logLevel: Int32 = debug.contains(.bpfRegisterState) ? 2 : debug.contains(.bpf) ? 1 : 0
            let ((fd, err), output) = StderrCapture.capture { () -> (Int32, Int32) in
                let fd = bcc_func_load(m, type.rawValue, name, start.assumingMemoryBound(to: bpf_insn.self),
                                       Int32(size), bpf_module_license(m), bpf_module_kern_version(m),
                                       logLevel, nil, 0, device, attachType?.rawValue ?? -1)
                return (fd, errno)
            }
            guard fd >= 0 else {
                throw BPFError.loadFailed(function: name, type: type, errno: err, verifierLog: output.text)
            }
            output.passThrough()
            let fn = Function(name: name, type: type, fd: fd)
            functions[key] = fn
            return fn
        }
    }

    /// Loads `name` as `type` and runs `body` with it; when `body` throws and the function was
    /// loaded just for this call, it is unloaded again, so a failed attach leaves nothing loaded.
    func withFunction<T>(_ name: String, type: ProgramType, _ body: (Function) throws -> T) throws -> T {
        try lock.withLock {
            let key = FunctionKey(name: name, type: type)
            let wasLoaded = functions[key] != nil
            let fn = try loadFunction(name, type: type)
            do {
                return try body(fn)
            } catch {
                if !wasLoaded, functions.removeValue(forKey: key) != nil { Glibc.close(fn.fd) }
                throw error
            }
        }
    }

    /// Loads every function of the module as `type`. Python: `b.load_funcs(prog_type)`.
    @discardableResult
    public func loadFunctions(type: ProgramType = .kprobe) throws -> [Function] {
        try functionNames.map { try loadFunction($0, type: type) }
    }

    /// The compiled BPF instructions of function `name`. Python: `b.dump_func(name)`.
    public func dumpFunction(_ name: String) throws -> [UInt8] {
        try lock.withLock {
            let m = try module()
            guard let start = bpf_function_start(m, name) else {
                throw BPFError.functionNotFound(name: name, available: functionNames)
            }
            let size = bpf_function_size(m, name)
            return Array(UnsafeRawBufferPointer(start: start, count: size))
        }
    }

    // MARK: Cleanup

    /// Detaches every probe, closes trace_pipe, readers and buffers, closes the function fds
    /// and destroys the module. Idempotent; `deinit` and process exit call it too.
    /// Python: `b.cleanup()`.
    public func cleanup() {
        lock.withLock {
            guard !isClosed else { return }
            closedFlag.store(true, ordering: .releasing)
            for ev in kprobeFDs.keys.sorted() {
                for (_, fd) in kprobeFDs[ev] ?? [:] { _ = bpf_close_perf_event_fd(fd) }
                _ = StderrCapture.capture { bpf_detach_kprobe(ev) }
            }
            kprobeFDs.removeAll()
            for (tp, fd) in tracepointFDs {
                _ = bpf_close_perf_event_fd(fd)
                let parts = tp.split(separator: ":", maxSplits: 1).map(String.init)
                if parts.count == 2 { _ = StderrCapture.capture { bpf_detach_tracepoint(parts[0], parts[1]) } }
            }
            tracepointFDs.removeAll()
            detachUprobesForCleanup()
            detachKfuncsForCleanup()
            closePerfEventsForCleanup()
            removeXDPForCleanup()
            closeRawSocketsForCleanup()
            for (_, fd) in rawTracepointFDs { Glibc.close(fd) }
            rawTracepointFDs.removeAll()
            eventReaders.close()
            tracePipe?.close()
            tracePipe = nil
            tables.removeAll()
            for fn in functions.values { Glibc.close(fn.fd) }
            functions.removeAll()
            if let m = modulePointer {
                bpf_module_destroy(m)
                modulePointer = nil
            }
            usdtContexts.removeAll()
        }
        Registry.remove(self)
    }
}

/// Live `BPF` objects, cleaned up at process exit like Python's `atexit.register(self.cleanup)`
/// (a `BPF` held in a top-level `let` is never deinitialized).
enum Registry {
    private static let lock = Lock()
    nonisolated(unsafe) private static var live: [ObjectIdentifier: Weak] = [:]
    nonisolated(unsafe) private static var registered = false

    struct Weak { weak var bpf: BPF? }

    static func add(_ bpf: BPF) {
        lock.withLock {
            live[ObjectIdentifier(bpf)] = Weak(bpf: bpf)
            if !registered {
                registered = true
                atexit { Registry.cleanupAll() }
            }
        }
    }

    static func remove(_ bpf: BPF) {
        lock.withLock { _ = live.removeValue(forKey: ObjectIdentifier(bpf)) }
    }

    static func cleanupAll() {
        let all = lock.withLock { live.values.compactMap(\.bpf) }
        all.forEach { $0.cleanup() }
    }
}
