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
    private var events: [String] = []
    private var fds: [Int32] = []
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
            var sym = bcc_symbol()
            var opts = bcc_symbol_option(use_debug_file: 0, check_debug_file_crc: 0, lazy_symbolize: 1,
                                         use_symbol_type: UInt32((1 << 2) | (1 << 10)))   // STT_FUNC | STT_GNU_IFUNC
            guard bcc_resolve_symname(s.library, s.symbol, 0, getpid(), &opts, &sym) == 0 else {
                throw BPFError.invalidArgument("cannot resolve \(s.symbol) in \(s.library)")
            }
            let module = String(cString: sym.module)
            let fn = try bpf.loadFunction("count_\(i)", type: .kprobe)
            let ev = "p_swiftbcc_count_\(getpid())_\(i)"
            let (fd, output) = StderrCapture.capture {
                bpf_attach_uprobe(fn.fd, BPF_PROBE_ENTRY, ev, module, sym.offset, getpid(), 0)
            }
            bcc_procutils_free(sym.module)
            guard fd >= 0 else {
                throw BPFError.attachFailed(kind: "uprobe", target: "\(module):\(s.symbol)", function: fn.name,
                                            errno: 0, detail: output.text, hint: nil)
            }
            events.append(ev)
            fds.append(fd)
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
        for fd in fds { _ = bpf_close_perf_event_fd(fd) }
        for ev in events { _ = StderrCapture.capture { bpf_detach_uprobe(ev) } }
        bpf.cleanup()
    }
}
