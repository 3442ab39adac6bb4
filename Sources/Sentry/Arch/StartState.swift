/// The machine state a new program starts with (start_thread_common and
/// ELF_PLAT_INIT): every general register zero but rip and rsp, no FS or GS
/// base, and rflags with only IF (and the always-set bit 1).
public enum StartState {
    /// X86_EFLAGS_IF | X86_EFLAGS_FIXED.
    public static let rflags: UInt64 = 0x202
}
