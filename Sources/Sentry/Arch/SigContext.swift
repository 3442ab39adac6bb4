import CSwitch

/// struct sigcontext (x86-64, uapi asm/sigcontext.h): the registers a signal
/// frame saves, in the order the kernel writes them. Used where a frame is
/// built (signal delivery) and read (rt_sigreturn, the systrap stub's trap frame).
public enum SigContext {
    /// r8..r15, rdi, rsi, rbp, rbx, rdx, rax, rcx, rsp, rip, eflags: eighteen
    /// 8-byte words from offset 0.
    public static let generalCount = 18
    public static let eflags = 136
    public static let cs = 144, gs = 146, fs = 148, ss = 150
    public static let err = 152, trapno = 160, oldmask = 168, cr2 = 176, fpstate = 184
    public static let size = 256

    /// trapno of a page fault (X86_TRAP_PF).
    public static let trapPageFault: UInt64 = 14
    /// trapno of a general protection fault (X86_TRAP_GP).
    public static let trapGeneralProtection: UInt64 = 13
    /// Page-fault error code bits (X86_PF_WRITE, X86_PF_INSTR).
    public static let faultWrite: UInt64 = 0x2, faultInstruction: UInt64 = 0x10
    /// X86_PF_PROT (a present page refused the access) and X86_PF_USER.
    public static let faultProtection: UInt64 = 0x1, faultUser: UInt64 = 0x4

    /// FIX_EFLAGS: the flags rt_sigreturn takes from the frame (AC, OF, DF,
    /// TF, SF, ZF, AF, PF, CF, RF); the rest stay as they are.
    public static let restorableFlags: UInt64 = 0x40000 | 0x800 | 0x400 | 0x100 | 0x80 | 0x40 | 0x10 | 0x4 | 0x1 | 0x10000
    /// Cleared on entry to a handler: DF, TF, RF.
    public static let handlerClearedFlags: UInt64 = 0x400 | 0x100 | 0x10000

    /// Reads the eighteen general words at `p` (a sigcontext) into `r`.
    public static func readGeneral(_ p: UnsafeRawPointer, into r: inout sw_regs) {
        func g(_ i: Int) -> UInt64 { p.loadUnaligned(fromByteOffset: i * 8, as: UInt64.self) }
        r.r8 = g(0); r.r9 = g(1); r.r10 = g(2); r.r11 = g(3); r.r12 = g(4); r.r13 = g(5); r.r14 = g(6); r.r15 = g(7)
        r.rdi = g(8); r.rsi = g(9); r.rbp = g(10); r.rbx = g(11); r.rdx = g(12); r.rax = g(13); r.rcx = g(14)
        r.rsp = g(15); r.rip = g(16); r.eflags = g(17)
    }

    /// Writes the eighteen general words of `r` at `p` (a sigcontext).
    public static func writeGeneral(_ r: sw_regs, to p: UnsafeMutableRawPointer) {
        func s(_ i: Int, _ x: UInt64) { p.storeBytes(of: x, toByteOffset: i * 8, as: UInt64.self) }
        s(0, r.r8); s(1, r.r9); s(2, r.r10); s(3, r.r11); s(4, r.r12); s(5, r.r13); s(6, r.r14); s(7, r.r15)
        s(8, r.rdi); s(9, r.rsi); s(10, r.rbp); s(11, r.rbx); s(12, r.rdx); s(13, r.rax); s(14, r.rcx)
        s(15, r.rsp); s(16, r.rip); s(17, r.eflags)
    }

    /// writeGeneral into a frame that already holds the registers as they
    /// were read: only the words that differ are stored. Where the frame is
    /// shared with a stub on another CPU, a line the sentry does not write
    /// stays in the stub's cache (after a getppid, only rax's line moves back).
    public static func writeGeneralChanges(_ r: sw_regs, to p: UnsafeMutableRawPointer) {
        func s(_ i: Int, _ x: UInt64) {
            if p.loadUnaligned(fromByteOffset: i * 8, as: UInt64.self) != x { p.storeBytes(of: x, toByteOffset: i * 8, as: UInt64.self) }
        }
        s(0, r.r8); s(1, r.r9); s(2, r.r10); s(3, r.r11); s(4, r.r12); s(5, r.r13); s(6, r.r14); s(7, r.r15)
        s(8, r.rdi); s(9, r.rsi); s(10, r.rbp); s(11, r.rbx); s(12, r.rdx); s(13, r.rax); s(14, r.rcx)
        s(15, r.rsp); s(16, r.rip); s(17, r.eflags)
    }
}
