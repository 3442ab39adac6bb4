import CSwitch

/// The x86-64 `syscall` instruction's register contract (arch/x86/entry/entry_64.S):
/// rax carries the number in and the result out; the arguments are rdi, rsi,
/// rdx, r10, r8, r9; the CPU leaves the return address in rcx and rflags in
/// r11. At a syscall stop the kernel keeps the number in orig_rax and puts
/// -ENOSYS in rax; orig_rax of -1 means "not in a syscall", which is what
/// turns the restart rules off.
public enum SyscallABI {
    /// orig_rax outside a syscall.
    public static let notInSyscall = UInt64.max
    /// `syscall` (0f 05) is two bytes: a restart backs rip up by this much.
    public static let instructionLength: UInt64 = 2
    /// `int $0x80` (cd 80, read as a little-endian word): the i386 entry, as
    /// long as `syscall`, which also stops under PTRACE_SYSEMU.
    public static let int80Instruction: UInt16 = 0x80cd

    /// The registers no longer describe a syscall in progress (a new image, a
    /// signal frame, an interrupt): nothing to restart.
    public static func leaveSyscall(_ r: inout sw_regs) { r.orig_rax = notInSyscall }

    public static func inSyscall(_ r: sw_regs) -> Bool { r.orig_rax != notInSyscall }

    /// What the kernel's entry does at a trapped `syscall`: the number moves
    /// to orig_rax and rax holds -ENOSYS until a result replaces it.
    public static func enterSyscall(_ r: inout sw_regs) {
        r.orig_rax = r.rax
        r.rax = UInt64(bitPattern: -Int64(Errno.ENOSYS.rawValue))
    }

    /// After `syscall`, rcx holds the return address (rip); after `int $0x80` it
    /// is the guest's own value.
    /// The number a syscall's rax names, as entry_SYSCALL_64 passes it to
    /// do_syscall_64: the low 32 bits, sign-extended.
    public static func number(_ rax: UInt64) -> UInt64 {
        UInt64(bitPattern: Int64(Int32(truncatingIfNeeded: rax)))
    }

    public static func rcxHoldsReturnAddress(_ r: sw_regs) -> Bool { r.rcx == r.rip }
}
