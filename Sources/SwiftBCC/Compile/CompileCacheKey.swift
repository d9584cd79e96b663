internal import CBCC
internal import BCCDigest
import Glibc

/// The compile cache's key: a SHA-256 over everything that can change what libbcc's compile
/// produces, each part length-delimited and labelled:
///
/// - the cache format version;
/// - the program text as libbcc gets it (after the USDT and counted-ring-buffer rewrites);
/// - the cflags, the debug flags that act at compile time, the device;
/// - every file the program pulls in that is not a kernel header: quoted `#include "x"` files
///   (looked up in the current directory, the `-iquote`/`-I` directories and the including
///   file's directory), `<x>` includes found in `-I`/`-isystem`/`-idirafter` directories, and
///   `-include`/`-imacros` files, recursively; a computed `#include MACRO` makes the program
///   uncacheable, since the file cannot be known without preprocessing;
/// - the kernel headers' identity: for each place libbcc looks (`$BCC_KERNEL_SOURCE`,
///   `/lib/modules/<release>/build` and `source`, `/sys/kernel/kheaders.tar.xz`) its real path
///   and the size and mtime of its generated version, autoconf and utsrelease headers;
///   `$BCC_LINUX_VERSION_CODE`, `$BCC_KERNEL_MODULES_SUFFIX`;
/// - the kernel: release and `/proc/version` (which names the build), since libbcc's rewriter
///   reads /proc/kallsyms (e.g. whether `bpf_probe_read_kernel` exists);
/// - libbcc: `LIBBCC_VERSION` and the real path, size and mtime of the loaded libbcc.
enum CompileCacheKey {
    struct Inputs {
        var text: String
        var cflags: [String]
        var debug: DebugFlags
        var device: String?
    }

    /// The key for `inputs`, or why the program cannot be cached.
    static func key(_ inputs: Inputs) -> Result<[UInt8], Uncacheable> {
        var h = SHA256()
        func field(_ label: String, _ value: String) {
            h.update("\(label)\0\(value.utf8.count)\0")
            h.update(value)
        }
        field("format", "swiftbcc-compile-cache-\(CompileCache.formatVersion)")
        field("text", inputs.text)
        field("cflags", inputs.cflags.joined(separator: "\0"))
        // DEBUG_BPF and DEBUG_BPF_REGISTER_STATE act at load time only (the verifier's log level):
        // the same entry serves them. The other flags print at compile time and are not cached.
        field("debug", String(inputs.debug.subtracting([.bpf, .bpfRegisterState]).rawValue))
        field("device", inputs.device ?? "")
        switch includedFiles(inputs) {
        case .failure(let why): return .failure(why)
        case .success(let files):
            for (path, content) in files {
                field("include", path)
                field("content", content)
            }
        }
        field("headers", headersIdentity)
        field("kernel", KernelInfo.release + "\n" + (FileIO.read("/proc/version") ?? ""))
        field("libbcc", libbccIdentity)
        return .success(h.finishBytes())
    }

    // MARK: Included files

    /// Every non-kernel file the compile may read, with its content, in a stable order.
    static func includedFiles(_ inputs: Inputs) -> Result<[(String, String)], Uncacheable> {
        var quoteDirs: [String] = [], angleDirs: [String] = [], forced: [String] = []
        var i = 0
        let flags = inputs.cflags
        flags: while i < flags.count {
            let f = flags[i]
            i += 1
            for (prefix, kind) in [("-iquote", 0), ("-isystem", 1), ("-idirafter", 1), ("-include", 2), ("-imacros", 2), ("-I", 3)]
            where f.hasPrefix(prefix) {
                var value = String(f.dropFirst(prefix.count))
                if value.isEmpty, i < flags.count {
                    value = flags[i]
                    i += 1
                }
                switch kind {
                case 0: quoteDirs.append(value)
                case 1: angleDirs.append(value)
                case 2: forced.append(value)
                default:
                    quoteDirs.append(value)
                    angleDirs.append(value)
                }
                continue flags
            }
        }
        let cwd = currentDirectory
        var seen: [String: String] = [:]
        var order: [String] = []
        var pending: [(text: String, dir: String?)] = [(inputs.text, nil)]
        func add(_ path: String) -> String? {
            let real = realPath(path) ?? path
            if seen[real] != nil { return nil }
            guard let content = FileIO.read(real) else { return nil }
            seen[real] = content
            order.append(real)
            return content
        }
        for f in forced {
            let p = f.hasPrefix("/") ? f : cwd + "/" + f
            guard FileIO.isRegularFile(p) else { return .failure(Uncacheable("cflag file \(f) cannot be read")) }
            if let c = add(p) { pending.append((c, directory(of: p))) }
        }
        while let (text, dir) = pending.popLast() {
            for directive in includes(in: text) {
                switch directive {
                case .computed(let line):
                    return .failure(Uncacheable("it includes a file named by a macro (\(line))"))
                case .quoted(let name):
                    let dirs = (dir.map { [$0] } ?? []) + [cwd] + quoteDirs + angleDirs
                    for p in candidates(name, in: dirs) { if let c = add(p) { pending.append((c, directory(of: p))) } }
                case .angled(let name):
                    for p in candidates(name, in: angleDirs) { if let c = add(p) { pending.append((c, directory(of: p))) } }
                }
            }
        }
        return .success(order.map { ($0, seen[$0]!) })
    }

