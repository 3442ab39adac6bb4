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
        var deadline: Int64 = 0      // on `clock`, 0 = disarmed
        var interval: Int64 = 0
        var overrun: Int32 = 0
        var handle: UInt64?
        init(id: Int32, clock: clockid_t, signal: Signal?, value: UInt64, thread: Int32?) {
            self.id = id; self.clock = clock; self.signal = signal; self.value = value; self.thread = thread
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
    /// The clocks timer_create takes: REALTIME, MONOTONIC, BOOTTIME,
    /// BOOTTIME_ALARM, TAI.
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
        g.timers.realHandle = timerThread.schedule(at: deadline) { [weak self, weak g] in
            guard let self, let g else { return }
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

    private func schedulePosixLocked(_ g: ThreadGroup, _ timer: ProcessTimers.PosixTimer, _ due: Int64) {
        timer.deadline = due
        // The timer thread counts on the monotonic clock; convert once.
        let (mono, o) = Deadline.now().addingReportingOverflow(due &- Deadline.now(timer.clock))
        timer.handle = timerThread.schedule(at: o ? .max : mono) { [weak self, weak g, weak timer] in
            guard let self, let g, let timer else { return }
            self.locked {
                guard !g.zombie, g.timers.posix[timer.id] === timer else { return }
                timer.handle = nil
                if let sig = timer.signal {
                    let thread = timer.thread.flatMap { tid in self.tasks[tid] }.flatMap { $0.group === g ? $0 : nil }
                    // Still queued from an earlier expiry: one more overrun.
                    let counted = thread != nil ? thread!.pending.countOverrun(timer: timer.id, signo: sig.rawValue)
                        : g.sharedPending.countOverrun(timer: timer.id, signo: sig.rawValue)
                    if counted == nil {
                        var info = SignalInfo(sig, code: SignalInfo.SI_TIMER)
                        info.timerID = timer.id
                        info.value = timer.value
                        self.sendLocked(info, to: g, thread: thread)
                    }
                }
                if timer.interval > 0 {
                    let (next, o) = timer.deadline.addingReportingOverflow(timer.interval)
                    self.schedulePosixLocked(g, timer, o ? .max : next)
                }
                else { timer.deadline = 0 }
            }
        }
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
            timers.posix[id] = ProcessTimers.PosixTimer(id: id, clock: clock, signal: sig, value: value ?? UInt64(id), thread: thread)
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
        return kernel.locked { (t.deadline == 0 ? 0 : max(1, t.deadline - Deadline.now(t.clock)), t.interval) }
    }

    /// Takes the next signal in `set`, the thread's own first. A timer's
    /// signal leaves its overrun as timer_getoverrun's answer until the next
    /// one is taken (posixtimer_rearm's it_overrun_last). Kernel lock held.
    func dequeueSignalLocked(from set: UInt64) -> SignalInfo? {
        guard let info = pending.dequeue(from: set) ?? group.sharedPending.dequeue(from: set) else { return nil }
        if info.code == SignalInfo.SI_TIMER, let timer = group.timers.posix[info.timerID] { timer.overrun = info.overrun }
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

/// ITIMER_VIRTUAL and ITIMER_PROF count the process's CPU time: a sampler
/// on the timer thread reads the clocks every `cpuTimerPeriod` while any
/// such timer is armed, and signals the processes whose time has come, as
/// Linux checks at each tick. ITIMER_VIRTUAL counts the guest's own code
/// (its stubs' CPU time), ITIMER_PROF also the sentry threads' time serving
/// its syscalls (Linux's system time).
extension Kernel {
    static let cpuTimerPeriod: Int64 = 4_000_000   // a 250 Hz tick
    static let ITIMER_VIRTUAL: Int32 = 1, ITIMER_PROF: Int32 = 2

    /// The CPU time of `g`'s live threads and of those gone (ns), the
    /// sentry's share included for `which` == ITIMER_PROF. Kernel lock held.
    func processCPUNanosecondsLocked(_ g: ThreadGroup, _ which: Int32) -> Int64 {
        var total = g.exitedUsage.userNs &+ (which == Self.ITIMER_PROF ? g.exitedUsage.systemNs : 0)
        for t in g.tasks { total &+= threadCPUNanosecondsLocked(t, includingSentry: which == Self.ITIMER_PROF) }
        return total
    }

    /// setitimer(ITIMER_VIRTUAL or ITIMER_PROF): returns the old remaining time and interval (ns).
    func setCPUTimer(_ g: ThreadGroup, which: Int32, value: Int64, interval: Int64) -> (Int64, Int64) {
        let (start, old): (Bool, (Int64, Int64)) = locked {
            let now = processCPUNanosecondsLocked(g, which)
            let old = g.timers.cpu[which]
            let wasIdle = !groups.values.contains { !$0.timers.cpu.isEmpty }
            if value > 0 {
                let (due, o) = now.addingReportingOverflow(value)
                g.timers.cpu[which] = (o ? .max : due, interval)
            } else {
                g.timers.cpu[which] = nil
            }
            return (wasIdle && value > 0, old.map { (max(1, $0.due - now), $0.interval) } ?? (0, 0))
        }
        if start { scheduleCPUTimerSample() }
        return old
    }

    func cpuTimer(_ g: ThreadGroup, which: Int32) -> (Int64, Int64) {
        locked {
            guard let t = g.timers.cpu[which] else { return (0, 0) }
            return (max(1, t.due - processCPUNanosecondsLocked(g, which)), t.interval)
        }
    }

    private func scheduleCPUTimerSample() {
        _ = timerThread.schedule(at: Deadline.after(Self.cpuTimerPeriod).nanoseconds) { [weak self] in self?.sampleCPUTimers() }
    }

    private func sampleCPUTimers() {
        let again: Bool = locked {
            for g in groups.values where !g.timers.cpu.isEmpty && !g.zombie {
                for (which, t) in g.timers.cpu {
                    let now = processCPUNanosecondsLocked(g, which)
                    guard now >= t.due else { continue }
                    sendLocked(SignalInfo(which == Self.ITIMER_VIRTUAL ? .SIGVTALRM : .SIGPROF, code: SignalInfo.SI_KERNEL), to: g)
                    if t.interval > 0 {
                        let (due, o) = t.due.addingReportingOverflow(t.interval)
                        g.timers.cpu[which] = (o ? .max : max(due, now), t.interval)
                    } else {
                        g.timers.cpu[which] = nil
                    }
                }
            }
            return groups.values.contains { !$0.timers.cpu.isEmpty && !$0.zombie }
        }
        if again { scheduleCPUTimerSample() }
    }
}

extension Kernel {
    /// A CPU clock's reading (ns) for `caller`: a thread's (`target` its tid,
    /// 0 the caller; only threads of the caller's own process, as Linux) or a
    /// process's (`target` its pid, 0 the caller's). `kind` 1 (CPUCLOCK_VIRT)
    /// counts the guest's own code; 0 and 2 (PROF, SCHED) the sentry's share too.
    public func cpuClock(of caller: Task, target: Int32, thread: Bool, kind: Int32) throws(Errno) -> Int64 {
        try locked { () throws(Errno) -> Int64 in
            if thread {
                let t: Task
                if target == 0 { t = caller } else {
                    guard let found = tasks[target], found.group === caller.group else { throw .EINVAL }
                    t = found
                }
                return threadCPUNanosecondsLocked(t, includingSentry: kind != 1)
            }
            guard let g = target == 0 ? caller.group : groups[target], !g.zombie else { throw .EINVAL }
            return processCPUNanosecondsLocked(g, kind == 1 ? Self.ITIMER_VIRTUAL : Self.ITIMER_PROF)
        }
    }

    /// One task's CPU time (ns): its stub's, and its sentry thread's with
    /// `includingSentry`, or always where the guest's code runs on that
    /// thread (vmexec: no stub of its own). Kernel lock held.
    func threadCPUNanosecondsLocked(_ t: Task, includingSentry: Bool) -> Int64 {
        var total = t.carriedCPU.guest
        if includingSentry || t.stubClock == nil { total &+= t.carriedCPU.sentry }
        if let s = t.stubClock, let ns = HostCPUClock.nanoseconds(of: s.pid) { total &+= max(0, ns - s.base) }
        if includingSentry || t.stubClock == nil, let c = t.sentryThreadClock {
            var ts = timespec()
            if clock_gettime(c, &ts) == 0 { total &+= Int64(ts.tv_sec) * 1_000_000_000 + Int64(ts.tv_nsec) }
        }
        return total
    }
}
