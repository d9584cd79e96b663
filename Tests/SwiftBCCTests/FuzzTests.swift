import Foundation
import Glibc
import Testing

/// The numbers in BPFFuzz's summary lines.
struct FuzzSummary {
    var programs = 0, compiled = 0, refused = 0, sequences = 0, calls = 0, typedErrors = 0
    var ownCrashes = -1, compilerCrashes = -1, hangs = -1, untyped = -1, leaks = -1

    init(_ output: String) {
        func number(before word: String, in line: Substring) -> Int? {
            guard let r = line.range(of: " " + word) else { return nil }
            return Int(line[..<r.lowerBound].split(whereSeparator: { $0 == " " || $0 == "(" || $0 == ";" || $0 == "," }).last ?? "")
        }
        for line in output.split(separator: "\n") where line.hasPrefix("BPFFuzz: ") {
            if line.contains("mutated programs") {
                programs = number(before: "mutated programs", in: line) ?? 0
                compiled = number(before: "compiled", in: line) ?? 0
                refused = number(before: "refused", in: line) ?? 0
                sequences = number(before: "API sequences", in: line) ?? 0
                calls = number(before: "calls", in: line) ?? 0
                typedErrors = number(before: "typed errors", in: line) ?? 0
            }
            if line.contains("crashes of SwiftBCC's own") {
                ownCrashes = number(before: "crashes of SwiftBCC's own", in: line) ?? -1
                compilerCrashes = number(before: "inside the compiler", in: line) ?? -1
                hangs = number(before: "hangs", in: line) ?? -1
                untyped = number(before: "untyped errors", in: line) ?? -1
                leaks = number(before: "leaks", in: line) ?? -1
            }
        }
    }
}

extension KernelSuite {
    @Suite("Fuzz target", .requiresBPF, .tags(.reliability))
    struct FuzzTests {
        /// SWIFTBCC_FUZZ_CASES / SWIFTBCC_FUZZ_SEED (scripts/reliability sets more cases and a
        /// random seed); the README's test command runs 1,000 cases of a fixed seed.
        @Test("1,000 fuzz cases (mutated programs, random API call sequences) in child processes: no crash of SwiftBCC's own, no hang, every error typed, nothing left behind")
        func fuzz() throws {
            let cases = reliabilityCount("SWIFTBCC_FUZZ_CASES", default: 1000)
            let seed = reliabilityCount("SWIFTBCC_FUZZ_SEED", default: 20261202)
            let out = try runCommand(try examplePath("BPFFuzz"), ["--cases", "\(cases)", "--seed", "\(seed)"],
                                     timeout: Double(max(600, cases)))
            let s = FuzzSummary(out.output)
            #expect(out.status == 0, "BPFFuzz found problems:\n\(out.output)")
            #expect(s.ownCrashes == 0 && s.hangs == 0 && s.untyped == 0 && s.leaks == 0, "\(out.output)")
            // Every case ran to its end or to a (reported) compiler crash, and the cases did both:
            // programs that compile and load, and ones refused.
            #expect(s.programs + s.sequences + s.compilerCrashes == cases, "\(out.output)")
            #expect(s.compiled > 0 && s.refused > 0, "\(out.output)")
            #expect(s.calls > s.sequences && s.typedErrors > 0, "\(out.output)")
            if s.compilerCrashes > 0 { print("BPFFuzz reported \(s.compilerCrashes) crash(es) inside libclang/LLVM:\n\(out.output)") }
        }

        @Test("BPFFuzz's crash detection works: a deliberate trap in a child is reported as SwiftBCC's own crash, with the replay command, and the other cases still run")
        func crashDetection() throws {
            let out = try runCommand(try examplePath("BPFFuzz"), ["--cases", "4", "--batch", "4", "--seed", "7", "--self-test"],
                                     timeout: 300)
            let s = FuzzSummary(out.output)
            #expect(out.status == 1, "\(out.output)")
            #expect(s.ownCrashes == 1, "\(out.output)")
            #expect(out.output.contains("CRASH of SwiftBCC's own: case 1 (api): signal 4 in BPFFuzz"), "\(out.output)")
            #expect(out.output.contains("replay: BPFFuzz --seed 7 --child 0:2"), "\(out.output)")
            // Case 0 (a program) ran before the crash, cases 2 and 3 in a new child after it.
            #expect(s.programs == 1 && s.sequences == 2, "\(out.output)")
        }
    }
}
