import Sentry

/// Signal dispositions and masks: recorded with Linux's rules. Delivery into
/// guest handlers arrives with signal frames (the processes-and-signals work).
enum Signals {
    static func rtSigaction(_ t: Task, _ a: SyscallArguments) throws(Errno) -> Int64 {
        let sig = a.int32(0)
        guard a[3] == 8 else { throw .EINVAL }   // sizeof(sigset_t) in the kernel ABI
        guard sig >= 1, sig <= 64 else { throw .EINVAL }
        let old = t.signals.actions[Int(sig)]
        if !a.address(1).isNull {
            let raw = try t.mm.read(a.address(1), as: (UInt64, UInt64, UInt64, UInt64).self)
            guard sig != Signal.SIGKILL.rawValue, sig != Signal.SIGSTOP.rawValue else { throw .EINVAL }
            var act = SignalAction()
            act.handler = raw.0; act.flags = raw.1; act.restorer = raw.2
            act.mask = raw.3 & ~SignalState.unblockable
            t.signals.actions[Int(sig)] = act
            // Setting SIG_IGN discards a pending instance (POSIX).
            if act.handler == SignalAction.SIG_IGN { t.signals.pending &= ~SignalState.bit(Signal(sig)) }
        }
        if !a.address(2).isNull {
            try t.mm.write(a.address(2), (old.handler, old.flags, old.restorer, old.mask))
        }
        return 0
    }

    static func rtSigprocmask(_ t: Task, _ a: SyscallArguments) throws(Errno) -> Int64 {
        guard a[3] == 8 else { throw .EINVAL }
        let old = t.signals.mask
        if !a.address(1).isNull {
            let set = try t.mm.read(a.address(1), as: UInt64.self)
            switch a.int32(0) {
            case 0: t.signals.mask |= set
            case 1: t.signals.mask &= ~set
            case 2: t.signals.mask = set
            default: throw .EINVAL
            }
            t.signals.mask &= ~SignalState.unblockable
        }
        if !a.address(2).isNull { try t.mm.write(a.address(2), old) }
        return 0
    }
}
