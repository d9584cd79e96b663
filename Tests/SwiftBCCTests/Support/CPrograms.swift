import Foundation
import Glibc
@testable import SwiftBCC
import Testing

/// Small C programs the tests compile with gcc into a temporary directory, as probe targets.
enum CPrograms {
    private static let lock = NSLock()
    nonisolated(unsafe) private static var built: [String: String] = [:]
    static let directory: String = {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("swiftbcc-c-\(getpid())").path
        try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        atexit { try? FileManager.default.removeItem(atPath: CPrograms.directory) }
        return dir
    }()

    /// Compiles `source` as `name` (once per test process) and returns the executable's path.
    static func build(_ name: String, source: String, flags: [String] = []) throws -> String {
        lock.lock()
        defer { lock.unlock() }
        if let path = built[name] { return path }
        let src = directory + "/\(name).c"
        let exe = directory + "/\(name)"
        try source.write(toFile: src, atomically: true, encoding: .utf8)
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/gcc")
        p.arguments = ["-O1", "-g", "-o", exe, src] + flags
        let errPipe = Pipe()
        p.standardError = errPipe
        try p.run()
        let err = String(decoding: errPipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        try #require(p.terminationStatus == 0, "gcc failed for \(name): \(err)")
        built[name] = exe
        return exe
    }

    /// The uprobe target: two functions that must not be inlined, called N times after a byte
    /// arrives on stdin (so probes can be attached to a running process first).
    static let target = """
        #include <stdio.h>
        #include <stdlib.h>
        __attribute__((noinline)) int swiftbcc_add(int a, int b) { __asm__ volatile(""); return a + b; }
        __attribute__((noinline)) int swiftbcc_mul(int a, int b) { __asm__ volatile(""); return a * b; }
        int main(int argc, char **argv) {
            int n = argc > 1 ? atoi(argv[1]) : 1;
            long total = 0;
            if (getchar() == EOF) return 2;
            for (int i = 0; i < n; i++) total += swiftbcc_add(i, 1000);
            total += swiftbcc_mul(6, 7);
            printf("%ld\\n", total);
            return 0;
        }
        """

    static func targetPath() throws -> String { try build("uprobe_target", source: target) }
}

/// A C helper process started with a pipe on stdin; `go()` lets it run.
final class WaitingProcess {
    let process = Process()
    private let stdinPipe = Pipe()
    private let stdoutPipe = Pipe()

    init(_ path: String, _ args: [String]) throws {
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = args
        process.standardInput = stdinPipe
        process.standardOutput = stdoutPipe
        try process.run()
        // Until the exec has happened, /proc/<pid> still shows the test runner: USDT(pid:)
        // and symbol lookups need the helper's own mappings.
        let real = URL(fileURLWithPath: path).resolvingSymlinksInPath().path
        let deadline = Date().addingTimeInterval(10)
        while Date() < deadline {
            if let maps = try? String(contentsOfFile: "/proc/\(process.processIdentifier)/maps", encoding: .utf8),
               maps.contains(real) { break }
            usleep(2_000)
        }
    }

    var pid: Int32 { process.processIdentifier }

    /// Sends the byte that starts the work, waits for exit, returns stdout.
    @discardableResult
    func go(timeout: Double = 10) -> String {
        stdinPipe.fileHandleForWriting.write(Data("g".utf8))
        try? stdinPipe.fileHandleForWriting.close()
        let deadline = Date().addingTimeInterval(timeout)
        while process.isRunning && Date() < deadline { usleep(10_000) }
        if process.isRunning { kill(pid, SIGKILL) }
        process.waitUntilExit()
        return String(decoding: stdoutPipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    }

    deinit { if process.isRunning { kill(pid, SIGKILL) } }
}

func leBytes<T: FixedWidthInteger>(_ value: T) -> [UInt8] {
    withUnsafeBytes(of: value.littleEndian) { Array($0) }
}

extension Table {
    /// The u64 value at `index` of a `BPF_ARRAY(name, u64, n)`.
    func u64(at index: UInt32) throws -> UInt64 {
        TypedBytes.load(try lookup(rawKey: leBytes(index)) ?? [], as: UInt64.self)
    }

    /// Every (u64 key, u64 value) of a hash with 8-byte keys and values.
    func u64Pairs() throws -> [UInt64: UInt64] {
        var result: [UInt64: UInt64] = [:]
        for k in try rawKeys() {
            if let v = try lookup(rawKey: k) { result[TypedBytes.load(k, as: UInt64.self)] = TypedBytes.load(v, as: UInt64.self) }
        }
        return result
    }
}
