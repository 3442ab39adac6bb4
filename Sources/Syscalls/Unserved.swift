import Sentry

/// Kernel features the sandbox does not serve, answered with the errno
/// Linux 6.1 as Debian 12 configures it gives an unprivileged process, so
/// programs take the fallback they already have for such a kernel. Each
/// entry's note in Linux64.swift says why.
enum Unserved {
    static let CAP_PERFMON = 38, CAP_BPF = 39

    /// perf_event_open(attr, pid, cpu, group_fd, flags): Debian's
    /// perf_event_paranoid=3 refuses every unprivileged caller (EACCES)
    /// once the flags and the attribute's size are checked. The sandbox has
    /// no counters to offer a privileged one either: ENOENT, as a kernel
    /// with no PMU that knows the event type answers.
    static func perfEventOpen(_ t: Task, _ a: SyscallArguments) throws(Errno) -> Int64 {
        // PERF_FLAG_FD_NO_GROUP, FD_OUTPUT, PID_CGROUP, FD_CLOEXEC.
        guard a[4] & ~UInt64(0xf) == 0 else { throw .EINVAL }
        // perf_copy_attr: the size field (offset 4), 0 meaning version 0's 64 bytes; at most a page.
        // A size Linux cannot take is E2BIG, with the size it knows written
        // back; bytes past that size must be zero (copy_struct_from_user).
        // The attribute's fields themselves are not validated here.
        let size = try t.mm.read(a.address(0) + 4, as: UInt32.self)
        let effective = size == 0 ? 64 : Int(size)
        let known = 128   // sizeof(struct perf_event_attr) in 6.1: PERF_ATTR_SIZE_VER7
        let bytes = effective >= 64 && effective <= 4096 ? try t.mm.copyIn(a.address(0), effective) : []
        if bytes.isEmpty || bytes[min(known, bytes.count)...].contains(where: { $0 != 0 }) {
            try t.mm.write(a.address(0) + 4, UInt32(known))
            throw .E2BIG
        }
        guard Creds.creds(t).capable(Credentials.CAP_SYS_ADMIN) else { throw .EACCES }
        throw .ENOENT
    }

    /// bpf(cmd, attr, size): Debian's unprivileged_bpf_disabled=2 refuses
    /// BPF_MAP_CREATE and BPF_PROG_LOAD without CAP_BPF or CAP_SYS_ADMIN,
    /// and without them no BPF object can exist for any other command to
    /// act on. The sandbox has no verifier or maps, so every command is
    /// EPERM, privileged or not.
    static func bpf(_ t: Task, _ a: SyscallArguments) throws(Errno) -> Int64 {
        throw .EPERM
    }

    /// userfaultfd(flags): vm.unprivileged_userfaultfd=0 refuses an
    /// unprivileged caller that asks for kernel faults too (no
    /// UFFD_USER_MODE_ONLY, no CAP_SYS_PTRACE): EPERM, as 6.1. Where Linux
    /// would make one, ENOSYS: the sentry does not hand guest page faults
    /// to a user handler.
    static func userfaultfd(_ t: Task, _ a: SyscallArguments) throws(Errno) -> Int64 {
        let UFFD_USER_MODE_ONLY: UInt32 = 1
        if a.uint32(0) & UFFD_USER_MODE_ONLY == 0, !Creds.creds(t).capable(Credentials.CAP_SYS_PTRACE) { throw .EPERM }
        throw .ENOSYS
    }

    /// memfd_secret(flags): ENOSYS before anything else when the kernel was
    /// booted without secretmem.enable=1, Debian's default.
    static func memfdSecret(_ t: Task, _ a: SyscallArguments) throws(Errno) -> Int64 {
        throw .ENOSYS
    }

    /// set_thread_area, get_thread_area: numbers the x86-64 table reserves
    /// with no entry point ("64" entries without sys_*), so 6.1 answers a
    /// 64-bit caller ENOSYS; only the i386 table serves them.
    static func i386Only(_ t: Task, _ a: SyscallArguments) throws(Errno) -> Int64 {
        throw .ENOSYS
    }
}
