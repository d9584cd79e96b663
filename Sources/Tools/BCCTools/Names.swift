import Glibc

/// Syscall numbers and names (x86_64), as Python's `bcc.syscall`.
public enum Syscalls {
    /// Number -> name for this machine: the committed x86_64 table.
    public static let names: [Int: String] = x86_64SyscallNames

    /// Name -> number.
    public static let numbers: [String: Int] = Dictionary(names.map { ($1, $0) }, uniquingKeysWith: { a, _ in a })

    /// The name of syscall `nr`, or `[unknown: nr]` as Python's `syscall_name` says it.
    public static func name(_ nr: Int) -> String { names[nr] ?? "[unknown: \(nr)]" }

    /// The number of syscall `name`, or nil.
    public static func number(_ name: String) -> Int? { numbers[name] }
}

/// errno names (EPERM, ENOENT, ...), as Python's `errno` module has them.
public enum ErrnoNames {
    /// Name -> number: every name of Python's `errno` module on Linux x86_64.
    public static let numbers: [String: Int] = [
        "EPERM": 1,
        "ENOENT": 2,
        "ESRCH": 3,
        "EINTR": 4,
        "EIO": 5,
        "ENXIO": 6,
        "E2BIG": 7,
        "ENOEXEC": 8,
        "EBADF": 9,
        "ECHILD": 10,
        "EAGAIN": 11,
        "EWOULDBLOCK": 11,
        "ENOMEM": 12,
        "EACCES": 13,
        "EFAULT": 14,
        "ENOTBLK": 15,
        "EBUSY": 16,
        "EEXIST": 17,
        "EXDEV": 18,
        "ENODEV": 19,
        "ENOTDIR": 20,
        "EISDIR": 21,
        "EINVAL": 22,
        "ENFILE": 23,
        "EMFILE": 24,
        "ENOTTY": 25,
        "ETXTBSY": 26,
        "EFBIG": 27,
        "ENOSPC": 28,
        "ESPIPE": 29,
        "EROFS": 30,
        "EMLINK": 31,
        "EPIPE": 32,
        "EDOM": 33,
        "ERANGE": 34,
        "EDEADLK": 35,
        "EDEADLOCK": 35,
        "ENAMETOOLONG": 36,
        "ENOLCK": 37,
        "ENOSYS": 38,
        "ENOTEMPTY": 39,
        "ELOOP": 40,
        "ENOMSG": 42,
        "EIDRM": 43,
        "ECHRNG": 44,
        "EL2NSYNC": 45,
        "EL3HLT": 46,
        "EL3RST": 47,
        "ELNRNG": 48,
        "EUNATCH": 49,
        "ENOCSI": 50,
        "EL2HLT": 51,
        "EBADE": 52,
        "EBADR": 53,
        "EXFULL": 54,
        "ENOANO": 55,
        "EBADRQC": 56,
        "EBADSLT": 57,
        "EBFONT": 59,
        "ENOSTR": 60,
        "ENODATA": 61,
        "ETIME": 62,
        "ENOSR": 63,
        "ENONET": 64,
        "ENOPKG": 65,
        "EREMOTE": 66,
        "ENOLINK": 67,
        "EADV": 68,
        "ESRMNT": 69,
        "ECOMM": 70,
        "EPROTO": 71,
        "EMULTIHOP": 72,
        "EDOTDOT": 73,
        "EBADMSG": 74,
        "EOVERFLOW": 75,
        "ENOTUNIQ": 76,
        "EBADFD": 77,
        "EREMCHG": 78,
        "ELIBACC": 79,
        "ELIBBAD": 80,
        "ELIBSCN": 81,
        "ELIBMAX": 82,
        "ELIBEXEC": 83,
        "EILSEQ": 84,
        "ERESTART": 85,
        "ESTRPIPE": 86,
        "EUSERS": 87,
        "ENOTSOCK": 88,
        "EDESTADDRREQ": 89,
        "EMSGSIZE": 90,
        "EPROTOTYPE": 91,
        "ENOPROTOOPT": 92,
        "EPROTONOSUPPORT": 93,
        "ESOCKTNOSUPPORT": 94,
        "ENOTSUP": 95,
        "EOPNOTSUPP": 95,
        "EPFNOSUPPORT": 96,
        "EAFNOSUPPORT": 97,
        "EADDRINUSE": 98,
        "EADDRNOTAVAIL": 99,
        "ENETDOWN": 100,
        "ENETUNREACH": 101,
        "ENETRESET": 102,
        "ECONNABORTED": 103,
        "ECONNRESET": 104,
        "ENOBUFS": 105,
        "EISCONN": 106,
        "ENOTCONN": 107,
        "ESHUTDOWN": 108,
        "ETOOMANYREFS": 109,
        "ETIMEDOUT": 110,
        "ECONNREFUSED": 111,
        "EHOSTDOWN": 112,
        "EHOSTUNREACH": 113,
        "EALREADY": 114,
        "EINPROGRESS": 115,
        "ESTALE": 116,
        "EUCLEAN": 117,
        "ENOTNAM": 118,
        "ENAVAIL": 119,
        "EISNAM": 120,
        "EREMOTEIO": 121,
        "EDQUOT": 122,
        "ENOMEDIUM": 123,
        "EMEDIUMTYPE": 124,
        "ECANCELED": 125,
        "ENOKEY": 126,
        "EKEYEXPIRED": 127,
        "EKEYREVOKED": 128,
        "EKEYREJECTED": 129,
        "EOWNERDEAD": 130,
        "ENOTRECOVERABLE": 131,
        "ERFKILL": 132,
    ]

