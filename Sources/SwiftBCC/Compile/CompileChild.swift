internal import CBCC
import Glibc
import Synchronization

/// Cold compiles in a child process: the `swiftbcc-compile` helper compiles the program with
/// libbcc, stores the compile cache entry and exits; this process then starts warm from that
/// entry. So a tracer that compiles cold never maps libbcc's LLVM either, and a crash of
/// clang or LLVM inside the compile (libbcc 0.26's clang segfaults on some malformed programs,
/// LLVM's `report_fatal_error` exits) is `BPFError.compilerCrashed` instead of the end of
/// the process. Off by default (it costs a process start per cold compile): `BPF.compilesInChild`
/// or `SWIFTBCC_COMPILE_CHILD=1` turn it on. Programs the cache cannot hold compile in
/// process as before, and so does every compile when the helper is not found.
enum CompileChild {
    /// The helper's exit statuses; any other ending (a signal, LLVM's exit(1)) is a crash.
    static let stored: Int32 = 0
    static let compileFailed: Int32 = 70
    static let notStored: Int32 = 71
    static let setupFailed: Int32 = 72
    /// Seconds a compile child may run (a compile that takes longer is taken to hang).
    static let timeLimit = 600.0

    static let enabled = Atomic<Bool>({
        guard let v = getenv("SWIFTBCC_COMPILE_CHILD").map({ String(cString: $0).lowercased() }) else { return false }
        return ["1", "true", "yes", "on"].contains(v)
    }())

    /// `$SWIFTBCC_COMPILE_HELPER`, else `swiftbcc-compile` beside this process's executable
    /// (where SwiftPM puts every product of the package), else nil.
    static var helperPath: String? {
        if let v = getenv("SWIFTBCC_COMPILE_HELPER") {
            let path = String(cString: v)
            return access(path, X_OK) == 0 ? path : nil
        }
        guard let exe = FileIO.readLink("/proc/self/exe") else { return nil }
        let path = CompileCacheKey.directory(of: exe) + "/swiftbcc-compile"
        return access(path, X_OK) == 0 ? path : nil
    }

    // MARK: The request

    static let magic = "SWBCCREQ1"

    static func encode(_ inputs: CompileCacheKey.Inputs, allowRlimit: Bool) -> [UInt8] {
        var fields = [magic, inputs.text, String(inputs.debug.rawValue), allowRlimit ? "1" : "0",
                      inputs.device == nil ? "0" : "1", inputs.device ?? ""]
        fields += inputs.cflags
        var bytes: [UInt8] = []
        for f in fields {
            bytes += Array(f.utf8)
            bytes.append(0)
        }
        return bytes
    }

    static func decode(_ bytes: [UInt8]) -> (inputs: CompileCacheKey.Inputs, allowRlimit: Bool)? {
        var fields = bytes.split(separator: 0, omittingEmptySubsequences: false).map { String(decoding: $0, as: UTF8.self) }
        guard fields.last == "" else { return nil }
        fields.removeLast()
        guard fields.count >= 6, fields[0] == magic, let debug = UInt32(fields[2]) else { return nil }
        let device = fields[4] == "1" ? fields[5] : nil
        return (CompileCacheKey.Inputs(text: fields[1], cflags: Array(fields[6...]), debug: DebugFlags(rawValue: debug),
                                       device: device), fields[3] == "1")
    }

    // MARK: Parent

    enum Outcome {
        /// The entry is stored: start warm from it.
        case stored
        /// Compile in process (why: for the `debug` note).
        case compileHere(String)
    }

