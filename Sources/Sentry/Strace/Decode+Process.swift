/// strace's names for prctl options, scheduler policies, and the flags of
/// the vectored I/O, advice, mlock and xattr calls.
extension Decode {
    static let prctlOptions: [UInt64: String] = [
        1: "PR_SET_PDEATHSIG", 2: "PR_GET_PDEATHSIG", 3: "PR_GET_DUMPABLE", 4: "PR_SET_DUMPABLE",
        5: "PR_GET_UNALIGN", 6: "PR_SET_UNALIGN", 7: "PR_GET_KEEPCAPS", 8: "PR_SET_KEEPCAPS",
        9: "PR_GET_FPEMU", 10: "PR_SET_FPEMU", 11: "PR_GET_FPEXC", 12: "PR_SET_FPEXC",
        13: "PR_GET_TIMING", 14: "PR_SET_TIMING", 15: "PR_SET_NAME", 16: "PR_GET_NAME",
        19: "PR_GET_ENDIAN", 20: "PR_SET_ENDIAN", 21: "PR_GET_SECCOMP", 22: "PR_SET_SECCOMP",
        23: "PR_CAPBSET_READ", 24: "PR_CAPBSET_DROP", 25: "PR_GET_TSC", 26: "PR_SET_TSC",
        27: "PR_GET_SECUREBITS", 28: "PR_SET_SECUREBITS", 29: "PR_SET_TIMERSLACK", 30: "PR_GET_TIMERSLACK",
        31: "PR_TASK_PERF_EVENTS_DISABLE", 32: "PR_TASK_PERF_EVENTS_ENABLE", 33: "PR_MCE_KILL", 34: "PR_MCE_KILL_GET",
        35: "PR_SET_MM", 36: "PR_SET_CHILD_SUBREAPER", 37: "PR_GET_CHILD_SUBREAPER",
        38: "PR_SET_NO_NEW_PRIVS", 39: "PR_GET_NO_NEW_PRIVS", 40: "PR_GET_TID_ADDRESS",
        41: "PR_SET_THP_DISABLE", 42: "PR_GET_THP_DISABLE", 45: "PR_SET_FP_MODE", 46: "PR_GET_FP_MODE",
        47: "PR_CAP_AMBIENT", 53: "PR_SET_SPECULATION_CTRL", 52: "PR_GET_SPECULATION_CTRL",
        54: "PR_PAC_RESET_KEYS", 55: "PR_SET_TAGGED_ADDR_CTRL", 56: "PR_GET_TAGGED_ADDR_CTRL",
        57: "PR_SET_IO_FLUSHER", 58: "PR_GET_IO_FLUSHER", 59: "PR_SET_SYSCALL_USER_DISPATCH",
        62: "PR_SCHED_CORE", 0x5356_4d41: "PR_SET_VMA",
    ]
    /// How many arguments after the option strace shows for the options it decodes.
    static let prctlArgCounts: [UInt64: Int] = [
        1: 1, 2: 1, 3: 0, 4: 1, 7: 0, 8: 1, 15: 1, 16: 1, 21: 0, 22: 4, 23: 1, 24: 1, 27: 0,
        29: 1, 30: 0, 36: 1, 37: 1, 38: 4, 39: 4, 40: 1,
    ]
    static let schedPolicies: [UInt64: String] = [0: "SCHED_OTHER", 1: "SCHED_FIFO", 2: "SCHED_RR", 3: "SCHED_BATCH", 4: "SCHED_ISO",
                                                  5: "SCHED_IDLE", 6: "SCHED_DEADLINE"]
    static let priorityWhich: [UInt64: String] = [0: "PRIO_PROCESS", 1: "PRIO_PGRP", 2: "PRIO_USER"]
    static let ioprioWhich: [UInt64: String] = [UInt64(IOPrio.WHO_PROCESS): "IOPRIO_WHO_PROCESS",
                                               UInt64(IOPrio.WHO_PGRP): "IOPRIO_WHO_PGRP", UInt64(IOPrio.WHO_USER): "IOPRIO_WHO_USER"]
    static let ioprioClasses = ["IOPRIO_CLASS_NONE", "IOPRIO_CLASS_RT", "IOPRIO_CLASS_BE", "IOPRIO_CLASS_IDLE"]

    /// strace's IOPRIO_PRIO_VALUE(class, data) (the data being the bits under the class).
    static func ioprio(_ p: Int32) -> String {
        let c = Int(IOPrio.ioClass(p)), data = p & 0x1fff
        let name = c < ioprioClasses.count ? ioprioClasses[c] : String(c)
        return "IOPRIO_PRIO_VALUE(\(name), \(data))"
    }

