import Foundation
import Glibc
@testable import SwiftBCC
import Testing

/// Python BCC names with no kernel behind them, each against Python's own answer.
@Suite("Python parity: names")
struct ParityTests {
    @Test("monotonicTime is CLOCK_MONOTONIC in ns: Python's monotonic_time falls between two readings", .requiresPythonBCC)
    func monotonicTime() throws {
        let before = BPF.monotonicTime()
        let out = runPython("from bcc import BPF\nprint(int(BPF.monotonic_time()))")
        let after = BPF.monotonicTime()
        #expect(out.status == 0, "python: \(out.stderr)")
        let python = try #require(UInt64(out.stdout.trimmingSpaces))
        // Python's float rounds to a few hundred ns at most at this magnitude.
        #expect(python + 1024 >= before && python <= after + 1024)
        #expect(after > before)
    }

    @Test("syscallName agrees with Python's syscall_name over its whole table and for unknown numbers", .requiresPythonBCC)
    func syscallNames() throws {
        let out = runPython("""
            from bcc.syscall import syscall_name, syscalls
            for n in sorted(syscalls): print(n, syscall_name(n).decode())
            print(100000, syscall_name(100000).decode())
            """)
        #expect(out.status == 0, "python: \(out.stderr)")
        let rows = out.stdout.split(separator: "\n").map { $0.split(separator: " ", maxSplits: 1).map(String.init) }
        #expect(rows.count > 300)
        for row in rows where row.count == 2 {
            #expect(BPF.syscallName(Int(row[0])!) == row[1], "syscall \(row[0])")
        }
        #expect(BPF.syscallName(-1) == "[unknown: -1]")
        // Newer than Python's table: from the header, or SwiftBCC's own table.
        #expect(BPF.syscallName(435) == "clone3")
        #expect(BPF.syscallName(462) == "mseal")
        #expect(BPF.syscalls[59] == "execve")
    }

    @Test("the header parser reads #define __NR_ lines")
    func syscallHeader() {
        let parsed = Syscalls.parse(header: "#ifndef X\n#define __NR_read 0\n#define __NR_write\t1\n#define __X 3\n#define __NR_bad x\n")
        #expect(parsed == [0: "read", 1: "write"])
        #expect(Syscalls.fallback[0] == "read" && Syscalls.fallback[469] == "file_setattr")
    }

