import CSwitch
import Glibc
import Synchronization

/// One sentry thread that fires every guest timer (setitimer, alarm,
/// timer_create): a deadline-ordered list and an eventfd to re-arm it.
/// Sendable: the deadline list behind `entries`, ids and start-up atomic.
final class TimerThread: @unchecked Sendable {
    private struct Entry { let id: UInt64; var deadline: Int64; let fire: @Sendable () -> Void }
    private let entries = Mutex<[Entry]>([])
    private let waker = Waker()
    private let nextID = Atomic<UInt64>(1)
    private let started = Atomic<Bool>(false)

    /// Runs `fire` at `deadline` (CLOCK_MONOTONIC ns). Returns a handle for `cancel`.
    func schedule(at deadline: Int64, _ fire: @escaping @Sendable () -> Void) -> UInt64 {
        startIfNeeded()
        let id = nextID.add(1, ordering: .relaxed).newValue
        entries.withLock { $0.append(Entry(id: id, deadline: deadline, fire: fire)); $0.sort { $0.deadline < $1.deadline } }
        waker.wake()
        return id
    }

    func cancel(_ id: UInt64) {
        entries.withLock { $0.removeAll { $0.id == id } }
    }

    private func startIfNeeded() {
        guard started.compareExchange(expected: false, desired: true, ordering: .relaxed).exchanged else { return }
        try? HostThread.spawn { [self] in loop() }
    }

    private func loop() {
        while true {
            let now = Deadline.now()
            let due: [Entry] = entries.withLock { e in
                let d = e.filter { $0.deadline <= now }
                e.removeAll { $0.deadline <= now }
                return d
            }
            for d in due { d.fire() }
            let next = entries.withLock { $0.first?.deadline }
            var p = pollfd(fd: waker.fd, events: Int16(POLLIN), revents: 0)
            _ = sw_ppoll(&p, 1, next.map { max(0, $0 - Deadline.now()) } ?? -1)
            if p.revents != 0 { waker.drain() }
        }
    }
}

/// A process's timers: ITIMER_REAL (and alarm) and POSIX timers. Guarded by
/// the kernel lock.
/// Sendable: guarded by the kernel lock.
final class ProcessTimers: @unchecked Sendable {
    /// ITIMER_REAL: when it fires next (monotonic ns) and its period.
    var realDeadline: Int64 = 0
    var realInterval: Int64 = 0
    var realHandle: UInt64?

    /// Sendable: guarded by the kernel lock, as its process's timers.
    final class PosixTimer: @unchecked Sendable {
        let id: Int32
        let clock: clockid_t
        let signal: Signal?          // nil: SIGEV_NONE
        let value: UInt64
        let thread: Int32?           // SIGEV_THREAD_ID
        /// The CPU clock it counts on; nil for a wall or monotonic clock.
        let cpu: CPUClockRef?
        var deadline: Int64 = 0      // on `clock`, 0 = disarmed
        var interval: Int64 = 0
        var overrun: Int32 = 0
        var handle: UInt64?
        init(id: Int32, clock: clockid_t, signal: Signal?, value: UInt64, thread: Int32?, cpu: CPUClockRef? = nil) {
            self.id = id; self.clock = clock; self.signal = signal; self.value = value; self.thread = thread; self.cpu = cpu
        }
    }
    var posix: [Int32: PosixTimer] = [:]
    /// ITIMER_VIRTUAL (1) and ITIMER_PROF (2): when, in the process's CPU
    /// time (ns), each fires next, and its interval. Absent: disarmed.
    var cpu: [Int32: (due: Int64, interval: Int64)] = [:]

    func cancelAll(_ t: TimerThread) {
        if let h = realHandle { t.cancel(h) }
        realHandle = nil
        cpu = [:]
        for p in posix.values { if let h = p.handle { t.cancel(h) } }
        posix = [:]
    }
}

extension Kernel {
    /// The wall and monotonic clocks timer_create takes: REALTIME,
    /// MONOTONIC, BOOTTIME, BOOTTIME_ALARM, TAI (CPU clocks: CPUTimers.swift).
    public static let posixTimerClocks: Set<Int32> = [0, 1, 7, 9, 11]

