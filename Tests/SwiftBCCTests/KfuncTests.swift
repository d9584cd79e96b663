import Foundation
import Glibc
@testable import SwiftBCC
import Testing

extension KernelSuite {
    @Suite("kfunc and LSM", .requiresBPF)
    struct KfuncTests {
        let tgid = getpid()

        @Test("feature probes try the real thing and say what happened", .tags(.vmLane))
        func featureProbes() throws {
            #expect(BPF.supportRawTracepoint())
            #expect(BPF.rawTracepointSupport.reason == "a raw tracepoint on sys_enter works")
            for support in [BPF.kfuncSupport, BPF.lsmSupport] {
                if support.isSupported {
                    #expect(support.reason.hasSuffix(" works"))
                    #expect(support.error == nil)
                } else {
                    // The reason is the error: what was refused, and the errno.
                    let error = try #require(support.error, "\(support.reason)")
                    #expect(support.reason.contains("\(error)"))
                    if case let .kernelRefused(operation, code, _, _) = error {
                        #expect(operation.hasPrefix("load ") || operation.hasPrefix("attach "))
                        #expect(support.reason.contains(code.name))
                    }
                }
            }
            #expect(BPF.supportKfunc() == BPF.kfuncSupport.isSupported)
            #expect(BPF.supportLSM() == BPF.lsmSupport.isSupported)
            #expect(BPF.addPrefix("kfunc__", "vfs_read") == "kfunc__vfs_read")
            #expect(BPF.addPrefix("kfunc__", "kfunc__vfs_read") == "kfunc__vfs_read")
            #expect(BPF.trampolineTarget("kfunc__vmlinux__vfs_read") == "vfs_read")
            #expect(BPF.trampolineTarget("lsm__file_open") == "file_open")
        }

        @Test("where the kernel refuses kfuncs, attaching one says what the kernel refused", .requiresNoKfunc)
        func refusedKfunc() throws {
            let target = BPF.kfuncProbeTarget
            let function = "kfunc__\(target)"
            let programName = KernelObjects.programName(forFunction: function)
            #expect(programName == String(target.prefix(15)))
            let before = loadedProgramNames().filter { $0 == programName }.count
            // The refusal the feature probe saw: the attach must fail with the same case, for
            // this function and target.
            let probed = try #require(BPF.kfuncSupport.error, "\(BPF.kfuncSupport.reason)")
            #expect {
                try BPF(text: "KFUNC_PROBE(\(target)) { return 0; }")
            } throws: { error in
                switch (error as? BPFError, probed) {
                case let (.kernelRefused(operation, code, _, hint)?, .kernelRefused):
                    return operation == "load kfunc program \(function) (for \(target))"
                        && (code == EPERM || code == EACCES) && hint == BPF.trampolineHint(kind: .kfunc)
                        && "\(error)".contains("although this process has the privileges")
                case let (.attachFailed(kind, attachTarget, fn, _, _, hint)?, .attachFailed):
                    return kind == "kfunc" && attachTarget == target && fn == function
                        && hint?.contains("BTF") == true
                default:
                    return false
                }
            }
            #expect(loadedProgramNames().filter { $0 == programName }.count == before)
        }

