import CSwitch
/// Symbolic names for flag and enum arguments, in strace's spelling.
enum Decode {
    /// `A|B|0x40` for the set bits of `value`, `zero` if none.
    static func flags(_ value: UInt64, _ table: [(UInt64, String)], zero: String = "0") -> String {
        var rest = value
        var parts: [String] = []
        for (bit, name) in table where bit != 0 && rest & bit == bit {
            parts.append(name)
            rest &= ~bit
        }
        if rest != 0 { parts.append("0x" + String(rest, radix: 16)) }
        return parts.isEmpty ? zero : parts.joined(separator: "|")
    }

    static let addressFamilies: [UInt64: String] = [0: "AF_UNSPEC", 1: "AF_UNIX", 2: "AF_INET", 10: "AF_INET6",
                                                   16: "AF_NETLINK", 17: "AF_PACKET"]
    static let socketTypes: [UInt64: String] = [1: "SOCK_STREAM", 2: "SOCK_DGRAM", 3: "SOCK_RAW", 4: "SOCK_RDM",
                                               5: "SOCK_SEQPACKET", 10: "SOCK_PACKET"]
    static let socketFlags: [(UInt64, String)] = [(0o2000000, "SOCK_CLOEXEC"), (0o4000, "SOCK_NONBLOCK")]
    static let ipProtocols: [UInt64: String] = [0: "IPPROTO_IP", 6: "IPPROTO_TCP", 17: "IPPROTO_UDP", 1: "IPPROTO_ICMP"]
    static let msgFlags: [(UInt64, String)] = [
        (0x1, "MSG_OOB"), (0x2, "MSG_PEEK"), (0x4, "MSG_DONTROUTE"), (0x8, "MSG_CTRUNC"), (0x20, "MSG_TRUNC"),
        (0x40, "MSG_DONTWAIT"), (0x80, "MSG_EOR"), (0x100, "MSG_WAITALL"), (0x4000, "MSG_NOSIGNAL"),
        (0x8000, "MSG_MORE"), (0x4000_0000, "MSG_CMSG_CLOEXEC"),
    ]
    static let sockoptLevels: [UInt64: String] = [1: "SOL_SOCKET", 0: "SOL_IP", 6: "SOL_TCP", 17: "SOL_UDP", 41: "SOL_IPV6"]
    static let socketOptions: [UInt64: String] = [
        1: "SO_DEBUG", 2: "SO_REUSEADDR", 3: "SO_TYPE", 4: "SO_ERROR", 5: "SO_DONTROUTE", 6: "SO_BROADCAST",
        7: "SO_SNDBUF", 8: "SO_RCVBUF", 9: "SO_KEEPALIVE", 10: "SO_OOBINLINE", 13: "SO_LINGER", 15: "SO_REUSEPORT",
        16: "SO_PASSCRED", 17: "SO_PEERCRED", 18: "SO_RCVLOWAT", 19: "SO_SNDLOWAT", 20: "SO_RCVTIMEO_OLD",
        21: "SO_SNDTIMEO_OLD", 30: "SO_ACCEPTCONN", 38: "SO_PROTOCOL", 39: "SO_DOMAIN",
    ]
    static let tcpOptions: [UInt64: String] = [1: "TCP_NODELAY", 2: "TCP_MAXSEG", 4: "TCP_KEEPIDLE", 5: "TCP_KEEPINTVL",
                                              6: "TCP_KEEPCNT", 11: "TCP_INFO"]

    static func named(_ value: UInt64, _ table: [UInt64: String]) -> String {
        table[value] ?? (Int64(bitPattern: value) < 0 ? String(Int64(bitPattern: value)) : "0x" + String(value, radix: 16))
    }

    static func openFlags(_ v: UInt64) -> String {
        let acc = ["O_RDONLY", "O_WRONLY", "O_RDWR", "O_ACCMODE"][Int(v & 3)]
        let rest = flags(v & ~3, [
            (0o100, "O_CREAT"), (0o200, "O_EXCL"), (0o400, "O_NOCTTY"), (0o1000, "O_TRUNC"), (0o2000, "O_APPEND"),
            (0o4000, "O_NONBLOCK"), (0o4010000, "O_SYNC"), (0o10000, "O_DSYNC"), (0o20000, "O_ASYNC"),
            (0o40000, "O_DIRECT"), (0o100000, "O_LARGEFILE"), (0o20200000, "O_TMPFILE"), (0o200000, "O_DIRECTORY"),
            (0o400000, "O_NOFOLLOW"), (0o1000000, "O_NOATIME"), (0o2000000, "O_CLOEXEC"), (0o10000000, "SW_O_PATH"),
        ], zero: "")
        return rest.isEmpty ? acc : acc + "|" + rest
    }

