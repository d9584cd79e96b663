internal import CBCC
internal import BCCDigest
import Glibc
import Synchronization

/// The compile cache (issue 13): what a libbcc compile produced, stored under a SHA-256 of
/// everything that can change it (`CompileCacheKey`), so the next `BPF(text:)` of the same
/// program creates the maps and loads the instructions itself instead of running clang/LLVM.
///
/// On by default; `SWIFTBCC_CACHE=0` or `BPF(text:..., cache: false)` turns it off.
/// Entries live in `$SWIFTBCC_CACHE_DIR/bpf` (default `$XDG_CACHE_HOME/swiftbcc/bpf`, else
/// `~/.cache/swiftbcc/bpf`), one file per key (format in `CacheEntry`), written to a temporary
/// file and renamed into place; a damaged entry is recompiled and overwritten. Nothing here
/// ever fails a compile: a cache that cannot be read or written is a miss (and a `debug` line).
enum CompileCache {
    /// Bumped whenever the entry format or what a key covers changes: older entries are then
    /// foreign and recompiled.
    static let formatVersion: UInt32 = 1

    /// How many times this process ran libbcc's compiler (`bpf_module_create_c_from_string`)
    /// for a `BPF`: the tests read it to check that a warm start compiles nothing.
    static let compiles = Atomic<Int>(0)
    /// How many `BPF`s this process started from the cache.
    static let hits = Atomic<Int>(0)

    /// Whether `SWIFTBCC_CACHE` leaves the cache on (anything but `0`, `false`, `no`, `off`).
    static var enabledByEnvironment: Bool {
        guard let v = getenv("SWIFTBCC_CACHE").map({ String(cString: $0).lowercased() }) else { return true }
        return !["0", "false", "no", "off"].contains(v)
    }

    /// `$SWIFTBCC_CACHE_DIR/bpf`, `$XDG_CACHE_HOME/swiftbcc/bpf` or `~/.cache/swiftbcc/bpf`
    /// (nil when none can be named).
    static var directory: String? {
        func env(_ name: String) -> String? {
            guard let v = getenv(name) else { return nil }
            let s = String(cString: v)
            return s.isEmpty ? nil : s
        }
        if let d = directoryOverride.withLock({ $0 }) { return d + "/bpf" }
        if let d = env("SWIFTBCC_CACHE_DIR") { return d + "/bpf" }
        if let x = env("XDG_CACHE_HOME") { return x + "/swiftbcc/bpf" }
        if let h = env("HOME") { return h + "/.cache/swiftbcc/bpf" }
        if let pw = getpwuid(getuid()), let dir = pw.pointee.pw_dir { return String(cString: dir) + "/.cache/swiftbcc/bpf" }
        return nil
    }

    /// Replaces `SWIFTBCC_CACHE_DIR` for this process (the tests point it at temporary
    /// directories without touching the environment other threads read).
    static let directoryOverride = LockedBox<String?>(nil)

    /// Writes a `debug` line about the cache (`swiftbcc cache: ...`).
    static func note(_ debug: DebugFlags, _ text: String) {
        guard !debug.isEmpty else { return }
        passOnLibbccOutput("swiftbcc cache: \(text)\n")
    }

    // MARK: What cannot be cached

    /// Why a compile with these inputs cannot be cached, judged before compiling (nil: it can).
    static func uncacheableInputs(text: String, debug: DebugFlags, device: String?, usdtContexts: Int) -> String? {
        if usdtContexts > 0 { return "the program has USDT contexts (their probe arguments are read from live processes)" }
        if let device { return "the program is offloaded to device \(device)" }
        let compileTime = debug.intersection([.llvmIR, .preprocessor, .source, .btf])
        if !compileTime.isEmpty {
            return "debug flags 0x\(String(compileTime.rawValue, radix: 16)) print at compile time"
        }
        let markers: [(String, String)] = [
            ("BPF_TABLE_PINNED", "it has a pinned table (BPF_TABLE_PINNED)"),
            ("BPF_TABLE_SHARED", "it has a shared table (BPF_TABLE_SHARED)"),
            ("BPF_TABLE_PUBLIC", "it has a public table (BPF_TABLE_PUBLIC)"),
            ("\"extern\"", "it uses an extern table"),
            ("\"shared\"", "it declares a shared table"),
            ("\"public\"", "it declares a public table"),
            ("_OF_MAPS", "it has a map-in-map table (its inner map is another table's fd)"),
            ("_of_maps", "it has a map-in-map table (its inner map is another table's fd)"),
            ("BPF_SK_STORAGE", "it has socket storage (needs BTF type ids)"),
            ("BPF_INODE_STORAGE", "it has inode storage (needs BTF type ids)"),
            ("BPF_TASK_STORAGE", "it has task storage (needs BTF type ids)"),
            ("BPF_CGRP_STORAGE", "it has cgroup storage (needs BTF type ids)"),
            ("bpf_spin_lock", "it uses bpf_spin_lock (the map needs BTF)"),
            ("bpf_timer", "it uses bpf_timer (the map needs BTF)"),
            ("__kptr", "it uses kptrs (the map needs BTF)"),
            ("__ksym", "it references kernel symbols through BTF (__ksym)"),
        ]
        for (marker, reason) in markers where text.contains(marker) { return reason }
        return nil
    }

