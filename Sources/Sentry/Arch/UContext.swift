/// struct ucontext (x86-64, uapi asm/ucontext.h): flags, link, the stack_t
/// in force, the sigcontext (uc_mcontext) and the signal mask to restore.
public enum UContext {
    public static let flags = 0, link = 8
    /// stack_t: ss_sp, ss_flags, ss_size.
    public static let stackSP = 16, stackFlags = 24, stackSize = 32
    public static let mcontext = 40, sigmask = 296
    public static let size = 304

    /// uc_flags: the frame holds XSAVE state, saves ss, and rt_sigreturn must restore ss as saved.
    public static let UC_FP_XSTATE: UInt64 = 1, UC_SIGCONTEXT_SS: UInt64 = 2, UC_STRICT_RESTORE_SS: UInt64 = 4
}
