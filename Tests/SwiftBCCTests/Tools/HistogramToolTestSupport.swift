import Foundation
import Glibc
@testable import SwiftBCC
import Testing

/// Workloads and output parsing for the block and scheduler tools (biolatency, biosnoop,
/// bitesize, runqlat, cpudist).
enum BlockWorkload {
    /// Where a test's direct writes go and the disk they reach: a file in `dir` when `dir` is on
    /// a block device (the host: /tmp is on vda), else (the VM lane, whose root is 9p under an
    /// overlay) the null_blk device /dev/nullb0, loaded with modprobe when missing.
    static func target(_ dir: URL) throws -> (path: String, disk: String) {
        var st = stat()
        try #require(stat(dir.path, &st) == 0, "stat \(dir.path): errno \(errno)")
        let dev = UInt64(st.st_dev)
        let major = ((dev >> 8) & 0xfff) | ((dev >> 32) & ~UInt64(0xfff))
        let minor = (dev & 0xff) | ((dev >> 12) & ~UInt64(0xff))
        let sys = "/sys/dev/block/\(major):\(minor)"
        if major != 0, let link = FileIO.readLink(sys) {
            // .../block/vda or .../block/vda/vda1 for a partition: the disk is the first.
            var url = URL(fileURLWithPath: sys).deletingLastPathComponent().appendingPathComponent(link).standardizedFileURL
            if FileManager.default.fileExists(atPath: sys + "/partition") { url = url.deletingLastPathComponent() }
            let path = dir.appendingPathComponent("data").path
            try preallocate(path, bytes: 4 << 20)
            return (path, url.lastPathComponent)
        }
        if !FileManager.default.fileExists(atPath: "/dev/nullb0") {
            let out = try ToolTest.run("/sbin/modprobe", ["null_blk", "nr_devices=1"], timeout: 60)
            try #require(out.status == 0, "\(dir.path) is not on a block device and modprobe null_blk failed: \(out.stderr)")
            _ = eventually(timeout: 10) { FileManager.default.fileExists(atPath: "/dev/nullb0") }
        }
        try #require(FileManager.default.fileExists(atPath: "/dev/nullb0"), "/dev/nullb0 did not appear")
        return ("/dev/nullb0", "nullb0")
    }

    /// Writes `bytes` of zeros to a new file at `path` and syncs it, before any tool traces: a
    /// direct write then overwrites allocated blocks, one request of its own size issued by dd.
    /// (Into a new file, ext4's block allocation once left one of six 4 KiB direct writes out of
    /// dd's requests, and the biosnoop test waiting for six rows failed.)
    static func preallocate(_ path: String, bytes: Int) throws {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        try #require(fd >= 0, "open \(path): errno \(errno)")
        defer { close(fd) }
        let zeros = [UInt8](repeating: 0, count: 1 << 16)
        var left = bytes
        while left > 0 {
            let n = zeros.withUnsafeBytes { write(fd, $0.baseAddress, min(left, $0.count)) }
            try #require(n > 0, "write \(path): errno \(errno)")
            left -= n
        }
        try #require(fsync(fd) == 0, "fsync \(path): errno \(errno)")
    }

    /// Runs `dd if=/dev/zero of=<path> oflag=direct bs=<bs> count=<blocks>` as a command named
    /// `marker` (so its comm is the marker); returns its pid.
    @discardableResult
    static func directWrites(marker: String, dir: URL, path: String, blocks: Int, blockSize: String = "4k") throws -> Int32 {
        let dd = try ToolTest.markedCommand(marker, in: dir, target: "/bin/dd")
        let child = try Child(dd, ["if=/dev/zero", "of=\(path)", "oflag=direct", "bs=\(blockSize)", "count=\(blocks)",
                                   "conv=notrunc", "status=none"])
        let pid = child.process.processIdentifier
        // Generous: a loaded disk has stalled a few 4 KiB direct writes for over a minute.
        let status = child.wait(timeout: 180)
        try #require(status == 0, "dd of=\(path) oflag=direct: status \(String(describing: status)) stderr \(child.stderr)")
        return pid
    }
}

/// A log2 histogram as the tools print it.
struct PrintedHistogram {
    /// The `val_type` of the header line.
    var valType: String
    /// Counts by slot (slot i holds [2^(i-1), 2^i)), 65 slots as Python's.
    var vals: [Int64]
    /// The lines as printed: the header, then one per slot from 1.
    var lines: [String]

    var total: Int64 { vals.reduce(0, +) }

