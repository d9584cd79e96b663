import Foundation
import Glibc
@testable import SwiftBCC
import Testing

/// Compiles `body` with a `TRACEPOINT_PROBE(syscalls, sys_enter_getppid)` that runs `probe`
/// only for this process (TARGET is our pid), so `getppid()` triggers it.
func getppidProgram(declarations: String, probe: String, extra: String = "") -> String {
    """
    \(declarations)
    \(extra)
    TRACEPOINT_PROBE(syscalls, sys_enter_getppid) {
        if ((bpf_get_current_pid_tgid() >> 32) != TARGET) return 0;
        \(probe)
        return 0;
    }
    """
}

func ourPidFlag() -> [String] { ["-DTARGET=\(getpid())"] }

/// Calls getppid `n` times (each one runs the test's tracepoint program).
func triggerGetppid(_ n: Int = 1) {
    for _ in 0..<n { _ = getppid() }
}

extension KernelSuite {
    @Suite("Table kinds", .requiresBPF)
    struct TableKindsTests {
        @Test("b[name] returns each kind Python's Table() would; an unknown name lists the tables")
        func kinds() throws {
            let b = try BPF(text: """
                BPF_HASH(h, u32, u64);
                BPF_TABLE("lru_hash", u32, u64, lru, 4);
                BPF_ARRAY(a, u64, 8);
                BPF_PERCPU_HASH(ph, u32, u64);
                BPF_PERCPU_ARRAY(pa, u64, 4);
                BPF_TABLE("lru_percpu_hash", u32, u64, lph, 16);
                BPF_PERF_OUTPUT(events);
                BPF_RINGBUF_OUTPUT(rb, 8);
                BPF_STACK_TRACE(stacks, 16);
                BPF_PROG_ARRAY(progs, 4);
                struct lpm_key { u32 prefixlen; u32 addr; };
                BPF_LPM_TRIE(trie, struct lpm_key, u64, 16);
                BPF_QUEUE(q, u32, 8);
                BPF_STACK(st, u32, 8);
                BPF_DEVMAP(dm, 4);
                BPF_CPUMAP(cm, 4);
                BPF_XSKMAP(xm, 4);
                BPF_ARRAY(inner, u64, 4);
                BPF_ARRAY_OF_MAPS(aom, "inner", 2);
                BPF_HASH_OF_MAPS(hom, int, "inner", 2);
                BPF_CGROUP_ARRAY(cg, 1);
                """)
            defer { b.cleanup() }
            let expected: [String: TableKind] = [
                "h": .hash, "lru": .lruHash, "a": .array, "ph": .perCPUHash, "pa": .perCPUArray, "lph": .lruPerCPUHash,
                "events": .perfEventArray, "rb": .ringBuf, "stacks": .stackTrace, "progs": .progArray, "trie": .lpmTrie,
                "q": .queue, "st": .stack, "dm": .devMap, "cm": .cpuMap, "xm": .xskMap, "aom": .arrayOfMaps,
                "hom": .hashOfMaps, "cg": .cgroupArray,
            ]
            for (name, kind) in expected {
                let t = try b[name]
                #expect(t.kind == kind, "\(name)")
            }
            #expect(try b["aom"].kind.pythonClassName == "MapInMapArray")
            #expect(try b["q"].kind.pythonClassName == "QueueStack")
            #expect(try b["events"].count == CPUs.possible.count || (try b["events"].count) >= CPUs.online.count)
            #expect(try b["rb"].count == 0)
            #expect(throws: BPFError.self) { try b["rb"].lookup(0) }
            #expect {
                try b["nope"]
            } throws: { error in
                guard case let .tableNotFound(name, available) = error as? BPFError else { return false }
                return name == "nope" && Set(available) == Set(expected.keys).union(["inner"])
                    && "\(error)".contains("has no table named nope; it declares a, aom, cg")
            }
        }

