import Glibc
import Sentry

/// Clocks and sleeps. The guest has no vDSO, so every clock read lands here,
/// but for those a systrap stub makes itself (Kernel/GuestSideClockReads.swift).
enum Time {
    /// The host clock that answers a guest's wall or monotonic clock id.
    static func hostClock(_ t: Task, _ id: Int32) throws(Errno) -> clockid_t {
        guard GuestClock.isHostClock(id) else { throw .EINVAL }
        return clockid_t(id)
    }

    /// A guest clock's reading (ns). CPU clocks (CLOCK_PROCESS_CPUTIME_ID,
    /// CLOCK_THREAD_CPUTIME_ID and the ids clock_getcpuclockid and
    /// pthread_getcpuclockid make: ~pid << 3 | kind | 4 for a thread) are
    /// the guest's stubs' time plus the sentry's serving it.
    static func now(_ t: Task, _ id: Int32) throws(Errno) -> Int64 {
        switch id {
        case 2: return try t.kernel.cpuClock(of: t, target: 0, thread: false, kind: 2)
        case 3: return try t.kernel.cpuClock(of: t, target: 0, thread: true, kind: 2)
        case let id where id < 0:
            guard id & 3 != 3 else { throw .EINVAL }
            return try t.kernel.cpuClock(of: t, target: ~(id >> 3), thread: id & 4 != 0, kind: id & 3)
        default:
            var ts = timespec()
            let clock = try hostClock(t, id)
            guard clock_gettime(clock, &ts) == 0 else { throw Errno(errno) }
            return GuestClock.guest(Int64(ts.tv_sec) * 1_000_000_000 + Int64(ts.tv_nsec), clock)
        }
    }

    static func clockGettime(_ t: Task, _ a: SyscallArguments) throws(Errno) -> Int64 {
        let ns = try now(t, a.int32(0))
        try t.mm.write(a.address(1), timespec(tv_sec: Int(ns / 1_000_000_000), tv_nsec: Int(ns % 1_000_000_000)))
        return 0
    }

    static func clockGetres(_ t: Task, _ a: SyscallArguments) throws(Errno) -> Int64 {
        var ts = timespec(tv_sec: 0, tv_nsec: 1)
        let id = a.int32(0)
        if id == 2 || id == 3 || id < 0 {
            _ = try now(t, id)   // EINVAL for a CPU clock of no such process or thread
        } else {
            guard clock_getres(try hostClock(t, id), &ts) == 0 else { throw Errno(errno) }
        }
        if !a.address(1).isNull { try t.mm.write(a.address(1), ts) }
        return 0
    }

    /// clock_settime: the sandbox reads the host's clocks and may not set
    /// them (EPERM, as without CAP_SYS_TIME); clocks no one sets are EINVAL.
    static func clockSettime(_ t: Task, _ a: SyscallArguments) throws(Errno) -> Int64 {
        let id = a.int32(0)
        _ = try readTimespec(t, a.address(1))
        guard id == CLOCK_REALTIME else { _ = try now(t, id); throw .EINVAL }
        throw .EPERM
    }

    /// settimeofday: as clock_settime(CLOCK_REALTIME); a timezone alone is accepted and ignored, as Linux's sys_tz is only advisory.
    static func settimeofday(_ t: Task, _ a: SyscallArguments) throws(Errno) -> Int64 {
        if !a.address(0).isNull {
            let tv = try t.mm.read(a.address(0), as: timeval.self)
            guard tv.tv_usec >= 0, tv.tv_usec < 1_000_000 else { throw .EINVAL }
            throw .EPERM
        }
        if !a.address(1).isNull { _ = try t.mm.read(a.address(1), as: (Int32, Int32).self); throw .EPERM }
        return 0
    }

    static func gettimeofday(_ t: Task, _ a: SyscallArguments) throws(Errno) -> Int64 {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        if !a.address(0).isNull { try t.mm.write(a.address(0), timeval(tv_sec: ts.tv_sec, tv_usec: ts.tv_nsec / 1000)) }
        if !a.address(1).isNull { try t.mm.write(a.address(1), (Int32(0), Int32(0))) }  // struct timezone: UTC, no DST
        return 0
    }

    static func time(_ t: Task, _ a: SyscallArguments) throws(Errno) -> Int64 {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        if !a.address(0).isNull { try t.mm.write(a.address(0), Int64(ts.tv_sec)) }
        return Int64(ts.tv_sec)
    }

    static func readTimespec(_ t: Task, _ addr: GuestAddress) throws(Errno) -> timespec {
        let ts = try t.mm.read(addr, as: timespec.self)
        guard ts.tv_sec >= 0, ts.tv_nsec >= 0, ts.tv_nsec < 1_000_000_000 else { throw .EINVAL }
        return ts
    }

