import CSwitch
import Glibc
import Synchronization

/// Runs a task's guest code in its systrap stub: write the registers into
/// the ucontext the stub will rt_sigreturn through, say RUN, and wait for
/// the next trap report. The guest's syscalls, faults and kicks all arrive
/// as signals handled inside the stub, never as ptrace stops.
/// Sendable: used only by its task's thread, but `kick`, which reads the atomic `kickPID`.
final class SystrapContext: PlatformContext, @unchecked Sendable {
    // Touched only by the task's own thread.
    private var space: SystrapAddressSpace?
    private var runner: SystrapAddressSpace.Runner?
    /// The stub has a trap frame to resume (false before the first run).
    private var trapped = false
    /// The FS and GS bases the stub has; nil: unknown, set them.
    private var stubFS: UInt64?
    private var stubGS: UInt64?
    /// The clocks the stub may read itself (allowGuestSideClockReads), and
    /// what its area says now (nil: a new stub, not told yet).
    private var clockReads: UInt64 = 0
    private var stubClockReads: UInt64?
    /// RDFSBASE/WRFSBASE and RDGSBASE/WRGSBASE work in user mode (the host
    /// says so in AT_HWCAP2): the guest may change its bases without a
    /// trap, so the stub reports them at each one.
    static let userFSGSBase = getauxval(AT_HWCAP2) & HWCAP2_FSGSBASE != 0
    static let AT_HWCAP2: UInt = 26, HWCAP2_FSGSBASE: UInt = 1 << 1
    static let trapFlag = PtraceABI.trapFlag
    /// The stub may also answer rt_sigprocmask after the SIGSYS of a site
    /// it cannot patch, once it has read the bytes before the syscall
    /// instruction to tell: not where protection keys can make the guest's
    /// code execute-only (a read there would kill the stub in its handler).
    static let maskAfterSIGSYS = sw_host_protection_keys() == 0
    private let kickPID = Atomic<Int32>(0)
    /// Where the stub may run (StubPlacement.swift).
    private var placement = StubPlacement()
    /// The guest set its own CPU affinity (HostAffinity.swift), which then
    /// rules the stub's; set from any thread.
    private let guestAffinity = Atomic<Bool>(false)
    /// How long this task's guest code has been running between traps
    /// lately (ns, a moving average): the wait for the next trap spins
    /// about twice that, or not at all for a guest that computes for long.
    private var runTime: Int64 = 0
    /// Rewrite syscall sites into calls to the stub (--systrap-patch): the
    /// address of its patched-syscall entry, or nil.
    private let patchEntry: UInt64?
    /// The last trap was a syscall that came through a patched site.
    private var patchedTrap = false
    /// The last trap was a syscall the signal brought (a site not patched yet).
    private var signalSyscall = false
    /// The FPU state a task's first run starts with (its parent's, at
    /// clone), before there is a trap frame to hold it: the fresh frame
    /// carries it for the stub's rt_sigreturn, and signal frames set up
    /// before that run read and change it here.
    private var firstRunFPU: [UInt8]?
    /// When another thread posted the RUN it resumed the guest with.
    private let resumedAt = Atomic<Int64>(0)

    init(patchEntry: UInt64? = nil) {
        self.patchEntry = patchEntry
    }

    var patchableSyscallEntry: UInt64? { signalSyscall ? patchEntry : nil }

    func allowGuestSideClockReads(_ clocks: UInt64) { clockReads = clocks }

    /// The clocks the stub may read itself, into its area before a RUN.
    private func applyClockReads(_ a: SystrapArea) {
        guard stubClockReads != clockReads else { return }
        a.store(SW_AREA_FAST_CLOCKS, clockReads)
        stubClockReads = clockReads
    }

