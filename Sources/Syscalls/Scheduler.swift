import CSwitch
import Glibc
import Sentry

/// The scheduler calls (kernel/sched/core.c, kernel/sys.c's priorities):
/// policy, real-time priority, nice value and affinity are kept per task with
/// Linux's validation and permission rules and read back by every getter.
/// The host schedules the sentry's threads as it likes: the values are the
/// guest's view, not applied to the host.
enum Scheduler {
    static let PRIO_PROCESS: Int32 = 0, PRIO_PGRP: Int32 = 1, PRIO_USER: Int32 = 2

    /// find_process_by_pid: 0 is the caller; any other id is a thread of the sandbox.
    static func target(_ t: Task, _ pid: Int32) throws(Errno) -> Task {
        if pid == 0 { return t }
        guard let p = t.kernel.task(pid) else { throw .ESRCH }
        return p
    }

    static func scheduling(_ t: Task) -> Scheduling { t.attributes.withLock { $0.scheduling } }

    /// check_same_owner: the caller's euid is the target's uid or euid.
    static func sameOwner(_ caller: Credentials, _ p: Task) -> Bool {
        let c = Creds.creds(p)
        return caller.euid == c.euid || caller.euid == c.uid
    }

    /// can_nice: lowering nice to `nice` is within RLIMIT_NICE (20 - nice), or CAP_SYS_NICE.
    static func canNice(_ caller: Credentials, _ p: Task, _ nice: Int32) -> Bool {
        let limit = p.resourceLimits[ResourceLimit.RLIMIT_NICE]?.cur ?? 0
        return UInt64(20 - nice) <= limit || caller.capable(Credentials.CAP_SYS_NICE)
    }

    // MARK: policy and priority

    static func schedSetscheduler(_ t: Task, _ a: SyscallArguments) throws(Errno) -> Int64 {
        let policy = a.int32(1)
        guard policy >= 0 else { throw .EINVAL }
        return try setScheduler(t, pid: a.int32(0), policy: policy, param: a.address(2))
    }

    static func schedSetparam(_ t: Task, _ a: SyscallArguments) throws(Errno) -> Int64 {
        try setScheduler(t, pid: a.int32(0), policy: nil, param: a.address(1))
    }

    /// do_sched_setscheduler: the legacy calls as a sched_attr keeping the
    /// task's nice value; a nil policy keeps the current one (SETPARAM_POLICY).
    private static func setScheduler(_ t: Task, pid: Int32, policy requested: Int32?, param: GuestAddress) throws(Errno) -> Int64 {
        guard !param.isNull, pid >= 0 else { throw .EINVAL }
        let priority = try t.mm.read(param, as: Int32.self)
        let p = try target(t, pid)
        var attr = SchedAttr()
        attr.nice = scheduling(p).nice
        attr.priority = UInt32(bitPattern: priority)
        if let requested {
            // The legacy SCHED_RESET_ON_FORK bit in the policy.
            if requested & Scheduling.SCHED_RESET_ON_FORK != 0 { attr.flags |= SchedAttr.SCHED_FLAG_RESET_ON_FORK }
            attr.policy = requested & ~Scheduling.SCHED_RESET_ON_FORK
        } else {
            attr.policy = nil
        }
        try apply(attr, to: p, by: Creds.creds(t))
        return 0
    }

    /// user_check_sched_setscheduler: what an unprivileged caller may not do
    /// without CAP_SYS_NICE (EPERM).
    private static func userMayChange(_ p: Task, _ old: Scheduling, _ attr: SchedAttr, policy: Int32,
                                      resetOnFork: Bool, _ caller: Credentials) -> Bool {
        if caller.capable(Credentials.CAP_SYS_NICE) { return true }
        if Scheduling.isFair(policy) && attr.nice < old.nice && !canNice(caller, p, attr.nice) { return false }
        if Scheduling.isRealTime(policy) {
            let rtprio = p.resourceLimits[ResourceLimit.RLIMIT_RTPRIO]?.cur ?? 0
            if policy != old.policy && rtprio == 0 { return false }
            if attr.priority > UInt32(bitPattern: old.priority) && UInt64(attr.priority) > rtprio { return false }
        }
        // Linux lets no unprivileged task become or stay SCHED_DEADLINE "for now".
        if policy == Scheduling.SCHED_DEADLINE { return false }
        // SCHED_IDLE counts as nice 20: leaving it is lowering the nice value.
        if old.policy == Scheduling.SCHED_IDLE && policy != Scheduling.SCHED_IDLE && !canNice(caller, p, old.nice) { return false }
        if !sameOwner(caller, p) { return false }
        return !(old.resetOnFork && !resetOnFork)
    }

