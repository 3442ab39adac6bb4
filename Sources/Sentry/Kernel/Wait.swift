import Glibc

/// wait4(2) and waitid(2): reaping children, and seeing them stop and continue.
public struct WaitRequest: Sendable {
    public enum Which: Sendable { case any, pid(Int32), group(Int32), myGroup }
    public var which: Which
    public var options: Int32
    public init(which: Which, options: Int32) { self.which = which; self.options = options }

    public static let WNOHANG: Int32 = 1, WUNTRACED: Int32 = 2, WEXITED: Int32 = 4, WCONTINUED: Int32 = 8
    public static let WNOWAIT: Int32 = 0x0100_0000, WNOTHREAD: Int32 = 0x2000_0000
    public static let WALL: Int32 = 0x4000_0000, WCLONE: Int32 = Int32(bitPattern: 0x8000_0000)
}

/// What wait found: the child, the status word (wait4) and the siginfo
/// fields (waitid).
public struct WaitResult: Sendable {
    public var pid: Int32
    public var status: Int32
    public var code: Int32
    public var infoStatus: Int32
    /// The child's rusage with its own reaped children's (getrusage(p, RUSAGE_BOTH)).
    public var usage = ResourceUsage()
}

extension Task {
    /// Blocks until a matching child has something to report. nil with
    /// WNOHANG when nothing is ready; ECHILD when there is no such child.
    public func waitChild(_ req: WaitRequest) throws(Errno) -> WaitResult? {
        var found: WaitResult?
        let noHang = req.options & WaitRequest.WNOHANG != 0
        _ = try block(on: [group.childEvents]) { () throws(Errno) in
            // The children and the pending signals in one look: a child that
            // dies between them would leave its SIGCHLD to interrupt a wait
            // whose zombie is already there (do_wait scans before it checks
            // signal_pending; holding the lock closes the gap between them).
            found = try kernel.locked { () throws(Errno) -> WaitResult? in
                if let r = try pollChildrenLocked(req) { return r }
                if !noHang && interruptedLocked { throw .ERESTARTSYS }
                return nil
            }
            return found != nil || noHang
        }
        return found
    }

    private func matches(_ c: ThreadGroup, _ req: WaitRequest) -> Bool {
        switch req.which {
        case .any: break
        case .pid(let p): if c.pid != p { return false }
        case .group(let g): if c.pgid != g { return false }
        case .myGroup: if c.pgid != group.pgid { return false }
        }
        // A "clone" child is one whose exit signal is not SIGCHLD.
        if req.options & WaitRequest.WALL != 0 { return true }
        let cloneChild = c.exitSignal != .SIGCHLD
        return cloneChild == (req.options & WaitRequest.WCLONE != 0)
    }

    /// eligible_pid for a tracee: its own tid, its process group. Every
    /// tracee is eligible whatever __WALL/__WCLONE say (eligible_child).
    private func matchesTracee(_ t: Task, _ req: WaitRequest) -> Bool {
        switch req.which {
        case .any: return true
        case .pid(let p): return t.tid == p
        case .group(let g): return t.group.pgid == g
        case .myGroup: return t.group.pgid == group.pgid
        }
    }

    /// The tracees this wait looks at: the caller's own, or every thread's
    /// of its process (do_wait's loop, __WNOTHREAD aside). Kernel lock held.
    private func traceesLocked(_ req: WaitRequest) -> [Task] {
        let tracers = req.options & WaitRequest.WNOTHREAD != 0 ? [self] : group.tasks
        return tracers.flatMap { $0.tracees }.filter { matchesTracee($0, req) }
    }

    /// wait_task_stopped(ptrace=1) and the tracer's wait_task_zombie: a
    /// tracee's ptrace stop (CLD_TRAPPED, reported with or without
    /// WUNTRACED) or its death. Kernel lock held.
    private func pollTraceesLocked(_ tracees: [Task], _ req: WaitRequest) -> WaitResult? {
        let noWait = req.options & WaitRequest.WNOWAIT != 0
        for t in tracees {
            guard let link = t.ptrace else { continue }
            if let st = link.exitReport {
                guard req.options & WaitRequest.WEXITED != 0 else { continue }
                var code = SignalInfo.CLD_EXITED, infoStatus: Int32 = 0
                switch st {
                case .exited(let x): infoStatus = x
                case .signaled(let s, let core): code = core ? SignalInfo.CLD_DUMPED : SignalInfo.CLD_KILLED; infoStatus = s.rawValue
                }
                if !noWait {
                    t.unlinkTracerLocked()
                    kernel.tracerReleasedLocked(t)
                }
                return WaitResult(pid: t.tid, status: ThreadGroup.waitStatus(st), code: code, infoStatus: infoStatus, usage: bothUsageLocked(t.group))
            }
            if link.stop != nil && !link.reported && link.resume == nil {
                if !noWait { link.reported = true }
                return WaitResult(pid: t.tid, status: link.stopStatus, code: SignalInfo.CLD_TRAPPED, infoStatus: link.exitCode,
                                  usage: bothUsageLocked(t.group))
            }
        }
        return nil
    }

    private func pollChildrenLocked(_ req: WaitRequest) throws(Errno) -> WaitResult? {
        let candidates = group.children.filter { matches($0, req) }
        let tracees = traceesLocked(req)
        if candidates.isEmpty && tracees.isEmpty { throw .ECHILD }
        if let r = pollTraceesLocked(tracees, req) { return r }
        let noWait = req.options & WaitRequest.WNOWAIT != 0
        for c in candidates {
            // Its stops are the ptrace path's when this process traces its leader.
            let tracedHere = c.tasks.first { $0.tid == c.pid }?.ptrace.map { $0.tracer.group === group } ?? false
            if c.zombie && !c.parentNotifyDeferred && req.options & WaitRequest.WEXITED != 0 {
                let st = c.exitStatus ?? .exited(0)
                var code = SignalInfo.CLD_EXITED, infoStatus: Int32 = 0
                switch st {
                case .exited(let x): infoStatus = x
                case .signaled(let s, let core): code = core ? SignalInfo.CLD_DUMPED : SignalInfo.CLD_KILLED; infoStatus = s.rawValue
                }
                let usage = bothUsageLocked(c)
                if !noWait {
                    group.childUsage.add(usage)
                    kernel.reapLocked(c)
                }
                return WaitResult(pid: c.pid, status: ThreadGroup.waitStatus(st), code: code, infoStatus: infoStatus, usage: usage)
            }
            if c.stopped && c.unreportedStop && !tracedHere && req.options & WaitRequest.WUNTRACED != 0 {
                if !noWait { c.unreportedStop = false }
                return WaitResult(pid: c.pid, status: WaitStatus.stopped(c.stopSignal.rawValue).rawValue,
                                  code: SignalInfo.CLD_STOPPED, infoStatus: c.stopSignal.rawValue, usage: bothUsageLocked(c))
            }
            if c.unreportedContinue && req.options & WaitRequest.WCONTINUED != 0 {
                if !noWait { c.unreportedContinue = false }
                return WaitResult(pid: c.pid, status: WaitStatus.continued.rawValue, code: SignalInfo.CLD_CONTINUED, infoStatus: Signal.SIGCONT.rawValue,
                                  usage: bothUsageLocked(c))
            }
        }
        return nil
    }

    /// A child's usage and its reaped children's, as wait reports it. Kernel lock held.
    private func bothUsageLocked(_ g: ThreadGroup) -> ResourceUsage {
        kernel.processUsageLocked(g).adding(g.childUsage)
    }
}