    /// The stub keeps the mask only when the run uses the stub this
    /// context already has: a new one (a first run, an exec) starts with
    /// MASK_ON clear (switchTo), and gets the mask at a later run.
    func enterGuestSignalMask(_ anySpace: AddressSpace?, allowed: Bool, mask: UInt64, pending: UInt64) -> GuestSignalWords? {
        guard let r = runner, let anySpace, anySpace === space else { return nil }
        let a = r.area
        guard allowed else {
            a.store(SW_AREA_MASK_ON, UInt32(0))
            return nil
        }
        // Plain stores: the stub reads them only after the RUN, whose post orders them.
        a.store(SW_AREA_SIGMASK, mask)
        a.store(SW_AREA_SIGPENDING, pending)
        a.store(SW_AREA_MASK_ON, UInt32(Self.maskAfterSIGSYS ? 2 : 1))
        return GuestSignalWords(maskWord: a.base + Int(SW_AREA_SIGMASK), pendingWord: a.base + Int(SW_AREA_SIGPENDING))
    }

    func enterGuestRobustList(_ anySpace: AddressSpace?, allowed: Bool) -> GuestRobustListWord? {
        guard let r = runner, let anySpace, anySpace === space else { return nil }
        let a = r.area
        // Plain stores, ordered by the RUN's post as the mask's are.
        a.store(SW_AREA_ROBUST_SET, UInt32(0))
        a.store(SW_AREA_ROBUST_ON, UInt32(allowed ? 1 : 0))
        guard allowed else { return nil }
        return GuestRobustListWord(headWord: a.base + Int(SW_AREA_ROBUST_HEAD), setWord: a.base + Int(SW_AREA_ROBUST_SET))
    }

