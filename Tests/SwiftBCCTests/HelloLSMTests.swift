import Foundation
import Glibc
@testable import SwiftBCC
import Testing

extension KernelSuite {
    @Suite("HelloLSM example", .requiresBPF)
    struct HelloLSMTests {
        @Test("prints the file and command of another user's reads", .requiresKfunc, .tags(.vmLane))
        func printsAccesses() throws {
            TracePipeLock.acquire()
            let uid = UInt32.random(in: 42000...42999)
            let child = try Child(try examplePath("HelloLSM"), ["--uid", "\(uid)", "--count", "2"])
            // Compiling against <linux/fs.h> takes long on a slow (emulated) machine: wait for
            // the program to be loaded.
            let name = KernelObjects.programName(forFunction: "kfunc__security_file_permission")
            #expect(eventually(timeout: 180) {
                !child.process.isRunning || loadedProgramNames().contains(name)
            }, "HelloLSM loaded no program \(name); stderr: \(child.stderr)")
            let status = child.drive(timeout: 60, every: 0.2) {
                _ = try? runCommand("/usr/bin/setpriv", ["--reuid=\(uid)", "--regid=\(uid)", "--clear-groups",
                                                         "/bin/cat", "/etc/hostname"])
            }
            #expect(status == 0, "stderr: \(child.stderr)")
            let lines = child.stdoutLines
            #expect(lines.count == 2, "stdout: \(child.stdout)")
            #expect(lines.contains { $0.contains("File ") && $0.contains(" mask ") }, "stdout: \(child.stdout)")
            #expect(lines.contains { $0.contains("opened by: ") }, "stdout: \(child.stdout)")
        }

        @Test("where the kernel refuses kfuncs, it exits 1 saying what the kernel refused", .requiresNoKfunc)
        func refused() throws {
            let child = try Child(try examplePath("HelloLSM"), ["--count", "1"])
            let status = child.wait(timeout: 60)
            #expect(status == 1, "stderr: \(child.stderr)")
            #expect(child.stderr.contains("kfunc__security_file_permission"), "stderr: \(child.stderr)")
            #expect(child.stderr.contains("refused"), "stderr: \(child.stderr)")
        }
    }
}
