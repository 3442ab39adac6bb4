/// A task's seccomp state (Linux's `struct seccomp`): the mode and the
/// newest filter of its chain. Filters are immutable and shared: a child
/// (fork, clone, a thread) starts with its parent's chain, execve keeps it,
/// TSYNC gives the caller's chain to its sibling threads.
public struct SeccompState: Sendable {
    public var mode: Int32 = Seccomp.SECCOMP_MODE_DISABLED
    public var filter: SeccompFilter?
    /// How many filters the chain holds (/proc's Seccomp_filters).
    public var filterCount: Int = 0
    public init() {}
}

/// One attached filter, linked to the one attached before it.
public final class SeccompFilter: Sendable {
    public let program: ClassicBPF
    public let previous: SeccompFilter?
    /// SECCOMP_FILTER_FLAG_LOG.
    public let log: Bool
    /// The USER_NOTIF listener of SECCOMP_FILTER_FLAG_NEW_LISTENER, if any.
    public let listener: SeccompListener?

    /// The clocks (a bit per id) whose `clock_gettime` this filter and every
    /// one before it allow whatever the call's pointer and instruction
    /// pointer: the guest side may read them itself (GuestSideCalls.swift),
    /// as a container's default profile permits.
    let clockReadsAllowed: UInt64
    /// Whether this filter and every one before it allow `rt_sigprocmask`
    /// with SIG_BLOCK, SIG_UNBLOCK and SIG_SETMASK whatever its pointers
    /// and size: the guest side may keep the mask (GuestSideSignalMask.swift).
    let signalMaskChangesAllowed: Bool
    /// Whether this filter and every one before it allow `set_robust_list`
    /// whatever its arguments: the guest side may record the head
    /// (GuestSideRobustList.swift).
    let robustListSetAllowed: Bool

    init(program: ClassicBPF, previous: SeccompFilter?, log: Bool, listener: SeccompListener?) {
        self.program = program; self.previous = previous; self.log = log; self.listener = listener
        var clocks: UInt64 = 0
        for id in GuestClock.hostClocks where Self.allows(program, SyscallNumber.clock_gettime, firstArgument: UInt64(id)) {
            clocks |= 1 << UInt64(id)
        }
        clockReadsAllowed = clocks & (previous?.clockReadsAllowed ?? .max)
        signalMaskChangesAllowed = (0...2).allSatisfy { Self.allows(program, SyscallNumber.rt_sigprocmask, firstArgument: $0) }
            && previous?.signalMaskChangesAllowed != false
        robustListSetAllowed = Self.allows(program, SyscallNumber.set_robust_list, firstArgument: nil)
            && previous?.robustListSetAllowed != false
    }

    /// Whether `program` gives SECCOMP_RET_ALLOW to call `nr` with this
    /// first argument whatever the others hold (nil: whatever any holds):
    /// false if it reads the instruction pointer or another argument, so
    /// that the answer could depend on them.
    private static func allows(_ program: ClassicBPF, _ nr: UInt64, firstArgument: UInt64?) -> Bool {
        let firstArgumentWords: ClosedRange<UInt32> = 16...23
        for i in program.instructions where i.code == ClassicBPF.LD | ClassicBPF.W | ClassicBPF.ABS {
            if i.k >= 8 && (firstArgument == nil || !firstArgumentWords.contains(i.k)) { return false }
        }
        var data = SeccompData(nr: Int32(nr), instructionPointer: 0, args: SyscallArguments(firstArgument ?? 0))
        data.arch = SeccompData.AUDIT_ARCH_X86_64
        return program.run(data) & Seccomp.SECCOMP_RET_ACTION_FULL == Seccomp.SECCOMP_RET_ALLOW
    }

    /// The last task holding the chain is gone: a supervisor polling the
    /// listener sees POLLHUP.
    deinit { listener?.filterReleased() }

    /// Instructions on the path from this filter to the root, with the 4
    /// instruction penalty per filter seccomp_attach_filter counts.
    var pathLength: Int {
        var n = 0
        var f: SeccompFilter? = self
        while let g = f { n += g.program.instructions.count + 4; f = g.previous }
        return n
    }

    func hasAncestor(_ other: SeccompFilter?) -> Bool {
        guard let other else { return true }
        var f: SeccompFilter? = self
        while let g = f { if g === other { return true }; f = g.previous }
        return false
    }

    /// seccomp_run_filters: every filter runs, newest first; the lowest
    /// action (as a signed value of the action bits) wins, the first to
    /// return it among equals.
    func evaluate(_ data: SeccompData) -> (UInt32, SeccompFilter) {
        var result = Seccomp.SECCOMP_RET_ALLOW
        var match = self
        var f: SeccompFilter? = self
        while let g = f {
            let r = g.program.run(data)
            if Seccomp.actionOrder(r) < Seccomp.actionOrder(result) { result = r; match = g }
            f = g.previous
        }
        return (result, match)
    }
}

