internal import CBCC
import Glibc

/// An `errno` value, as `BPFError` carries it: its symbolic name (`EPERM`) and its text
/// (`strerror`). Compare it with the constants below or with Glibc's (`error.errno == EPERM`
/// and `case .loadFailed(_, _, EPERM, _)` both work).
public struct Errno: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    /// The `errno` number.
    public let rawValue: Int32
    /// The errno whose number is `rawValue`.
    public init(rawValue: Int32) { self.rawValue = rawValue }
    /// The errno whose number is `rawValue`: `Errno(EPERM)`.
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
    /// `EPERM` (1): "Operation not permitted".
    public static let EPERM = Errno(Glibc.EPERM)
    /// `ENOENT` (2): "No such file or directory".
    public static let ENOENT = Errno(Glibc.ENOENT)
    /// `ESRCH` (3): "No such process".
    public static let ESRCH = Errno(Glibc.ESRCH)
    /// `EINTR` (4): "Interrupted system call".
    public static let EINTR = Errno(Glibc.EINTR)
    /// `E2BIG` (7): "Argument list too long".
    public static let E2BIG = Errno(Glibc.E2BIG)
    /// `EBADF` (9): "Bad file descriptor".
    public static let EBADF = Errno(Glibc.EBADF)
    /// `EAGAIN` (11): "Resource temporarily unavailable"; also `EWOULDBLOCK`.
    public static let EAGAIN = Errno(Glibc.EAGAIN)
    /// `ENOMEM` (12): "Cannot allocate memory".
    public static let ENOMEM = Errno(Glibc.ENOMEM)
    /// `EACCES` (13): "Permission denied".
    public static let EACCES = Errno(Glibc.EACCES)
    /// `EFAULT` (14): "Bad address".
    public static let EFAULT = Errno(Glibc.EFAULT)
    /// `EBUSY` (16): "Device or resource busy".
    public static let EBUSY = Errno(Glibc.EBUSY)
    /// `EEXIST` (17): "File exists".
    public static let EEXIST = Errno(Glibc.EEXIST)
    /// `ENODEV` (19): "No such device".
    public static let ENODEV = Errno(Glibc.ENODEV)
    /// `EINVAL` (22): "Invalid argument".
    public static let EINVAL = Errno(Glibc.EINVAL)
    /// `ENOSPC` (28): "No space left on device".
    public static let ENOSPC = Errno(Glibc.ENOSPC)
    /// `ENOSYS` (38): "Function not implemented".
    public static let ENOSYS = Errno(Glibc.ENOSYS)
    /// `EOPNOTSUPP` (95): "Operation not supported".
    public static let EOPNOTSUPP = Errno(Glibc.EOPNOTSUPP)
    /// `ERANGE` (34): "Numerical result out of range".
    public static let ERANGE = Errno(Glibc.ERANGE)
    /// `EBADMSG` (74): "Bad message".
    public static let EBADMSG = Errno(Glibc.EBADMSG)
    /// The kernel's internal "not supported" (524), which BPF syscalls leak to user space.
    public static let ENOTSUPP = Errno(524)

    /// EPERM or EACCES: the kernel refused for want of privileges (or a policy said no).
    public var isPermissionError: Bool { self == .EPERM || self == .EACCES }

    /// Whether the errno is the number `rhs`: `error.errno == EPERM`.
    public static func == (lhs: Errno, rhs: Int32) -> Bool { lhs.rawValue == rhs }
    /// Whether the number `lhs` is the errno: `EPERM == error.errno`.
    public static func == (lhs: Int32, rhs: Errno) -> Bool { lhs == rhs.rawValue }
    /// Whether the errno is not the number `rhs`.
    public static func != (lhs: Errno, rhs: Int32) -> Bool { lhs.rawValue != rhs }
    /// Lets a Glibc constant match in a pattern: `case .attachFailed(_, _, _, ENODEV, _, _)`.
    public static func ~= (pattern: Int32, value: Errno) -> Bool { pattern == value.rawValue }
}
