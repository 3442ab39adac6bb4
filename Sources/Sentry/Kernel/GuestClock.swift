import Glibc
import Synchronization

/// The guest's CLOCK_MONOTONIC and CLOCK_BOOTTIME (and their RAW, COARSE
/// and ALARM variants) are the host's plus an offset: 0, except in a sentry
/// restored from an image of another host boot, where it makes the guest's
/// clock go on from its reading at the checkpoint instead of jumping to the
/// new boot's (as gVisor does). Every deadline the sentry keeps is on this
/// clock (`Deadline.now`), so the guest's absolute times and the sentry's
/// own waits agree. One sandbox per sentry process: process-wide.
public enum GuestClock {
    private static let offset = Atomic<Int64>(0)

    public static var monotonicOffset: Int64 { offset.load(ordering: .relaxed) }

    /// Set before the restored sandbox is built (its boot time is on this clock).
    static func setMonotonicOffset(_ ns: Int64) { offset.store(ns, ordering: .relaxed) }

    /// The clock ids the sentry answers from the host's clock of the same id
    /// (the boot-based ones plus the offset): all but the CPU clocks. One
    /// list for clock_gettime and clock_getres (Time.swift) and for the
    /// reads a systrap stub makes itself (GuestSideCalls.swift, its filter).
    public static let hostClocks: [clockid_t] = [CLOCK_REALTIME, CLOCK_MONOTONIC, CLOCK_MONOTONIC_RAW, CLOCK_REALTIME_COARSE,
                                                 CLOCK_MONOTONIC_COARSE, CLOCK_BOOTTIME, CLOCK_REALTIME_ALARM,
                                                 CLOCK_BOOTTIME_ALARM, CLOCK_TAI]
    /// `hostClocks` as a bit per id.
    public static let hostClockMask = mask(hostClocks)
    /// Those of them that do not count from boot: the offset never applies.
    static let hostWallClockMask = mask(hostClocks.filter { !isMonotonic($0) })
    private static func mask(_ ids: [clockid_t]) -> UInt64 { ids.reduce(0) { $0 | 1 << UInt64($1) } }

    public static func isHostClock(_ id: Int32) -> Bool { id >= 0 && id < 64 && hostClockMask & 1 << UInt64(id) != 0 }

    /// Whether `clock` counts from the host's boot (the offset applies).
    public static func isMonotonic(_ clock: clockid_t) -> Bool {
        clock == CLOCK_MONOTONIC || clock == CLOCK_MONOTONIC_RAW || clock == CLOCK_MONOTONIC_COARSE
            || clock == CLOCK_BOOTTIME || clock == CLOCK_BOOTTIME_ALARM
    }

    /// A host reading of `clock` (ns) as the guest sees it.
    public static func guest(_ ns: Int64, _ clock: clockid_t) -> Int64 {
        isMonotonic(clock) ? ns &+ monotonicOffset : ns
    }

    /// The host's CLOCK_MONOTONIC (ns), no offset.
    static func hostMonotonic() -> Int64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Int64(ts.tv_sec) * 1_000_000_000 + Int64(ts.tv_nsec)
    }
}
