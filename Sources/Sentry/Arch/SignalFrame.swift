/// struct rt_sigframe (arch/x86/include/asm/sigframe.h): the return address
/// (the guest's sa_restorer), a ucontext, and the siginfo. The XSAVE image sits
/// above it, 64-byte aligned and followed by FP_XSTATE_MAGIC2; get_sigframe
/// places both below the red zone or at the top of the alternate stack.
public enum SignalFrame {
    public static let pretcode = 0
    public static let ucontext = 8
    public static let siginfo = ucontext + UContext.size
    public static let siginfoSize = 128
    public static let size = UInt64(siginfo + siginfoSize)
    /// The sigcontext and the saved mask, as offsets in the frame.
    public static let sigcontext = ucontext + UContext.mcontext
    public static let sigmask = ucontext + UContext.sigmask

    /// The 128 bytes below rsp that leaf functions may use.
    public static let redZone: UInt64 = 128

    /// Where the XSAVE image of `imageSize` bytes (magic2 included) goes, below `sp`.
    public static func xstateAddress(below sp: UInt64, imageSize: Int) -> UInt64 {
        (sp &- UInt64(imageSize)) & ~63
    }

    /// Where the frame goes, below `sp`: 16-byte aligned, minus 8 as if a
    /// call had pushed the return address.
    public static func frameAddress(below sp: UInt64) -> UInt64 {
        ((sp &- size) & ~15) &- 8
    }

    /// rt_sigreturn finds the frame at rsp - 8: the handler's `ret` popped pretcode.
    public static func frameAddress(atReturn sp: UInt64) -> UInt64 { sp &- 8 }
}