    /// __sched_setscheduler as a user's call asks it: validation (EINVAL),
    /// permission (EPERM), utilization clamps refused as by a kernel built
    /// without CONFIG_UCLAMP_TASK (Debian's 6.1: EOPNOTSUPP), SCHED_DEADLINE's
    /// root-domain and bandwidth admission (EPERM, EBUSY), then the new state.
    static func apply(_ attr: SchedAttr, to p: Task, by caller: Credentials) throws(Errno) {
        let old = scheduling(p)
        let policy: Int32, resetOnFork: Bool
        if let requested = attr.policy {
            resetOnFork = attr.flags & SchedAttr.SCHED_FLAG_RESET_ON_FORK != 0
            policy = requested
            guard Scheduling.isValid(policy) else { throw .EINVAL }
        } else {
            resetOnFork = old.resetOnFork
            policy = old.policy
        }
        guard attr.flags & ~(SchedAttr.SCHED_FLAG_ALL | SchedAttr.SCHED_FLAG_SUGOV) == 0 else { throw .EINVAL }
        guard attr.priority <= UInt32(Scheduling.maxRTPriority) else { throw .EINVAL }
        if policy == Scheduling.SCHED_DEADLINE && !attr.deadlineParametersValid { throw .EINVAL }
        if Scheduling.isRealTime(policy) != (attr.priority != 0) { throw .EINVAL }
        guard userMayChange(p, old, attr, policy: policy, resetOnFork: resetOnFork, caller) else { throw .EPERM }
        // The schedutil governor's flag is the kernel's own.
        if attr.flags & SchedAttr.SCHED_FLAG_SUGOV != 0 { throw .EINVAL }
        if attr.flags & SchedAttr.SCHED_FLAG_UTIL_CLAMP != 0 { throw .EOPNOTSUPP }

        let dlFlags = attr.flags & SchedAttr.SCHED_DL_FLAGS
        let unchanged: Bool = {
            guard policy == old.policy else { return false }
            if Scheduling.isFair(policy) { return attr.nice == old.nice }
            if Scheduling.isRealTime(policy) { return Int32(attr.priority) == old.priority }
            if policy == Scheduling.SCHED_DEADLINE {
                return attr.runtime == old.runtime && attr.deadline == old.deadline && attr.period == old.period
                    && dlFlags == old.deadlineFlags
            }
            return true
        }()
        if !unchanged && policy == Scheduling.SCHED_DEADLINE {
            // A deadline task must be allowed every CPU of its root domain.
            let all = hostCPUs()
            if let mask = old.affinity, mask & all != all { throw .EPERM }
            if try overflowsDeadlineBandwidth(p, old, attr) { throw .EBUSY }
        }
        p.attributes.withLock {
            $0.scheduling.resetOnFork = resetOnFork
            guard !unchanged, attr.flags & SchedAttr.SCHED_FLAG_KEEP_PARAMS == 0 else { return }
            // __setscheduler_params
            $0.scheduling.policy = policy
            if policy == Scheduling.SCHED_DEADLINE {
                $0.scheduling.runtime = attr.runtime
                $0.scheduling.deadline = attr.deadline
                $0.scheduling.period = attr.period == 0 ? attr.deadline : attr.period
                $0.scheduling.deadlineFlags = dlFlags
            } else if Scheduling.isFair(policy) {
                $0.scheduling.nice = attr.nice
            }
            $0.scheduling.priority = Int32(attr.priority)
            // Real-time and deadline tasks have no timer slack; others get their default back.
            if Scheduling.isRealTime(policy) || policy == Scheduling.SCHED_DEADLINE {
                $0.timerSlack = 0
            } else if $0.timerSlack == 0 {
                $0.timerSlack = $0.defaultTimerSlack
            }
        }
    }

    /// sched_dl_overflow: the deadline tasks of the sandbox may together use
    /// at most sched_rt_runtime_us / sched_rt_period_us (950000 / 1000000) of
    /// every CPU, in BW_SHIFT fixed point. The sandbox is its own root domain.
    private static func overflowsDeadlineBandwidth(_ p: Task, _ old: Scheduling, _ attr: SchedAttr) throws(Errno) -> Bool {
        let newBW = SchedAttr.ratio(period: attr.period == 0 ? attr.deadline : attr.period, runtime: attr.runtime)
        let oldBW = old.policy == Scheduling.SCHED_DEADLINE ? SchedAttr.ratio(period: old.period, runtime: old.runtime) : 0
        if old.policy == Scheduling.SCHED_DEADLINE && newBW == oldBW { return false }
        var total: UInt64 = 0
        for other in p.sandboxTasks {
            let s = scheduling(other)
            if s.policy == Scheduling.SCHED_DEADLINE {
                total = total.addingReportingOverflow(SchedAttr.ratio(period: s.period, runtime: s.runtime)).partialValue
            }
        }
        let cpus = UInt64(max(1, hostCPUs().nonzeroBitCount))
        let cap = SchedAttr.ratio(period: 1_000_000, runtime: 950_000).multipliedReportingOverflow(by: cpus).partialValue
        return cap < total - min(total, oldBW) + newBW
    }

