import Glibc

/// clone(2), clone3(2), fork(2), vfork(2): a new task, in a new or the same
/// process, with a new or the same address space.
public struct CloneArgs: Sendable {
    public var flags: UInt64
    public var stack: UInt64 = 0
    public var parentTID = GuestAddress.null
    public var childTID = GuestAddress.null
    public var tls: UInt64 = 0
    public var exitSignal: Int32 = 0
    /// CLONE_PIDFD: where the new process's pidfd number goes (clone's parent_tid, clone3's pidfd).
    public var pidfdAddress = GuestAddress.null
    /// clone3's set_tid: the pids asked for, outermost namespace last.
    public var requestedTIDs: [Int32] = []
    /// clone3's cgroup: a descriptor of a cgroup directory (CLONE_INTO_CGROUP).
    public var cgroupFD: Int32 = -1
    public init(flags: UInt64) { self.flags = flags }

    /// The exit signal's bits in legacy clone's flags.
    public static let CSIGNAL: UInt64 = 0xff
    public static let CLONE_NEWTIME: UInt64 = 0x80
    /// clone3 only: the child starts with every caught signal back at SIG_DFL.
    public static let CLONE_CLEAR_SIGHAND: UInt64 = 0x1_0000_0000
    /// clone3 only: the child starts in the cgroup `cgroupFD` names.
    public static let CLONE_INTO_CGROUP: UInt64 = 0x2_0000_0000
    /// struct clone_args: 64 bytes in 5.3, 80 with set_tid (5.5), 88 with cgroup (5.7).
    public static let sizeVer0: UInt64 = 64, sizeVer1: UInt64 = 80
    public static let sizeVer2 = 88

    public static let CLONE_VM: UInt64 = 0x100, CLONE_FS: UInt64 = 0x200, CLONE_FILES: UInt64 = 0x400
    public static let CLONE_SIGHAND: UInt64 = 0x800, CLONE_PIDFD: UInt64 = 0x1000, CLONE_PTRACE: UInt64 = 0x2000
    public static let CLONE_VFORK: UInt64 = 0x4000, CLONE_PARENT: UInt64 = 0x8000, CLONE_THREAD: UInt64 = 0x10000
    public static let CLONE_NEWNS: UInt64 = 0x20000, CLONE_SYSVSEM: UInt64 = 0x40000, CLONE_SETTLS: UInt64 = 0x80000
    public static let CLONE_PARENT_SETTID: UInt64 = 0x100000, CLONE_CHILD_CLEARTID: UInt64 = 0x200000
    public static let CLONE_DETACHED: UInt64 = 0x400000, CLONE_UNTRACED: UInt64 = 0x800000
    public static let CLONE_CHILD_SETTID: UInt64 = 0x1000000, CLONE_IO: UInt64 = 0x8000_0000
    /// Namespaces and cgroups: not something a sandboxed guest gets.
    public static let namespaceFlags: UInt64 = 0x02000000 | 0x04000000 | 0x08000000 | 0x10000000 | 0x20000000
        | 0x40000000 | CLONE_NEWNS | 0x80 /* CLONE_NEWTIME */
}

