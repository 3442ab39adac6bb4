import CSwitch
import Glibc
import Synchronization

/// One sandbox: a platform, a memory file, a filesystem view, a syscall
/// table, and the tasks running in it, with their own pid namespace (the
/// first guest is pid 1).
///
/// Locking (the order, outermost first; a thread holding a lock takes only
/// locks further down the list):
///
/// 1. `MemoryManager.state`, one per mm: the VMAs, brk and the host mirror.
///    Held across stub round trips (mmap/munmap/mprotect run in a stub) and
///    host file reads, so it is never taken under the kernel lock. Under it:
///    the futex table's queues (`withWord`), the image and host page caches,
///    a file's own pages (tmpfs), the memory file's allocator, the platform's
///    address space.
/// 2. The kernel lock (`locked`, this class): the process tree (`tasks`,
///    `groups`, parents and children), every task's signal state (mask,
///    pending, altStack, savedMask, the guest-side mask's words), `SignalHandlers`, `ProcessTimers`, job
///    control, exit and wait, as Linux's tasklist_lock and siglock. Not
///    recursive. Nothing that may block or talk to a stub runs under it;
///    under it only per-object locks from the list below, and waking a task
///    (an eventfd write, a kick).
/// 3. Per-object `Mutex`es (a task's image and attributes, a group's
///    limits, FSContext, FDTable, a file description's flags, a wait queue,
///    the timer thread's list, the memory file's allocator): each guards its
///    own object, and takes no other lock while held, except
///    `IPCNamespace.lock` (the memory file's allocator under it) and a
///    `SocketEndpoint`'s (never two endpoints at once).
///
/// Blocking (`Task.block`) happens with no lock held.
/// Sendable: the process tree behind the kernel lock (above); the rest immutable or self-locking.
public final class Kernel: @unchecked Sendable {
    public let platform: Platform
    public let memory: MemoryFile
    public let layout: AddressLayout
    public let table: SyscallTable
    public let vfs: VFS
    /// Its namespaces, as /proc/PID/ns and setns see them.
    public let namespaces = Namespaces()
    /// The tracer: `--strace`'s from the start, or one attached live (`sentry trace`).
    let tracers: TracerSlot
    /// The tracer now (nil: a single relaxed load, see TracerSlot).
    public var tracer: Tracer? { tracers.current }
    /// CLOCK_MONOTONIC at boot, for sysinfo's uptime and /proc. A restore
    /// sets the image's before any task runs; it never changes after.
    public internal(set) var bootTime: timespec
    let futexes = FutexTable()
    /// Read-only pages of executables, shared across execs.
    public let imageCache: ImageCache
    /// Host files' pages mapped MAP_SHARED, shared by every process.
    public let hostPages: HostPageCache
    /// System V shared memory, semaphores and message queues.
    public let ipc: IPCNamespace
    let timerThread = TimerThread()
    /// The first guest's credentials: the sentry's own unless set before `start`.
    public var initialCredentials = Credentials.sentrys()
    /// The sandbox's AF_UNIX names: abstract ones and bound socket nodes.
    public let unixNames = UnixNamespace()
    /// What AF_INET/AF_INET6 sockets reach; set before `start`.
    public var network = NetworkMode.none
    /// `--pids`: how many tasks (threads included, zombies until reaped) the
    /// sandbox may hold, as the pids cgroup's pids.max; nil for no limit.
    public var pidsLimit: Int?
    /// Guest processes the OOM killer has ended (/proc/vmstat's oom_kill).
    let oomKills = Atomic<Int>(0)
    /// Nil without a memory limit; set in init only, its watcher thread
    /// starts with `run`.
    private(set) var oomKiller: OOMKiller?

