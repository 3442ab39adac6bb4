import Sentry

/// The syscall families the README's status table lists. Each family's
/// status is computed from the table itself: which members have a handler,
/// and the notes their entries carry; a family refused on purpose says why.
public struct SyscallFamily: Sendable {
    public let name: String
    public let members: [String]
    /// Why the sandbox does not offer this family at all (nil: it tries to).
    public let refused: String?

    init(_ name: String, _ members: String, refused: String? = nil) {
        self.name = name
        self.members = members.split(separator: " ").map(String.init)
        self.refused = refused
    }
}

public let syscallFamilies: [SyscallFamily] = [
    SyscallFamily("files and paths", """
        read write open close stat fstat lstat lseek pread64 pwrite64 readv writev preadv pwritev preadv2 pwritev2 \
        access faccessat faccessat2 dup dup2 dup3 fcntl flock fsync fdatasync syncfs sync sync_file_range truncate \
        ftruncate fallocate readahead fadvise64 getdents getdents64 getcwd chdir fchdir chroot rename renameat renameat2 \
        mkdir mkdirat rmdir creat link linkat unlink unlinkat symlink symlinkat readlink readlinkat chmod fchmod fchmodat \
        chown fchown lchown fchownat umask utime utimes futimesat utimensat mknod mknodat statfs fstatfs newfstatat statx \
        openat openat2 name_to_handle_at open_by_handle_at sendfile copy_file_range splice tee vmsplice close_range ioctl
        """),
    SyscallFamily("extended attributes", """
        setxattr lsetxattr fsetxattr getxattr lgetxattr fgetxattr listxattr llistxattr flistxattr removexattr \
        lremovexattr fremovexattr
        """),
    SyscallFamily("pipes, eventfd, timerfd, signalfd",
                  "pipe pipe2 eventfd eventfd2 timerfd_create timerfd_settime timerfd_gettime signalfd signalfd4"),
    SyscallFamily("poll, select, epoll",
                  "poll ppoll select pselect6 epoll_create epoll_create1 epoll_ctl epoll_wait epoll_pwait epoll_pwait2"),
    SyscallFamily("file notification", "inotify_init inotify_init1 inotify_add_watch inotify_rm_watch"),
    SyscallFamily("fanotify", "fanotify_init fanotify_mark", refused: """
        fanotify_init needs CAP_SYS_ADMIN and its marks watch whole mounts of the host: \
        ENOSYS, as a kernel built without CONFIG_FANOTIFY answers
        """),
    SyscallFamily("sockets", """
        socket socketpair bind listen accept accept4 connect shutdown getsockname getpeername setsockopt getsockopt \
        sendto recvfrom sendmsg recvmsg sendmmsg recvmmsg
        """),
    SyscallFamily("memory", """
        mmap munmap mprotect brk mremap msync mincore madvise mlock mlock2 munlock mlockall munlockall memfd_create \
        remap_file_pages membarrier process_madvise userfaultfd memfd_secret pkey_mprotect pkey_alloc pkey_free
        """),
    SyscallFamily("NUMA memory policy", "mbind set_mempolicy get_mempolicy migrate_pages move_pages set_mempolicy_home_node"),
    SyscallFamily("processes", """
        clone clone3 fork vfork execve execveat exit exit_group wait4 waitid set_tid_address set_robust_list \
        get_robust_list kcmp pidfd_open pidfd_send_signal pidfd_getfd process_mrelease getpid getppid gettid getpgid \
        setpgid getpgrp setsid getsid getrlimit setrlimit prlimit64 getrusage times uname sethostname sysinfo getrandom \
        personality
        """),
    SyscallFamily("signals", """
        rt_sigaction rt_sigprocmask rt_sigreturn rt_sigpending rt_sigtimedwait rt_sigqueueinfo rt_tgsigqueueinfo \
        rt_sigsuspend sigaltstack kill tkill tgkill pause restart_syscall
        """),
    SyscallFamily("time and timers", """
        nanosleep clock_nanosleep getitimer setitimer alarm gettimeofday settimeofday time clock_gettime clock_getres \
        clock_settime adjtimex clock_adjtime timer_create timer_settime timer_gettime timer_getoverrun timer_delete
        """),
    SyscallFamily("futexes", "futex futex_waitv"),
    SyscallFamily("restartable sequences", "rseq"),
    SyscallFamily("credentials", """
        getuid getgid geteuid getegid setuid setgid setreuid setregid setresuid setresgid getresuid getresgid setfsuid \
        setfsgid getgroups setgroups capget capset
        """),
    SyscallFamily("prctl and scheduling", """
        prctl sched_yield getpriority setpriority sched_setparam sched_getparam sched_setscheduler sched_getscheduler \
        sched_get_priority_max sched_get_priority_min sched_rr_get_interval sched_setaffinity sched_getaffinity \
        sched_setattr sched_getattr getcpu ioprio_set ioprio_get
        """),
    SyscallFamily("System V IPC", "shmget shmat shmdt shmctl semget semop semtimedop semctl msgget msgsnd msgrcv msgctl"),
    SyscallFamily("POSIX message queues", "mq_open mq_unlink mq_timedsend mq_timedreceive mq_notify mq_getsetattr"),
    SyscallFamily("the x86-64 machine", "arch_prctl modify_ldt iopl ioperm set_thread_area get_thread_area"),
    SyscallFamily("asynchronous I/O", "io_setup io_destroy io_submit io_cancel io_getevents io_pgetevents"),
    SyscallFamily("io_uring", "io_uring_setup io_uring_enter io_uring_register", refused: """
        its rings are guest memory the kernel reads and completes into on its own, which the sentry serves only \
        inside syscalls: ENOSYS, as a kernel built without CONFIG_IO_URING (liburing and runtimes fall back)
        """),
    SyscallFamily("tracing and other processes' memory", "ptrace process_vm_readv process_vm_writev perf_event_open bpf"),
    SyscallFamily("sandboxing", "seccomp landlock_create_ruleset landlock_add_rule landlock_restrict_self"),
    SyscallFamily("keys", "add_key request_key keyctl", refused: """
        the kernel keyrings (per-session, per-user, persistent, upcalls to /sbin/request-key) are not kept: \
        ENOSYS, as a kernel built without CONFIG_KEYS
        """),
    SyscallFamily("joining namespaces", "setns"),
    SyscallFamily("namespaces and mounts", """
        unshare mount umount2 pivot_root open_tree move_mount fsopen fsconfig fsmount fspick mount_setattr \
        setdomainname
        """, refused: "the sandbox's mounts, names and namespaces are fixed when it starts"),
    SyscallFamily("host administration", """
        reboot swapon swapoff acct kexec_load kexec_file_load init_module finit_module delete_module quotactl \
        quotactl_fd syslog vhangup
        """, refused: "they act on the host's machine, never a sandbox's"),
    SyscallFamily("obsolete", """
        uselib ustat sysfs _sysctl create_module get_kernel_syms query_module nfsservctl getpmsg putpmsg afs_syscall \
        tuxcall security vserver epoll_ctl_old epoll_wait_old lookup_dcookie
        """, refused: "gone from Linux 6.1 or configured out of distribution kernels: ENOSYS"),
]

extension SyscallTable {
    /// One family's status: "full", "partial (...)", "not implemented" or
    /// "refused on purpose (...)", with what is missing and the members' notes.
    public func status(of family: SyscallFamily) -> String {
        if let why = family.refused { return "refused on purpose: \(why)" }
        let entries = family.members.compactMap { name in number(of: name).flatMap { self[UInt64($0)] } }
        let missing = entries.filter { !$0.isImplemented }.map(\.name)
        if missing.count == entries.count { return "not implemented" }
        var details: [String] = []
        if !missing.isEmpty { details.append("missing " + missing.map { "`\($0)`" }.joined(separator: ", ")) }
        for e in entries where e.isImplemented { if let n = e.note { details.append("`\(e.name)`: \(n)") } }
        return details.isEmpty ? "full" : "partial: " + details.joined(separator: "; ")
    }

    /// The README's table of families, as `sentry syscalls --families` prints it.
    public var familyTable: String {
        var out = "| family | status |\n| --- | --- |\n"
        for f in syscallFamilies { out += "| \(f.name) | \(status(of: f)) |\n" }
        return out
    }
}