    func switchTo(_ anySpace: AddressSpace, _ regs: inout Registers) throws(PlatformError) -> Trap {
        let s = anySpace as! SystrapAddressSpace
        if s !== space {
            runner = try s.runner()
            space = s
            trapped = false
            stubFS = nil
            stubGS = nil
            stubClockReads = nil
            kickPID.store(runner!.pid, ordering: .relaxed)
            placement.newStub(runner!.area)
            runner!.area.store(SW_AREA_FSGSBASE, UInt32(Self.userFSGSBase ? 1 : 0))
            runner!.area.store(SW_AREA_MASK_ON, UInt32(0))
            runner!.area.store(SW_AREA_ROBUST_ON, UInt32(0))
            runner!.area.store(SW_AREA_FAST_REPORT, UInt32(0))
        }
        let r = runner!, a = r.area
        // Where the registers go: the trap's own frame, or a fresh one.
        var uc: UnsafeMutableRawPointer
        var fresh = false
        if trapped, let p = a.pointer(a.load(SW_AREA_UC, as: UInt64.self), length: UInt64(UContext.size)) {
            uc = p
        } else {
            fresh = true
            uc = a.base + Int(SW_AREA_FRAME)
            memset(uc, 0, UContext.size)
            uc.storeBytes(of: a.address + UInt64(SW_AREA_STACK), toByteOffset: UContext.stackSP, as: UInt64.self)
            uc.storeBytes(of: SystrapArea.size - UInt64(SW_AREA_STACK), toByteOffset: UContext.stackSize, as: UInt64.self)
            uc.storeBytes(of: UInt16(truncatingIfNeeded: s.initialRegisters.raw.cs), toByteOffset: UContext.mcontext + SigContext.cs, as: UInt16.self)
            uc.storeBytes(of: UInt16(truncatingIfNeeded: s.initialRegisters.raw.ss), toByteOffset: UContext.mcontext + SigContext.ss, as: UInt16.self)
            a.store(SW_AREA_UC, a.address + UInt64(SW_AREA_FRAME))
            // A recycled stub may have parked after a patched trap.
            a.store(SW_AREA_PATCHED, UInt32(0))
            a.store(SW_AREA_FP_SAVED, UInt32(0))
            a.store(SW_AREA_AFTER_RIP, UInt64(0))
        }
        // A stepped guest (a tracer's TF) resumes where its rip says, never
        // in an `after` site's replay.
        if regs.raw.eflags & Self.trapFlag != 0 { a.store(SW_AREA_AFTER_RIP, UInt64(0)) }
        if fresh {
            SigContext.writeGeneral(regs.raw, to: uc + UContext.mcontext)
            if let image = firstRunFPU { placeFirstRunFPU(image, frame: uc, area: a) }
        } else {
            SigContext.writeGeneralChanges(regs.raw, to: uc + UContext.mcontext)
        }
        applyClockReads(a)
        if stubFS != regs.fsBase {
            a.store(SW_AREA_FS, regs.fsBase)
            a.store(SW_AREA_SET_FS, UInt64(1))
            stubFS = regs.fsBase
        }
        let gs = stubGSBase(for: regs.gsBase, area: a.address)
        // A patched trap resumes with `jmp *%gs:`: through the area's GS
        // only; with another GS it goes back the signal's way. Another GS:
        // the guest's own, set since the trap, or one it had all along when
        // the trap came from the patched entry after a SIGSYS (a call the
        // stub would serve, handed on: a kick, a size it leaves to the
        // sentry), with patching off or the guest's own GS.
        if gs != a.address && trapped && a.load(SW_AREA_PATCHED, as: UInt32.self) != 0 {
            try leavePatchedFrame(r, s)
        }
        if stubGS != gs {
            a.store(SW_AREA_GS, gs)
            a.store(SW_AREA_SET_GS, UInt64(1))
            stubGS = gs
        }
        let shortRuns = runTime < Spinners.maxRunBudget
        let pinned = placement.place(stub: r.pid, area: a, shortRuns: shortRuns, guestAffinity: guestAffinity.load(ordering: .relaxed))
        let start = Deadline.now()
        // A stub held to this thread's CPU runs only once this thread sleeps.
        let spin = shortRuns && !pinned ? min(Spinners.maxRunBudget, 2 * runTime + 5_000) : 0
        // A host rseq registration rides on this RUN (SystrapAddressSpace.loadRunCalls).
        let carried = s.loadRunCalls(r)
        sw_atomic_store32(a.base + Int(SW_AREA_RUN_TAKEN), 0)
        a.post(UInt32(SW_STATE_RUN))
        let next = a.wait(whileState: UInt32(SW_STATE_RUN), pidfd: r.pidfd, spin: spin, untilTaken: true) {
            // A long run: the host may move the stub to balance its CPUs.
            self.placement.release(stub: r.pid, area: a, guestAffinity: self.guestAffinity.load(ordering: .relaxed))
        }
        return try readTrap(next, r, s, carried: carried, start: start, &regs)
    }

