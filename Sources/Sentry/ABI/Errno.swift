import Glibc

/// A Linux errno value as the guest sees it. Handlers throw these; the
/// dispatcher turns them into `-errno` in rax.
public struct Errno: Error, RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public let rawValue: Int32
    public init(rawValue: Int32) { self.rawValue = rawValue }
    public init(_ raw: Int32) { self.rawValue = raw }

    /// The symbolic name strace prints (`ENOENT`).
    public var name: String {
        let i = Int(rawValue)
        if i > 0, i < Errno.names.count, !Errno.names[i].isEmpty { return Errno.names[i] }
        switch rawValue {
        case 512: return "ERESTARTSYS"
        case 513: return "ERESTARTNOINTR"
        case 514: return "ERESTARTNOHAND"
        case 516: return "ERESTART_RESTARTBLOCK"
        default: return "E?\(rawValue)"
        }
    }
    /// The message strace prints in parentheses.
    public var message: String {
        switch rawValue {
        case 512: return "To be restarted if SA_RESTART is set"
        case 513: return "To be restarted"
        case 514: return "To be restarted if no handler"
        case 516: return "Interrupted by signal"
        default: return String(cString: strerror(rawValue))
        }
    }
    public var description: String { "\(name) (\(message))" }

    /// Host call results in the `-errno` convention.
    @inline(__always)
    public static func check(_ r: Int) throws(Errno) -> Int {
        if r < 0 { throw Errno(Int32(-r)) }
        return r
    }
    /// Host libc calls returning -1 and setting errno.
    @inline(__always)
    public static func checkLibc(_ r: Int) throws(Errno) -> Int {
        if r < 0 { throw Errno(errno) }
        return r
    }

    /// Runs a closure through a rethrowing stdlib API (withUnsafeBytes and
    /// friends lose typed throws) and gets the Errno back out.
    @inline(__always)
    public static func typed<T>(_ body: () throws -> T) throws(Errno) -> T {
        do { return try body() } catch let e as Errno { throw e } catch { throw .EFAULT }
    }

    public static let EPERM = Errno(1), ENOENT = Errno(2), ESRCH = Errno(3), EINTR = Errno(4)
    public static let EIO = Errno(5), ENXIO = Errno(6), E2BIG = Errno(7), ENOEXEC = Errno(8)
    public static let EBADF = Errno(9), ECHILD = Errno(10), EAGAIN = Errno(11), ENOMEM = Errno(12)
    public static let EACCES = Errno(13), EFAULT = Errno(14), EBUSY = Errno(16), EEXIST = Errno(17)
    public static let EXDEV = Errno(18), ENODEV = Errno(19), ENOTDIR = Errno(20), EISDIR = Errno(21)
    public static let EINVAL = Errno(22), ENFILE = Errno(23), EMFILE = Errno(24), ENOTTY = Errno(25)
    public static let EFBIG = Errno(27), ENOSPC = Errno(28), ESPIPE = Errno(29), EROFS = Errno(30)
    public static let EPIPE = Errno(32), ERANGE = Errno(34), ENAMETOOLONG = Errno(36)
    public static let ENOSYS = Errno(38), ENOTEMPTY = Errno(39), ELOOP = Errno(40)
    public static let ENODATA = Errno(61), EOVERFLOW = Errno(75), EOPNOTSUPP = Errno(95)
    public static let ETXTBSY = Errno(26), EDEADLK = Errno(35), EBADFD = Errno(77), ELIBBAD = Errno(80), EUSERS = Errno(87), ENOTSOCK = Errno(88)
    public static let ETIMEDOUT = Errno(110)
    public static let ENOMSG = Errno(42), EIDRM = Errno(43)
    // Sockets.
    public static let EDOM = Errno(33), EDESTADDRREQ = Errno(89), EMSGSIZE = Errno(90), EPROTOTYPE = Errno(91)
    public static let ENOPROTOOPT = Errno(92), EPROTONOSUPPORT = Errno(93), ESOCKTNOSUPPORT = Errno(94)
    public static let EAFNOSUPPORT = Errno(97), EADDRINUSE = Errno(98), EADDRNOTAVAIL = Errno(99)
    public static let ENETUNREACH = Errno(101), ECONNABORTED = Errno(103), ECONNRESET = Errno(104), ENOBUFS = Errno(105), EISCONN = Errno(106), ENOTCONN = Errno(107), ETOOMANYREFS = Errno(109)
    public static let ECONNREFUSED = Errno(111), EINPROGRESS = Errno(115), EALREADY = Errno(114)
    public static let ENONET = Errno(64), EPROTO = Errno(71), EHOSTDOWN = Errno(112), EHOSTUNREACH = Errno(113)
    /// Kernel-internal: the syscall was cut short by a signal and is
    /// restarted or turned into EINTR when the signal is taken. Never reach
    /// the guest.
    public static let ERESTARTSYS = Errno(512), ERESTARTNOINTR = Errno(513), ERESTARTNOHAND = Errno(514)
    public static let ERESTART_RESTARTBLOCK = Errno(516)

    // Index = errno; the names Linux's uapi headers give them.
    static let names: [String] = [
        "", "EPERM", "ENOENT", "ESRCH", "EINTR", "EIO", "ENXIO", "E2BIG", "ENOEXEC", "EBADF",
        "ECHILD", "EAGAIN", "ENOMEM", "EACCES", "EFAULT", "ENOTBLK", "EBUSY", "EEXIST", "EXDEV",
        "ENODEV", "ENOTDIR", "EISDIR", "EINVAL", "ENFILE", "EMFILE", "ENOTTY", "ETXTBSY", "EFBIG",
        "ENOSPC", "ESPIPE", "EROFS", "EMLINK", "EPIPE", "EDOM", "ERANGE", "EDEADLK", "ENAMETOOLONG",
        "ENOLCK", "ENOSYS", "ENOTEMPTY", "ELOOP", "", "ENOMSG", "EIDRM", "ECHRNG", "EL2NSYNC",
        "EL3HLT", "EL3RST", "ELNRNG", "EUNATCH", "ENOCSI", "EL2HLT", "EBADE", "EBADR", "EXFULL",
        "ENOANO", "EBADRQC", "EBADSLT", "", "EBFONT", "ENOSTR", "ENODATA", "ETIME", "ENOSR",
        "ENONET", "ENOPKG", "EREMOTE", "ENOLINK", "EADV", "ESRMNT", "ECOMM", "EPROTO", "EMULTIHOP",
        "EDOTDOT", "EBADMSG", "EOVERFLOW", "ENOTUNIQ", "EBADFD", "EREMCHG", "ELIBACC", "ELIBBAD",
        "ELIBSCN", "ELIBMAX", "ELIBEXEC", "EILSEQ", "ERESTART", "ESTRPIPE", "EUSERS", "ENOTSOCK",
        "EDESTADDRREQ", "EMSGSIZE", "EPROTOTYPE", "ENOPROTOOPT", "EPROTONOSUPPORT",
        "ESOCKTNOSUPPORT", "EOPNOTSUPP", "EPFNOSUPPORT", "EAFNOSUPPORT", "EADDRINUSE",
        "EADDRNOTAVAIL", "ENETDOWN", "ENETUNREACH", "ENETRESET", "ECONNABORTED", "ECONNRESET",
        "ENOBUFS", "EISCONN", "ENOTCONN", "ESHUTDOWN", "ETOOMANYREFS", "ETIMEDOUT", "ECONNREFUSED",
        "EHOSTDOWN", "EHOSTUNREACH", "EALREADY", "EINPROGRESS", "ESTALE", "EUCLEAN", "ENOTNAM",
        "ENAVAIL", "EISNAM", "EREMOTEIO", "EDQUOT", "ENOMEDIUM", "EMEDIUMTYPE", "ECANCELED",
        "ENOKEY", "EKEYEXPIRED", "EKEYREVOKED", "EKEYREJECTED", "EOWNERDEAD", "ENOTRECOVERABLE",
        "ERFKILL", "EHWPOISON",
    ]
}
