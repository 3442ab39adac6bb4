import CSwitch
import Glibc
import Synchronization

/// A guest thread of execution, run by its own sentry host thread.
///
/// Fields the task's own thread alone touches (registers, the restart
/// block) need no lock; fields other threads read or write (signal mask and
/// pending set, `inGuest`, `killed`) are guarded by the kernel lock; what
/// execve replaces and /proc reads from other threads (the memory manager,
/// the fd table, the executable's path, argv, envp) by `image`'s own lock.
/// Sendable: as the paragraph above says (own thread / kernel lock / `image`).
public final class Task: ProcessView, WalkContext, @unchecked Sendable {
    /// unowned(unsafe): the kernel outlives its tasks (it holds them), and a
    /// checked unowned reference costs an atomic retain and release at each
    /// of the dozen uses on every syscall's path (slow ones: weak references
    /// to the kernel give it a side table).
    public unowned(unsafe) let kernel: Kernel
    public internal(set) var tid: Int32
    public internal(set) var group: ThreadGroup
    /// What execve replaces on the task's own thread while other threads
    /// read it (/proc/PID/{maps,fd,exe,cmdline,environ}, exec's look for
    /// other users of an mm).
    struct Image {
        var mm: MemoryManager
        var space: AddressSpace?
        var fds: FDTable
        var executablePath: String
        /// The file itself, as exec found it (nil: the first process of a
        /// restored sandbox, whose /proc/PID/exe walks the path).
        var executableLocation: Location?
        var commandLine: [String]
        var environment: [String]
    }
    private let image: Mutex<Image>

    public internal(set) var mm: MemoryManager {
        get { image.withLock { $0.mm } }
        set { image.withLock { $0.mm = newValue } }
    }
    /// The mm's host mirror as this task's thread entered it (nil until a
    /// forked task's thread has built it). /proc reads its host pid and CPU time.
    var space: AddressSpace! {
        get { image.withLock { $0.space } }
        set { image.withLock { $0.space = newValue } }
    }
    public internal(set) var fds: FDTable {
        get { image.withLock { $0.fds } }
        set { image.withLock { $0.fds = newValue } }
    }
    public let fs: FSContext
    /// Its read/write counters (/proc/PID/task/TID/io).
    public let ioAccounting = IOAccounting()
    /// The call the task sleeps in, as /proc/PID/syscall shows it to others:
    /// number, six arguments, stack and instruction pointers (nil: running).
    let sleepingIn = Mutex<[UInt64]?>(nil)
    /// Times the task slept in `block` (/proc's voluntary_ctxt_switches).
    let voluntarySwitches = Atomic<UInt64>(0)
    /// The block I/O context (kcmp's KCMP_IO): the task's own, or its
    /// parent's when made with CLONE_IO. Set before the task runs.
    public internal(set) var ioContext = IOContext()
    public let context: PlatformContext
    public var regs: Registers
    /// The FPU and SSE state a cloned task starts with: its parent's at the
    /// clone, as fpu_clone copies it (rounding modes, masks, vector
    /// registers), set into the platform context before the first run.
    var inheritedFPU: [UInt8]?

    public var pid: Int32 { group.pid }
    public var ppid: Int32 { kernel.locked { group.parent?.pid ?? 0 } }
    /// Guest path of the executable (/proc/self/exe).
    public var executablePath: String { image.withLock { $0.executablePath } }
    public var executableLocation: Location? { image.withLock { $0.executableLocation } }
    public var commandLine: [String] { image.withLock { $0.commandLine } }
    public var environment: [String] { image.withLock { $0.environment } }