    /// Nanoseconds in a (validated) timespec, saturating: a guest asking for
    /// 2^63 seconds waits forever, it doesn't overflow the sentry.
    static func ns(_ ts: timespec) -> Int64 { nanoseconds(seconds: Int64(ts.tv_sec), plus: Int64(ts.tv_nsec)) }

    static func nanoseconds(seconds: Int64, plus extra: Int64) -> Int64 {
        let (m, o1) = seconds.multipliedReportingOverflow(by: 1_000_000_000)
        let (r, o2) = m.addingReportingOverflow(extra)
        return o1 || o2 ? .max : r
    }
    static func timespecOf(_ ns: Int64) -> timespec { timespec(tv_sec: Int(ns / 1_000_000_000), tv_nsec: Int(ns % 1_000_000_000)) }

    /// nanosleep: a signal with a handler ends it with EINTR and the time
    /// left; one without (a stop and continue) resumes it through
    /// restart_syscall with the same deadline.
    static func nanosleep(_ t: Task, _ a: SyscallArguments) throws(Errno) -> Int64 {
        let req = try readTimespec(t, a.address(0))
        return try sleep(t, until: .after(ns(req)), remaining: a.address(1))
    }

    private static func sleep(_ t: Task, until deadline: Deadline, remaining: GuestAddress) throws(Errno) -> Int64 {
        try t.restartableSleep(until: deadline, remaining: remaining)
    }

    static func clockNanosleep(_ t: Task, _ a: SyscallArguments) throws(Errno) -> Int64 {
        let id = a.int32(0), flags = a.int32(1)
        guard flags & ~1 == 0 else { throw .EINVAL }
        guard [0, 1, 2, 7, 9, 11].contains(id) else { throw id == 3 ? .EINVAL : (id >= 0 && id < 12 ? .EOPNOTSUPP : .EINVAL) }
        let req = try readTimespec(t, a.address(2))
        if flags & 1 != 0 {   // TIMER_ABSTIME: restarted as is, no time left to report
            let deadline = Deadline.after(ns(req) &- (try now(t, id)))
            try t.sleep(until: deadline, interruptedBy: .ERESTARTNOHAND)
            return 0
        }
        return try sleep(t, until: .after(ns(req)), remaining: a.address(3))
    }

    static func restartSyscall(_ t: Task, _ a: SyscallArguments) throws(Errno) -> Int64 {
        guard let block = t.restartBlock else { throw .EINTR }
        t.restartBlock = nil
        return try block(t)
    }

    // MARK: - Interval timers

    static func readTimeval(_ t: Task, _ addr: GuestAddress) throws(Errno) -> Int64 {
        let tv = try t.mm.read(addr, as: (Int64, Int64).self)
        guard tv.0 >= 0, tv.1 >= 0, tv.1 < 1_000_000 else { throw .EINVAL }
        return nanoseconds(seconds: tv.0, plus: tv.1 * 1000)
    }

    static func timevalParts(_ ns: Int64) -> (Int64, Int64) {
        let us = ns / 1000 + (ns % 1000 > 0 ? 1 : 0)   // rounded up, even for a saturated value
        return (us / 1_000_000, us % 1_000_000)
    }

    /// setitimer: ITIMER_REAL only; the CPU-time timers need the stub's
    /// CPU clock to fire signals and are refused.
    static func setitimer(_ t: Task, _ a: SyscallArguments) throws(Errno) -> Int64 {
        let which = a.int32(0)
        guard (0...2).contains(which) else { throw .EINVAL }
        var value: Int64 = 0, interval: Int64 = 0
        if !a.address(1).isNull {
            interval = try readTimeval(t, a.address(1))
            value = try readTimeval(t, a.address(1) + 16)
        }
        let old = which == 0 ? t.setRealTimer(value: value, interval: interval) : t.setCPUTimer(which, value: value, interval: interval)
        if !a.address(2).isNull {
            let i = timevalParts(old.1), v = timevalParts(old.0)
            try t.mm.write(a.address(2), (i.0, i.1, v.0, v.1))
        }
        return 0
    }

    static func getitimer(_ t: Task, _ a: SyscallArguments) throws(Errno) -> Int64 {
        guard (0...2).contains(a.int32(0)) else { throw .EINVAL }
        let cur = a.int32(0) == 0 ? t.realTimer : t.cpuTimer(a.int32(0))
        let i = timevalParts(cur.1), v = timevalParts(cur.0)
        try t.mm.write(a.address(1), (i.0, i.1, v.0, v.1))
        return 0
    }