    /// Why a table of this definition cannot be created again from its definition alone.
    static func uncacheableMapType(_ t: TableDefinition) -> String? {
        switch t.mapType {
        case 12, 13: return "map-in-map (its inner map is another map's fd)"
        case 24, 28, 29, 32: return "local storage (needs BTF type ids)"
        case 26: return "struct_ops (needs BTF)"
        default: return nil
        }
    }

    // MARK: Entries

    static func path(directory: String, key: [UInt8]) -> String {
        directory + "/" + SHA256.hexString(key) + ".entry"
    }

    /// The entry for `key`, or nil (missing, unreadable or damaged: `debug` says which).
    static func lookup(key: [UInt8], directory: String, debug: DebugFlags) -> CacheEntry? {
        let p = path(directory: directory, key: key)
        guard let data = readFile(p) else { return nil }
        do {
            return try CacheEntry.decode(data, key: key, version: formatVersion)
        } catch {
            note(debug, "entry \(p) is \(error.reason): recompiling")
            return nil
        }
    }

    /// Writes `entry` for `key`: to a temporary file in the same directory, then renamed over
    /// the entry, so a reader sees the old entry, the new one, or none, never half of one.
    /// Failures are `debug` lines only.
    static func store(_ entry: CacheEntry, key: [UInt8], directory: String, debug: DebugFlags) {
        guard makeDirectories(directory) else {
            note(debug, "cannot create \(directory) (\(Errno.current.text)): not cached")
            return
        }
        let bytes = entry.encoded(key: key, version: formatVersion)
        let final = path(directory: directory, key: key)
        let temp = "\(directory)/.\(SHA256.hexString(key)).\(getpid()).\(tempCounter.add(1, ordering: .relaxed).oldValue).tmp"
        let fd = open(temp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            note(debug, "cannot write in \(directory) (\(Errno.current.text)): not cached")
            return
        }
        let written = bytes.withUnsafeBytes { buf -> Bool in
            var offset = 0
            while offset < buf.count {
                let n = write(fd, buf.baseAddress! + offset, buf.count - offset)
                if n < 0 && errno == EINTR { continue }
                guard n > 0 else { return false }
                offset += n
            }
            return true
        }
        let closed = close(fd) == 0
        guard written, closed, rename(temp, final) == 0 else {
            note(debug, "cannot write \(final) (\(Errno.current.text)): not cached")
            unlink(temp)
            return
        }
        note(debug, "stored \(final)")
    }

    private static let tempCounter = Atomic<Int>(0)

    static func readFile(_ path: String) -> [UInt8]? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG, st.st_size < 256 << 20 else { return nil }
        var out = [UInt8](repeating: 0, count: Int(st.st_size))
        var offset = 0
        while offset < out.count {
            let n = out.withUnsafeMutableBytes { read(fd, $0.baseAddress! + offset, $0.count - offset) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { break }
            offset += n
        }
        return Array(out.prefix(offset))
    }

    /// `mkdir -p` with mode 0700 for the parts it creates.
    static func makeDirectories(_ path: String) -> Bool {
        if FileIO.isDirectory(path) { return true }
        var prefix = path.hasPrefix("/") ? "" : "."
        for part in path.split(separator: "/") {
            prefix += "/" + part
            if FileIO.isDirectory(prefix) { continue }
            if mkdir(prefix, 0o700) != 0 && errno != EEXIST { return false }
        }
        return FileIO.isDirectory(path)
    }
}