    /// execve's new program, as /proc shows it, in one step.
    func setProgram(path: String, location: Location?, argv: [String], envp: [String]) {
        image.withLock {
            $0.executablePath = path; $0.executableLocation = location
            $0.commandLine = argv; $0.environment = envp
        }
    }
    public var cwd: Location { get { fs.cwd } set { fs.cwd = newValue } }
    public var umask: UInt32 { get { fs.umask } set { fs.umask = newValue } }
    public var clearChildTID = GuestAddress.null
    /// As the sentry last saw it: while the task runs with
    /// `guestRobustList`, the guest's side may have set another
    /// (`liveRobustListLocked`).
    public var robustList = (head: GuestAddress.null, length: UInt64(0))
    /// While the task runs guest code that records set_robust_list itself
    /// (GuestSideRobustList.swift). Kernel lock.
    var guestRobustList: GuestRobustListWord?
    /// Past its futex clean-up at exit: a PI waiter can't queue on it any
    /// more (ESRCH). Guarded by the futex table's lock.
    var futexExited = false
    /// Whether this task's wakes are sync wake-ups that may pull the woken
    /// thread onto this one's CPU (Waker.pullableTID). Not once its exit has
    /// woken a joiner: a parent woken by the process's death would wait on
    /// this CPU for the rest of the exit (the stub's emptying, the thread's
    /// return to the pool) while the other CPU idles. Task thread only.
    var wakesAreSync = true
    /// rseq(2)'s registration, and the cpu_id last written into it.
    public internal(set) var rseq: RseqRegistration?
    var rseqCPU: UInt32?
    /// `rseq` is also registered with the host for the task's stub (true),
    /// could not be (false: emulated), or is yet to be tried (nil). Task thread only.
    var rseqOnHost: Bool?
    /// `rseqOnHost` is true ahead of the host's answer: the registration
    /// rides on the stub's next entry into guest code
    /// (`HostRseq.registerHostRseqAtNextRun`), collected after it.
    var rseqHostUnsettled = false
    /// Credentials, comm, prctl and scheduler state (its own lock).
    public let attributes: Mutex<TaskAttributes>
    /// What the task's file permission checks judge by (WalkContext).
    public var credentials: Credentials? { attributes.withLock { $0.credentials } }

    // Signals (kernel lock).
    /// The blocked signals as the sentry last saw them: while the task runs
    /// with `guestSignalWords`, the guest's side may have changed them
    /// (`liveSignalMaskLocked`).
    public internal(set) var signalMask: UInt64 = 0
    /// While the task runs guest code that keeps its own mask (systrap's
    /// stub answering rt_sigprocmask: GuestSideSignalMask.swift).
    var guestSignalWords: GuestSignalWords?
    var pending = SignalQueue()
    var altStack = AltStack()
    /// Signals that were ignored rather than queued, which --strace still
    /// prints as deliveries (strace would see them), at the next chance.
    var ignoredForTracer: [SignalInfo] = []
    /// The mask to restore once a handler frame is set up (sigsuspend, ppoll, pselect).
    var savedMask: UInt64?
    /// Running guest code: a signal for it must kick the platform.
    var inGuest = false
    /// How many times the task has entered guest code: a kick's effect is
    /// seen once it changes or `inGuest` clears (membarrier's RSEQ command).
    var guestEntries: UInt64 = 0
    /// SIGKILL, group exit, or execve in another thread: leave at the next chance.
    var killed = false
    /// CPU clocks (kernel lock): the stub process running the guest's code
    /// (its pid and what its clock read when the task got it), and the
    /// sentry thread serving the task's syscalls.
    /// The stub's host fault and preemption counts are read alongside
    /// (`counts`: what they were when the task got it).
    var stubClock: (pid: Int32, base: Int64, counts: HostTaskCounters)?
    var sentryThreadClock: clockid_t?
    /// What that clock read when the task took the thread: a thread kept
    /// from an earlier task (`TaskThreads`) has that task's time on it.
    var sentryThreadClockBase: Int64 = 0
    /// The sentry thread serving the task (host tid) and its counts when it began to.
    var sentryThreadCounters: (tid: pid_t, base: HostTaskCounters)?
    var hostThreadID: pid_t = 0
    /// The same tid, read by the task's own thread without the lock (a
    /// blocking sleep offers it to sync wake-ups; a gettid per sleep before).
    private var ownThreadTID: pid_t = 0
    /// CPU time (ns) the thread had before it was restored from a
    /// checkpoint: its guest code's and the sentry's share; its clocks go on from there.
    var carriedCPU: (guest: Int64, sentry: Int64) = (0, 0)
    /// Faults and preemptions counted in stubs the task no longer runs in
    /// (an exec into a new one) and before a checkpoint it was restored from.
    var carriedCounters = HostTaskCounters()
    /// Faults in guest code the sentry resolved itself (copy-on-write
    /// breaks, a file grown under a mapping): minor, or major where the
    /// page had to be read from the file. Counted on the task's thread.
    let sentryMinorFaults = Atomic<Int64>(0)
    let sentryMajorFaults = Atomic<Int64>(0)

