import BCCTools
import Foundation
import Glibc
import Testing

/// BCCTools' pure logic: formatting, names, program text substitutions, BTF parsing.
@Suite("BCCTools support library")
struct BCCToolsTests {
    @Test("RowBuilder's appends give printf's and Python's %-5d, %5d, %-10.10s, %.2f and dotted IPv4 text")
    func rowBuilder() {
        var r = RowBuilder()
        for v: UInt64 in [0, 7, 10, 99, 12345, UInt64.max] {
            r.clear(); r.decimal(v)
            #expect(r.text == String(v))
        }
        r.clear(); r.decimal(signed: Int64.min)
        #expect(r.text == String(Int64.min))
        // %.2f of us / 1000 and %.6f of us / 1e6, ties (x.xx5) included, against snprintf.
        var values: [UInt64] = [0, 1, 4, 5, 6, 9, 10, 15, 25, 125, 135, 1005, 1015, 2675, 999_995, 123_456_789, 1 << 53 + 1,
                                  (1 << 52) - 1, 1 << 52, 4_503_599_627_370, 4_503_599_627_371]
        var seed: UInt64 = 0x9e37_79b9_7f4a_7c15
        for _ in 0..<2000 {
            seed = seed &* 6364136223846793005 &+ 1442695040888963407
            values.append((seed >> 20) % 10_000_000)
        }
        for us in values {
            r.clear(); r.fixed(us, scale: 3, digits: 2)
            #expect(r.text == cformat("%.2f", Double(us) / 1000), "us \(us)")
            r.clear(); r.fixed(us, scale: 6, digits: 6)
            #expect(r.text == cformat("%.6f", Double(us) / 1_000_000), "us \(us)")
            r.clear(); r.fixed(us, scale: 1, digits: 0)
            #expect(r.text == cformat("%.0f", Double(us) / 10), "us \(us)")
            // More digits than decimals (opensnoop -T's %-14.9f of float(us) / 1e6), and none.
            r.clear(); r.fixed(us, scale: 6, digits: 9)
            #expect(r.text == cformat("%.9f", Double(us) / 1_000_000), "us \(us)")
            r.clear(); r.fixed(us, scale: 9, digits: 9)
            #expect(r.text == cformat("%.9f", Double(us) / 1e9), "ns \(us)")
            r.clear(); r.fixed(us, scale: 0, digits: 2)
            #expect(r.text == cformat("%.2f", Double(us)), "n \(us)")
            r.clear(); r.fixedDelta(1_000_000_000, since: 1_000_000_000 + us, scale: 6, digits: 6)
            #expect(r.text == cformat("%.6f", (1e9 - Double(1_000_000_000 + us)) / 1_000_000), "-us \(us)")
            r.clear(); r.fixedDelta(1_000_000_000 + us, since: 1_000_000_000, scale: 3, digits: 2)
            #expect(r.text == cformat("%.2f", (Double(1_000_000_000 + us) - 1e9) / 1000), "us \(us)")
            r.clear(); r.fixed(us &* 1_000_003, scale: 6, digits: 9)
            #expect(r.text == cformat("%.9f", Double(us &* 1_000_003) / 1_000_000), "us \(us &* 1_000_003)")
        }
        // A syscall's return as opensnoop/statsnoop print it: "%4d %3d" % (fd or -1, errno or 0).
        for ret: Int64 in [0, 3, 1234, 99_999, -1, -2, -13, -133] {
            r.clear(); r.fdAndErrno(ret)
            #expect(r.text == cformat("%4lld %3lld", ret >= 0 ? ret : -1, ret >= 0 ? 0 : -ret), "ret \(ret)")
        }
        // Columns count code points and never truncate.
        r.clear()
        r.left(5) { $0.decimal(42) }; r.byte(0x7c)
        r.right(5) { $0.decimal(42) }; r.byte(0x7c)
        r.left(3) { $0.append("ééé") }; r.byte(0x7c)
        r.right(2) { $0.decimal(12345) }
        #expect(r.text == "42   |   42|ééé|12345")
        #expect(r.text == pad("42", 5) + "|" + padLeft("42", 5) + "|" + pad("ééé", 3) + "|" + padLeft("12345", 2))
        // A char[16] field: NUL ends it, maxScalars cuts it, bytes that are not UTF-8 are replaced.
        let event: [UInt8] = Array("abcdefghijkl".utf8) + [0, 0, 0, 0] + Array("é\u{00e8}x".utf8) + [0xff, 0x41, 0]
        event.withUnsafeBytes { raw in
            r.clear(); r.cString(raw, at: 0, count: 16)
            #expect(r.text == "abcdefghijkl")
            r.clear(); r.cString(raw, at: 0, count: 16, maxScalars: 10)
            #expect(r.text == "abcdefghij")
            r.clear(); r.cString(raw, at: 16, count: 16, maxScalars: 3)
            #expect(r.text == "éèx")
            r.clear(); r.cString(raw, at: 16, count: 16)
            #expect(r.text == "éèx\u{fffd}A")
            r.clear(); r.cString(raw, at: 100, count: 16)
            #expect(r.text == "")
        }
        let comm: InlineArray<16, CChar> = [0x62, 0x61, 0x73, 0x68, 0, 0x78, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]
        r.clear(); r.cString(comm)
        #expect(r.text == "bash" && r.text == BCCTools.cText(comm))
        // The clock is TimeFormat.now()'s text (read around it, in case the second turns).
        let before = TimeFormat.now()
        r.clear(); r.clock()
        let clock = r.text
        r.clear(); r.clock()
        #expect(r.text == clock || r.text == TimeFormat.now())
        #expect(clock == before || clock == TimeFormat.now(), "clock \(clock), TimeFormat.now() \(before)")
        for raw: UInt32 in [0, 0x0100_007f, 0xffff_ffff, 0x0a0b_0c0d] {
            r.clear(); r.ipv4(raw)
            #expect(r.text == InetText.ipv4(raw))
        }
    }

