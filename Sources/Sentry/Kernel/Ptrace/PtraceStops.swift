import Glibc

/// The tracee's side of guest ptrace: the stops of kernel/signal.c's
/// ptrace_stop (syscall entry and exit, PTRACE_EVENT_*, signal delivery,
/// group-stop and PTRACE_EVENT_STOP traps), each reported to the tracer's
/// wait and left only when the tracer resumes, detaches or the task is killed.
/// The tracee's thread sleeps in the sentry meanwhile, so the tracer reads
/// and writes its registers (`regs`) as Linux's tracer reads pt_regs.
extension SignalInfo {
    /// si_code of a SIGCHLD for a ptrace stop.
    public static let CLD_TRAPPED: Int32 = 4

    /// A siginfo_t read back from its 128 bytes (PTRACE_SETSIGINFO), by the
    /// layout `bytes` writes.
    init(bytes b: [UInt8]) {
        func i32(_ at: Int) -> Int32 { b.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: at, as: Int32.self) } }
        func u64(_ at: Int) -> UInt64 { b.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: at, as: UInt64.self) } }
        self.init(Signal(i32(0)), code: i32(8))
        errno = i32(4)
        switch signo {
        case Signal.SIGSEGV.rawValue, Signal.SIGBUS.rawValue, Signal.SIGFPE.rawValue, Signal.SIGILL.rawValue,
             Signal.SIGTRAP.rawValue where code > 0 && code < Self.SI_KERNEL:
            address = u64(16)
        case Signal.SIGSYS.rawValue where code > 0:
            address = u64(16); syscall = i32(24); arch = UInt32(bitPattern: i32(28))
        case Signal.SIGCHLD.rawValue where code > 0:
            pid = i32(16); uid = UInt32(bitPattern: i32(20)); status = i32(24)
        default:
            if code == Self.SI_TIMER { timerID = i32(16); overrun = i32(20); value = u64(24) }
            else { pid = i32(16); uid = UInt32(bitPattern: i32(20)); value = u64(24) }
        }
    }
}

extension Task {
    /// What a stop ended with: the tracer's resume, and last_siginfo as the
    /// tracer left it (PTRACE_SETSIGINFO may have changed it).
    struct PtraceAnswer {
        var resume: PtraceLink.Resume
        var siginfo: SignalInfo?
    }

    /// ptrace_stop: enters `stop`, tells the tracer (SIGCHLD with `why`, its
    /// wait woken) and sleeps until it answers. nil when the task is not
    /// traced, or was killed meanwhile (then nothing more is reported).
    @discardableResult
    func ptraceStop(_ stop: PtraceLink.Stop, exitCode: Int32, siginfo: SignalInfo?, message: UInt64? = nil,
                    why: Int32 = SignalInfo.CLD_TRAPPED, exitAfter: (status: ExitStatus, group: Bool)? = nil) -> PtraceAnswer? {
        guard traced.load(ordering: .acquiring) else { return nil }
        // The FPU state is the platform's, read on this thread only.
        let fpu = try? context.fpuState(space)
        let entered: PtraceLink? = kernel.locked {
            guard let link = ptrace, !killed, group.exitStatus == nil else { return nil }
            link.stop = stop; link.exitCode = exitCode; link.reported = false; link.resume = nil
            link.siginfo = siginfo
            if let message { link.eventMessage = message }
            link.fpu = fpu; link.fpuChanged = false; link.listening = false
            link.exitAfter = exitAfter
            kernel.notifyTracerLocked(self, link, why: why)
            return link
        }
        guard let link = entered else { return nil }
        return awaitTracer(link)
    }

    /// A restored tracee takes up the stop its image holds (the link's
    /// stop, exit code, siginfo and reported state already set, the tracer
    /// told before the checkpoint): it waits for the tracer's answer as it
    /// did. nil when not in a stop, or killed meanwhile.
    func rejoinPtraceStop() -> PtraceAnswer? {
        let link: PtraceLink? = kernel.locked { ptrace.flatMap { $0.stop != nil && !killed && group.exitStatus == nil ? $0 : nil } }
        guard let link else { return nil }
        return awaitTracer(link)
    }