    /// Runs the helper on `inputs`, storing into `directory` (the `bpf` cache directory).
    /// Throws what the compile's failure or crash means; `.compileHere` when the child could not
    /// do it (no helper, not cacheable after all, a set-up failure).
    static func run(_ inputs: CompileCacheKey.Inputs, allowRlimit: Bool, directory: String,
                    sourceName: String, programText: String) throws -> Outcome {
        guard let helper = helperPath else { return .compileHere("no swiftbcc-compile helper beside the executable") }
        // The request goes through a memfd; the child's stderr into another.
        let request = swiftbcc_memfd("swiftbcc-compile-request")
        let output = swiftbcc_memfd("swiftbcc-compile-stderr")
        let printed = swiftbcc_memfd("swiftbcc-compile-stdout")
        defer {
            for fd in [request, output, printed] where fd >= 0 { close(fd) }
        }
        guard request >= 0, output >= 0, printed >= 0 else { return .compileHere("memfd_create failed") }
        let bytes = encode(inputs, allowRlimit: allowRlimit)
        guard writeAll(bytes, to: request), lseek(request, 0, SEEK_SET) == 0 else { return .compileHere("writing the request failed") }

        let cacheRoot = String(directory.dropLast("/bpf".count))
        var env: [String] = []
        var p = environ
        while let entry = p.pointee {
            let s = String(cString: entry)
            if !s.hasPrefix("SWIFTBCC_CACHE_DIR=") && !s.hasPrefix("SWIFTBCC_CACHE=") { env.append(s) }
            p += 1
        }
        env.append("SWIFTBCC_CACHE_DIR=\(cacheRoot)")
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, request, 0)
        posix_spawn_file_actions_adddup2(&actions, printed, 1)
        posix_spawn_file_actions_adddup2(&actions, output, 2)
        var pid: pid_t = 0
        let args = [helper]
        let rc = withCStrings(args) { argv in
            withCStrings(env) { envp in posix_spawn(&pid, helper, &actions, nil, argv, envp) }
        }
        guard rc == 0 else { return .compileHere("posix_spawn(\(helper)) failed: errno \(rc)") }
        // Waited for with a deadline: a compile that hangs is stopped, never waited on forever.
        // The wait sleeps in poll(2) on a pidfd until the child exits (a 1 ms waitpid loop
        // woke this process 1,000 times a second while the child compiled, which under qemu
        // TCG cost the compile seconds); kernels before 5.3 have no pidfd and are asked again
        // after a sleep that grows to 20 ms.
        var status: Int32 = 0
        let deadline = Interrupts.deadline(afterMs: Int(timeLimit * 1000))
        let exitFD = swiftbcc_pidfd_open(pid)
        defer { if exitFD >= 0 { close(exitFD) } }
        var nap: UInt32 = 500
        while true {
            let r = waitpid(pid, &status, WNOHANG)
            if r == pid { break }
            if r < 0 && errno != EINTR { return .compileHere("waitpid failed") }
            let left = deadline - Interrupts.monotonicMs()
            if left <= 0 {
                kill(pid, SIGKILL)
                while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
                throw BPFError.compilerCrashed(source: sourceName, termination: "stopped after \(Int(timeLimit)) s without finishing",
                                               diagnostics: readAll(output))
            }
            if exitFD >= 0 {
                var exited = pollfd(fd: exitFD, events: Int16(POLLIN), revents: 0)
                _ = poll(&exited, 1, Int32(min(left, 60_000)))  // EINTR (a signal): ask again
            } else {
                usleep(nap)
                nap = min(nap * 2, 20_000)
            }
        }
        let text = readAll(output)
        let exited = status & 0x7f == 0
        let code = (status >> 8) & 0xff
        if exited && code == stored { return .stored }
        if exited && code == compileFailed {
            throw Compilation.failure(output: text, source: sourceName, program: programText)
        }
        if exited && (code == notStored || code == setupFailed) {
            return .compileHere("the child did not store an entry: \(text.trimmingTrailingNewlines)")
        }
        // Ctrl-C reaches the whole process group: the child's end by it is this process's stop.
        let sig = status & 0x7f
        if !exited, sig == SIGINT || sig == SIGTERM, let pending = Interrupts.pendingSignal {
            throw BPFError.interrupted(signal: pending)
        }
        let termination: String
        if exited {
            termination = "exit status \(code)"
        } else {
            termination = "signal \(sig)" + (stringOrNil(strsignal(sig)).map { " (\($0))" } ?? "")
        }
        throw BPFError.compilerCrashed(source: sourceName, termination: termination, diagnostics: text)
    }

    private static func withCStrings<T>(_ strings: [String], _ body: (UnsafePointer<UnsafeMutablePointer<CChar>?>) -> T) -> T {
        var pointers: [UnsafeMutablePointer<CChar>?] = strings.map { strdup($0) }
        pointers.append(nil)
        defer { for p in pointers { free(p) } }
        return pointers.withUnsafeBufferPointer { body($0.baseAddress!) }
    }

    private static func writeAll(_ bytes: [UInt8], to fd: Int32) -> Bool {
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress! + offset, $0.count - offset) }
            if n < 0 { if errno == EINTR { continue }; return false }
            offset += n
        }
        return true
    }

    private static func say(_ text: String) { _ = writeAll(Array(text.utf8), to: 2) }

    private static func readAll(_ fd: Int32) -> String {
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        var offset: off_t = 0
        while true {
            let n = chunk.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, offset) }
            if n <= 0 { break }
            bytes += chunk[..<n]
            offset += off_t(n)
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    // MARK: Child

    /// The helper's whole work: reads the request on stdin, compiles, stores the entry into
    /// `$SWIFTBCC_CACHE_DIR`, and returns the exit status. The compile writes straight to
    /// stderr and stdout, memfds the parent reads (so what clang printed before a crash is
    /// kept); the entry's compile output is read back from stderr.
    static func childMain() -> Int32 {
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = chunk.withUnsafeMutableBytes { Glibc.read(0, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { break }
            bytes += chunk[..<n]
        }
        guard let (inputs, allowRlimit) = decode(bytes) else {
            say("swiftbcc-compile: not a compile request on stdin (it is started by SwiftBCC, not by hand)\n")
            return setupFailed
        }
        guard let directory = CompileCache.directory else {
            say("no cache directory\n")
            return setupFailed
        }
        let key: [UInt8]
        switch CompileCacheKey.key(inputs) {
        case .success(let k): key = k
        case .failure(let why):
            say("not cached: \(why.reason)\n")
            return notStored
        }
        do {
            try Compiler.open()
        } catch {
            say("\(error)\n")
            return setupFailed
        }
        let module = withCStringArray(inputs.cflags) { array, count in
            Compiler.api.bpf_module_create_c_from_string!(inputs.text, inputs.debug.rawValue, array, count, allowRlimit,
                                                           inputs.device)
        }
        fflush(nil)
        guard let module else { return compileFailed }
        guard readAll(1).isEmpty else {
            say("the compile printed on stdout\n")
            return notStored
        }
        switch CacheEntry.capture(module, compileOutput: readAll(2)) {
        case .success(let entry):
            CompileCache.store(entry, key: key, directory: directory, debug: [])
            return CompileCache.lookup(key: key, directory: directory, debug: []) == nil ? notStored : stored
        case .failure(let why):
            say("not cached: \(why.reason)\n")
            return notStored
        }
    }
}

extension BPF {
    /// Whether cold compiles run in a child process (the `swiftbcc-compile` helper, found beside
    /// the executable or at `$SWIFTBCC_COMPILE_HELPER`): the child compiles and stores the
    /// compile cache entry, and this process starts from it, so it never maps libbcc's LLVM,
    /// and a clang or LLVM crash in the compile is ``BPFError/compilerCrashed(source:termination:diagnostics:)``
    /// rather than the end of this process. Off by default (a process start per cold compile);
    /// `SWIFTBCC_COMPILE_CHILD=1` in the environment turns it on, and the bcc tools turn it on.
    /// Programs the compile cache cannot hold, compiles with the cache off, and every compile
    /// when the helper is missing run in process, as before (`debug` says why).
    /// Python has none.
    public static var compilesInChild: Bool {
        get { CompileChild.enabled.load(ordering: .relaxed) }
        set { CompileChild.enabled.store(newValue, ordering: .relaxed) }
    }

    /// The `swiftbcc-compile` helper's entry point: its `main` calls this and exits with the
    /// result. Not for other use.
    @_spi(CompileChild)
    public static func compileChildMain() -> Int32 { CompileChild.childMain() }
}