    /// The trap a run (`next`: the state after it) ended with, read into `regs`.
    private func readTrap(_ next: UInt32?, _ r: SystrapAddressSpace.Runner, _ s: SystrapAddressSpace,
                         carried: SystrapAddressSpace.RunCarried?, start: Int64, _ regs: inout Registers) throws(PlatformError) -> Trap {
        let a = r.area
        guard next == UInt32(SW_STATE_TRAP) else {
            throw .stubDied("systrap stub \(r.pid) died or misbehaved")
        }
        try s.settleRunCalls(r, carried: carried)
        runTime = (runTime * 7 + min(Deadline.now() - start, 1_000_000)) / 8
        let sig = a.load(SW_AREA_SIGNAL, as: Int32.self)
        guard let frame = a.pointer(a.load(SW_AREA_UC, as: UInt64.self), length: UInt64(UContext.size)) else {
            throw .stubDied("systrap stub \(r.pid) reported a frame outside its area")
        }
        trapped = true
        firstRunFPU = nil
        SigContext.readGeneral(frame + UContext.mcontext, into: &regs.raw)
        if Self.userFSGSBase { readBases(a, &regs) }
        SyscallABI.leaveSyscall(&regs.raw)
        let code = Int32(truncatingIfNeeded: a.load(SW_AREA_CODE, as: Int64.self))
        patchedTrap = a.load(SW_AREA_PATCHED, as: UInt32.self) != 0
        signalSyscall = false
        // The stub filter's trap of the host's vsyscall emulation (si_call_addr
        // in the page): the host has already emulated a ret; back to the call.
        let callAddress = a.load(SW_AREA_ADDR, as: UInt64.self)
        if !patchedTrap && sig == SIGSYS && code == 1 /* SYS_SECCOMP */ && VsyscallPage.contains(callAddress) {
            regs.ip = callAddress
            regs.sp = regs.sp &- 8
            return .vsyscall
        }
        if sig == SIGSYS && (code == 2 /* SYS_USER_DISPATCH */ || code == 1 /* SYS_SECCOMP */) {
            signalSyscall = !patchedTrap
            SyscallABI.enterSyscall(&regs.raw)
            return .syscall
        }
        if code > 0, Signal(sig).isSynchronousFault {
            // A page fault's error code (sigcontext err, trapno 14): bit 1 a
            // write, bit 4 an instruction fetch, else a read.
            var access: Prot?
            let sc = frame + UContext.mcontext
            if sig == SIGSEGV && sc.loadUnaligned(fromByteOffset: SigContext.trapno, as: UInt64.self) == SigContext.trapPageFault {
                let err = sc.loadUnaligned(fromByteOffset: SigContext.err, as: UInt64.self)
                access = err & SigContext.faultInstruction != 0 ? .exec : err & SigContext.faultWrite != 0 ? .write : .read
            }
            return .fault(Signal(sig), address: GuestAddress(a.load(SW_AREA_ADDR, as: UInt64.self)), code: code, access: access)
        }
        return .interrupted
    }

    // MARK: - Resumed by another thread (Kernel/ReadHandoff.swift)

    /// Read by the claiming thread while the task's thread sleeps (the
    /// claim's compare-and-swap and the outcome's store order it); nothing
    /// here changes until the task's thread runs again.
    func canResumeFromAnotherThread(_ anySpace: AddressSpace, regs: Registers) -> Bool {
        guard trapped, let s = space, anySpace === s, let r = runner else { return false }
        let a = r.area
        // What switchTo would do besides writing the registers: set a base,
        // leave a patched frame, carry a call on the RUN, stop a step.
        guard stubFS == regs.fsBase, stubGS == stubGSBase(for: regs.gsBase, area: a.address),
              stubGS == a.address || a.load(SW_AREA_PATCHED, as: UInt32.self) == 0,
              regs.raw.eflags & Self.trapFlag == 0, !s.hasRunCalls(r),
              a.pointer(a.load(SW_AREA_UC, as: UInt64.self), length: UInt64(UContext.size)) != nil else { return false }
        return true
    }

    /// The registers into the trap's frame and RUN, as switchTo, with no
    /// spin. The task's thread's sleep is moved onto the state word before
    /// the RUN, whose wake-up is for the stub's side only (a bitset the
    /// sentry's sleep lacks); the area says the sentry sleeps, so the trap
    /// wakes it.
    ///
    /// A stub held to another CPU than the claimer's is moved to the
    /// claimer's, which is about to sleep (its own read of the reply, in a
    /// round trip), as a sync wake-up places the wakee; `moveSleep` is told
    /// the CPU, to pull the task's thread there too, since the stub's trap
    /// wakes it. Left where they were, each resume of a partner in a round
    /// trip woke the other vCPU from idle, 50-90 µs on this VM.
    func resumeFromAnotherThread(_ regs: Registers, moveSleep: (_ word: UnsafeMutablePointer<UInt32>, _ movedTo: Int32?) -> Void) -> Bool {
        guard let r = runner else { return false }
        let a = r.area
        guard let uc = a.pointer(a.load(SW_AREA_UC, as: UInt64.self), length: UInt64(UContext.size)) else { return false }
        SigContext.writeGeneralChanges(regs.raw, to: uc + UContext.mcontext)
        applyClockReads(a)
        var movedTo: Int32?
        if !guestAffinity.load(ordering: .relaxed), let held = placement.heldTo {
            let here = Int32(truncatingIfNeeded: sw_current_cpu())
            if here != held, here >= 0, here < 64, sw_set_affinity(r.pid, 1 << UInt64(here), 0) == 0 {
                placement.moved(to: here)
                movedTo = here
            }
        }
        resumedAt.store(Deadline.now(), ordering: .relaxed)
        sw_atomic_store32(a.base + Int(SW_AREA_RUN_TAKEN), 0)
        sw_atomic_store32(a.base + Int(SW_AREA_SENTRY_WAITING), 1)
        moveSleep(a.stateWord, movedTo)
        a.state = UInt32(SW_STATE_RUN)
        if sw_atomic_load32(a.base + Int(SW_AREA_STUB_WAITING)) != 0 { _ = sw_futex_wake_stub(a.stateWord) }
        return true
    }

