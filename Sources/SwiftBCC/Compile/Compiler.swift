internal import CBCC
import Glibc
import Synchronization

/// libbcc's compiler half, opened on first use.
///
/// SwiftBCC links only `libbcc_bpf` (the bpf() wrappers, perf readers, symbol and USDT
/// functions, about 0.5 MB). The functions that need clang and LLVM (`bpf_module_*`,
/// `bpf_function_*`, `bpf_table_*`, `bcc_func_load`) live in `libbcc.so.0`, which maps some
/// 60 MiB of LLVM; it is opened with `dlopen` by the first compile the compile cache cannot
/// serve. A warm start, and a process that never compiles, never maps it
/// (docs/Performance.md, "Start-up").
enum Compiler {
    /// The library opened: `libbcc.so.0` beside the linked `libbcc_bpf`, else the loader's
    /// search path.
    static var library: String {
        if let dir = CompileCacheKey.mappedLibraryDirectory(containing: "/libbcc_bpf.so") {
            let path = dir + "/libbcc.so.0"
            if access(path, F_OK) == 0 { return path }
        }
        return "libbcc.so.0"
    }

    private enum State {
        case closed
        case open
        case failed(library: String, detail: String)
    }

    private static let state = Mutex<State>(.closed)
    // Set once the table is filled, so `api` reads it without the lock afterwards.
    private static let opened = Atomic<Bool>(false)
    nonisolated(unsafe) private static var table = swiftbcc_libbcc()
    /// Whether libbcc's kernel-symbol scan at each compile is answered by ``KallsymsShortcut``.
    nonisolated(unsafe) static var installedKallsymsShortcut = false

    /// Opens libbcc.so.0 once (later calls return at once, or throw the first failure again).
    static func open() throws(BPFError) {
        if opened.load(ordering: .acquiring) { return }
        let result: BPFError? = state.withLock { s in
            switch s {
            case .open: return nil
            case let .failed(library, detail): return .compilerUnavailable(library: library, detail: detail)
            case .closed:
                let path = library
                var api = swiftbcc_libbcc()
                var error = [CChar](repeating: 0, count: 512)
                let r = swiftbcc_libbcc_open(path, &api, &error, error.count)
                guard r == 0 else {
                    let detail = error.withUnsafeBufferPointer { stringOrNil($0.baseAddress) } ?? "dlopen failed"
                    s = .failed(library: path, detail: detail)
                    return .compilerUnavailable(library: path, detail: detail)
                }
                table = api
                installedKallsymsShortcut = KallsymsShortcut.install(handle: api.handle)
                s = .open
                opened.store(true, ordering: .releasing)
                return nil
            }
        }
        if let result { throw result }
    }

    /// Whether libbcc.so.0 is open (a compile happened, or `open()` was called).
    static var isLoaded: Bool { opened.load(ordering: .acquiring) }

    /// The compiler's functions. Only valid after `open()` succeeded: every caller holds a
    /// libbcc module, which only a compile after `open()` creates.
    static var api: swiftbcc_libbcc {
        precondition(opened.load(ordering: .acquiring), "libbcc's compiler used before Compiler.open()")
        return table
    }
}