    /// The stop's wait, until the tracer resumes, detaches or the task is
    /// killed. A freeze parks the task here, in its stop (the tracer sees
    /// no change), and a checkpoint keeps the stop as it is.
    private func awaitTracer(_ link: PtraceLink) -> PtraceAnswer? {
        while true {
            _ = try? block(on: [], interruptible: false) { () throws(Errno) in
                kernel.locked {
                    link.resume != nil || ptrace !== link || link.work != nil || (link.listening && (link.trapStopPending || !group.stopped))
                        || (kernel.freezing && !parked)
                }
            }
            // The tracer's work for this thread (still stopped): done, then back to waiting.
            if let work = kernel.locked({ () -> (@Sendable (Task) -> Void)? in defer { link.work = nil }; return link.work }) {
                work(self)
                kernel.locked { link.workDone = true; link.tracer.waker.wake() }
                continue
            }
            // PTRACE_LISTEN: the group-stop ended (or an INTERRUPT came): a new
            // PTRACE_EVENT_STOP trap, still stopped (ptrace_trap_notify).
            let again: Bool = kernel.locked {
                guard link.resume == nil, ptrace === link, !killed, group.exitStatus == nil, link.listening else { return false }
                link.listening = false
                link.trapStopPending = false
                let sig = group.stopped ? group.stopSignal.rawValue : Signal.SIGTRAP.rawValue
                link.exitCode = sig | (PtraceABI.PTRACE_EVENT_STOP << 8)
                link.siginfo = trapInfo(signo: sig, code: link.exitCode)
                link.stop = .groupStop
                link.reported = false
                kernel.notifyTracerLocked(self, link, why: SignalInfo.CLD_STOPPED)
                return true
            }
            if again { continue }
            let parks = { [self] in
                kernel.freezing && link.resume == nil && ptrace === link && link.work == nil && !killed && group.exitStatus == nil
            }
            if kernel.locked(parks) { park(while: parks); continue }
            break
        }
        let (answer, image): (PtraceAnswer?, [UInt8]?) = kernel.locked {
            defer { link.stop = nil; link.resume = nil; link.fpu = nil; link.exitAfter = nil }
            guard let r = link.resume else { return (nil, nil) }
            return (PtraceAnswer(resume: r, siginfo: link.siginfo), link.fpuChanged ? link.fpu : nil)
        }
        if let image { try? context.setFPUState(space, image) }
        return answer
    }

    /// ptrace_do_notify's siginfo: the trap's signal, the exit code as si_code, the tracee as sender.
    func trapInfo(signo: Int32, code: Int32) -> SignalInfo {
        var info = SignalInfo(Signal(signo), code: code)
        info.pid = tid
        info.uid = attributes.withLock { $0.credentials.uid }
        return info
    }

    /// The syscall mode the tracer last resumed with (PTRACE_SYSCALL, SYSEMU).
    var ptraceSyscallMode: PtraceLink.SyscallMode {
        guard traced.load(ordering: .acquiring) else { return .none }
        return kernel.locked { ptrace?.syscallMode ?? .none }
    }

    /// ptrace_report_syscall: a syscall-entry or syscall-exit stop
    /// (SIGTRAP, |0x80 with PTRACE_O_TRACESYSGOOD). A signal the tracer
    /// resumes with is sent to the tracee, as send_sig.
    func ptraceSyscallStop(entry: Bool) {
        let good = kernel.locked { ptrace.map { $0.options & PtraceABI.PTRACE_O_TRACESYSGOOD != 0 } ?? false }
        let code = Signal.SIGTRAP.rawValue | (good ? PtraceABI.sysgoodBit : 0)
        let answer = ptraceStop(entry ? .syscallEntry : .syscallExit, exitCode: code, siginfo: trapInfo(signo: Signal.SIGTRAP.rawValue, code: code),
                                message: entry ? PtraceABI.PTRACE_EVENTMSG_SYSCALL_ENTRY : PtraceABI.PTRACE_EVENTMSG_SYSCALL_EXIT)
        if let sig = answer?.resume.signal, sig != 0 { post(SignalInfo(Signal(sig), code: SignalInfo.SI_KERNEL)) }
    }

