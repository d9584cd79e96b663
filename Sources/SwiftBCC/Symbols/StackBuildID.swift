/// One frame of a `BPF_STACK_TRACE_BUILDID` stack (`struct bpf_stack_build_id`): the build id
/// of the file the instruction is in and its offset in that file. Python: the
/// `bpf_stack_build_id` objects `stack_traces.walk(stack_id)` yields for such a table.
public struct StackBuildIDFrame: Hashable, Sendable, CustomStringConvertible {
    /// `BPF_STACK_BUILD_ID_VALID` (1) for every frame ``Table/walkBuildID(_:)`` returns.
    public let status: Int32
    /// The 20-byte GNU build id of the executable or library.
    public let buildID: [UInt8]
    /// The offset of the instruction in that file.
    public let offset: UInt64

    /// A frame from its status, build id and offset (for tests and for frames read elsewhere).
    public init(status: Int32 = 1, buildID: [UInt8], offset: UInt64) {
        self.status = status
        self.buildID = buildID
        self.offset = offset
    }

    /// `<build id in hex>+0x<offset>`.
    public var description: String {
        buildID.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined() + "+0x" + String(offset, radix: 16)
    }
}

extension Table {
    /// The frames of stack `stackId` of a `BPF_STACK_TRACE_BUILDID` table, innermost first, up
    /// to the first frame the kernel could not give a build id for (`BPF_STACK_BUILD_ID_IP` or
    /// `_EMPTY`), as Python stops there. Symbolize them with ``BPF/sym(_:showModule:showOffset:)-type.method``
    /// after ``BPF/addModule(_:)``. A failed `get_stackid` or a missing id gives an empty array.
    /// Python: `stack_traces.walk(stack_id)` on a build-id table.
    public func walkBuildID<I: BinaryInteger>(_ stackId: I) throws -> [StackBuildIDFrame] {
        try require(kind == .stackTrace && flags & Self.stackBuildIDFlag != 0, "walkBuildID",
                    expected: "StackTrace with build ids (BPF_STACK_TRACE_BUILDID)")
        guard let id = Self.stackIndex(stackId), let raw = try lookup(rawKey: keyType.encode(id).bytes) else { return [] }
        var out: [StackBuildIDFrame] = []
        for i in 0..<Swift.min(Self.maxStackDepth, raw.count / 32) {
            let base = i * 32
            let status = TypedBytes.load(raw[base..<(base + 4)], as: Int32.self)
            guard status == 1 else { break }  // BPF_STACK_BUILD_ID_VALID
            out.append(StackBuildIDFrame(status: status, buildID: Array(raw[(base + 4)..<(base + 24)]),
                                         offset: TypedBytes.load(raw[(base + 24)..<(base + 32)], as: UInt64.self)))
        }
        return out
    }
}

extension BPF {
    /// The symbol of a build-id frame, from the modules ``addModule(_:)`` added (`[unknown]`
    /// for others). Python: `BPF.sym(frame, pid, show_module, show_offset)`; libbcc: `bcc_buildsymcache_resolve`.
    public static func sym(_ frame: StackBuildIDFrame, showModule: Bool = false, showOffset: Bool = false) -> String {
        sym(buildID: frame.buildID, offset: frame.offset, showModule: showModule, showOffset: showOffset)
    }

    /// Instance form of ``BPF/sym(_:showModule:showOffset:)-type.method``. Python: `b.sym(frame, pid)`.
    public func sym(_ frame: StackBuildIDFrame, showModule: Bool = false, showOffset: Bool = false) -> String {
        Self.sym(frame, showModule: showModule, showOffset: showOffset)
    }
}
