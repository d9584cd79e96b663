import BCCTools
import Foundation
import Glibc
@testable import SwiftBCC
import Testing

/// BCCTools' helpers for the histogram and block tools that need no BPF: the -e line, struct
/// offsets from BTF, the -d disk lookup.
@Suite("BCCTools histogram and block helpers")
struct BCCToolsHistogramSupportTests {
    @Test("the -e line is Python's: float division truncated by %ld, nothing for a zero count")
    func extensionLine() {
        #expect(IntervalOutput.extensionSummary(total: 94097, count: 169, label: "usecs")
                == "\navg = 556 usecs, total: 94097 usecs, count: 169\n\n")
        #expect(IntervalOutput.extensionSummary(total: 5, count: 0, label: "msecs") == nil)
        // Values past 2^53, where Python's float division loses digits (from python3: '%ld' % (t / c)).
        #expect(IntervalOutput.extensionSummary(total: (1 << 60) + 1, count: 3, label: "usecs")?
                .hasPrefix("\navg = 384307168202282304 usecs,") == true)
        #expect(IntervalOutput.extensionSummary(total: 1_000_000_000_000_000_007, count: 7, label: "usecs")?
                .hasPrefix("\navg = 142857142857142864 usecs,") == true)
    }

    @Test("StructOffsets: BTF offsets where the kernel has BTF, offsetof from the headers otherwise")
    func structOffsets() throws {
        let text = StructOffsets.defines([.init("X_OFF_TGID", "task_struct", "tgid")])
        if let m = KernelBTF.vmlinux?.memberOffset("task_struct", "tgid") {
            #expect(text.contains("#define X_OFF_TGID (\(m.offset))\n"), "\(text)")
            #expect(StructOffsets.has("task_struct", "tgid") && !StructOffsets.has("task_struct", "no_such_member"))
        }
        let headers = StructOffsets.defines([.init("X_OFF_TGID", "task_struct", "tgid")], useBTF: false)
        #expect(headers == "#ifndef X_OFF_TGID\n#define X_OFF_TGID (offsetof(struct task_struct, tgid))\n#endif\n")
    }

    @Test("-d: /dev/<disk>'s major and minor; a missing one is Python's 'no such disk' error; no -d, no filter")
    func diskLookup() throws {
        let null = try BlockIO.deviceNumbers("null")
        #expect(null.major == 1 && null.minor == 3)
        let error = #expect(throws: BlockIO.DiskNotFound.self) { try BlockIO.deviceNumbers("no-such-disk") }
        #expect(error?.description == "no such disk 'no-such-disk'")
        #expect(try BlockIO.diskFilter(nil) == "")
        #expect(try BlockIO.diskFilter("null").contains("bcctools_disk_major(disk) == 1 && bcctools_disk_first_minor(disk) == 3"))
    }
}
