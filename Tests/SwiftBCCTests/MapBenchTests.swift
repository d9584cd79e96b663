import Foundation
import Glibc
@testable import SwiftBCC
import Testing

/// MapBench and StartBench are benchmark executables, not timed tests: these run them in a tiny
/// mode and check that every consumer (SwiftBCC, Python BCC, C on libbcc) produced a number for
/// every operation, did the same work (MapBench's checksums) and that the summary tables were
/// printed. They assert nothing about speed.
extension KernelSuite {
    @Suite("MapBench and StartBench", .requiresBPF, .requiresPythonBCC, .requiresGccLibbcc)
    struct MapBenchTests {
        /// The value of `<consumer> <op> <value> ns/op` lines.
        static func nsPerOp(_ stdout: String, _ consumer: String, _ op: String) -> (value: Double, line: String)? {
            for line in stdout.split(separator: "\n") {
                let f = line.split(separator: " ")
                if f.count >= 4, f[0] == consumer, f[1] == op, f[3] == "ns/op", let v = Double(f[2]) { return (v, String(line)) }
            }
            return nil
        }

        @Test("MapBench: SwiftBCC, Python BCC and C each time every operation, see every entry, and the table has ratios")
        func mapBench() throws {
            let dir = FileManager.default.temporaryDirectory.appendingPathComponent("swiftbcc-mb-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(at: dir) }
            let child = try Child(try examplePath("MapBench"),
                                  ["--entries", "300", "--rounds", "1", "--hist-prints", "2", "--timeout", "200"],
                                  environment: ["TMPDIR": dir.path])
            let status = child.wait(timeout: 300)
            let out = child.stdout
            #expect(status == 0, "stdout: \(out)\nstderr: \(child.stderr)")
            let ops = ["update", "lookup", "delete", "items", "batch-dump", "batch-update", "hist"]
            for consumer in ["swift", "c", "python"] {
                for op in ops {
                    let r = Self.nsPerOp(out, consumer, op)
                    #expect(r != nil, "no ns/op for \(consumer) \(op): \(out)")
                    if let r {
                        #expect(r.value > 0 && r.value.isFinite, "\(r.line)")
                        #expect(!r.line.contains("checksum"), "\(r.line)")
                    }
                }
            }
            for op in ["items-dynamic", "lookup-dynamic"] { #expect(Self.nsPerOp(out, "swift", op) != nil, "\(op): \(out)") }
            #expect(out.contains("| Swift / C | Swift / Python |"), "\(out)")
            #expect(!out.contains("skipped:") && !out.contains("note:"), "\(out)")
            #expect(((try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? []).isEmpty, "the temp dir was removed")
        }

        @Test("MapBench refuses an unknown operation")
        func unknownOp() throws {
            let child = try Child(try examplePath("MapBench"), ["--only", "lookup,nope"])
            let status = child.wait(timeout: 60)
            #expect(status != 0)
            #expect(child.stderr.contains("nope"), "\(child.stderr)")
        }

        @Test("StartBench: SwiftBCC, Python BCC and C each report start-to-attached time and peak RSS")
        func startBench() throws {
            let dir = FileManager.default.temporaryDirectory.appendingPathComponent("swiftbcc-sb-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(at: dir) }
            let child = try Child(try examplePath("StartBench"), ["--rounds", "1", "--timeout", "200"],
                                  environment: ["TMPDIR": dir.path])
            let status = child.wait(timeout: 300)
            let out = child.stdout
            #expect(status == 0, "stdout: \(out)\nstderr: \(child.stderr)")
            for consumer in ["swift", "python", "c"] {
                let line = out.split(separator: "\n").first { $0.hasPrefix(consumer) && $0.contains("attached after") }
                #expect(line != nil, "no start time for \(consumer): \(out)")
                if let line {
                    let numbers = line.split(separator: " ").compactMap { Double($0.trimmingCharacters(in: CharacterSet(charactersIn: ","))) }
                    #expect(numbers.count == 2 && numbers.allSatisfy { $0 > 0 }, "\(line)")
                }
            }
            #expect(out.contains("| start to attached (s) | peak RSS (MiB) |"), "\(out)")
            #expect(!out.contains("skipped:"), "\(out)")
            #expect(((try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? []).isEmpty, "the temp dir was removed")
        }
    }
}
