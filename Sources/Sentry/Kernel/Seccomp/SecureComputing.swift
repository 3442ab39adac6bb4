/// What a task's seccomp state does to one syscall (__secure_computing),
/// after Syscall User Dispatch and after the tracer has seen the entry, as
/// syscall_trace_enter orders them.
enum SeccompVerdict {
    /// The syscall runs.
    case run
    /// It does not run; rax gets this value (ERRNO, TRAP's rolled-back
    /// number, TRACE or USER_NOTIF without anyone to answer: ENOSYS, a
    /// supervisor's reply).
    case skip(Int64)
    /// do_exit(sig): the thread ends here, the syscall never returns.
    case killedThread(Signal)
    /// SECCOMP_RET_TRACE with a tracer that asked for PTRACE_O_TRACESECCOMP:
    /// a PTRACE_EVENT_SECCOMP stop with the filter's data, then the filters again.
    case trace(UInt32)
}

extension Task {
    /// `afterTrace`: the recheck once a tracer has seen a RET_TRACE (a second TRACE allows).
    func secureComputing(_ state: SeccompState, nr: UInt64, args: SyscallArguments, arch: UInt32, afterTrace: Bool = false) -> SeccompVerdict {
        let rollback = Int64(bitPattern: nr)
        switch state.mode {
        case Seccomp.SECCOMP_MODE_STRICT:
            if Seccomp.strictAllowed.contains(nr) { return .run }
            return .killedThread(.SIGKILL)
        case Seccomp.SECCOMP_MODE_FILTER:
            break
        default:
            return .run
        }
        guard let chain = state.filter else {
            // Never: a filter mode without a filter fails closed, as Linux's WARN_ON.
            forceExit(.SIGSYS)
            return .skip(rollback)
        }
        var data = SeccompData(nr: Int32(truncatingIfNeeded: nr), instructionPointer: regs.ip, args: args)
        data.arch = arch
        let (ret, match) = chain.evaluate(data)
        let action = ret & Seccomp.SECCOMP_RET_ACTION_FULL
        let value = ret & Seccomp.SECCOMP_RET_DATA
        switch action {
        case Seccomp.SECCOMP_RET_ALLOW, Seccomp.SECCOMP_RET_LOG:
            return .run
        case Seccomp.SECCOMP_RET_ERRNO:
            return .skip(-Int64(min(value, Seccomp.maxErrno)))
        case Seccomp.SECCOMP_RET_TRAP:
            force(seccompSignal(nr: nr, data: value, arch: arch))
            return .skip(rollback)
        case Seccomp.SECCOMP_RET_TRACE:
            if afterTrace { return .run }
            // Without a tracer that asked for PTRACE_O_TRACESECCOMP: ENOSYS, not run.
            guard ptraceWants(PtraceABI.PTRACE_EVENT_SECCOMP) else { return .skip(-Int64(Errno.ENOSYS.rawValue)) }
            return .trace(value)
        case Seccomp.SECCOMP_RET_USER_NOTIF:
            guard let listener = match.listener else { return .skip(-Int64(Errno.ENOSYS.rawValue)) }
            return listener.notify(self, data)
        default:
            // KILL_PROCESS, KILL_THREAD and anything unknown: the thread alone
            // dies only if others of its process live on.
            attributes.withLock { $0.seccomp.mode = Seccomp.SECCOMP_MODE_DEAD }
            let last = kernel.locked { group.tasks.count == 1 }
            if action == Seccomp.SECCOMP_RET_KILL_THREAD && !last { return .killedThread(.SIGSYS) }
            // force_sig_seccomp(..., force_coredump): HANDLER_EXIT, whose
            // SA_IMMUTABLE also hides the delivery from a tracer. The call
            // still returns (rolled back) before the signal kills: a tracer
            // sees its exit with the number in rax.
            forceExit(.SIGSYS)
            return .skip(rollback)
        }
    }

    func seccompSignal(nr: UInt64, data: UInt32, arch: UInt32) -> SignalInfo {
        var info = SignalInfo(.SIGSYS, code: Seccomp.SYS_SECCOMP)
        info.address = regs.ip
        info.errno = Int32(data)
        info.syscall = Int32(truncatingIfNeeded: nr)
        info.arch = arch
        return info
    }

    /// force_exit_sig / HANDLER_EXIT: a signal no handler, mask or init's
    /// protection can stop; the process dies of it.
    func forceExit(_ sig: Signal) {
        kernel.locked { kernel.killGroupLocked(group, .signaled(sig, coreDumped: false)) }
    }
}