    func awaitRunFromAnotherThread(_ anySpace: AddressSpace, _ regs: inout Registers) throws(PlatformError) -> Trap {
        guard let s = space, anySpace === s, let r = runner else { return try switchTo(anySpace, &regs) }
        let a = r.area
        let next = a.wait(whileState: UInt32(SW_STATE_RUN), pidfd: r.pidfd, spin: 0, untilTaken: true) {
            self.placement.release(stub: r.pid, area: a, guestAffinity: self.guestAffinity.load(ordering: .relaxed))
        }
        return try readTrap(next, r, s, carried: nil, start: resumedAt.load(ordering: .relaxed), &regs)
    }

    /// The GS base the stub runs the guest with: the guest's own, except
    /// that while it is 0 (a guest that never set one, nearly every program)
    /// and sites are patched it is the stub's area, which the trampolines
    /// find through %gs (a per-thread pointer; see README, "Syscall
    /// patching"). The sentry's view, `regs.gsBase`, stays the guest's.
    private func stubGSBase(for guest: UInt64, area: UInt64) -> UInt64 {
        patchEntry != nil && guest == 0 ? area : guest
    }

    /// The bases the stub read at the trap: one that differs from what the
    /// stub was given is the guest's own WRFSBASE/WRGSBASE, now its task's
    /// base (arch_prctl(ARCH_GET_*), signals, fork, checkpoints).
    private func readBases(_ a: SystrapArea, _ regs: inout Registers) {
        guard let fs = stubFS, let gs = stubGS else { return }
        let fsNow = a.load(SW_AREA_FS_NOW, as: UInt64.self), gsNow = a.load(SW_AREA_GS_NOW, as: UInt64.self)
        if fsNow != fs { regs.fsBase = fsNow; stubFS = fsNow }
        if gsNow != gs { regs.gsBase = gsNow; stubGS = gsNow }
    }

