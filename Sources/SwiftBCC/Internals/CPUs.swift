import Glibc

/// CPU lists from /sys/devices/system/cpu (Python: `bcc.utils.get_online_cpus`/`get_possible_cpus`).
public enum CPUs {
    /// CPUs that may ever be online: the per-CPU map value count.
    public static let possible: [Int] = parse(FileIO.read("/sys/devices/system/cpu/possible") ?? "0")
    /// CPUs online now.
    public static var online: [Int] { parse(FileIO.read("/sys/devices/system/cpu/online") ?? "0") }

    /// Parses a kernel CPU list such as `0-3,5,7-8`.
    public static func parse(_ text: String) -> [Int] {
        var cpus: [Int] = []
        for part in text.split(whereSeparator: { $0 == "," || $0 == "\n" }) {
            let bounds = part.split(separator: "-").compactMap { Int($0.trimmingCharacters(in: " ")) }
            if bounds.count == 2, bounds[0] <= bounds[1] { cpus += Array(bounds[0]...bounds[1]) } else if let one = bounds.first { cpus.append(one) }
        }
        return cpus
    }
}
