import Glibc

/// The loop each task's host thread runs, and how a task ends.
extension Task {
    /// Runs the guest until the task exits: switch into guest code, handle
    /// the trap, act on signals, again.
    func run() {
        makeCurrent()
        if let image = inheritedFPU {
            inheritedFPU = nil
            // Before any signal frame is set up: a handler run first saves the parent's state too.
            try? context.setFPUState(space, image)
        }
        running: while true {
            // A writer completed the last call and resumed the guest
            // (ReadHandoff): it looked at what this loop looks at on the
            // way out, and set `inGuest`; this thread waits for the trap.
            let handedOff = resumedByHandoff
            resumedByHandoff = false
            // What the guest's side may answer itself this run (GuestSideCalls.swift):
            // decided last before the run, after any stop a tracer could attach in.
            let sideCalls: GuestSideCalls
            if !handedOff {
                if let stop = restoredPtraceStop {
                    // A restored tracee first takes up the ptrace stop it was in.
                    restoredPtraceStop = nil
                    switch stop {
                    case .syscallEntry, .syscallExit:
                        if finish(kernel.resumeRestoredSyscallStop(self, entry: stop == .syscallEntry)) { break running }
                        deliverSignals()
                    case .signalDelivery, .groupStop:
                        deliverSignals(resuming: stop)
                    case .forked, .execed:
                        if finish(kernel.resumeRestoredEventStop(self, stop)) { break running }
                        deliverSignals()
                    case .seccompTraced:
                        if finish(kernel.resumeRestoredSeccompStop(self)) { break running }
                        deliverSignals()
                    case .exiting(let status, let whole):
                        // The signal a tracer resumes an event stop with is ignored.
                        _ = rejoinPtraceStop()
                        leave(status, group: whole)
                        break running
                    }
                } else if restoredInVfork {
                    // A restored vfork parent: its clone ends first.
                    restoredInVfork = false
                    if finish(kernel.resumeRestoredVforkWait(self)) { break running }
                    deliverSignals()
                } else if restoredInSeccompWait {
                    // A restored seccomp-notified call: its answer, then the call.
                    restoredInSeccompWait = false
                    if finish(kernel.resumeRestoredSeccompWait(self)) { break running }
                    deliverSignals()
                } else {
                    deliverSignals()
                }
                rseqReturnToGuest()
                sideCalls = guestSideCalls
                // One look under the lock: leave, take care of signals first, or go.
                enum Next { case leave, again, park, enter }
                let next = kernel.locked { () -> Next in
                    if killed || group.exitStatus != nil { return .leave }
                    if interruptedLocked { return .again }
                    if kernel.freezing { return .park }
                    enterGuestLocked(sideCalls)
                    return .enter
                }
                if next == .leave { break }
                if next == .again { continue }
                if next == .park { park(); continue }
                // After `inGuest` is set: a truncation elsewhere either sees it and
                // kicks, or queued its unmaps before and they are applied here.
                mm.applyPendingUnmaps()
                // A stepped guest (a tracer's PTRACE_SINGLESTEP, its own TF) steps
                // through the original code, not systrap's patched sites.
                if regs.raw.eflags & PtraceABI.trapFlag != 0 { mm.undoSyscallPatches() }
            } else {
                sideCalls = guestSideCalls
            }
            context.allowGuestSideClockReads(sideCalls.clocks)
            let trap: Trap
            do { trap = try handedOff ? context.awaitRunFromAnotherThread(space, &regs) : context.switchTo(space, &regs) } catch {
                kernel.locked { leaveGuestLocked() }
                platformFailed(error)
                continue
            }
            kernel.locked { leaveGuestLocked() }
            if rseqHostUnsettled { rseqSettleHost() }
            // A PTRACE_SINGLESTEP ends at the first trap back: a stepped syscall
            // is reported after it returns (user_single_step_report).
            let steppedSyscall = traced.load(ordering: .acquiring) && endStep(at: trap)
            switch trap {
            case .syscall, .vsyscall:
                defer { if steppedSyscall { stepTrapAfterSyscall() } }
                // A task a guest tracer holds is left as its code is (its
                // single steps and breakpoints see the original bytes).
                // An `after` site's fallback syscall in its trampoline is seen
                // where the original was.
                if trap != .vsyscall, let entry = context.patchableSyscallEntry,
                   let seen = mm.considerPatching(syscallAt: regs.ip &- SyscallABI.instructionLength, rax: regs.raw.orig_rax,
                                                  entry: entry, patch: !traced.load(ordering: .relaxed) && regs.raw.eflags & PtraceABI.trapFlag == 0) {
                    regs.ip = seen
                    regs.raw.rcx = seen
                }
                // A look at the sandbox's memory the watcher may have been
                // too starved to take: this call may be the victim's last.
                if let oom = kernel.oomKiller, oom.syscallEntry(),
                   kernel.locked({ killed || group.exitStatus != nil }) { continue }
                if finish(trap == .vsyscall ? emulateVsyscall() : kernel.dispatch(self)) { break running }
            case .fault(let sig, let address, let code, let access):
                // A patch being written, or a trampoline that can't reach the
                // stub: the guest goes on as its original code would.
                if sig == .SIGTRAP || sig == .SIGSEGV {
                    // An int3's SIGTRAP is SI_KERNEL (do_int3_user), a step's is not.
                    switch mm.patchStop(rip: regs.ip, trap: sig == .SIGTRAP && code == SignalInfo.SI_KERNEL, fault: true) {
                    case .rerun(let at): regs.ip = at; continue
                    case .syscall(let at, let rax): regs.ip = at; regs.raw.rax = rax; continue
                    case .none: break
                    }
                }
                var info = SignalInfo(sig, code: code)
                // A write to memory shared copy-on-write since a fork: this
                // mm gets its own copy and the guest runs again.
                if sig == .SIGSEGV, let done = mm.cowFault(at: address, access: access, lastRetry: staleRetry) {
                    switch done {
                    case .copied: staleRetry = nil; sentryMinorFaults.add(1, ordering: .relaxed)
                    case .alreadyCopied(let changes): staleRetry = (address, changes)
                    }
                    continue
                }
                staleRetry = nil
                if sig == .SIGSEGV {
                    switch mm.fileFault(at: address, access: access) {
                    case .resolved(let readFile):
                        if readFile { sentryMajorFaults.add(1, ordering: .relaxed) } else { sentryMinorFaults.add(1, ordering: .relaxed) }
                        continue
                    case .beyondEnd: info = SignalInfo(.SIGBUS, code: SignalInfo.BUS_ADRERR)
                    case .refused: info.code = SignalInfo.SEGV_ACCERR   // not mirrored, yet mapped
                    case .none: break
                    }
                }
                info.address = address.rawValue
                if info.signo == Signal.SIGSEGV.rawValue, let access {
                    // The page fault's error code as the CPU gave it: from
                    // user mode, present for a protection fault, the access.
                    info.trapNumber = SigContext.trapPageFault
                    info.errorCode = SigContext.faultUser | (info.code == SignalInfo.SEGV_ACCERR ? SigContext.faultProtection : 0)
                        | (access == .write ? SigContext.faultWrite : 0) | (access == .exec ? SigContext.faultInstruction : 0)
                }
                force(info)
            case .interrupted:
                // Stopped inside a trampoline: as if before the site's mov
                // (what a signal handler's frame shows, and where it resumes).
                if case .rerun(let at) = mm.patchStop(rip: regs.ip, trap: false, fault: false) { regs.ip = at }
            }
        }
        exitTask()
        resignCurrent()
    }

