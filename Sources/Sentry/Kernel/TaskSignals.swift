import Glibc

/// The signal operations syscalls ask of a task, with Linux's rules.
extension Task {
    public func sigaction(_ signo: Int32, new: SignalAction?) throws(Errno) -> SignalAction {
        guard signo >= 1, signo <= 64 else { throw .EINVAL }
        let sig = Signal(signo)
        return try kernel.locked { () throws(Errno) -> SignalAction in
            let old = group.handlers.actions[Int(signo)]
            if var act = new {
                guard sig != .SIGKILL, sig != .SIGSTOP else { throw .EINVAL }
                act.mask &= ~SignalSets.unblockable
                group.handlers.actions[Int(signo)] = act
                // POSIX: an action that ignores a signal discards pending instances.
                if group.handlers.ignores(sig) {
                    let bit = SignalQueue.bit(sig)
                    group.sharedPending.discard(bit)
                    for t in group.tasks { t.pending.discard(bit) }
                }
            }
            return old
        }
    }

    /// rt_sigprocmask: how 0 = SIG_BLOCK, 1 = SIG_UNBLOCK, 2 = SIG_SETMASK.
    public func sigprocmask(how: Int32, set: UInt64?) throws(Errno) -> UInt64 {
        try kernel.locked { () throws(Errno) -> UInt64 in
            let old = signalMask
            if let set {
                switch how {
                case 0: signalMask |= set
                case 1: signalMask &= ~set
                case 2: signalMask = set
                default: throw .EINVAL
                }
                signalMask &= ~SignalSets.unblockable
                signalMaskChangedLocked(from: old)
            }
            return old
        }
    }

    /// Replaces the mask for the duration of a wait (sigsuspend, ppoll,
    /// pselect6, epoll_pwait); it comes back when a handler's frame is set
    /// up, or right after the call if no handler ran.
    public func setTemporaryMask(_ mask: UInt64) {
        kernel.locked {
            savedMask = signalMask
            signalMask = mask & ~SignalSets.unblockable
        }
    }

    public func restoreTemporaryMask() {
        kernel.locked {
            if let m = savedMask { signalMask = m; savedMask = nil }
        }
    }

    /// Whether a signal interrupted the last wait and will be delivered now
    /// (then the saved mask must stay saved until the frame is built).
    public var signalWaiting: Bool { kernel.locked { interruptedLocked } }

    public var pendingSignals: UInt64 {
        kernel.locked { (pending.bits | group.sharedPending.bits) & signalMask }
    }

    public func sigaltstack(_ new: (sp: UInt64, flags: Int32, size: UInt64)?) throws(Errno) -> AltStack {
        try kernel.locked { () throws(Errno) -> AltStack in
            var reported = altStack
            reported.flags = altStack.reportedFlags(regs.sp)
            if let new { try altStack.change(sp: new.sp, flags: new.flags, size: new.size, currentSP: regs.sp) }
            return reported
        }
    }

    /// rt_sigtimedwait: takes a pending signal in `set` (blocked or not),
    /// waiting up to the deadline. EAGAIN on timeout.
    public func sigtimedwait(_ set: UInt64, deadline: Deadline?) throws(Errno) -> SignalInfo {
        let wanted = set & ~SignalSets.unblockable
        var got: SignalInfo?
        // Signals in the set are waited for, not delivered: unblocked ones
        // must not interrupt the wait, so block them for its duration.
        let old = kernel.locked { () -> UInt64 in let m = signalMask; signalMask |= wanted; return m }
        defer { kernel.locked { signalMask = old } }
        let r = try block(on: [group.signalEvents], deadline: deadline, interruptedBy: .EINTR) { () throws(Errno) in
            got = kernel.locked { dequeueSignalLocked(from: wanted) }
            return got != nil
        }
        if r == .timedOut { throw .EAGAIN }
        return got!
    }

    /// kill(2): pid > 0 one process; 0 the caller's group; -1 every process
    /// but init and the caller's own; < -1 a process group. Signal 0 probes.
    public func kill(pid: Int32, _ info: SignalInfo) throws(Errno) {
        guard info.signo >= 0, info.signo <= 64 else { throw .EINVAL }
        // -INT_MIN has no group to name (Linux: ESRCH before anything else).
        guard pid != Int32.min else { throw .ESRCH }
        try kernel.locked { () throws(Errno) in
            let targets: [ThreadGroup]
            if pid > 0 {
                guard let g = kernel.groupLocked(pid) else { throw .ESRCH }
                targets = [g]
            } else if pid == -1 {
                targets = kernel.groups.values.filter { !$0.zombie && $0 !== kernel.initGroup && $0 !== group }
            } else {
                let pg = pid == 0 ? group.pgid : -pid
                targets = kernel.groups.values.filter { !$0.zombie && $0.pgid == pg }
            }
            if targets.isEmpty { throw .ESRCH }
            // check_kill_permission: a process the caller may not signal is
            // skipped; if every target was, the answer is EPERM.
            let allowed = targets.filter { mayKillLocked($0, signo: info.signo) }
            if allowed.isEmpty { throw .EPERM }
            if info.signo == 0 { return }
            for g in allowed { kernel.sendLocked(info, to: g) }
        }
    }

    /// kill_ok_by_cred: the caller's real or effective uid is the target's
    /// real or saved uid, or it has CAP_KILL; SIGCONT within the session is
    /// always allowed. Kernel lock held.
    func mayKillLocked(_ target: ThreadGroup, signo: Int32) -> Bool {
        if target === group { return true }
        if signo == Signal.SIGCONT.rawValue && target.sid == group.sid { return true }
        guard let other = target.tasks.first else { return true }   // a zombie: nothing to protect
        let c = attributes.withLock { $0.credentials }
        let t = other.attributes.withLock { $0.credentials }
        return c.euid == t.suid || c.euid == t.uid || c.uid == t.suid || c.uid == t.uid || c.capable(Credentials.CAP_KILL)
    }