    /// Arms ITIMER_REAL of `g` (0 disarms). Returns the old value and interval in ns.
    func setRealTimer(_ g: ThreadGroup, value: Int64, interval: Int64) -> (Int64, Int64) {
        locked {
            let t = g.timers
            let old = (t.realHandle == nil ? 0 : max(1, t.realDeadline - Deadline.now()), t.realInterval)
            if let h = t.realHandle { timerThread.cancel(h) }
            t.realHandle = nil
            t.realInterval = interval
            if value > 0 { armRealLocked(g, at: Deadline.after(value).nanoseconds) }
            return old
        }
    }

    private func armRealLocked(_ g: ThreadGroup, at deadline: Int64) {
        g.timers.realDeadline = deadline
        // Strong captures: a weak one would give the kernel (or the group) a
        // side table, which slows every retain of it for good (see
        // Pty.kernel); a process's timers are cancelled when it exits.
        g.timers.realHandle = timerThread.schedule(at: deadline) { [self, g] in
            self.locked {
                guard !g.zombie else { return }
                g.timers.realHandle = nil
                self.sendLocked(SignalInfo(.SIGALRM, code: SignalInfo.SI_KERNEL), to: g)
                if g.timers.realInterval > 0 {
                    self.armRealLocked(g, at: max(Deadline.now(), g.timers.realDeadline &+ g.timers.realInterval))
                }
            }
        }
    }

    func realTimer(_ g: ThreadGroup) -> (Int64, Int64) {
        locked { (g.timers.realHandle == nil ? 0 : max(1, g.timers.realDeadline - Deadline.now()), g.timers.realInterval) }
    }

    /// (Re)arms a POSIX timer: `value` ns from now, or at `value` on its
    /// clock when `absolute`. Returns the old remaining time and interval.
    func armPosixTimer(_ g: ThreadGroup, _ timer: ProcessTimers.PosixTimer, value: Int64, interval: Int64, absolute: Bool) -> (Int64, Int64) {
        locked {
            if let c = timer.cpu { return armCPUPosixTimerLocked(timer, c, value: value, interval: interval, absolute: absolute) }
            let old = (timer.deadline == 0 ? 0 : max(1, timer.deadline - Deadline.now(timer.clock)), timer.interval)
            if let h = timer.handle { timerThread.cancel(h) }
            timer.handle = nil
            timer.interval = interval
            timer.deadline = 0
            if value > 0 {
                let (sum, o) = Deadline.now(timer.clock).addingReportingOverflow(value)
                let due = absolute ? value : (o ? .max : sum)
                schedulePosixLocked(g, timer, due)
            }
            return old
        }
    }

    fileprivate func schedulePosixLocked(_ g: ThreadGroup, _ timer: ProcessTimers.PosixTimer, _ due: Int64) {
        timer.deadline = due
        // The timer thread counts on the monotonic clock; convert once.
        let (mono, o) = Deadline.now().addingReportingOverflow(due &- Deadline.now(timer.clock))
        // Strong captures, as armRealLocked's.
        timer.handle = timerThread.schedule(at: o ? .max : mono) { [self, g, timer] in
            self.locked {
                guard !g.zombie, g.timers.posix[timer.id] === timer else { return }
                timer.handle = nil
                guard timer.interval > 0 else {
                    self.firePosixTimerLocked(g, timer)
                    timer.deadline = 0
                    return
                }
                // Every period that passed before this thread got here is an
                // expiry (hrtimer_forward), however late it ran.
                let (next, expiries) = Self.forward(timer.deadline, every: timer.interval, past: Deadline.now(timer.clock))
                self.firePosixTimerLocked(g, timer, expiries: expiries)
                self.schedulePosixLocked(g, timer, next)
            }
        }
    }
}

extension Kernel {
    /// A POSIX timer expired: its signal, to its thread (SIGEV_THREAD_ID) or
    /// its process, waking `prefer` if it takes it; if one is still queued
    /// from an earlier expiry, one more overrun instead. Kernel lock held.
    /// `expiries`: how many periods ended since it last fired (more than
    /// one when it fires late); all but the first are overruns.
    func firePosixTimerLocked(_ g: ThreadGroup, _ timer: ProcessTimers.PosixTimer, prefer: Task? = nil, expiries: Int64 = 1) {
        guard let sig = timer.signal else { return }
        let thread = timer.thread.flatMap { tid in tasks[tid] }.flatMap { $0.group === g ? $0 : nil }
        let counted = thread != nil ? thread!.pending.countOverrun(timer: timer.id, signo: sig.rawValue, expiries: expiries)
            : g.sharedPending.countOverrun(timer: timer.id, signo: sig.rawValue, expiries: expiries)
        guard counted == nil else { return }
        var info = SignalInfo(sig, code: SignalInfo.SI_TIMER)
        info.timerID = timer.id
        info.value = timer.value
        info.overrun = SignalInfo.overrun(0, plus: expiries - 1)
        sendLocked(info, to: g, thread: thread, prefer: prefer)
    }
}

