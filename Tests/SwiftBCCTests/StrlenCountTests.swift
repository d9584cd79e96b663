import Foundation
import Glibc
@testable import SwiftBCC
import Testing

extension KernelSuite {
    @Suite("StrlenCount example", .requiresBPF, .requiresUprobes)
    struct StrlenCountTests {
        /// Starts StrlenCount, waits for its header (printed once attached), calls strlen on a
        /// marker `calls` times, and returns the child.
        func runWithMarker(_ args: [String], calls: Int, marker: String) throws -> Child {
            let child = try Child(try examplePath("StrlenCount"), args)
            #expect(eventually(timeout: 30) { child.stdout.contains("Tracing strlen()... Hit Ctrl-C to end.") },
                    "no header; stderr: \(child.stderr)")
            for _ in 0..<calls { _ = marker.withCString { strlen($0) } }
            return child
        }

        @Test("SIGTERM prints the table: our marker string counted exactly, rows sorted by count")
        func sigtermPrintsCounts() throws {
            let marker = uniqueMarker("strlen-count-")
            let child = try runWithMarker([], calls: 37, marker: marker)
            usleep(200_000)
            kill(child.process.processIdentifier, SIGTERM)
            #expect(child.wait(timeout: 20) == 0, "stderr: \(child.stderr)")
            let lines = child.stdoutLines
            #expect(lines.first == "Tracing strlen()... Hit Ctrl-C to end.")
            #expect(lines.dropFirst().first == "     COUNT STRING")
            #expect(lines.contains(String(repeating: " ", count: 8) + "37 \"\(marker)\""), "stdout: \(child.stdout.prefix(2000))")
            // Rows are `%10d "%s"`; a counted string may itself hold newlines, so only lines that
            // start like a row are rows.
            let counts = lines.dropFirst(2).compactMap { line -> Int? in
                guard line.count > 11, line.dropFirst(10).hasPrefix(" \"") else { return nil }
                return Int(line.prefix(10).trimmingCharacters(in: .whitespaces))
            }
            #expect(counts.count >= 1)
            #expect(counts == counts.sorted())
            #expect(child.stderr.contains("IFUNC strlen"), "stderr: \(child.stderr)")
        }

        @Test("--count N stops after N strlen calls and exits 0 with the table")
        func countStops() throws {
            let marker = uniqueMarker("strlen-count-")
            let child = try runWithMarker(["--count", "5"], calls: 10, marker: marker)
            #expect(child.wait(timeout: 20) == 0, "stderr: \(child.stderr)")
            #expect(child.stdoutLines.contains("     COUNT STRING"))
            #expect(child.stdoutLines.count > 2)
        }

        @Test("--duration ends the run with exit 0")
        func duration() throws {
            let child = try Child(try examplePath("StrlenCount"), ["--duration", "1"])
            #expect(child.wait(timeout: 30) == 0, "stderr: \(child.stderr)")
            #expect(child.stdoutLines.contains("     COUNT STRING"))
        }
    }
}