    @Test("TCP.tcpstate and TCP.flags2str equal bcc.tcp's for every state and every flag byte", .requiresPythonBCC)
    func tcp() {
        let out = runPython("""
            from bcc import tcp
            for k in sorted(tcp.tcpstate): print("s", k, tcp.tcpstate[k])
            for f in range(256): print("f", f, tcp.flags2str(f))
            print("c", tcp.TCPHDR_FIN, tcp.TCPHDR_SYN, tcp.TCPHDR_RST, tcp.TCPHDR_PSH, tcp.TCPHDR_ACK, tcp.TCPHDR_URG, tcp.TCPHDR_ECE, tcp.TCPHDR_CWR)
            """)
        #expect(out.status == 0, "python: \(out.stderr)")
        var states: [Int: String] = [:]
        var flagLines = 0
        for line in out.stdout.split(separator: "\n") {
            let parts = line.split(separator: " ", maxSplits: 2, omittingEmptySubsequences: false).map(String.init)
            switch parts[0] {
            case "s": states[Int(parts[1])!] = parts[2]
            case "f":
                flagLines += 1
                #expect(TCP.flags2str(Int(parts[1])!) == (parts.count > 2 ? parts[2] : ""), "flags \(parts[1])")
            default:
                #expect(line.split(separator: " ").dropFirst().map { UInt8($0)! }
                        == [TCP.tcphdrFIN, TCP.tcphdrSYN, TCP.tcphdrRST, TCP.tcphdrPSH, TCP.tcphdrACK, TCP.tcphdrURG, TCP.tcphdrECE, TCP.tcphdrCWR])
            }
        }
        #expect(flagLines == 256)
        #expect(states == TCP.tcpstate)
        #expect(TCP.flags2str(UInt8(0x12)) == "SYN|ACK")
    }

    @Test("ArgString keeps the argument's bytes and prints as text")
    func argString() {
        let a = ArgString("héllo")
        #expect(a.bytes == [0x68, 0xc3, 0xa9, 0x6c, 0x6c, 0x6f])
        #expect(a.description == "héllo")
        #expect(ArgString(bytes: [0x61, 0xff]).description == "a\u{fffd}")
        #expect(ArgString("x") == ArgString(bytes: [0x78]))
    }

    @Test("getProbeLimit: BCC_PROBE_LIMIT or 1000, as the regex attaches enforce it")
    func probeLimit() {
        #expect(BPF.getProbeLimit() == BPF.probeLimit)
        if getenv("BCC_PROBE_LIMIT") == nil { #expect(BPF.getProbeLimit() == 1000) }
    }

    @Test("PerfEventSampleFormat bits equal Python's PerfEventSampleFormat", .requiresPythonBCC)
    func sampleFormat() {
        let names: [(String, PerfEventSampleFormat)] = [
            ("IP", .ip), ("TID", .tid), ("TIME", .time), ("ADDR", .addr), ("READ", .read), ("CALLCHAIN", .callchain),
            ("ID", .id), ("CPU", .cpu), ("PERIOD", .period), ("STREAM_ID", .streamID), ("RAW", .raw),
            ("BRANCH_STACK", .branchStack), ("REGS_USER", .regsUser), ("STACK_USER", .stackUser), ("WEIGHT", .weight),
            ("DATA_SRC", .dataSrc), ("IDENTIFIER", .identifier), ("TRANSACTION", .transaction), ("REGS_INTR", .regsIntr),
            ("PHYS_ADDR", .physAddr), ("AUX", .aux), ("CGROUP", .cgroup), ("DATA_PAGE_SIZE", .dataPageSize),
            ("CODE_PAGE_SIZE", .codePageSize), ("WEIGHT_STRUCT", .weightStruct),
        ]
        let out = runPython("""
            from bcc import PerfEventSampleFormat as F
            print(sorted(k for k in vars(F) if not k.startswith('_')))
            for n in [\(names.map { "'\($0.0)'" }.joined(separator: ", "))]: print(getattr(F, n))
            """)
        #expect(out.status == 0, "python: \(out.stderr)")
        let lines = out.stdout.split(separator: "\n").map(String.init)
        #expect(lines.first == "[" + names.map { "'\($0.0)'" }.sorted().joined(separator: ", ") + "]")
        #expect(lines.dropFirst().map { UInt64($0) } == names.map { $0.1.rawValue })
    }

    @Test("perf_event_attr flag bits, precise_ip included, sit where Python's ctypes struct puts them", .requiresPythonBCC)
    func attrFlags() {
        let flags: [(String, PerfEventAttr.Flags)] = [
            ("disabled", .disabled), ("inherit", .inherit), ("pinned", .pinned), ("exclusive", .exclusive),
            ("exclude_user", .excludeUser), ("exclude_kernel", .excludeKernel), ("exclude_hv", .excludeHv),
            ("exclude_idle", .excludeIdle), ("mmap", .mmap), ("comm", .comm), ("freq", .freq),
            ("inherit_stat", .inheritStat), ("enable_on_exec", .enableOnExec), ("task", .task), ("watermark", .watermark),
            ("mmap_data", .mmapData), ("sample_id_all", .sampleIDAll), ("exclude_host", .excludeHost),
            ("exclude_guest", .excludeGuest), ("exclude_callchain_kernel", .excludeCallchainKernel),
            ("exclude_callchain_user", .excludeCallchainUser), ("mmap2", .mmap2), ("comm_exec", .commExec),
            ("use_clockid", .useClockID), ("context_switch", .contextSwitch), ("write_backward", .writeBackward),
            ("namespaces", .namespaces), ("ksymbol", .ksymbol), ("bpf_event", .bpfEvent), ("aux_output", .auxOutput),
            ("cgroup", .cgroup), ("text_poke", .textPoke),
        ]
        let out = runPython("""
            import ctypes as ct
            from bcc.perf import Perf
            def word(name, v):
                a = Perf.perf_event_attr()
                setattr(a, name, v)
                return int.from_bytes(bytes(a)[40:48], 'little')
            for n in [\(flags.map { "'\($0.0)'" }.joined(separator: ", "))]: print(word(n, 1))
            for p in range(4): print(word('precise_ip', p))
            """)
        #expect(out.status == 0, "python: \(out.stderr)")
        let got = out.stdout.split(separator: "\n").compactMap { UInt64($0) }
        #expect(got == flags.map { $0.1.rawValue } + (0..<4).map { PerfEventAttr.Flags.preciseIP($0).rawValue })
        #expect(PerfEventAttr.Flags.preciseIPZeroSkid.preciseIPLevel == 3)
        #expect(PerfEventAttr.Flags([.preciseIPConstantSkid, .disabled]).preciseIPLevel == 1)
        #expect(PerfEventAttr.Flags.preciseIP(9) == .preciseIPZeroSkid)
    }

    @Test("decodeMap's bitfield lines: [byte,bit +width bit]")
    func bitfieldLayout() throws {
        let t = try TypeDescription(json: #"["bits_t", [["a","unsigned int",3], ["b","unsigned int",5], ["c","unsigned short"]], "struct"]"#)
        #expect(Disassembler.mapLines(t, name: "value", sizeInfo: true) == [
            "  struct {", "    [0,0 +3 bit]unsigned int a:3;", "    [0,3 +5 bit]unsigned int b:5;",
            "    [2 +2] unsigned short c;", "  } value;",
        ])
        #expect(Disassembler.mapLines(t, name: "value", sizeInfo: false)[1] == "    unsigned int a:3;")
    }
}

