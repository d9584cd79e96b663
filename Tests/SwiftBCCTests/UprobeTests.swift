import Foundation
import Glibc
@testable import SwiftBCC
import Testing

extension KernelSuite {
    @Suite("Uprobes", .requiresBPF, .requiresUprobes)
    struct UprobeTests {
        /// counts[0]: entries of swiftbcc_add, [1]: sum of its return values, [2]: entries of
        /// swiftbcc_mul, [3]: its last return value.
        static let program = """
            #include <uapi/linux/ptrace.h>
            BPF_ARRAY(counts, u64, 4);
            static void add(int i, u64 v) { u64 *p = counts.lookup(&i); if (p) __sync_fetch_and_add(p, v); }
            int on_add(struct pt_regs *ctx) { add(0, 1); return 0; }
            int on_add_ret(struct pt_regs *ctx) { add(1, (u64)(int)PT_REGS_RC(ctx)); return 0; }
            int on_mul(struct pt_regs *ctx) { add(2, 1); return 0; }
            int on_mul_ret(struct pt_regs *ctx) {
                int i = 3; u64 v = (u64)(int)PT_REGS_RC(ctx); counts.update(&i, &v); return 0;
            }
            int on_any(struct pt_regs *ctx) { add(0, 1); return 0; }
            """

        static func expectedAddSum(_ n: Int) -> UInt64 { UInt64((0..<n).reduce(0) { $0 + $1 + 1000 }) }

        @Test("uprobe and uretprobe on a helper's function: hit counts and return values")
        func uprobeAndUretprobe() throws {
            let exe = try CPrograms.targetPath()
            let b = try BPF(text: Self.program)
            defer { b.cleanup() }
            let a = try b.attachUprobe(name: exe, sym: "swiftbcc_add", fnName: "on_add")
            try b.attachUretprobe(name: exe, sym: "swiftbcc_add", fnName: "on_add_ret")
            try b.attachUretprobe(name: exe, sym: "swiftbcc_mul", fnName: "on_mul_ret")
            #expect(b.numOpenUprobes == 3)
            #expect(a.count == 1 && a[0].symbol == "swiftbcc_add" && a[0].ifunc == nil && a[0].path == exe)
            #expect(a[0].eventName.hasPrefix("p_") && a[0].eventName.hasSuffix("_0x" + String(a[0].offset, radix: 16)))

            let out = try WaitingProcess(exe, ["25"]).go()
            #expect(out.trimmingCharacters(in: .whitespacesAndNewlines) == String(Self.expectedAddSum(25) + 42))
            let counts = try b["counts"]
            #expect(try counts.u64(at: 0) == 25)
            #expect(try counts.u64(at: 1) == Self.expectedAddSum(25))
            #expect(try counts.u64(at: 3) == 42)

            try b.detachUprobe(name: exe, sym: "swiftbcc_add")
            try b.detachUretprobe(name: exe, sym: "swiftbcc_add")
            #expect(b.numOpenUprobes == 1)
            try WaitingProcess(exe, ["5"]).go()
            #expect(try counts.u64(at: 0) == 25, "detached uprobe still counted")
            #expect(throws: BPFError.self) { try b.detachUprobe(name: exe, sym: "swiftbcc_add") }
        }

        @Test("pid: a uprobe for one process ignores another running the same binary")
        func perPid() throws {
            let exe = try CPrograms.targetPath()
            let b = try BPF(text: Self.program)
            defer { b.cleanup() }
            let mine = try WaitingProcess(exe, ["7"])
            let other = try WaitingProcess(exe, ["11"])
            let a = try b.attachUprobe(name: exe, sym: "swiftbcc_add", fnName: "on_add", pid: mine.pid)
            #expect(a[0].pid == mine.pid && a[0].eventName.hasSuffix("_\(mine.pid)"))
            other.go()
            mine.go()
            #expect(try b["counts"].u64(at: 0) == 7)
        }

