import Glibc

/// An address space whose guest code runs in host threads (stubs) that can
/// register the guest's `struct rseq` with the host kernel (rseq(2) run by
/// the stub itself): the host then keeps `cpu_id_start`/`cpu_id` current and
/// aborts the guest's critical sections on preemption, migration and signal
/// delivery of the stub, as it does for a native program. The area holds
/// guest addresses, which are the same in the stub.
///
/// Every call is made by a runner of the space, for its own stub, while the
/// stub is parked (its task is in the sentry). The space remembers each
/// stub's registration, so a stub that outlives its task (systrap's root
/// stub, recycled through the pool) drops it before its mappings go: with
/// the area unmapped the host would kill the stub at its next return to
/// user mode (kernel/rseq.c's force_sigsegv).
protocol HostRseq: AnyObject {
    /// rseq(2) in the calling runner's stub: nil if registered, else the
    /// host's errno (the caller then emulates).
    func registerHostRseq(area: GuestAddress, signature: UInt32) throws(PlatformError) -> Errno?
    /// Drops the calling runner's stub's registration, if it has one.
    func unregisterHostRseq() throws(PlatformError)
    /// Whether the calling runner's `leave` drops its stub's registration
    /// itself (the stub ends, or is emptied in a hand-off that drops it
    /// first), so that an exit need not make a round trip for it before.
    /// The registered area's page must then stay out of reuse until
    /// `leave` returns: the host writes the CPU number there whenever the
    /// stub wakes.
    var dropsRseqAtLeave: Bool { get }
    /// Whether a `map` that clears the space (an exec keeping its stub)
    /// drops the calling runner's stub's registration first, in the same
    /// hand-off, so that the exec need not make a round trip for it.
    var dropsRseqWhenCleared: Bool { get }
    /// The signal that killed the calling runner's stub; nil while it lives
    /// (or where a stub's death is seen otherwise: ptrace's stop first).
    var runnerDeathSignal: Int32? { get }
    /// Has the calling runner's stub make the registration as it next
    /// enters guest code, before the guest's first instruction, in the
    /// same hand-off; false where the platform cannot (the caller then
    /// calls `registerHostRseq`). Its outcome: `deferredRseqOutcome`.
    func registerHostRseqAtNextRun(area: GuestAddress, signature: UInt32) -> Bool
    /// What became of the calling runner's last `registerHostRseqAtNextRun`.
    var deferredRseqOutcome: DeferredHostRseq { get }
}

extension HostRseq {
    func registerHostRseqAtNextRun(area: GuestAddress, signature: UInt32) -> Bool { false }
    var deferredRseqOutcome: DeferredHostRseq { .pending }
}

/// A host registration asked for at the next entry into guest code.
enum DeferredHostRseq: Equatable {
    /// Not made yet (no entry since).
    case pending
    case registered
    /// The host's errno; the stub ran no guest code, and reported an interruption.
    case refused(Errno)
}

/// The rseq(2) calls a stub makes: its number, and the arguments of a
/// registration or an unregistration (32-byte area, 6.1's struct rseq).
enum HostRseqCall {
    static let nr: UInt64 = 334

    static let flagUnregister: UInt64 = 1
    static func register(_ area: GuestAddress, _ signature: UInt32) -> [UInt64] {
        [area.rawValue, UInt64(RseqABI.size), 0, UInt64(signature)]
    }
    static func unregister(_ r: RseqRegistration) -> [UInt64] {
        [r.area.rawValue, UInt64(RseqABI.size), flagUnregister, UInt64(r.signature)]
    }
    /// A raw stub result as nil (0) or its errno.
    static func outcome(_ raw: Int64) -> Errno? {
        raw == 0 ? nil : Errno(Int32(truncatingIfNeeded: raw < 0 && raw >= -4095 ? -raw : Int64(EIO)))
    }
}

/// How a stub died: the host kills a stub whose registered area or critical
/// section it cannot use (force_sigsegv), where Linux kills the guest thread
/// the same way. The task then dies of that SIGSEGV, not of a platform failure.
enum HostRseqDeath {
    static let P_PIDFD: idtype_t = idtype_t(rawValue: 3)
    static let CLD_KILLED: Int32 = 2, CLD_DUMPED: Int32 = 3

    /// The signal that killed the process behind `pidfd`, without reaping it; nil if alive or exited.
    static func signal(pidfd: Int32) -> Int32? {
        var info = siginfo_t()
        guard waitid(P_PIDFD, id_t(pidfd), &info, WEXITED | WNOWAIT | WNOHANG) == 0, info.si_signo == SIGCHLD,
              info.si_code == CLD_KILLED || info.si_code == CLD_DUMPED else { return nil }
        return info._sifields._sigchld.si_status
    }
}
