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

        @Test("libbcc's kernel-symbol scan, answered by the shortcut, compiles what its full /proc/kallsyms scan compiles")
        func kallsymsShortcut() throws {
            // The front end picks bpf_probe_read_{user,kernel} or bpf_probe_read from kallsyms;
            // a wrong answer turns helpers 112-114 into 4 and 45, and the bytes differ.
            let text = """
                #include <uapi/linux/ptrace.h>
                int probe(struct pt_regs *ctx) {
                    char buf[16] = {};
                    u64 v = 0;
                    bpf_probe_read_user(&v, sizeof(v), (void *)PT_REGS_PARM1(ctx));
                    bpf_probe_read_user_str(buf, sizeof(buf), (void *)PT_REGS_PARM2(ctx));
                    bpf_probe_read_kernel(&v, sizeof(v), (void *)PT_REGS_PARM3(ctx));
                    return (int)v + buf[0];
                }
                """
            let answered = KallsymsShortcut.answered.load(ordering: .relaxed)
            let a = try BPF(text: text, cache: false)
            defer { a.cleanup() }
            let shortcut = try a.dumpFunction("probe")
            #expect(Compiler.installedKallsymsShortcut, "libbcc.so.0 has no PLT slot for bcc_procutils_each_ksym")
            #expect(KallsymsShortcut.answered.load(ordering: .relaxed) > answered)
            #expect(KallsymsShortcut.found?.map(\.name).sorted() == KallsymsShortcut.names.sorted(),
                    "this kernel lists both helpers in /proc/kallsyms")

            KallsymsShortcut.active.store(false, ordering: .relaxed)
            defer { KallsymsShortcut.active.store(true, ordering: .relaxed) }
            let passedOn = KallsymsShortcut.passedOn.load(ordering: .relaxed)
            let b = try BPF(text: text, cache: false)
            defer { b.cleanup() }
            let full = try b.dumpFunction("probe")
            #expect(KallsymsShortcut.passedOn.load(ordering: .relaxed) > passedOn)
            #expect(shortcut == full)
            // Helper calls (opcode 0x85, src 0) name the new helpers: 112, 113, 114.
            let helpers = stride(from: 0, to: shortcut.count, by: 8).compactMap { i -> Int32? in
                guard shortcut[i] == 0x85, shortcut[i + 1] >> 4 == 0 else { return nil }
                return shortcut[(i + 4)..<(i + 8)].withUnsafeBytes { $0.loadUnaligned(as: Int32.self) }
            }
            #expect(Set(helpers).isSuperset(of: [112, 113, 114]), "helpers called: \(helpers)")
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

        /// Run in a child (HelloWorld) with BCC_KERNEL_SOURCE pointing nowhere: setting it in this
        /// process would break the compiles of suites running in parallel.
        @Test("missing kernel headers: a typed error naming the paths searched and the package")
        func missingHeaders() throws {
            let child = try Child(try examplePath("HelloWorld"), ["--count", "1"],
                                  environment: ["BCC_KERNEL_SOURCE": "/nonexistent-swiftbcc-headers"])
            #expect(child.wait(timeout: 60) == 1)
            let release = KernelInfo.release
            let err = child.stderr
            #expect(err.hasPrefix("Error: Unable to find kernel headers for the running kernel \(release): looked in "
                + "/nonexistent-swiftbcc-headers, /lib/modules/\(release)/build"), "stderr: \(err)")
            #expect(err.contains("apt-get install \(KernelInfo.headersPackage)"), "stderr: \(err)")
            #expect(child.stdout.isEmpty)
        }

        @Test("the missing-headers error reads as one sentence with the fix")
        func missingHeadersText() {
            let e = BPFError.kernelHeadersNotFound(release: "6.18.1-custom", searched: ["/lib/modules/6.18.1-custom/build"],
                                                   package: "linux-headers-amd64", diagnostics: "")
            #expect(e.description == "Unable to find kernel headers for the running kernel 6.18.1-custom: looked in "
                + "/lib/modules/6.18.1-custom/build; install them (apt-get install linux-headers-amd64: this kernel "
                + "has no Debian headers package of its own, so use the nearest ones; programs that read kernel "
                + "structs may then read wrong offsets) and link them as /lib/modules/6.18.1-custom/build and "
                + "/lib/modules/6.18.1-custom/source, or point BCC_KERNEL_SOURCE at a kernel source tree.")
        }
    }
}

extension KernelSuite.CompileTests {
    @Test("repeated compile errors in one process each throw, never crash libbcc")
    func repeatedCompileErrors() throws {
        for i in 0..<4 {
            #expect(throws: BPFError.self) { try BPF(text: "int broken\(i)(void *ctx) { return nope\(i); }") }
            #expect(throws: BPFError.self) { try BPF(text: "this is not C \(i) {") }
        }
        let b = try BPF(text: "int fine(void *ctx) { return 0; }")
        #expect(b.functionNames == ["fine"])
        b.cleanup()
    }
}