        @Test("symRe attaches every matching function; addr attaches by ELF address")
        func regexAndAddress() throws {
            let exe = try CPrograms.targetPath()
            let funcs = try BPF.getUserFunctionsAndAddresses(exe, symRe: "swiftbcc_(add|mul)$")
            #expect(Set(funcs.map(\.name)) == ["swiftbcc_add", "swiftbcc_mul"])
            #expect(try BPF.getUserFunctions(exe, symRe: "swiftbcc_") == ["swiftbcc_add", "swiftbcc_mul"])

            let b = try BPF(text: Self.program)
            defer { b.cleanup() }
            let attached = try b.attachUprobe(name: exe, symRe: "swiftbcc_(add|mul)$", fnName: "on_any")
            #expect(attached.count == 2)
            #expect(b.numOpenUprobes == 2)
            try WaitingProcess(exe, ["9"]).go()
            #expect(try b["counts"].u64(at: 0) == 10)  // 9 adds + 1 mul

            let mul = try #require(funcs.first { $0.name == "swiftbcc_mul" })
            let byAddr = try b.attachUretprobe(name: exe, addr: mul.address, fnName: "on_mul_ret")
            #expect(byAddr[0].symbol == nil)
            try WaitingProcess(exe, ["1"]).go()
            #expect(try b["counts"].u64(at: 3) == 42)
            #expect(try b["counts"].u64(at: 0) == 12)
        }

        @Test("symRe is all or nothing: a failing match detaches the ones attached before it")
        func regexRollback() throws {
            let exe = try CPrograms.targetPath()
            let funcs = try BPF.getUserFunctionsAndAddresses(exe, symRe: "swiftbcc_(add|mul)$")
            // Matches are attached by address: make the last one fail (attached already).
            let last = try #require(funcs.max { $0.address < $1.address })
            let b = try BPF(text: Self.program)
            defer { b.cleanup() }
            try b.attachUprobe(name: exe, sym: last.name, fnName: "on_add")
            #expect {
                try b.attachUprobe(name: exe, symRe: "swiftbcc_(add|mul)$", fnName: "on_any")
            } throws: { error in
                guard case let .alreadyAttached("uprobe", target)? = error as? BPFError else { return false }
                return target.hasPrefix(last.name)
            }
            #expect(b.numOpenUprobes == 1)
            #expect(b.uprobeAttachments.map(\.symbol) == [last.name])
        }

        @Test("library by name: findLibrary and a uprobe on libc's getpid")
        func libraryByName() throws {
            let libc = try #require(BPF.findLibrary("c"))
            #expect(libc.hasPrefix("/") && libc.contains("libc.so"))
            #expect(BPF.findLibrary("no_such_library_xyz") == nil)
            #expect(BPF.findExe("sh").map { $0.hasSuffix("/sh") } == true)
            #expect(BPF.findExe("/bin/sh") == "/bin/sh")
            #expect(BPF.findExe("no-such-exe-xyz") == nil)
            // A bare name that is no library is an executable in PATH.
            #expect(try BPF.resolveBinary("true") == BPF.findExe("true"))
            #expect(try BPF.resolveBinary("c") == libc)

            let tgid = getpid()
            let b = try BPF(text: """
                #include <uapi/linux/ptrace.h>
                BPF_ARRAY(counts, u64, 1);
                int on_getpid(struct pt_regs *ctx) {
                    if ((bpf_get_current_pid_tgid() >> 32) != \(tgid)) return 0;
                    int k = 0; u64 *p = counts.lookup(&k); if (p) __sync_fetch_and_add(p, 1);
                    return 0;
                }
                """)
            defer { b.cleanup() }
            try b.attachUprobe(name: "c", sym: "getpid", fnName: "on_getpid", pid: tgid)
            for _ in 0..<5 { _ = getpid() }
            #expect(try b["counts"].u64(at: 0) >= 5)
        }

