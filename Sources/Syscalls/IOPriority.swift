import Sentry

/// ioprio_set/ioprio_get (block/ioprio.c): a task's I/O class and level,
/// kept in its I/O context with Linux's checks and answered back. The host
/// schedules the sentry's own I/O: like the scheduler's values, these are
/// the guest's view, not applied to host devices.
enum IOPriority {
    /// ioprio_check_cap.
    static func check(_ t: Task, _ prio: Int32) throws(Errno) {
        switch IOPrio.ioClass(prio) {
        case IOPrio.CLASS_RT:
            let c = Creds.creds(t)
            guard c.capable(Credentials.CAP_SYS_ADMIN) || c.capable(Credentials.CAP_SYS_NICE) else { throw .EPERM }
        case IOPrio.CLASS_BE, IOPrio.CLASS_IDLE: break   // a 3-bit level is always below IOPRIO_NR_LEVELS
        case IOPrio.CLASS_NONE: if IOPrio.level(prio) != 0 { throw .EINVAL }
        default: throw .EINVAL
        }
    }

    /// The IOPRIO_WHO_* kinds as the scheduler's PRIO_* ones, which name the same sets of tasks.
    static func tasks(_ t: Task, which: Int32, who: Int32) throws(Errno) -> [Task] {
        switch which {
        case IOPrio.WHO_PROCESS: return try Scheduler.matching(t, which: Scheduler.PRIO_PROCESS, who: who)
        case IOPrio.WHO_PGRP: return try Scheduler.matching(t, which: Scheduler.PRIO_PGRP, who: who)
        case IOPrio.WHO_USER: return try Scheduler.matching(t, which: Scheduler.PRIO_USER, who: who)
        default: throw .EINVAL
        }
    }

    static func ioprioSet(_ t: Task, _ a: SyscallArguments) throws(Errno) -> Int64 {
        let prio = a.int32(2)
        try check(t, prio)
        let targets = try tasks(t, which: a.int32(0), who: a.int32(1))
        guard !targets.isEmpty else { throw .ESRCH }
        let caller = Creds.creds(t)
        for p in targets {   // set_task_ioprio: the first refusal ends the walk
            let c = Creds.creds(p)
            guard c.uid == caller.euid || c.uid == caller.uid || caller.capable(Credentials.CAP_SYS_NICE) else { throw .EPERM }
            p.ioContext.priority.store(prio, ordering: .relaxed)
        }
        return 0
    }

    static func ioprioGet(_ t: Task, _ a: SyscallArguments) throws(Errno) -> Int64 {
        let which = a.int32(0)
        let targets = try tasks(t, which: which, who: a.int32(1))
        guard !targets.isEmpty else { throw .ESRCH }
        // One process: the raw value, IOPRIO_DEFAULT if never set; a group
        // or user: the best (numerically lowest) effective priority.
        if which == IOPrio.WHO_PROCESS { return Int64(targets[0].ioContext.priority.load(ordering: .relaxed)) }
        return Int64(targets.map(effective).min()!)
    }

    /// __get_task_ioprio: an unset priority follows the scheduler: the
    /// class from the policy, the level from the nice value.
    static func effective(_ p: Task) -> Int32 {
        let raw = p.ioContext.priority.load(ordering: .relaxed)
        if IOPrio.isSet(raw) { return raw }
        let s = Scheduler.scheduling(p)
        let ioClass = s.policy == Scheduling.SCHED_IDLE ? IOPrio.CLASS_IDLE
            : Scheduling.isRealTime(s.policy) || s.policy == Scheduling.SCHED_DEADLINE ? IOPrio.CLASS_RT : IOPrio.CLASS_BE
        return IOPrio.value(ioClass, (s.nice + 20) / 5)
    }
}
