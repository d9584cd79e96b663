/// Calls `body` with a C array of C strings (`const char *[]`) built from `strings`,
/// valid only for the duration of the call.
func withCStringArray<T>(_ strings: [String], _ body: (UnsafeMutablePointer<UnsafePointer<CChar>?>, Int32) throws -> T) rethrows -> T {
    let owned: [UnsafeMutablePointer<CChar>] = strings.map { s in
        let utf8 = Array(s.utf8CString)
        let p = UnsafeMutablePointer<CChar>.allocate(capacity: utf8.count)
        p.initialize(from: utf8, count: utf8.count)
        return p
    }
    defer { owned.forEach { $0.deallocate() } }
    let array = UnsafeMutablePointer<UnsafePointer<CChar>?>.allocate(capacity: max(owned.count, 1))
    defer { array.deallocate() }
    for (i, p) in owned.enumerated() { array[i] = UnsafePointer(p) }
    return try body(array, Int32(owned.count))
}

/// A Swift string from a C string that may be NULL.
func stringOrNil(_ p: UnsafePointer<CChar>?) -> String? {
    p.map { String(cString: $0) }
}
