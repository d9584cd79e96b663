import BCCTools
import Foundation
import Glibc
@testable import SwiftBCC
import Testing

extension KernelSuite {
    /// What the tools share that needs the kernel: struct fields at BTF offsets, the pinned maps
    /// of --cgroupmap/--mntnsmap, and the attach paths the host cannot take (compiled and loaded).
    @Suite("bcc tools: kernel fields, container maps, attach paths", .requiresBPF)
    struct ToolKernelTests {
        struct Fields: BitwiseCopyable {
            var tgid: UInt64 = 0, pid: UInt64 = 0, ppid: UInt64 = 0, mntns: UInt64 = 0, cgroup: UInt64 = 0, start: UInt64 = 0
        }

        /// Reads the KernelFields helpers' values (and the cgroup id) for this thread, in a getppid tracepoint.
        static func readFields() throws -> Fields {
            let tid = currentTid()
            let b = try BPF(text: KernelFields.cHelpers([.tgid, .pid, .ppid, .mountNamespace]) + """
                #include <linux/sched.h>
                struct fields_t { u64 tgid, pid, ppid, mntns, cgroup, start; };
                BPF_ARRAY(out, struct fields_t, 1);
                int read_fields(void *ctx) {
                    if ((u32)bpf_get_current_pid_tgid() != \(tid)) return 0;
                    void *task = (void *)bpf_get_current_task();
                    struct fields_t f = {};
                    f.tgid = bcctools_task_tgid(task);
                    f.pid = bcctools_task_pid(task);
                    f.ppid = bcctools_task_ppid(task);
                    f.mntns = bcctools_task_mntns(task);
                    f.cgroup = bpf_get_current_cgroup_id();
                    f.start = bpf_ktime_get_ns();
                    int zero = 0;
                    out.update(&zero, &f);
                    return 0;
                }
                """)
            defer { b.cleanup() }
            try b.attachTracepoint(tp: "syscalls:sys_enter_getppid", fnName: "read_fields")
            _ = getppid()
            return try b.arrayTable("out", value: Fields.self).lookup(0) ?? Fields()
        }

        static func mountNamespaceInode() -> UInt64 {
            var st = stat()
            return stat("/proc/self/ns/mnt", &st) == 0 ? UInt64(st.st_ino) : 0
        }

        @Test("KernelFields read this thread's tgid, tid, parent and mount namespace right (BTF offsets, whatever the headers)")
        func kernelFields() throws {
            let f = try Self.readFields()
            #expect(f.tgid == UInt64(getpid()))
            #expect(f.pid == UInt64(currentTid()))
            #expect(f.ppid == UInt64(getppid()))
            #expect(f.mntns == Self.mountNamespaceInode())
        }

        @Test("the header-offset fallback (kernels without BTF) compiles for every field")
        func headerFallbackCompiles() throws {
            let b = try BPF(text: KernelFields.cHelpers(Set(KernelField.allCases), useBTF: false) + """
                int use_all(void *ctx) {
                    void *t = (void *)bpf_get_current_task();
                    void *d = bcctools_task_pwd(t);
                    return bcctools_task_tgid(t) + bcctools_task_pid(t) + bcctools_task_ppid(t) + bcctools_task_exit_code(t)
                        + (int)bcctools_task_start_time(t) + bcctools_task_mntns(t) + (bcctools_dentry_name(d) != 0)
                        + (bcctools_dentry_parent(d) != 0);
                }
                """)
            defer { b.cleanup() }
            #expect(throws: Never.self) { try b.loadFunction("use_all", type: .tracepoint) }
        }

        /// Pins a fresh hash map (u64 -> `Value`) holding `keys` at a unique bpffs path.
        static func pinnedMap<Value: BitwiseCopyable>(_ keys: [UInt64], value: Value, cType: String) throws -> String {
            let path = "/sys/fs/bpf/swiftbcc-tools-\(uniqueMarker())"
            let b = try BPF(text: "BPF_HASH(pinme, u64, \(cType), 1024);")
            defer { b.cleanup() }
            let table = try b.hashTable("pinme", key: UInt64.self, value: Value.self)
            for k in keys { try table.update(k, value) }
            try b["pinme"].pin(path)
            return path
        }

        @Test("--cgroupmap: opensnoop shows our opens when the pinned map holds our cgroup id, none with an empty map")
        func cgroupMap() throws {
            let cgroup = try Self.readFields().cgroup
            let withUs = try Self.pinnedMap([cgroup], value: UInt64(0), cType: "u64")
            let empty = try Self.pinnedMap([], value: UInt64(0), cType: "u64")
            defer { unlink(withUs); unlink(empty) }
            let marker = "/tmp/swiftbcc-tools-\(uniqueMarker())-missing"
            let openMarker = { let fd = open(marker, O_RDONLY); if fd >= 0 { close(fd) } }
            let shown = try ToolTest.startTool("opensnoop", ["--cgroupmap", withUs, "-p", String(getpid())])
            #expect(ToolTest.waitForRow(shown, containing: marker, trigger: openMarker), "stderr: \(shown.stderr)")
            #expect(ToolTest.stop(shown) == 0)
            let hidden = try ToolTest.startTool("opensnoop", ["--cgroupmap", empty, "-p", String(getpid())])
            for _ in 0..<10 { openMarker(); usleep(100_000) }
            #expect(ToolTest.stop(hidden) == 0, "stderr: \(hidden.stderr)")
            #expect(!hidden.stdout.contains(marker), "stdout: \(hidden.stdout)")
        }

