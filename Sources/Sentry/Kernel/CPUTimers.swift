import Glibc

/// A CPU clock a POSIX timer counts on (posix-cpu-timers.c): one thread's
/// or one process's, held weakly as Linux holds the task, and which time
/// (CPUCLOCK_PROF: all of it, VIRT: the guest's own code, SCHED: as PROF).
struct CPUClockRef {
    weak var task: Task?
    weak var group: ThreadGroup?
    let kind: Int32
}

/// Timers on CPU time: ITIMER_VIRTUAL, ITIMER_PROF and POSIX timers on a
/// CPU clock. A sampler on the timer thread reads the clocks every
/// `cpuTimerPeriod` while any such timer is armed and signals those whose
/// time has come, as Linux checks at each tick. ITIMER_VIRTUAL counts the
/// guest's own code (its stubs' CPU time), ITIMER_PROF also the sentry
/// threads' time serving its syscalls (Linux's system time). An itimer's
/// signal wakes the thread that spent the most CPU since the last sample, as
/// Linux's tick sends it from the running thread (a profiler's SIGPROF lands
/// in the code that burns the time, not in a sleeping thread); a POSIX
/// timer's goes to the leader first, as 6.1's send_sigqueue does.
extension Kernel {
    static let cpuTimerPeriod: Int64 = 4_000_000   // a 250 Hz tick
    static let ITIMER_VIRTUAL: Int32 = 1, ITIMER_PROF: Int32 = 2

    /// The CPU time of `g`'s live threads and of those gone (ns), the
    /// sentry's share included for `which` == ITIMER_PROF. Kernel lock held.
    func processCPUNanosecondsLocked(_ g: ThreadGroup, _ which: Int32) -> Int64 {
        ProcessCPUSample(g, kernel: self).nanoseconds(which)
    }

    /// setitimer(ITIMER_VIRTUAL or ITIMER_PROF): returns the old remaining time and interval (ns).
    func setCPUTimer(_ g: ThreadGroup, which: Int32, value: Int64, interval: Int64) -> (Int64, Int64) {
        locked {
            let now = processCPUNanosecondsLocked(g, which)
            let old = g.timers.cpu[which]
            if value > 0 {
                let (due, o) = now.addingReportingOverflow(value)
                g.timers.cpu[which] = (o ? .max : due, interval)
                startCPUSamplingLocked()
            } else {
                g.timers.cpu[which] = nil
            }
            return old.map { (max(1, $0.due - now), $0.interval) } ?? (0, 0)
        }
    }

    /// The CPU clock a timer_create clock id names (lookup_task for a
    /// timer): CLOCK_PROCESS_CPUTIME_ID, CLOCK_THREAD_CPUTIME_ID, or
    /// `~pid << 3 | kind` (`| 4` for a thread) as clock_getcpuclockid and
    /// pthread_getcpuclockid make them: a thread of the caller's own
    /// process, or any live process by its pid. Returns the clock and its id
    /// with the thread or process made explicit (what an image keeps); nil
    /// for a clock that is not a CPU clock. Kernel lock held.
    func cpuTimerClockLocked(_ id: Int32, caller: Task) throws(Errno) -> (CPUClockRef, Int32)? {
        let target: Int32, thread: Bool, kind: Int32
        switch id {
        case 2: (target, thread, kind) = (0, false, 2)
        case 3: (target, thread, kind) = (0, true, 2)
        case let id where id < 0:
            (target, thread, kind) = (~(id >> 3), id & 4 != 0, id & 3)
            // Kind 3 is CLOCKFD: a dynamic clock (a PTP device's fd), which has no timers.
            guard kind != 3 else { throw .EOPNOTSUPP }
        default: return nil
        }
        if thread {
            guard let t = target == 0 ? caller : tasks[target], t.group === caller.group, !t.exiting else { throw .EINVAL }
            return (CPUClockRef(task: t, group: nil, kind: kind), (~t.tid) << 3 | kind | 4)
        }
        guard let g = target == 0 ? caller.group : groups[target], !g.zombie else { throw .EINVAL }
        return (CPUClockRef(task: nil, group: g, kind: kind), (~g.pid) << 3 | kind)
    }

    /// A CPU clock's reading (ns), nil once its thread or process is gone. Kernel lock held.
    func cpuClockNowLocked(_ c: CPUClockRef) -> Int64? {
        if let t = c.task { return t.exiting ? nil : threadCPUNanosecondsLocked(t, includingSentry: c.kind != 1) }
        guard let g = c.group, !g.zombie else { return nil }
        return processCPUNanosecondsLocked(g, c.kind == 1 ? Self.ITIMER_VIRTUAL : Self.ITIMER_PROF)
    }