    let waker = Waker(forTask: true)
    /// A pipe read's sleep a writer may complete (ReadHandoff; own thread).
    var readHandoff: ReadHandoff?
    /// A writer completed the call just served and resumed the guest: the
    /// run loop waits for the trap that ends that run (own thread).
    var resumedByHandoff = false
    /// A writer's thread: the pipe write under way may claim a reader's
    /// sleep (`collectsHandoffs`), and the one it claimed (own thread).
    var collectsHandoffs = false
    /// The read just served was a writer's, who told fsnotify (own thread).
    var handoffNotified = false
    var claimedHandoff: ReadHandoff?
    /// How restart_syscall continues an interrupted sleep (ERESTART_RESTARTBLOCK).
    public var restartBlock: (@Sendable (Task) throws(Errno) -> Int64)?
    /// What `restartBlock` does, as data a checkpoint can keep; nil for a
    /// block that has no such form (then a checkpoint refuses the task).
    public var restartState: RestartState?
    /// Stopped for a checkpoint at the top of its run loop or in a stop
    /// (kernel lock; `unparkLocked` sends it on), with its FPU state read
    /// on its own thread.
    var parked = false
    var frozenFPU: [UInt8]?
    /// How the thread ended by itself: exit(2)'s code, or do_exit(sig) for
    /// seccomp's KILL_THREAD and strict mode. Its tracers see this even when
    /// another thread's exit_group comes before this one has left (its
    /// exit_code is set by then); nil when the process's exit took it.
    var ownExit: ExitStatus?
    /// Where its last copy-on-write fault found the page copied already by
    /// another thread, and the mirror's change count after the retry (its
    /// own thread only): the same fault with nothing changed is the guest's.
    var staleRetry: (GuestAddress, UInt64)?
    /// Its CPU time at the CPU-time sampler's last look (kernel lock).
    var cpuAtLastSample: Int64 = 0
    /// exit or exit_group ran: the task is leaving (kernel lock; /proc and
    /// process-group walks skip it).
    var exiting = false
    /// A vfork parent waits on this until the child execs or exits.
    var vforkDone: WaitQueue?
    var vforkReleased = false
    /// A vfork parent's wait for its child, from the clone's
    /// PTRACE_EVENT_VFORK stop to the wait's end (kernel lock).
    var vforkWait: VforkWait?
    /// A restored task whose clone is in that wait (not in a ptrace stop):
    /// taken up before it first runs (its own thread).
    var restoredInVfork = false
    /// The USER_NOTIF notification a call waits on for its answer (kernel
    /// lock); a restored task's, taken up before it first runs.
    var seccompWait: (listener: SeccompListener, id: UInt64)?
    var restoredInSeccompWait = false
    /// Guest ptrace (kernel lock): the link to this task's tracer, the tasks
    /// this thread traces (dead ones until its wait reaps them), and
    /// JOBCTL_STOP_PENDING: a traced task's part in a group-stop not yet reported.
    var ptrace: PtraceLink?
    var tracees: [Task] = []
    var groupStopPending = false
    /// A restored tracee's stop, taken up before it first runs (its own thread).
    var restoredPtraceStop: RestoredPtraceStop?
    /// A call with a relative timeout that a freeze cut short, restarted
    /// with its own arguments: the call's number and the end of its wait,
    /// which the restarted call keeps (a freeze has no effect on the guest
    /// but elapsed time). Set by `block` (own thread, under the kernel lock
    /// before the task parks), taken by the dispatch of the next call.
    /// `done`: the bytes a blocking pipe write had written, which the
    /// restarted call goes on after (the guest sees one write of them all).
    public internal(set) var freezeRestart: (nr: UInt64, deadline: Deadline?, done: Int)?
    /// What `freezeRestart` gives the call being served: its deadline, and
    /// the bytes written already (taken once).
    var restartDeadline: Deadline?
    var restartDone = 0
    /// O_ASYNC signals this task's call raised under a leaf lock (a socket's,
    /// a pipe's), sent once the lock is gone: before the call sleeps, when
    /// it ends, or when the thread lets the task go (own thread only).
    /// Linux's kill_fasync sends them in the caller's context, so a reader
    /// draining a socket has its writer's POLL_OUT pending before its read
    /// returns, and a sender sees its own SIGIO before its next instruction.
    var deferredSignals: [@Sendable () -> Void] = []
    /// Whether `ptrace` is set: the syscall path's one look without the lock.
    let traced = Atomic<Bool>(false)
    // What the filesystem sees of the task (WalkContext, ProcessView).
    public var process: ProcessView? { self }
    public var sandbox: SandboxView { kernel }
    public var rootLocation: Location { fs.root }
    

