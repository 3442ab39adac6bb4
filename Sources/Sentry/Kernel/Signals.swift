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
        guard regs.raw.orig_rax != UInt64.max else { return }
        let code = -Int64(bitPattern: regs.raw.rax)
        var restart: Bool
        switch code {
        case 512: restart = handler.map { $0.flags & SignalAction.SA_RESTART != 0 } ?? true   // ERESTARTSYS
        case 513: restart = true                                                              // ERESTARTNOINTR
        case 514, 516: restart = handler == nil                                               // ERESTARTNOHAND, _RESTARTBLOCK
        default: return
        }
        if !restart {
            regs.raw.rax = UInt64(bitPattern: -Int64(Errno.EINTR.rawValue))
            return
        }
        regs.raw.rax = code == 516 ? 219 /* restart_syscall */ : regs.raw.orig_rax
        regs.raw.rip &-= 2
        if code != 516 { restartBlock = nil }
    }

    // MARK: - Frames

    /// struct rt_sigframe: pretcode, ucontext (flags, link, stack_t,
    /// sigcontext, sigmask), siginfo. The XSAVE image sits above it, 64-byte
    /// aligned, followed by FP_XSTATE_MAGIC2.
    static let frameSize: UInt64 = 440
    static let ucOffset = 8, sigcontextOffset = 48, sigmaskOffset = 304, siginfoOffset = 312
    static let fixEflags: UInt64 = 0x40000 | 0x800 | 0x400 | 0x100 | 0x80 | 0x40 | 0x10 | 0x4 | 0x1 | 0x10000

    private func altStackFlags(_ sp: UInt64) -> Int32 {
        if !altStack.enabled { return AltStack.SS_DISABLE }
        return altStack.contains(sp) ? AltStack.SS_ONSTACK : 0
    }

    func setUpFrame(_ info: SignalInfo, _ action: SignalAction) throws(Errno) {
        guard action.flags & SignalAction.SA_RESTORER != 0 else { throw .EFAULT }   // x86-64 requires a restorer
        let (mask, stack) = kernel.locked { (savedMask ?? signalMask, altStack) }
        var sp = regs.sp &- 128   // the red zone
        if action.flags & SignalAction.SA_ONSTACK != 0 && stack.enabled && !stack.contains(regs.sp) {
            sp = stack.sp + stack.size
        }
        let fpu: [UInt8]
        do { fpu = try context.fpuState(space) } catch { throw .EFAULT }
        sp = (sp &- UInt64(fpu.count + 4)) & ~63
        let fpAddr = sp
        sp = ((sp &- Self.frameSize) & ~15) &- 8

        var image = fpu
        Self.markXState(&image)
        image += withUnsafeBytes(of: UInt32(0x4650_5845).littleEndian) { Array($0) }   // FP_XSTATE_MAGIC2
        try mm.copyOut(GuestAddress(fpAddr), image)

        var f = [UInt8](repeating: 0, count: Int(Self.frameSize))
        f.store(action.restorer, at: 0)
        f.store(UInt64(1 | 2 | 4), at: Self.ucOffset)   // UC_FP_XSTATE | UC_SIGCONTEXT_SS | UC_STRICT_RESTORE_SS
        f.store(stack.sp, at: 24); f.store(altStackFlags(regs.sp), at: 32); f.store(stack.size, at: 40)
        let r = regs.raw
        let sc = Self.sigcontextOffset
        for (i, v) in [r.r8, r.r9, r.r10, r.r11, r.r12, r.r13, r.r14, r.r15, r.rdi, r.rsi, r.rbp, r.rbx,
                       r.rdx, r.rax, r.rcx, r.rsp, r.rip, r.eflags].enumerated() { f.store(v, at: sc + i * 8) }
        f.store(UInt16(truncatingIfNeeded: r.cs), at: sc + 144); f.store(UInt16(truncatingIfNeeded: r.gs), at: sc + 146)
        f.store(UInt16(truncatingIfNeeded: r.fs), at: sc + 148); f.store(UInt16(truncatingIfNeeded: r.ss), at: sc + 150)
        if info.signo == Signal.SIGSEGV.rawValue && info.code > 0 {
            f.store(UInt64(14), at: sc + 160)            // trapno: page fault
            f.store(info.address, at: sc + 176)          // cr2
        }
        f.store(mask, at: sc + 168)                      // oldmask
        f.store(fpAddr, at: sc + 184)
        f.store(mask, at: Self.sigmaskOffset)
        let si = info.bytes
        for i in 0..<128 { f[Self.siginfoOffset + i] = si[i] }
        try mm.copyOut(GuestAddress(sp), f)

        regs.raw.rdi = UInt64(info.signo)
        regs.raw.rsi = sp + UInt64(Self.siginfoOffset)
        regs.raw.rdx = sp + UInt64(Self.ucOffset)
        regs.raw.rax = 0
        regs.raw.rsp = sp
        regs.raw.rip = action.handler
        regs.raw.eflags &= ~UInt64(0x400 | 0x100 | 0x10000)   // DF, TF, RF
        regs.raw.orig_rax = UInt64.max
        kernel.locked {
            signalMask |= action.mask
            if action.flags & SignalAction.SA_NODEFER == 0 { signalMask |= SignalQueue.bit(Signal(info.signo)) }
            signalMask &= ~SignalSets.unblockable
            savedMask = nil
            if altStack.flags & AltStack.SS_AUTODISARM != 0 && altStack.contains(sp) { altStack = AltStack() }
        }
    }

    /// The kernel's XSAVE image carries the fx_sw_bytes that tell a reader the
    /// frame holds extended state; make sure they are there.
    private static func markXState(_ image: inout [UInt8]) {
        guard image.count >= 576 else { return }
        let magic1 = image.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: 464, as: UInt32.self) }
        if magic1 == 0x4650_5853 { return }
        let bv = image.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: 512, as: UInt64.self) }
        image.store(UInt32(0x4650_5853), at: 464)
        image.store(UInt32(image.count + 4), at: 468)
        image.store(bv | 3, at: 472)
        image.store(UInt32(image.count), at: 480)
    }

    /// rt_sigreturn: reloads what the frame saved. A frame that can't be read
    /// kills the guest with SIGSEGV, as on Linux.
    public func sigreturn() {
        do {
            let frame = GuestAddress(regs.sp &- 8)
            let uc = try mm.copyIn(frame + UInt64(Self.ucOffset), Self.sigmaskOffset + 8 - Self.ucOffset)
            func get<T: BitwiseCopyable>(_ at: Int, _ t: T.Type) -> T { uc.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: at - Self.ucOffset, as: T.self) } }
            let sc = Self.sigcontextOffset
            var r = regs.raw
            r.r8 = get(sc, UInt64.self); r.r9 = get(sc + 8, UInt64.self); r.r10 = get(sc + 16, UInt64.self)
            r.r11 = get(sc + 24, UInt64.self); r.r12 = get(sc + 32, UInt64.self); r.r13 = get(sc + 40, UInt64.self)
            r.r14 = get(sc + 48, UInt64.self); r.r15 = get(sc + 56, UInt64.self); r.rdi = get(sc + 64, UInt64.self)
            r.rsi = get(sc + 72, UInt64.self); r.rbp = get(sc + 80, UInt64.self); r.rbx = get(sc + 88, UInt64.self)
            r.rdx = get(sc + 96, UInt64.self); r.rax = get(sc + 104, UInt64.self); r.rcx = get(sc + 112, UInt64.self)
            r.rsp = get(sc + 120, UInt64.self); r.rip = get(sc + 128, UInt64.self)
            r.eflags = (r.eflags & ~Self.fixEflags) | (get(sc + 136, UInt64.self) & Self.fixEflags)
            r.orig_rax = UInt64.max
            let fpAddr = get(sc + 184, UInt64.self)
            let mask = get(Self.sigmaskOffset, UInt64.self)
            let ss = (sp: get(24, UInt64.self), flags: get(32, Int32.self), size: get(40, UInt64.self))
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
        registersReplaced = true
    }
}

