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

    private func pollChildrenLocked(_ req: WaitRequest) throws(Errno) -> WaitResult? {
        let candidates = group.children.filter { matches($0, req) }
        if candidates.isEmpty { throw .ECHILD }
        let noWait = req.options & WaitRequest.WNOWAIT != 0
        for c in candidates {
            if c.zombie && req.options & WaitRequest.WEXITED != 0 {
                let st = c.exitStatus ?? .exited(0)
                var code = SignalInfo.CLD_EXITED, infoStatus: Int32 = 0
                switch st {
                case .exited(let x): infoStatus = x
                case .signaled(let s, let core): code = core ? SignalInfo.CLD_DUMPED : SignalInfo.CLD_KILLED; infoStatus = s.rawValue
                }
                if !noWait {
                    group.childTicks.user += c.childTicks.user + c.ownTicks
                    group.childTicks.system += c.childTicks.system
                    kernel.reapLocked(c)
                }
                return WaitResult(pid: c.pid, status: ThreadGroup.waitStatus(st), code: code, infoStatus: infoStatus)
            }
            if c.stopped && c.unreportedStop && req.options & WaitRequest.WUNTRACED != 0 {
                if !noWait { c.unreportedStop = false }
                return WaitResult(pid: c.pid, status: WaitStatus.stopped(c.stopSignal.rawValue).rawValue,
                                  code: SignalInfo.CLD_STOPPED, infoStatus: c.stopSignal.rawValue)
            }
            if c.unreportedContinue && req.options & WaitRequest.WCONTINUED != 0 {
                if !noWait { c.unreportedContinue = false }
                return WaitResult(pid: c.pid, status: WaitStatus.continued.rawValue, code: SignalInfo.CLD_CONTINUED, infoStatus: Signal.SIGCONT.rawValue)
            }
        }
        return nil
    }
}
