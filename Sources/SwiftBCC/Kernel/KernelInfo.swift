import Glibc
import Synchronization

/// Facts about the running kernel that SwiftBCC needs: release, headers, kprobe support.
public enum KernelInfo {
    /// `uname -r`.
    public static var release: String {
        var u = utsname()
        uname(&u)
        return withUnsafePointer(to: u.release) {
            $0.withMemoryRebound(to: CChar.self, capacity: 65) { String(cString: $0) }
        }
    }

    /// Where libbcc looks for kernel headers, in its order: `$BCC_KERNEL_SOURCE`,
    /// `/lib/modules/<release>/build` (with `source` beside it), then the kheaders module's
    /// `/sys/kernel/kheaders.tar.xz`.
    public static var headerSearchPaths: [String] {
        var paths: [String] = []
        if let env = getenv("BCC_KERNEL_SOURCE") { paths.append(String(cString: env)) }
        let r = release
        paths += ["/lib/modules/\(r)/build", "/lib/modules/\(r)/source", "/sys/kernel/kheaders.tar.xz"]
        return paths
    }

    /// The Debian package that provides headers for the running kernel.
    public static var headersPackage: String {
        let r = release
        return r.hasSuffix("-amd64") || r.hasSuffix("-arm64") || r.hasSuffix("-cloud-amd64")
            ? "linux-headers-\(r)" : "linux-headers-amd64"
    }

    /// The directory libbcc will use for kernel headers, or nil if it has none.
    public static var headersDirectory: String? {
        if let env = getenv("BCC_KERNEL_SOURCE") {
            let p = String(cString: env)
            return FileIO.isDirectory(p) ? p : nil
        }
        let build = "/lib/modules/\(release)/build"
        return FileIO.isDirectory(build) ? build : nil
    }

    /// The kernel release the headers were generated for (`UTS_RELEASE`), if readable.
    public static func headersRelease(at dir: String) -> String? {
        guard let text = FileIO.read(dir + "/include/generated/utsrelease.h") else { return nil }
        guard let start = text.firstIndex(of: "\"") else { return nil }
        let rest = text[text.index(after: start)...]
        guard let end = rest.firstIndex(of: "\"") else { return nil }
        return String(rest[..<end])
    }

    /// True when the kernel can create kprobes: through the perf `kprobe` PMU (4.17+) or
    /// tracefs `kprobe_events`, the two ways libbcc's `bpf_attach_kprobe` tries.
    public static var hasKprobes: Bool {
        if FileIO.exists("/sys/bus/event_source/devices/kprobe/type") { return true }
        return Tracefs.candidates.contains { FileIO.exists($0 + "/kprobe_events") }
    }

    /// True when the kernel can create uprobes (perf `uprobe` PMU or tracefs `uprobe_events`).
    public static var hasUprobes: Bool {
        if FileIO.exists("/sys/bus/event_source/devices/uprobe/type") { return true }
        return Tracefs.candidates.contains { FileIO.exists($0 + "/uprobe_events") }
    }

    /// Prints, once per process, a warning when the kernel headers libbcc will use belong to
    /// another kernel release: struct offsets read from kernel memory may then be wrong.
    static func warnOnceIfHeadersMismatch() {
        guard BPF.warnsOnHeadersMismatch, let dir = headersDirectory, let hdr = headersRelease(at: dir), hdr != release else { return }
        warnOnce("SwiftBCC warning: kernel headers in \(dir) are for \(hdr), not the running kernel "
            + "\(release); kernel struct offsets may be wrong.")
    }
}

extension BPF {
    private static let headersWarning = Atomic<Bool>(true)

    /// Whether compiling prints, once per process, "SwiftBCC warning: kernel headers in ... are
    /// for ..., not the running kernel ..." when libbcc's kernel headers belong to another
    /// release (default true). A program that reads kernel structs only at offsets from the
    /// kernel's BTF (as the bcc tools in BCCTools do where `/sys/kernel/btf/vmlinux` exists)
    /// can turn it off: the mismatch cannot make its reads wrong. Python BCC has no such warning.
    public static var warnsOnHeadersMismatch: Bool {
        get { headersWarning.load(ordering: .relaxed) }
        set { headersWarning.store(newValue, ordering: .relaxed) }
    }
}
