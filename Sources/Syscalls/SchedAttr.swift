import Sentry

/// struct sched_attr (include/uapi/linux/sched/types.h) as sched_setattr
/// reads it and sched_getattr writes it: size, policy, flags, nice,
/// real-time priority, SCHED_DEADLINE's runtime/deadline/period (ns) and,
/// since VER1, the utilization clamps.
struct SchedAttr {
    static let SCHED_ATTR_SIZE_VER0: UInt32 = 48, SCHED_ATTR_SIZE_VER1: UInt32 = 56
    /// The largest struct the calls accept (PAGE_SIZE).
    static let maxSize: UInt32 = 4096

    static let SCHED_FLAG_RESET_ON_FORK: UInt64 = 0x01, SCHED_FLAG_RECLAIM: UInt64 = 0x02
    static let SCHED_FLAG_DL_OVERRUN: UInt64 = 0x04, SCHED_FLAG_KEEP_POLICY: UInt64 = 0x08
    static let SCHED_FLAG_KEEP_PARAMS: UInt64 = 0x10, SCHED_FLAG_UTIL_CLAMP_MIN: UInt64 = 0x20
    static let SCHED_FLAG_UTIL_CLAMP_MAX: UInt64 = 0x40
    static let SCHED_FLAG_UTIL_CLAMP = SCHED_FLAG_UTIL_CLAMP_MIN | SCHED_FLAG_UTIL_CLAMP_MAX
    static let SCHED_FLAG_ALL: UInt64 = 0x7f
    /// The schedutil governor's kernel-internal flag (kernel/sched/sched.h).
    static let SCHED_FLAG_SUGOV: UInt64 = 0x1000_0000
    /// The flags a deadline entity keeps (SCHED_DL_FLAGS).
    static let SCHED_DL_FLAGS = SCHED_FLAG_RECLAIM | SCHED_FLAG_DL_OVERRUN | SCHED_FLAG_SUGOV

    /// sysctl_sched_dl_period_min/max (us): 100 us to 2^22 us.
    static let periodMinNS: UInt64 = 100 * 1000, periodMaxNS: UInt64 = (1 << 22) * 1000
    /// DL_SCALE: the runtime must be at least 2^10 ns.
    static let minRuntimeNS: UInt64 = 1 << 10
    static let BW_SHIFT: UInt64 = 20

    var rawPolicy: Int32 = 0
    /// The policy to set; nil keeps the task's (SETPARAM_POLICY).
    var policy: Int32? = 0
    var flags: UInt64 = 0
    var nice: Int32 = 0
    var priority: UInt32 = 0
    var runtime: UInt64 = 0, deadline: UInt64 = 0, period: UInt64 = 0
    var utilMin: UInt32 = 0, utilMax: UInt32 = 0

    /// sched_copy_attr: a size of 0 means VER0; below VER0 or above a page,
    /// or non-zero bytes past the kernel's struct, E2BIG with the kernel's
    /// size written back; clamps need a VER1 struct; nice is clamped.
    static func copyIn(_ t: Task, _ addr: GuestAddress) throws(Errno) -> SchedAttr {
        var size = try t.mm.read(addr, as: UInt32.self)
        if size == 0 { size = SCHED_ATTR_SIZE_VER0 }
        guard size >= SCHED_ATTR_SIZE_VER0, size <= maxSize else { try tooBig(t, addr) }
        let raw = try t.mm.copyIn(addr, Int(size))
        if raw.count > Int(SCHED_ATTR_SIZE_VER1), raw[Int(SCHED_ATTR_SIZE_VER1)...].contains(where: { $0 != 0 }) { try tooBig(t, addr) }
        var b = raw.prefix(Int(SCHED_ATTR_SIZE_VER1)).map { $0 }
        b += [UInt8](repeating: 0, count: Int(SCHED_ATTR_SIZE_VER1) - b.count)
        func u32(_ o: Int) -> UInt32 { b.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: o, as: UInt32.self) } }
        func u64(_ o: Int) -> UInt64 { b.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: o, as: UInt64.self) } }
        var a = SchedAttr()
        a.rawPolicy = Int32(bitPattern: u32(4))
        a.policy = a.rawPolicy
        a.flags = u64(8)
        a.nice = max(Scheduling.minNice, min(Scheduling.maxNice, Int32(bitPattern: u32(16))))
        a.priority = u32(20)
        a.runtime = u64(24); a.deadline = u64(32); a.period = u64(40)
        a.utilMin = u32(48); a.utilMax = u32(52)
        if a.flags & SCHED_FLAG_UTIL_CLAMP != 0 && size < SCHED_ATTR_SIZE_VER1 { throw .EINVAL }
        return a
    }

    private static func tooBig(_ t: Task, _ addr: GuestAddress) throws(Errno) -> Never {
        try? t.mm.write(addr, SCHED_ATTR_SIZE_VER1)   // put_user's failure is not the answer
        throw .E2BIG
    }

    /// The struct as sched_getattr copies it out: `size` bytes of it, its size field saying so.
    func encoded(size: UInt32) -> [UInt8] {
        var b: [UInt8] = []
        func put<T: FixedWidthInteger>(_ v: T) { withUnsafeBytes(of: v.littleEndian) { b += $0 } }
        put(size); put(rawPolicy); put(flags); put(nice); put(priority)
        put(runtime); put(deadline); put(period); put(utilMin); put(utilMax)
        return Array(b.prefix(Int(size)))
    }

    /// get_params: a deadline task's parameters and flags, a real-time
    /// task's priority, or another's nice value.
    mutating func takeParameters(of s: Scheduling) {
        if s.policy == Scheduling.SCHED_DEADLINE {
            priority = UInt32(bitPattern: s.priority)
            runtime = s.runtime; deadline = s.deadline; period = s.period
            flags = flags & ~Self.SCHED_DL_FLAGS | s.deadlineFlags
        } else if Scheduling.isRealTime(s.policy) {
            priority = UInt32(bitPattern: s.priority)
        } else {
            nice = s.nice
        }
    }

    /// __checkparam_dl: 2^10 <= runtime <= deadline <= period (period 0:
    /// the deadline), none with the top bit, the period within the sysctl bounds.
    var deadlineParametersValid: Bool {
        if flags & Self.SCHED_FLAG_SUGOV != 0 { return true }
        guard deadline != 0, runtime >= Self.minRuntimeNS, deadline >> 63 == 0, period >> 63 == 0 else { return false }
        let p = period == 0 ? deadline : period
        return p >= deadline && deadline >= runtime && p >= Self.periodMinNS && p <= Self.periodMaxNS
    }

    /// to_ratio: runtime / period in BW_SHIFT fixed point.
    static func ratio(period: UInt64, runtime: UInt64) -> UInt64 {
        guard period != 0 else { return 0 }
        let (shifted, o) = runtime.multipliedReportingOverflow(by: 1 << BW_SHIFT)
        return o ? UInt64.max / period : shifted / period
    }
}
