// A child's crash report: the faulting instruction and the return addresses of the crashing
// thread, written to stderr by a signal handler (async-signal-safe calls only), with the
// child's /proc/self/maps, so that the parent can say which library the crash was in.
import Glibc

enum CrashReport {
    static let framesMarker = "BPFFUZZ-CRASH"
    static let mapsBegin = "BPFFUZZ-MAPS-BEGIN"
    static let mapsEnd = "BPFFUZZ-MAPS-END"

    typealias Backtrace = @convention(c) (UnsafeMutablePointer<UnsafeMutableRawPointer?>?, Int32) -> Int32
    nonisolated(unsafe) static var backtraceFn: Backtrace?
    /// The handler's buffers, allocated up front: a crash inside malloc must not need malloc.
    nonisolated(unsafe) static var line = UnsafeMutableBufferPointer<UInt8>.allocate(capacity: 4096)
    nonisolated(unsafe) static var frames = UnsafeMutablePointer<UnsafeMutableRawPointer?>.allocate(capacity: 48)
    nonisolated(unsafe) static var copy = UnsafeMutableRawPointer.allocate(byteCount: 8192, alignment: 8)
    /// A duplicate of stderr taken at install: while libbcc compiles, fd 2 is redirected into
    /// SwiftBCC's diagnostics capture, and a report written there would be lost.
    nonisolated(unsafe) static var reportFD: Int32 = 2

    /// Installs the handler for the signals a crash raises (the Swift runtime's traps are
    /// SIGILL/SIGTRAP). `backtrace` is resolved and called once here: its first call loads
    /// libgcc_s, which must not happen inside a handler.
    static func install() {
        if let sym = dlsym(nil, "backtrace") {
            backtraceFn = unsafeBitCast(sym, to: Backtrace.self)
            var warm = [UnsafeMutableRawPointer?](repeating: nil, count: 4)
            _ = backtraceFn?(&warm, 4)
        }
        reportFD = dup(2)
        if reportFD < 0 { reportFD = 2 }
        // A stack overflow (clang recursing on a malformed program) leaves no stack for the
        // handler: it runs on its own.
        var alt = stack_t()
        alt.ss_size = 256 * 1024
        alt.ss_sp = UnsafeMutableRawPointer.allocate(byteCount: alt.ss_size, alignment: 16)
        alt.ss_flags = 0
        sigaltstack(&alt, nil)
        for sig in [SIGSEGV, SIGBUS, SIGILL, SIGTRAP, SIGABRT, SIGFPE] {
            var action = sigaction()
            action.__sigaction_handler.sa_sigaction = { sig, _, context in CrashReport.report(sig, context) }
            action.sa_flags = SA_SIGINFO | Int32(bitPattern: UInt32(SA_RESETHAND)) | SA_ONSTACK
            sigemptyset(&action.sa_mask)
            sigaction(sig, &action, nil)
        }
    }

