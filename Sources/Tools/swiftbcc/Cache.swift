import BCCDigest
import Glibc

/// Compiled scripts under `$XDG_CACHE_HOME/swiftbcc/scripts` (default `~/.cache/swiftbcc`).
///
/// An entry is the executable `<name>-<key>` and its sidecar `<name>-<key>.sum` (size and
/// SHA-256 of the executable). Both are written to temporary files in the same directory and
/// renamed into place, so a reader never sees a half-written entry; an entry whose executable
/// does not match its sidecar (truncated, overwritten, sidecar missing) is rebuilt. Runners
/// building the same entry take `<name>-<key>.lock` (flock), so one compiles and the others
/// then find the entry.
struct ScriptCache {
    let root: String
    var dir: String { "\(root)/scripts" }

    /// `$XDG_CACHE_HOME/swiftbcc` when that is an absolute path (as the XDG spec says), else
    /// `$HOME/.cache/swiftbcc`.
    static func defaultRoot() -> String {
        if let xdg = environment("XDG_CACHE_HOME"), xdg.hasPrefix("/") { return "\(xdg)/swiftbcc" }
        var home = environment("HOME")
        if home == nil, let pw = getpwuid(getuid()), let h = pw.pointee.pw_dir { home = String(cString: h) }
        return "\(home ?? "/tmp")/.cache/swiftbcc"
    }

    struct Entry {
        let path: String
        var sumPath: String { path + ".sum" }
        var lockPath: String { path + ".lock" }
    }

    func entry(name: String, key: String) -> Entry { Entry(path: "\(dir)/\(name)-\(key)") }

    enum Check: Equatable {
        case valid
        case missing
        case damaged(String)
    }

    static let sumHeader = "swiftbcc cache entry 1"

    /// Whether `entry`'s executable is there and matches its recorded size and SHA-256.
    func check(_ entry: Entry) -> Check {
        let exe = identity(entry.path)
        guard let sum = readFile(entry.sumPath) else {
            return exe == nil ? .missing : .damaged("its checksum file \(entry.sumPath) is missing")
        }
        var size: Int?
        var sha: String?
        let lines = String(decoding: sum, as: UTF8.self).split(separator: "\n")
        guard lines.first == Substring(Self.sumHeader) else { return .damaged("its checksum file is not one swiftbcc wrote") }
        for line in lines {
            if line.hasPrefix("size=") { size = Int(line.dropFirst(5)) }
            if line.hasPrefix("sha256=") { sha = String(line.dropFirst(7)) }
        }
        guard let size, let sha else { return .damaged("its checksum file is incomplete") }
        guard let exe else { return .damaged("the executable is missing") }
        guard exe.isRegular else { return .damaged("it is not a regular file") }
        guard exe.size == size else { return .damaged("its size is \(exe.size) bytes, not the \(size) recorded") }
        guard let digest = fileSHA256(entry.path), digest == sha else { return .damaged("its SHA-256 is not the one recorded") }
        return .valid
    }

    /// Moves the executable `built` (in `dir`) into place as `entry`, with its sidecar.
    func store(_ built: String, as entry: Entry, source: String) -> Bool {
        guard let id = identity(built), let digest = fileSHA256(built) else { return false }
        let text = "\(Self.sumHeader)\nsize=\(id.size)\nsha256=\(digest)\nsource=\(source)\n"
        let tmpSum = "\(entry.sumPath).tmp.\(getpid())"
        unlink(tmpSum)
        guard writeNewFile(tmpSum, Array(text.utf8)) else { unlink(tmpSum); return false }
        // The executable first: a reader that sees the new sidecar sees the new executable.
        // Until the sidecar is renamed, a reader finds the pair inconsistent and takes the lock.
        guard rename(built, entry.path) == 0 else { unlink(tmpSum); return false }
        guard rename(tmpSum, entry.sumPath) == 0 else { unlink(tmpSum); return false }
        return true
    }
}

/// The SHA-256 of a file's contents, read in 1 MiB blocks.
func fileSHA256(_ path: String) -> String? {
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { return nil }
    defer { close(fd) }
    var sha = SHA256()
    let buf = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 16)
    defer { buf.deallocate() }
    while true {
        let n = read(fd, buf.baseAddress, buf.count)
        if n < 0 && errno == EINTR { continue }
        if n < 0 { return nil }
        if n == 0 { break }
        sha.update(UnsafeRawBufferPointer(rebasing: buf[0..<n]))
    }
    return sha.finish()
}