    /// Applies a syscall's outcome; true when the task is leaving.
    private func finish(_ outcome: SyscallOutcome) -> Bool {
        switch outcome {
        case .value(let v):
            regs.returnValue = UInt64(bitPattern: v)
            // Only a call that restarts keeps the end of its wait.
            if freezeRestart != nil && !SyscallRestart.isRestartCode(v) { kernel.locked { freezeRestart = nil } }
        case .replacedRegisters:
            break
        case .exitThread(let code):
            ptraceExitEvent(.exited(code & 0xff), group: false)
            leave(.exited(code & 0xff), group: false)
            return true
        case .killedThread(let sig):
            ptraceExitEvent(.signaled(sig, coreDumped: false), group: false)
            leave(.signaled(sig, coreDumped: false), group: false)
            return true
        case .exitGroup(let code):
            ptraceExitEvent(.exited(code & 0xff), group: true)
            leave(.exited(code & 0xff), group: true)
            return true
        case .platformFailed(let error):
            platformFailed(error)
        }
        return false
    }

    /// do_exit after its PTRACE_EVENT_EXIT stop: the thread leaves with
    /// `status`, or (`group`) its whole process does.
    private func leave(_ status: ExitStatus, group whole: Bool) {
        kernel.locked {
            exiting = true
            if whole { kernel.killGroupLocked(group, status) } else { ownExit = status }
        }
    }