    /// Turns a patched trap's frame (PFRAME, resumed with the area's GS)
    /// into one the stub resumes with rt_sigreturn as after a signal: the
    /// FPU state saved into the area with its signal-frame markers, the
    /// alternate stack and segments of the stub's own frames.
    private func leavePatchedFrame(_ r: SystrapAddressSpace.Runner, _ s: SystrapAddressSpace) throws(PlatformError) {
        let a = r.area
        let (fp, size) = try patchedFPUImage(r)
        guard size + XSave.magic2Size <= Int(SW_AREA_XBUF_SIZE) else {
            throw .host("no room for the FPU state's end marker", .EINVAL)
        }
        fp.storeBytes(of: XSave.FP_XSTATE_MAGIC2, toByteOffset: size, as: UInt32.self)
        let uc = a.base + Int(SW_AREA_PFRAME)
        uc.storeBytes(of: UInt64(0), toByteOffset: UContext.flags, as: UInt64.self)
        uc.storeBytes(of: UInt64(0), toByteOffset: UContext.link, as: UInt64.self)
        uc.storeBytes(of: a.address + UInt64(SW_AREA_STACK), toByteOffset: UContext.stackSP, as: UInt64.self)
        uc.storeBytes(of: UInt64(0), toByteOffset: UContext.stackFlags, as: UInt64.self)
        uc.storeBytes(of: SystrapArea.size - UInt64(SW_AREA_STACK), toByteOffset: UContext.stackSize, as: UInt64.self)
        uc.storeBytes(of: UInt64(0), toByteOffset: UContext.sigmask, as: UInt64.self)
        let sc = uc + UContext.mcontext
        sc.storeBytes(of: UInt16(truncatingIfNeeded: s.initialRegisters.raw.cs), toByteOffset: SigContext.cs, as: UInt16.self)
        sc.storeBytes(of: UInt16(0), toByteOffset: SigContext.gs, as: UInt16.self)
        sc.storeBytes(of: UInt16(0), toByteOffset: SigContext.fs, as: UInt16.self)
        sc.storeBytes(of: UInt16(truncatingIfNeeded: s.initialRegisters.raw.ss), toByteOffset: SigContext.ss, as: UInt16.self)
        sc.storeBytes(of: a.address + UInt64(SW_AREA_XBUF), toByteOffset: SigContext.fpstate, as: UInt64.self)
        a.store(SW_AREA_UC, a.address + UInt64(SW_AREA_PFRAME))
        a.store(SW_AREA_PATCHED, UInt32(0))
        a.store(SW_AREA_FP_SAVED, UInt32(0))
        // An `after` site's rip now comes back by rt_sigreturn: its int3 sends it to the replay.
        a.store(SW_AREA_AFTER_RIP, UInt64(0))
    }

    /// Tells the stub, which spins a few µs for the answer to the trap it
    /// reported, that the answer waits for another task (SENTRY_WAITING =
    /// BLOCKED): it sleeps on its futex at once, and the sentry's RUN wakes
    /// it. Only for the stub this task runs in and has a trap frame of (an
    /// exec's old stub may be back in the pool, another task's).
    func sentryBlocked(_ blocked: Bool, in anySpace: AddressSpace?) {
        guard trapped, let space, anySpace === space, let a = runner?.area else { return }
        sw_atomic_store32(a.base + Int(SW_AREA_SENTRY_WAITING), blocked ? UInt32(SW_SENTRY_BLOCKED) : 0)
    }

    func guestAffinitySet() { guestAffinity.store(true, ordering: .relaxed) }

    func kick() {
        let p = kickPID.load(ordering: .relaxed)
        if p > 0 { kill(p, KickSignal.signal) }
    }

    /// The XSAVE image the kernel saved in the stub's trap frame.
    private func fpuImage() throws(PlatformError) -> (UnsafeMutableRawPointer, Int) {
        guard trapped, let r = runner else { throw .host("no saved FPU state before the first run", .EINVAL) }
        let a = r.area
        if a.load(SW_AREA_PATCHED, as: UInt32.self) != 0 { return try patchedFPUImage(r) }
        guard let uc = a.pointer(a.load(SW_AREA_UC, as: UInt64.self), length: UInt64(UContext.size)) else { throw .stubDied("bad frame") }
        let fp = uc.loadUnaligned(fromByteOffset: UContext.mcontext + SigContext.fpstate, as: UInt64.self)
        guard let head = a.pointer(fp, length: UInt64(XSave.legacySize)) else { throw .host("no FPU state in the frame", .EINVAL) }
        let size = XSave.imageSize(head)
        guard size >= XSave.legacySize, let p = a.pointer(fp, length: UInt64(size)) else { throw .host("FPU state beyond the area", .EINVAL) }
        return (p, size)
    }

    func fpuState(_ space: AddressSpace) throws(PlatformError) -> [UInt8] {
        if !trapped, let image = firstRunFPU { return image }
        let (p, n) = try fpuImage()
        return Array(UnsafeRawBufferPointer(start: p, count: n))
    }

