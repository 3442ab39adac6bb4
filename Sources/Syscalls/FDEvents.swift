import Glibc
import Sentry

/// timerfd and signalfd: timers and signals read through a descriptor
/// (eventfd is with the pipes).
enum FDEvents {
    static let TFD_TIMER_ABSTIME: UInt32 = 1, TFD_TIMER_CANCEL_ON_SET: UInt32 = 2
    static let CAP_WAKE_ALARM = 35

    static func timerfdCreate(_ t: Task, _ a: SyscallArguments) throws(Errno) -> Int64 {
        let clock = a.int32(0), flags = a.int32(1)
        guard flags & ~(OpenFlags.closeOnExec.rawValue | OpenFlags.nonBlock.rawValue) == 0 else { throw .EINVAL }
        switch clock {
        case CLOCK_REALTIME, CLOCK_MONOTONIC, CLOCK_BOOTTIME: break
        case CLOCK_REALTIME_ALARM, CLOCK_BOOTTIME_ALARM:
            guard Creds.creds(t).capable(CAP_WAKE_ALARM) else { throw .EPERM }
        default: throw .EINVAL
        }
        let file = t.kernel.makeTimerFD(clock: clock, flags: OpenFlags(rawValue: flags & OpenFlags.nonBlock.rawValue))
        return Int64(try t.fds.install(file, closeOnExec: flags & OpenFlags.closeOnExec.rawValue != 0).rawValue)
    }

    private static func timerFD(_ t: Task, _ fd: Int32) throws(Errno) -> TimerFD {
        guard let f = try t.fds.get(FileDescriptor(fd)) as? TimerFD else { throw .EINVAL }
        return f
    }

    /// struct itimerspec: interval, then value.
    private static func writeItimerspec(_ t: Task, _ addr: GuestAddress, _ v: (value: Int64, interval: Int64)) throws(Errno) {
        let i = Time.timespecOf(v.interval), x = Time.timespecOf(v.value)
        try t.mm.write(addr, (i.tv_sec, i.tv_nsec, x.tv_sec, x.tv_nsec))
    }

    static func timerfdSettime(_ t: Task, _ a: SyscallArguments) throws(Errno) -> Int64 {
        let flags = a.uint32(1)
        guard flags & ~(TFD_TIMER_ABSTIME | TFD_TIMER_CANCEL_ON_SET) == 0 else { throw .EINVAL }
        let interval = try Time.readTimespec(t, a.address(2))
        let value = try Time.readTimespec(t, a.address(2) + 16)
        let file = try timerFD(t, a.int32(0))
        let old = file.set(value: Time.ns(value), interval: Time.ns(interval), absolute: flags & TFD_TIMER_ABSTIME != 0)
        if !a.address(3).isNull { try writeItimerspec(t, a.address(3), old) }
        return 0
    }

    static func timerfdGettime(_ t: Task, _ a: SyscallArguments) throws(Errno) -> Int64 {
        try writeItimerspec(t, a.address(1), try timerFD(t, a.int32(0)).current)
        return 0
    }

    static func signalfd(_ t: Task, _ a: SyscallArguments) throws(Errno) -> Int64 {
        try signalfd(t, fd: a.int32(0), mask: a.address(1), size: a[2], flags: 0)
    }

    static func signalfd4(_ t: Task, _ a: SyscallArguments) throws(Errno) -> Int64 {
        try signalfd(t, fd: a.int32(0), mask: a.address(1), size: a[2], flags: a.int32(3))
    }

    private static func signalfd(_ t: Task, fd: Int32, mask addr: GuestAddress, size: UInt64, flags: Int32) throws(Errno) -> Int64 {
        guard size == Signals.sigsetSize else { throw .EINVAL }
        guard flags & ~(OpenFlags.closeOnExec.rawValue | OpenFlags.nonBlock.rawValue) == 0 else { throw .EINVAL }
        let mask = try t.mm.read(addr, as: UInt64.self)
        if fd != -1 {
            guard let existing = try t.fds.get(FileDescriptor(fd)) as? SignalFD else { throw .EINVAL }
            existing.mask = mask
            return Int64(fd)
        }
        let file = SignalFD(mask: mask, flags: OpenFlags(rawValue: flags & OpenFlags.nonBlock.rawValue))
        return Int64(try t.fds.install(file, closeOnExec: flags & OpenFlags.closeOnExec.rawValue != 0).rawValue)
    }
}
