import CSwitch
import Glibc
import Synchronization

/// One guest address space as host processes. The first stub is forked by
/// the thread that creates the space; each further task sharing the space
/// (CLONE_VM) gets a sibling stub process created inside it with
/// clone(CLONE_VM), traced by that task's own thread. All siblings share
/// one host mm, so a mapping injected through any of them is seen by all.
///
/// Changes to the map are made by injecting mmap/munmap/mprotect: the
/// calling runner points its own stub at the `syscall; int3` gadget and lets
/// it run to the int3.
/// Sendable: runners behind `runners`, the injection count atomic, the rest immutable.
final class PtraceAddressSpace: AddressSpace, StubSyscalls, @unchecked Sendable {
    let memory: MemoryFile
    let stub: StubRegion
    /// Registers of the first stub at its first stop: valid segment selectors
    /// and flags to start injected calls (and the guest) from.
    let initialRegisters: Registers
    /// Host thread → the stub process it traces in this space.
    private let runners = Mutex<[UInt: pid_t]>([:])
    /// The guest rseq area each stub (by pid) has registered with the host.
    private let hostRseq = Mutex<[pid_t: RseqRegistration]>([:])
    /// Bumped by every injection: a runner's registers are no longer the
    /// guest's, so the next switch must write them all.
    let injections = Atomic<UInt64>(0)

    init(memory: MemoryFile, stub: StubRegion) throws(PlatformError) {
        self.memory = memory
        self.stub = stub
        let pid = sw_stub_spawn(memory.fd, stub.imageFD)
        if pid < 0 { throw .host("starting a stub process", Errno(-pid)) }
        var status: Int32 = 0
        // 1. A traced process stops with SIGTRAP after its exec.
        try Self.expectStop(pid, SIGTRAP, &status, "stub did not reach its first stop")
        // Options before the stub code runs: die with the sentry; mark syscall stops.
        let r = sw_ptrace(0x4200 /* PTRACE_SETOPTIONS */, pid, 0, Self.traceOptions)
        if r < 0 { kill(pid, SIGKILL); throw .host("PTRACE_SETOPTIONS", Errno(Int32(-r))) }
        // 2. It unmaps everything but its two pages, enters seccomp, and stops on int3.
        _ = sw_cont(pid, 0)
        try Self.expectStop(pid, SIGTRAP, &status, "stub failed to set itself up")
        var regs = sw_regs()
        let g = sw_getregs(pid, &regs)
        if g < 0 { kill(pid, SIGKILL); throw .host("PTRACE_GETREGSET", Errno(-g)) }
        initialRegisters = Registers(raw: regs)
        runners.withLock { $0[pthread_self()] = pid }
    }

    /// PTRACE_O_EXITKILL: stubs die with their tracer thread; TRACESYSGOOD
    /// tells syscall stops from SIGTRAPs.
    static let traceOptions: UInt = 0x100000 | 0x1

    private static func expectStop(_ pid: pid_t, _ sig: Int32, _ status: inout Int32, _ what: String) throws(PlatformError) {
        let w = sw_wait(pid, &status)
        let stopped = w == pid && WaitStatus(status).stopped
        if !stopped || WaitStatus(status).stopSignal != sig {
            kill(pid, SIGKILL)
            // The spawn exits 120 when PTRACE_TRACEME is refused (a container's seccomp, Yama).
            if WaitStatus(status).exited && WaitStatus(status).exitStatus == 120 {
                throw .unavailable("platform ptrace is not available: PTRACE_TRACEME is not permitted here")
            }
            throw .stubDied("\(what) (\(PtraceContext.describe(status)))")
        }
    }

    deinit {
        // Runners leave before dropping the space; anything left is killed.
        for pid in runners.withLock({ Array($0.values) }) { kill(pid, SIGKILL) }
    }

    /// The stub the calling thread traces in this space.
    func runnerPID() throws(PlatformError) -> pid_t {
        guard let pid = runners.withLock({ $0[pthread_self()] }) else {
            throw .host("address space used from a thread that is not one of its runners", .EPERM)
        }
        return pid
    }

    var hostPID: Int32? { try? runnerPID() }
    var cpuTimeBase: Int64 { 0 }

    func prepareRunner() throws(PlatformError) -> RunnerTicket {
        // r9 (no clone argument) tells the child the sentry's pid: until its
        // tracer attaches it checks that the sentry is still its parent.
        let child = try inject(56 /* clone */, StubRegion.siblingCloneFlags, 0, 0, 0, 0, UInt64(getpid()), at: stub.cloneGadget)
        if child <= 0 { throw .host("cloning a sibling stub", Errno(Int32(truncatingIfNeeded: -child))) }
        return RunnerTicket(raw: child)
    }

    func join(_ ticket: RunnerTicket) throws(PlatformError) {
        let pid = pid_t(ticket.raw)
        let r = sw_seize(pid, Self.traceOptions)
        if r < 0 { kill(pid, SIGKILL); throw .host("PTRACE_SEIZE of a sibling stub", Errno(-r)) }
        var status: Int32 = 0
        let w = sw_wait(pid, &status)
        guard w == pid, WaitStatus(status).stopped else {
            kill(pid, SIGKILL)
            throw .stubDied("sibling stub did not stop (\(PtraceContext.describe(status)))")
        }
        runners.withLock { $0[pthread_self()] = pid }
    }

