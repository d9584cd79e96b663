import Glibc

// The few POSIX calls the runner needs, with Swift types. Glibc only: a cache hit must start
// the script fast, and Foundation's start-up would be most of that time.

/// Exits with `status` after writing `message` to stderr as one `swiftbcc:` line.
func fail(_ message: String, status: Int32 = 1) -> Never {
    say(message)
    exit(status)
}

/// Writes one `swiftbcc: ...` line to stderr.
func say(_ message: String) {
    writeAll(Array("swiftbcc: \(message)\n".utf8), to: 2)
}

func writeAll(_ bytes: [UInt8], to fd: Int32) {
    bytes.withUnsafeBytes { buf in
        var offset = 0
        while offset < buf.count {
            let n = write(fd, buf.baseAddress! + offset, buf.count - offset)
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { return }
            offset += n
        }
    }
}

func errnoText(_ e: Int32 = errno) -> String { String(cString: strerror(e)) }

/// The whole file, or nil (with errno set) when it cannot be read.
func readFile(_ path: String) -> [UInt8]? {
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { return nil }
    defer { close(fd) }
    var out: [UInt8] = []
    var buf = [UInt8](repeating: 0, count: 1 << 16)
    while true {
        let n = read(fd, &buf, buf.count)
        if n < 0 && errno == EINTR { continue }
        if n < 0 { return nil }
        if n == 0 { return out }
        out.append(contentsOf: buf[0..<n])
    }
}

/// Writes `bytes` to a new file at `path` (mode `mode`), fsynced. Returns false on failure.
func writeNewFile(_ path: String, _ bytes: [UInt8], mode: mode_t = 0o644) -> Bool {
    let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode)
    guard fd >= 0 else { return false }
    writeAll(bytes, to: fd)
    let ok = fsync(fd) == 0
    return close(fd) == 0 && ok
}

struct FileIdentity: Equatable {
    var size: Int
    var mtimeNs: Int
    var inode: UInt
    var isRegular: Bool
    var isExecutable: Bool

    var text: String { "size=\(size) mtime=\(mtimeNs) inode=\(inode)" }
}

func identity(_ path: String) -> FileIdentity? {
    var st = stat()
    guard stat(path, &st) == 0 else { return nil }
    return FileIdentity(size: Int(st.st_size),
                        mtimeNs: Int(st.st_mtim.tv_sec) * 1_000_000_000 + Int(st.st_mtim.tv_nsec),
                        inode: UInt(st.st_ino),
                        isRegular: (st.st_mode & S_IFMT) == S_IFREG,
                        isExecutable: access(path, X_OK) == 0)
}

func isDirectory(_ path: String) -> Bool {
    var st = stat()
    return stat(path, &st) == 0 && (st.st_mode & S_IFMT) == S_IFDIR
}

func realPath(_ path: String) -> String? {
    guard let p = realpath(path, nil) else { return nil }
    defer { free(p) }
    return String(cString: p)
}

func dirname(_ path: String) -> String {
    guard let slash = path.lastIndex(of: "/") else { return "." }
    return slash == path.startIndex ? "/" : String(path[..<slash])
}

func basename(_ path: String) -> String {
    guard let slash = path.lastIndex(of: "/") else { return path }
    return String(path[path.index(after: slash)...])
}

/// `mkdir -p`, mode 0700 for what it creates. Returns false when `path` is not a directory after.
func makeDirectories(_ path: String) -> Bool {
    if isDirectory(path) { return true }
    let parent = dirname(path)
    if parent != path && !isDirectory(parent) { _ = makeDirectories(parent) }
    return mkdir(path, 0o700) == 0 || isDirectory(path)
}

func currentDirectory() -> String {
    guard let p = getcwd(nil, 0) else { return "." }
    defer { free(p) }
    return String(cString: p)
}

func environment(_ name: String) -> String? {
    guard let v = getenv(name) else { return nil }
    let s = String(cString: v)
    return s.isEmpty ? nil : s
}

/// The executable `name` on `$PATH`, or nil.
func findOnPath(_ name: String) -> String? {
    for dir in (environment("PATH") ?? "/usr/local/bin:/usr/bin:/bin").split(separator: ":") {
        let candidate = "\(dir)/\(name)"
        if let id = identity(candidate), id.isRegular, id.isExecutable { return candidate }
    }
    return nil
}

/// Runs `argv` (argv[0] a path) with stdin/stderr inherited; returns its exit status (128+N
/// for a signal) and, with `captureStdout`, what it wrote to stdout.
func run(_ argv: [String], captureStdout: Bool = false) -> (status: Int32, stdout: [UInt8]) {
    var fds: [Int32] = [-1, -1]
    if captureStdout {
        guard pipe(&fds) == 0 else { return (127, []) }
        for fd in fds { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
    }
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    if captureStdout {
        posix_spawn_file_actions_adddup2(&actions, fds[1], 1)
    }
    var cArgs: [UnsafeMutablePointer<CChar>?] = argv.map { strdup($0) }
    cArgs.append(nil)
    defer { for p in cArgs { free(p) } }
    var pid: pid_t = 0
    let rc = posix_spawn(&pid, argv[0], &actions, nil, cArgs, environ)
    if captureStdout { close(fds[1]) }
    guard rc == 0 else {
        if captureStdout { close(fds[0]) }
        return (127, [])
    }
    var out: [UInt8] = []
    if captureStdout {
        var buf = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = read(fds[0], &buf, buf.count)
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { break }
            out.append(contentsOf: buf[0..<n])
        }
        close(fds[0])
    }
    var status: Int32 = 0
    while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
    // WIFEXITED / WEXITSTATUS / WTERMSIG, which Glibc's module does not export as functions.
    let signal = status & 0x7f
    return (signal == 0 ? (status >> 8) & 0xff : 128 + signal, out)
}
