import Glibc
import Sentry

/// Clocks and sleeps. The guest has no vDSO, so every clock read lands here.
enum Time {
    /// The host clock that answers a guest clock id. CPU-time clocks measure
    /// the stub process (where guest code runs), not the sentry.
    static func hostClock(_ t: Task, _ id: Int32) throws(Errno) -> clockid_t {
        switch id {
        case 0, 1, 4, 5, 6, 7, 11: return clockid_t(id)
        case 2: return clockid_t(stubClock(t, thread: false))   // CLOCK_PROCESS_CPUTIME_ID
        case 3: return clockid_t(stubClock(t, thread: true))    // CLOCK_THREAD_CPUTIME_ID
        case 8, 9: return clockid_t(id)
        default: throw .EINVAL
        }
    }

    /// Linux's encoding of another process's CPU clock (CPUCLOCK_SCHED).
    private static func stubClock(_ t: Task, thread: Bool) -> Int32 {
        guard let pid = t.kernel.hostPID(of: t) else { return thread ? 3 : 2 }
        return (~pid << 3) | 2 | (thread ? 4 : 0)
    }

    static func clockGettime(_ t: Task, _ a: SyscallArguments) throws(Errno) -> Int64 {
        var ts = timespec()
        guard clock_gettime(try hostClock(t, a.int32(0)), &ts) == 0 else { throw Errno(errno) }
        try t.mm.write(a.address(1), ts)
        return 0
    }

    static func clockGetres(_ t: Task, _ a: SyscallArguments) throws(Errno) -> Int64 {
        var ts = timespec()
        guard clock_getres(try hostClock(t, a.int32(0)), &ts) == 0 else { throw Errno(errno) }
        if !a.address(1).isNull { try t.mm.write(a.address(1), ts) }
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

    static func nanosleep(_ t: Task, _ a: SyscallArguments) throws(Errno) -> Int64 {
        var req = try readTimespec(t, a.address(0))
        var rem = timespec()
        // Host signals for the guest are forwarded to its stub, not to this
        // thread, so the sleep is not cut short here; EINTR comes with signals.
        while Glibc.nanosleep(&req, &rem) != 0 {
            guard errno == EINTR else { throw Errno(errno) }
            req = rem
        }
        return 0
    }

    static func clockNanosleep(_ t: Task, _ a: SyscallArguments) throws(Errno) -> Int64 {
        let id = a.int32(0), flags = a.int32(1)
        guard flags & ~1 == 0 else { throw .EINVAL }
        guard [0, 1, 2, 7, 11].contains(id) else { throw id == 3 ? .EINVAL : (id >= 0 && id < 12 ? .EOPNOTSUPP : .EINVAL) }
        let req = try readTimespec(t, a.address(2))
        let clock = try hostClock(t, id)
        var r: Int32
        repeat {
            var rq = req, rm = timespec()
            r = clock_nanosleep(clock, flags, &rq, &rm)
        } while r == EINTR && flags & 1 != 0
        if r != 0 { throw Errno(r) }
        return 0
    }
}
