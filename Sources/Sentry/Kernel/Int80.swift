/// `int $0x80` from 64-bit code. The sentry presents a kernel built without
/// IA32_EMULATION (issue 17: "refused with the signal Linux gives without
/// IA32 emulation"): there vector 0x80 is an interrupt gate of privilege 0,
/// so the instruction raises #GP with the vector's error code
/// ((0x80 << 3) | 2, IDT) before any syscall entry, and
/// do_general_protection forces SIGSEGV with SI_KERNEL and no address. No
/// Syscall User Dispatch, seccomp filter or tracer ever sees it.
///
/// The host here may have IA32 emulation, so the instruction reaches the
/// sentry as a syscall trap (a PTRACE_SYSEMU stop, SUD's or the stub
/// filter's SIGSYS); `Kernel.dispatch` recognises it by its bytes and
/// comes here instead.
extension Task {
    /// The fault's error code: IDT vector 0x80, external bit clear.
    static let int80ErrorCode: UInt64 = 0x80 << 3 | 2

    func int80WithoutIA32Emulation() -> SyscallOutcome {
        // A fault: rip stays on the instruction, rax as it was (the host's
        // entry kept only its low 32 bits in orig_rax, the number it read).
        regs.ip = regs.ip &- SyscallABI.instructionLength
        regs.raw.rax = regs.raw.orig_rax
        SyscallABI.leaveSyscall(&regs.raw)
        var info = SignalInfo(.SIGSEGV, code: SignalInfo.SI_KERNEL)
        info.trapNumber = SigContext.trapGeneralProtection
        info.errorCode = Self.int80ErrorCode
        force(info)
        return .replacedRegisters
    }
}