        @Test("bad uprobe targets give typed errors and leave nothing attached")
        func badTargets() throws {
            let exe = try CPrograms.targetPath()
            let b = try BPF(text: Self.program)
            defer { b.cleanup() }
            #expect(throws: BPFError.symbolNotFound(symbol: "no_such_fn", binary: exe)) {
                try b.attachUprobe(name: exe, sym: "no_such_fn", fnName: "on_add")
            }
            #expect(throws: BPFError.binaryNotFound(name: "no_such_library_xyz", pid: -1)) {
                try b.attachUprobe(name: "no_such_library_xyz", sym: "f", fnName: "on_add")
            }
            #expect(throws: BPFError.binaryNotFound(name: "/no/such/file", pid: -1)) {
                try b.attachUprobe(name: "/no/such/file", sym: "f", fnName: "on_add")
            }
            #expect(throws: BPFError.self) { try b.attachUprobe(name: exe, fnName: "on_add") }
            #expect(throws: BPFError.self) { try b.attachUprobe(name: exe, addr: 0x1000, fnName: "on_add", symOff: 4) }
            // A symOff that overflows the symbol's offset is an error, not a trap.
            #expect {
                try b.attachUprobe(name: exe, sym: "swiftbcc_add", fnName: "on_add", symOff: UInt64.max)
            } throws: { error in
                guard case let .invalidArgument(message)? = error as? BPFError else { return false }
                return message.contains("symOff 0xffffffffffffffff") && message.contains("overflows")
            }
            #expect(throws: BPFError.self) { try b.detachUprobe(name: exe, sym: "swiftbcc_add", symOff: UInt64.max - 1) }
            #expect(b.numOpenUprobes == 0)
            #expect(throws: BPFError.functionNotFound(name: "nope", available: b.functionNames)) {
                try b.attachUprobe(name: exe, sym: "swiftbcc_add", fnName: "nope")
            }
            try b.attachUprobe(name: exe, sym: "swiftbcc_add", fnName: "on_add")
            #expect {
                try b.attachUprobe(name: exe, sym: "swiftbcc_add", fnName: "on_add")
            } throws: { error in
                guard case BPFError.alreadyAttached(kind: "uprobe", _) = error else { return false }
                return true
            }
            #expect(b.numOpenUprobes == 1)
            let e = BPFError.symbolNotFound(symbol: "x", binary: "/bin/y").description
            #expect(e.contains("getUserFunctions"))
        }

        @Test("cleanup closes every uprobe's perf event")
        func cleanupCloses() throws {
            let exe = try CPrograms.targetPath()
            let before = KernelObjects.openPerfEventFDs()
            let b = try BPF(text: Self.program)
            try b.attachUprobe(name: exe, sym: "swiftbcc_add", fnName: "on_add")
            try b.attachUretprobe(name: exe, sym: "swiftbcc_add", fnName: "on_add_ret")
            let opened = KernelObjects.openPerfEventFDs().subtracting(before)
            #expect(opened.count == 2)
            b.cleanup()
            #expect(opened.isDisjoint(with: KernelObjects.openPerfEventFDs()))
            #expect(b.numOpenUprobes == 0)
        }
    }
}

extension KernelSuite {
    @Suite("IFUNC uprobes", .requiresBPF, .requiresUprobes)
    struct IFUNCTests {
        @Test("strlen (an IFUNC in glibc) is resolved to this CPU's implementation, which sees real strings")
        func strlenSeesStrings() throws {
            let libc = try #require(BPF.findLibrary("c"))
            let resolver = try #require(BPF.ifuncResolverOffset(path: libc, symbol: "strlen", pid: -1),
                                        "strlen is not an IFUNC in \(libc)")
            let tgid = getpid()
            let b = try BPF(text: """
                #include <uapi/linux/ptrace.h>
                struct key_t { char c[32]; };
                BPF_HASH(seen, struct key_t, u64);
                int on_strlen(struct pt_regs *ctx) {
                    if ((bpf_get_current_pid_tgid() >> 32) != \(tgid)) return 0;
                    struct key_t key = {};
                    bpf_probe_read_user_str(&key.c, sizeof(key.c), (void *)PT_REGS_PARM1(ctx));
                    seen.increment(key);
                    return 0;
                }
                """)
            defer { b.cleanup() }
            let attached = try b.attachUprobe(name: "c", sym: "strlen", fnName: "on_strlen", pid: tgid)
            let ifunc = try #require(attached.first?.ifunc)
            #expect(ifunc.symbol == "strlen")
            #expect(ifunc.resolverOffset == resolver)
            let impl = try #require(ifunc.implementationOffset, "\(ifunc)")
            #expect(impl != resolver)
            #expect(attached[0].offset == impl)
            #expect(attached[0].description.contains("the implementation the dynamic loader picks on this CPU"))

