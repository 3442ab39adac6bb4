import Sentry

/// seccomp(2) and prctl(PR_SET_SECCOMP): do_seccomp's dispatch on the
/// operation; the work is the task's (Kernel/Seccomp/).
enum SeccompCalls {
    static func seccomp(_ t: Task, _ a: SyscallArguments) throws(Errno) -> Int64 {
        try operate(t, op: a[0] & 0xffff_ffff, flags: a[1] & 0xffff_ffff, args: a.address(2))
    }

    static func operate(_ t: Task, op: UInt64, flags: UInt64, args: GuestAddress) throws(Errno) -> Int64 {
        switch op {
        case Seccomp.SECCOMP_SET_MODE_STRICT:
            guard flags == 0, args.isNull else { throw .EINVAL }
            try t.seccompSetModeStrict()
            return 0
        case Seccomp.SECCOMP_SET_MODE_FILTER:
            return try t.seccompSetModeFilter(flags: flags, fprog: args)
        case Seccomp.SECCOMP_GET_ACTION_AVAIL:
            guard flags == 0 else { throw .EINVAL }
            try t.seccompActionAvailable(args)
            return 0
        case Seccomp.SECCOMP_GET_NOTIF_SIZES:
            guard flags == 0 else { throw .EINVAL }
            try t.seccompNotifSizes(args)
            return 0
        default:
            throw .EINVAL
        }
    }

    /// prctl_set_seccomp: strict mode ignores the filter argument; no flags.
    static func prctlSetSeccomp(_ t: Task, mode: UInt64, filter: GuestAddress) throws(Errno) -> Int64 {
        switch mode {
        case UInt64(Seccomp.SECCOMP_MODE_STRICT): return try operate(t, op: Seccomp.SECCOMP_SET_MODE_STRICT, flags: 0, args: .null)
        case UInt64(Seccomp.SECCOMP_MODE_FILTER): return try operate(t, op: Seccomp.SECCOMP_SET_MODE_FILTER, flags: 0, args: filter)
        default: throw .EINVAL
        }
    }
}