    func setFPUState(_ space: AddressSpace, _ image: [UInt8]) throws(PlatformError) {
        if !trapped {
            firstRunFPU = image
            return
        }
        let (p, n) = try fpuImage()
        image.withUnsafeBytes { memcpy(p, $0.baseAddress!, min(n, $0.count)) }
        // The stub's own XRSTOR (a patched trap) has no kernel checking the
        // image as rt_sigreturn does: only what this CPU can load.
        if runner?.area.load(SW_AREA_PATCHED, as: UInt32.self) != 0 { sw_xsave_sanitize(p, n) }
    }

    /// The first run's FPU image in the area's XSAVE buffer, named by the
    /// fresh frame's fpstate: rt_sigreturn loads it as it loads any signal
    /// frame's (its fx_sw_bytes and FP_XSTATE_MAGIC2 say it holds extended
    /// state). One too large for the buffer goes in as its legacy part
    /// (x87 and SSE: the control words a program sets), the rest initial.
    private func placeFirstRunFPU(_ image: [UInt8], frame uc: UnsafeMutableRawPointer, area a: SystrapArea) {
        guard image.count >= XSave.legacySize else { return }
        var img = image
        if img.count + XSave.magic2Size <= Int(SW_AREA_XBUF_SIZE), img.count >= XSave.legacySize + XSave.headerSize {
            XSave.markExtended(&img)
            img = XSave.withMagic2(img)
        } else {
            img = Array(img.prefix(XSave.legacySize))
            img.withUnsafeMutableBytes { $0.storeBytes(of: UInt32(0), toByteOffset: XSave.magic1Offset, as: UInt32.self) }
        }
        let buf = a.base + Int(SW_AREA_XBUF)
        img.withUnsafeBytes { _ = memcpy(buf, $0.baseAddress!, $0.count) }
        uc.storeBytes(of: a.address + UInt64(SW_AREA_XBUF), toByteOffset: UContext.mcontext + SigContext.fpstate, as: UInt64.self)
    }

    /// A patched trap's FPU state is still in the stub's registers: the
    /// stub saves it into the area on request (once per trap), and loads it
    /// back before resuming.
    private func patchedFPUImage(_ r: SystrapAddressSpace.Runner) throws(PlatformError) -> (UnsafeMutableRawPointer, Int) {
        let a = r.area
        let size = Self.xsaveSize
        let p = a.base + Int(SW_AREA_XBUF)
        if a.load(SW_AREA_FP_SAVED, as: UInt32.self) == 0 {
            a.post(UInt32(SW_STATE_FPSAVE))
            guard a.wait(whileState: UInt32(SW_STATE_FPSAVE), pidfd: r.pidfd) == UInt32(SW_STATE_DONE),
                  a.load(SW_AREA_FP_SAVED, as: UInt32.self) != 0 else {
                throw .stubDied("systrap stub \(r.pid) died saving the FPU state")
            }
            // fx_sw_bytes, as the kernel writes them into a signal frame.
            let bv = p.loadUnaligned(fromByteOffset: XSave.headerOffset, as: UInt64.self)
            p.storeBytes(of: XSave.FP_XSTATE_MAGIC1, toByteOffset: XSave.magic1Offset, as: UInt32.self)
            p.storeBytes(of: UInt32(size + XSave.magic2Size), toByteOffset: XSave.extendedSizeOffset, as: UInt32.self)
            p.storeBytes(of: bv | XSave.legacyFeatures, toByteOffset: XSave.xfeaturesOffset, as: UInt64.self)
            p.storeBytes(of: UInt32(size), toByteOffset: XSave.xstateSizeOffset, as: UInt32.self)
        }
        return (p, size)
    }

    /// The host's XSAVE image size; patching needs it to fit the area's buffer.
    static let xsaveSize = Int(sw_xsave_size())
    static var xsaveFits: Bool { xsaveSize >= XSave.legacySize + XSave.headerSize && xsaveSize <= Int(SW_AREA_XBUF_SIZE) }
}