    private let mutex = KernelLock()
    // Guarded by the lock.
    var tasks: [Int32: Task] = [:]
    var groups: [Int32: ThreadGroup] = [:]
    private var nextID: Int32 = 1
    var initGroup: ThreadGroup?
    var initStatus: ExitStatus?
    /// Woken when init's process is gone: the sandbox is over.
    let finished = Waker()
    /// A checkpoint has asked every task to stop (see Freeze.swift).
    var freezing = false
    /// Tasks between the start of `exitTask` and its last report (the
    /// tracer's exit line, the parent's notice): the sandbox's end waits
    /// for them, so a thread that died just before init does not lose its
    /// `+++ killed by` line.
    var exitsInProgress = 0
    /// The CPU-time sampler is scheduled (CPUTimers.swift).
    var cpuSampling = false
    /// Woken when a task parks; tasks wait on `thawEvents` to go on.
    let parkEvents = Waker()
    let thawEvents = WaitQueue()
    /// A checkpoint ended the sandbox (not the guest's own doing).
    var endedByCheckpoint = false
    public var wasCheckpointed: Bool { locked { endedByCheckpoint } }
    /// uname's nodename: the host's until the user or a guest sets another.
    var utsHostname: String = {
        var u = utsname()
        uname(&u)
        return withUnsafeBytes(of: &u.nodename) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
    }()

    public init(platform: Platform, memory: MemoryFile, layout: AddressLayout, table: SyscallTable, vfs: VFS, tracer: Tracer?) {
        self.platform = platform; self.memory = memory; self.layout = layout
        self.table = table; self.vfs = vfs; self.tracers = TracerSlot(tracer)
        self.imageCache = ImageCache(memory: memory)
        self.hostPages = HostPageCache(memory: memory)
        self.ipc = IPCNamespace(memory: memory)
        // On the guest's clock (a restored sandbox's may be offset).
        let boot = Deadline.now()
        bootTime = timespec(tv_sec: Int(boot / 1_000_000_000), tv_nsec: Int(boot % 1_000_000_000))
        // Only the kernel's tasks change its files. Not [weak self]: a weak
        // reference gives the kernel a side table, and every retain of it
        // (a dozen on every syscall's path) takes the runtime's slow path.
        vfs.dnotify.setSender { [unowned(unsafe) self] pid, signal, fd in self.sendDirNotify(to: pid, signal: signal, fd: fd) }
        oomKiller = OOMKiller.make(self)
    }

    @inline(__always)
    public func locked<T, E: Error>(_ body: () throws(E) -> T) throws(E) -> T {
        mutex.lock()
        defer { mutex.unlock() }
        return try body()
    }

    /// A restore's ids are the image's: new ones start above them. Kernel lock held.
    func restoreNextIDLocked() {
        let top = max(tasks.keys.max() ?? 0, groups.keys.max() ?? 0)
        nextID = top >= 4_194_304 ? 2 : top + 1
    }

    /// A fresh id for a task or process, unique among the living (and zombies).
    /// /proc/sys/kernel/pid_max: pids are below it.
    public static let pidMax: Int32 = 4_194_304

    func allocateID() -> Int32 {
        while tasks[nextID] != nil || groups[nextID] != nil { nextID = nextID >= Self.pidMax - 1 ? 2 : nextID + 1 }
        let id = nextID
        nextID = nextID >= Self.pidMax - 1 ? 2 : nextID + 1
        return id
    }

    public func task(_ tid: Int32) -> Task? { locked { tasks[tid] } }
    public var processCount: Int { locked { groups.values.filter { !$0.zombie }.count } }
    /// Tasks alive plus zombies not yet reaped: what the pids cgroup counts. Kernel lock held.
    var taskCountLocked: Int { tasks.count + groups.values.reduce(0) { $0 + ($1.zombie ? 1 : 0) } }

    public enum StartError: Error, CustomStringConvertible {
        case load(LoadError)
        case platform(PlatformError)
        case guest(String, Errno)
        public var description: String {
            switch self {
            case .load(let e): return e.description
            case .platform(let e): return e.description
            case .guest(let what, let e): return "\(what): \(e.message)"
            }
        }
    }

    /// Creates the first task (pid 1): a stub address space with `path`
    /// loaded, the sentry's stdin/stdout/stderr as fds 0-2. Must run on the
    /// thread that will run the task.
    /// `signalMask` and `ignored` are what the sentry itself was started
    /// with: the guest inherits them, as a program exec'd in its place would.
    public func start(path guestPath: String, argv: [String], envp: [String], cwd: String,
                      signalMask: UInt64 = 0, ignored: UInt64 = 0) throws(StartError) -> Task {
        let stdio = (Int32(0)...2).map { n -> (fd: Int32, flags: Int32, name: String)? in
            let dup = fcntl(n, F_DUPFD_CLOEXEC, 3)
            guard dup >= 0 else { return nil }  // the sentry was started with it closed: so is the guest
            return (dup, fcntl(n, F_GETFL), Self.stdioName(n))
        }
        return try makeProcess(path: guestPath, argv: argv, envp: envp, cwd: cwd, credentials: initialCredentials, stdio: stdio,
                               signalMask: signalMask, ignored: ignored, isInit: true, onExit: nil)
    }

