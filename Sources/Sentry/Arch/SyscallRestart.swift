import CSwitch

/// Restarting a syscall a signal interrupted (arch/x86/kernel/signal.c,
/// arch_do_signal_or_restart and handle_signal): a handler that blocked
/// returns one of the kernel-internal ERESTART* codes, and signal delivery
/// turns it into a restart or EINTR.
public enum SyscallRestart {
    public enum Outcome: Equatable {
        /// rax held no restart code (or the registers are not in a syscall).
        case none
        /// The syscall returns EINTR.
        case interrupted(Errno)
        /// rip points at the `syscall` again, with the number to run in rax.
        case restarted(Errno)
    }

    /// Applies the rules for a signal with `handler` (nil: no handler runs,
    /// the signal was ignored or stopped the task) to `r`.
    public static func apply(_ r: inout sw_regs, handler: SignalAction?) -> Outcome {
        guard SyscallABI.inSyscall(r) else { return .none }
        // rax is whatever a tracer left there (any 64-bit value): compared
        // as it is, negated only once known to be a small restart code.
        let result = Int64(bitPattern: r.rax)
        guard isRestartCode(result) else { return .none }
        let code = Errno(Int32(-result))
        let restart: Bool
        switch code {
        case .ERESTARTSYS: restart = handler.map { $0.flags & SignalAction.SA_RESTART != 0 } ?? true
        case .ERESTARTNOINTR: restart = true
        case .ERESTARTNOHAND, .ERESTART_RESTARTBLOCK: restart = handler == nil
        default: return .none
        }
        if !restart {
            r.rax = UInt64(bitPattern: -Int64(Errno.EINTR.rawValue))
            return .interrupted(code)
        }
        r.rax = code == .ERESTART_RESTARTBLOCK ? SyscallNumber.restart_syscall : r.orig_rax
        r.rip &-= SyscallABI.instructionLength
        return .restarted(code)
    }

    /// Whether `result` is one of the codes a guest never sees.
    public static func isRestartCode(_ result: Int64) -> Bool {
        result <= -Int64(Errno.ERESTARTSYS.rawValue) && result >= -Int64(Errno.ERESTART_RESTARTBLOCK.rawValue)
    }
}
