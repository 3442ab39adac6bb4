import Glibc
import Sentry

/// adjtimex and clock_adjtime (kernel/time/timekeeping.c, ntp.c). The
/// sandbox's CLOCK_REALTIME is the host's, and nothing in the sandbox
/// disciplines it: the state reads as a kernel's no NTP daemon has touched
/// (TIME_ERROR with STA_UNSYNC, the maximum error at NTP_PHASE_LIMIT, no
/// offset or frequency correction, Linux's initial constants). Every change
/// is refused: EPERM without CAP_SYS_TIME as Linux, and EPERM for a
/// privileged guest too, as clock_settime answers it here, once Linux's
/// validation (EINVAL) has passed.
enum ClockAdjust {
    static let ADJ_OFFSET: UInt32 = 0x0001, ADJ_FREQUENCY: UInt32 = 0x0002, ADJ_TICK: UInt32 = 0x4000
    static let ADJ_SETOFFSET: UInt32 = 0x0100, ADJ_NANO: UInt32 = 0x2000, ADJ_ADJTIME: UInt32 = 0x8000
    /// The kernel's own values (include/linux/timex.h), not the uapi's 0x8001/0xa001 combinations.
    static let ADJ_OFFSET_SINGLESHOT: UInt32 = 0x0001, ADJ_OFFSET_READONLY: UInt32 = 0x2000
    static let TIME_ERROR: Int64 = 5, STA_UNSYNC: Int32 = 0x40
    /// NTP_PHASE_LIMIT: where an undisciplined clock's maximum and estimated errors stay (us).
    static let phaseLimit: Int64 = 16_000_000
    static let CAP_SYS_TIME = 25
    /// sizeof(struct __kernel_timex) on x86-64.
    static let timexSize = 208
    static let USER_HZ = 100
    /// LLONG_MAX / PPM_SCALE: the largest |freq| ADJ_FREQUENCY takes (PPM_SCALE = 1000 << 16).
    static let maxFrequency = Int64.max / (1000 << 16)

    static func adjtimex(_ t: Task, _ a: SyscallArguments) throws(Errno) -> Int64 {
        try adjust(t, a.address(0))
    }

    /// clock_adjtime(clock, tx): the timex is read first; only
    /// CLOCK_REALTIME adjusts (do_clock_adjtime): an unknown clock is
    /// EINVAL, a known one without clock_adj EOPNOTSUPP, and a dynamic
    /// (fd) clock EINVAL, as there are no PTP clock devices in the sandbox.
    static func clockAdjtime(_ t: Task, _ a: SyscallArguments) throws(Errno) -> Int64 {
        let id = a.int32(0)
        _ = try t.mm.copyIn(a.address(1), timexSize)
        if id < 0 {
            if id & 7 == 3 { throw .EINVAL }   // CLOCKFD: a posix clock's fd
            throw .EOPNOTSUPP                  // a CPU clock
        }
        guard id <= CLOCK_TAI, id != 10 else { throw .EINVAL }   // 10: CLOCK_SGI_CYCLE, gone
        guard id == CLOCK_REALTIME else { throw .EOPNOTSUPP }
        return try adjust(t, a.address(1))
    }

    /// do_adjtimex with its validation (timekeeping_validate_timex), then the
    /// state written back.
    private static func adjust(_ t: Task, _ addr: GuestAddress) throws(Errno) -> Int64 {
        var tx = try t.mm.copyIn(addr, timexSize)
        func field(_ off: Int) -> Int64 { tx.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: off, as: Int64.self) } }
        func set(_ off: Int, _ v: Int64) { tx.withUnsafeMutableBytes { $0.storeBytes(of: v, toByteOffset: off, as: Int64.self) } }
        func set32(_ off: Int, _ v: Int32) { tx.withUnsafeMutableBytes { $0.storeBytes(of: v, toByteOffset: off, as: Int32.self) } }
        let modes = tx.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: 0, as: UInt32.self) }
        let privileged = Creds.creds(t).capable(CAP_SYS_TIME)
        let readOnly: Bool
        if modes & ADJ_ADJTIME != 0 {
            guard modes & ADJ_OFFSET_SINGLESHOT != 0 else { throw .EINVAL }
            readOnly = modes & ADJ_OFFSET_READONLY != 0
            if !readOnly && !privileged { throw .EPERM }
        } else {
            readOnly = modes == 0
            if !readOnly && !privileged { throw .EPERM }
            let tick = field(88)
            if modes & ADJ_TICK != 0 && (tick < Int64(900000 / USER_HZ) || tick > Int64(1100000 / USER_HZ)) { throw .EINVAL }
        }
        if modes & ADJ_SETOFFSET != 0 {
            if !privileged { throw .EPERM }
            let frac = field(80)
            if frac < 0 || frac >= (modes & ADJ_NANO != 0 ? 1_000_000_000 : 1_000_000) { throw .EINVAL }
        }
        if modes & ADJ_FREQUENCY != 0 {
            let freq = field(16)
            if freq < -maxFrequency || freq > maxFrequency { throw .EINVAL }
        }
        // A valid change from a privileged guest: the sandbox's clock is the host's.
        if !readOnly { throw .EPERM }
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        set(8, 0)                              // offset: no adjustment pending
        set(16, 0)                             // freq
        set(24, phaseLimit); set(32, phaseLimit)   // maxerror, esterror
        set32(40, STA_UNSYNC)                  // status
        set(48, 2)                             // constant: ntp's initial time_constant
        set(56, 1)                             // precision (us)
        set(64, 500 << 16)                     // tolerance: MAXFREQ (500 ppm), scaled
        set(72, Int64(now.tv_sec)); set(80, Int64(now.tv_nsec / 1000))
        set(88, Int64(1_000_000 / USER_HZ))    // tick: USER_TICK_USEC
        for off in stride(from: 96, through: 152, by: 8) { set(off, 0) }   // no PPS: ppsfreq ... stbcnt
        set32(160, 0)                          // tai
        try t.mm.copyOut(addr, tx)
        return TIME_ERROR   // is_error_status: STA_UNSYNC
    }
}