    init(kernel: Kernel, tid: Int32, group: ThreadGroup, mm: MemoryManager, space: AddressSpace?, fds: FDTable,
         fs: FSContext, context: PlatformContext, regs: Registers, executablePath: String, executableLocation: Location? = nil,
         argv: [String], envp: [String], attributes: TaskAttributes) {
        self.attributes = Mutex(attributes)
        self.kernel = kernel; self.tid = tid; self.group = group
        self.fs = fs; self.context = context; self.regs = regs
        self.image = Mutex(Image(mm: mm, space: space, fds: fds, executablePath: executablePath,
                                 executableLocation: executableLocation, commandLine: argv, environment: envp))
    }

    /// Whether the task must stop running guest code now: a signal it can
    /// take, a kill, or its group stopping. Kernel lock held.
    var interruptedLocked: Bool {
        if killed || group.exitStatus != nil { return true }
        // A traced task runs on through a group-stop it has reported.
        if group.stopped && (ptrace == nil || groupStopPending) { return true }
        if ptrace?.trapStopPending == true { return true }
        return (pending.bits | group.sharedPending.bits) & ~signalMask != 0
    }

    /// Wakes the task wherever it is: blocked in the sentry, or in guest code.
    /// Kernel lock held.
    func interruptLocked() {
        waker.wake()
        if inGuest { context.kick() }
    }

    // MARK: - Blocking

    public enum BlockResult { case ready, timedOut }

    /// Blocks this task's thread until `ready()` holds, the deadline passes,
    /// or the task is interrupted (then throws `interruptedBy`, ERESTARTSYS by
    /// default). The task is registered on `queues` before the first check,
    /// so a notify between the check and the sleep is not lost. `hostFDs`
    /// are host descriptors polled alongside. `interest`: the notifies of
    /// `queues` that may make `ready` hold (WaitQueue.Interest).
    /// The end of a call's relative timeout of `ns`: from now, or, for a
    /// call restarted after a freeze, where it was.
    public func timeout(after ns: Int64) -> Deadline {
        restartDeadline ?? .after(ns)
    }

    /// Whether the call being served was cut short by a freeze: it
    /// restarts with its own arguments and `timeout(after:)` keeps its end
    /// (poll then needs no restart_syscall).
    public var cutShortByFreeze: Bool { freezeRestart != nil }

    public func block(on queues: [WaitQueue], hostFDs: [pollfd] = [], deadline: Deadline? = nil,
                      interruptible: Bool = true, interruptedBy: Errno = .ERESTARTSYS,
                      interest: WaitQueue.Interest = .all,
                      _ ready: () throws(Errno) -> Bool) throws(Errno) -> BlockResult {
        try block(on: queues, hostFDs: hostFDs, deadline: deadline, interruptible: interruptible, interruptedBy: interruptedBy,
                  interest: interest, handoff: nil, ready)
    }

