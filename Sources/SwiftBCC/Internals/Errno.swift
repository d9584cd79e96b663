internal import CBCC
import Glibc

/// An `errno` value, as `BPFError` carries it: its symbolic name (`EPERM`) and its text
/// (`strerror`). Compare it with the constants below or with Glibc's (`error.errno == EPERM`
/// and `case .loadFailed(_, _, EPERM, _)` both work).
public struct Errno: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public let rawValue: Int32
    public init(rawValue: Int32) { self.rawValue = rawValue }
    public init(_ rawValue: Int32) { self.rawValue = rawValue }

    /// The calling thread's `errno` now.
    public static var current: Errno { Errno(Glibc.errno) }

    /// The symbolic name, `EPERM`; `ENOTSUPP` for the kernel-internal 524 that BPF calls can
    /// return; `errno N` for a value glibc has no name for.
    public var name: String {
        if let p = swiftbcc_errno_name(rawValue) { return String(cString: p) }
        return rawValue == 524 ? "ENOTSUPP" : "errno \(rawValue)"
    }

    /// `strerror(errno)`: "Operation not permitted".
    public var text: String {
        rawValue == 524 ? "Operation not supported (ENOTSUPP)" : String(cString: strerror(rawValue))
    }

    /// `text (NAME)`, as the errors print it.
    public var description: String { "\(text) (\(name))" }

    /// Success (no errno).
    public static let none = Errno(0)
    public static let EPERM = Errno(Glibc.EPERM)
    public static let ENOENT = Errno(Glibc.ENOENT)
    public static let ESRCH = Errno(Glibc.ESRCH)
    public static let EINTR = Errno(Glibc.EINTR)
    public static let E2BIG = Errno(Glibc.E2BIG)
    public static let EBADF = Errno(Glibc.EBADF)
    public static let EAGAIN = Errno(Glibc.EAGAIN)
    public static let ENOMEM = Errno(Glibc.ENOMEM)
    public static let EACCES = Errno(Glibc.EACCES)
    public static let EFAULT = Errno(Glibc.EFAULT)
    public static let EBUSY = Errno(Glibc.EBUSY)
    public static let EEXIST = Errno(Glibc.EEXIST)
    public static let ENODEV = Errno(Glibc.ENODEV)
    public static let EINVAL = Errno(Glibc.EINVAL)
    public static let ENOSPC = Errno(Glibc.ENOSPC)
    public static let ENOSYS = Errno(Glibc.ENOSYS)
    public static let EOPNOTSUPP = Errno(Glibc.EOPNOTSUPP)
    public static let ERANGE = Errno(Glibc.ERANGE)
    public static let EBADMSG = Errno(Glibc.EBADMSG)
    /// The kernel's internal "not supported" (524), which BPF syscalls leak to user space.
    public static let ENOTSUPP = Errno(524)

    /// EPERM or EACCES: the kernel refused for want of privileges (or a policy said no).
    public var isPermissionError: Bool { self == .EPERM || self == .EACCES }

    public static func == (lhs: Errno, rhs: Int32) -> Bool { lhs.rawValue == rhs }
    public static func == (lhs: Int32, rhs: Errno) -> Bool { lhs == rhs.rawValue }
    public static func != (lhs: Errno, rhs: Int32) -> Bool { lhs.rawValue != rhs }
    /// Lets a Glibc constant match in a pattern: `case .attachFailed(_, _, _, ENODEV, _, _)`.
    public static func ~= (pattern: Int32, value: Errno) -> Bool { pattern == value.rawValue }
}
