import Glibc

/// Reading what a failed or successful libbcc compile printed.
enum Compilation {
    /// The error for a compile that produced no module: missing kernel headers, a map the kernel
    /// refused to create (libbcc creates the maps while compiling), or clang's errors.
    static func failure(output: String, source: String, program: String) -> BPFError {
        if output.contains("Unable to find kernel headers") {
            return .kernelHeadersNotFound(release: KernelInfo.release, searched: KernelInfo.headerSearchPaths,
                                          package: KernelInfo.headersPackage, diagnostics: output)
        }
        let clangErrors = output.split(separator: "\n").contains {
            !$0.contains("could not open bpf map") && ($0.contains(": error: ") || $0.hasPrefix("error: "))
        }
        if !clangErrors, let refused = refusedMap(in: output) {
            return .mapCreationFailed(map: refused.map, errno: refused.errno,
                                      hint: mapHint(map: refused.map, errno: refused.errno, program: program),
                                      detail: output.trimmingTrailingNewlines)
        }
        return .compileFailed(source: source, diagnostics: output)
    }

    /// libbcc's "could not open bpf map: NAME, error: TEXT", with TEXT read back as an errno.
    static func refusedMap(in output: String) -> (map: String, errno: Errno)? {
        for line in output.split(separator: "\n") {
            guard let r = line.firstRange(of: "could not open bpf map: ") else { continue }
            let rest = line[r.upperBound...]
            guard let comma = rest.firstRange(of: ", error: ") else { continue }
            let name = String(rest[..<comma.lowerBound])
            let text = String(rest[comma.upperBound...]).trimmingCharacters(in: " ")
            return (name, errno(forText: text))
        }
        return nil
    }

    /// The errno whose `strerror` text is `text` (libbcc prints the text only).
    static func errno(forText text: String) -> Errno {
        for code in Int32(1)...200 where Errno(code).text == text { return Errno(code) }
        return .none
    }

    /// What to change when the kernel refuses to create `map`.
    static func mapHint(map: String, errno: Errno, program: String) -> String {
        if errno.isPermissionError {
            return "creating BPF maps needs super-user privileges (root, or CAP_BPF); run as root"
        }
        let isRing = program.contains("BPF_RINGBUF_OUTPUT(\(map),") || program.contains("BPF_RINGBUF_OUTPUT(\(map) ,")
        switch errno {
        case .EINVAL:
            return isRing
                ? "a BPF_RINGBUF_OUTPUT page count must be a power of two (1, 2, 4, 8, ...): its size is pages × "
                    + "\(Int(getpagesize())) bytes and the kernel takes only power-of-two sizes"
                : "check its declaration: the number of entries must be at least 1, and the key and value "
                    + "types must suit the map type"
        case .ENOMEM, .E2BIG:
            return "it is too large for this kernel or the locked-memory limit (ulimit -l): declare fewer entries"
        default:
            return "check its declaration and that this kernel supports the map type"
        }
    }

    /// The functions clang warned were implicitly declared, each with its warning line.
    static func undeclaredFunctions(in output: String) -> [(name: String, diagnostic: String)] {
        var found: [(String, String)] = []
        for line in output.split(separator: "\n") {
            guard let r = line.firstRange(of: "implicit declaration of function '") else { continue }
            let rest = line[r.upperBound...]
            guard let end = rest.firstIndex(of: "'") else { continue }
            let name = String(rest[..<end])
            if !found.contains(where: { $0.0 == name }) { found.append((name, String(line))) }
        }
        return found
    }
}
