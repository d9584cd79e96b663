internal import CBCC
import Glibc

/// Something a `BPF` attached in the kernel: a perf event fd and its tracefs event, a BPF
/// link, a netlink XDP registration, a socket. Each attach family has one type of its own
/// (in its file under Attach/) that owns what it opened and knows how to undo it, as
/// cilium/ebpf's `link.Link` and aya's links do.
///
/// `detach()` is called exactly once, by `BPF`'s detach functions or by `cleanup()`, with the
/// `BPF`'s state locked; it must not call back into the `BPF`.
protocol Attachment: Sendable {
    /// The family, which keys the `AttachmentStore` together with `key`.
    static var family: AttachmentFamily { get }
    /// Unique within the family: the tracepoint, the libbcc event name, the device, ...
    var key: String { get }
    /// Closes the fds and removes the kernel objects this attachment owns.
    func detach()
}

/// The attach families, each one `Attachment` type.
enum AttachmentFamily: Hashable, Sendable, CaseIterable {
    case kprobe, tracepoint, rawTracepoint, uprobe, perfEvent, xdp, rawSocket, trampoline
}

/// Every attachment of one `BPF`, in attach order: one store for all families. Inserting a
/// key twice is `.alreadyAttached`, removing a missing one `.notAttached`, and `removeAll()`
/// hands them back newest first, the order `cleanup()` detaches in (aya's `Links<T>`).
struct AttachmentStore {
    private struct Key: Hashable {
        let family: AttachmentFamily
        let key: String
    }
    private struct Entry {
        let order: Int
        var attachment: any Attachment
    }
    private var entries: [Key: Entry] = [:]
    private var nextOrder = 0

    /// The attachment of type `A` with `key`, if any.
    func get<A: Attachment>(_ type: A.Type, _ key: String) -> A? {
        entries[Key(family: A.family, key: key)]?.attachment as? A
    }

    func contains<A: Attachment>(_ type: A.Type, _ key: String) -> Bool {
        entries[Key(family: A.family, key: key)] != nil
    }

    /// Throws `.alreadyAttached(kind:target:)` when `A` has an attachment with `key`.
    func ensureAbsent<A: Attachment>(_ type: A.Type, _ key: String, kind: String, target: String) throws {
        if contains(type, key) { throw BPFError.alreadyAttached(kind: kind, target: target) }
    }

    /// Adds `attachment`, or replaces the one with its key (keeping its place in the order:
    /// a kprobe event that gains a second function).
    mutating func put<A: Attachment>(_ attachment: A) {
        let k = Key(family: A.family, key: attachment.key)
        if let old = entries[k] {
            entries[k] = Entry(order: old.order, attachment: attachment)
        } else {
            entries[k] = Entry(order: nextOrder, attachment: attachment)
            nextOrder += 1
        }
    }

    /// Removes and returns the attachment with `key`; `.notAttached(kind:target:)` when none.
    mutating func remove<A: Attachment>(_ type: A.Type, _ key: String, kind: String, target: String) throws -> A {
        guard let entry = entries.removeValue(forKey: Key(family: A.family, key: key)),
              let a = entry.attachment as? A else {
            throw BPFError.notAttached(kind: kind, target: target)
        }
        return a
    }

    /// Every attachment of type `A`, oldest first.
    func all<A: Attachment>(_ type: A.Type) -> [A] {
        entries.values.filter { Swift.type(of: $0.attachment).family == A.family }
            .sorted { $0.order < $1.order }.compactMap { $0.attachment as? A }
    }

    /// How many attachments `family` has: what every `numOpen*` count reads.
    func count(_ family: AttachmentFamily) -> Int {
        entries.keys.reduce(0) { $0 + ($1.family == family ? 1 : 0) }
    }

    var isEmpty: Bool { entries.isEmpty }

    /// Removes everything and returns it newest first.
    mutating func removeAll() -> [any Attachment] {
        let all = entries.values.sorted { $0.order > $1.order }.map(\.attachment)
        entries.removeAll()
        return all
    }
}

/// A perf event fd (kprobe, uprobe, tracepoint or perf event) closed through libbcc, which
/// also disables it. The fd-owning part every perf-based family shares.
struct PerfEventFD: Sendable, Hashable {
    let fd: Int32
    func close() { _ = bpf_close_perf_event_fd(fd) }
}
