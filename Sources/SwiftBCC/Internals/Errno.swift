import Glibc

/// `strerror(errno)` as a Swift string.
func errnoDescription(_ code: Int32) -> String {
    String(cString: strerror(code))
}

/// The symbolic name of common errno values (EPERM, ENOENT, ...), for error text.
func errnoName(_ code: Int32) -> String {
    switch code {
    case EPERM: return "EPERM"
    case ENOENT: return "ENOENT"
    case ESRCH: return "ESRCH"
    case EINTR: return "EINTR"
    case EIO: return "EIO"
    case E2BIG: return "E2BIG"
    case EBADF: return "EBADF"
    case EAGAIN: return "EAGAIN"
    case ENOMEM: return "ENOMEM"
    case EACCES: return "EACCES"
    case EFAULT: return "EFAULT"
    case EBUSY: return "EBUSY"
    case EEXIST: return "EEXIST"
    case ENODEV: return "ENODEV"
    case EINVAL: return "EINVAL"
    case ENOSPC: return "ENOSPC"
    case ENOSYS: return "ENOSYS"
    case EOPNOTSUPP: return "EOPNOTSUPP"
    case 524: return "ENOTSUPP"
    default: return "errno \(code)"
    }
}