    /// The host side of the task broke (its stub died, an injection failed):
    /// the process is killed, and the sentry says why.
    func platformFailed(_ error: PlatformError) {
        if rseqKilledStub(error) { return }
        Kernel.warn("pid \(pid): \(error); killing the process")
        kernel.locked { kernel.killGroupLocked(group, .signaled(.SIGKILL, coreDumped: false)) }
    }

    /// Tears the task down: clear_child_tid, robust futexes, the stub, the
    /// task's place in its process; the last task out makes the process a
    /// zombie and tells the parent.
    func exitTask() {
        kernel.locked { kernel.exitsInProgress += 1 }
        defer { kernel.locked { kernel.exitsInProgress -= 1 } }
        // Before clear_child_tid wakes a joiner, who may unmap the area.
        let heldRseqPage = rseqDropHostAtExit()
        // exit_mm_release's order: the robust list and PI locks first, so a
        // thread joined through clear_child_tid has left them all.
        releaseFutexes(dying: true)
        if !clearChildTID.isNull {
            if (try? mm.write(clearChildTID, UInt32(0))) != nil {
                _ = try? kernel.futexes.wake(mm, clearChildTID, count: 1, bitset: ~0)
            }
        }
        // The joiner woken above was pulled onto this CPU (a thread's exit
        // has little left to do); a parent told of the process's death
        // below is not (Task.wakesAreSync).
        wakesAreSync = false
        releaseVforkParent()
        // The host's fault and switch counts are read from /proc before the
        // kernel lock (what they read changes only on this thread); the CPU
        // clocks under it, since a process's CPU clock must never go back.
        let counters = hostCountersLocked()
        let (status, last, soleUser, orphans): (ExitStatus, Bool, Bool, [ThreadGroup]) = kernel.locked {
            // Its time moves to the process's in the same step, so no reader counts it twice or not at all.
            group.exitedUsage.add(kernel.threadUsageLocked(self, counters: counters))
            group.tasks.removeAll { $0 === self }
            // A live thread of the process inherits this one's children now;
            // the last thread's go to a reaper when the process dies, and get
            // their parent-death signal only then, with their new parent set
            // (forget_original_parent's order).
            let orphans = group.tasks.isEmpty ? group.children.filter { $0.parentThreadID == tid } : []
            if !group.tasks.isEmpty { orphanChildrenLocked() }
            if kernel.tasks[tid] === self { kernel.tasks[tid] = nil }
            // The thread may serve another task next: no one applies this
            // one's affinity to it any more.
            hostThreadID = 0
            group.groupEvents.notify()
            // The process's status is its exit_group's, else its last thread's;
            // the thread's own is what its tracers see.
            let processStatus = group.exitStatus ?? ownExit ?? .exited(0)
            let st = ownExit ?? processStatus
            if group.tasks.isEmpty {
                group.exitStatus = processStatus
            }
            // exit_ptrace for what this thread traces, exit_notify's part for its tracer.
            if !tracees.isEmpty { releaseTraceesLocked() }
            if ptrace != nil { tracedTaskExitingLocked(st) }
            return (st, group.tasks.isEmpty, kernel.tasks.values.allSatisfy { $0.mm !== mm }, orphans)
        }
        // As exit_mm and exit_sem before exit_notify: the parent that waits
        // finds the shared mappings' changes in their files, System V
        // attachments gone and semaphore undos applied.
        if soleUser { noteResidentSetSize(); mm.releaseAll() }
        if last { kernel.ipc.processExited(pid: group.pid); kernel.vfs.mqueues.processReleased(pid: group.pid) }
        fds.releaseUser()
        // exit_files before exit_notify: what the closes raised (a pipe's
        // POLL_HUP to its O_ASYNC owner) is sent before the parent hears.
        sendDeferredSignals()
        // seccomp_filter_release: the chain goes (a listener whose filter no
        // task holds any more reports POLLHUP); mode and count stay for /proc.
        // Taken out under the lock and let go after it, since the last
        // reference going wakes the listener's pollers.
        let released = attributes.withLock { a -> SeccompFilter? in
            defer { a.seccomp.filter = nil }
            return a.seccomp.filter
        }
        _ = consume released
        kernel.tracer?.exited(self, status)
        let uid = attributes.withLock { $0.credentials.uid }
        kernel.locked {
            if group.tasks.isEmpty && !group.zombie { kernel.processDiedLocked(group) }
            for c in orphans { kernel.sendParentDeathSignalsLocked(to: c, from: group.pid, uid: uid) }
        }
        // The stub goes (or back to the pool, emptied) after the parent has
        // heard: nothing of the guest runs in it any more. Once init has
        // died the sentry is exiting, and the stub goes with it. Neither it
        // nor this thread keeps the guest's CPU affinity.
        resetHostAffinity(stub: kernel.locked { stubClock?.pid }, ownThread: true)
        let sentryExiting = kernel.locked { kernel.initStatus != nil }
        space?.leave(sentryExiting: sentryExiting)
        // (A stub left to die with the sentry keeps its registration: its page stays held.)
        if let heldRseqPage, !sentryExiting { mm.memory.free(heldRseqPage, GuestAddress.pageSize) }
    }

