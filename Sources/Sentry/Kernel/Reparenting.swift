/// What happens to a process's children when the thread that made them, or
/// the whole process, goes away (kernel/exit.c's forget_original_parent):
/// parent-death signals, and the new parent an orphan gets.
extension Task {
    /// This thread is leaving its process: each child process it created
    /// passes to a live thread of the same process (or, with none left, to
    /// the reaper `processDiedLocked` picks) and gets the parent-death signal
    /// its threads asked for. Kernel lock held, this task already out of `group.tasks`.
    func orphanChildrenLocked() {
        let heir = group.tasks.first?.tid
        let uid = attributes.withLock { $0.credentials.uid }
        for c in group.children where c.parentThreadID == tid {
            if let heir { c.parentThreadID = heir }
            kernel.sendParentDeathSignalsLocked(to: c, from: group.pid, uid: uid)
        }
    }
}

extension Kernel {
    /// Every thread of `c` that set PR_SET_PDEATHSIG has that signal sent to its process, as SI_USER from the dying parent.
    func sendParentDeathSignalsLocked(to c: ThreadGroup, from pid: Int32, uid: UInt32) {
        for t in c.tasks {
            let sig = t.attributes.withLock { $0.parentDeathSignal }
            guard sig != 0 else { continue }
            var info = SignalInfo(Signal(sig), code: SignalInfo.SI_USER)
            info.pid = pid
            info.uid = uid
            sendLocked(info, to: c)
        }
    }

    /// find_new_reaper: the nearest ancestor of `g` that is a child subreaper
    /// and not itself dying, else init. Kernel lock held.
    func reaperLocked(for g: ThreadGroup) -> ThreadGroup? {
        var p = g.parent
        while let q = p, q !== initGroup {
            if q.isChildSubreaper && !q.zombie && q.exitStatus == nil && !q.tasks.isEmpty { return q }
            p = q.parent
        }
        return initGroup
    }
}
