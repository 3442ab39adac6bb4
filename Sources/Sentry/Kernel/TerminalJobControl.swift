/// Job control at a terminal (drivers/tty/tty_jobctrl.c of 6.1): a process
/// of the terminal's session that is not in its foreground group may not
/// read it, nor write it under TOSTOP, nor change its settings.
extension Task {
    /// __tty_check_change for a terminal whose session is `session` and
    /// foreground group `foreground` (0: none). A caller outside that session,
    /// or in the foreground, goes on. Otherwise `sig` (SIGTTIN for a read,
    /// SIGTTOU for the rest) goes to the caller's whole group and the call
    /// says ERESTARTSYS, to run again once the group is continued; but where
    /// the caller ignores or blocks `sig` a read is EIO and anything else goes
    /// on, and an orphaned group (no one to continue it) gets EIO.
    public func terminalJobControl(session: Int32, foreground: Int32, _ sig: Signal) throws(Errno) {
        let outcome: Errno? = kernel.locked {
            let g = group
            guard session != 0, g.sid == session, foreground != 0, g.pgid != foreground else { return nil }
            if g.handlers.ignores(sig) || signalMask & SignalQueue.bit(sig) != 0 {
                return sig == .SIGTTIN ? .EIO : nil
            }
            if kernel.processGroupOrphanedLocked(g.pgid) { return .EIO }
            var info = SignalInfo(sig, code: SignalInfo.SI_KERNEL)
            info.pid = 0
            for member in kernel.groups.values where member.pgid == g.pgid && !member.zombie { kernel.sendLocked(info, to: member) }
            return .ERESTARTSYS
        }
        if let outcome { throw outcome }
    }
}
