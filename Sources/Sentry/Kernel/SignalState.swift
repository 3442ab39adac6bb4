import Synchronization

/// A sigaction as the guest registered it (struct kernel_sigaction).
public struct SignalAction: Sendable, Equatable {
    public var handler: UInt64 = 0       // SIG_DFL = 0, SIG_IGN = 1, else a guest address
    public var flags: UInt64 = 0
    public var restorer: UInt64 = 0
    public var mask: UInt64 = 0
    public init() {}
    public static let SIG_DFL: UInt64 = 0, SIG_IGN: UInt64 = 1
    public static let SA_NOCLDSTOP: UInt64 = 1, SA_NOCLDWAIT: UInt64 = 2, SA_SIGINFO: UInt64 = 4
    public static let SA_RESTORER: UInt64 = 0x0400_0000, SA_ONSTACK: UInt64 = 0x0800_0000
    public static let SA_RESTART: UInt64 = 0x1000_0000, SA_NODEFER: UInt64 = 0x4000_0000
    public static let SA_RESETHAND: UInt64 = 0x8000_0000
}

/// The dispositions of signals: per process, shared by threads (and by
/// processes cloned with CLONE_SIGHAND). Guarded by the kernel lock.
/// Sendable: guarded by the kernel lock.
public final class SignalHandlers: @unchecked Sendable {
    public var actions = [SignalAction](repeating: SignalAction(), count: 65)
    public init() {}

    func copy() -> SignalHandlers {
        let c = SignalHandlers()
        c.actions = actions
        return c
    }

    /// flush_signal_handlers(t, 0), for exec and CLONE_CLEAR_SIGHAND: caught
    /// signals go back to SIG_DFL, ignored ones stay ignored, and every
    /// action loses its flags, restorer and mask.
    func resetCaught() {
        for i in actions.indices {
            var a = SignalAction()
            if actions[i].handler == SignalAction.SIG_IGN { a.handler = SignalAction.SIG_IGN }
            actions[i] = a
        }
    }

    func copyResettingCaught() -> SignalHandlers {
        let c = copy()
        c.resetCaught()
        return c
    }

    /// Whether sending `sig` would do nothing at all (ignored, unblocked).
    func ignores(_ sig: Signal) -> Bool {
        let a = actions[Int(sig.rawValue)]
        if a.handler == SignalAction.SIG_IGN { return true }
        return a.handler == SignalAction.SIG_DFL && (sig.defaultAction == .ignore || sig == .SIGCONT)
    }
}

/// The siginfo of one pending or delivered signal (the fields Linux fills
/// for the ways the sentry raises signals).
public struct SignalInfo: Sendable {
    public var signo: Int32
    public var code: Int32 = 0          // SI_USER
    public var errno: Int32 = 0
    public var pid: Int32 = 0
    public var uid: UInt32 = 0
    public var status: Int32 = 0        // SIGCHLD
    public var address: UInt64 = 0      // faults
    public var value: UInt64 = 0        // sigqueue / timers
    public var timerID: Int32 = 0
    public var overrun: Int32 = 0
    /// si_overrun `count` after `n` more expiries: capped at INT_MAX (timer_overrun_to_int).
    static func overrun(_ count: Int32, plus n: Int64) -> Int32 {
        let (sum, o) = Int64(count).addingReportingOverflow(n)
        return o ? .max : Int32(clamping: sum)
    }
    /// SIGSYS: the call's number and audit arch (its si_call_addr is `address`).
    public var syscall: Int32 = 0
    public var arch: UInt32 = 0
    /// SIGIO-style (SIL_POLL) siginfo: the poll band and the fd.
    public var band: Int64 = 0
    public var fd: Int32 = 0
    public var pollLayout = false
    /// Not part of siginfo: sent from outside the sandbox (the sentry
    /// forwarding a host signal) or a synchronous fault, which init takes
    /// even with the default action; see Kernel.initIgnoresLocked.
    public var overridesInit = false
    /// Not part of siginfo: the fault's x86 trap number and error code
    /// (thread.trap_nr, thread.error_code), which the signal frame's
    /// sigcontext shows; nil: a page fault's for a SIGSEGV raised by the CPU.
    public var trapNumber: UInt64?
    public var errorCode: UInt64 = 0

