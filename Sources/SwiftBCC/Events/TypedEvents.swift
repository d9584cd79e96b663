/// Reading an event's bytes, as a perf or ring buffer callback gets them, into a Swift value.
extension UnsafeRawBufferPointer {
    /// The event's bytes read as `T`, a Swift struct laid out like the C struct the program
    /// submits (fixed-size integers, tuples for arrays: `char comm[16]` is
    /// `(CChar, CChar, ...)` or use `InlineArray`). Checks that the event has at least
    /// `MemoryLayout<T>.size` bytes; reads unaligned (perf samples are only 4-byte aligned);
    /// copies only `T` itself and allocates nothing.
    ///
    /// Python: `ct.cast(data, ct.POINTER(Data)).contents`.
    @inlinable
    public func loadEvent<T: BitwiseCopyable>(as type: T.Type = T.self, fromByteOffset offset: Int = 0) throws -> T {
        guard offset >= 0, count - offset >= MemoryLayout<T>.size, let base = baseAddress else {
            throw BPFError.eventTooShort(type: "\(T.self)", expected: MemoryLayout<T>.size + Swift.max(offset, 0), got: count)
        }
        return base.loadUnaligned(fromByteOffset: offset, as: T.self)
    }

    /// The bytes of a C `char[]` field of `count` bytes at `offset`, up to its first NUL, as a
    /// String (invalid UTF-8 repaired). The part of the field past the end of the event (a
    /// truncated sample) reads as absent: empty when the field starts beyond it.
    /// - Throws: `.invalidArgument` for a negative offset or count.
    ///
    /// Python: `event.comm.decode("utf-8", "replace")`.
    public func cString(fromByteOffset offset: Int, count maxCount: Int) throws -> String {
        guard offset >= 0, maxCount >= 0 else {
            throw BPFError.invalidArgument("cString(fromByteOffset: \(offset), count: \(maxCount)): the offset and the "
                + "count of a char[] field cannot be negative; pass the field's offset and its array size.")
        }
        return cStringUnchecked(fromByteOffset: offset, count: maxCount)
    }

    func cStringUnchecked(fromByteOffset offset: Int, count maxCount: Int) -> String {
        guard offset < count, let base = baseAddress else { return "" }
        let n = Swift.min(maxCount, count - offset)
        let bytes = UnsafeRawBufferPointer(start: base + offset, count: n)
        let end = bytes.firstIndex(of: 0) ?? n
        return String(decoding: UnsafeRawBufferPointer(rebasing: bytes[..<end]), as: UTF8.self)
    }
}

/// A C `char[N]` field's bytes as a String, up to the first NUL. For tuples of `CChar`/`UInt8`
/// (how Swift imports and mirrors C char arrays): `cString(event.comm)`.
public func cString<T: BitwiseCopyable>(_ chars: T) -> String {
    withUnsafeBytes(of: chars) { $0.cStringUnchecked(fromByteOffset: 0, count: $0.count) }
}

extension Table {
    /// Decodes an event's bytes as `T`, like `data.loadEvent(as:)`, after checking once that
    /// `T`'s size matches the C struct libbcc recorded for this table.
    /// Python: `b["events"].event(data)` (with a Swift type instead of ctypes).
    public func event<T: BitwiseCopyable>(_ data: UnsafeRawBufferPointer, as type: T.Type) throws -> T {
        try checkEventType(T.self)
        return try data.loadEvent(as: T.self)
    }

    /// `openPerfBuffer` with each sample decoded as `T` (size checked against the program's
    /// struct once, here, then read in place with no allocation per event). Inlinable, so the
    /// per-event closure is specialized for `T` in the caller's module.
    /// Python: `open_perf_buffer(cb)` + `b["events"].event(data)` in the callback.
    @inlinable
    public func openPerfBuffer<T: BitwiseCopyable>(of type: T.Type, pageCount: Int = 8,
                                                   lostCallback: ((UInt64) throws -> Void)? = nil,
                                                   wakeupEvents: Int = 1,
                                                   callback: @escaping (Int, T) throws -> Void) throws {
        try requireKind(.perfEventArray, "PerfEventArray (BPF_PERF_OUTPUT)")
        try checkEventType(T.self)
        try openPerfBuffer(pageCount: pageCount, lostCallback: lostCallback, wakeupEvents: wakeupEvents) { cpu, data in
            try callback(cpu, try data.loadEvent(as: T.self))
        }
    }

    /// `openRingBuffer` with each sample decoded as `T` (size checked once, here).
    @inlinable
    public func openRingBuffer<T: BitwiseCopyable>(of type: T.Type, callback: @escaping (T) throws -> Void) throws {
        try requireKind(.ringBuf, "RingBuf (BPF_RINGBUF_OUTPUT)")
        try checkEventType(T.self)
        try openRingBuffer { data in try callback(try data.loadEvent(as: T.self)) }
    }
}
