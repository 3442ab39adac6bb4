/// x86-64 syscall numbers (arch/x86/entry/syscalls/syscall_64.tbl) that the
/// sentry itself uses: calls it has its stubs run on the host, and the number
/// a restart re-enters. The guest's table is Sources/Syscalls/Linux64.swift;
/// a unit test checks these against its names.
public enum SyscallNumber {
    public static let mmap: UInt64 = 9
    public static let mprotect: UInt64 = 10
    public static let munmap: UInt64 = 11
    /// What a restored systrap task traps once to get its FPU frame (Checkpoint/Restore.swift).
    public static let getpid: UInt64 = 39
    public static let restart_syscall: UInt64 = 219
    /// A systrap stub reads its own usage at an exit trap and when emptied.
    public static let getrusage: UInt64 = 98
    /// systrap's code patching synchronises the CPUs of a stub's mm with it.
    public static let membarrier: UInt64 = 324
    /// What the vsyscall page's three entries call (Kernel/Vsyscall.swift).
    public static let gettimeofday: UInt64 = 96
    public static let time: UInt64 = 201
    public static let getcpu: UInt64 = 309
    /// A systrap stub serves a patched site's call itself (Kernel/GuestSideCalls.swift).
    public static let clock_gettime: UInt64 = 228
    public static let rt_sigprocmask: UInt64 = 14
    public static let set_robust_list: UInt64 = 273
    /// Calls whose handling reads the trapped task's FPU state (a new task
    /// inherits it, an exec resets it): systrap leaves their sites to the
    /// trap (SyscallPatches.swift).
    public static let clone: UInt64 = 56
    public static let fork: UInt64 = 57
    public static let vfork: UInt64 = 58
    public static let execve: UInt64 = 59
    public static let execveat: UInt64 = 322
    public static let clone3: UInt64 = 435
}
