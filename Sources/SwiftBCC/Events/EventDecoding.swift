internal import CBCC

extension Table {
    /// libbcc's `name#type` strings for the struct the program submits through this perf or
    /// ring buffer table (e.g. `["pid#u32", "comm#char[16]"]`); empty when it submits no struct.
    /// libbcc: `bpf_perf_event_fields`, `bpf_perf_event_field`.
    public func eventFieldList() throws -> [String] {
        let bpf = try liveBPF()
        return try bpf.withModule { $0.eventFields(name) }
    }

    /// The C struct the program submits through this table (`perf_submit`, `ringbuf_output`,
    /// `ringbuf_reserve`), laid out with C's rules from libbcc's field list, or nil when the
    /// program submits no struct through it. The struct is named after the table. Cached.
    /// - Throws: `.unsupportedEventField` for a field whose type cannot be sized from its name
    ///   (a nested struct, an unknown typedef): decode such events with `loadEvent(as:)`.
    ///
    /// Python: `bcc.table._get_event_class` (the ctypes class behind `b["events"].event(data)`).
    public func eventType() throws -> TypeDescription? {
        let bpf = try liveBPF()
        if let cached = bpf.eventReaders.cachedEventType(name) { return cached }
        let list = try eventFieldList()
        if list.isEmpty { return nil }
        var members: [TypeDescription.Member] = []
        for entry in list {
            guard let hash = entry.firstIndex(of: "#") else {
                throw BPFError.unsupportedEventField(table: name, field: entry, type: "")
            }
            let field = String(entry[..<hash])
            let cType = String(entry[entry.index(after: hash)...])
            members.append(TypeDescription.Member(field, try Self.eventFieldType(cType, table: name, field: field)))
        }
        let type = TypeDescription.structure(name: name, members: members)
        bpf.eventReaders.cacheEventType(type, for: name)
        return type
    }

    /// A field's type from its C spelling (libbcc leaves typedefs such as `uid_t` and `u64`
    /// unresolved; `CScalar(cName:)` knows them).
    static func eventFieldType(_ cType: String, table: String, field: String) throws -> TypeDescription {
        do {
            return try TypeDescription(cType: cType)
        } catch {
            throw BPFError.unsupportedEventField(table: table, field: field, type: cType)
        }
    }

    /// Checks a Swift type against the C struct the program submits, when its layout is known
    /// (not when the program submits no struct, or one with fields that cannot be sized).
    @usableFromInline
    func checkEventType<T>(_ type: T.Type) throws {
        let known: TypeDescription?
        do { known = try eventType() } catch BPFError.unsupportedEventField { return }
        guard let layout = known else { return }
        let size = MemoryLayout<T>.size, stride = MemoryLayout<T>.stride
        guard size == layout.size || stride == layout.size else {
            throw BPFError.sizeMismatch(table: name, what: "event type \(T.self)", expected: layout.size, got: stride,
                                        layout: layout.layout)
        }
    }

    /// The event's fields by name, decoded from its bytes as the program's struct: prints as
    /// `events(pid=42, comm=b'bash')`; `e["pid"]?.uint`, `e["comm"]?.string`.
    ///
    /// ```swift
    /// try b["events"].openPerfBuffer { cpu, data in
    ///     let event = try b["events"].event(data)
    ///     print(event["pid"]!, event["comm"]!.string!)
    /// }
    /// ```
    /// This copies the bytes and is for convenience; `loadEvent(as:)` is the zero-copy path.
    /// - Throws: `.invalidArgument` when libbcc recorded no struct for this table.
    ///
    /// Python: `b["events"].event(data)`.
    public func event(_ data: UnsafeRawBufferPointer) throws -> DynamicValue {
        guard let type = try eventType() else {
            throw BPFError.invalidArgument("libbcc recorded no event struct for table \(name): the program submits no "
                + "struct through it; read the bytes with data.loadEvent(as:) instead.")
        }
        return type.decode(data)
    }

    /// The event decoded into a `Decodable` Swift type by field name (`String` for `char[]`,
    /// any integer type that holds the value, arrays for C arrays), via `event(_:)`.
    /// - Throws: `.decodingFailed` naming the field that did not match.
    public func event<T: Decodable>(_ data: UnsafeRawBufferPointer, decoding type: T.Type) throws -> T {
        try event(data).decode(T.self)
    }

    /// The events of this table decoded into a `Decodable` type by field name (see
    /// `event(_:decoding:)` and `events(as:)`); `events(decoding: DynamicValue.self)` gives
    /// the dynamic records.
    public func events<T: Decodable & Sendable>(decoding type: T.Type, pageCount: Int = 8,
                                               bufferLimit: Int = 4096) -> AsyncThrowingStream<BufferEvent<T>, any Error> {
        let eventType: TypeDescription
        do {
            guard let t = try self.eventType() else {
                throw BPFError.invalidArgument("libbcc recorded no event struct for table \(name): the program "
                    + "submits no struct through it; use events() or events(as:) instead.")
            }
            eventType = t
        } catch {
            let (stream, continuation) = AsyncThrowingStream.makeStream(of: BufferEvent<T>.self, throwing: (any Error).self)
            continuation.finish(throwing: error)
            return stream
        }
        return makeEventStream(pageCount: pageCount, bufferLimit: bufferLimit, checkType: { _ in }) { data in
            try eventType.decode(data).decode(T.self)
        }
    }
}