    static func prot(_ v: UInt64) -> String {
        flags(v, [(1, "PROT_READ"), (2, "PROT_WRITE"), (4, "PROT_EXEC"), (0x1000000, "PROT_GROWSDOWN"), (0x2000000, "PROT_GROWSUP")],
              zero: "PROT_NONE")
    }

    static func mapFlags(_ v: UInt64) -> String {
        let type = ["0", "MAP_SHARED", "MAP_PRIVATE", "MAP_SHARED_VALIDATE"][Int(v & 3)]
        let rest = flags(v & ~3, [
            (0x10, "MAP_FIXED"), (0x20, "MAP_ANONYMOUS"), (0x40, "MAP_32BIT"), (0x100, "MAP_GROWSDOWN"),
            (0x800, "MAP_DENYWRITE"), (0x1000, "MAP_EXECUTABLE"), (0x2000, "MAP_LOCKED"), (0x4000, "MAP_NORESERVE"),
            (0x8000, "MAP_POPULATE"), (0x10000, "MAP_NONBLOCK"), (0x20000, "MAP_STACK"), (0x40000, "MAP_HUGETLB"),
            (0x80000, "MAP_SYNC"), (0x100000, "MAP_FIXED_NOREPLACE"),
        ], zero: "")
        return rest.isEmpty ? type : type + "|" + rest
    }

    static func mode(_ v: UInt64) -> String {
        let s = String(v & 0o7777, radix: 8)
        return "0" + String(repeating: "0", count: max(0, 3 - s.count)) + s
    }

    static func fileMode(_ m: UInt32) -> String {
        let types: [UInt32: String] = [0o140000: "S_IFSOCK", 0o120000: "S_IFLNK", 0o100000: "S_IFREG", 0o60000: "S_IFBLK",
                                       0o40000: "S_IFDIR", 0o20000: "S_IFCHR", 0o10000: "S_IFIFO"]
        let t = types[m & 0o170000] ?? "0"
        var perm = mode(UInt64(m))
        if m & 0o7000 != 0 {
            perm = flags(UInt64(m & 0o7000), [(0o4000, "S_ISUID"), (0o2000, "S_ISGID"), (0o1000, "S_ISVTX")]) + "|" + mode(UInt64(m & 0o777))
        }
        return t + "|" + perm
    }

