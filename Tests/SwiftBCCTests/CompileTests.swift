import Foundation
import Glibc
@testable import SwiftBCC
import Testing

extension KernelSuite {
    @Suite("Compile", .requiresBPF)
    struct CompileTests {
        @Test("a valid program compiles and lists its functions")
        func compiles() throws {
            let b = try BPF(text: """
                int first(void *ctx) { return 0; }
                int second(void *ctx) { return 1; }
                """)
            defer { b.cleanup() }
            #expect(b.functionNames == ["first", "second"])
            #expect(b.sourceName == "<text>")
            #expect(try b.dumpFunction("second").count % 8 == 0)
            #expect(try !b.dumpFunction("second").isEmpty)
        }

        @Test("a compile error throws clang's diagnostics, shown only through the error")
        func compileError() throws {
            let (result, stderrText) = capturingStderr { () -> Result<BPF, Error> in
                Result { try BPF(text: "int broken(void *ctx) { return undefined_thing + 1; }") }
            }
            guard case .failure(let error) = result else {
                Issue.record("compiled a broken program")
                return
            }
            guard case BPFError.compileFailed(let source, let diagnostics) = error else {
                Issue.record("wrong error: \(error)")
                return
            }
            #expect(source == "<text>")
            #expect(diagnostics.contains("use of undeclared identifier 'undefined_thing'"))
            #expect(String(describing: error).hasPrefix("Failed to compile BPF module <text>"))
            #expect(String(describing: error).contains("undefined_thing"))
            // libbcc printed the diagnostics on fd 2; the user sees them in the error, not twice.
            #expect(!stderrText.contains("undefined_thing"), "stderr got: \(stderrText)")
        }

        @Test("srcFile: relative #include \"x.h\" resolves beside the source file and in the cwd")
        func srcFileInclude() throws {
            let dir = FileManager.default.temporaryDirectory.appendingPathComponent("swiftbcc-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(at: dir) }
            try "#define RETVAL 7\n".write(to: dir.appendingPathComponent("x.h"), atomically: true, encoding: .utf8)
            try "#include \"x.h\"\nint f(void *ctx) { return RETVAL; }\n"
                .write(to: dir.appendingPathComponent("prog.c"), atomically: true, encoding: .utf8)
            // From another directory, by absolute path.
            let b = try BPF(srcFile: dir.appendingPathComponent("prog.c").path)
            #expect(b.functionNames == ["f"])
            b.cleanup()
            // From the source's directory, by relative path (Python BCC's case).
            let old = FileManager.default.currentDirectoryPath
            _ = FileManager.default.changeCurrentDirectoryPath(dir.path)
            defer { _ = FileManager.default.changeCurrentDirectoryPath(old) }
            let c = try BPF(srcFile: "prog.c")
            #expect(c.functionNames == ["f"])
            c.cleanup()
        }

        @Test("srcFile that does not exist names the places searched")
        func srcFileMissing() {
            #expect {
                try BPF(srcFile: "no-such-file-\(UUID().uuidString).c")
            } throws: { error in
                guard case BPFError.sourceFileNotFound(let path, let searched) = error else { return false }
                return path.hasPrefix("no-such-file-") && searched.count == 2
                    && String(describing: error).hasPrefix("Could not find file no-such-file-")
            }
        }

        @Test("cflags reach clang")
        func cflags() throws {
            let b = try BPF(text: "int f(void *ctx) { return VALUE; }", cflags: ["-DVALUE=3"])
            b.cleanup()
            #expect(throws: BPFError.self) { try BPF(text: "int f(void *ctx) { return VALUE; }") }
        }

        @Test("debug: DEBUG_PREPROCESSOR prints the preprocessed source on stderr")
        func debugPreprocessor() throws {
            let marker = uniqueMarker("pp")
            let (b, text) = try capturingStderr {
                try BPF(text: "int \(marker)(void *ctx) { return 0; }", debug: .preprocessor)
            }
            b.cleanup()
            #expect(text.contains(marker))
        }

        @Test("debug: DEBUG_BPF prints the bytecode when a function loads")
        func debugBPF() throws {
            let b = try BPF(text: "int f(void *ctx) { return 0; }", debug: .bpf)
            defer { b.cleanup() }
            let (_, text) = try capturingStderr { try b.loadFunction("f", type: .kprobe) }
            #expect(!text.isEmpty, "DEBUG_BPF printed nothing")
        }

        @Test("missing kernel headers: a typed error naming the paths searched and the package")
        func missingHeaders() throws {
            setenv("BCC_KERNEL_SOURCE", "/nonexistent-swiftbcc-headers", 1)
            defer { unsetenv("BCC_KERNEL_SOURCE") }
            #expect {
                try BPF(text: "int f(void *ctx) { return 0; }")
            } throws: { error in
                guard case BPFError.kernelHeadersNotFound(let release, let searched, let package, _) = error else {
                    return false
                }
                let text = String(describing: error)
                return release == KernelInfo.release
                    && searched.contains("/nonexistent-swiftbcc-headers")
                    && searched.contains("/lib/modules/\(release)/build")
                    && package.hasPrefix("linux-headers")
                    && text.hasPrefix("Unable to find kernel headers for the running kernel")
                    && text.contains("apt-get install")
            }
        }
    }
}
