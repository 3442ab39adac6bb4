import Glibc

/// Calls the guest's side answers itself, with no hand-off to the sentry
/// (systrap's stub, at a patched site, and for rt_sigprocmask also after
/// the SIGSYS of a site it cannot patch: stub.c).
/// - Clock reads. Without a vDSO every `clock_gettime` is a syscall, and it
///   is the call real programs make most (a Go program's scheduler,
///   CPython's start-up: 150-500 each). For the clocks the sentry only
///   passes through from the host, the stub makes the host's call itself
///   (SW_AREA_FAST_CLOCKS).
/// - `rt_sigprocmask`, while the task's mask is kept in the stub's area
///   (GuestSideSignalMask.swift): four of the ten calls of a thread's
///   create and join in glibc, and around every fork and `posix_spawn`.
/// - `set_robust_list`, the head recorded in the stub's area
///   (GuestSideRobustList.swift): once in every new thread, fork's child
///   and program.
/// This says when each may.
struct GuestSideCalls: Sendable {
    /// The clock ids (a bit each) the guest's side may read itself.
    var clocks: UInt64
    /// Whether it may keep the signal mask.
    var signalMask: Bool
    /// Whether it may record the robust-list head.
    var robustList: Bool
}

extension Task {
    /// The calls a guest's side may serve: a tracer that shows any of them
    /// turns that off (`guestSideCalls`), and one attached live kicks every
    /// task out of guest code first (`Kernel.attachTracer`).
    static let guestSideCallNumbers = [SyscallNumber.clock_gettime, SyscallNumber.rt_sigprocmask,
                                       SyscallNumber.set_robust_list]

    /// What the task's guest side may serve itself. Nothing while something
    /// must see every such call: a tracer (`--strace` or `sentry trace`)
    /// that shows it, a guest tracer, Syscall User Dispatch, strict
    /// seccomp. Under seccomp filters, only the calls every filter allows
    /// whatever else the call holds (SeccompFilter's `clockReadsAllowed`,
    /// `signalMaskChangesAllowed` and `robustListSetAllowed`: a container's
    /// default profile). Nor the boot-based clocks while the guest's run
    /// on an offset (a restored sandbox: GuestClock).
    /// Each of those starts while the task is in the sentry, or kicks it
    /// out of guest code (a live tracer, TSYNC), so the next run has it.
    var guestSideCalls: GuestSideCalls {
        let none = GuestSideCalls(clocks: 0, signalMask: false, robustList: false)
        if traced.load(ordering: .relaxed) { return none }
        let tracer = kernel.tracer
        let (sud, mode, filter) = attributes.withLock { ($0.syscallUserDispatch.on, $0.seccomp.mode, $0.seccomp.filter) }
        if sud || (mode != Seccomp.SECCOMP_MODE_DISABLED && mode != Seccomp.SECCOMP_MODE_FILTER) { return none }
        let filtered = mode == Seccomp.SECCOMP_MODE_FILTER
        var clocks = GuestClock.monotonicOffset == 0 ? GuestClock.hostClockMask : GuestClock.hostWallClockMask
        if filtered { clocks &= filter?.clockReadsAllowed ?? 0 }
        if tracer?.wants(nr: SyscallNumber.clock_gettime) == true { clocks = 0 }
        let mask = !(filtered && filter?.signalMaskChangesAllowed != true) && tracer?.wants(nr: SyscallNumber.rt_sigprocmask) != true
        let robust = !(filtered && filter?.robustListSetAllowed != true) && tracer?.wants(nr: SyscallNumber.set_robust_list) != true
        return GuestSideCalls(clocks: clocks, signalMask: mask, robustList: robust)
    }
}