    static let personalityDomains: [UInt64: String] = [
        0x00: "PER_LINUX", 0x01: "PER_SVR4", 0x02: "PER_SVR3", 0x03: "PER_OSR5", 0x04: "PER_WYSEV386", 0x05: "PER_ISCR4",
        0x06: "PER_BSD", 0x07: "PER_XENIX", 0x08: "PER_LINUX32", 0x09: "PER_IRIX32", 0x0a: "PER_IRIXN32", 0x0b: "PER_IRIX64",
        0x0c: "PER_RISCOS", 0x0d: "PER_SOLARIS", 0x0e: "PER_UW7", 0x0f: "PER_OSF4", 0x10: "PER_HPUX"]
    static let personalityFlags: [(UInt64, String)] = [
        (UInt64(Personality.UNAME26), "UNAME26"), (UInt64(Personality.ADDR_NO_RANDOMIZE), "ADDR_NO_RANDOMIZE"),
        (UInt64(Personality.FDPIC_FUNCPTRS), "FDPIC_FUNCPTRS"), (UInt64(Personality.MMAP_PAGE_ZERO), "MMAP_PAGE_ZERO"),
        (UInt64(Personality.ADDR_COMPAT_LAYOUT), "ADDR_COMPAT_LAYOUT"), (UInt64(Personality.READ_IMPLIES_EXEC), "READ_IMPLIES_EXEC"),
        (UInt64(Personality.ADDR_LIMIT_32BIT), "ADDR_LIMIT_32BIT"), (UInt64(Personality.SHORT_INODE), "SHORT_INODE"),
        (UInt64(Personality.WHOLE_SECONDS), "WHOLE_SECONDS"), (UInt64(Personality.STICKY_TIMEOUTS), "STICKY_TIMEOUTS"),
        (UInt64(Personality.ADDR_LIMIT_3GB), "ADDR_LIMIT_3GB")]

    /// The execution domain by name (or its number), then the flags: PER_LINUX|ADDR_NO_RANDOMIZE.
    static func personality(_ p: UInt32) -> String {
        if p == Personality.query { return "0xffffffff" }
        let domain = UInt64(p & Personality.PER_MASK)
        var s = personalityDomains[domain] ?? "0x" + String(domain, radix: 16)
        let rest = UInt64(p & ~Personality.PER_MASK)
        if rest != 0 { s += "|" + flags(rest, personalityFlags) }
        return s
    }
    static let rwfFlags: [(UInt64, String)] = [(1, "RWF_HIPRI"), (2, "RWF_DSYNC"), (4, "RWF_SYNC"), (8, "RWF_NOWAIT"), (0x10, "RWF_APPEND")]
    static let fadvice: [UInt64: String] = [0: "POSIX_FADV_NORMAL", 1: "POSIX_FADV_RANDOM", 2: "POSIX_FADV_SEQUENTIAL",
                                            3: "POSIX_FADV_WILLNEED", 4: "POSIX_FADV_DONTNEED", 5: "POSIX_FADV_NOREUSE"]
    static let capVersions: [UInt64: String] = [0x1998_0330: "_LINUX_CAPABILITY_VERSION_1",
                                                0x2007_1026: "_LINUX_CAPABILITY_VERSION_2",
                                                0x2008_0522: "_LINUX_CAPABILITY_VERSION_3"]
    /// Capability bits by number (linux/capability.h), as strace names them.
    static let capabilityNames: [String] = [
        "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL", "CAP_SETGID",
        "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE", "CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST", "CAP_NET_ADMIN",
        "CAP_NET_RAW", "CAP_IPC_LOCK", "CAP_IPC_OWNER", "CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_CHROOT",
        "CAP_SYS_PTRACE", "CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE", "CAP_SYS_RESOURCE",
        "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE", "CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL",
        "CAP_SETFCAP", "CAP_MAC_OVERRIDE", "CAP_MAC_ADMIN", "CAP_SYSLOG", "CAP_WAKE_ALARM", "CAP_BLOCK_SUSPEND",
        "CAP_AUDIT_READ", "CAP_PERFMON", "CAP_BPF", "CAP_CHECKPOINT_RESTORE",
    ]
    /// openat2's resolve flags (linux/openat2.h).
    static let resolveFlags: [(UInt64, String)] = [
        (0x01, "RESOLVE_NO_XDEV"), (0x02, "RESOLVE_NO_MAGICLINKS"), (0x04, "RESOLVE_NO_SYMLINKS"),
        (0x08, "RESOLVE_BENEATH"), (0x10, "RESOLVE_IN_ROOT"), (0x20, "RESOLVE_CACHED"),
    ]
    /// sembuf's sem_flg, in strace's order.
    static let semFlags: [(UInt64, String)] = [(UInt64(UInt16(bitPattern: IPC.SEM_UNDO)), "SEM_UNDO"), (UInt64(IPC.IPC_NOWAIT), "IPC_NOWAIT")]
    /// The System V `*ctl` commands (linux/ipc.h, msg.h, sem.h, shm.h).
    static func ipcCommands(_ kind: IPCObjectKind) -> [UInt64: String] {
        let common: [UInt64: String] = [0: "IPC_RMID", 1: "IPC_SET", 2: "IPC_STAT", 3: "IPC_INFO"]
        switch kind {
        case .message: return common.merging([11: "MSG_STAT", 12: "MSG_INFO", 13: "MSG_STAT_ANY"]) { a, _ in a }
        case .sharedMemory:
            return common.merging([11: "SHM_LOCK", 12: "SHM_UNLOCK", 13: "SHM_STAT", 14: "SHM_INFO", 15: "SHM_STAT_ANY"]) { a, _ in a }
        case .semaphore:
            return common.merging([11: "GETPID", 12: "GETVAL", 13: "GETALL", 14: "GETNCNT", 15: "GETZCNT", 16: "SETVAL",
                                   17: "SETALL", 18: "SEM_STAT", 19: "SEM_INFO", 20: "SEM_STAT_ANY"]) { a, _ in a }
        }
    }
}
