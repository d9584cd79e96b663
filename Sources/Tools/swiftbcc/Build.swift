import BCCDigest
import Glibc

/// Where the SwiftBCC build this runner belongs to lives, and how to compile a script against it.
struct LibraryBuild {
    /// The build products directory: `.build/<triple>/<config>`, holding this executable,
    /// `libSwiftBCCDynamic.so` and `Modules/SwiftBCC.swiftmodule`.
    let buildDir: String
    /// The package root (it has `Sources/CBCC/module.modulemap`, libbcc's headers as a module).
    let packageDir: String

    static let libraryName = "SwiftBCCDynamic"
    var libraryPath: String { "\(buildDir)/lib\(Self.libraryName).so" }
    var modulesDir: String { "\(buildDir)/Modules" }
    var swiftModulePath: String { "\(modulesDir)/SwiftBCC.swiftmodule" }
    var cbccDir: String { "\(packageDir)/Sources/CBCC" }

    /// The build beside this executable (`/proc/self/exe`, symlinks resolved, so a
    /// `/usr/local/bin/swiftbcc` symlink finds the package it was installed from);
    /// `SWIFTBCC_BUILD_DIR` and `SWIFTBCC_PACKAGE_DIR` override.
    static func locate() -> LibraryBuild {
        let exe = realPath("/proc/self/exe") ?? CommandLine.arguments[0]
        let buildDir = environment("SWIFTBCC_BUILD_DIR").flatMap { realPath($0) } ?? dirname(exe)
        var packageDir = environment("SWIFTBCC_PACKAGE_DIR")
        if packageDir == nil {
            var dir = buildDir
            while dir != "/" {
                dir = dirname(dir)
                if identity("\(dir)/Sources/CBCC/module.modulemap") != nil && identity("\(dir)/Package.swift") != nil {
                    packageDir = dir
                    break
                }
            }
        }
        guard let packageDir else {
            fail("cannot find the SwiftBCC package above \(buildDir) (it needs Sources/CBCC/module.modulemap); "
                + "set SWIFTBCC_PACKAGE_DIR to the package's directory")
        }
        let build = LibraryBuild(buildDir: buildDir, packageDir: packageDir)
        for (path, what) in [(build.libraryPath, "the dynamic SwiftBCC library"),
                             (build.swiftModulePath, "the SwiftBCC module")] where identity(path) == nil {
            fail("\(path) is missing (\(what)): build it with `swift build --product \(libraryName)` in \(packageDir)"
                + (buildDir.hasSuffix("/release") ? " -c release" : "") + ", or run scripts/setup --install")
        }
        return build
    }

    /// What changes whenever the library is rebuilt: the library's and the module's size, mtime
    /// and inode, and the CBCC module map and header's text.
    func identityText() -> String {
        var parts: [String] = []
        for path in [libraryPath, swiftModulePath] {
            parts.append("\(path) \(identity(path)?.text ?? "missing")")
            // A module directory (older layouts): its files' identities.
            if isDirectory(path), let dir = opendir(path) {
                var names: [String] = []
                while let entry = readdir(dir) {
                    let name = withUnsafeBytes(of: entry.pointee.d_name) { String(cString: $0.bindMemory(to: CChar.self).baseAddress!) }
                    if name != "." && name != ".." { names.append(name) }
                }
                closedir(dir)
                for name in names.sorted() { parts.append("\(name) \(identity("\(path)/\(name)")?.text ?? "")") }
            }
        }
        for file in ["module.modulemap", "shim.h"] {
            parts.append(String(decoding: readFile("\(cbccDir)/\(file)") ?? [], as: UTF8.self))
        }
        return parts.joined(separator: "\n")
    }

    /// swiftc's arguments to build `source` into `output` against this build.
    func compileArguments(source: String, output: String, optimize: Bool, extra: [String]) -> [String] {
        var args = [source, "-o", output, "-module-name", "SwiftBCCScript",
                    "-I", modulesDir, "-I", cbccDir,
                    "-L", buildDir, "-l\(Self.libraryName)",
                    "-Xlinker", "-rpath", "-Xlinker", buildDir]
        args.append(optimize ? "-O" : "-Onone")
        args += Self.libbccLinkFlags()
        args += extra
        return args
    }

    /// `pkg-config --libs libbcc`, as swiftc arguments (`-lbcc` when pkg-config is missing).
    static func libbccLinkFlags() -> [String] {
        guard let pkgConfig = findOnPath("pkg-config") else { return ["-lbcc"] }
        let (status, out) = run([pkgConfig, "--libs", "libbcc"], captureStdout: true)
        guard status == 0 else { return ["-lbcc"] }
        var flags: [String] = []
        for word in String(decoding: out, as: UTF8.self).split(whereSeparator: { $0 == " " || $0 == "\n" || $0 == "\t" }) {
            let w = String(word)
            if w.hasPrefix("-l") || w.hasPrefix("-L") { flags.append(w) } else { flags += ["-Xlinker", w] }
        }
        return flags
    }
}

/// The Swift compiler scripts are built with, and its version (part of every cache key).
struct Toolchain {
    let swiftc: String

    /// `SWIFTC`, else `swiftc` on `PATH`, else the one in /opt/swift.
    static func locate() -> Toolchain {
        if let s = environment("SWIFTC") { return Toolchain(swiftc: s) }
        if let s = findOnPath("swiftc") { return Toolchain(swiftc: s) }
        if identity("/opt/swift/usr/bin/swiftc") != nil { return Toolchain(swiftc: "/opt/swift/usr/bin/swiftc") }
        fail("swiftc is not on PATH (set SWIFTC to the Swift compiler that built SwiftBCC)")
    }

    /// `swiftc --version`'s output. Running it costs most of a second on a busy machine, so it
    /// is remembered in `cacheRoot/toolchains/`, keyed by the driver's and frontend's path,
    /// size, mtime and inode (an upgraded toolchain has new ones).
    func version(cacheRoot: String) -> String {
        let driver = realPath(swiftc) ?? swiftc
        let frontend = "\(dirname(driver))/swift-frontend"
        var key = SHA256()
        key.field(driver)
        key.field(identity(driver)?.text ?? "")
        key.field(identity(frontend)?.text ?? "")
        let dir = "\(cacheRoot)/toolchains"
        let file = "\(dir)/\(key.finish())"
        if let text = readFile(file), !text.isEmpty { return String(decoding: text, as: UTF8.self) }
        let (status, out) = run([swiftc, "--version"], captureStdout: true)
        guard status == 0, !out.isEmpty else { fail("\(swiftc) --version failed (status \(status))") }
        if makeDirectories(dir) {
            let tmp = "\(file).tmp.\(getpid())"
            if writeNewFile(tmp, out) { rename(tmp, file) } else { unlink(tmp) }
        }
        return String(decoding: out, as: UTF8.self)
    }
}
