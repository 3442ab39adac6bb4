import Glibc

/// A guest thread of execution. In this first cut each task is its own
/// process (thread group of one); its sentry host thread runs `run()`.
public final class Task: ProcessView {
    public unowned let kernel: Kernel
    public var regs: Registers
    public let mm: MemoryManager
    public let fds: FDTable
    public let context: PlatformContext
    public let tid: Int32
    public var pid: Int32 { tid }
    public let ppid: Int32
    /// Guest path of the executable (/proc/self/exe).
    public var executablePath: String
    public var commandLine: [String]
    public var environment: [String]
    public var cwd: String
    public var umask: UInt32 = 0o022
    public var signals = SignalState()
    public var rlimits: [Int32: (cur: UInt64, max: UInt64)] = [:]
    public var clearChildTID = GuestAddress.null
    public var robustList = (head: GuestAddress.null, length: UInt64(0))
    public private(set) var exitStatus: ExitStatus?
    /// Set by handlers that load a whole new register set (execve, sigreturn):
    /// the dispatcher must not overwrite rax.
    public var registersReplaced = false

    public var fdTable: FDTable { fds }
    public var memory: MemoryManager { mm }

    init(kernel: Kernel, tid: Int32, ppid: Int32, mm: MemoryManager, fds: FDTable, context: PlatformContext,
         regs: Registers, executablePath: String, argv: [String], envp: [String], cwd: String) {
        self.kernel = kernel; self.tid = tid; self.ppid = ppid; self.mm = mm; self.fds = fds
        self.context = context; self.regs = regs; self.executablePath = executablePath
        self.commandLine = argv; self.environment = envp; self.cwd = cwd
        for r in Int32(0)..<16 {
            var l = rlimit()
            if getrlimit(__rlimit_resource_t(UInt32(r)), &l) == 0 { rlimits[r] = (UInt64(l.rlim_cur), UInt64(l.rlim_max)) }
        }
        if let nofile = rlimits[7] { fds.limit = Int32(clamping: nofile.cur) }
    }

    /// exit_group(2) / a fatal signal: the task stops after this syscall.
    public func exit(_ status: ExitStatus) {
        if exitStatus == nil { exitStatus = status }
    }

    /// Marks a signal pending for this task (SIGPIPE from a write, a forwarded host signal).
    public func post(_ s: Signal) {
        signals.pending |= SignalState.bit(s)
    }

    /// Runs the guest until it exits. Platform failures end the sandbox.
    public func run() throws(PlatformError) -> ExitStatus {
        while exitStatus == nil {
            let trap = try context.switchTo(mm.addressSpace, &regs)
            switch trap {
            case .syscall:
                kernel.dispatch(self)
                if let broken = mm.brokenReason { throw broken }
            case .fault(let sig, let addr, let code):
                kernel.tracer?.signal(self, sig, code: code, address: addr)
                exit(.signaled(sig, coreDumped: sig.defaultAction == .coreDump))
            case .signal(let sig):
                post(sig)
            }
            deliverPending()
        }
        kernel.tracer?.exited(self, exitStatus!)
        return exitStatus!
    }

    /// Applies default actions of pending, unblocked signals. A signal with a
    /// guest handler stays pending until signal delivery exists.
    func deliverPending() {
        var deliverable = signals.pending & (~signals.mask | SignalState.unblockable)
        while deliverable != 0, exitStatus == nil {
            let n = Int32(deliverable.trailingZeroBitCount) + 1
            let sig = Signal(n)
            deliverable &= deliverable - 1
            let action = signals.actions[Int(n)]
            if action.handler > SignalAction.SIG_IGN && sig != .SIGKILL && sig != .SIGSTOP { continue }
            signals.pending &= ~SignalState.bit(sig)
            kernel.tracer?.signal(self, sig, code: 0 /* SI_USER */, address: nil)
            if action.handler == SignalAction.SIG_IGN && sig != .SIGKILL { continue }
            switch sig.defaultAction {
            case .ignore, .resume, .stop: continue  // job control comes with the process work
            case .terminate: exit(.signaled(sig, coreDumped: false))
            case .coreDump: exit(.signaled(sig, coreDumped: true))
            }
        }
    }
}
