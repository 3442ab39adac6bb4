import Synchronization

/// Per-task state that prctl, the credential calls and the scheduler calls
/// read and change, behind one lock of its own: the task's thread changes
/// it, /proc and other tasks (setpriority, sched_setaffinity) read it.
public struct TaskAttributes: Sendable {
    public var credentials: Credentials
    /// The task's name (comm): 15 bytes at most, set at exec and by PR_SET_NAME.
    public var comm: [UInt8]
    /// PR_SET_PDEATHSIG: the signal this task's process gets when the thread that created it exits.
    public var parentDeathSignal: Int32 = 0
    /// PR_SET_NO_NEW_PRIVS: sticky, inherited, kept across exec.
    public var noNewPrivs = false
    /// PR_SET_TIMERSLACK, in nanoseconds; fork gives the parent's as the child's default.
    public var timerSlack: UInt64 = TaskAttributes.defaultTimerSlack
    public var defaultTimerSlack: UInt64 = TaskAttributes.defaultTimerSlack
    public var scheduling = Scheduling()
    /// PR_SET_SYSCALL_USER_DISPATCH: off after fork, clone and execve.
    public var syscallUserDispatch = SyscallUserDispatch()
    /// seccomp mode and filters: inherited by every child, kept across execve.
    public var seccomp = SeccompState()
    /// set_mempolicy(2)'s policy (nil: the default): inherited by children,
    /// kept across execve, which is how numactl hands it to a program.
    public var memoryPolicy: MemoryPolicy?
    /// personality(2): inherited by children; exec clears READ_IMPLIES_EXEC
    /// (set_personality_64bit) and, when it gains capabilities, PER_CLEAR_ON_SETID.
    public var personality = Personality.linux

    public static let defaultTimerSlack: UInt64 = 50_000
    public static let commLength = 16   // TASK_COMM_LEN, NUL included

    public init(credentials: Credentials, executablePath: String) {
        self.credentials = credentials
        self.comm = Self.comm(forExecutable: executablePath)
    }

    /// What exec names a task: the last component of the path, truncated (__set_task_comm).
    public static func comm(forExecutable path: String) -> [UInt8] {
        let base = path.pathComponents.last ?? path
        return Array(base.rawBytes.prefix(commLength - 1))
    }

    /// What a child of clone starts with (copy_process): the same, but no
    /// parent-death signal, and the parent's slack as its default.
    public func forChild() -> TaskAttributes {
        var c = self
        c.parentDeathSignal = 0
        c.defaultTimerSlack = timerSlack
        if c.scheduling.resetOnFork { c.scheduling.reset() }
        c.syscallUserDispatch.turnOff()
        return c
    }

    /// What execve keeps (begin_new_exec and cap_bprm_creds_from_file).
    public mutating func applyExec(executablePath: String) {
        comm = Self.comm(forExecutable: executablePath)
        let before = credentials.permitted
        credentials.applyExec()
        // cap_bprm_creds_from_file: a gain in permitted capabilities clears the dangerous personality flags.
        if credentials.permitted & ~before != 0 { personality.rawValue &= ~Personality.clearedOnSetID }
        personality.rawValue &= ~Personality.READ_IMPLIES_EXEC
        syscallUserDispatch.turnOff()
    }
}

/// A task's scheduling policy, real-time priority, nice value and CPU
/// affinity, as sched_setscheduler/setpriority/sched_setaffinity set them.
/// The sentry records them with Linux's rules and reports them back; the
/// host schedules the sentry's threads and stubs as it always does.
public struct Scheduling: Sendable, Equatable {
    public var policy: Int32 = Scheduling.SCHED_OTHER
    public var priority: Int32 = 0
    public var nice: Int32 = 0
    public var resetOnFork = false
    /// SCHED_DEADLINE's parameters (sched_dl_entity's dl_runtime,
    /// dl_deadline, dl_period in ns, and its SCHED_DL_FLAGS), as sched_setattr set them.
    public var runtime: UInt64 = 0, deadline: UInt64 = 0, period: UInt64 = 0, deadlineFlags: UInt64 = 0
    /// The CPUs (of the first 64) the task may run on; nil: every CPU the sentry may use.
    public var affinity: UInt64?

    public static let SCHED_OTHER: Int32 = 0, SCHED_FIFO: Int32 = 1, SCHED_RR: Int32 = 2
    public static let SCHED_BATCH: Int32 = 3, SCHED_IDLE: Int32 = 5, SCHED_DEADLINE: Int32 = 6
    public static let SCHED_RESET_ON_FORK: Int32 = 0x4000_0000
    public static let minNice: Int32 = -20, maxNice: Int32 = 19
    public static let maxRTPriority: Int32 = 99

    public init() {}

    public static func isRealTime(_ p: Int32) -> Bool { p == SCHED_FIFO || p == SCHED_RR }
    /// fair_policy: the classes a nice value weighs (not SCHED_IDLE).
    public static func isFair(_ p: Int32) -> Bool { p == SCHED_OTHER || p == SCHED_BATCH }
    public static func isValid(_ p: Int32) -> Bool { [SCHED_OTHER, SCHED_FIFO, SCHED_RR, SCHED_BATCH, SCHED_IDLE, SCHED_DEADLINE].contains(p) }

    /// SCHED_RESET_ON_FORK (sched_fork): a real-time child goes back to SCHED_OTHER at nice 0, another loses a negative nice.
    mutating func reset() {
        if Self.isRealTime(policy) || policy == Self.SCHED_DEADLINE { policy = Self.SCHED_OTHER; priority = 0; nice = 0 }
        else if nice < 0 { nice = 0 }
        runtime = 0; deadline = 0; period = 0; deadlineFlags = 0   // __dl_clear_params
        resetOnFork = false
    }
}