    @Test("pad/padLeft are %-Ns/%Ns and never truncate; cformat formats numbers as printf")
    func columns() {
        #expect(pad("ab", 5) == "ab   ")
        #expect(padLeft("ab", 5) == "   ab")
        #expect(pad("abcdef", 3) == "abcdef")
        #expect(cformat("%-14.9f|", 1.5) == "1.500000000   |")
        #expect(cformat("%08o", Int32(0o101)) == "00000101")
        #expect(cformat("%8llu", UInt64(57)) == "      57")
        #expect(cformat("%-7.2f ", 0.256) == "0.26    ")
        // Longer than the first 256-byte buffer.
        #expect(cformat("%600d", Int32(1)).count == 600)
    }

    @Test("cText stops at the first NUL and replaces bad UTF-8")
    func cText() {
        let chars: (CChar, CChar, CChar, CChar) = (0x61, 0x62, 0, 0x63)
        #expect(BCCTools.cText(chars) == "ab")
        let bad: (UInt8, UInt8, UInt8) = (0xff, 0x41, 0)
        #expect(BCCTools.cText(bad) == "\u{FFFD}A")
    }

    @Test("TimeFormat: strftime of a known instant, local and UTC; HH:MM:SS.mmm")
    func time() {
        #expect(TimeFormat.strftime("%H:%M:%S", seconds: 3661, utc: true) == "01:01:01")
        #expect(TimeFormat.strftime("%Y-%m-%d", seconds: 86_400 * 365, utc: true) == "1971-01-01")
        #expect(TimeFormat.nowMillis(utc: true).count == 12)
        var clock = RelativeClock()
        #expect(clock.seconds(sinceFirst: 5_000_000_000) == 0)
        #expect(clock.seconds(sinceFirst: 6_500_000_000) == 1.5)
    }

    @Test("x86_64 syscall names: Python's numbers, unknown numbers as Python prints them, names back to numbers")
    func syscalls() {
        #expect(Syscalls.name(0) == "read")
        #expect(Syscalls.name(59) == "execve")
        #expect(Syscalls.name(110) == "getppid")
        #expect(Syscalls.name(334) == "rseq")
        #expect(Syscalls.name(437) == "openat2")
        #expect(Syscalls.name(9999) == "[unknown: 9999]")
        #expect(Syscalls.number("getppid") == 110)
        #expect(Syscalls.number("nosuch") == nil)
    }

