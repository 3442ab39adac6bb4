import CSwitch
import Glibc
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

    /// printflags: as `flags`, but a value with no known bit is its hex
    /// number and a comment naming what it should have been.
    static func flags(_ value: UInt64, _ table: [(UInt64, String)], unknown: String) -> String {
        value != 0 && table.allSatisfy({ value & $0.0 == 0 }) ? "0x\(String(value, radix: 16)) /* \(unknown) */" : flags(value, table)
    }

    /// A table entry from a named ABI constant (the value is defined once, where the kernel uses it).
    private static func bit<T: BinaryInteger>(_ value: T, _ name: String) -> (UInt64, String) {
        (UInt64(truncatingIfNeeded: value), name)
    }
    private static func bit<F: OptionSet>(_ flag: F, _ name: String) -> (UInt64, String) where F.RawValue: BinaryInteger {
        (UInt64(truncatingIfNeeded: flag.rawValue), name)
    }
    private static func table(_ entries: [(UInt64, String)]) -> [UInt64: String] {
        Dictionary(entries, uniquingKeysWith: { first, _ in first })
    }
    private typealias C = SocketConstants

    static let mempolicyModes: [UInt64: String] = [
        0: "MPOL_DEFAULT", 1: "MPOL_PREFERRED", 2: "MPOL_BIND", 3: "MPOL_INTERLEAVE", 4: "MPOL_LOCAL", 5: "MPOL_PREFERRED_MANY",
    ]
    static let mempolicyFlags: [(UInt64, String)] = [
        (1 << 15, "MPOL_F_STATIC_NODES"), (1 << 14, "MPOL_F_RELATIVE_NODES"), (1 << 13, "MPOL_F_NUMA_BALANCING"),
    ]
    static let addressFamilies: [UInt64: String] = table([
        bit(C.AF_UNSPEC, "AF_UNSPEC"), bit(C.AF_UNIX, "AF_UNIX"), bit(C.AF_INET, "AF_INET"), bit(C.AF_INET6, "AF_INET6"),
        bit(C.AF_NETLINK, "AF_NETLINK"), bit(C.AF_PACKET, "AF_PACKET"),
    ])
    static let socketTypes: [UInt64: String] = table([
        bit(C.SOCK_STREAM, "SOCK_STREAM"), bit(C.SOCK_DGRAM, "SOCK_DGRAM"), bit(C.SOCK_RAW, "SOCK_RAW"),
        bit(C.SOCK_RDM, "SOCK_RDM"), bit(C.SOCK_SEQPACKET, "SOCK_SEQPACKET"), (10, "SOCK_PACKET"),
    ])
    static let socketFlags: [(UInt64, String)] = [bit(C.SOCK_CLOEXEC, "SOCK_CLOEXEC"), bit(C.SOCK_NONBLOCK, "SOCK_NONBLOCK")]
    static let ipProtocols: [UInt64: String] = [0: "IPPROTO_IP", 6: "IPPROTO_TCP", 17: "IPPROTO_UDP", 1: "IPPROTO_ICMP",
                                                 58: "IPPROTO_ICMPV6", 136: "IPPROTO_UDPLITE", 255: "IPPROTO_RAW"]
    static let msgFlags: [(UInt64, String)] = [
        bit(C.MSG_OOB, "MSG_OOB"), bit(C.MSG_PEEK, "MSG_PEEK"), bit(C.MSG_DONTROUTE, "MSG_DONTROUTE"),
        bit(C.MSG_CTRUNC, "MSG_CTRUNC"), bit(C.MSG_TRUNC, "MSG_TRUNC"), bit(C.MSG_DONTWAIT, "MSG_DONTWAIT"),
        bit(C.MSG_EOR, "MSG_EOR"), bit(C.MSG_WAITALL, "MSG_WAITALL"), bit(C.MSG_NOSIGNAL, "MSG_NOSIGNAL"),
        bit(C.MSG_MORE, "MSG_MORE"), bit(C.MSG_CMSG_CLOEXEC, "MSG_CMSG_CLOEXEC"),
    ]
    /// SOL_IP option names (linux/in.h).
    static let ipOptions: [UInt64: String] = [1: "IP_TOS", 2: "IP_TTL", 3: "IP_HDRINCL", 4: "IP_OPTIONS", 8: "IP_PKTINFO",
                                              10: "IP_MTU_DISCOVER", 11: "IP_RECVERR", 12: "IP_RECVTTL", 13: "IP_RECVTOS",
                                              33: "IP_MULTICAST_TTL", 34: "IP_MULTICAST_LOOP"]
    static let sockoptLevels: [UInt64: String] = [1: "SOL_SOCKET", 0: "SOL_IP", 6: "SOL_TCP", 17: "SOL_UDP", 41: "SOL_IPV6",
                                                  58: "SOL_ICMPV6", 255: "SOL_RAW"]
    static let socketOptions: [UInt64: String] = table([
        bit(C.SO_DEBUG, "SO_DEBUG"), bit(C.SO_REUSEADDR, "SO_REUSEADDR"), bit(C.SO_TYPE, "SO_TYPE"),
        bit(C.SO_ERROR, "SO_ERROR"), bit(C.SO_DONTROUTE, "SO_DONTROUTE"), bit(C.SO_BROADCAST, "SO_BROADCAST"),
        bit(C.SO_SNDBUF, "SO_SNDBUF"), bit(C.SO_RCVBUF, "SO_RCVBUF"), bit(C.SO_KEEPALIVE, "SO_KEEPALIVE"),
        bit(C.SO_OOBINLINE, "SO_OOBINLINE"), bit(C.SO_LINGER, "SO_LINGER"), bit(C.SO_REUSEPORT, "SO_REUSEPORT"),
        bit(C.SO_PASSCRED, "SO_PASSCRED"), bit(C.SO_PEERCRED, "SO_PEERCRED"), bit(C.SO_RCVLOWAT, "SO_RCVLOWAT"),
        bit(C.SO_SNDLOWAT, "SO_SNDLOWAT"), bit(C.SO_RCVTIMEO, "SO_RCVTIMEO_OLD"), bit(C.SO_SNDTIMEO, "SO_SNDTIMEO_OLD"),
        bit(C.SO_ACCEPTCONN, "SO_ACCEPTCONN"), bit(C.SO_PROTOCOL, "SO_PROTOCOL"), bit(C.SO_DOMAIN, "SO_DOMAIN"),
        bit(C.SO_NO_CHECK, "SO_NO_CHECK"), bit(C.SO_PRIORITY, "SO_PRIORITY"), bit(C.SO_BSDCOMPAT, "SO_BSDCOMPAT"),
        bit(C.SO_BINDTODEVICE, "SO_BINDTODEVICE"), bit(C.SO_GET_FILTER, "SO_ATTACH_FILTER"), bit(C.SO_PEERNAME, "SO_PEERNAME"),
        bit(ReceiveTimestamps.SO_TIMESTAMP_OLD, "SO_TIMESTAMP_OLD"), bit(C.SO_SNDBUFFORCE, "SO_SNDBUFFORCE"),
        bit(C.SO_RCVBUFFORCE, "SO_RCVBUFFORCE"), bit(ReceiveTimestamps.SO_TIMESTAMPNS_OLD, "SO_TIMESTAMPNS_OLD"),
        bit(C.SO_MARK, "SO_MARK"), bit(C.SO_WIFI_STATUS, "SO_WIFI_STATUS"), bit(C.SO_NOFCS, "SO_NOFCS"),
        bit(C.SO_LOCK_FILTER, "SO_LOCK_FILTER"), bit(C.SO_SELECT_ERR_QUEUE, "SO_SELECT_ERR_QUEUE"),
        bit(C.SO_BUSY_POLL, "SO_BUSY_POLL"), bit(C.SO_BPF_EXTENSIONS, "SO_BPF_EXTENSIONS"),
        bit(C.SO_INCOMING_CPU, "SO_INCOMING_CPU"), bit(C.SO_INCOMING_NAPI_ID, "SO_INCOMING_NAPI_ID"),
        bit(C.SO_COOKIE, "SO_COOKIE"), bit(C.SO_BINDTOIFINDEX, "SO_BINDTOIFINDEX"),
        bit(ReceiveTimestamps.SO_TIMESTAMP_NEW, "SO_TIMESTAMP_NEW"), bit(ReceiveTimestamps.SO_TIMESTAMPNS_NEW, "SO_TIMESTAMPNS_NEW"),
        bit(C.SO_PREFER_BUSY_POLL, "SO_PREFER_BUSY_POLL"), bit(C.SO_BUSY_POLL_BUDGET, "SO_BUSY_POLL_BUDGET"),
        bit(C.SO_NETNS_COOKIE, "SO_NETNS_COOKIE"), bit(C.SO_BUF_LOCK, "SO_BUF_LOCK"), bit(C.SO_TXREHASH, "SO_TXREHASH"),
        bit(C.SO_RCVMARK, "SO_RCVMARK"),
    ])
    static let tcpOptions: [UInt64: String] = [1: "TCP_NODELAY", 2: "TCP_MAXSEG", 4: "TCP_KEEPIDLE", 5: "TCP_KEEPINTVL",
                                              6: "TCP_KEEPCNT", 11: "TCP_INFO"]

    static func named(_ value: UInt64, _ table: [UInt64: String]) -> String {
        table[value] ?? (Int64(bitPattern: value) < 0 ? String(Int64(bitPattern: value)) : "0x" + String(value, radix: 16))
    }

    static func openFlags(_ v: UInt64) -> String {
        let acc = ["O_RDONLY", "O_WRONLY", "O_RDWR", "O_ACCMODE"][Int(v & 3)]
        let rest = flags(v & ~3, openFlagNames, zero: "")
        return rest.isEmpty ? acc : acc + "|" + rest
    }

    /// In strace's order; multi-bit flags (O_SYNC, O_TMPFILE) come before the single bits they contain.
    static let openFlagNames: [(UInt64, String)] = [
        bit(OpenFlags.create, "O_CREAT"), bit(OpenFlags.exclusive, "O_EXCL"), bit(OpenFlags.noCTTY, "O_NOCTTY"),
        bit(OpenFlags.truncate, "O_TRUNC"), bit(OpenFlags.append, "O_APPEND"), bit(OpenFlags.nonBlock, "O_NONBLOCK"),
        bit(OpenFlags.sync, "O_SYNC"), bit(OpenFlags.dsync, "O_DSYNC"), bit(OpenFlags.async, "O_ASYNC"),
        bit(OpenFlags.direct, "O_DIRECT"), bit(OpenFlags.largeFile, "O_LARGEFILE"), bit(OpenFlags.noFollow, "O_NOFOLLOW"),
        bit(OpenFlags.noATime, "O_NOATIME"), bit(OpenFlags.closeOnExec, "O_CLOEXEC"), bit(OpenFlags.path, "O_PATH"),
        bit(OpenFlags.tmpFile, "O_TMPFILE"), bit(OpenFlags.directory, "O_DIRECTORY"),
    ]

    /// statfs's f_type, as strace names them.
    static let filesystemMagic: [UInt64: String] = [
        0xef53: "EXT2_SUPER_MAGIC", 0x0102_1994: "TMPFS_MAGIC", 0x9fa0: "PROC_SUPER_MAGIC", 0x0904_1934: "ANON_INODE_FS_MAGIC",
        0x6265_6572: "SYSFS_MAGIC", 0x1cd1: "DEVPTS_SUPER_MAGIC", 0x794c_7630: "OVERLAYFS_SUPER_MAGIC",
        0x5049_5045: "PIPEFS_MAGIC", 0x534f_434b: "SOCKFS_MAGIC", 0x0102_1997: "V9FS_MAGIC", 0x9123_683e: "BTRFS_SUPER_MAGIC",
        0x5846_5342: "XFS_SUPER_MAGIC", 0x6e73_6673: "NSFS_MAGIC", 0x6367_7270: "CGROUP2_SUPER_MAGIC",
    ]
    static let statfsFlags: [(UInt64, String)] = [
        (1, "ST_RDONLY"), (2, "ST_NOSUID"), (4, "ST_NODEV"), (8, "ST_NOEXEC"), (16, "ST_SYNCHRONOUS"), (0x20, "ST_VALID"),
        (64, "ST_MANDLOCK"), (0x400, "ST_NOATIME"), (0x800, "ST_NODIRATIME"), (0x1000, "ST_RELATIME"),
    ]

    /// strace's date comment for a time: `1970-01-01T00:00:01.000002+0000` (local time, as strace's).
    static func date(_ seconds: Int64, fraction: Int64? = nil, digits: Int = 0) -> String {
        var t = time_t(seconds), tm = Glibc.tm()
        guard localtime_r(&t, &tm) != nil else { return String(seconds) }
        var buf = [CChar](repeating: 0, count: 64)
        let n = strftime(&buf, buf.count, "%Y-%m-%dT%H:%M:%S", &tm)
        var out = String(decoding: buf.prefix(n).map { UInt8(bitPattern: $0) }, as: UTF8.self)
        if let fraction, digits > 0 {
            let f = String(fraction)
            out += "." + String(repeating: "0", count: max(0, digits - f.count)) + f
        }
        let zn = strftime(&buf, buf.count, "%z", &tm)
        return out + String(decoding: buf.prefix(zn).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    static func prot(_ v: UInt64) -> String {
        flags(v, [bit(Prot.read, "PROT_READ"), bit(Prot.write, "PROT_WRITE"), bit(Prot.exec, "PROT_EXEC"),
                  (0x1000000, "PROT_GROWSDOWN"), (0x2000000, "PROT_GROWSUP")],
              zero: "PROT_NONE")
    }

    static func mapFlags(_ v: UInt64) -> String {
        let type = ["0", "MAP_SHARED", "MAP_PRIVATE", "MAP_SHARED_VALIDATE"][Int(v & 3)]
        let rest = flags(v & ~3, [
            bit(MapFlags.fixed, "MAP_FIXED"), bit(MapFlags.anonymous, "MAP_ANONYMOUS"), (0x40, "MAP_32BIT"),
            bit(MapFlags.growsDown, "MAP_GROWSDOWN"), bit(MapFlags.denyWrite, "MAP_DENYWRITE"),
            bit(MapFlags.executable, "MAP_EXECUTABLE"), bit(MapFlags.locked, "MAP_LOCKED"),
            bit(MapFlags.noReserve, "MAP_NORESERVE"), bit(MapFlags.populate, "MAP_POPULATE"),
            bit(MapFlags.nonBlock, "MAP_NONBLOCK"), bit(MapFlags.stack, "MAP_STACK"), bit(MapFlags.hugeTLB, "MAP_HUGETLB"),
            bit(MapFlags.sync, "MAP_SYNC"), bit(MapFlags.fixedNoReplace, "MAP_FIXED_NOREPLACE"),
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
    private typealias AT = AtFlags
    static let atFlags: [(UInt64, String)] = [
        bit(AT.AT_SYMLINK_NOFOLLOW, "AT_SYMLINK_NOFOLLOW"), bit(AT.AT_EACCESS, "AT_EACCESS"),
        bit(AT.AT_SYMLINK_FOLLOW, "AT_SYMLINK_FOLLOW"), bit(AT.AT_NO_AUTOMOUNT, "AT_NO_AUTOMOUNT"),
        bit(AT.AT_EMPTY_PATH, "AT_EMPTY_PATH"), bit(AT.AT_STATX_FORCE_SYNC, "AT_STATX_FORCE_SYNC"),
        bit(AT.AT_STATX_DONT_SYNC, "AT_STATX_DONT_SYNC"),
    ]
    static let fcntl: [UInt64: String] = [0: "F_DUPFD", 1: "F_GETFD", 2: "F_SETFD", 3: "F_GETFL", 4: "F_SETFL", 5: "F_GETLK",
                                          6: "F_SETLK", 7: "F_SETLKW", 8: "F_SETOWN", 9: "F_GETOWN", 10: "F_SETSIG",
                                          11: "F_GETSIG", 15: "F_SETOWN_EX", 16: "F_GETOWN_EX", 1024: "F_SETLEASE", 1025: "F_GETLEASE", 1030: "F_DUPFD_CLOEXEC",
                                          1031: "F_SETPIPE_SZ", 1032: "F_GETPIPE_SZ", 1033: "F_ADD_SEALS", 1034: "F_GET_SEALS",
                                          36: "F_OFD_GETLK", 37: "F_OFD_SETLK", 38: "F_OFD_SETLKW"]
    static let ioctl = Ioctl.names
    static let clocks: [UInt64: String] = [0: "CLOCK_REALTIME", 1: "CLOCK_MONOTONIC", 2: "CLOCK_PROCESS_CPUTIME_ID",
                                           3: "CLOCK_THREAD_CPUTIME_ID", 4: "CLOCK_MONOTONIC_RAW", 5: "CLOCK_REALTIME_COARSE",
                                           6: "CLOCK_MONOTONIC_COARSE", 7: "CLOCK_BOOTTIME", 8: "CLOCK_REALTIME_ALARM",
                                           9: "CLOCK_BOOTTIME_ALARM", 11: "CLOCK_TAI"]
    static let sigprocmaskHow: [UInt64: String] = [0: "SIG_BLOCK", 1: "SIG_UNBLOCK", 2: "SIG_SETMASK"]
    static let archPrctl = ArchPrctl.names
    static let rlimits: [UInt64: String] = table(ResourceLimit.names.enumerated().map { (UInt64($0.offset), $0.element) })
    private typealias MA = MemoryAdvice
    static let madvise: [UInt64: String] = table([
        bit(MA.MADV_NORMAL, "MADV_NORMAL"), bit(MA.MADV_RANDOM, "MADV_RANDOM"), bit(MA.MADV_SEQUENTIAL, "MADV_SEQUENTIAL"),
        bit(MA.MADV_WILLNEED, "MADV_WILLNEED"), bit(MA.MADV_DONTNEED, "MADV_DONTNEED"), bit(MA.MADV_FREE, "MADV_FREE"),
        bit(MA.MADV_REMOVE, "MADV_REMOVE"), bit(MA.MADV_DONTFORK, "MADV_DONTFORK"), bit(MA.MADV_DOFORK, "MADV_DOFORK"),
        bit(MA.MADV_MERGEABLE, "MADV_MERGEABLE"), bit(MA.MADV_UNMERGEABLE, "MADV_UNMERGEABLE"),
        bit(MA.MADV_HUGEPAGE, "MADV_HUGEPAGE"), bit(MA.MADV_NOHUGEPAGE, "MADV_NOHUGEPAGE"),
        bit(MA.MADV_DONTDUMP, "MADV_DONTDUMP"), bit(MA.MADV_DODUMP, "MADV_DODUMP"),
        bit(MA.MADV_WIPEONFORK, "MADV_WIPEONFORK"), bit(MA.MADV_KEEPONFORK, "MADV_KEEPONFORK"),
        bit(MA.MADV_COLD, "MADV_COLD"), bit(MA.MADV_PAGEOUT, "MADV_PAGEOUT"),
    ])
    static let mremapFlags: [(UInt64, String)] = [
        bit(MA.MREMAP_MAYMOVE, "MREMAP_MAYMOVE"), bit(MA.MREMAP_FIXED, "MREMAP_FIXED"),
        bit(MA.MREMAP_DONTUNMAP, "MREMAP_DONTUNMAP"),
    ]
    private typealias SA = SignalAction
    static let saFlags: [(UInt64, String)] = [
        bit(SA.SA_RESTORER, "SA_RESTORER"), bit(SA.SA_ONSTACK, "SA_ONSTACK"), bit(SA.SA_RESTART, "SA_RESTART"),
        bit(SA.SA_NODEFER, "SA_NODEFER"), bit(SA.SA_RESETHAND, "SA_RESETHAND"), bit(SA.SA_SIGINFO, "SA_SIGINFO"),
        bit(SA.SA_NOCLDSTOP, "SA_NOCLDSTOP"), bit(SA.SA_NOCLDWAIT, "SA_NOCLDWAIT"),
    ]

    /// `[INT TERM]`, or `~[...]` when more than half the signals are set.
    static func sigset(_ v: UInt64) -> String {
        func names(_ bits: UInt64) -> String {
            (1...64).filter { bits & (1 << UInt64($0 - 1)) != 0 }.map { n -> String in
                Signal(Int32(n)).straceSetName
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

    private typealias CL = CloneArgs
    static let cloneFlags: [(UInt64, String)] = [
        bit(CL.CLONE_VM, "CLONE_VM"), bit(CL.CLONE_FS, "CLONE_FS"), bit(CL.CLONE_FILES, "CLONE_FILES"),
        bit(CL.CLONE_SIGHAND, "CLONE_SIGHAND"), bit(CL.CLONE_PIDFD, "CLONE_PIDFD"), bit(CL.CLONE_PTRACE, "CLONE_PTRACE"),
        bit(CL.CLONE_VFORK, "CLONE_VFORK"), bit(CL.CLONE_PARENT, "CLONE_PARENT"), bit(CL.CLONE_THREAD, "CLONE_THREAD"),
        bit(CL.CLONE_NEWNS, "CLONE_NEWNS"), bit(CL.CLONE_SYSVSEM, "CLONE_SYSVSEM"), bit(CL.CLONE_SETTLS, "CLONE_SETTLS"),
        bit(CL.CLONE_PARENT_SETTID, "CLONE_PARENT_SETTID"), bit(CL.CLONE_CHILD_CLEARTID, "CLONE_CHILD_CLEARTID"),
        bit(CL.CLONE_DETACHED, "CLONE_DETACHED"), bit(CL.CLONE_UNTRACED, "CLONE_UNTRACED"),
        bit(CL.CLONE_CHILD_SETTID, "CLONE_CHILD_SETTID"), bit(CL.CLONE_IO, "CLONE_IO"),
    ]
    private typealias W = WaitRequest
    static let waitOptions: [(UInt64, String)] = [
        bit(UInt32(bitPattern: W.WNOHANG), "WNOHANG"), bit(UInt32(bitPattern: W.WUNTRACED), "WSTOPPED"),
        bit(UInt32(bitPattern: W.WEXITED), "WEXITED"), bit(UInt32(bitPattern: W.WCONTINUED), "WCONTINUED"),
        bit(UInt32(bitPattern: W.WNOWAIT), "WNOWAIT"), bit(UInt32(bitPattern: W.WNOTHREAD), "__WNOTHREAD"),
        bit(UInt32(bitPattern: W.WALL), "__WALL"), bit(UInt32(bitPattern: W.WCLONE), "__WCLONE"),
    ]
    static let futexOps: [UInt64: String] = [
        0: "FUTEX_WAIT", 1: "FUTEX_WAKE", 2: "FUTEX_FD", 3: "FUTEX_REQUEUE", 4: "FUTEX_CMP_REQUEUE",
        5: "FUTEX_WAKE_OP", 6: "FUTEX_LOCK_PI", 7: "FUTEX_UNLOCK_PI", 8: "FUTEX_TRYLOCK_PI",
        9: "FUTEX_WAIT_BITSET", 10: "FUTEX_WAKE_BITSET", 11: "FUTEX_WAIT_REQUEUE_PI", 12: "FUTEX_CMP_REQUEUE_PI",
        13: "FUTEX_LOCK_PI2",
    ]
    static let futexWaitvFlags: [(UInt64, String)] = [(2, "FUTEX_32"), (128, "FUTEX_PRIVATE_FLAG")]
    static let pollEvents: [(UInt64, String)] = [
        (1, "POLLIN"), (2, "POLLPRI"), (4, "POLLOUT"), (8, "POLLERR"), (16, "POLLHUP"), (32, "POLLNVAL"),
        (64, "POLLRDNORM"), (128, "POLLRDBAND"), (256, "POLLWRNORM"), (512, "POLLWRBAND"), (0x2000, "POLLRDHUP"),
    ]
    static let epollEvents: [(UInt64, String)] = [
        (1, "EPOLLIN"), (2, "EPOLLPRI"), (4, "EPOLLOUT"), (8, "EPOLLERR"), (16, "EPOLLHUP"), (0x2000, "EPOLLRDHUP"),
        bit(EpollFile.EPOLLEXCLUSIVE, "EPOLLEXCLUSIVE"), bit(EpollFile.EPOLLWAKEUP, "EPOLLWAKEUP"),
        bit(EpollFile.EPOLLONESHOT, "EPOLLONESHOT"), bit(EpollFile.EPOLLET, "EPOLLET"),
    ]

    /// strace's rendering of a wait status word.
    static func waitStatus(_ raw: Int32) -> String {
        let s = WaitStatus(raw)
        if s.exited { return "{WIFEXITED(s) && WEXITSTATUS(s) == \(s.exitStatus)}" }
        if s.stopped { return "{WIFSTOPPED(s) && WSTOPSIG(s) == \(Signal(s.stopSignal).name)}" }
        if s.continued { return "{WIFCONTINUED(s)}" }
        return "{WIFSIGNALED(s) && WTERMSIG(s) == \(Signal(s.termSignal).name)\(s.coreDumped ? " && WCOREDUMP(s)" : "")}"
    }
}