/// How a POSIX timer notifies (struct sigevent).
public enum TimerSignal: Sendable {
    case none
    case process(Signal)
    case thread(Signal, Int32)
}

extension Task {
    /// timer_create: returns the new timer's id.
    public func createTimer(clock: clockid_t, _ how: TimerSignal, value: UInt64?) throws(Errno) -> Int32 {
        try kernel.locked { () throws(Errno) -> Int32 in
            let cpu = try kernel.cpuTimerClockLocked(Int32(clock), caller: self)
            guard cpu != nil || Kernel.posixTimerClocks.contains(Int32(clock)) else { throw .EINVAL }
            let timers = group.timers
            guard timers.posix.count < 4096 else { throw .EAGAIN }
            var id: Int32 = 0
            while timers.posix[id] != nil { id += 1 }
            let sig: Signal?, thread: Int32?
            switch how {
            case .none: sig = nil; thread = nil
            case .process(let s): sig = s; thread = nil
            case .thread(let s, let tid):
                guard let target = kernel.tasks[tid], target.group === group else { throw .EINVAL }
                sig = s; thread = tid
            }
            timers.posix[id] = ProcessTimers.PosixTimer(id: id, clock: cpu.map { clockid_t($0.1) } ?? clock, signal: sig,
                                                        value: value ?? UInt64(id), thread: thread, cpu: cpu?.0)
            return id
        }
    }

    private func posixTimer(_ id: Int32) throws(Errno) -> ProcessTimers.PosixTimer {
        guard let t = kernel.locked({ group.timers.posix[id] }) else { throw .EINVAL }
        return t
    }

    /// timer_settime: returns the old (remaining, interval) in ns.
    public func setTimer(_ id: Int32, value: Int64, interval: Int64, absolute: Bool) throws(Errno) -> (Int64, Int64) {
        kernel.armPosixTimer(group, try posixTimer(id), value: value, interval: interval, absolute: absolute)
    }

    public func timer(_ id: Int32) throws(Errno) -> (Int64, Int64) {
        let t = try posixTimer(id)
        return kernel.locked { (kernel.posixTimerRemainingLocked(t), t.interval) }
    }

    /// Takes the next signal in `set`, the thread's own first. A timer's
    /// signal leaves its overrun as timer_getoverrun's answer until the next
    /// one is taken (posixtimer_rearm's it_overrun_last). Kernel lock held.
    /// A periodic timer on a wall or monotonic clock whose next expiry is
    /// already past (its thread is late) has those expiries counted in the
    /// signal taken and moves on past now, as posixtimer_rearm forwards it.
    func dequeueSignalLocked(from set: UInt64) -> SignalInfo? {
        guard var info = pending.dequeue(from: set) ?? group.sharedPending.dequeue(from: set) else { return nil }
        guard info.code == SignalInfo.SI_TIMER, let timer = group.timers.posix[info.timerID] else { return info }
        if timer.cpu == nil, timer.interval > 0, let h = timer.handle, case let now = Deadline.now(timer.clock), timer.deadline <= now {
            // The expiry due at `deadline` and those after it up to now.
            let (next, missed) = Kernel.forward(timer.deadline, every: timer.interval, past: now)
            info.overrun = SignalInfo.overrun(info.overrun, plus: missed)
            kernel.timerThread.cancel(h)
            kernel.schedulePosixLocked(group, timer, next)
        }
        timer.overrun = info.overrun
        return info
    }

    public func timerOverrun(_ id: Int32) throws(Errno) -> Int32 {
        let t = try posixTimer(id)
        return kernel.locked { t.overrun }
    }

    public func deleteTimer(_ id: Int32) throws(Errno) {
        let t = try posixTimer(id)
        _ = kernel.armPosixTimer(group, t, value: 0, interval: 0, absolute: false)
        kernel.locked { group.timers.posix[id] = nil }
    }
}