        @Test("--mntnsmap: execsnoop shows our exec when the pinned map holds our mount namespace, none with another")
        func mountNamespaceMap() throws {
            let withUs = try Self.pinnedMap([Self.mountNamespaceInode()], value: UInt32(1), cType: "u32")
            let other = try Self.pinnedMap([1], value: UInt32(1), cType: "u32")
            defer { unlink(withUs); unlink(other) }
            let marker = uniqueMarker("mn")
            let dir = try ToolTest.temporaryDirectory(marker)
            defer { try? FileManager.default.removeItem(at: dir) }
            let command = try ToolTest.markedCommand(marker, in: dir, target: "/bin/true")
            let shown = try ToolTest.startTool("execsnoop", ["--mntnsmap", withUs, "-P", String(getpid())])
            #expect(ToolTest.waitForRow(shown, containing: marker) { _ = try? ToolTest.spawn(command, []) }, "stderr: \(shown.stderr)")
            #expect(ToolTest.stop(shown) == 0)
            let hidden = try ToolTest.startTool("execsnoop", ["--mntnsmap", other, "-P", String(getpid())])
            for _ in 0..<5 { _ = try? ToolTest.spawn(command, []); usleep(100_000) }
            #expect(ToolTest.stop(hidden) == 0, "stderr: \(hidden.stderr)")
            #expect(!hidden.stdout.contains(marker), "stdout: \(hidden.stdout)")
        }

        @Test("--cgroupmap with no map at the path: exit 1 and one clear message, no trace")
        func missingMap() throws {
            let out = try ToolTest.run(try examplePath("execsnoop"), ["--cgroupmap", "/sys/fs/bpf/no-such-\(uniqueMarker())"])
            #expect(out.status == 1)
            #expect(out.stderr.contains("execsnoop: --cgroupmap /sys/fs/bpf/no-such-"), "stderr: \(out.stderr)")
            #expect(out.stderr.contains("No such file or directory"))
            #expect(!out.stderr.contains("Fatal error") && !out.stderr.contains("Stack dump"))
        }

        /// The program `tool --attach kind --ebpf` prints.
        static func program(_ tool: String, _ kind: String, _ extra: [String] = []) throws -> String {
            let out = try ToolTest.run(try examplePath(tool), extra + ["--attach", kind, "--ebpf"])
            try #require(out.status == 0, "\(tool) --attach \(kind) --ebpf: \(out.stderr)")
            return out.stdout
        }

        @Test("every tool's kprobe program compiles and its functions pass the verifier as kprobes (the path the VM lane attaches)",
              arguments: [("execsnoop", ["syscall__execve", "do_ret_sys_execve"], [String]()),
                          ("opensnoop", ["syscall__trace_entry_open", "syscall__trace_entry_openat", "trace_return"], ["-F", "-e"]),
                          ("killsnoop", ["syscall__kill", "do_ret_sys_kill"], []),
                          ("syncsnoop", ["syscall__sync"], []),
                          ("statsnoop", ["syscall__stat_entry", "syscall__statx_entry", "trace_return"], ["-p", "1"]),
                          ("tcplife", ["tcplife_set_state"], ["-p", "1", "-L", "80,81", "-D", "443", "-4"]),
                          ("tcpconnect", ["trace_connect_entry", "trace_connect_v4_return", "trace_connect_v6_return"],
                           ["-p", "1", "-u", "0", "-P", "80,443", "-6"]),
                          ("tcpconnect", ["trace_connect_entry", "trace_connect_v4_return", "trace_connect_v6_return"], ["-c"])])
        func kprobePrograms(tool: String, functions: [String], extra: [String]) throws {
            let b = try BPF(text: try Self.program(tool, "kprobe", extra))
            defer { b.cleanup() }
            for fn in functions {
                #expect(throws: Never.self, "\(tool) \(fn)") { try b.loadFunction(fn, type: .kprobe) }
            }
        }

        @Test("opensnoop's kretfunc program compiles; loading it works where kfuncs do, else the kernel's refusal is the error")
        func kfuncProgram() throws {
            let text = try Self.program("opensnoop", "kfunc")
            do {
                let b = try BPF(text: text)
                b.cleanup()
                #expect(Probe.kfunc.ok, "loaded although the kfunc probe failed")
            } catch let error as BPFError {
                if case .compileFailed = error { Issue.record("opensnoop's kfunc program does not compile: \(error)") }
                #expect(!Probe.kfunc.ok, "\(error)")
            }
        }

        @Test("--attach kprobe where the kernel has none: exit 1 with the library's message; --attach of a path a tool lacks: exit 1",
              .requiresNoKprobes)
        func forcedPathErrors() throws {
            let out = try ToolTest.run(try examplePath("killsnoop"), ["--attach", "kprobe"])
            #expect(out.status == 1)
            #expect(out.stderr.contains("killsnoop: Cannot attach kprobe to "), "stderr: \(out.stderr)")
            #expect(out.stderr.contains("syscalls:sys_enter_kill"), "the error names the tracepoint to use: \(out.stderr)")
            let none = try ToolTest.run(try examplePath("exitsnoop"), ["--attach", "kprobe"])
            #expect(none.status == 1)
            #expect(none.stderr.contains("exitsnoop: --attach kprobe: this tool has no kprobe attach path; it has tracepoint."),
                    "stderr: \(none.stderr)")
            try ToolTest.expectUsageError("syscount", ["--attach", "usdt"])
            let uprobe = try ToolTest.run(try examplePath("syscount"), ["--attach", "uprobe"])
            #expect(uprobe.status == 1 && uprobe.stderr.contains("this tool has no uprobe attach path"), "stderr: \(uprobe.stderr)")
        }
    }
}
