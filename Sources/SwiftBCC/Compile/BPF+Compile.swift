internal import CBCC
import Glibc

extension BPF {
    /// Compiles `inputs` with libbcc, or starts it from the compile cache: returns the module and
    /// what the compile printed (passed through to stderr already; replayed from the entry on a
    /// warm start, so clang's warnings read the same both ways).
    static func compile(_ inputs: CompileCacheKey.Inputs, cache: Bool, allowRlimit: Bool, usdtContexts: Int,
                        sourceName: String, programText: String,
                        inChild: Bool? = nil) throws -> (source: ModuleSource, output: String) {
        let debug = inputs.debug
        var plan: (key: [UInt8], directory: String)?
        if !cache || !CompileCache.enabledByEnvironment {
            CompileCache.note(debug, cache ? "off (SWIFTBCC_CACHE)" : "off (cache: false)")
        } else if let why = CompileCache.uncacheableInputs(text: inputs.text, debug: debug, device: inputs.device,
                                                           usdtContexts: usdtContexts) {
            CompileCache.note(debug, "not cached: \(why)")
        } else if let directory = CompileCache.directory {
            switch CompileCacheKey.key(inputs) {
            case .success(let key): plan = (key, directory)
            case .failure(let why): CompileCache.note(debug, "not cached: \(why.reason)")
            }
        } else {
            CompileCache.note(debug, "off (no cache directory: set SWIFTBCC_CACHE_DIR or HOME)")
        }

        if let plan, let entry = CompileCache.lookup(key: plan.key, directory: plan.directory, debug: debug) {
            let module = try CachedModule.create(from: entry, allowRlimit: allowRlimit, program: programText)
            CompileCache.hits.add(1, ordering: .relaxed)
            CompileCache.note(debug, "hit \(CompileCache.path(directory: plan.directory, key: plan.key))")
            if !entry.compileOutput.isEmpty { passOnLibbccOutput(entry.compileOutput) }
            return (.cached(module), entry.compileOutput)
        }

        if let plan, inChild ?? CompileChild.enabled.load(ordering: .relaxed) {
            switch try CompileChild.run(inputs, allowRlimit: allowRlimit, directory: plan.directory,
                                        sourceName: sourceName, programText: programText) {
            case .stored:
                if let entry = CompileCache.lookup(key: plan.key, directory: plan.directory, debug: debug) {
                    let module = try CachedModule.create(from: entry, allowRlimit: allowRlimit, program: programText)
                    CompileCache.compiles.add(1, ordering: .relaxed)
                    CompileCache.note(debug, "compiled in a child, started from \(CompileCache.path(directory: plan.directory, key: plan.key))")
                    if !entry.compileOutput.isEmpty { passOnLibbccOutput(entry.compileOutput) }
                    return (.cached(module), entry.compileOutput)
                }
                CompileCache.note(debug, "the child's entry is not there; compiling in process")
            case .compileHere(let why):
                CompileCache.note(debug, "compiling in process: \(why)")
            }
        }
        try Compiler.open()
        CompileCache.compiles.add(1, ordering: .relaxed)
        let (module, output) = StderrCapture.capture(includingStdout: true) {
            withCStringArray(inputs.cflags) { array, count in
                Compiler.api.bpf_module_create_c_from_string!(inputs.text, debug.rawValue, array, count, allowRlimit, inputs.device)
            }
        }
        guard let module else {
            throw Compilation.failure(output: output.text, source: sourceName, program: programText)
        }
        output.passThrough()
        if let plan {
            if !output.stdout.isEmpty {
                CompileCache.note(debug, "not cached: the compile printed on stdout")
            } else {
                switch CacheEntry.capture(module, compileOutput: output.stderr) {
                case .success(let entry): CompileCache.store(entry, key: plan.key, directory: plan.directory, debug: debug)
                case .failure(let why): CompileCache.note(debug, "not cached: \(why.reason)")
                }
            }
        }
        return (.libbcc(module), output.text)
    }

    /// Runs `body` with a libbcc module that has this program's LLVM-generated key/leaf
    /// printers and parsers (`bpf_table_key_snprintf`, `bpf_table_key_sscanf`, ...). For a
    /// warm start there is none: the program is compiled once more, on first use, and that
    /// module serves only these calls (its own maps are never used; `cleanup()` frees it).
    func withPrinterModule<T>(_ body: (UnsafeMutableRawPointer) throws -> T) throws -> T {
        try state.withLock { s in
            let source = try s.requireModule()
            if let m = source.libbccModule { return try body(m) }
            if let p = s.printerModule { return try body(p) }
            let inputs = compileInputs
            try Compiler.open()
            CompileCache.compiles.add(1, ordering: .relaxed)
            CompileCache.note(debug, "compiling \(sourceName) again for libbcc's key/leaf printers")
            let (module, output) = StderrCapture.capture(includingStdout: true) {
                withCStringArray(inputs.cflags) { array, count in
                    Compiler.api.bpf_module_create_c_from_string!(inputs.text, 0, array, count, allowRlimit, inputs.device)
                }
            }
            guard let module else {
                throw Compilation.failure(output: output.text, source: sourceName, program: inputs.text)
            }
            s.printerModule = module
            return try body(module)
        }
    }
}
