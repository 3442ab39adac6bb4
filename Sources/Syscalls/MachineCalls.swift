import Sentry

/// The x86 calls about the machine itself: I/O port permissions and the
/// local descriptor table (arch/x86/kernel/ioport.c, ldt.c).
enum MachineCalls {
    /// IO_BITMAP_BITS: the ports ioperm can name.
    static let ioBitmapBits: UInt64 = 65536

    /// ioperm(from, num, turn_on): turning ports on needs CAP_SYS_RAWIO on
    /// Linux; the sandbox never gives host I/O ports, so it is EPERM for
    /// everyone. Turning off with no bitmap yet is a no-op, as in Linux.
    static func ioperm(_ t: Task, _ a: SyscallArguments) throws(Errno) -> Int64 {
        let (end, wraps) = a[0].addingReportingOverflow(a[1])
        if wraps || end <= a[0] || end > ioBitmapBits { throw .EINVAL }
        if a.int32(2) != 0 { throw .EPERM }
        return 0
    }

    /// iopl(level): raising the level needs CAP_SYS_RAWIO; refused here as
    /// ioperm is. Staying at 0 is allowed.
    static func iopl(_ t: Task, _ a: SyscallArguments) throws(Errno) -> Int64 {
        let level = a.uint32(0)
        if level > 3 { throw .EINVAL }
        if level > 0 { throw .EPERM }
        return 0
    }

    static let ldtEntrySize: UInt64 = 8, ldtEntries: UInt64 = 8192

    /// modify_ldt(func, ptr, bytecount). A process never has an LDT here:
    /// reading it (func 0) gives 0 bytes, the default LDT (func 2) is 128
    /// zero bytes; installing segments (1, 0x11) is not offered, and like
    /// any other function answers ENOSYS. The result is an int returned as
    /// an unsigned one, as sys_modify_ldt does: errors come back as
    /// 0xffffffea, not -22.
    static func modifyLDT(_ t: Task, _ a: SyscallArguments) throws(Errno) -> Int64 {
        func int(_ r: Int32) -> Int64 { Int64(UInt32(bitPattern: r)) }
        switch a.int32(0) {
        case 0:
            return 0
        case 2:
            let n = min(a[2], 128)
            do { try t.mm.copyOut(a.address(1), [UInt8](repeating: 0, count: Int(n))) } catch { return int(-Errno.EFAULT.rawValue) }
            return Int64(n)
        default:
            return int(-Errno.ENOSYS.rawValue)
        }
    }
}
