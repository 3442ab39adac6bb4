import Glibc

/// Sending signals: Linux's send_signal/complete_signal rules, including the
/// job-control side effects of stop signals and SIGCONT.
extension Kernel {
    /// Queues `info` for process `g` (a thread that doesn't block it takes it),
    /// or for one `thread` (tkill). Kernel lock held.
    func sendLocked(_ info: SignalInfo, to g: ThreadGroup, thread: Task? = nil) {
        guard !g.zombie, g.exitStatus == nil else { return }
        let sig = Signal(info.signo)
        let bit = SignalQueue.bit(sig)
        let blocked = thread.map { $0.signalMask & bit != 0 } ?? g.tasks.allSatisfy { $0.signalMask & bit != 0 }
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
        if dropped || (g.handlers.ignores(sig) && !blocked) { return }
        if let thread { thread.pending.enqueue(info) } else { g.sharedPending.enqueue(info) }
        let target = thread ?? g.tasks.first { $0.signalMask & bit == 0 }
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
        for t in g.tasks { t.interruptLocked() }
        notifyParentLocked(g, code: SignalInfo.CLD_STOPPED, status: sig.rawValue)
    }

    func continueGroupLocked(_ g: ThreadGroup) {
        g.stopped = false
        g.unreportedStop = false
        g.unreportedContinue = true
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

/// Taking signals: default actions, handler frames on the guest stack,
/// rt_sigreturn, and restarting interrupted syscalls.
extension Task {
    /// Marks a signal pending for this task (SIGPIPE from a write, a fault).
    public func post(_ info: SignalInfo) {
        kernel.locked { kernel.sendLocked(info, to: group, thread: self) }
    }

    /// A synchronous fault: delivered even if blocked or ignored (then with
    /// the default action), as Linux's force_sig_info does.
    func force(_ info: SignalInfo) {
        kernel.locked {
            let bit = SignalQueue.bit(Signal(info.signo))
            let i = Int(info.signo)
            if signalMask & bit != 0 || group.handlers.actions[i].handler == SignalAction.SIG_IGN {
                group.handlers.actions[i].handler = SignalAction.SIG_DFL
                signalMask &= ~bit
            }
            var forced = info
            forced.overridesInit = true   // Linux clears SIGNAL_UNKILLABLE: init dies of its own fault
            pending.enqueue(forced)
        }
    }

    private enum Step { case none, killed, stopped, take(SignalInfo, SignalAction) }

    /// Acts on every pending signal the task doesn't block, in Linux's order.
    func deliverSignals() {
        var first = true
        while true {
            let step: Step = kernel.locked {
                if killed || group.exitStatus != nil { return .killed }
                if group.stopped { return .stopped }
                let allowed = ~signalMask
                guard let info = pending.dequeue(from: allowed) ?? group.sharedPending.dequeue(from: allowed) else { return .none }
                let action = group.handlers.actions[Int(info.signo)]
                if action.handler > SignalAction.SIG_IGN && action.flags & SignalAction.SA_RESETHAND != 0 {
                    group.handlers.actions[Int(info.signo)] = SignalAction()
                }
                return .take(info, action)
            }
            switch step {
            case .killed:
                return
            case .stopped:
                _ = try? block(on: [group.groupEvents], interruptible: false) { () throws(Errno) in
                    kernel.locked { !group.stopped || killed || group.exitStatus != nil }
                }
            case .none:
                if first { restartInterruptedSyscall(handler: nil) }
                return
            case .take(let info, let action):
                let sig = Signal(info.signo)
                if action.handler == SignalAction.SIG_IGN { continue }
                // A signal queued while blocked, taken with no handler by init.
                if kernel.locked({ kernel.initIgnoresLocked(info, group) }) { continue }
                if action.handler == SignalAction.SIG_DFL {
                    switch sig.defaultAction {
                    case .ignore, .resume: continue
                    case .stop:
                        kernel.tracer?.signal(self, info)
                        kernel.locked { kernel.stopGroupLocked(group, sig) }
                        continue
                    case .terminate, .coreDump:
                        kernel.tracer?.signal(self, info)
                        // Linux sets WCOREDUMP only when a core file was written; the sentry
                        // writes none, so core-dump signals report a plain kill.
                        kernel.locked { kernel.killGroupLocked(group, .signaled(sig, coreDumped: false)) }
                        return
                    }
                }
                kernel.tracer?.signal(self, info)
                if first { restartInterruptedSyscall(handler: action); first = false }
                do { try setUpFrame(info, action) } catch {
                    // No room for the frame: the guest dies of SIGSEGV, as on Linux.
                    kernel.locked { kernel.killGroupLocked(group, .signaled(.SIGSEGV, coreDumped: false)) }
                    return
                }
            }
        }
    }

    /// A syscall cut short by a signal (-ERESTART* in rax) either restarts or
    /// returns EINTR, by Linux's rules for each code.
    func restartInterruptedSyscall(handler: SignalAction?) {
        if case .restarted(let code) = SyscallRestart.apply(&regs.raw, handler: handler), code != .ERESTART_RESTARTBLOCK {
            restartBlock = nil
        }
    }

    // MARK: - Frames

    private func altStackFlags(_ sp: UInt64) -> Int32 {
        if !altStack.enabled { return AltStack.SS_DISABLE }
        return altStack.contains(sp) ? AltStack.SS_ONSTACK : 0
    }

    func setUpFrame(_ info: SignalInfo, _ action: SignalAction) throws(Errno) {
        guard action.flags & SignalAction.SA_RESTORER != 0 else { throw .EFAULT }   // x86-64 requires a restorer
        let (mask, stack) = kernel.locked { (savedMask ?? signalMask, altStack) }
        var sp = regs.sp &- SignalFrame.redZone
        if action.flags & SignalAction.SA_ONSTACK != 0 && stack.enabled && !stack.contains(regs.sp) {
            sp = stack.sp &+ stack.size   // the guest's numbers: a frame there that wraps faults, as on Linux
        }
        let fpu: [UInt8]
        do { fpu = try context.fpuState(space) } catch { throw .EFAULT }
        let fpAddr = SignalFrame.xstateAddress(below: sp, imageSize: fpu.count + XSave.magic2Size)
        sp = SignalFrame.frameAddress(below: fpAddr)

        var image = fpu
        XSave.markExtended(&image)
        try mm.copyOut(GuestAddress(fpAddr), XSave.withMagic2(image))

        var f = [UInt8](repeating: 0, count: Int(SignalFrame.size))
        f.store(action.restorer, at: SignalFrame.pretcode)
        let uc = SignalFrame.ucontext
        f.store(UContext.UC_FP_XSTATE | UContext.UC_SIGCONTEXT_SS | UContext.UC_STRICT_RESTORE_SS, at: uc + UContext.flags)
        f.store(stack.sp, at: uc + UContext.stackSP); f.store(altStackFlags(regs.sp), at: uc + UContext.stackFlags)
        f.store(stack.size, at: uc + UContext.stackSize)
        let r = regs.raw
        let sc = SignalFrame.sigcontext
        f.withUnsafeMutableBytes { SigContext.writeGeneral(r, to: $0.baseAddress! + sc) }
        f.store(UInt16(truncatingIfNeeded: r.cs), at: sc + SigContext.cs); f.store(UInt16(truncatingIfNeeded: r.gs), at: sc + SigContext.gs)
        f.store(UInt16(truncatingIfNeeded: r.fs), at: sc + SigContext.fs); f.store(UInt16(truncatingIfNeeded: r.ss), at: sc + SigContext.ss)
        if info.signo == Signal.SIGSEGV.rawValue && info.code > 0 {
            f.store(SigContext.trapPageFault, at: sc + SigContext.trapno)
            f.store(info.address, at: sc + SigContext.cr2)
        }
        f.store(mask, at: sc + SigContext.oldmask)
        f.store(fpAddr, at: sc + SigContext.fpstate)
        f.store(mask, at: SignalFrame.sigmask)
        let si = info.bytes
        for i in 0..<SignalFrame.siginfoSize { f[SignalFrame.siginfo + i] = si[i] }
        try mm.copyOut(GuestAddress(sp), f)

        regs.raw.rdi = UInt64(info.signo)
        regs.raw.rsi = sp + UInt64(SignalFrame.siginfo)
        regs.raw.rdx = sp + UInt64(SignalFrame.ucontext)
        regs.raw.rax = 0
        regs.raw.rsp = sp
        regs.raw.rip = action.handler
        regs.raw.eflags &= ~SigContext.handlerClearedFlags
        SyscallABI.leaveSyscall(&regs.raw)
        kernel.locked {
            signalMask |= action.mask
            if action.flags & SignalAction.SA_NODEFER == 0 { signalMask |= SignalQueue.bit(Signal(info.signo)) }
            signalMask &= ~SignalSets.unblockable
            savedMask = nil
            if altStack.flags & AltStack.SS_AUTODISARM != 0 && altStack.contains(sp) { altStack = AltStack() }
        }
    }

    /// rt_sigreturn: reloads what the frame saved. A frame that can't be read
    /// kills the guest with SIGSEGV, as on Linux.
    public func sigreturn() {
        do {
            let frame = GuestAddress(SignalFrame.frameAddress(atReturn: regs.sp))
            let ucBase = SignalFrame.ucontext
            let uc = try mm.copyIn(frame + UInt64(ucBase), SignalFrame.sigmask + 8 - ucBase)
            func get<T: BitwiseCopyable>(_ at: Int, _ t: T.Type) -> T { uc.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: at - ucBase, as: T.self) } }
            let sc = SignalFrame.sigcontext
            var r = regs.raw
            let eflags = r.eflags
            uc.withUnsafeBytes { SigContext.readGeneral($0.baseAddress! + (sc - ucBase), into: &r) }
            r.eflags = (eflags & ~SigContext.restorableFlags) | (r.eflags & SigContext.restorableFlags)
            SyscallABI.leaveSyscall(&r)
            let fpAddr = get(sc + SigContext.fpstate, UInt64.self)
            let mask = get(SignalFrame.sigmask, UInt64.self)
            let ss = (sp: get(ucBase + UContext.stackSP, UInt64.self), flags: get(ucBase + UContext.stackFlags, Int32.self),
                      size: get(ucBase + UContext.stackSize, UInt64.self))
            if fpAddr != 0 {
                let size = try context.fpuState(space).count
                let image = try mm.copyIn(GuestAddress(fpAddr), size)
                try context.setFPUState(space, image)
            }
            regs.raw = r
            kernel.locked {
                signalMask = mask & ~SignalSets.unblockable
                // restore_altstack: only while not running on the alternate stack.
                if !altStack.contains(regs.sp) && (ss.flags == 0 || ss.flags == AltStack.SS_DISABLE) {
                    altStack = AltStack(sp: ss.sp, flags: ss.flags, size: ss.size)
                }
            }
        } catch {
            kernel.locked { kernel.killGroupLocked(group, .signaled(.SIGSEGV, coreDumped: false)) }
        }
    }
}