    func abandon(_ ticket: RunnerTicket) { kill(pid_t(ticket.raw), SIGKILL) }

    /// Lets the calling thread's stub go, to run from `regs` untraced (how
    /// systrap starts its stubs). Returns its pid.
    func detach(startingAt regs: Registers) throws(PlatformError) -> pid_t {
        let pid = try runnerPID()
        var r = regs.raw
        let rc = sw_setregs(pid, &r)
        if rc < 0 { throw .host("setting a stub's start registers", Errno(-rc)) }
        let d = sw_ptrace(0x11 /* PTRACE_DETACH */, pid, 0, 0)
        if d < 0 { throw .host("PTRACE_DETACH", Errno(Int32(-d))) }
        runners.withLock { _ = $0.removeValue(forKey: pthread_self()) }
        return pid
    }

    func leave(sentryExiting: Bool) {
        guard let pid = runners.withLock({ $0.removeValue(forKey: pthread_self()) }), !sentryExiting else { return }
        hostRseq.withLock { _ = $0.removeValue(forKey: pid) }   // the stub dies with it
        kill(pid, SIGKILL)
        var status: Int32 = 0
        _ = sw_wait(pid, &status)
    }

    /// Runs one syscall inside the calling runner's stub; returns its raw result.
    func inject(_ nr: UInt64, _ a: UInt64 = 0, _ b: UInt64 = 0, _ c: UInt64 = 0,
                _ d: UInt64 = 0, _ e: UInt64 = 0, _ f: UInt64 = 0, at gadget: GuestAddress? = nil) throws(PlatformError) -> Int64 {
        let pid = try runnerPID()
        injections.add(1, ordering: .relaxed)
        var regs = initialRegisters.raw
        regs.rip = (gadget ?? stub.syscallGadget).rawValue
        regs.rax = nr
        SyscallABI.leaveSyscall(&regs)   // no restart games
        regs.rdi = a; regs.rsi = b; regs.rdx = c; regs.r10 = d; regs.r8 = e; regs.r9 = f
        var rc = sw_setregs(pid, &regs)
        if rc < 0 { throw .host("injecting syscall \(nr)", Errno(-rc)) }
        rc = sw_cont(pid, 0)
        if rc < 0 { throw .host("injecting syscall \(nr)", Errno(-rc)) }
        while true {
            var status: Int32 = 0
            _ = sw_wait(pid, &status)
            guard WaitStatus(status).stopped else { throw .stubDied("injected syscall \(nr): \(PtraceContext.describe(status))") }
            let sig = WaitStatus(status).stopSignal
            if sig == SIGTRAP { break }
            if sig == KickSignal.signal || status >> 16 != 0 {
                // A kick meant for guest code: the task is in the sentry now
                // and looks at its signals anyway. Drop it and go on.
                rc = sw_cont(pid, 0)
                if rc < 0 { throw .host("injecting syscall \(nr)", Errno(-rc)) }
                continue
            }
            var info = siginfo_t()
            _ = sw_getsiginfo(pid, &info)
            _ = sw_getregs(pid, &regs)
            throw .stubDied("injected syscall \(nr): stopped by \(Signal(sig)) at ip 0x\(String(regs.rip, radix: 16)), address 0x\(String(sw_siginfo_addr(&info), radix: 16)) si_code \(sw_siginfo_code(&info))")
        }
        rc = sw_getregs(pid, &regs)
        if rc < 0 { throw .host("reading injected result", Errno(-rc)) }
        return Int64(bitPattern: regs.rax)
    }

    func stubSyscall(_ nr: UInt64, _ args: [UInt64]) throws(PlatformError) -> Int64 {
        func arg(_ i: Int) -> UInt64 { i < args.count ? args[i] : 0 }
        return try inject(nr, arg(0), arg(1), arg(2), arg(3), arg(4), arg(5))
    }
}

extension PtraceAddressSpace: HostRseq {
    func registerHostRseq(area: GuestAddress, signature: UInt32) throws(PlatformError) -> Errno? {
        let pid = try runnerPID()
        if let old = hostRseq.withLock({ $0[pid] }) {
            if old == RseqRegistration(area: area, signature: signature) { return nil }
            try unregisterHostRseq()
        }
        let err = HostRseqCall.outcome(try stubSyscall(HostRseqCall.nr, HostRseqCall.register(area, signature)))
        if err == nil { hostRseq.withLock { $0[pid] = RseqRegistration(area: area, signature: signature) } }
        return err
    }

    /// Every stub ends with its runner, killed in its ptrace stop, from
    /// which it never returns to user mode.
    var dropsRseqAtLeave: Bool { true }
    var dropsRseqWhenCleared: Bool { false }

    func unregisterHostRseq() throws(PlatformError) {
        guard let pid = try? runnerPID(), let r = hostRseq.withLock({ $0.removeValue(forKey: pid) }) else { return }
        let raw = try stubSyscall(HostRseqCall.nr, HostRseqCall.unregister(r))
        if raw != 0 { throw .host("stub rseq unregistration", Errno(Int32(truncatingIfNeeded: -raw))) }
    }

    /// A forced SIGSEGV is a signal-delivery stop for the tracer, seen as a fault.
    var runnerDeathSignal: Int32? { nil }
}
