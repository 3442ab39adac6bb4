import Glibc

/// Clock reads the guest's side answers itself. Without a vDSO every
/// `clock_gettime` is a syscall, and it is the call real programs make most
/// (a Go program's scheduler, CPython's start-up: 150-500 each). For the
/// clocks the sentry only passes through from the host, a systrap stub
/// makes the host's call itself at a patched site and returns to the guest,
/// with no hand-off (stub.c, SW_AREA_FAST_CLOCKS). This says when it may.
extension Task {
    /// The clock ids (a bit each) the task's guest side may read itself.
    /// None while something must see every call: a tracer (`--strace` or
    /// `sentry trace`) that shows clock_gettime, a guest tracer, Syscall User
    /// Dispatch, strict seccomp. Under seccomp filters, the clocks whose reads
    /// every filter allows whatever else the call holds (SeccompFilter's
    /// `clockReadsAllowed`: a container's default profile). Nor the
    /// boot-based clocks while the guest's run on an offset (a restored
    /// sandbox: GuestClock).
    /// Each of those starts while the task is in the sentry, or kicks it
    /// out of guest code (a live tracer, TSYNC), so the next run has it.
    var guestSideClockReads: UInt64 {
        if traced.load(ordering: .relaxed) || kernel.tracer?.wants(nr: SyscallNumber.clock_gettime) == true { return 0 }
        let (sud, mode, filtered) = attributes.withLock {
            ($0.syscallUserDispatch.on, $0.seccomp.mode, $0.seccomp.filter?.clockReadsAllowed ?? 0)
        }
        if sud || (mode != Seccomp.SECCOMP_MODE_DISABLED && mode != Seccomp.SECCOMP_MODE_FILTER) { return 0 }
        let clocks = GuestClock.monotonicOffset == 0 ? GuestClock.hostClockMask : Self.hostWallClocks
        return mode == Seccomp.SECCOMP_MODE_FILTER ? clocks & filtered : clocks
    }

    private static let hostWallClocks = GuestClock.hostClocks.filter { !GuestClock.isMonotonic($0) }.reduce(UInt64(0)) { $0 | 1 << UInt64($1) }
}