    static let whence: [UInt64: String] = [0: "SEEK_SET", 1: "SEEK_CUR", 2: "SEEK_END", 3: "SEEK_DATA", 4: "SEEK_HOLE"]
    static let atFlags: [(UInt64, String)] = [(0x100, "AT_SYMLINK_NOFOLLOW"), (0x200, "AT_EACCESS"), (0x400, "AT_SYMLINK_FOLLOW"),
                                              (0x800, "AT_NO_AUTOMOUNT"), (0x1000, "AT_EMPTY_PATH"),
                                              (0x2000, "AT_STATX_FORCE_SYNC"), (0x4000, "AT_STATX_DONT_SYNC")]
    static let fcntl: [UInt64: String] = [0: "F_DUPFD", 1: "F_GETFD", 2: "F_SETFD", 3: "F_GETFL", 4: "F_SETFL", 5: "F_GETLK",
                                          6: "F_SETLK", 7: "F_SETLKW", 8: "F_SETOWN", 9: "F_GETOWN", 10: "F_SETSIG",
                                          11: "F_GETSIG", 1024: "F_SETLEASE", 1025: "F_GETLEASE", 1030: "F_DUPFD_CLOEXEC",
                                          1031: "F_SETPIPE_SZ", 1032: "F_GETPIPE_SZ", 1033: "F_ADD_SEALS", 1034: "F_GET_SEALS",
                                          36: "F_OFD_GETLK", 37: "F_OFD_SETLK", 38: "F_OFD_SETLKW"]
    static let ioctl: [UInt64: String] = [0x5401: "TCGETS", 0x5402: "TCSETS", 0x5403: "TCSETSW", 0x5404: "TCSETSF",
                                          0x540f: "TIOCGPGRP", 0x5410: "TIOCSPGRP", 0x5413: "TIOCGWINSZ",
                                          0x5414: "TIOCSWINSZ", 0x541b: "FIONREAD", 0x5421: "FIONBIO", 0x5450: "FIONCLEX",
                                          0x5451: "FIOCLEX", 0x5452: "FIOASYNC"]
    static let clocks: [UInt64: String] = [0: "CLOCK_REALTIME", 1: "CLOCK_MONOTONIC", 2: "CLOCK_PROCESS_CPUTIME_ID",
                                           3: "CLOCK_THREAD_CPUTIME_ID", 4: "CLOCK_MONOTONIC_RAW", 5: "CLOCK_REALTIME_COARSE",
                                           6: "CLOCK_MONOTONIC_COARSE", 7: "CLOCK_BOOTTIME", 8: "CLOCK_REALTIME_ALARM",
                                           9: "CLOCK_BOOTTIME_ALARM", 11: "CLOCK_TAI"]
    static let sigprocmaskHow: [UInt64: String] = [0: "SIG_BLOCK", 1: "SIG_UNBLOCK", 2: "SIG_SETMASK"]
    static let archPrctl: [UInt64: String] = [0x1001: "ARCH_SET_GS", 0x1002: "ARCH_SET_FS", 0x1003: "ARCH_GET_FS",
                                              0x1004: "ARCH_GET_GS", 0x1011: "ARCH_GET_CPUID", 0x1012: "ARCH_SET_CPUID",
                                              0x1021: "ARCH_GET_XCOMP_SUPP", 0x1022: "ARCH_GET_XCOMP_PERM",
                                              0x1023: "ARCH_REQ_XCOMP_PERM", 0x1024: "ARCH_GET_XCOMP_GUEST_PERM",
                                              0x1025: "ARCH_REQ_XCOMP_GUEST_PERM"]
    static let rlimits: [UInt64: String] = [0: "RLIMIT_CPU", 1: "RLIMIT_FSIZE", 2: "RLIMIT_DATA", 3: "RLIMIT_STACK",
                                            4: "RLIMIT_CORE", 5: "RLIMIT_RSS", 6: "RLIMIT_NPROC", 7: "RLIMIT_NOFILE",
                                            8: "RLIMIT_MEMLOCK", 9: "RLIMIT_AS", 10: "RLIMIT_LOCKS", 11: "RLIMIT_SIGPENDING",
                                            12: "RLIMIT_MSGQUEUE", 13: "RLIMIT_NICE", 14: "RLIMIT_RTPRIO", 15: "RLIMIT_RTTIME"]
    static let madvise: [UInt64: String] = [0: "MADV_NORMAL", 1: "MADV_RANDOM", 2: "MADV_SEQUENTIAL", 3: "MADV_WILLNEED",
                                            4: "MADV_DONTNEED", 8: "MADV_FREE", 9: "MADV_REMOVE", 10: "MADV_DONTFORK",
                                            11: "MADV_DOFORK", 12: "MADV_MERGEABLE", 13: "MADV_UNMERGEABLE",
                                            14: "MADV_HUGEPAGE", 15: "MADV_NOHUGEPAGE", 16: "MADV_DONTDUMP",
                                            17: "MADV_DODUMP", 18: "MADV_WIPEONFORK", 19: "MADV_KEEPONFORK",
                                            20: "MADV_COLD", 21: "MADV_PAGEOUT"]
    static let saFlags: [(UInt64, String)] = [(0x04000000, "SA_RESTORER"), (0x08000000, "SA_ONSTACK"), (0x10000000, "SA_RESTART"),
                                              (0x40000000, "SA_NODEFER"), (0x80000000, "SA_RESETHAND"), (4, "SA_SIGINFO"),
                                              (1, "SA_NOCLDSTOP"), (2, "SA_NOCLDWAIT")]

    /// `[INT TERM]`, or `~[...]` when more than half the signals are set.
    static func sigset(_ v: UInt64) -> String {
        func names(_ bits: UInt64) -> String {
            (1...64).filter { bits & (1 << UInt64($0 - 1)) != 0 }.map { n -> String in
                let name = Signal(Int32(n)).name
                if n >= 34 { return n == 34 ? "RTMIN" : "RT_\(n - 34)" }
                return name.hasPrefix("SIG") ? String(name.dropFirst(3)) : name
            }.joined(separator: " ")
        }
        if v.nonzeroBitCount > 32 { return "~[" + names(~v) + "]" }
        return "[" + names(v) + "]"
    }