    /// tgkill(2) and tkill(2) (tgid nil): one thread.
    public func tgkill(tgid: Int32?, tid: Int32, _ info: SignalInfo) throws(Errno) {
        guard info.signo >= 0, info.signo <= 64, tid > 0, (tgid ?? 1) > 0 else { throw .EINVAL }
        try kernel.locked { () throws(Errno) in
            guard let t = kernel.tasks[tid], tgid == nil || t.group.pid == tgid, !t.group.zombie else { throw .ESRCH }
            guard mayKillLocked(t.group, signo: info.signo) else { throw .EPERM }
            if info.signo == 0 { return }
            kernel.sendLocked(info, to: t.group, thread: t)
        }
    }

    /// siginfo for a signal this task sends (si_pid, si_uid filled).
    public func senderInfo(_ signo: Int32, code: Int32) -> SignalInfo {
        var info = SignalInfo(Signal(signo), code: code)
        info.pid = pid
        info.uid = attributes.withLock { $0.credentials.uid }
        return info
    }

    // MARK: - Process groups and sessions

    public func getpgid(_ p: Int32) throws(Errno) -> Int32 {
        try kernel.locked { () throws(Errno) -> Int32 in
            if p == 0 { return group.pgid }
            guard let g = kernel.groupLocked(p) else { throw .ESRCH }
            return g.pgid
        }
    }

    public func getsid(_ p: Int32) throws(Errno) -> Int32 {
        try kernel.locked { () throws(Errno) -> Int32 in
            if p == 0 { return group.sid }
            guard let g = kernel.groupLocked(p) else { throw .ESRCH }
            return g.sid
        }
    }

    /// setpgid(2): the caller or one of its children, within its session.
    public func setpgid(_ p: Int32, _ pg: Int32) throws(Errno) {
        guard pg >= 0 else { throw .EINVAL }
        try kernel.locked { () throws(Errno) in
            let target: ThreadGroup
            if p == 0 || p == pid { target = group } else {
                guard let g = kernel.groupLocked(p), g.parent === group else { throw .ESRCH }
                target = g
            }
            if target.sid == target.pid { throw .EPERM }           // a session leader
            if target.sid != group.sid { throw .EPERM }
            let newPG = pg == 0 ? target.pid : pg
            if newPG != target.pid && !kernel.groups.values.contains(where: { !$0.zombie && $0.pgid == newPG && $0.sid == group.sid }) {
                throw .EPERM
            }
            target.pgid = newPG
        }
    }

    public func setsid() throws(Errno) -> Int32 {
        try kernel.locked { () throws(Errno) -> Int32 in
            // A process group leader (or anyone whose pid names a group) may not.
            if kernel.groups.values.contains(where: { !$0.zombie && $0.pgid == pid }) { throw .EPERM }
            group.sid = pid
            group.pgid = pid
            return pid
        }
    }

    /// The foreground process group of the caller's session's host terminal
    /// as the guest sees it (Ctrl-C goes there for the sentry's own). Until a
    /// guest sets one, init's group, or the session leader's in a session of
    /// a process entered with its own terminal.
    public var foregroundProcessGroup: Int32 {
        kernel.locked { kernel.hostForegroundLocked(sid: group.sid) }
    }

    /// TIOCSPGRP: a process group of the caller's session.
    public func setForegroundProcessGroup(_ pg: Int32) throws(Errno) {
        try kernel.locked { () throws(Errno) in
            guard kernel.groups.values.contains(where: { !$0.zombie && $0.pgid == pg }) else { throw .ESRCH }
            guard kernel.groups.values.contains(where: { !$0.zombie && $0.pgid == pg && $0.sid == group.sid }) else { throw .EPERM }
            kernel.hostForeground[group.sid] = pg
        }
    }

    // MARK: - Limits and timers

    public func rlimit(_ resource: Int32) -> (cur: UInt64, max: UInt64)? { group.limits.withLock { $0[resource] } }
    public func setRlimit(_ resource: Int32, _ v: (cur: UInt64, max: UInt64)) {
        group.limits.withLock { $0[resource] = v }
        if resource == 7 { fds.limit = Int32(clamping: v.cur) }
    }

    /// ITIMER_REAL: returns the previous (value, interval) in ns.
    public func setRealTimer(value: Int64, interval: Int64) -> (Int64, Int64) {
        kernel.setRealTimer(group, value: value, interval: interval)
    }
    public var realTimer: (Int64, Int64) { kernel.realTimer(group) }

    /// ITIMER_VIRTUAL (1) or ITIMER_PROF (2): returns the previous (value, interval) in ns.
    public func setCPUTimer(_ which: Int32, value: Int64, interval: Int64) -> (Int64, Int64) {
        kernel.setCPUTimer(group, which: which, value: value, interval: interval)
    }
    public func cpuTimer(_ which: Int32) -> (Int64, Int64) { kernel.cpuTimer(group, which: which) }

    /// CPU time of the task's process and its reaped children, in clock
    /// ticks (times(2), /proc/PID/stat).
    public var cpuTicks: (user: Int64, system: Int64, childUser: Int64, childSystem: Int64) {
        let (own, c) = kernel.locked { (kernel.processUsageLocked(group), group.childUsage) }
        return (own.userTicks, own.systemTicks, c.userTicks, c.systemTicks)
    }
}