            let marker = uniqueMarker("strlen-")
            var lengths = 0
            for _ in 0..<3 { lengths += marker.withCString { Int(strlen($0)) } }
            #expect(lengths == 3 * marker.utf8.count)
            let seen = try b["seen"]
            let strings = try seen.rawKeys().map { key in
                String(decoding: key.prefix { $0 != 0 }, as: UTF8.self)
            }
            #expect(strings.contains(marker), "strings seen: \(strings.prefix(20))")
            let count = try seen.lookup(rawKey: Array(marker.utf8) + [UInt8](repeating: 0, count: 32 - marker.utf8.count))
            #expect(TypedBytes.load(try #require(count), as: UInt64.self) >= 3)
        }

        @Test("a non-IFUNC symbol has no IFUNC resolution")
        func plainSymbol() throws {
            let libc = try #require(BPF.findLibrary("c"))
            #expect(BPF.ifuncResolverOffset(path: libc, symbol: "getpid", pid: -1) == nil)
        }

        @Test("an IFUNC that cannot be resolved says why (the probe then sits on the resolver)")
        func unresolvable() throws {
            let r = BPF.resolveIFUNC(path: "/no/such/libx.so", symbol: "strlen", resolverOffset: 0x1234)
            #expect(r.implementationOffset == nil)
            #expect(r.failure?.contains("cannot stat /no/such/libx.so") == true)
            #expect(r.description.contains("attached to the resolver at 0x1234 as Python BCC does"))
            let libc = try #require(BPF.findLibrary("c"))
            let missing = BPF.resolveIFUNC(path: libc, symbol: "no_such_symbol_xyz", resolverOffset: 1)
            #expect(missing.failure?.contains("found nothing") == true)
        }

        /// A library with an IFUNC and a constructor that leaves a file behind when it runs.
        static func ifuncLibrary() throws -> (library: String, constructorRan: String) {
            let constructorRan = CPrograms.directory + "/ifunc-constructor-ran"
            let library = try CPrograms.build("libswiftbcc_ifunc.so", source: """
                #include <fcntl.h>
                #include <unistd.h>
                __attribute__((constructor)) static void swiftbcc_ifunc_init(void) {
                    close(open("\(constructorRan)", O_WRONLY | O_CREAT, 0644));
                }
                static int impl_one(int x) { return x + 1; }
                static int impl_two(int x) { return x + 2; }
                static int (*resolve_swiftbcc_ifunc(void))(int) { return access("/", F_OK) == 0 ? impl_one : impl_two; }
                int swiftbcc_ifunc(int) __attribute__((ifunc("resolve_swiftbcc_ifunc")));
                """, flags: ["-shared", "-fPIC"])
            return (library, constructorRan)
        }

        @Test("an IFUNC in a library this process has not loaded: the probe sits on the resolver, nothing is loaded")
        func notLoadedLibrary() throws {
            let (library, constructorRan) = try Self.ifuncLibrary()
            let resolver = try #require(BPF.ifuncResolverOffset(path: library, symbol: "swiftbcc_ifunc", pid: -1),
                                        "swiftbcc_ifunc is not an IFUNC in \(library)")
            let b = try BPF(text: "int on_ifunc(void *ctx) { return 0; }")
            defer { b.cleanup() }
            let (attached, warning) = try capturingStderr {
                try b.attachUprobe(name: library, sym: "swiftbcc_ifunc", fnName: "on_ifunc")
            }
            let ifunc = try #require(attached.first?.ifunc)
            #expect(ifunc.implementationOffset == nil)
            #expect(attached[0].offset == resolver)
            #expect(ifunc.failure?.contains("not a library this process has loaded") == true, "\(ifunc)")
            #expect(warning.split(separator: "\n").filter { $0.contains("IFUNC swiftbcc_ifunc") }.count == 1,
                    "stderr: \(warning)")
            // Neither loaded nor run in the tracer.
            #expect(!FileManager.default.fileExists(atPath: constructorRan))
            let maps = try String(contentsOfFile: "/proc/self/maps", encoding: .utf8)
            #expect(!maps.contains(library))
        }
    }
}