        @Test("kfunc and kretfunc count vfs_read calls of this process; auto-attach and detach", .requiresKfunc, .tags(.vmLane))
        func kfuncCounts() throws {
            let b = try BPF(text: """
                BPF_ARRAY(counts, u64, 2);
                static void add(int i) { u64 *p = counts.lookup(&i); if (p) __sync_fetch_and_add(p, 1); }
                KFUNC_PROBE(vfs_read) {
                    if ((bpf_get_current_pid_tgid() >> 32) == \(tgid)) add(0);
                    return 0;
                }
                KRETFUNC_PROBE(vfs_read) {
                    if ((bpf_get_current_pid_tgid() >> 32) == \(tgid)) add(1);
                    return 0;
                }
                """)
            defer { b.cleanup() }
            #expect(b.numOpenKfuncs == 2)
            func readSomething() {
                let fd = open("/etc/hostname", O_RDONLY)
                var buf = [UInt8](repeating: 0, count: 64)
                _ = read(fd, &buf, buf.count)
                close(fd)
            }
            for _ in 0..<3 { readSomething() }
            let counts = try b["counts"]
            #expect(try counts.u64(at: 0) >= 3)
            #expect(try counts.u64(at: 1) >= 3)
            try b.detachKfunc(fnName: "vfs_read")
            try b.detachKretfunc(fnName: "kretfunc__vfs_read")
            #expect(b.numOpenKfuncs == 0)
            let frozen = try counts.u64(at: 0)
            readSomething()
            #expect(try counts.u64(at: 0) == frozen)
            #expect(throws: BPFError.notAttached(kind: "kfunc", target: "kfunc__vfs_read")) {
                try b.detachKfunc(fnName: "vfs_read")
            }
        }

        @Test("a failed kfunc attach leaves a function loaded before (by the user) loaded and usable", .requiresKfunc, .tags(.vmLane))
        func failedAttachKeepsLoadedFunction() throws {
            let target = BPF.kfuncProbeTarget
            let name = "kfunc__\(target)"
            let b = try BPF(text: "KFUNC_PROBE(\(target)) { return 0; }")
            defer { b.cleanup() }
            let fn = try b.loadFunction(name, type: .tracing)
            let progID = try #require(Self.progID(fn.fd))
            // Make the kernel refuse the next attach: keep the auto-attached link open but take
            // it from the BPF's records, so the program is still linked there (EBUSY).
            let link = try #require(b.state.withLock {
                try? $0.attachments.remove(TrampolineAttachment.self, TrampolineAttachment.key(.kfunc, name),
                                           kind: "kfunc", target: name)
            }?.linkFD)
            #expect {
                try b.attachKfunc(fnName: target)
            } throws: { error in
                guard case let .attachFailed("kfunc", t, f, code, _, _)? = error as? BPFError else { return false }
                return t == target && f == name && code == EBUSY
            }
            // The function is still loaded, with the same fd and program.
            #expect(Self.progID(fn.fd) == progID)
            #expect(try b.loadFunction(name, type: .tracing) == fn)
            close(link)
            try b.attachKfunc(fnName: target)
            #expect(b.numOpenKfuncs == 1)
        }

        /// The id of the BPF program behind `fd`, from /proc/self/fdinfo; nil when `fd` is not one.
        static func progID(_ fd: Int32) -> UInt32? {
            guard let info = try? String(contentsOfFile: "/proc/self/fdinfo/\(fd)", encoding: .utf8) else { return nil }
            let line = info.split(separator: "\n").first { $0.hasPrefix("prog_id:") }
            return line.flatMap { UInt32($0.dropFirst("prog_id:".count).trimmingCharacters(in: .whitespaces)) }
        }

        @Test("LSM_PROBE on file_permission sees this process's reads", .requiresLSM, .tags(.vmLane))
        func lsmCounts() throws {
            let b = try BPF(text: """
                struct file;
                BPF_ARRAY(counts, u64, 1);
                LSM_PROBE(file_permission, struct file *file, int mask) {
                    if ((bpf_get_current_pid_tgid() >> 32) == \(tgid)) {
                        int k = 0; u64 *p = counts.lookup(&k); if (p) __sync_fetch_and_add(p, 1);
                    }
                    return 0;
                }
                """)
            defer { b.cleanup() }
            #expect(b.numOpenKfuncs == 1)
            _ = FileManager.default.contents(atPath: "/etc/hostname")
            #expect(try b["counts"].u64(at: 0) > 0)
            try b.detachLSM(fnName: "file_permission")
            #expect(b.numOpenKfuncs == 0)
        }
    }
}