extension Task {
    public func clone(_ a: CloneArgs) throws(Errno) -> Int32 {
        let f = a.flags
        func has(_ x: UInt64) -> Bool { f & x != 0 }
        // copy_process's consistency rules.
        if has(CloneArgs.CLONE_THREAD) && !has(CloneArgs.CLONE_SIGHAND) { throw .EINVAL }
        if has(CloneArgs.CLONE_SIGHAND) && !has(CloneArgs.CLONE_VM) { throw .EINVAL }
        if has(CloneArgs.CLONE_FS) && has(CloneArgs.CLONE_NEWNS) { throw .EINVAL }
        if has(CloneArgs.CLONE_PARENT) && group === kernel.locked({ kernel.initGroup }) { throw .EINVAL }
        // A pidfd names a process: not a thread; and not detached (6.1).
        if has(CloneArgs.CLONE_PIDFD) && (has(CloneArgs.CLONE_THREAD) || has(CloneArgs.CLONE_DETACHED)) { throw .EINVAL }
        if f & CloneArgs.namespaceFlags != 0 { throw .EPERM }
        // alloc_pid's set_tid rules: one pid namespace here, so one pid, in
        // range, and choosing it needs CAP_SYS_ADMIN or CAP_CHECKPOINT_RESTORE.
        var requested: Int32?
        if !a.requestedTIDs.isEmpty {
            guard a.requestedTIDs.count == 1, let tid = a.requestedTIDs.first, tid >= 1, tid < Kernel.pidMax else { throw .EINVAL }
            let caps = attributes.withLock { $0.credentials }
            guard caps.capable(Credentials.CAP_SYS_ADMIN) || caps.capable(Credentials.CAP_CHECKPOINT_RESTORE) else { throw .EPERM }
            requested = tid
        }
        // cgroup_css_set_fork: the descriptor must be a directory of a cgroup
        // filesystem; the sandbox has none, so every descriptor is EBADF.
        if has(CloneArgs.CLONE_INTO_CGROUP) { throw .EBADF }
        let thread = has(CloneArgs.CLONE_THREAD)
        // --pids (checked again when the task is added): a fork bomb's
        // failing forks should not copy their memory first.
        if let max = kernel.pidsLimit, kernel.locked({ kernel.taskCountLocked }) >= max { throw .EAGAIN }
        // sched_fork: a SCHED_DEADLINE task may not fork, unless its children go back to SCHED_OTHER.
        let scheduling = attributes.withLock { $0.scheduling }
        if scheduling.policy == Scheduling.SCHED_DEADLINE && !scheduling.resetOnFork { throw .EAGAIN }

        let childMM: MemoryManager
        var ticket: RunnerTicket?
        do {
            if has(CloneArgs.CLONE_VM) {
                childMM = mm
                ticket = try space.prepareRunner()
            } else {
                childMM = try mm.fork()
            }
        } catch let e as Errno { throw e } catch { throw .EAGAIN }
        // Where the platform has a space ready that can change threads
        // (systrap's pool), this thread attaches the child's mm to it and
        // hands it to the child's thread: no hand-off back and forth between
        // the two threads before the child runs (the parent waiting for the
        // child's stub, the child for the go). The mirror is mapped by the
        // child's first RUN where the platform can (`mapAtFirstRun`), else
        // here, with the child's rseq area registered with the host in the
        // same round trip (rseq_fork: the child inherits the registration).
        var childSpace: AddressSpace?
        var childRseqOnHost: Bool?
        if !has(CloneArgs.CLONE_VM) {
            do {
                if let sp = try kernel.platform.makeMovableAddressSpace() {
                    do throws(PlatformError) { childRseqOnHost = try childMM.attach(sp, registeringRseq: rseq) }
                    catch { sp.leave(); throw error }
                    childSpace = sp
                }
            } catch { throw .EAGAIN }
        }
        let context: PlatformContext
        do { context = try kernel.platform.makeContext() } catch { childSpace?.leave(); throw .EAGAIN }
        // fpu_clone: the child's FPU state is the caller's as it made the call.
        let parentFPU = try? self.context.fpuState(space)
        let childFDs = has(CloneArgs.CLONE_FILES) ? fds.retainUser() : fds.copy()
        let childFS = has(CloneArgs.CLONE_FS) ? fs : fs.copy()
        var childRegs = regs
        childRegs.raw.rax = 0
        SyscallABI.leaveSyscall(&childRegs.raw)   // nothing to restart
        if a.stack != 0 { childRegs.raw.rsp = a.stack }
        if has(CloneArgs.CLONE_SETTLS) { childRegs.raw.fs_base = a.tls }

        // kernel_clone: which PTRACE_EVENT_* this clone is, if the tracer asked for it.
        let traceEvent: Int32? = {
            guard !has(CloneArgs.CLONE_UNTRACED) else { return nil }
            let e = has(CloneArgs.CLONE_VFORK) ? PtraceABI.PTRACE_EVENT_VFORK
                : a.exitSignal != Signal.SIGCHLD.rawValue ? PtraceABI.PTRACE_EVENT_CLONE : PtraceABI.PTRACE_EVENT_FORK
            return ptraceWants(e) ? e : nil
        }()
        let childResult: Result<Task, Errno> = kernel.locked {
            if killed || group.exitStatus != nil { return .failure(.EINTR) }
            // The pids cgroup's pids.max: every task counts, a zombie until reaped.
            if let max = kernel.pidsLimit, kernel.taskCountLocked >= max { return .failure(.EAGAIN) }
            let tid: Int32
            if let requested {
                if kernel.tasks[requested] != nil || kernel.groups[requested] != nil { return .failure(.EEXIST) }
                tid = requested
            } else {
                tid = kernel.allocateID()
            }
            let g: ThreadGroup
            if thread {
                g = group
            } else {
                let parent = has(CloneArgs.CLONE_PARENT) ? group.parent : group
                g = ThreadGroup(pid: tid, parent: parent, pgid: group.pgid, sid: group.sid,
                                handlers: has(CloneArgs.CLONE_SIGHAND) ? group.handlers
                                    : has(CloneArgs.CLONE_CLEAR_SIGHAND) ? group.handlers.copyResettingCaught() : group.handlers.copy(),
                                limits: group.limits.withLock { $0 },
                                // Legacy clone takes any CSIGNAL value; one that is no
                                // signal is simply never sent (clone3 refuses it). A
                                // CLONE_PARENT child tells the caller's parent with the
                                // caller's own exit signal, as Linux's copy_process does.
                                exitSignal: has(CloneArgs.CLONE_PARENT) ? group.exitSignal
                                    : (1...64).contains(a.exitSignal) ? Signal(a.exitSignal) : nil)
                // The thread that made it (real_parent), or for CLONE_PARENT the caller's own.
                g.parentThreadID = has(CloneArgs.CLONE_PARENT) ? group.parentThreadID : self.tid
                g.oomScoreAdj = group.oomScoreAdj
                g.oomScoreAdjMin = group.oomScoreAdjMin
                parent?.children.append(g)
                kernel.groups[tid] = g
            }
            let t = Task(kernel: kernel, tid: tid, group: g, mm: childMM, space: nil, fds: childFDs, fs: childFS,
                         context: context, regs: childRegs, executablePath: executablePath, executableLocation: executableLocation,
                         argv: commandLine, envp: environment, attributes: attributes.withLock { $0.forChild() })
            t.signalMask = signalMask
            t.inheritedFPU = parentFPU
            // copy_io: shared under CLONE_IO, else a set priority is copied.
            if has(CloneArgs.CLONE_IO) { t.ioContext = ioContext }
            else if IOPrio.isSet(ioContext.priority.load(ordering: .relaxed)) { t.ioContext = IOContext(priority: ioContext.priority.load(ordering: .relaxed)) }
            // A new stack for a sibling sharing the mm: the alternate stack is not inherited.
            if !has(CloneArgs.CLONE_VM) || has(CloneArgs.CLONE_VFORK) { t.altStack = altStack }
            if !has(CloneArgs.CLONE_VM) { t.rseq = rseq; t.rseqOnHost = childRseqOnHost }   // rseq_fork
            // ptrace_init_task: traced from birth, stopping first (SIGSTOP, or a
            // PTRACE_EVENT_STOP trap when seized).
            if let link = ptrace, link.exitReport == nil, traceEvent != nil || has(CloneArgs.CLONE_PTRACE) {
                let childLink = t.linkTracerLocked(link.tracer, seized: link.seized, options: link.options)
                if link.seized { childLink.trapStopPending = true } else { t.pending.enqueue(SignalInfo(.SIGSTOP, code: SignalInfo.SI_USER)) }
            }
            g.tasks.append(t)
            kernel.tasks[tid] = t
            return .success(t)
        }
        let child: Task
        switch childResult {
        case .success(let t): child = t
        case .failure(let e):
            childFDs.releaseUser()
            if let ticket { space.abandon(ticket) }
            childSpace?.leave()
            throw e
        }
        // The child's host side (its thread, its stub) is made before the
        // clone returns, as Linux's copy_process makes the whole child: if
        // the host runs out (threads, processes), the clone is EAGAIN and
        // leaves no trace, never a child that exists but never runs.
        let start = ChildStart()
        let childSetTID = has(CloneArgs.CLONE_CHILD_SETTID), childTIDAddress = a.childTID
        let platform = kernel.platform
        let reuse = platform.reusesTaskThreads
        if let childSpace {
            child.space = childSpace
            childSpace.handOver()
        }
        // The parent's last writes to the child and its own memory (the
        // tids, the pidfd, the vfork queue), then the child's go.
        let vfork = has(CloneArgs.CLONE_VFORK) ? WaitQueue() : nil
        func parentSide() {
            kernel.tracer?.showPIDs.store(true, ordering: .relaxed)
            if has(CloneArgs.CLONE_PIDFD) {
                // Made before the child runs, as copy_process does. (Linux fails
                // the whole clone when the table is full; here the child runs and
                // the parent finds -1: a full fd table at clone is the rare case.)
                let fd = (try? pidfd(child.group))?.rawValue ?? -1
                try? mm.write(a.pidfdAddress, fd)
            }
            if has(CloneArgs.CLONE_PARENT_SETTID) { try? mm.write(a.parentTID, UInt32(bitPattern: child.tid)) }
            if has(CloneArgs.CLONE_CHILD_CLEARTID) { child.clearChildTID = a.childTID }
            child.vforkDone = vfork
            start.go()
        }
        let body: @Sendable () -> Void = { [ticket, childSpace] in
            do throws(PlatformError) {
                if let childSpace {
                    childSpace.takeOver()
                } else if let ticket {
                    try childMM.addressSpace!.join(ticket)
                    child.space = childMM.addressSpace
                } else {
                    let sp = try platform.makeAddressSpace()
                    do throws(PlatformError) { try childMM.attach(sp) } catch { sp.leave(); throw error }
                    child.space = sp
                }
            } catch {
                start.finish(false)
                return
            }
            // The parent's last writes (its tid, the vfork queue) come first.
            guard start.finish(true) else { child.space?.leave(); return }
            // CLONE_CHILD_SETTID, written by the child itself as
            // schedule_tail does: a write into the child's memory may
            // break copy-on-write, which only a runner of its mm can do.
            if childSetTID { try? childMM.write(childTIDAddress, UInt32(bitPattern: child.tid)) }
            child.run()
        }
        let threads = TaskThreads.shared
        if reuse, childSpace != nil || ticket?.ready == true, threads.reserve() {
            // Nothing left can fail: the child's mirror was built here (or
            // left to its first RUN) or its stub is a spare, and a kept
            // thread is reserved for it. It is given its go first, and runs
            // without waiting for it.
            parentSide()
            threads.run(reserved: body)
        } else {
            do {
                if reuse { try threads.run(body) } else { try HostThread.spawn(body) }
            } catch {
                if let ticket { space.abandon(ticket) }
                if let childSpace { childSpace.takeOver(); childSpace.leave() }
                start.abandon()
            }
            // A child whose mirror was built here, or whose runner was ready
            // (a spare stub), has nothing left that can fail: its thread
            // exists, and it is not waited for.
            guard (childSpace != nil || ticket?.ready == true) && !start.abandoned || start.wait() else {
                kernel.locked { kernel.forgetUnstartedLocked(child) }
                childFDs.releaseUser()
                throw .EAGAIN
            }
            parentSide()
        }
        // Known before the PTRACE_EVENT_VFORK stop: a checkpoint taken in it keeps the wait too.
        let vforkWait = vfork.map { VforkWait(childTID: child.tid, child: child, done: $0) }
        if let vforkWait { kernel.locked { self.vforkWait = vforkWait } }
        if let traceEvent { ptraceEvent(traceEvent, message: UInt64(UInt32(bitPattern: child.tid))) }

        if let vforkWait {
            // The parent sleeps until the child execs or exits (killable only).
            waitForVforkChild(vforkWait)
            ptraceEvent(PtraceABI.PTRACE_EVENT_VFORK_DONE, message: UInt64(UInt32(bitPattern: child.tid)))
        }
        return child.tid
    }
}

