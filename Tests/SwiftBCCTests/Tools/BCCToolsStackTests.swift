import BCCTools
import Foundation
import Glibc
import Testing

/// BCCTools' pure logic for the stack tools (profile, offcputime, stackcount) and the probe
/// patterns of funccount and stackcount.
@Suite("BCCTools stacks and probe patterns")
struct BCCToolsStackTests {
    func record(user: Int32 = 3, kernel: Int32 = 4) -> StackRecord {
        StackRecord(comm: "spin", pid: 42, userStackID: user, kernelStackID: kernel,
                    user: ["inner_u", "outer_u"], kernel: ["inner_k", "outer_k"], value: 7)
    }

    @Test("stack ids: -EFAULT (no stack of that kind) is not an error, other negatives are")
    func stackIDs() {
        #expect(!StackIDs.isError(0) && !StackIDs.isError(5))
        #expect(!StackIDs.isError(-EFAULT))
        #expect(StackIDs.isError(-EEXIST) && StackIDs.isError(-ENOMEM))
    }

    @Test("folded: comm, user frames outermost first, '-' with -d, kernel frames, the value; -a marks kernel frames")
    func folded() {
        let style = StackStyle(folded: true)
        #expect(style.foldedLine(record()) == "spin;outer_u;inner_u;outer_k;inner_k 7")
        #expect(StackStyle(delimited: true, folded: true).foldedLine(record()) == "spin;outer_u;inner_u;-;outer_k;inner_k 7")
        #expect(StackStyle(annotations: true, folded: true).foldedLine(record())
                == "spin;outer_u;inner_u;outer_k_[k];inner_k_[k] 7")
        // -U / -K drop the other stack, and -d with them adds no delimiter.
        #expect(StackStyle(userOnly: true, delimited: true, folded: true).foldedLine(record(kernel: -1)) == "spin;outer_u;inner_u 7")
        #expect(StackStyle(kernelOnly: true, folded: true).foldedLine(record(user: -1)) == "spin;outer_k;inner_k 7")
        // A failed stack id is a placeholder; -EFAULT (no user stack: a kernel thread) shows nothing.
        let lost = StackRecord(comm: "x", pid: 1, userStackID: -EEXIST, kernelStackID: -ENOMEM, user: [], kernel: [], value: 1)
        #expect(style.foldedLine(lost) == "x;[Missed User Stack];[Missed Kernel Stack] 1")
        let kthread = StackRecord(comm: "kworker/0:1", pid: 9, userStackID: -EFAULT, kernelStackID: 2, user: [], kernel: ["k"], value: 3)
        #expect(StackStyle(delimited: true, folded: true).foldedLine(kthread) == "kworker/0:1;k 3")
        #expect(style.missing(lost) == [-ENOMEM, -EEXIST])
        #expect(style.missing(kthread).isEmpty)
    }

    @Test("multi-line: kernel frames innermost first, '--' with -d, user frames, '-  comm (pid)', the value, a blank line")
    func multiLine() {
        #expect(StackStyle(delimited: true).multiLine(record()) == [
            "    inner_k", "    outer_k", "    --", "    inner_u", "    outer_u",
            "    -                spin (42)", "        7", "",
        ])
        #expect(StackStyle(kernelOnly: true).multiLine(record(user: -1)) == [
            "    inner_k", "    outer_k", "    -                spin (42)", "        7", "",
        ])
        let lost = StackRecord(comm: "x", pid: 1, userStackID: -ENOMEM, kernelStackID: -EEXIST, user: [], kernel: [], value: 1)
        #expect(StackStyle().multiLine(lost) == [
            "    [Missed Kernel Stack]", "    [Missed User Stack]", "    -                x (1)", "        1", "",
        ])
        #expect(StackStyle(userOnly: true).context == "user" && StackStyle(kernelOnly: true).context == "kernel"
                && StackStyle().context == "user + kernel")
        let gets = StackStyle(userOnly: true).stackGets(ctx: "ctx")
        #expect(gets.kernel == "-1" && gets.user == "stack_traces.get_stackid(ctx, BPF_F_USER_STACK)")
    }

    @Test("sortedByValue: smallest first, equal values keep their order")
    func sorting() {
        let items: [(key: String, value: Int)] = [("a", 3), ("b", 1), ("c", 3), ("d", 2)]
        #expect(sortedByValue(items).map(\.key) == ["b", "d", "a", "c"])
    }

    func resolve(_ name: String) -> String? { name == "c" ? "/lib/libc.so.6" : name.hasPrefix("/") ? name : nil }

    @Test("probe patterns: func, lib:func, p::func, p:lib:func, t:cat:event, u:lib:probe, as the Python tools read them")
    func patterns() throws {
        let k = try ProbeSpec.parse("vfs_*", regex: false, resolve: resolve)
        #expect(k == ProbeSpec(kind: .function, library: "", pattern: "^vfs_.*$") && k.isKprobe && k.isKernelProbe)
        #expect(try ProbeSpec.parse("p::vfs_read", regex: false, resolve: resolve).isKprobe)
        let u = try ProbeSpec.parse("c:getpid", regex: false, resolve: resolve)
        #expect(u == ProbeSpec(kind: .function, library: "/lib/libc.so.6", pattern: "^getpid$") && u.isUprobe && !u.isKernelProbe)
        #expect(try ProbeSpec.parse("p:c:get*", regex: false, resolve: resolve).pattern == "^get.*$")
        #expect(try ProbeSpec.parse("/bin/x:main", regex: false, resolve: resolve).library == "/bin/x")
        let t = try ProbeSpec.parse("t:syscalls:sys_enter_getp*", regex: false, resolve: resolve)
        #expect(t == ProbeSpec(kind: .tracepoint, library: "", pattern: "^syscalls:sys_enter_getp.*$") && t.isKernelProbe)
        #expect(t.matches("syscalls:sys_enter_getppid") && !t.matches("syscalls:sys_exit_getppid") && !t.matches("raw_syscalls:sys_enter_getpid"))
        let usdt = try ProbeSpec.parse("u:c:setjmp", regex: false, resolve: resolve)
        #expect(usdt.kind == .usdt && usdt.library == "/lib/libc.so.6")
        // -r: the pattern is a regular expression, matched from the start of the name.
        let r = try ProbeSpec.parse("t:sched:sched_.*", regex: true, resolve: resolve)
        #expect(r.pattern == "sched:sched_.*" && r.matches("sched:sched_switch") && !r.matches("xsched:sched_switch"))
    }

    @Test("bad probe patterns are errors with the Python tools' messages")
    func badPatterns() {
        func message(_ text: String, regex: Bool = false) -> String {
            do { _ = try ProbeSpec.parse(text, regex: regex, resolve: resolve); return "parsed" } catch { return "\(error)" }
        }
        #expect(message("x:c:getpid") == "Type must be 'p', 't', or 'u', but got x")
        #expect(message("a:b:c:d") == "Too many ':'-separated components in pattern a:b:c:d")
        #expect(message("nosuchlib:func") == "unable to find library nosuchlib")
        #expect(message("u:nosuchlib:probe") == "unable to find library nosuchlib")
        #expect(message("t:sched:sched_(", regex: true).hasPrefix("invalid regular expression"))
    }
}