    @Test("the committed syscall table agrees with the installed unistd_64.h")
    func syscallTableMatchesHeader() throws {
        let path = "/usr/include/x86_64-linux-gnu/asm/unistd_64.h"
        guard let header = try? String(contentsOfFile: path, encoding: .utf8) else { return }
        var seen = 0
        for line in header.split(separator: "\n") where line.hasPrefix("#define __NR_") {
            let parts = line.split(separator: " ")
            guard parts.count == 3, let nr = Int(parts[2]) else { continue }
            #expect(Syscalls.names[nr] == String(parts[1].dropFirst("__NR_".count)), "\(line)")
            seen += 1
        }
        #expect(seen > 300)
    }

    @Test("errno and signal names as Python's errno and signal modules give them")
    func names() {
        #expect(ErrnoNames.parse("ENOENT") == 2)
        #expect(ErrnoNames.parse("EWOULDBLOCK") == 11)
        #expect(ErrnoNames.parse("-13") == 13)
        #expect(ErrnoNames.parse("EBOGUS") == nil)
        #expect(SignalNames.name(9) == "KILL")
        #expect(SignalNames.name(6) == "ABRT")
        #expect(SignalNames.name(10) == "unknown")
        #expect(OpenFlags.values["O_WRONLY"] == 1 && OpenFlags.values["O_CREAT"] == 0o100)
        #expect(parseUID("0") == 0)
        #expect(parseUID("root") == 0)
        #expect(parseUID("no-such-user-xyz") == nil)
    }

    @Test("ProgramText: placeholders become filters or nothing, defines go in front, marked lines go")
    func programText() {
        var t = ProgramText("a PID_TID_FILTER b UID_FILTER c\nint x; // MARK\nend")
        TaskFilter(pid: 5, tid: 7, uid: nil).apply(to: &t)
        t.define("FOO", "1")
        t.removeLines(containing: "// MARK")
        #expect(t.text == "#define FOO 1\na if (tid != 7) { return 0; } b  c\nend")
        var u = ProgramText("X")
        u.filter("X", skipIf: TaskFilter(uid: 1000).uidCondition)
        #expect(u.text == "if (uid != 1000) { return 0; }")
        #expect(TaskFilter(pid: 3).pidTidCondition == "pid != 3")
    }

    @Test("Containers: no maps gives the always-false filter; a missing map path is a typed error naming the option")
    func containers() throws {
        let text = try Containers.filterText(cgroupMap: nil, mountNamespaceMap: nil)
        #expect(text.contains("static inline int container_should_be_filtered()"))
        #expect(!text.contains("BPF_TABLE_PINNED"))
        #expect(throws: (any Error).self) { try Containers.filterText(cgroupMap: "/sys/fs/bpf/no-such-map-\(UUID().uuidString)", mountNamespaceMap: nil) }
        do {
            _ = try Containers.filterText(cgroupMap: nil, mountNamespaceMap: "/no/such/map")
        } catch {
            #expect("\(error)".contains("--mntnsmap /no/such/map"), "\(error)")
        }
    }

    @Test("KernelBTF finds task_struct members (in anonymous members too) with their sizes; rejects non-BTF")
    func btf() throws {
        #expect(KernelBTF([0, 1, 2]) == nil)
        guard FileManager.default.fileExists(atPath: "/sys/kernel/btf/vmlinux") else { return }
        let btf = try #require(KernelBTF.vmlinux)
        let tgid = try #require(btf.memberOffset("task_struct", "tgid"))
        let pid = try #require(btf.memberOffset("task_struct", "pid"))
        #expect(tgid.size == 4 && pid.size == 4)
        #expect(tgid.offset == pid.offset + 4)
        #expect(btf.memberOffset("task_struct", "real_parent")?.size == 8)
        #expect(btf.memberOffset("task_struct", "start_time")?.size == 8)
        #expect(btf.memberOffset("mnt_namespace", "ns.inum")?.size == 4)
        #expect(btf.memberOffset("fs_struct", "pwd.dentry")?.size == 8)
        #expect(btf.memberOffset("task_struct", "no_such_member") == nil)
        #expect(btf.memberOffset("no_such_struct", "x") == nil)
        #expect(btf.hasStruct("task_struct"))
        #expect(KernelFields.source == "BTF")
        let helpers = KernelFields.cHelpers([.ppid, .mountNamespace])
        #expect(helpers.contains("#define BCCTOOLS_OFF_TASK_TGID (\(tgid.offset))"))
        #expect(helpers.contains("bcctools_task_ppid") && helpers.contains("bcctools_task_mntns"))
        #expect(!helpers.contains("bcctools_task_pwd"))
    }
}