    /// Arms a POSIX timer on a CPU clock (timer_settime): `value` ns of that
    /// clock from now, or at `value` when `absolute`. Returns the old
    /// remaining time and interval. Kernel lock held.
    func armCPUPosixTimerLocked(_ timer: ProcessTimers.PosixTimer, _ c: CPUClockRef, value: Int64, interval: Int64, absolute: Bool) -> (Int64, Int64) {
        let now = cpuClockNowLocked(c)
        let old = (timer.deadline == 0 || now == nil ? 0 : max(1, timer.deadline - now!), timer.interval)
        timer.interval = interval
        timer.deadline = 0
        // A clock whose thread or process has gone never fires (Linux: the timer stays, disarmed).
        if value > 0, let now {
            let (sum, o) = now.addingReportingOverflow(value)
            timer.deadline = absolute ? value : (o ? .max : sum)
            startCPUSamplingLocked()
        }
        return old
    }

    /// A POSIX timer's remaining time on its clock (0: disarmed). Kernel lock held.
    func posixTimerRemainingLocked(_ t: ProcessTimers.PosixTimer) -> Int64 {
        guard t.deadline != 0 else { return 0 }
        if let c = t.cpu {
            guard let now = cpuClockNowLocked(c) else { return 0 }
            return max(1, t.deadline - now)
        }
        return max(1, t.deadline - Deadline.now(t.clock))
    }

    /// Starts the sampler unless it runs. Kernel lock held.
    private func startCPUSamplingLocked() {
        guard !cpuSampling else { return }
        cpuSampling = true
        scheduleCPUTimerSample()
    }

    func cpuTimer(_ g: ThreadGroup, which: Int32) -> (Int64, Int64) {
        locked {
            guard let t = g.timers.cpu[which] else { return (0, 0) }
            return (max(1, t.due - processCPUNanosecondsLocked(g, which)), t.interval)
        }
    }

    private func scheduleCPUTimerSample() {
        // Strong: see armRealLocked; sampling stops when no process has a CPU timer.
        _ = timerThread.schedule(at: Deadline.after(Self.cpuTimerPeriod).nanoseconds) { [self] in self.sampleCPUTimers() }
    }

    private func sampleCPUTimers() {
        let again: Bool = locked {
            for g in groups.values where !g.zombie {
                let posix = g.timers.posix.values.filter { $0.cpu != nil && $0.deadline != 0 }
                guard !g.timers.cpu.isEmpty || !posix.isEmpty else { continue }
                // Each thread's clocks are read once per tick; every timer of the process is judged from that reading.
                let sample = ProcessCPUSample(g, kernel: self)
                let busiest = sample.busiestSinceLastSample()
                for (which, t) in g.timers.cpu {
                    let now = sample.nanoseconds(which)
                    guard now >= t.due else { continue }
                    sendLocked(SignalInfo(which == Self.ITIMER_VIRTUAL ? .SIGVTALRM : .SIGPROF, code: SignalInfo.SI_KERNEL), to: g, prefer: busiest)
                    if t.interval > 0 {
                        let (due, o) = t.due.addingReportingOverflow(t.interval)
                        g.timers.cpu[which] = (o ? .max : max(due, now), t.interval)
                    } else {
                        g.timers.cpu[which] = nil
                    }
                }
                for timer in posix {
                    guard let c = timer.cpu, let now = sample.clock(c) ?? cpuClockNowLocked(c) else { timer.deadline = 0; continue }
                    guard now >= timer.deadline else { continue }
                    // 6.1's send_sigqueue offers a process-directed timer signal to
                    // the group leader first (6.3 prefers the current thread).
                    if timer.interval > 0 {
                        // Expiries missed between two samples move the deadline on
                        // and count as overruns (bump_cpu_timer).
                        let (next, expiries) = Self.forward(timer.deadline, every: timer.interval, past: now)
                        firePosixTimerLocked(g, timer, expiries: expiries)
                        timer.deadline = next
                    } else {
                        firePosixTimerLocked(g, timer)
                        timer.deadline = 0
                    }
                }
            }
            cpuSampling = groups.values.contains { g in
                !g.zombie && (!g.timers.cpu.isEmpty || g.timers.posix.values.contains { $0.cpu != nil && $0.deadline != 0 })
            }
            return cpuSampling
        }
        if again { scheduleCPUTimerSample() }
    }

