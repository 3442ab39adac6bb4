import CSwitch

/// A task's Syscall User Dispatch state (Linux's `struct syscall_user_dispatch`
/// plus its SYSCALL_WORK bit), as `prctl(PR_SET_SYSCALL_USER_DISPATCH)` sets
/// it and kernel/entry/syscall_user_dispatch.c applies it. The sentry sees
/// every guest syscall with its rip, so the guest's SUD is emulated here and
/// never handed to the host (on systrap the host's SUD is the sentry's own trap).
///
/// `config`/`set(_:)` are the state in `struct ptrace_sud_config`'s terms, for
/// PTRACE_GET/SET_SYSCALL_USER_DISPATCH_CONFIG and checkpoint images: fork and
/// execve turn the mode off but keep the other fields, as 6.1 does (it clears
/// only the work bit), so a getter after them reports them.
public struct SyscallUserDispatch: Sendable, Equatable {
    /// `struct ptrace_sud_config`: four u64s, mode first.
    public struct Config: Sendable, Equatable {
        public var mode: UInt64
        public var offset: UInt64
        public var length: UInt64
        public var selector: UInt64
        public init(mode: UInt64, offset: UInt64, length: UInt64, selector: UInt64) {
            self.mode = mode; self.offset = offset; self.length = length; self.selector = selector
        }
        /// sizeof(struct ptrace_sud_config).
        public static let size = 32
    }

    public static let PR_SET_SYSCALL_USER_DISPATCH: UInt64 = 59
    public static let PR_SYS_DISPATCH_OFF: UInt64 = 0, PR_SYS_DISPATCH_ON: UInt64 = 1
    /// The selector byte's two meaningful values.
    public static let SYSCALL_DISPATCH_FILTER_ALLOW: UInt8 = 0, SYSCALL_DISPATCH_FILTER_BLOCK: UInt8 = 1
    /// siginfo's si_code for a dispatched syscall.
    public static let SYS_USER_DISPATCH: Int32 = 2
    /// TASK_SIZE_MAX on x86-64 (4-level paging): access_ok's limit.
    static let userLimit = UInt64(SW_TASK_SIZE)

    public private(set) var on = false
    public private(set) var offset: UInt64 = 0
    public private(set) var length: UInt64 = 0
    /// The guest address of the selector byte; 0: none (always dispatch outside the region).
    public private(set) var selector: UInt64 = 0

    public init() {}

    public var config: Config {
        Config(mode: on ? Self.PR_SYS_DISPATCH_ON : Self.PR_SYS_DISPATCH_OFF, offset: offset, length: length, selector: selector)
    }

    /// set_syscall_user_dispatch's checks and assignment: OFF takes no other
    /// argument; ON refuses a region that wraps or is empty at a nonzero
    /// offset (EINVAL) and a selector outside user space (EFAULT: only
    /// access_ok, the byte is read at each syscall).
    public mutating func set(_ c: Config) throws(Errno) {
        switch c.mode {
        case Self.PR_SYS_DISPATCH_OFF:
            guard c.offset == 0, c.length == 0, c.selector == 0 else { throw .EINVAL }
        case Self.PR_SYS_DISPATCH_ON:
            if c.offset != 0 {
                let (end, wrapped) = c.offset.addingReportingOverflow(c.length)
                if wrapped || end <= c.offset { throw .EINVAL }
            }
            if c.selector != 0 && c.selector > Self.userLimit - 1 { throw .EFAULT }
        default:
            throw .EINVAL
        }
        on = c.mode == Self.PR_SYS_DISPATCH_ON
        offset = c.offset; length = c.length; selector = c.selector
    }

    /// A state read back from a checkpoint image: as `set`, except that OFF
    /// may keep the fields fork or execve left (which `set` refuses, as the
    /// prctl and PTRACE_SET_SYSCALL_USER_DISPATCH_CONFIG do).
    public init(restoring c: Config) throws(Errno) {
        if c.mode == Self.PR_SYS_DISPATCH_OFF {
            offset = c.offset; length = c.length; selector = c.selector
        } else {
            try set(c)
        }
    }

    /// What fork, clone and execve leave: the work bit cleared, the fields kept.
    public mutating func turnOff() { on = false }

    /// Whether a syscall whose return address is `ip` comes from the allowed
    /// region (Linux's unsigned `ip - offset < len`).
    public func allows(ip: UInt64) -> Bool { ip &- offset < length }
}

/// What the dispatch check decides for one syscall.
enum DispatchDecision {
    /// Not dispatched: the syscall goes on.
    case proceed
    /// Dispatched: a SIGSYS is forced, the syscall is not run.
    case dispatched
    /// The selector is unreadable (SIGSEGV) or neither ALLOW nor BLOCK
    /// (SIGSYS): the process dies of that signal, which no handler can catch.
    case fatal(Signal)
}

extension Task {
    /// syscall_user_dispatch(): the first thing a trapped syscall meets.
    func syscallUserDispatch(_ sud: SyscallUserDispatch) -> DispatchDecision {
        guard sud.on, !sud.allows(ip: regs.ip) else { return .proceed }
        if sud.selector != 0 {
            guard let state = try? mm.read(GuestAddress(sud.selector), as: UInt8.self) else { return .fatal(.SIGSEGV) }
            if state == SyscallUserDispatch.SYSCALL_DISPATCH_FILTER_ALLOW { return .proceed }
            if state != SyscallUserDispatch.SYSCALL_DISPATCH_FILTER_BLOCK { return .fatal(.SIGSYS) }
        }
        return .dispatched
    }

    /// The task's SUD state, for prctl, ptrace's GET/SET_SYSCALL_USER_DISPATCH_CONFIG
    /// and checkpointing (any thread may call these).
    public var syscallUserDispatchConfig: SyscallUserDispatch.Config {
        attributes.withLock { $0.syscallUserDispatch.config }
    }

    public func setSyscallUserDispatch(_ c: SyscallUserDispatch.Config) throws(Errno) {
        try attributes.withLock { (a: inout TaskAttributes) throws(Errno) in try a.syscallUserDispatch.set(c) }
    }

    /// For checkpoint restore: the state exactly as `syscallUserDispatchConfig` read it.
    public func restoreSyscallUserDispatch(_ c: SyscallUserDispatch.Config) throws(Errno) {
        let sud = try SyscallUserDispatch(restoring: c)
        attributes.withLock { $0.syscallUserDispatch = sud }
    }
}