    /// `-e` values: a number (its absolute value, as Python's `abs(int(...))`) or a name.
    public static func parse(_ text: String) -> Int? {
        if let n = Int(text) { return abs(n) }
        return numbers[text]
    }
}

/// Signal number -> name without `SIG`, exactly as exitsnoop's `SIGNUM_TO_SIGNAME` (built
/// from Python's `signal` module: names with digits, like SIGUSR1, are not in it).
public enum SignalNames {
    /// Signal numbers and their names.
    public static let names: [Int: String] = [
        1: "HUP", 2: "INT", 3: "QUIT", 4: "ILL", 5: "TRAP", 6: "ABRT", 7: "BUS", 8: "FPE", 9: "KILL",
        11: "SEGV", 13: "PIPE", 14: "ALRM", 15: "TERM", 16: "STKFLT", 17: "CHLD", 18: "CONT", 19: "STOP",
        20: "TSTP", 21: "TTIN", 22: "TTOU", 23: "URG", 24: "XCPU", 25: "XFSZ", 26: "VTALRM", 27: "PROF",
        28: "WINCH", 29: "POLL", 30: "PWR", 31: "SYS", 34: "RTMIN", 64: "RTMAX",
    ]

    /// The name of `signal`, `unknown` for a number Python's table lacks.
    public static func name(_ signal: Int) -> String { names[signal] ?? "unknown" }
}

/// open(2) flag names, with the values Python's `os.O_*` has on Linux x86_64 (opensnoop `-f`).
public enum OpenFlags {
    /// Flag names and their values.
    public static let values: [String: Int] = [
        "O_ACCMODE": 3, "O_APPEND": 1024, "O_ASYNC": 8192, "O_CLOEXEC": 524288, "O_CREAT": 64,
        "O_DIRECT": 16384, "O_DIRECTORY": 65536, "O_DSYNC": 4096, "O_EXCL": 128, "O_FSYNC": 1052672,
        "O_LARGEFILE": 0, "O_NDELAY": 2048, "O_NOATIME": 262144, "O_NOCTTY": 256, "O_NOFOLLOW": 131072,
        "O_NONBLOCK": 2048, "O_PATH": 2097152, "O_RDONLY": 0, "O_RDWR": 2, "O_RSYNC": 1052672,
        "O_SYNC": 1052672, "O_TMPFILE": 4259840, "O_TRUNC": 512, "O_WRONLY": 1,
    ]
}

/// A user name or numeric uid (execsnoop's `-u USER`), as Python's `parse_uid`.
public func parseUID(_ text: String) -> Int? {
    if let n = Int(text) { return n }
    guard let pw = getpwnam(text) else { return nil }
    return Int(pw.pointee.pw_uid)
}