    /// A process entered into the running sandbox from outside (an OCI
    /// runtime's `exec`, as runc's setns into a container's namespaces):
    /// pid allocated in the sandbox, no parent inside it (ppid 0, reaped
    /// when it dies), a session of its own, `stdio` (host descriptors,
    /// adopted) as fds 0-2. `onExit` is called with the kernel lock held
    /// when its last thread is gone: it must not block. Must run on the
    /// thread that will run the task (`runEntered`).
    public func enter(path guestPath: String, argv: [String], envp: [String], cwd: String, credentials: Credentials,
                      stdio: [Int32], onExit: @escaping @Sendable (ExitStatus) -> Void) throws(StartError) -> Task {
        let named = stdio.map { fd -> (fd: Int32, flags: Int32, name: String)? in
            (fd, fcntl(fd, F_GETFL), Self.stdioName(fd))
        }
        return try makeProcess(path: guestPath, argv: argv, envp: envp, cwd: cwd, credentials: credentials, stdio: named,
                               signalMask: 0, ignored: 0, isInit: false, onExit: onExit)
    }

    /// Runs an entered process's first task on the calling thread.
    public func runEntered(_ task: Task) { task.run() }

    private func makeProcess(path guestPath: String, argv: [String], envp: [String], cwd: String, credentials: Credentials,
                             stdio: [(fd: Int32, flags: Int32, name: String)?], signalMask: UInt64, ignored: UInt64,
                             isInit: Bool, onExit: (@Sendable (ExitStatus) -> Void)?) throws(StartError) -> Task {
        let boot = BootContext(self, credentials: credentials)
        let cwdLocation = (try? vfs.directory(cwd, from: vfs.rootLocation, boot)) ?? vfs.rootLocation
        let exe = try findExecutable(guestPath, argv: argv, from: cwdLocation, boot)
        // The image is loaded before a stub is taken, then mirrored into it
        // in one batch: the stub pool starts its first stub meanwhile.
        let mm = MemoryManager(memory: memory, space: nil, layout: layout, imageCache: imageCache, hostPages: hostPages)
        let loaded: Loader.Result
        do { loaded = try Loader.load(exe.program, interpreter: exe.interpreter, into: mm, argv: exe.argv, envp: envp, execfn: exe.path,
                                      ids: .init(credentials)) }
        catch {
            // Segments that do not fit the address space or the memory file:
            // the file asks for what no process can have (execve: ENOMEM).
            if error == .ENOMEM { throw .load(.corrupt(exe.path, "its segments do not fit in memory (ENOMEM)")) }
            throw .guest("loading \(guestPath)", error)
        }
        let space: AddressSpace, context: PlatformContext
        do {
            space = try platform.makeAddressSpace()
            context = try platform.makeContext()
            try mm.attach(space)
        } catch { throw .platform(error) }

        let fds = FDTable()
        for (n, io) in stdio.enumerated() {
            guard let io else { continue }
            let acc = io.flags & (O_ACCMODE | O_APPEND | O_NONBLOCK)
            _ = try? fds.install(HostFile(stdio: io.fd, flags: OpenFlags(rawValue: acc), name: io.name, number: Int32(n)),
                                 at: FileDescriptor(Int32(n)), closeOnExec: false)
        }
        return locked {
            let id = allocateID()
            let group = ThreadGroup(pid: id, parent: nil, pgid: id, sid: id, handlers: SignalHandlers(),
                                    limits: ThreadGroup.hostLimits(), exitSignal: nil)
            let task = Task(kernel: self, tid: id, group: group, mm: mm, space: space, fds: fds,
                            fs: FSContext(cwd: cwdLocation, root: vfs.rootLocation, umask: 0o022), context: context,
                            regs: Self.entryRegisters(space, loaded), executablePath: exe.program.file.path,
                            executableLocation: exe.program.location, argv: exe.argv, envp: envp,
                            attributes: TaskAttributes(credentials: credentials, executablePath: exe.path))
            if let nofile = group.limits.withLock({ $0[ResourceLimit.RLIMIT_NOFILE] }) { fds.limit = Int32(clamping: nofile.cur) }
            task.signalMask = signalMask & ~SignalSets.unblockable
            for n in 1...64 where ignored & (1 << UInt64(n - 1)) != 0 && n != 9 && n != 19 {
                group.handlers.actions[n].handler = SignalAction.SIG_IGN
            }
            group.tasks = [task]
            tasks[id] = task
            groups[id] = group
            if isInit { initGroup = group } else { group.onExitFromOutside = onExit }
            return task
        }
    }

