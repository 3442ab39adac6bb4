import Glibc

/// Making and ending guest ptrace links (kernel/ptrace.c's ptrace_traceme,
/// ptrace_attach, __ptrace_detach, exit_ptrace; kernel/fork.c's
/// ptrace_init_task), with the access rules of __ptrace_may_access and
/// Yama's scope 1.
extension Task {
    /// Links `self` as a tracee of `tracer`. Kernel lock held.
    func linkTracerLocked(_ tracer: Task, seized: Bool, options: UInt32) -> PtraceLink {
        let link = PtraceLink(tracer: tracer, seized: seized, options: options)
        ptrace = link
        tracer.tracees.append(self)
        traced.store(true, ordering: .releasing)
        return link
    }

    /// Drops the link (the task runs untraced from here; one parked in a
    /// stop goes on, as from any answer). Kernel lock held.
    func unlinkTracerLocked() {
        guard let link = ptrace else { return }
        link.tracer.tracees.removeAll { $0 === self }
        ptrace = nil
        traced.store(false, ordering: .releasing)
        unparkLocked()
    }

    /// PTRACE_TRACEME: the real parent (the thread that made the process)
    /// becomes the tracer.
    public func ptraceTraceMe() throws(Errno) {
        try kernel.locked { () throws(Errno) in
            guard ptrace == nil, let parent = group.parent, !parent.zombie, parent.exitStatus == nil else { throw .EPERM }
            let tracer = parent.tasks.first { $0.tid == group.parentThreadID } ?? parent.tasks.first
            guard let tracer, !tracer.exiting else { throw .EPERM }
            // Landlock's ptrace_traceme hook: the parent must be in scope of this task's domain.
            let (theirs, mine) = (tracer.attributes.withLock { $0.credentials.landlock }, attributes.withLock { $0.credentials.landlock })
            guard LandlockDomain.scopes(theirs, mine) else { throw .EPERM }
            _ = linkTracerLocked(tracer, seized: false, options: 0)
        }
    }

    /// Yama scope 1 (ptrace_scope=1), as the sandbox applies it: a task may
    /// attach to its own descendants only, unless it holds CAP_SYS_PTRACE
    /// (the sandbox's root). Kernel lock held.
    private func mayAttachYamaLocked(_ target: Task) -> Bool {
        if attributes.withLock({ $0.credentials.capable(Credentials.CAP_SYS_PTRACE) }) { return true }
        var g: ThreadGroup? = target.group
        while let x = g {
            if x === group { return true }
            g = x.parent
        }
        return false
    }

    /// ptrace_may_access(PTRACE_MODE_ATTACH_REALCREDS) with Yama scope 1:
    /// the caller's own process, or the credential rules of the read mode and
    /// a descendant (or CAP_SYS_PTRACE). What attaching, process_vm_readv
    /// and process_vm_writev ask.
    public func mayAttach(_ target: Task) -> Bool {
        if target.group === group { return true }
        guard mayInspect(target) else { return false }
        return kernel.locked { mayAttachYamaLocked(target) }
    }

    /// PTRACE_ATTACH and PTRACE_SEIZE (with its options).
    public func ptraceAttach(_ target: Task, seize: Bool, options: UInt32) throws(Errno) {
        guard target.group !== group, mayAttach(target) else { throw .EPERM }
        try kernel.locked { () throws(Errno) in
            guard !target.exiting, !target.group.zombie, target.group.exitStatus == nil, !target.killed else { throw .EPERM }
            guard target.ptrace == nil else { throw .EPERM }
            let link = target.linkTracerLocked(self, seized: seize, options: options)
            if !seize {
                // send_sig_info(SIGSTOP, SEND_SIG_PRIV): a signal-delivery-stop follows.
                kernel.sendLocked(SignalInfo(.SIGSTOP, code: SignalInfo.SI_KERNEL), to: target.group, thread: target)
            }
            // A task already in a group-stop re-traps for its new tracer.
            if target.group.stopped {
                if seize { link.trapStopPending = true } else { target.groupStopPending = true }
                target.waker.wake()
            }
        }
    }

    /// PTRACE_O_EXITKILL and the rest of exit_ptrace: the tracer thread is
    /// leaving, its tracees are killed or let go. Kernel lock held.
    func releaseTraceesLocked() {
        for t in tracees {
            guard let link = t.ptrace else { continue }
            if link.exitReport != nil {
                t.unlinkTracerLocked()
                kernel.tracerReleasedLocked(t)
                continue
            }
            if link.options & PtraceABI.PTRACE_O_EXITKILL != 0 {
                kernel.killGroupLocked(t.group, .signaled(.SIGKILL, coreDumped: false))
            }
            // __ptrace_detach keeps exit_code: a signal-delivery-stop goes on with its own signal.
            var keep: Int32 = 0
            if case .signalDelivery = link.stop { keep = link.exitCode }
            link.resume = PtraceLink.Resume(kind: .detach, signal: keep)
            t.unlinkTracerLocked()
            if t.group.stopped { t.groupStopPending = false }
        }
        tracees = []
    }

    /// A traced task leaves (exit_notify's ptrace part): a tracer that is not
    /// the real parent, or a traced thread that is not the process leader,
    /// gets the death through its own wait first; otherwise the parent's wait
    /// reaps the process as usual. Kernel lock held.
    func tracedTaskExitingLocked(_ status: ExitStatus) {
        guard let link = ptrace else { return }
        let byParent = link.tracer.group === group.parent && tid == group.pid
        if byParent {
            unlinkTracerLocked()
            return
        }
        link.exitReport = status
        link.stop = nil
        if tid == group.pid { group.parentNotifyDeferred = true }
        traced.store(false, ordering: .releasing)
        // do_notify_parent towards the tracer: SIGCHLD with the death, its wait woken.
        let g = link.tracer.group
        var info = SignalInfo(.SIGCHLD, code: SignalInfo.CLD_EXITED)
        info.pid = tid
        info.uid = attributes.withLock { $0.credentials.uid }
        switch status {
        case .exited(let c): info.status = c
        case .signaled(let s, let core): info.code = core ? SignalInfo.CLD_DUMPED : SignalInfo.CLD_KILLED; info.status = s.rawValue
        }
        kernel.sendLocked(info, to: g)
        g.childEvents.notify()
    }
}

extension Kernel {
    /// The tracer has reaped (or let go of) a dead tracee: a process leader
    /// whose parent waits for it is announced to that parent now. Kernel lock held.
    func tracerReleasedLocked(_ t: Task) {
        let g = t.group
        guard t.tid == g.pid, g.parentNotifyDeferred else { return }
        g.parentNotifyDeferred = false
        if g.zombie { notifyParentOfExitLocked(g) }
    }
}