    static func alarm(_ t: Task, _ a: SyscallArguments) throws(Errno) -> Int64 {
        let old = t.setRealTimer(value: Int64(a.uint32(0)) * 1_000_000_000, interval: 0)
        // Seconds left, rounded to nearest (and at least 1 if armed), as Linux.
        // (Without a sum: an ITIMER_REAL set by setitimer may be near 2^63 ns.)
        // The result is an unsigned int, as alarm_setitimer returns it.
        let secs = old.0 == 0 ? 0 : max(1, old.0 / 1_000_000_000 + (old.0 % 1_000_000_000 >= 500_000_000 ? 1 : 0))
        return Int64(UInt32(truncatingIfNeeded: secs))
    }

    // MARK: - POSIX timers

    static func timerCreate(_ t: Task, _ a: SyscallArguments) throws(Errno) -> Int64 {
        let id = a.int32(0)
        // do_timer_create's order: the clock's kind, then the sigevent, then (for a CPU clock) its thread or process.
        guard Kernel.posixTimerClocks.contains(id) || id == CLOCK_PROCESS_CPUTIME_ID || id == CLOCK_THREAD_CPUTIME_ID || id < 0 else { throw .EINVAL }
        if id < 0 && id & 3 == 3 { throw .EOPNOTSUPP }   // CLOCKFD: a dynamic clock has no timers
        var signo = Signal.SIGALRM.rawValue, notify: Int32 = 0, value: UInt64 = 0, thread: Int32 = 0
        if !a.address(1).isNull {
            // struct sigevent: sigval (8), signo, notify, then the thread id.
            let ev = try t.mm.read(a.address(1), as: (UInt64, Int32, Int32, Int32).self)
            value = ev.0; signo = ev.1; notify = ev.2; thread = ev.3
        } else {
            value = 0
        }
        let sigev: TimerSignal
        switch notify {
        case 1: sigev = .none                                               // SIGEV_NONE
        case 0: guard signo >= 1, signo <= 64 else { throw .EINVAL }; sigev = .process(Signal(signo))   // SIGEV_SIGNAL
        case 4: guard signo >= 1, signo <= 64 else { throw .EINVAL }; sigev = .thread(Signal(signo), thread)  // SIGEV_THREAD_ID
        default: throw .EINVAL   // SIGEV_THREAD is a libc construct over SIGEV_THREAD_ID
        }
        let timer = try t.createTimer(clock: clockid_t(id), sigev, value: a.address(1).isNull ? nil : value)
        try t.mm.write(a.address(2), timer)
        return 0
    }

    static func timerSettime(_ t: Task, _ a: SyscallArguments) throws(Errno) -> Int64 {
        let spec = try t.mm.read(a.address(2), as: (timespec, timespec).self)
        for ts in [spec.0, spec.1] where ts.tv_sec < 0 || ts.tv_nsec < 0 || ts.tv_nsec >= 1_000_000_000 { throw .EINVAL }
        let old = try t.setTimer(a.int32(0), value: ns(spec.1), interval: ns(spec.0), absolute: a.int32(1) & 1 != 0)
        if !a.address(3).isNull { try t.mm.write(a.address(3), (timespecOf(old.1), timespecOf(old.0))) }
        return 0
    }

    static func timerGettime(_ t: Task, _ a: SyscallArguments) throws(Errno) -> Int64 {
        let cur = try t.timer(a.int32(0))
        try t.mm.write(a.address(1), (timespecOf(cur.1), timespecOf(cur.0)))
        return 0
    }

    static func timerGetoverrun(_ t: Task, _ a: SyscallArguments) throws(Errno) -> Int64 {
        Int64(try t.timerOverrun(a.int32(0)))
    }

    static func timerDelete(_ t: Task, _ a: SyscallArguments) throws(Errno) -> Int64 {
        try t.deleteTimer(a.int32(0))
        return 0
    }

    // MARK: - Accounting

    static func times(_ t: Task, _ a: SyscallArguments) throws(Errno) -> Int64 {
        let c = t.cpuTicks
        if !a.address(0).isNull { try t.mm.write(a.address(0), (c.user, c.system, c.childUser, c.childSystem)) }
        return Deadline.now() / 10_000_000   // clock ticks since an arbitrary point (boot)
    }

    static func getrusage(_ t: Task, _ a: SyscallArguments) throws(Errno) -> Int64 {
        // RUSAGE_SELF, RUSAGE_CHILDREN, RUSAGE_THREAD; RUSAGE_BOTH is kernel-internal.
        guard let who = Task.UsageOf(rawValue: a.int32(0)), who != .both else { throw .EINVAL }
        try t.mm.copyOut(a.address(1), t.resourceUsage(who).rusageBytes)
        return 0
    }
}