    public init(_ sig: Signal, code: Int32 = 0) { signo = sig.rawValue; self.code = code }

    public static let SI_USER: Int32 = 0, SI_KERNEL: Int32 = 0x80, SI_QUEUE: Int32 = -1, SI_TIMER: Int32 = -2
    public static let SI_TKILL: Int32 = -6
    public static let CLD_EXITED: Int32 = 1, CLD_KILLED: Int32 = 2, CLD_DUMPED: Int32 = 3
    public static let CLD_STOPPED: Int32 = 5, CLD_CONTINUED: Int32 = 6
    public static let SEGV_MAPERR: Int32 = 1, SEGV_ACCERR: Int32 = 2, BUS_ADRERR: Int32 = 2
    public static let POLL_IN: Int32 = 1, POLL_OUT: Int32 = 2, POLL_MSG: Int32 = 3, SI_SIGIO: Int32 = -5
    public static let POLL_ERR: Int32 = 4, POLL_PRI: Int32 = 5, POLL_HUP: Int32 = 6

    /// The 128-byte siginfo_t of x86-64.
    public var bytes: [UInt8] {
        var b = [UInt8](repeating: 0, count: 128)
        b.store(signo, at: 0); b.store(errno, at: 4); b.store(code, at: 8)
        // siginfo_layout: a signal's own layout only for the kernel's codes
        // between SI_USER and SI_KERNEL. One sent by kill (SI_USER), by the
        // kernel (SI_KERNEL) or a ptrace stop's SIGTRAP (0x85, an event's
        // SIGTRAP | event << 8: past SI_KERNEL) is SIL_KILL: pid and uid.
        let ownLayout = code > 0 && code < Self.SI_KERNEL
        switch signo {
        case _ where pollLayout:
            b.store(band, at: 16); b.store(fd, at: 24)
        case Signal.SIGSEGV.rawValue where ownLayout, Signal.SIGBUS.rawValue where ownLayout,
             Signal.SIGFPE.rawValue where ownLayout, Signal.SIGILL.rawValue where ownLayout,
             Signal.SIGTRAP.rawValue where ownLayout:
            b.store(address, at: 16)
        case Signal.SIGSYS.rawValue where ownLayout:
            b.store(address, at: 16); b.store(syscall, at: 24); b.store(arch, at: 28)
        case Signal.SIGCHLD.rawValue where ownLayout:
            b.store(pid, at: 16); b.store(uid, at: 20); b.store(status, at: 24)
        default:
            if code == Self.SI_TIMER { b.store(timerID, at: 16); b.store(overrun, at: 20); b.store(value, at: 24) }
            else { b.store(pid, at: 16); b.store(uid, at: 20); b.store(value, at: 24) }
        }
        return b
    }
}

/// Pending signals of a task or a thread group: a bit per signal, with the
/// siginfo of each instance. Standard signals coalesce; real-time ones queue.
public struct SignalQueue: Sendable {
    public private(set) var bits: UInt64 = 0
    private var infos: [Int32: [SignalInfo]] = [:]

    public static func bit(_ s: Signal) -> UInt64 { 1 << UInt64(s.rawValue - 1) }

    public mutating func enqueue(_ info: SignalInfo) {
        let sig = Signal(info.signo)
        if sig.rawValue < 32 && bits & Self.bit(sig) != 0 { return }
        bits |= Self.bit(sig)
        infos[info.signo, default: []].append(info)
    }

    /// A POSIX timer expired (`expiries` times) while its last signal is
    /// still queued: that signal's si_overrun grows, no second one is queued
    /// (send_sigqueue of the timer's one preallocated sigqueue). Returns the
    /// new count, or nil when no signal of the timer is queued.
    public mutating func countOverrun(timer id: Int32, signo: Int32, expiries: Int64 = 1) -> Int32? {
        guard var list = infos[signo],
              let i = list.firstIndex(where: { $0.code == SignalInfo.SI_TIMER && $0.timerID == id }) else { return nil }
        list[i].overrun = SignalInfo.overrun(list[i].overrun, plus: expiries)
        infos[signo] = list
        return list[i].overrun
    }