    /// The histograms in `text`, in order: each starts at a `     <valType> : count     distribution`
    /// line and runs over the bucket lines after it. A bucket line that is not
    /// `%10d -> %-10d : %-8d |<40 columns>|` ends the parse with a failed expectation.
    static func parse(_ text: String) -> [PrintedHistogram] {
        var result: [PrintedHistogram] = []
        var current: PrintedHistogram?
        for line in text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init) {
            if line.hasSuffix(" : count     distribution"), line.hasPrefix("     ") {
                if let current { result.append(current) }
                let valType = line.dropFirst(5).dropLast(" : count     distribution".count).trimmingCharacters(in: .whitespaces)
                current = PrintedHistogram(valType: valType, vals: [Int64](repeating: 0, count: 65), lines: [line])
                continue
            }
            guard current != nil else { continue }
            guard line.contains(" -> ") else {
                result.append(current!)
                current = nil
                continue
            }
            let ok = ToolTest.matches(line, #"[ \d]{10} -> [\d ]{10} : [\d ]{8} \|[*+ ]{40}\|"#)
            #expect(ok, "not a bucket line of a log2 histogram: '\(line)'")
            let parts = line.split(separator: " ", omittingEmptySubsequences: true)
            guard ok, parts.count >= 5, let high = Int128(String(parts[2])), let count = Int64(String(parts[4])) else { continue }
            // high is 2^i - 1.
            var i = 0
            while (Int128(1) << Int128(i)) - 1 < high { i += 1 }
            current!.vals[i] = count
            current!.lines.append(line)
        }
        if let current { result.append(current) }
        return result
    }

    /// The text Python BCC's `_print_log2_hist(vals, val_type, 0)` prints for these counts, run
    /// through /usr/bin/python3 and bcc.table; sections given as (header, name) are printed
    /// before each as Python's `print_log2_hist` does (`"\n%s = %s" % (header, name)`).
    static func pythonText(_ hists: [(section: (String, String)?, vals: [Int64], valType: String)]) throws -> String {
        var script = "import sys\nfrom bcc.table import _print_log2_hist\n"
        for h in hists {
            if let (header, name) = h.section {
                script += "print('\\n%s = %s' % (\(pyString(header)), \(pyString(name))))\n"
            }
            script += "_print_log2_hist([\(h.vals.map(String.init).joined(separator: ","))], \(pyString(h.valType)), 0)\n"
        }
        // Twice the full test suite's run here saw this python3 (a fresh `import bcc`) make no
        // progress for its whole time limit while the same script ran in 0.2 s by hand: one
        // retry, then the failure shows what came out.
        var out = runPython(script, timeout: 120)
        if out.status == -1 { out = runPython(script, timeout: 120) }
        try #require(out.status == 0, "python: \(out.stderr)")
        return out.stdout
    }

    static func pyString(_ s: String) -> String {
        "'" + s.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "'", with: "\\'")
            .replacingOccurrences(of: "\n", with: "\\n") + "'"
    }
}

/// The scheduler workload of the runqlat and cpudist tests: this thread sleeping 2 ms again and
/// again (each sleep a switch out, a wakeup and a switch in) until `child` exits (at most 60 s).
enum SchedulerWorkload {
    @discardableResult
    static func sleepUntilExit(_ child: Child, timeout: Double = 60) -> Int32? {
        let deadline = Date().addingTimeInterval(timeout)
        while child.process.isRunning && Date() < deadline { usleep(2000) }
        return child.wait(timeout: 10)
    }

    /// `/proc/<tid>/comm`, newline included (what cpudist's section lines show).
    static func comm(_ id: Int32) -> String {
        (try? String(contentsOfFile: "/proc/\(id)/comm", encoding: .utf8)) ?? ""
    }
}

extension ToolTest {
    /// `startTool` with a deadline for the VM lane: under qemu TCG (and with another VM on the
    /// same two cores) compiling a tool's program has taken more than a minute. Stops waiting as
    /// soon as the tool exits.
    static func startSlowTool(_ tool: String, _ args: [String], headerLines: Int = 1) throws -> Child {
        let child = try start(try examplePath(tool), args, waitForLines: headerLines, timeout: 300)
        try #require(child.process.isRunning && child.stdoutLines.count >= headerLines,
                     "\(tool) \(args) did not start within 300 s: stdout \(child.stdout) stderr \(child.stderr)")
        return child
    }
}

extension Trait where Self == ConditionTrait {
    /// Runs only where kprobes can go on blk_account_io_done (or __blk_account_io_done), the
    /// Python block tools' completion probe. The VM lane's 6.1 refuses it (EINVAL: not
    /// traceable there), so the block tools' kprobe path runs on neither the host nor the VM.
    static var requiresBlockAccountingKprobes: Self {
        .enabled("needs a kprobe-able blk_account_io_done (6.1 in the VM lane: EINVAL, not traceable)") {
            let fns = (try? BPF.getKprobeFunctions("^_*blk_account_io_done$")) ?? []
            return !fns.isEmpty
        }
    }
}