    /// hrtimer_forward's step for a periodic timer that fired at `deadline`:
    /// the first of `deadline + k * interval` (k >= 1) after `now` (.max past
    /// Int64), and k, the periods that ended, each an expiry (1 when the
    /// next saturated).
    static func forward(_ deadline: Int64, every interval: Int64, past now: Int64) -> (next: Int64, expiries: Int64) {
        let (next, o) = deadline.addingReportingOverflow(interval)
        if o { return (.max, 1) }
        guard next <= now else { return (next, 1) }
        let (gap, o0) = now.subtractingReportingOverflow(next)
        let missed = gap / interval + 1
        let (jump, o1) = missed.multipliedReportingOverflow(by: interval)
        let (later, o2) = next.addingReportingOverflow(jump)
        return o0 || o1 || o2 ? (.max, 1) : (later, 1 + missed)
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
        ThreadCPUSample(t, includingServing: includingSentry).nanoseconds(includingSentry: includingSentry)
    }
}

/// One reading of a thread's CPU clocks: `own` is what every CPU clock
/// counts (the guest's code: its stub's time, or on vmexec, where the
/// guest runs on the sentry thread, that thread's); `serving` what only
/// the PROF and SCHED clocks add (the sentry thread's time serving calls).
struct ThreadCPUSample {
    var own: Int64, serving: Int64

    /// Reads the host clocks; the sentry thread's only if `includingServing`
    /// (one syscall fewer when the caller would not use it). Kernel lock held.
    init(_ t: Task, includingServing: Bool = true) {
        var sentry: Int64 = t.carriedCPU.sentry
        let sentryCounts = includingServing || t.stubClock == nil
        if sentryCounts, let c = t.sentryThreadClock {
            var ts = timespec()
            if clock_gettime(c, &ts) == 0 { sentry &+= max(0, Int64(ts.tv_sec) * 1_000_000_000 + Int64(ts.tv_nsec) &- t.sentryThreadClockBase) }
        }
        own = t.carriedCPU.guest
        if let s = t.stubClock {
            if let ns = HostCPUClock.nanoseconds(of: s.pid) { own &+= max(0, ns - s.base) }
            serving = sentryCounts ? sentry : 0
        } else {
            own &+= sentry
            serving = 0
        }
    }

    func nanoseconds(includingSentry: Bool) -> Int64 { includingSentry ? own &+ serving : own }
}

/// One reading of every live thread of a process, for a tick that judges
/// all of its CPU timers at once. Kernel lock held while it is used.
struct ProcessCPUSample {
    let group: ThreadGroup
    let threads: [(task: Task, sample: ThreadCPUSample)]

    init(_ g: ThreadGroup, kernel: Kernel) {
        group = g
        threads = g.tasks.map { ($0, ThreadCPUSample($0)) }
    }

    /// The process's CPU time for ITIMER_VIRTUAL or ITIMER_PROF, the threads gone included.
    func nanoseconds(_ which: Int32) -> Int64 {
        let prof = which == Kernel.ITIMER_PROF
        var total = group.exitedUsage.userNs &+ (prof ? group.exitedUsage.systemNs : 0)
        for (_, s) in threads { total &+= s.nanoseconds(includingSentry: prof) }
        return total
    }

    /// A CPU clock's reading from this sample, if the clock is this
    /// process's or one of its threads'; nil otherwise (read it afresh).
    func clock(_ c: CPUClockRef) -> Int64? {
        if let t = c.task {
            guard !t.exiting, let s = threads.first(where: { $0.task === t })?.sample else { return nil }
            return s.nanoseconds(includingSentry: c.kind != 1)
        }
        guard c.group === group else { return nil }
        return nanoseconds(c.kind == 1 ? Kernel.ITIMER_VIRTUAL : Kernel.ITIMER_PROF)
    }

    /// The thread that spent the most CPU since the last tick (the one a
    /// tick would have found running), and each thread's mark moved on.
    func busiestSinceLastSample() -> Task? {
        var best: (Task, Int64)? = nil
        for (t, s) in threads where !t.exiting {
            let now = s.nanoseconds(includingSentry: true)
            let spent = now &- t.cpuAtLastSample
            t.cpuAtLastSample = now
            if spent > (best?.1 ?? 0) { best = (t, spent) }
        }
        return best?.0
    }
}