    /// strace's string escaping: C escapes, octal for the rest.
    static func quote(_ bytes: ArraySlice<UInt8>, truncated: Bool) -> String {
        var s = "\""
        let arr = Array(bytes)
        for (i, b) in arr.enumerated() {
            switch b {
            case 0x22: s += "\\\""
            case 0x5c: s += "\\\\"
            case 0x09: s += "\\t"
            case 0x0a: s += "\\n"
            case 0x0b: s += "\\v"
            case 0x0c: s += "\\f"
            case 0x0d: s += "\\r"
            case 0x20...0x7e: s.unicodeScalars.append(Unicode.Scalar(b))
            default:
                let nextIsOctalDigit = i + 1 < arr.count && arr[i + 1] >= 0x30 && arr[i + 1] <= 0x37
                let o = String(b, radix: 8)
                s += "\\" + (nextIsOctalDigit ? String(repeating: "0", count: 3 - o.count) + o : o)
            }
        }
        return s + "\"" + (truncated ? "..." : "")
    }

    static func rlim(_ v: UInt64) -> String {
        if v == UInt64.max { return "RLIM64_INFINITY" }
        if v > 0 && v % 1024 == 0 { return "\(v / 1024)*1024" }
        return String(v)
    }

    static let cloneFlags: [(UInt64, String)] = [
        (0x100, "CLONE_VM"), (0x200, "CLONE_FS"), (0x400, "CLONE_FILES"), (0x800, "CLONE_SIGHAND"),
        (0x1000, "CLONE_PIDFD"), (0x2000, "CLONE_PTRACE"), (0x4000, "CLONE_VFORK"), (0x8000, "CLONE_PARENT"),
        (0x10000, "CLONE_THREAD"), (0x20000, "CLONE_NEWNS"), (0x40000, "CLONE_SYSVSEM"), (0x80000, "CLONE_SETTLS"),
        (0x100000, "CLONE_PARENT_SETTID"), (0x200000, "CLONE_CHILD_CLEARTID"), (0x400000, "CLONE_DETACHED"),
        (0x800000, "CLONE_UNTRACED"), (0x1000000, "CLONE_CHILD_SETTID"), (0x80000000, "CLONE_IO"),
    ]
    static let waitOptions: [(UInt64, String)] = [
        (1, "WNOHANG"), (2, "WSTOPPED"), (4, "WEXITED"), (8, "WCONTINUED"), (0x1000000, "WNOWAIT"),
        (0x20000000, "__WNOTHREAD"), (0x40000000, "__WALL"), (0x80000000, "__WCLONE"),
    ]
    static let futexOps: [UInt64: String] = [
        0: "FUTEX_WAIT", 1: "FUTEX_WAKE", 2: "FUTEX_FD", 3: "FUTEX_REQUEUE", 4: "FUTEX_CMP_REQUEUE",
        5: "FUTEX_WAKE_OP", 6: "FUTEX_LOCK_PI", 7: "FUTEX_UNLOCK_PI", 8: "FUTEX_TRYLOCK_PI",
        9: "FUTEX_WAIT_BITSET", 10: "FUTEX_WAKE_BITSET",
    ]
    static let pollEvents: [(UInt64, String)] = [
        (1, "POLLIN"), (2, "POLLPRI"), (4, "POLLOUT"), (8, "POLLERR"), (16, "POLLHUP"), (32, "POLLNVAL"),
        (64, "POLLRDNORM"), (128, "POLLRDBAND"), (256, "POLLWRNORM"), (512, "POLLWRBAND"), (0x2000, "POLLRDHUP"),
    ]
    static let epollEvents: [(UInt64, String)] = [
        (1, "EPOLLIN"), (2, "EPOLLPRI"), (4, "EPOLLOUT"), (8, "EPOLLERR"), (16, "EPOLLHUP"), (0x2000, "EPOLLRDHUP"),
        (1 << 28, "EPOLLEXCLUSIVE"), (1 << 29, "EPOLLWAKEUP"), (1 << 30, "EPOLLONESHOT"), (1 << 31, "EPOLLET"),
    ]

    /// strace's rendering of a wait status word.
    static func waitStatus(_ s: Int32) -> String {
        if s & 0x7f == 0 { return "{WIFEXITED(s) && WEXITSTATUS(s) == \((s >> 8) & 0xff)}" }
        if s & 0xff == 0x7f { return "{WIFSTOPPED(s) && WSTOPSIG(s) == \(Signal((s >> 8) & 0xff).name)}" }
        if s == 0xffff { return "{WIFCONTINUED(s)}" }
        return "{WIFSIGNALED(s) && WTERMSIG(s) == \(Signal(s & 0x7f).name)\(s & 0x80 != 0 ? " && WCOREDUMP(s)" : "")}"
    }
}
