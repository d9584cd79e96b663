internal import CBCC
import Glibc

extension BPF {
    /// Prepends libbcc's USDT argument readers for `contexts` to `text` (Python does the same).
    static func prependingUSDTArguments(_ contexts: [USDT], to text: String) throws -> String {
        guard !contexts.isEmpty else { return text }
        return try USDT.generateArguments(contexts) + text
    }

    /// Attaches a uprobe for every enabled location of every context, as Python's
    /// `USDT.attach_uprobes`; with `ignorePID`, the probes fire in every process.
    func attachUSDTProbes(_ contexts: [USDT], ignorePID: Bool) throws {
        try state.withLock { s in
            for context in contexts {
                for probe in context.enumerateActiveProbes() {
                    let pid = ignorePID ? -1 : probe.pid
                    let target = try Self.uprobeTarget(name: probe.binPath, sym: nil, addr: probe.address, pid: pid,
                                                       symOff: 0, resolveIFUNC: false)
                    try attachUprobeTarget(&s, target, fnName: probe.fnName, pid: pid, isReturn: false)
                }
            }
            s.usdtContexts += contexts
        }
    }
}