    /// sched_setattr(pid, attr, flags).
    static func schedSetattr(_ t: Task, _ a: SyscallArguments) throws(Errno) -> Int64 {
        let pid = a.int32(0)
        guard !a.address(1).isNull, pid >= 0, UInt32(truncatingIfNeeded: a[2]) == 0 else { throw .EINVAL }
        var attr = try SchedAttr.copyIn(t, a.address(1))
        guard attr.rawPolicy >= 0 else { throw .EINVAL }
        attr.policy = attr.flags & SchedAttr.SCHED_FLAG_KEEP_POLICY != 0 ? nil : attr.rawPolicy
        let p = try target(t, pid)
        // get_params: SCHED_FLAG_KEEP_PARAMS takes the task's own parameters.
        if attr.flags & SchedAttr.SCHED_FLAG_KEEP_PARAMS != 0 { attr.takeParameters(of: scheduling(p)) }
        try apply(attr, to: p, by: Creds.creds(t))
        return 0
    }

    /// sched_getattr(pid, attr, size, flags): as much of the kernel's
    /// struct as the caller has room for, its size field saying how much.
    static func schedGetattr(_ t: Task, _ a: SyscallArguments) throws(Errno) -> Int64 {
        let pid = a.int32(0), size = UInt32(truncatingIfNeeded: a[2])
        guard !a.address(1).isNull, pid >= 0, size <= SchedAttr.maxSize, size >= SchedAttr.SCHED_ATTR_SIZE_VER0,
              UInt32(truncatingIfNeeded: a[3]) == 0 else { throw .EINVAL }
        let s = scheduling(try target(t, pid))
        var attr = SchedAttr()
        attr.rawPolicy = s.policy
        if s.resetOnFork { attr.flags |= SchedAttr.SCHED_FLAG_RESET_ON_FORK }
        attr.takeParameters(of: s)
        attr.flags &= SchedAttr.SCHED_FLAG_ALL
        let bytes = attr.encoded(size: min(size, SchedAttr.SCHED_ATTR_SIZE_VER1))
        try t.mm.copyOut(a.address(1), bytes)
        return 0
    }

    static func schedGetscheduler(_ t: Task, _ a: SyscallArguments) throws(Errno) -> Int64 {
        guard a.int32(0) >= 0 else { throw .EINVAL }
        let s = scheduling(try target(t, a.int32(0)))
        return Int64(s.policy | (s.resetOnFork ? Scheduling.SCHED_RESET_ON_FORK : 0))
    }

    static func schedGetparam(_ t: Task, _ a: SyscallArguments) throws(Errno) -> Int64 {
        guard !a.address(1).isNull, a.int32(0) >= 0 else { throw .EINVAL }
        let s = scheduling(try target(t, a.int32(0)))
        try t.mm.write(a.address(1), Scheduling.isRealTime(s.policy) ? s.priority : 0)
        return 0
    }

    static func schedGetPriorityMax(_ t: Task, _ a: SyscallArguments) throws(Errno) -> Int64 {
        let p = a.int32(0)
        guard Scheduling.isValid(p) else { throw .EINVAL }
        return Scheduling.isRealTime(p) ? Int64(Scheduling.maxRTPriority) : 0
    }

    static func schedGetPriorityMin(_ t: Task, _ a: SyscallArguments) throws(Errno) -> Int64 {
        let p = a.int32(0)
        guard Scheduling.isValid(p) else { throw .EINVAL }
        return Scheduling.isRealTime(p) ? 1 : 0
    }

    /// The time slice: RR_TIMESLICE (100 ms) for SCHED_RR, none for FIFO,
    /// and for the fair classes what CFS gives a task alone on its CPU:
    /// sched_latency (6 ms scaled by 1 + log2 of the CPUs, at most 8), in whole 4 ms jiffies.
    static func schedRrGetInterval(_ t: Task, _ a: SyscallArguments) throws(Errno) -> Int64 {
        guard a.int32(0) >= 0 else { throw .EINVAL }
        let s = scheduling(try target(t, a.int32(0)))
        var ns: Int64
        switch s.policy {
        case Scheduling.SCHED_RR: ns = 100_000_000
        case Scheduling.SCHED_FIFO: ns = 0
        default:
            let cpus = max(1, min(8, sysconf(Int32(_SC_NPROCESSORS_ONLN))))
            let factor = Int64(1 + (Int.bitWidth - 1 - cpus.leadingZeroBitCount))
            ns = 6_000_000 * factor
            ns -= ns % 4_000_000
        }
        try t.mm.write(a.address(1), timespec(tv_sec: Int(ns / 1_000_000_000), tv_nsec: Int(ns % 1_000_000_000)))
        return 0
    }