    /// The registers a freshly loaded image starts with.
    static func entryRegisters(_ space: AddressSpace, _ loaded: Loader.Result) -> Registers {
        var regs = space.initialRegisters
        regs.raw.rax = 0; regs.raw.rbx = 0; regs.raw.rcx = 0; regs.raw.rdx = 0; regs.raw.rsi = 0; regs.raw.rdi = 0
        regs.raw.rbp = 0; regs.raw.r8 = 0; regs.raw.r9 = 0; regs.raw.r10 = 0; regs.raw.r11 = 0; regs.raw.r12 = 0
        regs.raw.r13 = 0; regs.raw.r14 = 0; regs.raw.r15 = 0; regs.raw.fs_base = 0; regs.raw.gs_base = 0
        regs.raw.eflags = StartState.rflags
        SyscallABI.leaveSyscall(&regs.raw)
        regs.ip = loaded.entry.rawValue
        regs.sp = loaded.stackPointer.rawValue
        return regs
    }

    /// Runs pid 1 on the calling thread, waits until its whole process is
    /// gone, ends every other task, and returns init's status.
    public func run(_ initTask: Task) -> ExitStatus {
        oomKiller?.startWatching()
        initTask.run()
        while locked({ initStatus == nil }) {
            var p = pollfd(fd: finished.fd, events: Int16(POLLIN), revents: 0)
            _ = sw_ppoll(&p, 1, -1)
            finished.drain()
        }
        // Linux kills the rest of a pid namespace when its init dies.
        locked {
            for g in groups.values where !g.zombie { killGroupLocked(g, .signaled(.SIGKILL, coreDumped: false)) }
        }
        // Every task's exit reported before the sandbox ends (zap_pid_ns_processes
        // waits for them too); bounded, so a stuck host thread cannot hold the exit.
        let deadline = Deadline.after(5_000_000_000)
        while locked({ !tasks.isEmpty || exitsInProgress > 0 }), deadline.remaining > 0 { usleep(1_000) }
        return locked { initStatus! }
    }

    static func stdioName(_ n: Int32) -> String {
        var buf = [CChar](repeating: 0, count: 4096)
        // readlinkat, which the sentry's own filter allows: an OCI exec names its stdio once confined.
        let r = readlinkat(AT_FDCWD, "/proc/self/fd/\(n)", &buf, 4095)
        return r > 0 ? String(rawBytes: buf[0..<r].map { UInt8(bitPattern: $0) }) : "/dev/fd/\(n)"
    }

