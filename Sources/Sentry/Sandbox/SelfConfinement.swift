import CSwitch
import Glibc

/// The sentry's own seccomp filter, as gVisor's Sentry has one: once the
/// sandbox is built and the first guest loaded, every sentry thread may make
/// only the host calls serving guests needs. A bug that lets a guest steer
/// the sentry into some other call (execve, a new host process, ptrace of
/// something else, mount, ...) ends the sentry instead.
///
/// Stubs are spawned by sentry threads, so they inherit the filter under
/// their own: it must allow what they do themselves (their set-up, the
/// calls the sentry injects). Guest syscalls never reach it under ptrace
/// (PTRACE_SYSEMU stops before seccomp) or Syscall User Dispatch (dispatched
/// before seccomp); under systrap's seccomp trap they do, and their stub's
/// filter answers SECCOMP_RET_TRAP, which a kill here would override. So the
/// default action is SECCOMP_RET_KILL_PROCESS, but SECCOMP_RET_TRAP with
/// `--systrap-trap seccomp`: in the sentry, which has no SIGSYS handler,
/// that is death by SIGSYS as well.
///
/// The list was taken from the kernel's log of `--self-confine log` runs of
/// the whole test suite on every platform (ptrace, systrap with SUD and with
/// seccomp, `--network host`); see README "Self-confinement".
public enum SelfConfinement {
    public enum Mode: String, Sendable { case on, log, off }

    /// Calls allowed with any arguments, on every platform.
    static let anyArguments: [String] = [
        // Files: guest file I/O on host files, the path walk (openat2 beneath
        // a mount's directory fd), host directories, the memory file.
        "read", "write", "readv", "writev", "pread64", "pwrite64", "preadv", "pwritev", "preadv2", "pwritev2",
        "open", "openat", "openat2", "close", "close_range", "dup", "dup2", "dup3", "fcntl", "flock", "lseek",
        "fstat", "newfstatat", "statx", "statfs", "fstatfs", "getdents64", "readlinkat", "faccessat", "faccessat2",
        "mkdirat", "mknodat", "unlinkat", "renameat", "renameat2", "linkat", "symlinkat", "fchmod", "fchmodat",
        "fchown", "fchownat", "chmod", "utimensat", "truncate", "ftruncate", "fallocate", "fsync", "fdatasync", "sync_file_range",
        "fgetxattr", "fsetxattr", "flistxattr", "fremovexattr", "getxattr", "lgetxattr", "listxattr", "llistxattr",
        "setxattr", "lsetxattr", "removexattr", "lremovexattr", "ioctl", "pipe2", "splice", "sendfile",
        "copy_file_range", "memfd_create", "eventfd2", "getcwd", "umask",
        // A host FIFO's blocking open waits in the sentry: opens of it
        // announced by inotify, a writer's presence probed by tee.
        "inotify_init1", "inotify_add_watch", "tee",
        // Memory: the sentry's own heap and its mapping of the memory file;
        // stubs' mmap/munmap/mprotect (injected).
        "mmap", "munmap", "mprotect", "mremap", "madvise", "brk", "msync", "mincore",
        // Threads, waiting, time.
        "futex", "set_robust_list", "get_robust_list", "rseq", "sched_yield", "sched_getaffinity",
        "sched_setaffinity",   // a guest's affinity, applied to its stub and sentry thread
        "getcpu", "nanosleep", "clock_nanosleep", "clock_gettime", "clock_getres", "gettimeofday", "time",
        "poll", "ppoll", "pselect6", "select", "epoll_create1", "epoll_ctl", "epoll_wait", "epoll_pwait",
        "exit", "exit_group", "wait4", "waitid", "membarrier", "pidfd_open",
        // Signals: kicks to stubs and threads, the forwarder, the stubs' own handlers.
        "rt_sigaction", "rt_sigprocmask", "rt_sigreturn", "rt_sigtimedwait", "rt_sigpending", "sigaltstack",
        "kill", "tgkill", "tkill", "pause",
        // Ids, limits and host facts the guest's view is built from.
        "getpid", "gettid", "getppid", "getuid", "geteuid", "getgid", "getegid", "getgroups", "getresuid",
        "getresgid", "getpgid", "getsid", "setpgid", "getrlimit", "setrlimit", "prlimit64", "getrusage",
        "times", "sysinfo", "uname", "getrandom", "getpriority",
    ]

    /// --network host (the guest's AF_INET/AF_INET6 sockets are the sentry's
    /// host sockets) and --publish (the sentry listens and connects for the port forwarders).
    static let hostNetwork: [String] = [
        "socket", "connect", "accept", "accept4", "bind", "listen", "shutdown", "getsockname", "getpeername",
        "getsockopt", "setsockopt", "sendto", "recvfrom", "sendmsg", "recvmsg", "sendmmsg", "recvmmsg",
    ]

    /// The ptrace requests the platforms use: stub start-up (TRACEME,
    /// SETOPTIONS, CONT, the register sets, DETACH for systrap) and, on the
    /// ptrace platform, running guests (SYSEMU, POKEUSER, GETSIGINFO,
    /// SEIZE and INTERRUPT for sibling stubs).
    static let ptraceStartRequests: [UInt64] = [0 /* TRACEME */, 7 /* CONT */, 0x11 /* DETACH */, 0x4200 /* SETOPTIONS */,
                                                0x4202 /* GETSIGINFO */, 0x4204 /* GETREGSET */, 0x4205 /* SETREGSET */]
    static let ptraceRunRequests: [UInt64] = [6 /* POKEUSER */, 31 /* SYSEMU */, 0x4206 /* SEIZE */, 0x4207 /* INTERRUPT */]