    /// Removes one instance of the lowest signal in `set`.
    public mutating func dequeue(from set: UInt64) -> SignalInfo? {
        let ready = bits & set
        guard ready != 0 else { return nil }
        // Synchronous faults first, as Linux does; then lowest number.
        let sync: UInt64 = Self.bit(.SIGSEGV) | Self.bit(.SIGBUS) | Self.bit(.SIGILL) | Self.bit(.SIGTRAP) | Self.bit(.SIGFPE) | Self.bit(.SIGSYS)
        let pick = ready & sync != 0 ? ready & sync : ready
        let signo = Int32(pick.trailingZeroBitCount) + 1
        var list = infos[signo] ?? []
        let info = list.isEmpty ? SignalInfo(Signal(signo)) : list.removeFirst()
        if list.isEmpty { infos[signo] = nil; bits &= ~Self.bit(Signal(signo)) } else { infos[signo] = list }
        return info
    }

    /// Every queued instance, lowest signal first, each signal's in queue order.
    public var all: [SignalInfo] {
        var out: [SignalInfo] = []
        var s = bits
        while s != 0 {
            let signo = Int32(s.trailingZeroBitCount) + 1
            out += infos[signo] ?? [SignalInfo(Signal(signo))]
            s &= s - 1
        }
        return out
    }

    public mutating func discard(_ set: UInt64) {
        var s = bits & set
        while s != 0 {
            let signo = Int32(s.trailingZeroBitCount) + 1
            infos[signo] = nil
            s &= s - 1
        }
        bits &= ~set
    }
}

public enum SignalSets {
    public static let unblockable: UInt64 = SignalQueue.bit(.SIGKILL) | SignalQueue.bit(.SIGSTOP)
    public static let stopSignals: UInt64 = SignalQueue.bit(.SIGSTOP) | SignalQueue.bit(.SIGTSTP)
        | SignalQueue.bit(.SIGTTIN) | SignalQueue.bit(.SIGTTOU)
}

/// sigaltstack(2) state of a task.
public struct AltStack: Sendable {
    public var sp: UInt64 = 0
    public var flags: Int32 = 2   // SS_DISABLE
    public var size: UInt64 = 0
    public static let SS_ONSTACK: Int32 = 1, SS_DISABLE: Int32 = 2, SS_AUTODISARM: Int32 = Int32(bitPattern: 0x8000_0000)
    /// MINSIGSTKSZ: the smallest stack sigaltstack takes.
    public static let minimumSize: UInt64 = 2048

    public var enabled: Bool { size != 0 }
    /// on_sig_stack: a stack armed with SS_AUTODISARM is never "on" (a new
    /// signal may always use it).
    public func onStack(_ sp: UInt64) -> Bool {
        flags & Self.SS_AUTODISARM == 0 && sp > self.sp && sp - self.sp <= size
    }
    /// What sigaltstack reports: sas_ss_flags(sp) plus the SS_FLAG_BITS set.
    public func reportedFlags(_ sp: UInt64) -> Int32 {
        (size == 0 ? Self.SS_DISABLE : onStack(sp) ? Self.SS_ONSTACK : 0) | (flags & Self.SS_AUTODISARM)
    }

    /// do_sigaltstack's change, for sigaltstack(2) and rt_sigreturn's
    /// restore_altstack: refused while running on the stack, the mode must
    /// be 0, SS_ONSTACK or SS_DISABLE, and an enabled stack MINSIGSTKSZ long.
    /// The flags are kept as given (SS_AUTODISARM included).
    public mutating func change(sp: UInt64, flags: Int32, size: UInt64, currentSP: UInt64) throws(Errno) {
        if onStack(currentSP) { throw .EPERM }
        let mode = flags & ~Self.SS_AUTODISARM
        guard mode == 0 || mode == Self.SS_DISABLE || mode == Self.SS_ONSTACK else { throw .EINVAL }
        if mode == Self.SS_DISABLE {
            self = AltStack(sp: 0, flags: flags, size: 0)
        } else {
            guard size >= Self.minimumSize else { throw .ENOMEM }
            self = AltStack(sp: sp, flags: flags, size: size)
        }
    }
}
