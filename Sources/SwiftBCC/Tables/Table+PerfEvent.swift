internal import CBCC
import Glibc

extension Table {
    /// Opens hardware or software counter `type`/`config` on every online CPU and stores each
    /// CPU's perf event fd at that CPU's index of this `BPF_PERF_ARRAY`, so the program reads
    /// the local CPU's counter with `table.perf_read(CUR_CPU_IDENTIFIER)` or
    /// `table.perf_counter_value(CUR_CPU_IDENTIFIER, &v, sizeof(v))`. Returns the CPUs opened.
    /// The events stay open until ``closePerfEvent()``, the `BPF`'s `cleanup()`, or until the
    /// `Table` goes (Python: until the table object is deleted).
    ///
    /// ```swift
    /// try b["clock"].openPerfEvent(type: PerfType.software, config: PerfSWConfig.taskClock)
    /// ```
    /// - Throws: `.wrongTableKind` unless the table is a PerfEventArray, `.invalidArgument` when
    ///   events or a perf buffer are open on it already, `.systemCall` when the kernel refuses
    ///   the event (opened CPUs are closed again).
    ///
    /// Python: `t.open_perf_event(typ, config)`; libbcc: `bpf_open_perf_event`.
    @discardableResult
    public func openPerfEvent(type: UInt32, config: UInt64) throws -> [Int32] {
        try require(kind == .perfEventArray, "openPerfEvent", expected: "PerfEventArray (BPF_PERF_ARRAY)")
        if isPerfBufferOpen {
            throw BPFError.invalidArgument("Table \(name) has a perf buffer open; open perf events on another "
                + "BPF_PERF_ARRAY (or closePerfBuffer first).")
        }
        _ = try liveFD()
        return try perfEvents.withLock { events in
            guard events.isEmpty else {
                throw BPFError.invalidArgument("Table \(name) has perf events open already; closePerfEvent() first.")
            }
            var opened: [Int32: PerfEventFD] = [:]
            do {
                for cpu in CPUs.online.map(Int32.init) {
                    guard cpu < maxEntries else {
                        throw BPFError.indexOutOfRange(table: name, index: Int(cpu), count: maxEntries)
                    }
                    let what = "type \(type) config \(config) on CPU \(cpu)"
                    switch LibBCC.call("bpf_open_perf_event", { bpf_open_perf_event(type, config, -1, cpu) }) {
                    case .success(let fd):
                        opened[cpu] = PerfEventFD(fd: fd)
                        try update(Int(cpu), fd)
                    case .failure(let failure):
                        throw BPFError.from(.system(name: "bpf_open_perf_event(\(what))", operation: "opening perf event \(what)"),
                                            failure,
                                            hint: failure.errno == .ENOENT || failure.errno == .EOPNOTSUPP
                                                ? "this CPU or kernel has no such event (hardware counters are often missing in VMs: use PerfType.software)"
                                                : nil)
                    }
                }
            } catch {
                for (cpu, fd) in opened {
                    _ = try? delete(Int(cpu))
                    fd.close()
                }
                throw error
            }
            events = opened
            return opened.keys.sorted()
        }
    }

    /// Removes the perf events ``openPerfEvent(type:config:)`` stored and closes their fds
    /// (`cleanup()` does it too). Python: `del t[cpu]` for each CPU; libbcc: `bpf_close_perf_event_fd`.
    public func closePerfEvent() {
        noteClosedIfBPFIs()
        perfEvents.withLock { events in
            for (cpu, fd) in events.sorted(by: { $0.key < $1.key }) {
                _ = try? delete(Int(cpu))
                fd.close()
            }
            events.removeAll()
        }
    }

    /// The CPUs whose perf event ``openPerfEvent(type:config:)`` opened (empty when none).
    public var openPerfEventCPUs: [Int32] { perfEvents.withLock { $0.keys.sorted() } }
}