    /// Serves the syscall the task trapped on and says what comes next (the
    /// run loop applies the outcome): the guest's own Syscall User Dispatch,
    /// a guest tracer's syscall-entry stop, the --strace tracer's entry, the
    /// guest's seccomp filters, then the table, in the order of Linux's
    /// syscall_trace_enter; the syscall-exit stop last.
    func dispatch(_ task: Task) -> SyscallOutcome {
        let nr = task.regs.syscallNumber
        let args = task.regs.syscallArguments
        // int $0x80 also arrives as a syscall trap (the host has IA32
        // emulation); the sentry's kernel has none: a #GP, never a syscall.
        if !SyscallABI.rcxHoldsReturnAddress(task.regs.raw) && Self.isInt80(task) {
            return task.int80WithoutIA32Emulation()
        }
        // Two flags in the common case; the configurations (and the filter
        // chain's reference) only for a task that has them. A traced task is
        // the third case, looked at once SUD has let the call through.
        let (sudOn, filtered) = task.attributes.withLock {
            ($0.syscallUserDispatch.on, $0.seccomp.mode != Seccomp.SECCOMP_MODE_DISABLED)
        }
        let arch = SeccompData.AUDIT_ARCH_X86_64
        if sudOn {
            switch task.syscallUserDispatch(task.attributes.withLock { $0.syscallUserDispatch }) {
            case .proceed:
                break
            case .dispatched:
                // A SIGSYS for the handler; neither the entry nor the exit is
                // traced, as Linux reports neither.
                var info = SignalInfo(.SIGSYS, code: SyscallUserDispatch.SYS_USER_DISPATCH)
                info.address = task.regs.ip
                info.syscall = Int32(truncatingIfNeeded: nr)
                info.arch = arch
                task.force(info)
                // syscall_rollback: rax holds the number.
                return .value(Int64(bitPattern: nr))
            case .fatal(let sig):
                task.forceExit(sig)
                return .value(Int64(bitPattern: nr))
            }
        }
        // A guest tracer's syscall-entry stop: it may change the number and
        // arguments, or (orig_rax -1) skip the call; under PTRACE_SYSEMU the
        // call is never run, rax is what the tracer left.
        let traced = task.traced.load(ordering: .acquiring)
        if traced, case let mode = task.ptraceSyscallMode, mode != .none {
            task.ptraceSyscallStop(entry: true)
            return afterEntryStop(task, mode: mode)
        }
        return serve(task, nr: nr, args: args, traced: traced, skipped: false, filtered: filtered)
    }

    /// The call after its syscall-entry stop, as the tracer left it.
    private func afterEntryStop(_ task: Task, mode: PtraceLink.SyscallMode) -> SyscallOutcome {
        if mode == .emulate || locked({ task.killed || task.group.exitStatus != nil }) { return .replacedRegisters }
        let filtered = task.attributes.withLock { $0.seccomp.mode != Seccomp.SECCOMP_MODE_DISABLED }
        return serve(task, nr: task.regs.syscallNumber, args: task.regs.syscallArguments, traced: true, skipped: Self.skipsCall(task),
                     filtered: filtered)
    }

    /// A restored tracee in a syscall-entry or -exit stop takes it up where
    /// its image left it, and goes on with the call (entry) or to user mode (exit).
    func resumeRestoredSyscallStop(_ task: Task, entry: Bool) -> SyscallOutcome {
        let mode = locked { task.ptrace?.syscallMode ?? .none }
        let answer = task.rejoinPtraceStop()
        if let sig = answer?.resume.signal, sig != 0 { task.post(SignalInfo(Signal(sig), code: SignalInfo.SI_KERNEL)) }
        return entry ? afterEntryStop(task, mode: mode) : .replacedRegisters
    }

    /// A restored tracee in the PTRACE_EVENT stop of a fork, vfork, clone
    /// or exec takes it up, and its call ends as it would have: the child's
    /// tid (a vfork's after the wait for its child and the
    /// PTRACE_EVENT_VFORK_DONE stop), or the new program's
    /// registers; then the syscall-exit stop if the tracer asked for one.
    /// The signal a tracer resumes an event stop with is ignored.
    func resumeRestoredEventStop(_ task: Task, _ stop: RestoredPtraceStop) -> SyscallOutcome {
        _ = task.rejoinPtraceStop()
        if locked({ task.killed || task.group.exitStatus != nil }) { return .replacedRegisters }
        var outcome = SyscallOutcome.replacedRegisters
        if case .forked(let child, let vfork) = stop {
            // A vfork child that had not released the mm yet: the wait comes first.
            if vfork, let w = locked({ task.vforkWait }) {
                task.waitForVforkChild(w)
                if locked({ task.killed || task.group.exitStatus != nil }) { return .replacedRegisters }
            }
            if vfork { task.ptraceEvent(PtraceABI.PTRACE_EVENT_VFORK_DONE, message: UInt64(UInt32(bitPattern: child))) }
            outcome = .value(Int64(child))
        }
        return syscallExitStop(task, outcome, traced: true)
    }