/// The hand-off between `clone` and the new task's host thread: the thread
/// says whether it got its stub, then waits for the parent's go (the
/// parent's last writes to the child: tids, the vfork queue) before the
/// child runs.
/// Sendable: `started` and `going` behind its pthread mutex.
final class ChildStart: @unchecked Sendable {
    // Allocated: a pthread object must not move, and `&property` may pass a temporary.
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let cond = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
    private var started: Bool?
    private var going: Bool?

    init() {
        pthread_mutex_init(mutex, nil)
        pthread_cond_init(cond, nil)
    }
    deinit {
        pthread_cond_destroy(cond)
        pthread_mutex_destroy(mutex)
        cond.deallocate()
        mutex.deallocate()
    }

    private func locked<T>(_ body: () -> T) -> T {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return body()
    }

    /// The child's thread: whether its host side is ready. On success it
    /// waits for `go` and returns true, or false if the clone was given up.
    @discardableResult
    func finish(_ ok: Bool) -> Bool {
        locked {
            started = ok
            pthread_cond_broadcast(cond)
            guard ok else { return false }
            while going == nil { pthread_cond_wait(cond, mutex) }
            return going!
        }
    }

    /// No thread could be made.
    func abandon() { locked { started = false; pthread_cond_broadcast(cond) } }

    /// The parent: `abandon` was called (no thread will run).
    var abandoned: Bool { locked { started == false } }

    /// The parent: whether the child's thread got its stub.
    func wait() -> Bool {
        locked {
            while started == nil { pthread_cond_wait(cond, mutex) }
            return started!
        }
    }

    /// The parent: the child may run.
    func go() { locked { going = true; pthread_cond_broadcast(cond) } }
}

extension Kernel {
    /// Undoes a clone whose task never ran: its tid, its place in its
    /// process and, for a new process, the process itself, as if it had
    /// never been (a failed fork leaves nothing in /proc or for wait). Kernel lock held.
    func forgetUnstartedLocked(_ child: Task) {
        if tasks[child.tid] === child { tasks[child.tid] = nil }
        let g = child.group
        g.tasks.removeAll { $0 === child }
        if g.pid == child.tid, g.tasks.isEmpty {
            g.parent?.children.removeAll { $0 === g }
            if groups[g.pid] === g { groups[g.pid] = nil }
        }
    }
}