/// The constants of include/uapi/linux/seccomp.h, defined once.
public enum Seccomp {
    public static let SECCOMP_MODE_DISABLED: Int32 = 0, SECCOMP_MODE_STRICT: Int32 = 1, SECCOMP_MODE_FILTER: Int32 = 2
    /// The mode a task is in once a KILL action took it (never reported as such: it dies).
    static let SECCOMP_MODE_DEAD: Int32 = 3

    public static let SECCOMP_SET_MODE_STRICT: UInt64 = 0, SECCOMP_SET_MODE_FILTER: UInt64 = 1
    public static let SECCOMP_GET_ACTION_AVAIL: UInt64 = 2, SECCOMP_GET_NOTIF_SIZES: UInt64 = 3

    public static let SECCOMP_FILTER_FLAG_TSYNC: UInt64 = 1 << 0, SECCOMP_FILTER_FLAG_LOG: UInt64 = 1 << 1
    public static let SECCOMP_FILTER_FLAG_SPEC_ALLOW: UInt64 = 1 << 2, SECCOMP_FILTER_FLAG_NEW_LISTENER: UInt64 = 1 << 3
    public static let SECCOMP_FILTER_FLAG_TSYNC_ESRCH: UInt64 = 1 << 4, SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV: UInt64 = 1 << 5
    static let filterFlagMask: UInt64 = 0x3f

    /// strace's names for seccomp(2)'s operation and flags.
    public static let operationNames: [UInt64: String] = [
        SECCOMP_SET_MODE_STRICT: "SECCOMP_SET_MODE_STRICT", SECCOMP_SET_MODE_FILTER: "SECCOMP_SET_MODE_FILTER",
        SECCOMP_GET_ACTION_AVAIL: "SECCOMP_GET_ACTION_AVAIL", SECCOMP_GET_NOTIF_SIZES: "SECCOMP_GET_NOTIF_SIZES",
    ]
    public static let filterFlagNames: [(UInt64, String)] = [
        (SECCOMP_FILTER_FLAG_TSYNC, "SECCOMP_FILTER_FLAG_TSYNC"), (SECCOMP_FILTER_FLAG_LOG, "SECCOMP_FILTER_FLAG_LOG"),
        (SECCOMP_FILTER_FLAG_SPEC_ALLOW, "SECCOMP_FILTER_FLAG_SPEC_ALLOW"),
        (SECCOMP_FILTER_FLAG_NEW_LISTENER, "SECCOMP_FILTER_FLAG_NEW_LISTENER"),
        (SECCOMP_FILTER_FLAG_TSYNC_ESRCH, "SECCOMP_FILTER_FLAG_TSYNC_ESRCH"),
        (SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV, "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"),
    ]

    public static let SECCOMP_RET_KILL_PROCESS: UInt32 = 0x8000_0000, SECCOMP_RET_KILL_THREAD: UInt32 = 0
    public static let SECCOMP_RET_TRAP: UInt32 = 0x0003_0000, SECCOMP_RET_ERRNO: UInt32 = 0x0005_0000
    public static let SECCOMP_RET_USER_NOTIF: UInt32 = 0x7fc0_0000, SECCOMP_RET_TRACE: UInt32 = 0x7ff0_0000
    public static let SECCOMP_RET_LOG: UInt32 = 0x7ffc_0000, SECCOMP_RET_ALLOW: UInt32 = 0x7fff_0000
    public static let SECCOMP_RET_ACTION_FULL: UInt32 = 0xffff_0000, SECCOMP_RET_DATA: UInt32 = 0x0000_ffff
    /// siginfo's si_code for a SECCOMP_RET_TRAP (and KILL) SIGSYS.
    public static let SYS_SECCOMP: Int32 = 1
    /// MAX_INSNS_PER_PATH: 256 KiB of instructions along a chain.
    static let maxPathInstructions = (1 << 18) / ClassicBPF.Instruction.size
    /// MAX_ERRNO: what an ERRNO action's data is capped at.
    static let maxErrno: UInt32 = 4095

    /// ACTION_ONLY: the action bits as a signed value, KILL_PROCESS lowest.
    static func actionOrder(_ r: UInt32) -> Int32 { Int32(bitPattern: r & SECCOMP_RET_ACTION_FULL) }

    /// mode1_syscalls: what strict mode allows (read, write, exit, rt_sigreturn).
    static let strictAllowed: Set<UInt64> = [0, 1, 60, 15]

    /// The actions SECCOMP_GET_ACTION_AVAIL reports.
    static let availableActions: Set<UInt32> = [SECCOMP_RET_KILL_PROCESS, SECCOMP_RET_KILL_THREAD, SECCOMP_RET_TRAP,
                                                SECCOMP_RET_ERRNO, SECCOMP_RET_USER_NOTIF, SECCOMP_RET_TRACE,
                                                SECCOMP_RET_LOG, SECCOMP_RET_ALLOW]
}