    /// The handler: one line `BPFFUZZ-CRASH <signal> <rip> <frame>...` (hex), then the maps,
    /// then the signal again with the default action (SA_RESETHAND), so the parent sees it.
    static func report(_ sig: Int32, _ context: UnsafeMutableRawPointer?) {
        let line = Self.line
        var n = 0
        func put(_ s: StaticString) {
            s.withUTF8Buffer { for b in $0 where n < line.count - 1 { line[n] = b; n += 1 } }
        }
        func hex(_ v: UInt) {
            put(" ")
            var shift = 60
            while shift > 0 && (v >> UInt(shift)) & 15 == 0 { shift -= 4 }
            while shift >= 0 && n < line.count - 1 {
                let d = UInt8((v >> UInt(shift)) & 15)
                line[n] = d < 10 ? 48 + d : 87 + d
                n += 1
                shift -= 4
            }
        }
        put("\nBPFFUZZ-CRASH")
        hex(UInt(sig))
        // ucontext_t.uc_mcontext.gregs[REG_RIP] (16) on x86_64.
        if let context {
            let uc = context.assumingMemoryBound(to: ucontext_t.self)
            let rip = withUnsafeBytes(of: &uc.pointee.uc_mcontext.gregs) { $0.load(fromByteOffset: 16 * 8, as: UInt.self) }
            hex(rip)
        } else {
            hex(0)
        }
        if let backtraceFn {
            let frames = Self.frames
            let count = backtraceFn(frames, 48)
            for i in 0..<Int(max(0, count)) { hex(UInt(bitPattern: frames[i])) }
        }
        put("\n")
        _ = write(reportFD, line.baseAddress, n)
        func raw(_ s: StaticString) { _ = write(reportFD, s.utf8Start, s.utf8CodeUnitCount) }
        raw("BPFFUZZ-MAPS-BEGIN\n")
        let fd = open("/proc/self/maps", O_RDONLY)
        if fd >= 0 {
            while true {
                let r = read(fd, Self.copy, 8192)
                if r <= 0 { break }
                _ = write(reportFD, Self.copy, r)
            }
            close(fd)
        }
        raw("BPFFUZZ-MAPS-END\n")
        raise(sig)
    }

    /// Where a crash was, from a child's stderr.
    struct Location {
        var signal: Int32
        /// The library (file name) of the innermost frame that is not libc, libstdc++, libgcc
        /// or the Swift runtime (which only report what their caller did); nil when unknown.
        var library: String?
        /// The faulting instruction's library, then its callers', innermost first.
        var libraries: [String]

        /// A crash inside libclang/LLVM (libbcc 0.26's clang crashes on some malformed
        /// programs, and Python's BPF() dies the same way) is the compiler's, not SwiftBCC's;
        /// so is one in libbcc's own front end while it compiles.
        func isInsideCompiler(compiling: Bool) -> Bool {
            guard let library else { return false }
            return library.contains("libclang") || library.contains("libLLVM")
                || (compiling && library.hasPrefix("libbcc"))
        }
    }

    static func parse(_ stderr: String) -> Location? {
        let lines = stderr.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        guard let crash = lines.last(where: { $0.hasPrefix(framesMarker) }) else { return nil }
        let words = crash.split(separator: " ").dropFirst().compactMap { UInt($0, radix: 16) }
        guard let sig = words.first, words.count >= 2 else { return nil }
        var regions: [(lo: UInt, hi: UInt, file: String)] = []
        if let b = lines.firstIndex(of: mapsBegin), let e = lines.firstIndex(of: mapsEnd), b < e {
            for entry in lines[(b + 1)..<e] {
                let parts = entry.split(separator: " ", omittingEmptySubsequences: true)
                guard parts.count >= 6 else { continue }
                let range = parts[0].split(separator: "-")
                guard range.count == 2, let lo = UInt(range[0], radix: 16), let hi = UInt(range[1], radix: 16) else { continue }
                regions.append((lo, hi, String(parts[5].split(separator: "/").last ?? parts[5])))
            }
        }
        func library(of address: UInt) -> String {
            regions.first { address >= $0.lo && address < $0.hi }?.file ?? "?"
        }
        // backtrace() from the handler starts with the handler's own frames and the signal
        // trampoline; the interrupted code's frames follow the faulting instruction's.
        let rip = words[1]
        let frames = Array(words.dropFirst(2))
        let callers = frames.firstIndex(of: rip).map { Array(frames[($0 + 1)...]) }
            ?? frames.firstIndex { library(of: $0).hasPrefix("libc.so") }.map { Array(frames[($0 + 1)...]) }
            ?? frames
        let libs = ([rip] + callers).map(library(of:))
        let passive = ["libc.so", "libstdc++", "libgcc_s", "ld-linux", "libswiftCore", "libswift_", "libFoundation", "?"]
        let culprit = libs.first { lib in !passive.contains { lib.hasPrefix($0) } }
        return Location(signal: Int32(sig), library: culprit, libraries: libs)
    }
}