    /// Whether the tracer asked for PTRACE_EVENT_`event` stops.
    func ptraceWants(_ event: Int32) -> Bool {
        guard traced.load(ordering: .acquiring) else { return false }
        return kernel.locked { ptrace?.wants(event) ?? false }
    }

    /// ptrace_event: a PTRACE_EVENT_* stop when the tracer asked for it. The
    /// signal a tracer resumes an event stop with is ignored, as in Linux.
    func ptraceEvent(_ event: Int32, message: UInt64, exitAfter: (status: ExitStatus, group: Bool)? = nil) {
        guard ptraceWants(event) else { return }
        let code = Signal.SIGTRAP.rawValue | (event << 8)
        ptraceStop(.event(event), exitCode: code, siginfo: trapInfo(signo: Signal.SIGTRAP.rawValue, code: code), message: message,
                   exitAfter: exitAfter)
    }

    /// After a successful execve: PTRACE_EVENT_EXEC with the tid the caller
    /// had, or for a tracee attached without SEIZE and without the option, the
    /// old-style SIGTRAP.
    public func ptraceExecEvent(formerTID: Int32) {
        guard traced.load(ordering: .acquiring) else { return }
        if ptraceWants(PtraceABI.PTRACE_EVENT_EXEC) {
            ptraceEvent(PtraceABI.PTRACE_EVENT_EXEC, message: UInt64(UInt32(bitPattern: formerTID)))
        } else if kernel.locked({ ptrace.map { !$0.seized } ?? false }) {
            post(SignalInfo(.SIGTRAP, code: SignalInfo.SI_USER))
        }
    }

    /// PTRACE_EVENT_EXIT as do_exit reports it: the status word in the
    /// message. `group`: the whole process exits after (exit_group, a fatal
    /// signal), not the thread alone.
    func ptraceExitEvent(_ status: ExitStatus, group: Bool) {
        ptraceEvent(PtraceABI.PTRACE_EVENT_EXIT, message: UInt64(UInt32(bitPattern: ThreadGroup.waitStatus(status))),
                    exitAfter: (status, group))
    }

    /// ptrace_signal: a signal-delivery-stop. Returns the signal to go on
    /// with: nil when the tracer cancelled it (or requeued it, blocked); a
    /// new signal number replaces the siginfo with the tracer as sender.
    func ptraceSignalStop(_ info: SignalInfo) -> SignalInfo? {
        guard let answer = ptraceStop(.signalDelivery, exitCode: info.signo, siginfo: info) else {
            return kernel.locked { killed || group.exitStatus != nil } ? nil : info
        }
        return ptraceSignalAnswered(answer, info)
    }

    /// The end of a signal-delivery-stop: the signal the tracer's answer
    /// leaves to deliver (nil: cancelled, or requeued as now blocked).
    func ptraceSignalAnswered(_ answer: PtraceAnswer, _ info: SignalInfo) -> SignalInfo? {
        let signo = answer.resume.signal
        if signo == 0 { return nil }
        var out = answer.siginfo ?? info
        if signo != out.signo {
            out = SignalInfo(Signal(signo), code: SignalInfo.SI_USER)
            let tracer = answer.resume.kind == .detach ? nil : kernel.locked { ptrace?.tracer }
            out.pid = tracer?.tid ?? 0
            out.uid = tracer?.attributes.withLock { $0.credentials.uid } ?? 0
        }
        // A signal the task now blocks goes back to its queue.
        let requeued: Bool = kernel.locked {
            guard signalMask & SignalQueue.bit(Signal(signo)) != 0 else { return false }
            kernel.sendLocked(out, to: group, thread: self)
            return true
        }
        return requeued ? nil : out
    }