    enum Include: Equatable {
        case quoted(String), angled(String), computed(String)
    }

    /// The `#include` directives of `text` (conditionals are not evaluated: every directive counts).
    static func includes(in text: String) -> [Include] {
        var out: [Include] = []
        for raw in text.split(separator: "\n") {
            var line = raw.drop { $0 == " " || $0 == "\t" }
            guard line.first == "#" else { continue }
            line = line.dropFirst().drop { $0 == " " || $0 == "\t" }
            guard line.hasPrefix("include") || line.hasPrefix("import") else { continue }
            let rest = line.drop { $0 != " " && $0 != "\t" && $0 != "\"" && $0 != "<" }.drop { $0 == " " || $0 == "\t" }
            if rest.first == "\"", let end = rest.dropFirst().firstIndex(of: "\"") {
                out.append(.quoted(String(rest[rest.index(after: rest.startIndex)..<end])))
            } else if rest.first == "<", let end = rest.firstIndex(of: ">") {
                out.append(.angled(String(rest[rest.index(after: rest.startIndex)..<end])))
            } else {
                out.append(.computed(String(raw)))
            }
        }
        return out
    }

    static func candidates(_ name: String, in dirs: [String]) -> [String] {
        if name.hasPrefix("/") { return FileIO.isRegularFile(name) ? [name] : [] }
        return dirs.map { $0 + "/" + name }.filter(FileIO.isRegularFile)
    }

    static func directory(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        return slash == path.startIndex ? "/" : String(path[..<slash])
    }

    static var currentDirectory: String {
        guard let p = getcwd(nil, 0) else { return "." }
        defer { free(p) }
        return String(cString: p)
    }

    static func realPath(_ path: String) -> String? {
        guard let p = realpath(path, nil) else { return nil }
        defer { free(p) }
        return String(cString: p)
    }

    // MARK: Kernel headers and libbcc

    static func fileIdentity(_ path: String) -> String {
        var st = stat()
        guard stat(path, &st) == 0 else { return "\(path): none" }
        return "\(realPath(path) ?? path): \(st.st_size) \(st.st_mtim.tv_sec).\(st.st_mtim.tv_nsec) \(st.st_ino)"
    }

    static var headersIdentity: String {
        var parts: [String] = []
        for env in ["BCC_KERNEL_SOURCE", "BCC_LINUX_VERSION_CODE", "BCC_KERNEL_MODULES_SUFFIX"] {
            parts.append("\(env)=\(getenv(env).map { String(cString: $0) } ?? "")")
        }
        for dir in KernelInfo.headerSearchPaths {
            if dir.hasSuffix(".tar.xz") {
                parts.append(fileIdentity(dir))
                continue
            }
            parts.append("\(dir) -> \(realPath(dir) ?? "none")")
            for f in ["include/generated/uapi/linux/version.h", "include/generated/autoconf.h",
                      "include/generated/utsrelease.h", "include/config/auto.conf"] {
                parts.append(fileIdentity(dir + "/" + f))
            }
        }
        return parts.joined(separator: "\n")
    }

    /// `LIBBCC_VERSION` and the identity of the libbcc this process mapped (from /proc/self/maps).
    /// The libbcc the compile uses: its version and the identity of `libbcc_bpf` (linked) and of
    /// `libbcc.so.0` beside it (the compiler, opened on the first compile): the same before and
    /// after that open, so a process's first warm start finds the entry a cold one stored.
    static var libbccIdentity: String {
        guard let dir = mappedLibraryDirectory(containing: "/libbcc_bpf.so") else { return LIBBCC_VERSION + " unknown" }
        return LIBBCC_VERSION + " " + fileIdentity(dir + "/libbcc_bpf.so.0") + " " + fileIdentity(dir + "/libbcc.so.0")
    }

    /// The directory of the first library mapped into this process whose path contains `name`.
    static func mappedLibraryDirectory(containing name: String) -> String? {
        for line in (FileIO.read("/proc/self/maps") ?? "").split(separator: "\n") {
            guard let slash = line.firstIndex(of: "/") else { continue }
            let path = String(line[slash...])
            if path.contains(name) { return directory(of: path) }
        }
        return nil
    }
}
