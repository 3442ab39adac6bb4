import Glibc
import Synchronization

/// A process: the tasks sharing one pid, its place in the process tree, its
/// signal dispositions, job-control state and what its parent's wait sees.
/// Mutable fields are guarded by the kernel lock.
/// Sendable: tree, signal, stop and exit state behind the kernel lock; `limits` behind its own Mutex.
public final class ThreadGroup: @unchecked Sendable {
    public let pid: Int32
    public internal(set) weak var parent: ThreadGroup?
    var children: [ThreadGroup] = []
    var tasks: [Task] = []
    public internal(set) var pgid: Int32
    public internal(set) var sid: Int32
    var handlers: SignalHandlers
    var sharedPending = SignalQueue()
    /// The signal the parent gets when this process dies (clone's CSIGNAL).
    var exitSignal: Signal?
    /// Set once the process is dying: exit_group or a fatal signal.
    var exitStatus: ExitStatus?
    /// Every task has exited; the parent has yet to reap it.
    var zombie = false
    /// A process entered from outside the sandbox (Kernel.enter): what to
    /// tell its parent out there when it dies. Kernel lock held.
    var onExitFromOutside: (@Sendable (ExitStatus) -> Void)?
    /// Job control: the group is stopped; a stop or continue not yet seen by wait.
    var stopped = false
    var stopSignal = Signal.SIGSTOP
    var unreportedStop = false
    var unreportedContinue = false
    /// The leader died traced by another than the parent: the parent hears
    /// of the death once the tracer's wait has reaped it (or let it go).
    var parentNotifyDeferred = false
    /// The process's read/write counters, its dead threads' included (/proc/PID/io).
    public let ioAccounting = IOAccounting()
    /// Woken when a child changes state (exit, stop, continue).
    let childEvents = WaitQueue()
    /// Woken when the group leaves the stopped state, or a thread exits.
    let groupEvents = WaitQueue()
    /// Woken whenever a signal is queued to the process or one of its threads,
    /// blocked or not: sigtimedwait and signalfd wait for blocked ones.
    public let signalEvents = WaitQueue()
    /// The usage of reaped children and theirs (RUSAGE_CHILDREN, times(2)'s cutime/cstime).
    var childUsage = ResourceUsage()
    /// The usage of this process's threads that have exited, and its
    /// resident high-water mark (signal->maxrss with the mm's hiwater).
    var exitedUsage = ResourceUsage()
    public let limits: Mutex<[Int32: (cur: UInt64, max: UInt64)]>
    /// ITIMER_REAL / alarm(2) and POSIX timers of this process.
    let timers = ProcessTimers()
    /// When it started (/proc/PID/stat); a restored process's is its image's.
    var startTime = Deadline.now()
    /// The tid of the thread that created this process (real_parent): its
    /// exit sends the parent-death signals (PR_SET_PDEATHSIG).
    var parentThreadID: Int32 = 0
    /// PR_SET_CHILD_SUBREAPER: orphaned descendants are reparented here rather than to init.
    var isChildSubreaper = false
    /// PR_SET_DUMPABLE (the mm's dumpable flag); exec sets it back.
    var dumpable = true
    /// /proc/PID/oom_score_adj (signal->oom_score_adj) and the floor below
    /// which only CAP_SYS_RESOURCE may lower it; fork copies both.
    var oomScoreAdj: Int16 = 0
    var oomScoreAdjMin: Int16 = 0
    /// mlock'ed ranges and mlockall's flags (mm->locked_vm and mm->def_flags).
    var memoryLocks = MemoryLocks()

    init(pid: Int32, parent: ThreadGroup?, pgid: Int32, sid: Int32, handlers: SignalHandlers,
         limits: [Int32: (cur: UInt64, max: UInt64)], exitSignal: Signal?) {
        self.pid = pid; self.parent = parent; self.pgid = pgid; self.sid = sid
        self.handlers = handlers; self.limits = Mutex(limits); self.exitSignal = exitSignal
    }

    /// The limits of a new process: the sentry's own as it was started
    /// (`startingLimits`), but never more descriptors than a quarter of what
    /// the sentry may hold: each guest file costs the sentry one or two.
    static func hostLimits() -> [Int32: (cur: UInt64, max: UInt64)] {
        var out = startingLimits
        var l = rlimit()
        if getrlimit(__rlimit_resource_t(UInt32(RLIMIT_NOFILE.rawValue)), &l) == 0, let nofile = out[ResourceLimit.RLIMIT_NOFILE] {
            let cap = UInt64(l.rlim_max) / 4
            out[ResourceLimit.RLIMIT_NOFILE] = (min(nofile.cur, cap), min(nofile.max, cap))
        }
        return out
    }

    /// The sentry's limits when it started, before it raised its own.
    public static let startingLimits: [Int32: (cur: UInt64, max: UInt64)] = {
        var out: [Int32: (cur: UInt64, max: UInt64)] = [:]
        for r in Int32(0)..<ResourceLimit.count {
            var l = rlimit()
            if getrlimit(__rlimit_resource_t(UInt32(r)), &l) == 0 { out[r] = (UInt64(l.rlim_cur), UInt64(l.rlim_max)) }
        }
        return out
    }()

    /// The status word wait(2) reports.
    static func waitStatus(_ s: ExitStatus) -> Int32 {
        switch s {
        case .exited(let c): return WaitStatus.exited(c).rawValue
        case .signaled(let sig, let core): return WaitStatus.signaled(sig.rawValue, coreDumped: core).rawValue
        }
    }
}

/// The working directory, root and umask: per process, shared under CLONE_FS.
/// Sendable: everything behind `state`.
public final class FSContext: @unchecked Sendable {
    private struct State { var cwd: Location; var root: Location; var umask: UInt32 }
    private let state: Mutex<State>
    init(cwd: Location, root: Location, umask: UInt32) { state = Mutex(State(cwd: cwd, root: root, umask: umask)) }
    public var cwd: Location {
        get { state.withLock { $0.cwd } }
        set { state.withLock { $0.cwd = newValue } }
    }
    public var root: Location {
        get { state.withLock { $0.root } }
        set { state.withLock { $0.root = newValue } }
    }
    public var umask: UInt32 {
        get { state.withLock { $0.umask } }
        set { state.withLock { $0.umask = newValue } }
    }
    func copy() -> FSContext { state.withLock { FSContext(cwd: $0.cwd, root: $0.root, umask: $0.umask) } }
}
