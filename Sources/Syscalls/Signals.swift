import Glibc
import Sentry

/// Signal dispositions, masks, waiting for and sending signals.
enum Signals {
    static let sigsetSize: UInt64 = 8

    static func rtSigaction(_ t: Task, _ a: SyscallArguments) throws(Errno) -> Int64 {
        guard a[3] == sigsetSize else { throw .EINVAL }
        var new: SignalAction?
        if !a.address(1).isNull {
            let raw = try t.mm.read(a.address(1), as: (UInt64, UInt64, UInt64, UInt64).self)
            var act = SignalAction()
            act.handler = raw.0; act.flags = raw.1; act.restorer = raw.2; act.mask = raw.3
            new = act
        }
        let old = try t.sigaction(a.int32(0), new: new)
        if !a.address(2).isNull { try t.mm.write(a.address(2), (old.handler, old.flags, old.restorer, old.mask)) }
        return 0
    }

    static func rtSigprocmask(_ t: Task, _ a: SyscallArguments) throws(Errno) -> Int64 {
        guard a[3] == sigsetSize else { throw .EINVAL }
        let set = a.address(1).isNull ? nil : try t.mm.read(a.address(1), as: UInt64.self)
        if set != nil && !(0...2).contains(a.int32(0)) { throw .EINVAL }
        let old = try t.sigprocmask(how: a.int32(0), set: set)
        if !a.address(2).isNull { try t.mm.write(a.address(2), old) }
        return 0
    }

    static func rtSigreturn(_ t: Task, _ a: SyscallArguments) throws(Errno) -> SyscallOutcome {
        t.sigreturn()
        return .replacedRegisters
    }

    static func rtSigpending(_ t: Task, _ a: SyscallArguments) throws(Errno) -> Int64 {
        guard a[1] <= sigsetSize else { throw .EINVAL }
        try t.mm.write(a.address(0), t.pendingSignals)
        return 0
    }

    /// rt_sigsuspend: sleeps with a temporary mask until a handler runs.
    static func rtSigsuspend(_ t: Task, _ a: SyscallArguments) throws(Errno) -> Int64 {
        guard a[1] == sigsetSize else { throw .EINVAL }
        let mask = try t.mm.read(a.address(0), as: UInt64.self)
        t.setTemporaryMask(mask)
        do { try t.sleep(until: nil, interruptedBy: .ERESTARTNOHAND) } catch {
            if !t.signalWaiting { t.restoreTemporaryMask() }
            throw error
        }
        return 0
    }

    static func pause(_ t: Task, _ a: SyscallArguments) throws(Errno) -> Int64 {
        try t.sleep(until: nil, interruptedBy: .ERESTARTNOHAND)
        return 0
    }

    static func rtSigtimedwait(_ t: Task, _ a: SyscallArguments) throws(Errno) -> Int64 {
        guard a[3] == sigsetSize else { throw .EINVAL }
        let set = try t.mm.read(a.address(0), as: UInt64.self)
        var deadline: Deadline?
        if !a.address(2).isNull {
            let ts = try Time.readTimespec(t, a.address(2))
            deadline = t.timeout(after: Time.ns(ts))
        }
        let info = try t.sigtimedwait(set, deadline: deadline)
        if !a.address(1).isNull { try t.mm.copyOut(a.address(1), info.bytes) }
        return Int64(info.signo)
    }

    static func sigaltstack(_ t: Task, _ a: SyscallArguments) throws(Errno) -> Int64 {
        var new: (sp: UInt64, flags: Int32, size: UInt64)?
        if !a.address(0).isNull {
            let raw = try t.mm.read(a.address(0), as: (UInt64, Int32, Int32, UInt64).self)
            new = (raw.0, raw.1, raw.3)
        }
        let old = try t.sigaltstack(new)
        if !a.address(1).isNull { try t.mm.write(a.address(1), (old.sp, old.flags, Int32(0), old.size)) }
        return 0
    }

    static func kill(_ t: Task, _ a: SyscallArguments) throws(Errno) -> Int64 {
        try t.kill(pid: a.int32(0), t.senderInfo(a.int32(1), code: SignalInfo.SI_USER))
        return 0
    }

    static func tkill(_ t: Task, _ a: SyscallArguments) throws(Errno) -> Int64 {
        try t.tgkill(tgid: nil, tid: a.int32(0), t.senderInfo(a.int32(1), code: SignalInfo.SI_TKILL))
        return 0
    }

    static func tgkill(_ t: Task, _ a: SyscallArguments) throws(Errno) -> Int64 {
        try t.tgkill(tgid: a.int32(0), tid: a.int32(1), t.senderInfo(a.int32(2), code: SignalInfo.SI_TKILL))
        return 0
    }

    /// rt_sigqueueinfo: the caller's siginfo, but it may not pose as the
    /// kernel or kill(2) when signalling another process.
    static func rtSigqueueinfo(_ t: Task, _ a: SyscallArguments) throws(Errno) -> Int64 {
        let info = try queuedInfo(t, a.int32(1), a.address(2), target: a.int32(0))
        try t.kill(pid: a.int32(0) > 0 ? a.int32(0) : .max, info)
        return 0
    }

    static func rtTgsigqueueinfo(_ t: Task, _ a: SyscallArguments) throws(Errno) -> Int64 {
        let info = try queuedInfo(t, a.int32(2), a.address(3), target: a.int32(0))
        try t.tgkill(tgid: a.int32(0), tid: a.int32(1), info)
        return 0
    }

    static func queuedInfo(_ t: Task, _ sig: Int32, _ addr: GuestAddress, target: Int32) throws(Errno) -> SignalInfo {
        let raw = try t.mm.copyIn(addr, 128)
        func get<T: BitwiseCopyable>(_ at: Int, _: T.Type) -> T { raw.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: at, as: T.self) } }
        var info = SignalInfo(Signal(sig), code: get(8, Int32.self))
        if (info.code >= 0 || info.code == SignalInfo.SI_TKILL) && target != t.pid { throw .EPERM }
        info.pid = get(16, Int32.self)
        info.uid = get(20, UInt32.self)
        info.value = get(24, UInt64.self)
        return info
    }
}
