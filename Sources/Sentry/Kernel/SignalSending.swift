import Glibc

/// Sending signals: Linux's send_signal/complete_signal rules, including the
/// job-control side effects of stop signals and SIGCONT.
extension Kernel {
    /// Queues `info` for process `g` (a thread that doesn't block it takes it),
    /// or for one `thread` (tkill). Kernel lock held.
    func sendLocked(_ info: SignalInfo, to g: ThreadGroup, thread: Task? = nil, prefer: Task? = nil) {
        guard !g.zombie, g.exitStatus == nil else { return }
        let sig = Signal(info.signo)
        let bit = SignalQueue.bit(sig)
        let blocked = thread.map { $0.liveSignalMaskLocked & bit != 0 } ?? g.tasks.allSatisfy { $0.liveSignalMaskLocked & bit != 0 }
        // Blocked signals are queued: the handler may change before they are taken.
        let dropped = !blocked && initIgnoresLocked(info, g)
        if sig == .SIGKILL {
            if !dropped { killGroupLocked(g, .signaled(.SIGKILL, coreDumped: false)) }
            return
        }
        if bit & SignalSets.stopSignals != 0 {
            let cont = SignalQueue.bit(.SIGCONT)
            g.sharedPending.discard(cont)
            for t in g.tasks { t.pending.discard(cont) }
        } else if sig == .SIGCONT {
            g.sharedPending.discard(SignalSets.stopSignals)
            for t in g.tasks { t.pending.discard(SignalSets.stopSignals) }
            if g.stopped { continueGroupLocked(g) }
        }
        // sig_ignored: a traced task queues even ignored signals, for its tracer to see.
        let tracedTarget = (thread ?? g.tasks.first { $0.tid == g.pid } ?? g.tasks.first)?.ptrace != nil
        if dropped || (g.handlers.ignores(sig) && !blocked && !tracedTarget) {
            // Not queued, but a tracer shows it all the same: a ptraced task
            // queues even ignored signals (sig_ignored), and strace prints their
            // delivery; standard ones coalesce as they would pending.
            if tracer != nil, let t = thread ?? g.tasks.first(where: { $0.liveSignalMaskLocked & bit == 0 }) ?? g.tasks.first,
               !(info.signo < 32 && t.ignoredForTracer.contains { $0.signo == info.signo }), t.ignoredForTracer.count < 64 {
                t.ignoredForTracer.append(info)
            }
            return
        }
        if let thread {
            thread.pending.enqueue(info)
            thread.publishPendingLocked()
        } else {
            g.sharedPending.enqueue(info)
            for t in g.tasks { t.publishPendingLocked() }
        }
        // complete_signal: the thread the signal came from (`prefer`) if it
        // takes it, else the first that does; each mask read after the
        // pending set is published (GuestSideSignalMask.swift).
        let target = thread ?? prefer.flatMap { $0.group === g && $0.liveSignalMaskLocked & bit == 0 ? $0 : nil }
            ?? g.tasks.first { $0.liveSignalMaskLocked & bit == 0 }
        target?.interruptLocked()
        g.signalEvents.notify()
    }

    /// exit_group, a fatal signal, or the end of the namespace: every task of
    /// the group leaves at its next chance. Kernel lock held.
    /// The sandbox's init is a pid namespace's init: a signal sent from
    /// inside the sandbox (kill, tgkill, an exit signal, SIGPIPE, a timer)
    /// that init has no handler for does nothing, SIGKILL and SIGSTOP
    /// included, as Linux's sig_task_ignored and get_signal have it for a
    /// SIGNAL_UNKILLABLE task. Faults (force_sig) and what the sentry forwards
    /// from the host (SIGTERM, SIGHUP, SIGINT...: the parent namespace's
    /// signals) keep their default action, so the sandbox can be ended
    /// from outside as the README says. Kernel lock held.
    func initIgnoresLocked(_ info: SignalInfo, _ g: ThreadGroup) -> Bool {
        guard g === initGroup, !info.overridesInit, info.signo > 0 else { return false }
        return g.handlers.actions[Int(info.signo)].handler == SignalAction.SIG_DFL
    }

    func killGroupLocked(_ g: ThreadGroup, _ status: ExitStatus) {
        if g.exitStatus == nil { g.exitStatus = status }
        for t in g.tasks { t.killed = true; t.interruptLocked() }
        g.groupEvents.notify()
    }

    func stopGroupLocked(_ g: ThreadGroup, _ sig: Signal) {
        guard !g.stopped, g.exitStatus == nil else { return }
        g.stopped = true
        g.stopSignal = sig
        g.unreportedStop = true
        g.unreportedContinue = false
        for t in g.tasks { t.groupStopPending = true; t.interruptLocked() }
        notifyParentLocked(g, code: SignalInfo.CLD_STOPPED, status: sig.rawValue)
    }

    func continueGroupLocked(_ g: ThreadGroup) {
        g.stopped = false
        g.unreportedStop = false
        g.unreportedContinue = true
        for t in g.tasks {
            t.groupStopPending = false
            if t.ptrace != nil { t.waker.wake() }   // a PTRACE_LISTEN tracee re-traps
        }
        g.groupEvents.notify()
        notifyParentLocked(g, code: SignalInfo.CLD_CONTINUED, status: Signal.SIGCONT.rawValue)
    }

    /// SIGCHLD for a stop or continue (unless the parent asked for
    /// SA_NOCLDSTOP) and a wake-up for its waiters.
    private func notifyParentLocked(_ g: ThreadGroup, code: Int32, status: Int32) {
        guard let parent = g.parent else { return }
        if parent.handlers.actions[Int(Signal.SIGCHLD.rawValue)].flags & SignalAction.SA_NOCLDSTOP == 0 {
            var info = SignalInfo(.SIGCHLD, code: code)
            info.pid = g.pid
            info.status = status
            sendLocked(info, to: parent)
        }
        parent.childEvents.notify()
    }

    /// The thread group with this pid, if alive.
    func groupLocked(_ pid: Int32) -> ThreadGroup? {
        guard let g = groups[pid], !g.zombie else { return nil }
        return g
    }
}