    func releaseVforkParent() {
        guard let q = vforkDone else { return }
        kernel.locked { vforkReleased = true }
        vforkDone = nil
        q.notify()
    }
}

extension Kernel {
    /// The last task of `g` is gone: it becomes a zombie for its parent (or
    /// is reaped at once if the parent ignores SIGCHLD), its children go to
    /// the nearest child subreaper or init, and if it was init the sandbox is over. Kernel lock held.
    func processDiedLocked(_ g: ThreadGroup) {
        g.zombie = true
        g.stopped = false
        g.timers.cancelAll(timerThread)
        let status = g.exitStatus ?? .exited(0)
        if g === initGroup {
            initStatus = status
            finished.wake()
            return
        }
        let orphans = g.children
        g.children = []
        if let reaper = reaperLocked(for: g) {
            for c in orphans {
                c.parent = reaper
                c.parentThreadID = reaper.tasks.first?.tid ?? reaper.pid
                reaper.children.append(c)
                // Linux's reparent_leader: "we don't want people slaying
                // init", so the exit signal becomes SIGCHLD, and a zombie
                // is announced to its new parent (or reaped, if it ignores SIGCHLD).
                c.exitSignal = .SIGCHLD
                if c.zombie { notifyParentOfExitLocked(c) }
            }
        }
        hangUpOrphanedGroupsLocked(g, children: orphans)
        guard g.parent != nil else {
            // Entered from outside (exec): its parent is there, told now.
            g.onExitFromOutside?(status)
            groups[g.pid] = nil
            return
        }
        // A tracer that is not the parent sees the death first (tracerReleasedLocked).
        if g.parentNotifyDeferred { return }
        notifyParentOfExitLocked(g)
    }

    /// do_notify_parent for a process that died: its exit signal to the
    /// parent, or an immediate reap if the parent ignores SIGCHLD. Kernel lock held.
    func notifyParentOfExitLocked(_ g: ThreadGroup) {
        guard let parent = g.parent else { return }
        let status = g.exitStatus ?? .exited(0)
        let chld = parent.handlers.actions[Int(Signal.SIGCHLD.rawValue)]
        let autoreap = g.exitSignal == .SIGCHLD
            && (chld.handler == SignalAction.SIG_IGN || chld.flags & SignalAction.SA_NOCLDWAIT != 0)
        if autoreap {
            reapLocked(g)
        } else if let sig = g.exitSignal {
            var info = SignalInfo(sig, code: SignalInfo.CLD_EXITED)
            info.pid = g.pid
            switch status {
            case .exited(let c): info.status = c
            case .signaled(let s, let core): info.code = core ? SignalInfo.CLD_DUMPED : SignalInfo.CLD_KILLED; info.status = s.rawValue
            }
            sendLocked(info, to: parent)
        }
        parent.childEvents.notify()
    }

    func reapLocked(_ g: ThreadGroup) {
        g.parent?.children.removeAll { $0 === g }
        groups[g.pid] = nil
    }

    static func warn(_ message: String) {
        var line = "sentry: " + message + "\n"
        line.withUTF8 { _ = Glibc.write(2, $0.baseAddress, $0.count) }
    }
}