    /// `block`, for a pipe read whose sleep a writer may complete
    /// (`handoff`, ReadHandoff.swift): it returns `.ready` when one did.
    func block(on queues: [WaitQueue], hostFDs: [pollfd] = [], deadline: Deadline? = nil,
               interruptible: Bool = true, interruptedBy: Errno = .ERESTARTSYS,
               interest: WaitQueue.Interest = .all, handoff: (ReadHandoff, PipeEnd, [GuestRange])?,
               _ ready: () throws(Errno) -> Bool) throws(Errno) -> BlockResult {
        for q in queues { q.add(waker, interest: interest) }
        sleepingIn.withLock { $0 = syscallLine(regs) }
        defer {
            sleepingIn.withLock { $0 = nil }
            for q in queues { q.remove(waker) }
        }
        var fds = hostFDs
        // An armed sleep's periodic wake (ReadHandoff.sleepBound) is not a switch of the guest's.
        var counted = true
        while true {
            // The interruption is looked at before `ready` and reported only
            // if `ready` still fails: a condition and an interruption that
            // come together (a child's death and its SIGCHLD) report the
            // condition, as a `ready` that looks at both under the kernel
            // lock means them to (Task.waitChild). One that comes after the
            // look has woken the waker, and the next round sees it.
            sendDeferredSignals()
            let stop: Errno? = kernel.locked {
                if interruptible ? interruptedLocked : (killed || group.exitStatus != nil) { return interruptedBy }
                // A freeze is no signal: the call restarts as if nothing
                // happened (a call that would say EINTR to a signal too).
                if interruptible && kernel.freezing {
                    freezeRestart = (regs.syscallNumber, deadline, 0)
                    return interruptedBy == .EINTR ? .ERESTARTNOINTR : interruptedBy
                }
                return nil
            }
            if try ready() { return .ready }
            if let stop { throw stop }
            var timeout: Int64 = -1
            if let deadline {
                timeout = deadline.remaining
                if timeout == 0 { return .timedOut }
            }
            if counted { voluntarySwitches.add(1, ordering: .relaxed) }
            counted = true
            let space = self.space
            context.sentryBlocked(true, in: space)
            defer { context.sentryBlocked(false, in: space) }
            if let (h, end, ranges) = handoff, fds.isEmpty, h.arm(end, ranges) {
                let slept = waker.sleepForHandoff(timeout: timeout >= 0 ? min(timeout, ReadHandoff.sleepBound) : ReadHandoff.sleepBound)
                if slept == .timedOut && timeout < 0 { counted = false }
                let outcome = slept == .claimed ? h.awaitOutcome() : .pending
                // A claimer that moved this task's stub pulled this thread after it.
                if slept == .claimed { letGoOfPull() }
                h.disarm()
                h.lastOutcome = outcome
                if outcome == .resumed || outcome == .woken { return .ready }
                continue
            }
            // A guest's own affinity rules its thread: no sync pull then
            // (Waker.pullableTID); one set during the sleep goes back on.
            let pull = attributes.withLock { $0.scheduling.affinity } == nil ? ownThreadTID : 0
            defer { if pull != 0 { letGoOfPull() } }
            try waker.sleep(timeout: timeout, hostFDs: &fds, pull: pull)
            for i in fds.indices { fds[i].revents = 0 }
        }
    }

    /// After a sleep: a sync wake-up's pin let go; a guest affinity set
    /// meanwhile goes back on (the pin replaced it).
    private func letGoOfPull() {
        if waker.releasePull(), attributes.withLock({ $0.scheduling.affinity }) != nil { applyHostAffinity() }
    }

    /// collect_syscall's record of `r`: the number (-1 outside a call), the
    /// six arguments, the stack and instruction pointers.
    func syscallLine(_ r: Registers) -> [UInt64] {
        let a = r.syscallArguments
        return [r.syscallNumber] + (0..<6).map { a[$0] } + [r.sp, r.ip]
    }

    /// /proc/PID/syscall (proc_pid_syscall): the call the task is in, read by
    /// itself or while it sleeps; "running" while it runs.
    public func procSyscallText(readBySelf: Bool) -> String {
        guard let v = readBySelf ? syscallLine(regs) : sleepingIn.withLock({ $0 }) else { return "running\n" }
        func hex(_ x: UInt64) -> String { "0x" + String(x, radix: 16) }
        let nr = Int32(truncatingIfNeeded: v[0])
        if nr < 0 { return "\(nr) \(hex(v[7])) \(hex(v[8]))\n" }
        return "\(nr) " + v[1...].map(hex).joined(separator: " ") + "\n"
    }

    /// Sleeps until the deadline (nil: none) or a signal (nanosleep, pause, sigsuspend).
    public func sleep(until deadline: Deadline?, interruptedBy: Errno) throws(Errno) {
        _ = try block(on: [], deadline: deadline, interruptedBy: interruptedBy) { () throws(Errno) in false }
    }

    /// Waits until a host fd is ready for `events` (a read on the terminal).
    public func waitHost(fd: Int32, events: Int16) throws(Errno) {
        var probe = [pollfd(fd: fd, events: events, revents: 0)]
        _ = try block(on: [], hostFDs: probe) { () throws(Errno) in
            probe[0].revents = 0
            return probe.withUnsafeMutableBufferPointer { sw_ppoll($0.baseAddress!, 1, 0) } > 0
        }
    }
}

extension Task {
    private static let currentKey: pthread_key_t = {
        var k = pthread_key_t()
        pthread_key_create(&k, nil)
        return k
    }()

    /// The task whose sentry thread this is; nil on the sentry's other
    /// threads. What Linux calls `current`: a signalfd answers for the
    /// reader, whichever process opened it.
    public static var current: Task? {
        pthread_getspecific(currentKey).map { Unmanaged<Task>.fromOpaque($0).takeUnretainedValue() }
    }

    /// At the end of `run`: the thread may be kept for another task, and
    /// must not name this one once it is gone.
    func resignCurrent() {
        sendDeferredSignals()
        pthread_setspecific(Self.currentKey, nil)
    }

