/// The clang flags `BPF(text:cflags:)` accepts, checked before libbcc sees them: libbcc hands
/// them to clang, which ignores a flag it does not know and takes the next flag as the value
/// of one that needs a value (`-I` followed by `-DX`), so a typo would silently change the
/// compile.
enum CFlags {
    /// Flags that take a value, joined (`-Ifoo`) or as the next argument (`-I`, `foo`).
    static let withValue = ["-include", "-imacros", "-iquote", "-isystem", "-idirafter", "-Xclang",
                            "-D", "-U", "-I", "-x"]
    /// Prefixes of the flags that make sense for a BPF compile.
    static let prefixes = ["-D", "-U", "-I", "-W", "-w", "-f", "-m", "-O", "-g", "-std=", "-include", "-imacros",
                           "-iquote", "-isystem", "-idirafter", "-nostdinc", "-Xclang", "-x"]

    /// Throws `.invalidArgument` naming the first flag that is unknown, malformed or missing
    /// its value.
    static func validate(_ flags: [String]) throws {
        var i = 0
        while i < flags.count {
            let flag = flags[i]
            if flag.utf8.contains(0) {
                throw BPFError.invalidArgument("cflag \(flag.debugDescription) contains a NUL character; pass each flag as its own string.")
            }
            guard flag.hasPrefix("-"), flag.count > 1 else {
                throw BPFError.invalidArgument("cflag \(flag.debugDescription) is not a flag (flags start with -); "
                    + "a flag's value goes in the same string (\"-I/path\") or right after the flag (\"-I\", \"/path\").")
            }
            guard prefixes.contains(where: { flag.hasPrefix($0) }) else {
                throw BPFError.invalidArgument("Unknown or unsupported cflag \(flag.debugDescription): clang would ignore it; "
                    + "BPF(text:cflags:) takes preprocessor, include, warning and code generation flags "
                    + "(-D, -U, -I, -include, -iquote, -isystem, -W, -w, -f, -m, -O, -g, -std=).")
            }
            if let bare = withValue.first(where: { $0 == flag }) {
                guard i + 1 < flags.count, !flags[i + 1].isEmpty, !flags[i + 1].hasPrefix("-") else {
                    throw BPFError.invalidArgument("cflag \(bare) needs a value: write \"\(bare)VALUE\" or pass the value "
                        + "as the next string (\"\(bare)\", \"VALUE\").")
                }
                i += 2
                continue
            }
            i += 1
        }
    }
}
