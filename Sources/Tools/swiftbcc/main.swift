// swiftbcc: runs a one-file Swift script that imports SwiftBCC, as `python3 script.py` runs a
// BCC tool.
//
//   swiftbcc [-v] [-O] [-Xswiftc FLAG]... SCRIPT [ARGS...]
//   #!/usr/bin/env swiftbcc        (first line of an executable script)
//
// The script is compiled with swiftc against the SwiftBCC build this runner sits in
// (libSwiftBCCDynamic.so and Modules/ beside it), cached by a hash of the script's text, the
// toolchain's version and the library build's identity, and exec'ed with ARGS: its signals
// and exit status are the script's own. See README.md, "Scripts".
import BCCDigest
import Glibc

let usage = """
    usage: swiftbcc [options] SCRIPT [ARGS...]

    Compiles SCRIPT (one Swift file that may `import SwiftBCC` and Foundation) against this
    SwiftBCC build, caches the executable, and runs it with ARGS. Runs of an unchanged script
    reuse the cached executable. A `#!/usr/bin/env swiftbcc` first line makes a script
    executable on its own.

    options (before SCRIPT):
      -v, --verbose     say on stderr whether the cache was hit, and how the script is compiled
      -O                compile with optimizations (cached separately)
      -Xswiftc FLAG     pass FLAG to swiftc (repeatable; part of the cache key)
      --typecheck       only type-check SCRIPT (no cache, nothing run); exit status is swiftc's
      --cache-dir       print the cache directory and exit
      -h, --help        print this help

    environment: XDG_CACHE_HOME (cache under $XDG_CACHE_HOME/swiftbcc, default
    ~/.cache/swiftbcc), SWIFTC (the compiler), SWIFTBCC_BUILD_DIR and SWIFTBCC_PACKAGE_DIR
    (the SwiftBCC build and package to use instead of the ones this runner belongs to).

    """

var verbose = false
var optimize = false
var typecheckOnly = false
var extraFlags: [String] = []
var args = Array(CommandLine.arguments.dropFirst())
var script: String?

parsing: while let arg = args.first {
    switch arg {
    case "-v", "--verbose": verbose = true
    case "-O": optimize = true
    case "--typecheck": typecheckOnly = true
    case "-Xswiftc":
        args.removeFirst()
        guard let flag = args.first else { fail("-Xswiftc needs a flag after it", status: 2) }
        extraFlags.append(flag)
    case "-h", "--help":
        writeAll(Array(usage.utf8), to: 1)
        exit(0)
    case "--cache-dir":
        writeAll(Array((ScriptCache.defaultRoot() + "\n").utf8), to: 1)
        exit(0)
    case "--":
        args.removeFirst()
        script = args.first
        break parsing
    default:
        if arg.hasPrefix("-") && arg != "-" {
            fail("unknown option \(arg)\n\(usage)", status: 2)
        }
        script = arg
        break parsing
    }
    args.removeFirst()
}
guard let script else {
    writeAll(Array(usage.utf8), to: 2)
    exit(2)
}
let scriptArgs = Array(args.dropFirst())

@MainActor func note(_ message: String) {
    if verbose { say(message) }
}

let build = LibraryBuild.locate()
let toolchain = Toolchain.locate()

/// The file swiftc compiles, and its clean-up. A `.swift` file is compiled where it is, so
/// swiftc's diagnostics name it and its lines as they are (swiftc accepts a `#!` first line).
/// Any other name (an executable script called `trace`, say) is copied to `<dir>/<name>.swift`
/// with a `#sourceLocation` directive naming the original path, in place of its `#!` line when
/// it has one, so that diagnostics still name the original path and line. (Without a `#!` line
/// the directive is an extra first line: swiftc's LLVM-style diagnostics, which quote the line
/// without swiftc's own physical line numbers, keep the numbers right.)
@MainActor func compileSource(for text: [UInt8], in dir: String) -> (path: String, flags: [String], cleanup: () -> Void) {
    if script.hasSuffix(".swift") { return (script, [], {}) }
    let tmpDir = "\(dir)/.swiftbcc-src.\(getpid())"
    guard makeDirectories(tmpDir) else { fail("cannot create \(tmpDir): \(errnoText())") }
    let escaped = script.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
    var source: [UInt8]
    var flags: [String] = []
    if text.starts(with: Array("#!".utf8)) {
        let rest = text.firstIndex(of: 10).map { Array(text[$0...]) } ?? []
        source = Array("#sourceLocation(file: \"\(escaped)\", line: 2)".utf8) + rest
    } else {
        source = Array("#sourceLocation(file: \"\(escaped)\", line: 1)\n".utf8) + text
        flags = ["-diagnostic-style", "llvm"]
    }
    let path = "\(tmpDir)/\(entryName(script)).swift"
    unlink(path)
    guard writeNewFile(path, source) else { fail("cannot write \(path): \(errnoText())") }
    return (path, flags, { unlink(path); rmdir(tmpDir) })
}

