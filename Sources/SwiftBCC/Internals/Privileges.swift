import Glibc

/// This process's effective capabilities.
enum Privileges {
    /// Bits of CapEff in /proc/self/status.
    static var effective: UInt64 {
        guard let status = FileIO.read("/proc/self/status") else { return 0 }
        for line in status.split(separator: "\n") where line.hasPrefix("CapEff:") {
            return UInt64(line.dropFirst("CapEff:".count).trimmingCharacters(in: Character("\t")).trimmingCharacters(in: Character(" ")), radix: 16) ?? 0
        }
        return 0
    }

    static let capSysAdmin: UInt64 = 1 << 21
    static let capPerfmon: UInt64 = 1 << 38
    static let capBPF: UInt64 = 1 << 39

    /// CAP_SYS_ADMIN, or CAP_BPF with CAP_PERFMON: enough for any BPF program type.
    static var hasBPFCapabilities: Bool {
        let caps = effective
        return caps & capSysAdmin != 0 || (caps & capBPF != 0 && caps & capPerfmon != 0)
    }
}