    /// A restored tracee in a PTRACE_EVENT_SECCOMP stop takes it up, and its
    /// call goes on as __seccomp_filter's does after the stop: the filters
    /// again on what the tracer left, then the call.
    func resumeRestoredSeccompStop(_ task: Task) -> SyscallOutcome {
        serve(task, nr: task.regs.syscallNumber, args: task.regs.syscallArguments, traced: true, skipped: false, filtered: true,
              inSeccompStop: true)
    }

    /// A restored task whose call waits for a USER_NOTIF answer: the wait
    /// goes on, and the call runs or returns as the answer says.
    func resumeRestoredSeccompWait(_ task: Task) -> SyscallOutcome {
        guard let w = locked({ task.seccompWait }) else { return .replacedRegisters }
        let verdict = w.listener.awaitReply(task, id: w.id)
        return serve(task, nr: task.regs.syscallNumber, args: task.regs.syscallArguments, traced: task.traced.load(ordering: .acquiring),
                     skipped: false, filtered: true, decided: verdict)
    }

    /// The rest of syscall_trace_enter and the call itself: --strace's
    /// entry, the guest's seccomp filters, the table, the syscall-exit stop.
    /// `inSeccompStop`: a restored tracee, in the PTRACE_EVENT_SECCOMP stop
    /// its filters' SECCOMP_RET_TRACE made; `decided`: what a restored
    /// call's USER_NOTIF answer made of it.
    private func serve(_ task: Task, nr: UInt64, args: SyscallArguments, traced: Bool, skipped: Bool, filtered: Bool,
                       inSeccompStop: Bool = false, decided: SeccompVerdict? = nil) -> SyscallOutcome {
        var nr = nr, args = args, skipped = skipped
        let arch = SeccompData.AUDIT_ARCH_X86_64
        // A call a freeze cut short goes on to the end its wait had.
        task.restartDeadline = nil
        task.restartDone = 0
        if let f = task.freezeRestart {
            task.freezeRestart = nil
            if f.nr == nr { task.restartDeadline = f.deadline; task.restartDone = f.done }
        }
        // Filtered before anything is formatted or timed (-e trace=). The
        // exit goes to the tracer that saw the entry (one may attach or detach meanwhile).
        let tracer = self.tracer
        let pre = skipped ? nil : tracer.flatMap { $0.wants(nr: nr) ? $0.enter(task, nr: nr, table[nr], args) : nil }
        let enosys = SyscallOutcome.value(-Int64(Errno.ENOSYS.rawValue))
        var outcome: SyscallOutcome
        var verdict = SeccompVerdict.run
        let suspended = traced && locked { (task.ptrace?.options ?? 0) & PtraceABI.PTRACE_O_SUSPEND_SECCOMP != 0 }
        if let decided {
            verdict = decided
        } else if inSeccompStop || (!skipped && filtered && !suspended) {
            let seccomp = task.attributes.withLock { $0.seccomp }
            verdict = inSeccompStop ? .trace(0) : task.secureComputing(seccomp, nr: nr, args: args, arch: arch)
            if case .trace(let data) = verdict {
                // PTRACE_EVENT_SECCOMP, then the filters again on what the tracer left.
                if inSeccompStop { _ = task.rejoinPtraceStop() }
                else { task.ptraceEvent(PtraceABI.PTRACE_EVENT_SECCOMP, message: UInt64(data)) }
                if locked({ task.killed || task.group.exitStatus != nil }) { return .replacedRegisters }
                (nr, args) = (task.regs.syscallNumber, task.regs.syscallArguments)
                skipped = Self.skipsCall(task)
                if !skipped { verdict = task.secureComputing(seccomp, nr: nr, args: args, arch: arch, afterTrace: true) }
            }
        }
        switch verdict {
        case _ where skipped:
            outcome = .replacedRegisters
        case .skip(let r):
            outcome = .value(r)
        case .killedThread(let sig):
            outcome = .killedThread(sig)
        case .run, .trace:
            if let implementation = table.implementation(nr) {
                outcome = implementation(task, args)
            } else {
                outcome = enosys
            }
        }
        task.sendDeferredSignals()
        // A memory operation of the call may have found the stub dead.
        if !outcome.endsTask, let broken = task.mm.brokenReason { outcome = .platformFailed(broken) }
        if let pre {
            let result: Int64 = if case .value(let v) = outcome { v } else { 0 }
            tracer!.exit(task, pre, result: result, exiting: outcome.endsTask)
        } else if !skipped, tracer == nil || !tracers.isFixed, let late = self.tracer, late !== tracer, late.wants(nr: nr) {
            // In progress when a live tracer attached: shown whole at its end,
            // as strace -p shows a call its attach interrupted and restarted.
            let result: Int64 = if case .value(let v) = outcome { v } else { 0 }
            late.exit(task, late.enter(task, nr: nr, table[nr], args, startedBeforeAttach: true), result: result, exiting: outcome.endsTask)
        }
        return syscallExitStop(task, outcome, traced: traced)
    }