        @Test("Hash: BPF counts, Swift reads by subscript, updates with flags, deletes, iterates, clears")
        func hash() throws {
            let b = try BPF(text: getppidProgram(
                declarations: "BPF_HASH(counts, u32, u64);",
                probe: "u32 pid = bpf_get_current_pid_tgid() >> 32; counts.increment(pid);"), cflags: ourPidFlag())
            defer { b.cleanup() }
            triggerGetppid(5)
            let t = try b["counts"]
            let me = UInt32(getpid())
            #expect(try t[me]?.uint == 5)
            #expect("\(try #require(try t.lookup(me)))" == "c_ulong(5)")
            #expect(try t.lookup(UInt32(1)) == nil)
            try t.update(UInt32(1), UInt64(10))
            #expect(try t.count == 2)
            #expect(Set(try t.keys().compactMap(\.uint)) == [1, UInt64(me)])
            #expect(Set(try t.values().compactMap(\.uint)) == [10, 5])
            #expect(throws: BPFError.self) { try t.update(UInt32(1), UInt64(11), flags: .noExist) }
            #expect(throws: BPFError.self) { try t.update(UInt32(2), UInt64(11), flags: .exist) }
            try t.update(UInt32(1), UInt64(11), flags: .exist)
            #expect(try t[UInt32(1)]?.uint == 11)
            #expect {
                try t.update(UInt32(1), -1)
            } throws: { error in
                guard case .encodingFailed = error as? BPFError else { return false }
                return "\(error)".contains("as unsigned long long: -1 does not fit; pass an integer in 0...")
            }
            #expect(try t.delete(UInt32(1)))
            #expect(try !t.delete(UInt32(1)))
            try t.zero()
            #expect(try t[me]?.uint == 0)
            try t.clear()
            #expect(try t.count == 0)
            #expect(try t.items().isEmpty)

