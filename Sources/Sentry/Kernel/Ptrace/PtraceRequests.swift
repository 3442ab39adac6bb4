import CSwitch
import Glibc
import Synchronization

/// ptrace(2)'s requests on a stopped tracee (kernel/ptrace.c ptrace_request,
/// arch/x86/kernel/ptrace.c arch_ptrace): memory, registers (with
/// putreg's checks), FPU state, siginfo, options and resumes.
extension Task {
    /// sys_ptrace for every request but TRACEME. `addr` and `data` are the raw words.
    public func ptraceRequest(_ request: Int64, pid: Int32, addr: UInt64, data: UInt64) throws(Errno) -> Int64 {
        typealias P = PtraceABI
        if request == P.PTRACE_TRACEME { try ptraceTraceMe(); return 0 }
        guard pid > 0, let target = kernel.task(pid) else { throw .ESRCH }
        if request == P.PTRACE_ATTACH || request == P.PTRACE_SEIZE {
            var options: UInt32 = 0
            if request == P.PTRACE_SEIZE {
                guard addr == 0, data & ~UInt64(P.PTRACE_O_MASK) == 0 else { throw .EIO }
                options = UInt32(data)
                if options & P.PTRACE_O_SUSPEND_SECCOMP != 0 { try mayUseSuspendSeccomp() }
            }
            try ptraceAttach(target, seize: request == P.PTRACE_SEIZE, options: options)
            return 0
        }
        // ptrace_check_attach: traced by this thread, and (but for KILL and
        // INTERRUPT) in a ptrace stop.
        let link: PtraceLink = try kernel.locked { () throws(Errno) -> PtraceLink in
            guard let link = target.ptrace, link.tracer === self, link.exitReport == nil else { throw .ESRCH }
            if request != P.PTRACE_KILL && request != P.PTRACE_INTERRUPT {
                guard link.stop != nil, link.resume == nil else { throw .ESRCH }
            }
            return link
        }
        switch request {
        case P.PTRACE_PEEKTEXT, P.PTRACE_PEEKDATA:
            // ptrace_access_vm: a short read is EIO; the word goes to *data.
            guard let word = try? target.mm.read(GuestAddress(addr), as: UInt64.self) else { throw .EIO }
            try mm.write(GuestAddress(data), word)
            return 0
        case P.PTRACE_POKETEXT, P.PTRACE_POKEDATA:
            // On the tracee's own thread: a write may break copy-on-write, which
            // changes its mirror; FOLL_FORCE: text the guest cannot write takes a
            // breakpoint all the same.
            guard forceWriteStopped(target, GuestAddress(addr), withUnsafeBytes(of: data) { Array($0) }) else { throw .EIO }
            return 0
        case P.PTRACE_PEEKUSR:
            guard addr & 7 == 0, addr < UInt64(P.userSize) else { throw .EIO }
            try mm.write(GuestAddress(data), peekUser(target, link, Int(addr)))
            return 0
        case P.PTRACE_POKEUSR:
            guard addr & 7 == 0, addr < UInt64(P.userSize) else { throw .EIO }
            try pokeUser(target, link, Int(addr), data)
            return 0
        case P.PTRACE_GETREGS:
            try mm.copyOut(GuestAddress(data), Self.userRegs(target))
            return 0
        case P.PTRACE_SETREGS:
            let bytes = try mm.copyIn(GuestAddress(data), P.userRegsSize)
            try Self.setUserRegs(target, bytes)
            return 0
        case P.PTRACE_GETFPREGS:
            try mm.copyOut(GuestAddress(data), XSave.legacyForPtrace(try fpuImage(link)))
            return 0
        case P.PTRACE_SETFPREGS:
            let bytes = try mm.copyIn(GuestAddress(data), XSave.legacySize)
            try setLegacyFPU(link, bytes)
            return 0
        case P.PTRACE_GETREGSET, P.PTRACE_SETREGSET:
            return try regset(target, link, note: addr, iovec: GuestAddress(data), set: request == P.PTRACE_SETREGSET)
        case P.PTRACE_GETSIGINFO:
            guard let info = kernel.locked({ link.siginfo }) else { throw .EINVAL }
            try mm.copyOut(GuestAddress(data), info.bytes)
            return 0
        case P.PTRACE_SETSIGINFO:
            let bytes = try mm.copyIn(GuestAddress(data), 128)
            try kernel.locked { () throws(Errno) in
                guard link.siginfo != nil else { throw .EINVAL }
                link.siginfo = SignalInfo(bytes: bytes)
            }
            return 0
        case P.PTRACE_PEEKSIGINFO:
            return try peekSiginfo(target, args: GuestAddress(addr), to: GuestAddress(data))
        case P.PTRACE_GETSIGMASK:
            guard addr == 8 else { throw .EINVAL }
            try mm.write(GuestAddress(data), kernel.locked { target.signalMask })
            return 0
        case P.PTRACE_SETSIGMASK:
            guard addr == 8 else { throw .EINVAL }
            let mask = try mm.read(GuestAddress(data), as: UInt64.self)
            kernel.locked { target.signalMask = mask & ~SignalSets.unblockable }
            return 0
        case P.PTRACE_GETEVENTMSG:
            try mm.write(GuestAddress(data), kernel.locked { link.eventMessage })
            return 0
        case P.PTRACE_SETOPTIONS:
            guard data & ~UInt64(P.PTRACE_O_MASK) == 0 else { throw .EINVAL }
            if UInt32(data) & P.PTRACE_O_SUSPEND_SECCOMP != 0 { try mayUseSuspendSeccomp() }
            kernel.locked { link.options = UInt32(data) }
            return 0
        case P.PTRACE_GET_SYSCALL_INFO:
            let (info, size) = syscallInfo(target, link)
            let n = Int(min(addr, UInt64(size)))
            if n > 0 { try mm.copyOut(GuestAddress(data), Array(info.prefix(n))) }
            return Int64(size)
        case P.PTRACE_GET_SYSCALL_USER_DISPATCH_CONFIG:
            guard addr == UInt64(SyscallUserDispatch.Config.size) else { throw .EINVAL }
            let c = target.syscallUserDispatchConfig
            var b = [UInt8](repeating: 0, count: SyscallUserDispatch.Config.size)
            // struct ptrace_sud_config { mode, selector, offset, len }.
            b.store(c.mode, at: 0); b.store(c.selector, at: 8); b.store(c.offset, at: 16); b.store(c.length, at: 24)
            try mm.copyOut(GuestAddress(data), b)
            return 0
        case P.PTRACE_SET_SYSCALL_USER_DISPATCH_CONFIG:
            guard addr == UInt64(SyscallUserDispatch.Config.size) else { throw .EINVAL }
            let b = try mm.copyIn(GuestAddress(data), SyscallUserDispatch.Config.size)
            func word(_ at: Int) -> UInt64 { b.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: at, as: UInt64.self) } }
            try target.setSyscallUserDispatch(.init(mode: word(0), offset: word(16), length: word(24), selector: word(8)))
            return 0
        case P.PTRACE_CONT, P.PTRACE_SYSCALL, P.PTRACE_SYSEMU:
            guard data <= 64 else { throw .EIO }   // valid_signal
            let mode: PtraceLink.SyscallMode = request == P.PTRACE_SYSCALL ? .trace : request == P.PTRACE_SYSEMU ? .emulate : .none
            kernel.locked {
                link.syscallMode = mode
                // user_disable_single_step: a trap flag the tracer set goes.
                if link.forcedTrapFlag { target.regs.raw.eflags &= ~P.trapFlag; link.forcedTrapFlag = false }
                link.stepping = false
                link.resume = PtraceLink.Resume(kind: .cont, signal: Int32(data))
                target.unparkLocked()
            }
            return 0
        case P.PTRACE_SINGLESTEP:
            // user_enable_single_step: the trap flag in the guest's rflags; the
            // CPU's debug trap after one instruction comes back as a SIGTRAP fault.
            guard data <= 64 else { throw .EIO }
            kernel.locked {
                link.syscallMode = .none
                if target.regs.raw.eflags & P.trapFlag == 0 {
                    target.regs.raw.eflags |= P.trapFlag
                    link.forcedTrapFlag = true
                }
                link.stepping = true
                link.resume = PtraceLink.Resume(kind: .singlestep, signal: Int32(data))
                target.unparkLocked()
            }
            return 0
        case P.PTRACE_SYSEMU_SINGLESTEP:
            // Not done (README: known gaps).
            throw .EIO
        case P.PTRACE_KILL:
            kernel.locked { kernel.killGroupLocked(target.group, .signaled(.SIGKILL, coreDumped: false)) }
            return 0
        case P.PTRACE_DETACH:
            guard data <= 64 else { throw .EIO }
            kernel.locked {
                link.resume = PtraceLink.Resume(kind: .detach, signal: Int32(data))
                link.syscallMode = .none
                if link.forcedTrapFlag { target.regs.raw.eflags &= ~P.trapFlag; link.forcedTrapFlag = false }
                target.unlinkTracerLocked()
                // A task of a stopped process goes back to the group-stop (untraced, it waits there).
                target.groupStopPending = false
            }
            return 0
        case P.PTRACE_INTERRUPT:
            guard link.seized else { throw .EIO }
            kernel.locked {
                link.trapStopPending = true
                target.interruptLocked()
            }
            return 0
        case P.PTRACE_LISTEN:
            try kernel.locked { () throws(Errno) in
                guard link.seized, let si = link.siginfo, si.code >> 8 == P.PTRACE_EVENT_STOP else { throw .EIO }
                link.listening = true
                target.waker.wake()
            }
            return 0
        default:
            throw .EIO
        }
    }

    /// FOLL_FORCE's write by the tracer of `t`, stopped: what `t` cannot
    /// write but could (a breakpoint in text) is written on its own thread,
    /// which alone may change its mirror. False for any other writer.
    func forceWriteStopped(_ t: Task, _ addr: GuestAddress, _ bytes: [UInt8]) -> Bool {
        guard let link = kernel.locked({ t.ptrace }), link.tracer === self else { return false }
        let ok = Mutex(false)
        return onStoppedTracee(t, link) { tracee in ok.withLock { $0 = (try? tracee.mm.forceWrite(addr, bytes)) != nil } }
            && ok.withLock { $0 }
    }

    /// PTRACE_O_SUSPEND_SECCOMP: CAP_SYS_ADMIN, and a tracer not itself under seccomp.
    private func mayUseSuspendSeccomp() throws(Errno) {
        let (cap, mode) = attributes.withLock { ($0.credentials.capable(Credentials.CAP_SYS_ADMIN), $0.seccomp.mode) }
        guard cap, mode == Seccomp.SECCOMP_MODE_DISABLED else { throw .EPERM }
    }

    // MARK: - struct user and user_regs_struct

    /// getreg for the word at `offset` of user_regs_struct: segment
    /// selectors read as 16 bits, everything else as stored.
    static func getReg(_ r: Registers, _ offset: Int, forcedTF: Bool = false) -> UInt64 {
        var raw = r.raw
        let v = withUnsafeBytes(of: &raw) { $0.loadUnaligned(fromByteOffset: offset, as: UInt64.self) }
        // get_flags: a trap flag the tracer's step set is not shown.
        if offset == UserRegs.eflags && forcedTF { return v & ~PtraceABI.trapFlag }
        return UserRegs.segments.contains(offset) ? v & 0xffff : v
    }

    /// putreg: arch/x86/kernel/ptrace.c's checks for the word at `offset`.
    static func putReg(_ r: inout Registers, _ offset: Int, _ value: UInt64, forcedTF: inout Bool) throws(Errno) {
        var v = value
        if UserRegs.segments.contains(offset) {
            v &= 0xffff
            // invalid_selector: not null and not RPL 3.
            if v != 0 && v & 3 != 3 { throw .EIO }
            if offset == UserRegs.cs || offset == UserRegs.ss {
                if v == 0 { throw .EIO }
                // The sentry runs 64-bit code only: the code and stack segments stay.
                if v != getReg(r, offset) { throw .EIO }
            }
        } else if offset == UserRegs.eflags {
            // set_flags: a TF in the value is the tracee's own; without one, a forced TF stays.
            var w = value
            if w & PtraceABI.trapFlag != 0 { forcedTF = false } else if forcedTF { w |= PtraceABI.trapFlag }
            v = (r.raw.eflags & ~PtraceABI.flagMask) | (w & PtraceABI.flagMask)
        } else if offset == UserRegs.fsBase || offset == UserRegs.gsBase {
            if value >= PtraceABI.taskSizeMax { throw .EIO }
        }
        var raw = r.raw
        withUnsafeMutableBytes(of: &raw) { $0.storeBytes(of: v, toByteOffset: offset, as: UInt64.self) }
        r.raw = raw
    }

    static func userRegs(_ t: Task) -> [UInt8] {
        let forced = t.kernel.locked { t.ptrace?.forcedTrapFlag ?? false }
        var b = [UInt8](repeating: 0, count: PtraceABI.userRegsSize)
        for i in 0..<27 { b.store(getReg(t.regs, i * 8, forcedTF: forced), at: i * 8) }
        return b
    }

    /// genregs_set: word by word from `bytes` (from offset 0), stopping at
    /// the first refused one (those before it stay written).
    static func setUserRegs(_ t: Task, _ bytes: [UInt8]) throws(Errno) {
        var r = t.regs
        var forced = t.kernel.locked { t.ptrace?.forcedTrapFlag ?? false }
        defer {
            t.regs = r
            t.kernel.locked { t.ptrace?.forcedTrapFlag = forced }
        }
        for i in 0..<(bytes.count / 8) {
            let w = bytes.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: i * 8, as: UInt64.self) }
            try putReg(&r, i * 8, w, forcedTF: &forced)
        }
    }

    private func peekUser(_ t: Task, _ link: PtraceLink, _ offset: Int) -> UInt64 {
        if offset < PtraceABI.userRegsSize { return Self.getReg(t.regs, offset, forcedTF: kernel.locked { link.forcedTrapFlag }) }
        let dr = offset - PtraceABI.userDebugRegs
        if dr >= 0 && dr < 64 { return kernel.locked { link.debugRegisters[dr / 8] } }
        return 0
    }

    /// POKEUSR: registers by putreg; the debug registers keep addresses
    /// (dr0-dr3 below TASK_SIZE_MAX) and dr6, but no breakpoint can be
    /// enabled (dr7 other than 0: no platform here gives the sentry hardware
    /// breakpoints in guest code); other offsets of struct user are EIO.
    private func pokeUser(_ t: Task, _ link: PtraceLink, _ offset: Int, _ value: UInt64) throws(Errno) {
        if offset < PtraceABI.userRegsSize {
            var forced = kernel.locked { link.forcedTrapFlag }
            try Self.putReg(&t.regs, offset, value, forcedTF: &forced)
            kernel.locked { link.forcedTrapFlag = forced }
            return
        }
        let dr = offset - PtraceABI.userDebugRegs
        guard dr >= 0 && dr < 64 else { throw .EIO }
        let n = dr / 8
        switch n {
        case 0...3: guard value < PtraceABI.taskSizeMax else { throw .EIO }
        case 6: break
        case 7: guard value == 0 else { throw .EIO }
        default: throw .EIO   // dr4 and dr5 do not exist
        }
        kernel.locked { link.debugRegisters[n] = value }
    }

    // MARK: - FPU state

    private func fpuImage(_ link: PtraceLink) throws(Errno) -> [UInt8] {
        guard var image = kernel.locked({ link.fpu }), image.count >= XSave.legacySize else { throw .EIO }
        XSave.markExtended(&image)
        return image
    }

    /// MXCSR bits the CPU takes (the image's mxcsr_mask; 0xffbf when it says 0).
    private static func mxcsrValid(_ legacy: [UInt8], against image: [UInt8]) -> Bool {
        let mxcsr = legacy.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: 24, as: UInt32.self) }
        var mask = image.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: 28, as: UInt32.self) }
        if mask == 0 { mask = 0xffbf }
        return mxcsr & ~mask == 0
    }

    /// SETFPREGS / NT_PRFPREG: the legacy area replaced, x87 and SSE marked present.
    private func setLegacyFPU(_ link: PtraceLink, _ bytes: [UInt8]) throws(Errno) {
        var image = try fpuImage(link)
        guard Self.mxcsrValid(bytes, against: image) else { throw .EINVAL }
        // The software-reserved tail stays the kernel's.
        for i in 0..<XSave.swBytes { image[i] = bytes[i] }
        if image.count >= XSave.headerOffset + 8 {
            let bv = image.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: XSave.headerOffset, as: UInt64.self) }
            image.store(bv | XSave.legacyFeatures, at: XSave.headerOffset)
        }
        kernel.locked { link.fpu = image; link.fpuChanged = true }
    }

    /// NT_X86_XSTATE set: a whole image, its header checked as
    /// validate_user_xstate_header (known features, reserved bytes zero).
    private func setXState(_ link: PtraceLink, _ bytes: [UInt8]) throws(Errno) {
        let image = try fpuImage(link)
        guard bytes.count == image.count else { throw .EFAULT }
        guard Self.mxcsrValid(bytes, against: image) else { throw .EINVAL }
        // Any component the host enabled may be set, in use yet or not.
        let supported = XSave.userFeatures
        let bv = bytes.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: XSave.headerOffset, as: UInt64.self) }
        guard bv & ~supported == 0 else { throw .EINVAL }
        guard bytes[(XSave.headerOffset + 16)..<(XSave.headerOffset + XSave.headerSize)].allSatisfy({ $0 == 0 }) else { throw .EINVAL }
        var out = bytes
        for i in XSave.swBytes..<XSave.legacySize { out[i] = image[i] }
        kernel.locked { link.fpu = out; link.fpuChanged = true }
    }

    /// ptrace_regset: NT_PRSTATUS, NT_PRFPREG, NT_X86_XSTATE through a struct iovec.
    private func regset(_ t: Task, _ link: PtraceLink, note: UInt64, iovec: GuestAddress, set: Bool) throws(Errno) -> Int64 {
        let iov = try mm.read(iovec, as: (UInt64, UInt64).self)
        let full: Int
        switch note {
        case PtraceABI.NT_PRSTATUS: full = PtraceABI.userRegsSize
        case PtraceABI.NT_PRFPREG: full = XSave.legacySize
        case PtraceABI.NT_X86_XSTATE: full = try fpuImage(link).count
        default: throw .EINVAL
        }
        // Every x86-64 regset is counted in 8-byte units.
        guard iov.1 % 8 == 0 else { throw .EINVAL }
        let len = Int(min(iov.1, UInt64(full)))
        if set {
            let bytes = try mm.copyIn(GuestAddress(iov.0), len)
            switch note {
            case PtraceABI.NT_PRSTATUS: try Self.setUserRegs(t, bytes)
            case PtraceABI.NT_PRFPREG:
                guard len == full else { throw .EINVAL }
                try setLegacyFPU(link, bytes)
            default: try setXState(link, bytes)
            }
        } else {
            let bytes: [UInt8] = switch note {
            case PtraceABI.NT_PRSTATUS: Self.userRegs(t)
            case PtraceABI.NT_PRFPREG: XSave.legacyForPtrace(try fpuImage(link))
            default: XSave.forPtrace(try fpuImage(link))
            }
            try mm.copyOut(GuestAddress(iov.0), Array(bytes.prefix(len)))
        }
        try mm.write(iovec + 8, UInt64(len))
        return 0
    }

    // MARK: - siginfo and syscall info

    /// PTRACE_PEEKSIGINFO: up to nr queued siginfos from offset off, of the
    /// thread's own queue or (PTRACE_PEEKSIGINFO_SHARED) the process's.
    private func peekSiginfo(_ t: Task, args: GuestAddress, to: GuestAddress) throws(Errno) -> Int64 {
        let a = try mm.read(args, as: (UInt64, UInt32, Int32).self)
        guard a.1 & ~PtraceABI.PTRACE_PEEKSIGINFO_SHARED == 0, a.2 >= 0 else { throw .EINVAL }
        let queue = kernel.locked { a.1 != 0 ? t.group.sharedPending.all : t.pending.all }
        guard a.0 < UInt64(queue.count) else { return 0 }
        var copied: Int64 = 0
        for info in queue.dropFirst(Int(a.0)).prefix(Int(a.2)) {
            let (dest, over) = to.rawValue.addingReportingOverflow(UInt64(copied) * 128)
            if over { break }
            do { try mm.copyOut(GuestAddress(dest), info.bytes) } catch { if copied == 0 { throw error }; break }
            copied += 1
        }
        return copied
    }

    /// struct ptrace_syscall_info for the current stop, and its size for the op.
    private func syscallInfo(_ t: Task, _ link: PtraceLink) -> ([UInt8], Int) {
        typealias P = PtraceABI
        let (code, message) = kernel.locked { (link.siginfo?.code ?? 0, link.eventMessage) }
        var b = [UInt8](repeating: 0, count: 88)
        let r = t.regs.raw
        b.store(SeccompData.AUDIT_ARCH_X86_64, at: 4)
        b.store(r.rip, at: 8); b.store(r.rsp, at: 16)
        func args() { for (i, v) in [r.rdi, r.rsi, r.rdx, r.r10, r.r8, r.r9].enumerated() { b.store(v, at: 32 + i * 8) } }
        let sysgood = Signal.SIGTRAP.rawValue | P.sysgoodBit
        if code == sysgood && message == P.PTRACE_EVENTMSG_SYSCALL_ENTRY {
            b[0] = P.PTRACE_SYSCALL_INFO_ENTRY
            b.store(r.orig_rax, at: 24); args()
            return (b, 80)
        }
        if code == sysgood && message == P.PTRACE_EVENTMSG_SYSCALL_EXIT {
            b[0] = P.PTRACE_SYSCALL_INFO_EXIT
            // syscall_get_error: an rax in the errno range is an error.
            let isError = r.rax >= UInt64(bitPattern: -4095)
            b.store(r.rax, at: 24); b[32] = isError ? 1 : 0
            return (b, 33)
        }
        if code == Signal.SIGTRAP.rawValue | (P.PTRACE_EVENT_SECCOMP << 8) {
            b[0] = P.PTRACE_SYSCALL_INFO_SECCOMP
            b.store(r.orig_rax, at: 24); args()
            b.store(UInt32(truncatingIfNeeded: message), at: 80)
            return (b, 84)
        }
        return (b, 24)
    }
}

/// Offsets in struct user_regs_struct the checks single out.
enum UserRegs {
    static let cs = 17 * 8, eflags = 18 * 8, ss = 20 * 8, fsBase = 21 * 8, gsBase = 22 * 8
    static let ds = 23 * 8, es = 24 * 8, fs = 25 * 8, gs = 26 * 8
    static let segments: Set<Int> = [cs, ss, ds, es, fs, gs]
}