    // MARK: nice values

    static func getpriority(_ t: Task, _ a: SyscallArguments) throws(Errno) -> Int64 {
        let tasks = try matching(t, which: a.int32(0), who: a.int32(1))
        guard !tasks.isEmpty else { throw .ESRCH }
        // The highest priority (lowest nice) as 20 - nice, so never negative.
        return Int64(tasks.map { 20 - scheduling($0).nice }.max()!)
    }

    static func setpriority(_ t: Task, _ a: SyscallArguments) throws(Errno) -> Int64 {
        let nice = max(Scheduling.minNice, min(Scheduling.maxNice, a.int32(2)))
        let tasks = try matching(t, which: a.int32(0), who: a.int32(1))
        guard !tasks.isEmpty else { throw .ESRCH }
        let caller = Creds.creds(t)
        var error: Errno?
        for p in tasks {   // set_one_prio: each task is tried; the last refusal is the answer
            let c = Creds.creds(p)
            guard c.uid == caller.euid || c.euid == caller.euid || caller.capable(Credentials.CAP_SYS_NICE) else {
                error = .EPERM; continue
            }
            if nice < scheduling(p).nice && !canNice(caller, p, nice) { error = .EACCES; continue }
            p.attributes.withLock { $0.scheduling.nice = nice }
        }
        if let error { throw error }
        return 0
    }

    /// The tasks PRIO_PROCESS, PRIO_PGRP or PRIO_USER names.
    static func matching(_ t: Task, which: Int32, who: Int32) throws(Errno) -> [Task] {
        switch which {
        case PRIO_PROCESS:
            if who == 0 { return [t] }
            return t.kernel.task(who).map { [$0] } ?? []
        case PRIO_PGRP:
            return t.tasks(inProcessGroup: who == 0 ? t.processGroupID : who)
        case PRIO_USER:
            let uid = who == 0 ? Creds.creds(t).uid : UInt32(bitPattern: who)
            return t.sandboxTasks.filter { Creds.creds($0).uid == uid }
        default:
            throw .EINVAL
        }
    }

    // MARK: CPUs

    /// The CPUs the sentry itself may run on (the first 64), as it started:
    /// a sentry thread narrowed for a guest's affinity does not narrow them.
    static func hostCPUs() -> UInt64 {
        var mask: UInt64 = 0
        if sw_affinity_mask(&mask) < 0 || mask == 0 { mask = 1 }
        return mask
    }

    static func schedSetaffinity(_ t: Task, _ a: SyscallArguments) throws(Errno) -> Int64 {
        // get_user_cpu_mask: a shorter mask is zero-extended, a longer one cut to the kernel's size.
        let len = Int(min(a[1], 8))
        var raw = len == 0 ? [] : try t.mm.copyIn(a.address(2), len)
        raw += [UInt8](repeating: 0, count: 8 - raw.count)
        let requested = raw.withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) }
        let p = try target(t, a.int32(0))
        let caller = Creds.creds(t)
        guard sameOwner(caller, p) || caller.capable(Credentials.CAP_SYS_NICE) else { throw .EPERM }
        let mask = requested & hostCPUs()
        guard mask != 0 else { throw .EINVAL }
        // A deadline task keeps every CPU of its root domain (__sched_setaffinity).
        if scheduling(p).policy == Scheduling.SCHED_DEADLINE && mask != hostCPUs() { throw .EBUSY }
        p.attributes.withLock { $0.scheduling.affinity = mask }
        p.applyHostAffinity()
        return 0
    }

    static func schedGetaffinity(_ t: Task, _ a: SyscallArguments) throws(Errno) -> Int64 {
        let len = a[1]
        // The length must cover nr_cpu_ids bits and be a multiple of a long.
        guard len >= 8, len & 7 == 0 else { throw .EINVAL }
        let p = try target(t, a.int32(0))
        let mask = (scheduling(p).affinity ?? ~0) & hostCPUs()
        try t.mm.write(a.address(2), mask)
        return 8
    }

    /// getcpu: the CPU the host says the task's thread is on, if the guest's
    /// affinity allows it; else the first CPU the guest allowed itself.
    static func getcpu(_ t: Task, _ a: SyscallArguments) throws(Errno) -> Int64 {
        let (cpu, node) = t.reportedCPU()
        if !a.address(0).isNull { try t.mm.write(a.address(0), cpu) }
        if !a.address(1).isNull { try t.mm.write(a.address(1), node) }
        return 0
    }
}