    /// The syscall-exit stop, the result in rax for the tracer to read or change.
    func syscallExitStop(_ task: Task, _ outcome: SyscallOutcome, traced: Bool) -> SyscallOutcome {
        var outcome = outcome
        if traced && !outcome.endsTask && task.ptraceSyscallMode == .trace {
            if case .platformFailed = outcome { return outcome }
            if case .value(let v) = outcome { task.regs.returnValue = UInt64(bitPattern: v); outcome = .replacedRegisters }
            task.ptraceSyscallStop(entry: false)
        }
        return outcome
    }

    /// A tracer set orig_rax to -1: the call is skipped, rax left as it is.
    private static func skipsCall(_ task: Task) -> Bool {
        Int32(truncatingIfNeeded: task.regs.raw.orig_rax) == -1
    }

    /// The host pid whose CPU time is the task's (its stub), on the task's thread.
    public func hostPID(of task: Task) -> Int32? { task.space?.hostPID }
    /// What that host process's CPU clocks read when the task's use of it began (ns).
    public func cpuTimeBase(of task: Task) -> Int64 { task.space?.cpuTimeBase ?? 0 }

    private static func isInt80(_ task: Task) -> Bool {
        guard let b = try? task.mm.read(GuestAddress(task.regs.ip &- SyscallABI.instructionLength), as: UInt16.self) else { return false }
        return b == SyscallABI.int80Instruction
    }

    // MARK: - Host signals

    /// Host signals the sentry passes on to the guest. They are blocked in
    /// every sentry thread (threads inherit the mask) and collected by one
    /// thread with sigwait: Ctrl-C and Ctrl-\ go to the sandbox's foreground
    /// process group, as the terminal would send them; SIGTERM and SIGHUP to
    /// init. SIGPIPE is ignored: a broken pipe is the guest's EPIPE.
    /// The calling thread's signal mask and the signals the process ignores,
    /// as bit sets (signal n is bit n-1). Read before `blockStubExitSignals` and `forwardHostSignals`.
    public static func hostSignalState() -> (mask: UInt64, ignored: UInt64) {
        var set = sigset_t()
        pthread_sigmask(SIG_BLOCK, nil, &set)
        var mask: UInt64 = 0, ignored: UInt64 = 0
        for n in Int32(1)...64 {
            if sigismember(&set, n) == 1 { mask |= 1 << UInt64(n - 1) }
            if n != SIGKILL && n != SIGSTOP && sw_signal_ignored(n) != 0 {
                ignored |= 1 << UInt64(n - 1)
            }
        }
        return (mask, ignored)
    }

    /// Stubs are the sentry's children, and their parent, the stub pool's
    /// thread, blocks every signal: so a stub's SIGCHLD is not discarded as
    /// ignored but queued for whichever sentry thread takes it. Taken by a
    /// task thread it would end a vmexec turn or a ptrace wait for nothing.
    /// Stubs are reaped with waitpid, which needs no signal: block it in the
    /// calling thread before any other thread exists, and all inherit that.
    public static func blockStubExitSignals() {
        var set = sigset_t()
        sigemptyset(&set)
        sigaddset(&set, SIGCHLD)
        pthread_sigmask(SIG_BLOCK, &set, nil)
    }

    public func forwardHostSignals() {
        signal(SIGPIPE, SIG_IGN)
        var set = sigset_t()
        sigemptyset(&set)
        for s in [SIGINT, SIGTERM, SIGHUP, SIGQUIT] { sigaddset(&set, s) }
        pthread_sigmask(SIG_BLOCK, &set, nil)
        let waitSet = set
        try? HostThread.spawn { [unowned self] in
            var s = waitSet
            while true {
                var sig: Int32 = 0
                guard sigwait(&s, &sig) == 0 else { continue }
                self.hostSignal(Signal(sig))
            }
        }
    }