/// The script's file name without `.swift`, as letters, digits, `-` and `_` (the cache entry's
/// readable half).
func entryName(_ path: String) -> String {
    var name = basename(path)
    if name.hasSuffix(".swift") { name.removeLast(6) }
    let cleaned = String(name.unicodeScalars.map { c -> Character in
        (c.properties.isAlphabetic && c.isASCII) || ("0"..."9").contains(c) || c == "-" || c == "_" ? Character(c) : "_"
    })
    return cleaned.isEmpty ? "script" : String(cleaned.prefix(40))
}

extension String {
    func replacingOccurrences(of target: String, with replacement: String) -> String {
        guard !target.isEmpty else { return self }
        var out = ""
        var rest = self[...]
        while let r = rest.range(of: target) {
            out += rest[..<r.lowerBound]
            out += replacement
            rest = rest[r.upperBound...]
        }
        return out + rest
    }
}

extension Substring {
    func range(of target: String) -> Range<Index>? {
        var i = startIndex
        while i < endIndex {
            if self[i...].hasPrefix(target) { return i..<index(i, offsetBy: target.count) }
            i = index(after: i)
        }
        return nil
    }
}

@MainActor func readScript() -> [UInt8] {
    guard let text = readFile(script) else {
        fail("cannot read \(script): \(errnoText())", status: 2)
    }
    return text
}

if typecheckOnly {
    let text = readScript()
    let (source, flags, cleanup) = compileSource(for: text, in: "/tmp")
    var argv = [toolchain.swiftc, "-typecheck", source, "-module-name", "SwiftBCCScript",
                "-I", build.modulesDir, "-I", build.cbccDir]
    argv += flags + extraFlags
    note("type-checking: \(argv.joined(separator: " "))")
    let status = run(argv).status
    cleanup()
    exit(status)
}

@MainActor func execScript(_ entry: ScriptCache.Entry) -> Never {
    var cArgs: [UnsafeMutablePointer<CChar>?] = ([script] + scriptArgs).map { strdup($0) }
    cArgs.append(nil)
    execv(entry.path, cArgs)
    fail("cannot run \(entry.path): \(errnoText())", status: 126)
}

let cache = ScriptCache(root: ScriptCache.defaultRoot())
guard makeDirectories(cache.dir) else { fail("cannot create the cache directory \(cache.dir): \(errnoText())") }
let toolchainVersion = toolchain.version(cacheRoot: cache.root)
let libraryIdentity = build.identityText()
let cwd = script.hasPrefix("/") ? "" : currentDirectory()

for _ in 0..<3 {
    let text = readScript()
    var hasher = SHA256()
    hasher.field("swiftbcc script 1")
    hasher.update(text)
    hasher.field("")
    hasher.field(toolchainVersion)
    hasher.field(libraryIdentity)
    // #filePath and the diagnostics name the script as given: part of what is compiled.
    hasher.field(script)
    hasher.field(cwd)
    hasher.field(optimize ? "-O" : "-Onone")
    for flag in extraFlags { hasher.field(flag) }
    let entry = cache.entry(name: entryName(script), key: hasher.finish())

    switch cache.check(entry) {
    case .valid:
        note("cache hit: \(entry.path)")
        execScript(entry)
    case .missing:
        break
    case let .damaged(reason):
        note("cache entry \(entry.path) is damaged (\(reason)): rebuilding it")
    }

    // One runner compiles a given entry at a time; the others wait here and then find it.
    let lockFD = open(entry.lockPath, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
    if lockFD >= 0 {
        while flock(lockFD, LOCK_EX) != 0 && errno == EINTR {}
        if cache.check(entry) == .valid {
            note("cache hit: \(entry.path) (compiled by another swiftbcc meanwhile)")
            execScript(entry)
        }
    }

    let built = "\(cache.dir)/.\(basename(entry.path)).tmp.\(getpid())"
    unlink(built)
    let (source, flags, cleanup) = compileSource(for: text, in: cache.dir)
    let argv = [toolchain.swiftc] + build.compileArguments(source: source, output: built, optimize: optimize,
                                                           extra: flags + extraFlags)
    note("cache miss: compiling \(script) into \(entry.path)")
    note("running: \(argv.joined(separator: " "))")
    let status = run(argv).status
    cleanup()
    if status != 0 || identity(built) == nil {
        unlink(built)
        if verbose || status == 0 { say("compiling \(script) failed (swiftc exit status \(status))") }
        exit(status == 0 ? 1 : status)
    }
    // The script changed while it compiled: this executable is not the one for its new text.
    guard readScript() == text else {
        unlink(built)
        note("\(script) changed while it compiled: compiling it again")
        if lockFD >= 0 { close(lockFD) }
        continue
    }
    guard cache.store(built, as: entry, source: script) else {
        unlink(built)
        fail("cannot store the compiled script in \(cache.dir): \(errnoText())")
    }
    execScript(entry)
}
fail("\(script) kept changing while it compiled; try again")