    /// A traced task's part in a group-stop (do_signal_stop): a legacy
    /// tracee reports the stop signal without siginfo; a seized one a
    /// PTRACE_EVENT_STOP. The tracer's resume lets it run on.
    func ptraceGroupStop(_ sig: Signal) {
        let seized = kernel.locked { ptrace?.seized ?? false }
        if seized {
            let code = sig.rawValue | (PtraceABI.PTRACE_EVENT_STOP << 8)
            ptraceStop(.groupStop, exitCode: code, siginfo: trapInfo(signo: sig.rawValue, code: code), why: SignalInfo.CLD_STOPPED)
        } else {
            ptraceStop(.groupStop, exitCode: sig.rawValue, siginfo: nil, why: SignalInfo.CLD_STOPPED)
        }
    }

    /// do_jobctl_trap for JOBCTL_TRAP_STOP (PTRACE_INTERRUPT, a seized
    /// task's first stop): PTRACE_EVENT_STOP with SIGTRAP, or the stop
    /// signal while the group is stopped.
    func ptraceTrapStop() {
        let sig = kernel.locked { group.stopped ? group.stopSignal.rawValue : Signal.SIGTRAP.rawValue }
        let code = sig | (PtraceABI.PTRACE_EVENT_STOP << 8)
        ptraceStop(.groupStop, exitCode: code, siginfo: trapInfo(signo: sig, code: code), why: SignalInfo.CLD_STOPPED)
    }
}

extension Task {
    /// Runs `body` on the stopped tracee's own thread and waits for it (the
    /// platform lets only a task's thread change its address space). False
    /// when the tracee left its stop or died first.
    func onStoppedTracee(_ t: Task, _ link: PtraceLink, _ body: @escaping @Sendable (Task) -> Void) -> Bool {
        let posted: Bool = kernel.locked {
            guard t.ptrace === link, link.stop != nil, link.resume == nil, link.work == nil else { return false }
            link.work = body
            link.workDone = false
            t.unparkLocked()
            return true
        }
        guard posted else { return false }
        _ = try? block(on: [], interruptible: false) { () throws(Errno) in
            kernel.locked { link.workDone || t.ptrace !== link || t.killed || t.group.exitStatus != nil }
        }
        return kernel.locked { defer { link.workDone = false; link.work = nil }; return link.workDone }
    }
}

extension Kernel {
    /// do_notify_parent_cldstop towards the tracer: SIGCHLD (unless its
    /// process set SA_NOCLDSTOP) and its waiters woken. Kernel lock held.
    func notifyTracerLocked(_ tracee: Task, _ link: PtraceLink, why: Int32) {
        let g = link.tracer.group
        if g.handlers.actions[Int(Signal.SIGCHLD.rawValue)].flags & SignalAction.SA_NOCLDSTOP == 0 {
            var info = SignalInfo(.SIGCHLD, code: why)
            info.pid = tracee.tid
            info.uid = tracee.attributes.withLock { $0.credentials.uid }
            info.status = link.exitCode & 0x7f
            sendLocked(info, to: g)
        }
        g.childEvents.notify()
    }
}

extension Task {
    /// The first trap after a PTRACE_SINGLESTEP: the trap flag the tracer
    /// set is cleared. Returns whether the step ran into a syscall (its
    /// SIGTRAP comes once the call is done).
    func endStep(at trap: Trap) -> Bool {
        kernel.locked {
            guard let link = ptrace, link.stepping else { return false }
            // A kick is no step: the instruction has not run yet.
            if case .interrupted = trap { return false }
            link.stepping = false
            if link.forcedTrapFlag { regs.raw.eflags &= ~PtraceABI.trapFlag; link.forcedTrapFlag = false }
            if case .syscall = trap { return true }
            return false
        }
    }

    /// user_single_step_report: SIGTRAP (TRAP_BRKPT, the address of the next instruction).
    func stepTrapAfterSyscall() {
        var info = SignalInfo(.SIGTRAP, code: PtraceABI.TRAP_BRKPT)
        info.address = regs.ip
        force(info)
    }
}
