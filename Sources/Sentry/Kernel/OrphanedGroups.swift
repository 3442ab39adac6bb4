/// Orphaned process groups (kernel/exit.c of 6.1): a group none of whose
/// members has a parent in another group of the same session has no one
/// left to continue it from a shell. Its reads of the terminal get EIO
/// (TerminalJobControl), and a group that becomes orphaned while some
/// member is stopped is hung up and continued, so it is not left stopped forever.
extension Kernel {
    /// will_become_orphaned_pgrp(pgrp, NULL): no live member has a parent
    /// in another group of the same session, init's children aside. Kernel lock held.
    func processGroupOrphanedLocked(_ pgid: Int32) -> Bool {
        for g in groups.values where g.pgid == pgid && !g.zombie {
            guard let p = g.parent, p.pid != 1 else { continue }
            if p.pgid != pgid && p.sid == g.sid { return false }
        }
        return true
    }

    /// kill_orphaned_pgrp for a process that just died (`g`, already a
    /// zombie, its children reparented): its own group, if its parent was
    /// that group's link outside, and each child's group it was the link
    /// of, get SIGHUP then SIGCONT when orphaned now with a member stopped. Kernel lock held.
    func hangUpOrphanedGroupsLocked(_ g: ThreadGroup, children: [ThreadGroup]) {
        var candidates: [Int32] = []
        if let p = g.parent, p.pgid != g.pgid, p.sid == g.sid { candidates.append(g.pgid) }
        for c in children where !c.zombie && c.pgid != g.pgid && c.sid == g.sid && !candidates.contains(c.pgid) {
            candidates.append(c.pgid)
        }
        for pg in candidates where processGroupOrphanedLocked(pg) {
            let members = groups.values.filter { $0.pgid == pg && !$0.zombie }
            guard members.contains(where: { $0.stopped }) else { continue }
            for sig in [Signal.SIGHUP, .SIGCONT] {
                var info = SignalInfo(sig, code: SignalInfo.SI_KERNEL)
                info.pid = 0
                for m in members { sendLocked(info, to: m) }
            }
        }
    }
}