extension ParityTests {
    /// A helper executable with a build id and a function at a known offset.
    static func buildIDHelper() throws -> (path: String, buildID: [UInt8], function: UInt64) {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("swiftbcc-buildid-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let src = dir.appendingPathComponent("helper.c"), exe = dir.appendingPathComponent("helper")
        try "__attribute__((noinline)) int swiftbcc_marker_fn(int x) { return x * 3 + 1; }\nint main(int c, char **v) { return swiftbcc_marker_fn(c); }\n"
            .write(to: src, atomically: true, encoding: .utf8)
        let gcc = try Child("/usr/bin/env", ["gcc", "-O1", "-Wl,--build-id", "-o", exe.path, src.path])
        #expect(gcc.wait(timeout: 120) == 0, "gcc: \(gcc.stderr)")
        let readelf = try Child("/usr/bin/env", ["readelf", "-n", exe.path])
        _ = readelf.wait(timeout: 30)
        let idHex = try #require(readelf.stdout.split(separator: "\n").first { $0.contains("Build ID:") }?
            .split(separator: " ").last.map(String.init))
        let id = stride(from: 0, to: idHex.count, by: 2).map { i -> UInt8 in
            let s = idHex.index(idHex.startIndex, offsetBy: i)
            return UInt8(idHex[s..<idHex.index(s, offsetBy: 2)], radix: 16)!
        }
        let nm = try Child("/usr/bin/env", ["nm", exe.path])
        _ = nm.wait(timeout: 30)
        let addr = try #require(nm.stdoutLines.first { $0.hasSuffix(" swiftbcc_marker_fn") }
            .flatMap { UInt64($0.split(separator: " ")[0], radix: 16) })
        return (exe.path, id, addr)
    }

    @Test("addModule: a build-id frame in an added module resolves to its function", .requiresGccLibbcc)
    func addModule() throws {
        let helper = try Self.buildIDHelper()
        defer { try? FileManager.default.removeItem(atPath: (helper.path as NSString).deletingLastPathComponent) }
        #expect(helper.buildID.count == 20)
        #expect(BPF.sym(buildID: helper.buildID, offset: helper.function + 4) == "[unknown]")
        try BPF.addModule(helper.path)
        #expect(BPF.sym(buildID: helper.buildID, offset: helper.function + 4) == "swiftbcc_marker_fn")
        #expect(BPF.sym(buildID: helper.buildID, offset: helper.function + 4, showModule: true, showOffset: true)
                == "swiftbcc_marker_fn+0x4 [helper]")
        var other = helper.buildID
        other[0] ^= 0xff
        #expect(BPF.sym(buildID: other, offset: helper.function + 4) == "[unknown]")
        #expect(throws: BPFError.self) { try BPF.addModule("/nonexistent/swiftbcc-module") }
    }
}
