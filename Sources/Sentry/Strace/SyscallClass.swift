/// strace's syscall classes for `-e trace=%file,...` (strace 6.1's x86-64
/// table): which syscalls each class names.
public enum SyscallClass {
    static let desc = """
        read write open close fstat poll lseek mmap ioctl pread64 pwrite64 readv writev pipe select dup dup2 \
        sendfile fcntl flock fsync fdatasync ftruncate getdents fchdir creat fchmod fchown fstatfs readahead \
        fsetxattr fgetxattr flistxattr fremovexattr epoll_create getdents64 fadvise64 epoll_wait epoll_ctl \
        mq_open mq_timedsend mq_timedreceive mq_notify mq_getsetattr inotify_init inotify_add_watch \
        inotify_rm_watch openat mkdirat mknodat fchownat futimesat newfstatat unlinkat renameat linkat symlinkat \
        readlinkat fchmodat faccessat pselect6 ppoll splice tee sync_file_range vmsplice utimensat epoll_pwait \
        signalfd timerfd_create eventfd fallocate timerfd_settime timerfd_gettime signalfd4 eventfd2 \
        epoll_create1 dup3 pipe2 inotify_init1 preadv pwritev perf_event_open fanotify_init fanotify_mark \
        name_to_handle_at open_by_handle_at syncfs setns finit_module renameat2 memfd_create kexec_file_load bpf \
        execveat userfaultfd copy_file_range preadv2 pwritev2 statx pidfd_send_signal io_uring_setup \
        io_uring_enter io_uring_register open_tree move_mount fsopen fsconfig fsmount fspick pidfd_open \
        close_range openat2 pidfd_getfd faccessat2 process_madvise epoll_pwait2 mount_setattr \
        landlock_create_ruleset landlock_add_rule landlock_restrict_self memfd_secret process_mrelease
        """
    static let file = """
        open stat lstat access execve truncate getcwd chdir rename mkdir rmdir creat link unlink symlink \
        readlink chmod chown lchown utime mknod uselib statfs pivot_root chroot acct mount umount2 swapon \
        swapoff quotactl setxattr lsetxattr getxattr lgetxattr listxattr llistxattr removexattr lremovexattr \
        utimes inotify_add_watch openat mkdirat mknodat fchownat futimesat newfstatat unlinkat renameat linkat \
        symlinkat readlinkat fchmodat faccessat utimensat fanotify_mark name_to_handle_at renameat2 execveat \
        statx open_tree move_mount fsconfig fspick openat2 faccessat2 mount_setattr
        """
    static let process = """
        clone fork vfork execve exit wait4 kill rt_sigqueueinfo tkill exit_group tgkill waitid \
        rt_tgsigqueueinfo execveat clone3
        """
    static let network = """
        sendfile socket connect accept sendto recvfrom sendmsg recvmsg shutdown bind listen getsockname \
        getpeername socketpair setsockopt getsockopt getpmsg putpmsg accept4 recvmmsg sendmmsg
        """
    static let signal = """
        rt_sigaction rt_sigprocmask rt_sigreturn pause kill rt_sigpending rt_sigtimedwait rt_sigqueueinfo \
        rt_sigsuspend sigaltstack tkill tgkill signalfd signalfd4 rt_tgsigqueueinfo pidfd_send_signal
        """
    static let ipc = "shmget shmat shmctl semget semop semctl shmdt msgget msgsnd msgrcv msgctl semtimedop"
    static let memory = """
        mmap mprotect munmap brk mremap msync mincore madvise shmat shmdt mlock munlock mlockall munlockall \
        io_setup io_destroy remap_file_pages mbind set_mempolicy get_mempolicy migrate_pages move_pages mlock2 \
        pkey_mprotect io_uring_register set_mempolicy_home_node
        """
    static let creds = """
        getuid getgid setuid setgid geteuid getegid setreuid setregid getgroups setgroups setresuid getresuid \
        setresgid getresgid setfsuid setfsgid capget capset prctl
        """
    static let clock = "gettimeofday adjtimex settimeofday time clock_settime clock_gettime clock_getres clock_adjtime"
    static let pure = "getpid getuid getgid geteuid getegid getppid getpgrp gettid"

    /// The names in class `name` (with its `%`), or nil for a class strace does not have.
    public static func members(_ name: String) -> [String]? {
        let list: String
        switch name {
        case "%desc": list = desc
        case "%file": list = file
        case "%process": list = process
        case "%network", "%net": list = network
        case "%signal": list = signal
        case "%ipc": list = ipc
        case "%memory": list = memory
        case "%creds": list = creds
        case "%clock": list = clock
        case "%pure": list = pure
        case "%stat": list = "stat"
        case "%lstat": list = "lstat"
        case "%fstat": list = "fstat newfstatat statx"
        case "%%stat": list = "stat fstat lstat newfstatat statx"
        case "%statfs": list = "statfs"
        case "%fstatfs": list = "fstatfs"
        case "%%statfs": list = "ustat statfs fstatfs"
        default: return nil
        }
        return list.split(separator: " ").map(String.init)
    }
}