            // Typed view: sizes checked against libbcc's.
            let typed = try b.hashTable("counts", key: UInt32.self, value: UInt64.self)
            triggerGetppid(3)
            #expect(try typed[me] == 3)
            #expect(try typed.items().map(\.key) == [me])
            try typed.update(7, 70)
            #expect(try typed.lookup(7) == 70)
            #expect(try typed.delete(7))
            #expect {
                try b.hashTable("counts", key: UInt64.self, value: UInt64.self)
            } throws: { error in
                guard case let .sizeMismatch(table, what, expected, got, layout) = error as? BPFError else { return false }
                return table == "counts" && what.contains("UInt64") && expected == 4 && got == 8 && layout.contains("unsigned int")
                    && "\(error)".contains("the key type UInt64 is 8 bytes but libbcc's layout is 4 bytes")
            }
            #expect(throws: BPFError.self) { try b.arrayTable("counts", value: UInt64.self) }
        }

        @Test("a typed struct key: size mismatch names libbcc's padding; Swift padding bytes never reach the key")
        func typedStructKey() throws {
            let b = try BPF(text: getppidProgram(
                declarations: "struct key_t { u32 pid; u64 tag; u8 flag; }; BPF_HASH(tags, struct key_t, u64);",
                probe: """
                    struct key_t k; __builtin_memset(&k, 0, sizeof(k));
                    k.pid = bpf_get_current_pid_tgid() >> 32; k.tag = 0xabcdef; k.flag = 3;
                    tags.increment(k);
                    """), cflags: ourPidFlag())
            defer { b.cleanup() }
            struct Key: BitwiseCopyable, Equatable { var pid: UInt32; var tag: UInt64; var flag: UInt8 }
            struct Small: BitwiseCopyable { var pid: UInt32; var tag: UInt64 }
            #expect {
                try b.hashTable("tags", key: Small.self, value: UInt64.self)
            } throws: { error in
                let text = "\(error)"
                return text.contains("is 16 bytes but libbcc's layout is 24 bytes") && text.contains("__pad_1")
                    && text.contains("__pad_end") && text.contains("offset 8: unsigned long long tag")
            }
            let t = try b.hashTable("tags", key: Key.self, value: UInt64.self)
            triggerGetppid(2)
            // Swift leaves padding undefined: fill it with garbage to show it is zeroed.
            var key = Key(pid: UInt32(getpid()), tag: 0xabcdef, flag: 3)
            withUnsafeMutableBytes(of: &key) { raw in
                for i in 4..<8 { raw[i] = 0xaa }
            }
            #expect(try t[key] == 2)
            #expect(try t.keys() == [Key(pid: UInt32(getpid()), tag: 0xabcdef, flag: 3)])
            // The dynamic view reads the same entry by member name.
            struct DKey: Codable { let pid: UInt32; let tag: UInt64; let flag: UInt8 }
            let dyn = try b["tags"]
            #expect(try dyn[DKey(pid: UInt32(getpid()), tag: 0xabcdef, flag: 3)]?.uint == 2)
            #expect(try dyn.keys().first?.decode(DKey.self).tag == 0xabcdef)
        }

        @Test("LruHash evicts beyond max_entries")
        func lruHash() throws {
            let b = try BPF(text: getppidProgram(
                declarations: #"BPF_TABLE("lru_hash", u32, u64, lru, 4);"#,
                // (lru.increment(k) stores nothing on this kernel, in Python BCC too: update instead.)
                probe: "u32 k = 100; u64 one = 1; lru.update(&k, &one);"), cflags: ourPidFlag())
            defer { b.cleanup() }
            triggerGetppid()
            let t = try b.hashTable("lru", key: UInt32.self, value: UInt64.self)
            #expect(try t[100] == 1)
            for k in UInt32(0)..<20 { try t.update(k, UInt64(k)) }
            let n = try t.count
            #expect(n <= 4 && n >= 1)
        }

        @Test("Array: BPF increments, indices (negative from the end), out of range, delete zeroes")
        func array() throws {
            let b = try BPF(text: getppidProgram(
                declarations: "BPF_ARRAY(arr, u64, 8);",
                probe: "arr.increment(3);"), cflags: ourPidFlag())
            defer { b.cleanup() }
            triggerGetppid(4)
            let t = try b["arr"]
            #expect(try t.count == 8)
            #expect(try t[3]?.uint == 4)
            try t.update(-1, UInt64(99))
            #expect(try t[7]?.uint == 99)
            #expect(try t.items().count == 8)
            #expect {
                try t.lookup(8)
            } throws: { error in
                error as? BPFError == .indexOutOfRange(table: "arr", index: 8, count: 8)
            }
            #expect(throws: BPFError.self) { try t.lookup(-9) }
            #expect(try t.delete(3))
            #expect(try t[3]?.uint == 0)
            let typed = try b.arrayTable("arr", value: UInt64.self)
            #expect(try typed.values() == [0, 0, 0, 0, 0, 0, 0, 99])
            try typed.clear()
            #expect(try typed.values().allSatisfy { $0 == 0 })
            triggerGetppid()
            #expect(try typed[3] == 1)
        }

        @Test("PerCpuArray and PerCpuHash: a value per possible CPU; sum, max, average; u32 leaves")
        func perCPU() throws {
            let b = try BPF(text: getppidProgram(
                declarations: "BPF_PERCPU_ARRAY(pa, u64, 2); BPF_PERCPU_HASH(ph, u32, u32); BPF_TABLE(\"lru_percpu_hash\", u32, u64, lph, 16);",
                probe: """
                    pa.increment(1);
                    u32 k = 5;
                    u32 *c = ph.lookup(&k);
                    if (c) { (*c)++; } else { u32 one = 1; ph.update(&k, &one); }
                    u64 *l = lph.lookup(&k);
                    if (l) { (*l) += 2; } else { u64 two = 2; lph.update(&k, &two); }
                    """), cflags: ourPidFlag())
            defer { b.cleanup() }
            triggerGetppid(6)
            let ncpu = CPUs.possible.count
            let pa = try b["pa"]
            let v = try #require(try pa[1])
            #expect(v.elements.count == ncpu)
            #expect(try pa.sum(1)?.uint == 6)
            #expect(try pa.max(1)?.uint ?? 0 >= 3)
            #expect(try pa.average(1) == 6.0 / Double(ncpu))
            let ph = try b["ph"]
            #expect(ph.leafSize == 4 && ph.valueBufferSize == 8 * ncpu)
            #expect(try ph.sum(UInt32(5))?.uint == 6)
            #expect("\(try #require(try ph.sum(UInt32(5))))" == "c_uint(6)")
            #expect(try ph.sum(UInt32(6)) == nil)
            try ph.update(UInt32(9), (0..<ncpu).map { UInt32($0 + 1) })
            #expect(try ph[UInt32(9)]?.elements.compactMap(\.uint) == (0..<ncpu).map { UInt64($0 + 1) })
            #expect {
                try ph.update(UInt32(9), UInt32(1))
            } throws: { error in "\(error)".contains("one value per possible CPU") }
            #expect(throws: BPFError.self) { try b["pa"].push(1) }

            let typed = try b.perCPUHashTable("ph", key: UInt32.self, value: UInt32.self)
            #expect(try typed.sum(5) == 6)
            #expect(try typed[9] == (0..<ncpu).map { UInt32($0 + 1) })
            #expect(try typed.max(9) == UInt32(ncpu))
            let tpa = try b.perCPUArrayTable("pa", value: UInt64.self)
            #expect(try tpa.sum(1) == 6)
            try tpa.update(0, [UInt64](repeating: 2, count: ncpu))
            #expect(try tpa.sum(0) == UInt64(2 * ncpu))
            #expect(throws: BPFError.self) { try tpa.update(0, [1]) }
            let lph = try b.perCPUHashTable("lph", key: UInt32.self, value: UInt64.self)
            #expect(try lph.sum(5) == 12)
            #expect(throws: BPFError.self) { try b.perCPUHashTable("pa", key: UInt32.self, value: UInt64.self) }
        }

        @Test("Queue and Stack: BPF pushes, Swift pops in FIFO/LIFO order, peeks, pushes, overwrites when full")
        func queueStack() throws {
            let b = try BPF(text: getppidProgram(
                declarations: "BPF_QUEUE(q, u32, 4); BPF_STACK(st, u32, 4); BPF_ARRAY(n, u32, 1);",
                probe: "u32 *c = n.lookup(&(int){0}); if (!c) return 0; u32 v = ++(*c); q.push(&v, 0); st.push(&v, 0);"),
                cflags: ourPidFlag())
            defer { b.cleanup() }
            triggerGetppid(3)
            let q = try b["q"], st = try b["st"]
            #expect(try q.peek()?.uint == 1)
            #expect(try q.pop()?.uint == 1)
            #expect(try st.pop()?.uint == 3)
            #expect(try q.values().compactMap(\.uint) == [2, 3])
            #expect(try q.pop() == nil)
            #expect(throws: BPFError.self) { try q.lookup(0) }
            let tq = try b.queueStackTable("q", value: UInt32.self)
            for v in UInt32(10)..<14 { try tq.push(v) }
            #expect(throws: BPFError.self) { try tq.push(99) }
            try tq.push(14, flags: .exist)
            #expect(try tq.values() == [11, 12, 13, 14])
            let ts = try b.queueStackTable("st", value: UInt32.self)
            #expect(try ts.peek() == 2)
            try st.clear()
            #expect(try ts.pop() == nil)
        }

        @Test("StackTrace: kernel and user stack ids walked and symbolized")
        func stackTrace() throws {
            // One stack map per kind, and only this thread's getppid: in one map of 64 buckets the
            // kernel and the user stack share a bucket one run in 64 (get_stackid then fails with
            // -EEXIST), and another test thread's getppid would add stacks of its own.
            let b = try BPF(text: getppidProgram(
                declarations: "BPF_STACK_TRACE(stacks, 64); BPF_STACK_TRACE(ustacks, 64); BPF_ARRAY(ids, int, 2);",
                probe: """
                    if ((u32)bpf_get_current_pid_tgid() != TID) return 0;
                    int k = stacks.get_stackid(args, 0);
                    int u = ustacks.get_stackid(args, BPF_F_USER_STACK);
                    ids.update(&(int){0}, &k); ids.update(&(int){1}, &u);
                    """), cflags: ourPidFlag() + ["-DTID=\(currentTid())"])
            defer { b.cleanup() }
            triggerGetppid()
            let ids = try b.arrayTable("ids", value: Int32.self)
            let kernelId = try #require(try ids[0]), userId = try #require(try ids[1])
            #expect(kernelId >= 0 && userId >= 0, "get_stackid failed: \(kernelId) \(userId)")
            let stacks = try b["stacks"], ustacks = try b["ustacks"]
            let kernelFrames = try stacks.walk(Int(kernelId))
            #expect(!kernelFrames.isEmpty)
            let kernelNames = kernelFrames.map { b.ksym($0) }
            #expect(kernelNames.contains { $0.contains("syscall") || $0.contains("SYSCALL") }, "\(kernelNames)")
            #expect(b.ksym(kernelFrames[0], showOffset: true).contains("+0x"))
            let userFrames = try ustacks.walk(Int(userId))
            #expect(!userFrames.isEmpty)
            let userNames = userFrames.map { b.sym($0, pid: getpid(), showModule: true) }
            #expect(userNames[0].contains("getppid") && userNames[0].contains("libc"), "\(userNames)")
            #expect(try stacks.walk(Int(kernelId), resolve: { b.ksym($0) }) == kernelNames)
            let first = kernelNames.first { $0 != "[unknown]" } ?? ""
            #expect(b.ksymname(first).map { b.ksym($0) } == first)
            #expect(b.ksymname("no_such_kernel_symbol_swiftbcc") == nil)
            #expect(try stacks.walk(-14).isEmpty)
            #expect(try stacks.count == 1 && ustacks.count == 1)
            try stacks.clear()
            #expect(try stacks.walk(Int(kernelId)).isEmpty)
        }

        @Test("ProgArray: a tail call to a function stored from Swift, stopped by deleting it")
        func progArray() throws {
            let b = try BPF(text: getppidProgram(
                declarations: "BPF_PROG_ARRAY(progs, 4); BPF_ARRAY(hits, u64, 2);",
                probe: "hits.increment(0); progs.call(args, 2);",
                extra: "int tail_fn(void *ctx) { hits.increment(1); return 0; }"), cflags: ourPidFlag())
            defer { b.cleanup() }
            let hits = try b.arrayTable("hits", value: UInt64.self)
            triggerGetppid()
            #expect(try hits[1] == 0)
            let fn = try b.loadFunction("tail_fn", type: .tracepoint)
            try b["progs"].setFunction(2, fn)
            triggerGetppid(2)
            #expect(try hits[0] == 3)
            #expect(try hits[1] == 2)
            #expect(try b["progs"].delete(2))
            triggerGetppid()
            #expect(try hits[1] == 2)
            try b["progs"].update(1, fn)   // a Function encodes as its fd, as Python's prog_array[k] = fn
            #expect(throws: BPFError.self) { try b["hits"].setFunction(0, fn) }
        }

        @Test("LpmTrie: longest-prefix match from BPF and Swift; iteration falls back to key by key")
        func lpmTrie() throws {
            let b = try BPF(text: getppidProgram(
                declarations: """
                    struct lpm_key { u32 prefixlen; u8 addr[4]; };
                    BPF_LPM_TRIE(trie, struct lpm_key, u64, 16);
                    BPF_ARRAY(found, u64, 1);
                    """,
                probe: """
                    struct lpm_key k = { .prefixlen = 32, .addr = {10, 1, 2, 3} };
                    u64 *v = trie.lookup(&k);
                    if (v) { u64 val = *v; found.update(&(int){0}, &val); }
                    """), cflags: ourPidFlag())
            defer { b.cleanup() }
            struct Key: Codable { let prefixlen: UInt32; let addr: [UInt8] }
            let t = try b["trie"]
            try t.update(Key(prefixlen: 8, addr: [10, 0, 0, 0]), UInt64(1))
            try t.update(Key(prefixlen: 16, addr: [10, 1, 0, 0]), UInt64(2))
            triggerGetppid()
            #expect(try b.arrayTable("found", value: UInt64.self)[0] == 2)
            #expect(try t[Key(prefixlen: 32, addr: [10, 2, 0, 0])]?.uint == 1)
            #expect(try t[Key(prefixlen: 32, addr: [11, 0, 0, 0])] == nil)
            let items = try t.items()
            #expect(Set(items.compactMap { $0.value.uint }) == [1, 2])
            #expect(try t.count == 2)
            #expect(try items.map { try $0.key.decode(Key.self).prefixlen }.sorted() == [8, 16])
            #expect(throws: BPFError.self) { try t.update(Key(prefixlen: 8, addr: [1, 2, 3, 4, 5]), UInt64(1)) }
        }

        @Test("ArrayOfMaps and HashOfMaps: BPF reaches the inner map stored from Swift")
        func mapInMap() throws {
            let b = try BPF(text: getppidProgram(
                declarations: """
                    BPF_ARRAY(inner, u64, 4);
                    BPF_ARRAY_OF_MAPS(aom, "inner", 2);
                    BPF_HASH_OF_MAPS(hom, int, "inner", 2);
                    """,
                probe: """
                    int k = 0, idx = 1;
                    void *m = aom.lookup(&k);
                    if (m) { u64 *v = bpf_map_lookup_elem(m, &idx); if (v) __sync_fetch_and_add(v, 1); }
                    int hk = 7, hidx = 2;
                    void *hm = hom.lookup(&hk);
                    if (hm) { u64 *v = bpf_map_lookup_elem(hm, &hidx); if (v) __sync_fetch_and_add(v, 10); }
                    """), cflags: ourPidFlag())
            defer { b.cleanup() }
            let inner = try b.arrayTable("inner", value: UInt64.self)
            triggerGetppid()
            #expect(try inner.values() == [0, 0, 0, 0])
            try b["aom"].update(0, try b["inner"])
            try b["hom"].update(Int32(7), try b["inner"])
            triggerGetppid(2)
            #expect(try inner[1] == 2)
            #expect(try inner[2] == 20)
            // From user space the kernel gives back the inner map's id.
            #expect(try b["aom"][0]?.uint ?? 0 > 0)
            #expect(try b["hom"].count == 1)
            #expect(try b["hom"].delete(Int32(7)))
        }

        @Test("CgroupArray: check_current_task against the cgroup v2 root set from Swift", .enabled(if: cgroup2Root() != nil, "needs a cgroup v2 hierarchy mounted (mount -t cgroup2 none /sys/fs/cgroup)"))
        func cgroupArray() throws {
            let b = try BPF(text: getppidProgram(
                declarations: "BPF_CGROUP_ARRAY(cg, 1); BPF_ARRAY(res, int, 1);",
                probe: "int r = cg.check_current_task(0); res.update(&(int){0}, &r);"), cflags: ourPidFlag())
            defer { b.cleanup() }
            try b["cg"].setCgroup(0, path: try #require(cgroup2Root()))
            triggerGetppid()
            #expect(try b.arrayTable("res", value: Int32.self)[0] == 1)
            #expect(throws: BPFError.self) { try b["cg"].setCgroup(0, path: "/nonexistent/cgroup") }
        }

        @Test("DevMap, CpuMap, XskMap: XDP programs using them load; DevMap and CpuMap take entries from Swift")
        func redirectMaps() throws {
            let b = try BPF(text: """
                BPF_DEVMAP(dm, 4);
                BPF_CPUMAP(cm, 4);
                BPF_XSKMAP(xm, 4);
                int to_dev(struct xdp_md *ctx) { return dm.redirect_map(0, 0); }
                int to_cpu(struct xdp_md *ctx) { return cm.redirect_map(0, 0); }
                int to_xsk(struct xdp_md *ctx) { return xm.redirect_map(0, 0); }
                """)
            defer { b.cleanup() }
            for fn in ["to_dev", "to_cpu", "to_xsk"] { try b.loadFunction(fn, type: .xdp) }
            let dm = try b["dm"]
            try dm.update(0, Int32(1))   // ifindex 1: lo
            #expect(try dm[0]?.int == 1)
            #expect(try dm.count == 4)
            let cm = try b["cm"]
            try cm.update(0, UInt32(192))   // queue size
            #expect(try cm[0]?.uint == 192)
            #expect(try b["xm"].count == 4)
        }

        @Test("batch and key-by-key iteration agree on 10k entries; batch update, delete, lookup-and-delete")
        func batch() throws {
            let b = try BPF(text: "BPF_HASH(big, u32, u64, 10240); BPF_ARRAY(arr, u64, 10000); BPF_PERCPU_HASH(pc, u32, u64, 128);")
            defer { b.cleanup() }
            let t = try b["big"]
            let keys = (0..<10_000).map { UInt32($0) }
            try t.itemsUpdateBatch(keys: keys, values: keys.map { UInt64($0) * 3 })
            #expect(try t.count == 10_000)
            let batch = try t.itemsLookupBatch()
            let iterative = try t.rawKeys().compactMap { k in try t.lookup(rawKey: k).map { (k, $0) } }
            #expect(batch.count == 10_000 && iterative.count == 10_000)
            let batchMap = Dictionary(uniqueKeysWithValues: batch.map { ($0.key.uint!, $0.value.uint!) })
            let iterMap = Dictionary(uniqueKeysWithValues: iterative.map {
                (t.keyType.decode($0.0).uint!, t.leafType.decode($0.1).uint!) })
            #expect(batchMap == iterMap)
            #expect(batchMap[4321] == 4321 * 3)
            #expect(!t.isBatchUnsupported(.lookup), "this kernel has BPF_MAP_LOOKUP_BATCH for hashes")

            try t.itemsDeleteBatch(keys: (0..<100).map { UInt32($0) })
            #expect(try t.count == 9_900)
            let drained = try t.itemsLookupAndDeleteBatch()
            #expect(drained.count == 9_900)
            #expect(try t.count == 0)

            let typed = try b.hashTable("big", key: UInt32.self, value: UInt64.self)
            try typed.itemsUpdateBatch(keys: [1, 2, 3], values: [10, 20, 30])
            #expect(try typed.itemsLookupBatch().sorted { $0.key < $1.key }.map(\.value) == [10, 20, 30])
            try typed.itemsDeleteBatch()
            #expect(try typed.count == 0)
            #expect(throws: BPFError.self) { try t.itemsUpdateBatch(keys: [UInt32(1)], values: [UInt64(1), UInt64(2)]) }

            // Arrays: lookup batch works, lookup-and-delete batch does not exist: zeroed key by key.
            let arr = try b["arr"]
            try arr.itemsUpdateBatch(keys: (0..<10_000).map { UInt32($0) }, values: (0..<10_000).map { UInt64($0) + 1 })
            let arrItems = try arr.itemsLookupBatch()
            #expect(arrItems.count == 10_000 && arrItems.allSatisfy { $0.value.uint == $0.key.uint! + 1 })
            let cleared = try arr.itemsLookupAndDeleteBatch()
            #expect(cleared.count == 10_000)
            #expect(try arr.values().allSatisfy { $0.uint == 0 })

            // Per-CPU values in batches.
            let pc = try b["pc"]
            let n = CPUs.possible.count
            try pc.itemsUpdateBatch(keys: [UInt32(1), UInt32(2)], values: [[UInt64](repeating: 1, count: n), [UInt64](repeating: 2, count: n)])
            let pcItems = try pc.itemsLookupBatch().sorted { $0.key.uint! < $1.key.uint! }
            #expect(pcItems.map { $0.value.elements.compactMap(\.uint) } == [[UInt64](repeating: 1, count: n), [UInt64](repeating: 2, count: n)])
        }

        @Test("BPF_TABLE_PINNED keeps a map across BPF objects; pin() pins an existing table")
        func pinning() throws {
            let path = "/sys/fs/bpf/" + uniqueMarker("swiftbcc_pin_")
            let path2 = path + "_b"
            defer { unlink(path); unlink(path2) }
            let text = #"BPF_TABLE_PINNED("hash", u32, u64, kept, 16, "\#(path)");"#
            do {
                let b = try BPF(text: text)
                try b["kept"].update(UInt32(1), UInt64(42))
                b.cleanup()
            }
            #expect(access(path, F_OK) == 0)
            let b2 = try BPF(text: text + "BPF_HASH(fresh, u32, u64);")
            defer { b2.cleanup() }
            #expect(try b2["kept"][UInt32(1)]?.uint == 42)
            try b2["fresh"].update(UInt32(2), UInt64(7))
            try b2["fresh"].pin(path2)
            #expect(throws: BPFError.self) { try b2["fresh"].pin(path2) }
            #expect(throws: BPFError.self) { try b2["fresh"].pin("/tmp/not-bpffs-\(getpid())") }
            let b3 = try BPF(text: #"BPF_TABLE_PINNED("hash", u32, u64, again, 16, "\#(path2)");"#)
            defer { b3.cleanup() }
            #expect(try b3["again"][UInt32(2)]?.uint == 7)
        }

        @Test("libbcc's key/leaf printing and parsing")
        func sprintfScanf() throws {
            let b = try BPF(text: "struct k_t { u32 a; char s[4]; }; BPF_HASH(h, struct k_t, u64);")
            defer { b.cleanup() }
            struct K: Codable { let a: UInt32; let s: String }
            let t = try b["h"]
            let text = try t.keySprintf(K(a: 1, s: "ab"))
            #expect(text.contains("0x1"))
            let back = try t.keyScanf(text)
            #expect(try back.decode(K.self).a == 1)
            #expect(try t.leafSprintf(UInt64(255)) == "0xff")
            #expect(try t.leafScanf("0x10").uint == 16)
            #expect(throws: BPFError.self) { try t.leafScanf("not a number") }
        }
    }
}

/// The cgroup v2 mount point, if any (/sys/fs/cgroup or /sys/fs/cgroup/unified).
func cgroup2Root() -> String? {
    guard let mounts = FileIO.read("/proc/mounts") else { return nil }
    for line in mounts.split(separator: "\n") {
        let parts = line.split(separator: " ")
        if parts.count > 2, parts[2] == "cgroup2" { return String(parts[1]) }
    }
    return nil
}
