import Glibc

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

    private enum Step { case none, killed, stopped, ptraceGroupStop(Signal), ptraceTrap, take(SignalInfo, SignalAction), traced(SignalInfo) }

    /// Acts on every pending signal the task doesn't block, in Linux's order
    /// (get_signal): a traced task first reports its group-stop or
    /// PTRACE_EVENT_STOP trap, then each signal in a signal-delivery-stop
    /// where its tracer may change or cancel it.
    /// `resuming`: a restored tracee takes up the signal-delivery-stop or
    /// group-stop its image holds, where this loop left it.
    func deliverSignals(resuming: RestoredPtraceStop? = nil) {
        if let tracer = kernel.tracer {
            for info in kernel.locked({ () -> [SignalInfo] in defer { ignoredForTracer = [] }; return ignoredForTracer }) {
                tracer.signal(self, info)
            }
        }
        var first = true
        var resuming = resuming
        while true {
            if let r = resuming {
                resuming = nil
                switch r {
                case .signalDelivery(let wasFirst):
                    first = wasFirst
                    let (original, sig) = kernel.locked { (ptrace?.siginfo, ptrace?.exitCode ?? 0) }
                    guard let answer = rejoinPtraceStop() else { continue }
                    guard let info = ptraceSignalAnswered(answer, original ?? SignalInfo(Signal(sig), code: SignalInfo.SI_KERNEL)) else { continue }
                    if let done = take(info, kernel.locked { takeActionLocked(info) }, first: &first), done { return }
                    continue
                case .groupStop:
                    _ = rejoinPtraceStop()
                    continue
                case .syscallEntry, .syscallExit, .forked, .execed, .exiting, .seccompTraced:
                    break
                }
            }
            let step: Step = kernel.locked {
                if killed || group.exitStatus != nil { return .killed }
                if let link = ptrace {
                    if group.stopped && groupStopPending { groupStopPending = false; return .ptraceGroupStop(group.stopSignal) }
                    if link.trapStopPending { link.trapStopPending = false; return .ptraceTrap }
                } else if group.stopped {
                    return .stopped
                }
                let allowed = ~signalMask
                guard let info = dequeueSignalLocked(from: allowed) else { return .none }
                // SIGKILL never queues; a traced task shows the tracer every other signal first.
                if ptrace != nil { return .traced(info) }
                return .take(info, takeActionLocked(info))
            }
            let taken: (SignalInfo, SignalAction)
            switch step {
            case .killed:
                return
            case .stopped:
                _ = try? block(on: [group.groupEvents], interruptible: false) { () throws(Errno) in
                    kernel.locked { !group.stopped || killed || group.exitStatus != nil || ptrace != nil }
                }
                continue
            case .ptraceGroupStop(let sig):
                ptraceGroupStop(sig)
                continue
            case .ptraceTrap:
                ptraceTrapStop()
                continue
            case .none:
                if first { restartInterruptedSyscall(handler: nil) }
                return
            case .traced(let original):
                kernel.locked { ptrace?.deliveryFirst = first }
                guard let info = ptraceSignalStop(original) else { continue }
                taken = (info, kernel.locked { takeActionLocked(info) })
            case .take(let info, let action):
                taken = (info, action)
            }
            if let done = take(taken.0, taken.1, first: &first), done { return }
        }
    }

    /// Acts on one signal taken: its default action or a handler's frame.
    /// true: the task is done (killed); false or nil: the loop goes on.
    private func take(_ info: SignalInfo, _ action: SignalAction, first: inout Bool) -> Bool? {
        let sig = Signal(info.signo)
        // strace sees every delivery, an ignored signal's too (a
        // ptrace signal-delivery-stop comes before the action).
        kernel.tracer?.signal(self, info)
        if action.handler == SignalAction.SIG_IGN { return nil }
        // A signal queued while blocked, taken with no handler by init.
        if kernel.locked({ kernel.initIgnoresLocked(info, group) }) { return nil }
        if action.handler == SignalAction.SIG_DFL {
            switch sig.defaultAction {
            case .ignore, .resume: return nil
            case .stop:
                kernel.locked { kernel.stopGroupLocked(group, sig) }
                return nil
            case .terminate, .coreDump:
                // Linux sets WCOREDUMP only when a core file was written; the sentry
                // writes none, so core-dump signals report a plain kill.
                ptraceExitEvent(.signaled(sig, coreDumped: false), group: true)
                kernel.locked { kernel.killGroupLocked(group, .signaled(sig, coreDumped: false)) }
                return true
            }
        }
        if first { restartInterruptedSyscall(handler: action); first = false }
        do { try setUpFrame(info, action) } catch {
            // No room for the frame: the guest dies of SIGSEGV, as on Linux.
            kernel.locked { kernel.killGroupLocked(group, .signaled(.SIGSEGV, coreDumped: false)) }
            return true
        }
        return false
    }

    /// The action for a signal being taken; SA_RESETHAND resets it. Kernel lock held.
    private func takeActionLocked(_ info: SignalInfo) -> SignalAction {
        let action = group.handlers.actions[Int(info.signo)]
        if action.handler > SignalAction.SIG_IGN && action.flags & SignalAction.SA_RESETHAND != 0 {
            group.handlers.actions[Int(info.signo)] = SignalAction()
        }
        return action
    }

    /// A syscall cut short by a signal (-ERESTART* in rax) either restarts or
    /// returns EINTR, by Linux's rules for each code.
    func restartInterruptedSyscall(handler: SignalAction?) {
        if case .restarted(let code) = SyscallRestart.apply(&regs.raw, handler: handler), code != .ERESTART_RESTARTBLOCK {
            restartBlock = nil
        }
    }

    // MARK: - Frames

    func setUpFrame(_ info: SignalInfo, _ action: SignalAction) throws(Errno) {
        guard action.flags & SignalAction.SA_RESTORER != 0 else { throw .EFAULT }   // x86-64 requires a restorer
        rseqSignalDelivered(info.signo)
        let (mask, stack) = kernel.locked { (savedMask ?? signalMask, altStack) }
        var sp = regs.sp &- SignalFrame.redZone
        // get_sigframe: SA_ONSTACK moves to the alternate stack when it is
        // armed and not in use (sas_ss_flags(sp) == 0).
        if action.flags & SignalAction.SA_ONSTACK != 0 && stack.enabled && !stack.onStack(regs.sp) {
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
        // __save_altstack: the stack as registered, its flags as set.
        f.store(stack.sp, at: uc + UContext.stackSP); f.store(stack.flags, at: uc + UContext.stackFlags)
        f.store(stack.size, at: uc + UContext.stackSize)
        let r = regs.raw
        let sc = SignalFrame.sigcontext
        f.withUnsafeMutableBytes { SigContext.writeGeneral(r, to: $0.baseAddress! + sc) }
        f.store(UInt16(truncatingIfNeeded: r.cs), at: sc + SigContext.cs); f.store(UInt16(truncatingIfNeeded: r.gs), at: sc + SigContext.gs)
        f.store(UInt16(truncatingIfNeeded: r.fs), at: sc + SigContext.fs); f.store(UInt16(truncatingIfNeeded: r.ss), at: sc + SigContext.ss)
        if let trap = info.trapNumber {
            f.store(trap, at: sc + SigContext.trapno)
            f.store(info.errorCode, at: sc + SigContext.err)
            if trap == SigContext.trapPageFault { f.store(info.address, at: sc + SigContext.cr2) }
        } else if info.signo == Signal.SIGSEGV.rawValue && info.code > 0 {
            f.store(SigContext.trapPageFault, at: sc + SigContext.trapno)
            f.store(info.address, at: sc + SigContext.cr2)
        }
        f.store(mask, at: sc + SigContext.oldmask)
        f.store(fpAddr, at: sc + SigContext.fpstate)
        f.store(mask, at: SignalFrame.sigmask)
        let si = info.bytes
        for i in 0..<SignalFrame.siginfoSize { f[SignalFrame.siginfo + i] = si[i] }
        try mm.copyOut(GuestAddress(sp), f)
        // handle_signal's fpu__clear_user_states: the handler starts from the
        // initial FPU state (default MXCSR and x87 control word, vector
        // registers zero); rt_sigreturn brings back the frame's.
        try? context.setFPUState(space, XSave.initialState(like: fpu))

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
            // signal_delivered: an SS_AUTODISARM stack is disarmed for the handler's run.
            if altStack.flags & AltStack.SS_AUTODISARM != 0 { altStack = AltStack() }
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
                // restore_altstack: do_sigaltstack with the frame's stack_t, its errors squashed.
                try? altStack.change(sp: ss.sp, flags: ss.flags, size: ss.size, currentSP: regs.sp)
            }
        } catch {
            kernel.locked { kernel.killGroupLocked(group, .signaled(.SIGSEGV, coreDumped: false)) }
        }
    }
}

