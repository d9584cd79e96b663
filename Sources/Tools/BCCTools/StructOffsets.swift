import SwiftBCC

/// Byte offsets of kernel struct members as C `#define`s for a BPF program, taken from the running
/// kernel's BTF (``KernelBTF``) and, where there is no BTF or it lacks the member, `offsetof` from
/// the headers libbcc compiles against.
///
/// ``KernelFields`` has a fixed set of task fields; this is the same idea for any member a tool
/// needs (a block `request`'s disk, `task_struct.__state`), so a tool reads them right even when
/// the headers are another kernel's (6.1 headers on the 6.18 development host).
public enum StructOffsets {
    /// A member a program reads: the macro to define, the struct, the member path (dots for
    /// nested members, e.g. `"ns.inum"`).
    public struct Member: Sendable {
        /// The C macro the program uses for the offset (``StructOffsets/defines(_:useBTF:)`` defines it).
        public let macro: String
        /// The struct, without `struct` (e.g. `request`).
        public let structName: String
        /// The member path, dots between nested members.
        public let path: String

        /// A member to look up, e.g. `Member("STATE_OFF", "task_struct", "__state")`.
        public init(_ macro: String, _ structName: String, _ path: String) {
            self.macro = macro
            self.structName = structName
            self.path = path
        }
    }

    /// The offset and size of `path` in `struct <structName>` from BTF; nil without BTF or member.
    public static func btf(_ structName: String, _ path: String) -> KernelBTF.Member? {
        KernelBTF.vmlinux?.memberOffset(structName, path)
    }

    /// Whether the running kernel's `struct <structName>` has `member`: from BTF where the kernel
    /// has it, else from the headers (Python: `BPF.kernel_struct_has_field`).
    public static func has(_ structName: String, _ member: String) -> Bool {
        if let btf = KernelBTF.vmlinux, btf.hasStruct(structName) {
            return btf.memberOffset(structName, member) != nil
        }
        return BPF.kernelStructHasField(structName, member)
    }

    /// `#define <macro> (<offset>)` for each member, guarded so two helpers may define the same one.
    public static func defines(_ members: [Member], useBTF: Bool = true) -> String {
        var text = ""
        for m in members {
            let value = (useBTF ? btf(m.structName, m.path) : nil).map { String($0.offset) }
                ?? "offsetof(struct \(m.structName), \(m.path))"
            text += "#ifndef \(m.macro)\n#define \(m.macro) (\(value))\n#endif\n"
        }
        return text
    }
}
