import Foundation
@testable import SwiftBCC
import Testing

@Suite("Kernel symbol scan: reads kallsyms lines as libbcc's bcc_procutils_each_ksym does")
struct KernelSymbolScanTests {
    @Test("zero, user-space and data addresses are skipped, a module name is kept")
    func parsesLikeLibbcc() throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("kallsyms-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: file) }
        try """
            0000000000000000 T bpf_probe_read_kernel
            ffffffff81000000 D bpf_probe_read_kernel
            ffffffff81000008 r bpf_probe_read_kernel
            ffffffff81000010 t bpf_probe_read_kernel\t[some_mod]
            0000000000001000 T bpf_probe_read_user
            ffffffff8100001 T bpf_probe_read_user_str
            ffffffff81000020 T bpf_probe_read_user
            ffffffff81000030 T other

            """.write(to: file, atomically: true, encoding: .utf8)
        let found = KernelSymbolScan.scan(path: file.path, wanted: Set(KallsymsShortcut.names))
        #expect(found == [
            .init(name: "bpf_probe_read_kernel", module: "some_mod", address: 0xffff_ffff_8100_0010),
            .init(name: "bpf_probe_read_user", module: "kernel", address: 0xffff_ffff_8100_0020),
        ])
        #expect(KernelSymbolScan.scan(path: file.path + ".missing", wanted: ["x"]) == nil)
        #expect(KernelSymbolScan.scan(path: file.path, wanted: ["absent"]) == [])
    }

    @Test("on this machine the scan finds what a full read of /proc/kallsyms finds")
    func matchesFullRead() throws {
        // (A /proc file's size is 0: read it to its end.)
        guard let handle = FileHandle(forReadingAtPath: "/proc/kallsyms"),
              let text = String(data: handle.readDataToEndOfFile(), encoding: .utf8) else {
            // Unreadable: the shortcut passes every call on to libbcc.
            #expect(KernelSymbolScan.scan(path: "/proc/kallsyms", wanted: ["x"]) == nil)
            return
        }
        try #require(text.count > 1000, "read \(text.count) characters of /proc/kallsyms")
        var expected: [String: UInt64] = [:]
        for line in text.split(separator: "\n") {
            let f = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
            guard f.count >= 3, KallsymsShortcut.names.contains(String(f[2])), expected[String(f[2])] == nil,
                  let address = UInt64(f[0], radix: 16), address >= 0x00ff_ffff_ffff_ffff, address != .max,
                  !"bBdDrR".contains(f[1]) else { continue }
            expected[String(f[2])] = address
        }
        let found = try #require(KernelSymbolScan.scan(path: "/proc/kallsyms", wanted: Set(KallsymsShortcut.names)))
        #expect(Dictionary(found.map { ($0.name, $0.address) }, uniquingKeysWith: { first, _ in first }) == expected)
    }

    @Test("the syscall prefix from the early-stopping scan is the one libbcc's symbol cache finds (Python's way)")
    func syscallPrefixAsLibbcc() {
        let bySymbolCache = BPF.syscallPrefixes.first { BPF.ksymname($0 + "bpf") != nil } ?? BPF.syscallPrefixes[0]
        #expect(BPF.getSyscallPrefix() == bySymbolCache)
        // The scan stops at the first `<prefix>bpf`: on this kernel there is exactly one.
        #expect(BPF.syscallPrefixes.filter { BPF.ksymname($0 + "bpf") != nil }.count <= 1)
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("kallsyms-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: file) }
        try? """
            ffffffff81000000 T __x64_sys_read
            ffffffff81000010 T __x64_sys_bpf
            ffffffff81000020 T sys_bpf

            """.write(to: file, atomically: true, encoding: .utf8)
        let found = KernelSymbolScan.scan(path: file.path, wanted: ["sys_bpf", "__x64_sys_bpf"], untilAny: true)
        #expect(found?.map(\.name) == ["__x64_sys_bpf"])
    }

    @Test("ksymnames finds what ksymname finds, name by name, and leaves out what it does not")
    func ksymnamesAsKsymname() {
        let prefix = BPF.getSyscallPrefix()
        let names = [prefix + "openat", prefix + "getppid", "vfs_read", "schedule", "no_such_kernel_symbol_swiftbcc",
                     "jiffies" /* a data symbol: libbcc's cache skips those */]
        let found = BPF.ksymnames(names)
        for name in names {
            #expect(found[name] == BPF.ksymname(name), "\(name)")
        }
        #expect(found[prefix + "getppid"] != nil && found["no_such_kernel_symbol_swiftbcc"] == nil)
    }
}