    /// The clones there are: glibc's threads, the vfork that starts a stub,
    /// and a stub's sibling (CLONE_VM|CLONE_PARENT). No fork of the sentry.
    static let cloneFlags: [UInt64] = [
        0x3d0f00,   // CLONE_VM|FS|FILES|SIGHAND|THREAD|SYSVSEM|SETTLS|PARENT_SETTID|CHILD_CLEARTID
        0x4111,     // CLONE_VM|CLONE_VFORK|SIGCHLD
        StubRegion.siblingCloneFlags,
    ]

    /// prctl options: the stubs' PDEATHSIG, NO_NEW_PRIVS and Syscall User
    /// Dispatch; thread names.
    static let prctlOptions: [UInt64] = [1 /* PR_SET_PDEATHSIG */, 15 /* PR_SET_NAME */, 16 /* PR_GET_NAME */,
                                         38 /* PR_SET_NO_NEW_PRIVS */, 59 /* PR_SET_SYSCALL_USER_DISPATCH */]

    /// The rules for a sandbox on `platform`.
    /// --name: the control socket (the socket calls above) and what a
    /// checkpoint writes (its image directory) and the socket's removal at exit.
    static let namedSandbox: [String] = ["mkdir", "mkdirat", "unlink", "unlinkat", "readlink", "readlinkat",
                                         "rename", "renameat", "fsync", "fdatasync", "ftruncate"]

    static func rules(platform: PlatformKind, hostSockets: Bool, control: Bool = false, stubImageFD: Int32,
                      number: (String) -> Int?) -> [HostFilter.Rule] {
        let allow = Seccomp.SECCOMP_RET_ALLOW
        var out: [HostFilter.Rule] = []
        func any(_ name: String) { if let n = number(name) { out.append(.init(nr: Int32(n), arg: nil, action: allow)) } }
        func with(_ name: String, arg: Int32, _ value: UInt64) {
            if let n = number(name) { out.append(.init(nr: Int32(n), arg: arg, value: value, action: allow)) }
        }
        anyArguments.forEach(any)
        if hostSockets || control { hostNetwork.forEach(any) }
        if control { namedSandbox.forEach(any) }
        for f in cloneFlags { with("clone", arg: 0, f) }
        // glibc tries clone3 first and falls back to clone on ENOSYS;
        // clone3's flags are in memory, where seccomp cannot look.
        if let n = number("clone3") {
            out.append(.init(nr: Int32(n), arg: nil, action: Seccomp.SECCOMP_RET_ERRNO | UInt32(ENOSYS)))
        }
        // The only program ever executed: the stub image, by its fd.
        with("execveat", arg: 0, UInt64(UInt32(bitPattern: stubImageFD)))
        for r in ptraceStartRequests { with("ptrace", arg: 0, r) }
        if platform == .ptrace { for r in ptraceRunRequests { with("ptrace", arg: 0, r) } }
        for o in prctlOptions { with("prctl", arg: 0, o) }
        with("arch_prctl", arg: 0, 0x1002)   // ARCH_SET_FS (a stub's guest TLS base)
        if platform != .ptrace { with("arch_prctl", arg: 0, 0x1001) }   // ARCH_SET_GS: a systrap stub's area, for patched sites
        with("seccomp", arg: 0, 1)           // SECCOMP_SET_MODE_FILTER: a stub's own, which only narrows
        return out
    }

    /// The compiled filter: the rules, and `defaultAction` for everything
    /// else, other ABIs included (the i386 one, int $0x80).
    static func filter(_ mode: Mode, platform: PlatformKind, seccompTrap: Bool, hostSockets: Bool, control: Bool,
                       stubImageFD: Int32, number: (String) -> Int?) -> [ClassicBPF.Instruction] {
        let action = mode == .log ? Seccomp.SECCOMP_RET_LOG
            : seccompTrap ? Seccomp.SECCOMP_RET_TRAP : Seccomp.SECCOMP_RET_KILL_PROCESS
        // The bad-arch action is the default: a kill would override the
        // RET_TRAP a systrap stub's filter gives a guest's int $0x80 under
        // the seccomp variant.
        return HostFilter(defaultAction: action, badArch: action,
                          rules: rules(platform: platform, hostSockets: hostSockets, control: control,
                                       stubImageFD: stubImageFD, number: number)).compile()
    }

    /// Loads the filter on every thread of the sentry at once (TSYNC).
    public static func install(_ mode: Mode, platform: PlatformKind, seccompTrap: Bool, hostSockets: Bool, control: Bool,
                               stubImageFD: Int32, number: (String) -> Int?) throws(Errno) {
        guard mode != .off else { return }
        let program = filter(mode, platform: platform, seccompTrap: seccompTrap, hostSockets: hostSockets, control: control,
                             stubImageFD: stubImageFD, number: number)
        let rc = HostFilter.install(program, allThreads: true)
        if rc != 0 { throw Errno(rc) }
    }
}