    func hostSignal(_ sig: Signal) {
        locked {
            guard let initGroup else { return }
            var info = SignalInfo(sig, code: SignalInfo.SI_KERNEL)
            info.pid = 0
            info.overridesInit = true
            if sig == .SIGINT || sig == .SIGQUIT {
                let fg = hostForegroundLocked(sid: initGroup.sid)
                for g in groups.values where g.pgid == fg && !g.zombie { sendLocked(info, to: g) }
            } else {
                sendLocked(info, to: initGroup)
            }
        }
    }

    /// A signal from outside the sandbox, as an OCI runtime's `kill ID SIG`
    /// sends it: to init, or with `all` to every guest process (`kill
    /// --all`). As from a parent pid namespace into a container: init takes
    /// it only if it has a handler (sig_task_ignored: only SIGKILL and
    /// SIGSTOP are forced from an ancestor namespace, and the front end ends
    /// the whole sandbox for SIGKILL), so `podman stop` of a handler-less
    /// init waits for its timeout and SIGKILL, as with runc.
    public func signalFromHost(_ sig: Signal, all: Bool) {
        locked {
            guard let initGroup else { return }
            var info = SignalInfo(sig, code: SignalInfo.SI_USER)
            info.pid = 0
            info.overridesInit = sig == .SIGKILL || sig == .SIGSTOP
            if all {
                for g in groups.values where !g.zombie { sendLocked(info, to: g) }
            } else {
                sendLocked(info, to: initGroup)
            }
        }
    }

    /// The foreground process group of the host terminal of each session,
    /// as the guest set it (TIOCSPGRP), by session id: a terminal has one
    /// session, and a session one terminal. The sentry's own terminal is
    /// init's session's; a process entered with a terminal of its own (an
    /// OCI exec) leads a session on it.
    var hostForeground: [Int32: Int32] = [:]

    /// That group for `sid`: by default the session's own first group (init's
    /// for the sentry's terminal, the session leader's for another). Kernel lock held.
    func hostForegroundLocked(sid: Int32) -> Int32 {
        if let pg = hostForeground[sid] { return pg }
        if let initGroup, initGroup.sid == sid { return initGroup.pgid }
        return sid
    }
    /// A signal sent to the sandbox from outside (`sentry kill`): to init,
    /// which takes it even with the default action, as a forwarded host signal.
    public func signalFromOutside(_ sig: Signal) {
        locked {
            guard let initGroup, !initGroup.zombie else { return }
            var info = SignalInfo(sig, code: SignalInfo.SI_USER)
            info.pid = 0
            info.overridesInit = true
            sendLocked(info, to: initGroup)
        }
    }

    /// Whether init has exited (the sandbox is ending).
    public var isFinished: Bool { locked { initStatus != nil } }

    /// Bytes of the memory file guests hold (`sentry list`).
    public var memoryInUse: UInt64 { memory.size - memory.freeBytes }
}

/// The walker's view before the first task exists: the sandbox's root, no
/// /proc/self, and the credentials the first process will have (its exec
/// is judged by them, as Linux judges the execve of a task that has them).
public final class BootContext: WalkContext {
    unowned let kernel: Kernel
    public let credentials: Credentials?
    public init(_ kernel: Kernel, credentials: Credentials? = nil) { self.kernel = kernel; self.credentials = credentials }
    public var process: ProcessView? { nil }
    public var rootLocation: Location { kernel.vfs.rootLocation }
    public var sandbox: SandboxView { kernel }
}

/// A plain mutex that can guard state spread over many objects.
/// Sendable: the pthread mutex is the synchronisation; `m` never changes.
final class KernelLock: @unchecked Sendable {
    private let m: UnsafeMutablePointer<pthread_mutex_t>
    init() {
        m = .allocate(capacity: 1)
        pthread_mutex_init(m, nil)
    }
    deinit { pthread_mutex_destroy(m); m.deallocate() }
    @inline(__always) func lock() { pthread_mutex_lock(m) }
    @inline(__always) func unlock() { pthread_mutex_unlock(m) }
}
