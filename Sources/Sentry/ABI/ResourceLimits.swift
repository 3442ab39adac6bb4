/// Resource numbers of getrlimit(2)/setrlimit(2)/prlimit64(2) (uapi
/// asm-generic/resource.h), defined once.
public enum ResourceLimit {
    public static let RLIMIT_CPU: Int32 = 0, RLIMIT_FSIZE: Int32 = 1, RLIMIT_DATA: Int32 = 2, RLIMIT_STACK: Int32 = 3
    public static let RLIMIT_CORE: Int32 = 4, RLIMIT_RSS: Int32 = 5, RLIMIT_NPROC: Int32 = 6, RLIMIT_NOFILE: Int32 = 7
    public static let RLIMIT_MEMLOCK: Int32 = 8, RLIMIT_AS: Int32 = 9, RLIMIT_LOCKS: Int32 = 10
    public static let RLIMIT_SIGPENDING: Int32 = 11, RLIMIT_MSGQUEUE: Int32 = 12, RLIMIT_NICE: Int32 = 13
    public static let RLIMIT_RTPRIO: Int32 = 14, RLIMIT_RTTIME: Int32 = 15
    /// RLIM_NLIMITS: resources are 0 ..< count.
    public static let count: Int32 = 16

    /// The names, indexed by resource number.
    public static let names = [
        "RLIMIT_CPU", "RLIMIT_FSIZE", "RLIMIT_DATA", "RLIMIT_STACK", "RLIMIT_CORE", "RLIMIT_RSS", "RLIMIT_NPROC",
        "RLIMIT_NOFILE", "RLIMIT_MEMLOCK", "RLIMIT_AS", "RLIMIT_LOCKS", "RLIMIT_SIGPENDING", "RLIMIT_MSGQUEUE",
        "RLIMIT_NICE", "RLIMIT_RTPRIO", "RLIMIT_RTTIME",
    ]
}
