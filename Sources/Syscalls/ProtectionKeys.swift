import Sentry

/// Memory protection keys (mm/mprotect.c, arch/x86/include/asm/pkeys.h) as
/// Linux gives them on a CPU without PKU, which is what the sandbox
/// presents: the guest's PKRU is never switched by the sentry, so no key can
/// be honoured. pkey_alloc finds key 0 free but cannot set its rights
/// (arch_set_user_pkey_access: EINVAL), pkey_free has nothing to free
/// (EINVAL), and pkey_mprotect is mprotect for key -1 and EINVAL for any
/// other, after mprotect's own argument checks.
enum ProtectionKeys {
    /// PKEY_DISABLE_ACCESS | PKEY_DISABLE_WRITE.
    static let accessMask: UInt64 = 0x3

    static func pkeyAlloc(_ t: Task, _ a: SyscallArguments) throws(Errno) -> Int64 {
        guard a[0] == 0, a[1] & ~accessMask == 0 else { throw .EINVAL }
        throw .EINVAL
    }

    static func pkeyFree(_ t: Task, _ a: SyscallArguments) throws(Errno) -> Int64 {
        throw .EINVAL
    }

    static func pkeyMprotect(_ t: Task, _ a: SyscallArguments) throws(Errno) -> Int64 {
        try Memory.protect(t, a, pkey: a.int32(3))
    }
}
