import CBCC
import Glibc
@testable import SwiftBCC

/// Counts, with uprobes, the calls one thread of this process makes to functions of a shared
/// library while armed: used to check that the event path allocates nothing (malloc,
/// swift_slowAlloc) and retains nothing (swift_retain) per event.
///
/// Arming and disarming write a BPF array with `bpf_update_elem` on stack values, so the
/// counter itself calls none of the counted functions inside its window.
final class CallCounter {
    let bpf: BPF
    private let armedFD: Int32
    private let countsFD: Int32
    /// The counted functions, in slot order.
    let symbols: [(library: String, symbol: String)]

    init(thread tid: Int32, symbols: [(library: String, symbol: String)]) throws {
        self.symbols = symbols
        var text = """
            BPF_ARRAY(armed, u32, 1);
            BPF_ARRAY(counts, u64, \(symbols.count));
            static inline int count(u32 slot) {
                if ((u32)bpf_get_current_pid_tgid() != \(tid)) return 0;
                u32 zero = 0;
                u32 *on = armed.lookup(&zero);
                if (!on || !*on) return 0;
                u64 *c = counts.lookup(&slot);
                if (c) __sync_fetch_and_add(c, 1);
                return 0;
            }
            """
        for i in symbols.indices { text += "\nint count_\(i)(struct pt_regs *ctx) { return count(\(i)); }" }
        bpf = try BPF(text: text)
        armedFD = try bpf["armed"].fd
        countsFD = try bpf["counts"].fd
        for (i, s) in symbols.enumerated() {
            _ = try bpf.attachUprobe(name: s.library, sym: s.symbol, fnName: "count_\(i)", pid: getpid())
        }
    }

    func arm(_ on: Bool) {
        var key: UInt32 = 0
        var value: UInt32 = on ? 1 : 0
        _ = bpf_update_elem(armedFD, &key, &value, 0)
    }

    /// The calls counted per symbol since the last reset.
    func counts() -> [UInt64] {
        symbols.indices.map { i in
            var key = UInt32(i)
            var value: UInt64 = 0
            _ = bpf_lookup_elem(countsFD, &key, &value)
            return value
        }
    }

    func reset() {
        for i in symbols.indices {
            var key = UInt32(i)
            var value: UInt64 = 0
            _ = bpf_update_elem(countsFD, &key, &value, 0)
        }
    }

    /// Runs `body` armed and returns what it called.
    func measure(_ body: () throws -> Void) rethrows -> [UInt64] {
        reset()
        arm(true)
        defer { arm(false) }
        try body()
        arm(false)
        return counts()
    }

    deinit {
        bpf.cleanup()
    }
}
