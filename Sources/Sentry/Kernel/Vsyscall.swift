/// The legacy vsyscall page, emulated as Linux 6.1 does with its default
/// `vsyscall=xonly` (emulate_vsyscall): a call into the page faults, and the
/// kernel serves gettimeofday, time or getcpu and returns to the caller.
///
/// The host kernel would emulate the call itself, in the stub: the stub's
/// seccomp filter traps any call made from the page (the host's emulation
/// consults seccomp), and the platform reports `.vsyscall` with the
/// registers as at the fault (rip the entry, rsp at the return address).
extension Task {
    func emulateVsyscall() -> SyscallOutcome {
        SyscallABI.leaveSyscall(&regs.raw)
        // A misaligned entry or an unreadable return address: SIGSEGV, the
        // registers left at the fault.
        guard let entry = VsyscallPage.entry(at: regs.ip),
              let caller = try? mm.read(GuestAddress(regs.sp), as: UInt64.self) else {
            force(SignalInfo(.SIGSEGV, code: SignalInfo.SI_KERNEL))
            return .replacedRegisters
        }
        let a = regs.raw
        let nr: UInt64, args: SyscallArguments
        let outputs: [(address: UInt64, size: UInt64)]
        switch entry {
        case 0:
            nr = SyscallNumber.gettimeofday; args = SyscallArguments(a.rdi, a.rsi)
            outputs = [(a.rdi, 16), (a.rsi, 8)]   // struct __kernel_old_timeval, struct timezone
        case 1:
            nr = SyscallNumber.time; args = SyscallArguments(a.rdi)
            outputs = [(a.rdi, 8)]
        default:
            // getcpu's third argument (the old tcache) is passed as NULL.
            nr = SyscallNumber.getcpu; args = SyscallArguments(a.rdi, a.rsi, 0)
            outputs = [(a.rdi, 4), (a.rsi, 4)]
        }
        // write_ok_or_segv: a pointer past user space is a page fault on it
        // (NULL is valid and means "don't write").
        for o in outputs {
            let (end, over) = o.address.addingReportingOverflow(o.size)
            if over || end > RseqABI.taskSize {
                var info = SignalInfo(.SIGSEGV, code: SignalInfo.SEGV_MAPERR)
                info.address = o.address
                info.trapNumber = SigContext.trapPageFault
                info.errorCode = SigContext.faultUser | SigContext.faultWrite
                force(info)
                return .replacedRegisters
            }
        }
        // The guest's seccomp filters see the call at the entry's address;
        // no tracer does (the emulation makes no syscall stop).
        let seccomp = attributes.withLock { $0.seccomp }
        var verdict = SeccompVerdict.run
        if seccomp.mode != Seccomp.SECCOMP_MODE_DISABLED {
            verdict = secureComputing(seccomp, nr: nr, args: args, arch: SeccompData.AUDIT_ARCH_X86_64)
        }
        let result: Int64
        switch verdict {
        case .killedThread(let sig):
            return .killedThread(sig)
        case .skip(let r):
            result = r
        case .run, .trace:
            // (A RET_TRACE's PTRACE_EVENT_SECCOMP stop is not given for a
            // vsyscall; the call runs as after a tracer that let it.)
            guard let implementation = kernel.table[nr]?.implementation else {
                result = -Int64(Errno.ENOSYS.rawValue)
                break
            }
            let outcome = implementation(self, args)
            guard case .value(let v) = outcome else { return outcome }
            // "With a real vsyscall, page faults cause SIGSEGV."
            if v == -Int64(Errno.EFAULT.rawValue) {
                force(SignalInfo(.SIGSEGV, code: SignalInfo.SI_KERNEL))
                return .replacedRegisters
            }
            result = v
        }
        // Emulate a ret.
        regs.ip = caller
        regs.sp = regs.sp &+ 8
        return .value(result)
    }
}
