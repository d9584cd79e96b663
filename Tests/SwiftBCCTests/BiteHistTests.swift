import Foundation
import Glibc
@testable import SwiftBCC
import Testing

/// Writes and fsyncs a file on the root filesystem (a block device here), so block I/O completes.
func blockIO(_ kbytes: Int = 64) {
    let path = "/var/tmp/swiftbcc-bitehist-\(getpid())"
    let fd = open(path, O_CREAT | O_WRONLY | O_TRUNC, 0o600)
    guard fd >= 0 else { return }
    var data = [UInt8](repeating: 0x5a, count: kbytes * 1024)
    for i in stride(from: 0, to: data.count, by: 4096) { data[i] = UInt8.random(in: 0...255) }
    _ = data.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
    fsync(fd)
    close(fd)
    unlink(path)
}

extension KernelSuite {
    @Suite("BiteHist example", .requiresBPF)
    struct BiteHistTests {
        @Test("--count 4 stops after four block I/Os and prints both histograms in Python's format")
        func countFour() throws {
            let child = try Child(try examplePath("BiteHist"), ["--count", "4"])
            let status = child.drive(timeout: 30) {
                blockIO()
            }
            #expect(status == 0, "stderr: \(child.stderr)")
            let out = child.stdout
            let lines = child.stdout.components(separatedBy: "\n")
            try #require(lines.count > 8, "stdout: \(out)")
            #expect(lines[0] == "Tracing... Hit Ctrl-C to end.")
            #expect(lines[1] == "")
            #expect(lines[2] == "log2 histogram" && lines[3] == "~~~~~~~~~~~~~~")
            #expect(lines[4] == "     kbytes              : count     distribution")
            #expect(out.contains("\n\nlinear histogram\n~~~~~~~~~~~~~~~~\n     kbytes        : count     distribution\n"))
            // The log2 rows add up to at least the four I/Os, and one row has the full 40 stars.
            let rows = lines.filter { $0.contains(" -> ") }
            let total = rows.compactMap { Int($0.split(separator: ":")[1].split(separator: "|")[0].trimmingCharacters(in: .whitespaces)) }.reduce(0, +)
            #expect(total >= 4, "stdout: \(out)")
            #expect(rows.contains { $0.hasSuffix("|" + String(repeating: "*", count: 40) + "|") })
            #expect(rows.allSatisfy { $0.wholeMatch(of: /\s{0,9}\d+ -> \d+\s* : \d+\s* \|[*+ ]{40}\|/) != nil }, "\(rows)")
        }

        @Test("SIGTERM prints the histograms and exits 0")
        func sigterm() throws {
            let child = try Child(try examplePath("BiteHist"), [])
            #expect(eventually(timeout: 30) { child.stdout.contains("Tracing...") }, "stderr: \(child.stderr)")
            blockIO()
            usleep(200_000)
            kill(child.process.processIdentifier, SIGTERM)
            #expect(child.wait(timeout: 10) == 0, "stderr: \(child.stderr)")
            #expect(child.stdout.contains("log2 histogram") && child.stdout.contains("linear histogram"))
        }
    }
}