    /// Sends what `deferredSignals` holds; on the task's own thread, no lock held.
    func sendDeferredSignals() {
        while !deferredSignals.isEmpty {
            let sends = deferredSignals
            deferredSignals.removeAll()
            for send in sends { send() }
        }
    }

    /// Called first thing on the task's thread; `run` keeps the task alive as long.
    /// The thread may have served another task before (`TaskThreads`).
    func makeCurrent() {
        pthread_setspecific(Self.currentKey, Unmanaged.passUnretained(self).toOpaque())
        var clock = clockid_t()
        let hostTID = sw_gettid()
        let threadBase = HostTaskCounters.readCallingThread()
        let haveClock = pthread_getcpuclockid(pthread_self(), &clock) == 0
        var now = timespec()
        let clockBase = haveClock && clock_gettime(clock, &now) == 0 ? Int64(now.tv_sec) * 1_000_000_000 + Int64(now.tv_nsec) : 0
        kernel.locked {
            if haveClock { sentryThreadClock = clock; sentryThreadClockBase = clockBase }
            sentryThreadCounters = threadBase.map { (tid: hostTID, base: $0) }
            hostThreadID = hostTID
        }
        ownThreadTID = hostTID
        noteStub()
    }

    /// Records, for other threads (the CPU-timer sampler), which host process
    /// runs this task's guest code and what its clock read when the task got
    /// it: the platform answers that only on the task's own thread.
    func noteStub() {
        // The counts start from what the stub had when the task got it: a
        // recycled stub's faults were another guest's, a fresh one's its set-up.
        let stub = kernel.hostPID(of: self).map {
            (pid: $0, base: kernel.cpuTimeBase(of: self),
             counts: space?.hostCountsBase ?? HostTaskCounters.read(process: $0) ?? HostTaskCounters())
        }
        let oldStub = kernel.locked { () -> Int32? in
            // A new host process for the guest's code (an exec into a new
            // stub): what the old one ran stays the thread's CPU time and counts.
            defer { stubClock = stub }
            guard let old = stubClock, old.pid != stub?.pid else { return nil }
            if let ns = HostCPUClock.nanoseconds(of: old.pid) { carriedCPU.guest &+= max(0, ns &- old.base) }
            if let c = HostTaskCounters.read(process: old.pid) { carriedCounters.add(c.since(old.counts)) }
            return old.pid
        }
        // The guest's CPU affinity goes with its code to the new stub (and
        // the old one, about to be recycled, gets the sentry's set back).
        resetHostAffinity(stub: oldStub, ownThread: false)
        applyHostAffinity()
    }

    /// The task's page faults, involuntary switches and block I/O so far: its stub's
    /// since it got it (where guest code runs on the sentry thread, vmexec,
    /// that thread's faults), those the sentry resolved, the serving sentry
    /// thread's preemptions, and what it carried over. Kernel lock held.
    func hostCountersLocked() -> HostTaskCounters {
        var c = carriedCounters
        c.minorFaults &+= sentryMinorFaults.load(ordering: .relaxed)
        c.majorFaults &+= sentryMajorFaults.load(ordering: .relaxed)
        if let s = stubClock, let now = space?.countsAtExitTrap ?? HostTaskCounters.read(process: s.pid) { c.add(now.since(s.counts)) }
        // On the task's own thread (its exit, its getrusage), without /proc.
        let ownThread = sentryThreadCounters.map { $0.tid == sw_gettid() } ?? false
        if let s = sentryThreadCounters,
           let now = ownThread ? HostTaskCounters.readCallingThread() : HostTaskCounters.read(sentryThread: s.tid) {
            let d = now.since(s.base)
            c.involuntarySwitches &+= d.involuntarySwitches
            // The host files the thread read and wrote serving the task (tmpfs and the memory file count none, as Linux's shmem).
            c.readBytes &+= d.readBytes
            c.writtenBytes &+= d.writtenBytes
            if stubClock == nil { c.minorFaults &+= d.minorFaults; c.majorFaults &+= d.majorFaults }
        }
        return c
    }
}

/// A task's I/O context (block/blk-ioc.c's io_context): its I/O priority,
/// shared by the tasks a CLONE_IO clone linked, an identity for kcmp.
public final class IOContext: Sendable {
    /// ioprio_set's raw value; IOPrio.none (IOPRIO_DEFAULT) until set.
    public let priority: Atomic<Int32>
    public init(priority: Int32 = IOPrio.none) { self.priority = Atomic(priority) }
}
