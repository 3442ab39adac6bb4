import Glibc
import Synchronization

/// timerfd_create(2): a timer whose expirations are read as a count. Armed
/// on the kernel's timer thread against CLOCK_MONOTONIC; an absolute time
/// on another clock is turned into a monotonic deadline when set (the
/// sandbox's clocks are never set, so it does not drift from its clock).
/// Sendable: the timer's state behind `state`.
public final class TimerFD: FileDescription, @unchecked Sendable {
    public let clock: clockid_t
    private let timers: TimerThread
    private let queue = WaitQueue()
    private struct State {
        var expirations: UInt64 = 0
        /// Monotonic ns of the next expiration; 0 when disarmed.
        var deadline: Int64 = 0
        var interval: Int64 = 0
        var handle: UInt64?
    }
    private let state = Mutex(State())

    init(clock: clockid_t, timers: TimerThread, flags: OpenFlags) {
        self.clock = clock
        self.timers = timers
        super.init(flags: OpenFlags.readWrite.union(flags))
    }

    deinit { if let h = state.withLock({ $0.handle }) { timers.cancel(h) } }

    public override var displayPath: String { "anon_inode:[timerfd]" }
    public override var waitQueue: WaitQueue? { queue }

    public override func readiness(_ events: Int16) -> Int16 {
        state.withLock { $0.expirations } > 0 ? events & Int16(POLLIN | POLLRDNORM) : 0
    }

    /// The expirations since the last read, as a u64; EAGAIN while none.
    public override func read(into bufs: [UnsafeMutableRawBufferPointer]) throws(Errno) -> Int {
        guard bufs.reduce(0, { $0 + $1.count }) >= 8 else { throw .EINVAL }
        let n: UInt64 = try state.withLock { (s: inout State) throws(Errno) -> UInt64 in
            guard s.expirations > 0 else { throw .EAGAIN }
            defer { s.expirations = 0 }
            return s.expirations
        }
        _ = withUnsafeBytes(of: n) { src in Self.scatter(src, into: bufs) }
        return 8
    }

    /// timerfd_settime: `value` ns from now, or at `value` on the timer's clock
    /// with `absolute`; 0 disarms. Returns the previous setting as gettime gives it.
    public func set(value: Int64, interval: Int64, absolute: Bool) -> (value: Int64, interval: Int64) {
        let now = Deadline.now()
        var deadline: Int64 = 0
        if value > 0 {
            let delta = absolute ? value &- Deadline.now(clock) : value
            deadline = delta <= 0 ? now : (now.addingReportingOverflow(delta).overflow ? .max : now + delta)
        }
        let old = state.withLock { (s: inout State) -> (Int64, Int64) in
            let old = (s.deadline == 0 ? 0 : max(1, s.deadline - now), s.interval)
            if let h = s.handle { timers.cancel(h) }
            s.handle = nil
            s.expirations = 0
            s.deadline = deadline
            s.interval = deadline == 0 ? 0 : interval
            return old
        }
        if deadline != 0 { arm(deadline) }
        return old
    }

    /// timerfd_gettime: time to the next expiration (0: disarmed) and the interval.
    public var current: (value: Int64, interval: Int64) {
        let now = Deadline.now()
        return state.withLock { s in (s.deadline == 0 ? 0 : max(1, s.deadline - now), s.interval) }
    }

    /// The expirations not yet read (a checkpoint keeps them).
    public var pendingExpirations: UInt64 { state.withLock { $0.expirations } }

    /// A restored timer: armed `remaining` ns from now (nil: disarmed) with
    /// its interval, and the expirations it had not yet been read for.
    public func restore(remaining: Int64?, interval: Int64, expirations: UInt64) {
        _ = set(value: max(0, remaining ?? 0), interval: max(0, interval), absolute: false)
        if expirations > 0 {
            state.withLock { $0.expirations &+= expirations }
            queue.notify()
        }
    }

    private func arm(_ deadline: Int64) {
        let h = timers.schedule(at: deadline) { [weak self] in self?.fire(deadline) }
        state.withLock { s in if s.deadline == deadline { s.handle = h } else { timers.cancel(h) } }
    }

    /// An expiration (and any whole periods the timer thread was late by).
    private func fire(_ due: Int64) {
        let next: Int64? = state.withLock { s in
            guard s.deadline == due else { return nil }   // reset meanwhile
            let now = Deadline.now()
            var count: Int64 = 1
            if s.interval > 0 {
                count += max(0, now - due) / s.interval
                let (step, o1) = count.multipliedReportingOverflow(by: s.interval)
                let (d, o2) = due.addingReportingOverflow(step)
                s.deadline = o1 || o2 ? .max : d
            } else {
                s.deadline = 0
            }
            s.expirations &+= UInt64(count)
            s.handle = nil
            return s.interval > 0 ? s.deadline : nil
        }
        queue.notify()
        if let next { arm(next) }
    }

    public override func stat() throws(Errno) -> Glibc.stat { Self.anonymousInodeStat }
}

extension Kernel {
    /// timerfd_create's file.
    public func makeTimerFD(clock: clockid_t, flags: OpenFlags) -> TimerFD { TimerFD(clock: clock, timers: timerThread, flags: flags) }
}
