import Glibc

/// Another host process's CPU-time clock, in Linux's encoding of a clockid
/// (CPUCLOCK_SCHED): where guest code runs in a stub, its CPU time is the
/// task's.
public enum HostCPUClock {
    public static func id(of pid: pid_t, thread: Bool = false) -> clockid_t {
        (~pid << 3) | 2 | (thread ? 4 : 0)
    }

    /// The process's CPU time so far (ns); nil if it is gone.
    public static func nanoseconds(of pid: pid_t) -> Int64? {
        var ts = timespec()
        guard clock_gettime(id(of: pid), &ts) == 0 else { return nil }
        return Int64(ts.tv_sec) * 1_000_000_000 + Int64(ts.tv_nsec)
    }
}
