import CSwitch
import Glibc
import Synchronization

/// One guest address space for systrap. Stubs are the ptrace platform's
/// (same image, same spawn), set up under ptrace once, then let go: from
/// then on guest syscalls trap *inside* the stub through Syscall User
/// Dispatch, and the stub and the sentry hand off through the task's area
/// (futex wake/wait on shared memory), with no ptrace stop at all.
///
/// Each task of the space has its own stub process (CLONE_VM siblings, as
/// for ptrace) and its own area, at `base + 64 KiB * (slot + 1)`.
/// Sendable: runners and slots behind `state`, areas in the making behind `pendingAreas`.
final class SystrapAddressSpace: AddressSpace, StubSyscalls, @unchecked Sendable {
    let memory: MemoryFile
    let stub: StubRegion
    let initialRegisters: Registers

    struct Runner: Sendable {
        let pid: pid_t
        let pidfd: Int32
        let slot: Int
        let area: SystrapArea
        /// The first stub: its siblings die with it (PDEATHSIG), so it
        /// leaves only with the last of them.
        let root: Bool
        /// CPU time (ns) a sibling's stub spent before its current task
        /// (a spare that served a thread that exited).
        var cpuBase: Int64 = 0
        /// Its fault and switch counts then, if known.
        var counts: HostTaskCounters?
    }
    private struct State {
        var runners: [pthread_t: Runner] = [:]
        var usedSlots: Set<Int> = []
        /// The guest rseq area each stub (by slot) has registered with the host.
        var hostRseq: [Int: RseqRegistration] = [:]
        /// Registrations each stub (by slot) makes at its next RUN, in the
        /// same hand-off (SW_AREA_RUN_CALLS): one its task asked for
        /// (`asked`), or one the stub dropped at a trap of exit(2) whose
        /// task went on (a guest filter or tracer stopped the exit).
        var runRseq: [Int: (registration: RseqRegistration, asked: Bool)] = [:]
        /// The outcome of the last registration a task asked for, by slot.
        var runRseqOutcome: [Int: DeferredHostRseq] = [:]
        /// Mirror calls each stub (by slot) makes at its next RUN, ahead of
        /// a registration (`protectAtNextRun`); any other request of its
        /// runner makes them first (`takeRunCalls`).
        var runCalls: [Int: [StubCall]] = [:]
        /// A runner between `handOver` and `takeOver`.
        var handedOver: Runner?
        /// Sibling stubs of threads that exited, parked in their handlers
        /// with their areas mapped: the next thread of the process takes
        /// one instead of cloning a stub (see `prepareRunner`).
        var spares: [Runner] = []
        /// Spares given out by `prepareRunner` that have not joined yet, by slot.
        var readyTickets: [Int: Runner] = [:]
        /// The root stub has left for good: a sibling leaving after it is
        /// ended, never kept.
        var rootEnded = false
        /// A recycled root stub's mappings of its last guest (by slot), while
        /// its `runCalls` still hold only their clearing: the first mirror
        /// may keep what it asks for of them (`mapAtFirstRun`). Any other
        /// request or RUN makes the clearing first and drops this.
        var kept: (slot: Int, mirror: KeptMirror)?
        /// An exec replaced the image: what the stub maps at its emptying is
        /// another program's than its next life's (a fork of the parent,
        /// most likely), and is cleared there rather than read (KeptMirror).
        var execed = false
    }
    private let state = Mutex(State())
    static let maxSlots = 2048
    /// Spare sibling stubs kept per address space: a program that makes
    /// threads one after another reuses one; a burst of exits keeps a few.
    static let maxSpares = 8
    /// membarrier's SYNC_CORE registration of the stub's mm is done (code patching).
    let syncCoreRegistered = Atomic<Bool>(false)

    /// A root stub that is set up and parked in its handler, not yet any
    /// task's address space: it can be started on one thread (the stub
    /// pool's) and taken by another, since nothing traces it any more.
    struct Parked: Sendable {
        let runner: Runner
        let initialRegisters: Registers
        /// CPU time (ns) the stub spent before this life: a recycled stub
        /// has served other guests.
        var cpuTimeBase: Int64 = 0
        /// Its fault and switch counts then, if read (an emptied stub).
        var counts: HostTaskCounters?
        /// Started by the pool's thread, its PDEATHSIG parent for good. Only
        /// these are recycled: one started by a task's thread dies with it.
        var pooled = false
        /// What an emptied stub still maps of its last guest (nil: nothing).
        var kept: KeptMirror?
    }

    /// Where a root stub goes back to when its address space ends.
    private let pool: StubPool?
    private let pooled: Bool
    private let rootCPUBase: Int64
    private let rootCounts: HostTaskCounters?
    /// Whether an emptying keeps the guest range's mappings for the next
    /// life (KeptMirror): only where a first RUN can take them
    /// (`mapAtFirstRun`), not for vmexec's stub, which never runs.
    private let keepsMirror: Bool

    /// The calling thread becomes the first runner of `parked`, unless
    /// `callerRuns` is false: vmexec keeps the stub parked for good and
    /// drives it from any thread (`request(on:)`).
    init(memory: MemoryFile, stub: StubRegion, parked: Parked, pool: StubPool? = nil, callerRuns: Bool = true) {
        self.memory = memory
        self.stub = stub
        self.pool = pool
        pooled = parked.pooled
        rootCPUBase = parked.cpuTimeBase
        rootCounts = parked.counts
        initialRegisters = parked.initialRegisters
        keepsMirror = callerRuns
        let slot = parked.runner.slot, guestTop = stub.base.rawValue
        state.withLock {
            $0.usedSlots.insert(slot)
            if callerRuns { $0.runners[pthread_self()] = parked.runner }
            // Nothing of the last guest is seen: whatever comes first of a
            // request and a RUN unmaps it, unless the first mirror keeps some.
            if let kept = parked.kept, !kept.mappings.isEmpty {
                $0.runCalls[slot] = [Self.clearingCall(below: guestTop)]
                $0.kept = (slot, kept)
            }
        }
    }

    /// The munmap of a stub's whole guest range.
    static func clearingCall(below top: UInt64) -> StubCall {
        munmapCall(0..<top)
    }

    /// Starts a root stub: spawned and traced by the calling thread just long
    /// enough to map its area, then let go; it sets itself up from the area
    /// (sw_systrap_init) and parks.
    static func startRoot(memory: MemoryFile, stub: StubRegion) throws(PlatformError) -> Parked {
        let boot = try PtraceAddressSpace(memory: memory, stub: stub)
        let area = try Self.makeArea(memory: memory, stub: stub, slot: 0)
        do {
            try boot.mapChunk(at: area.address, length: SystrapArea.size, fileOffset: area.fileOffset, prot: .rw)
            var start = boot.initialRegisters
            start.ip = stub.base.rawValue + UInt64(sw_systrap_init_offset())
            start.sp = area.address + SystrapArea.size - 64
            let pid = try boot.detach(startingAt: start)
            let pidfd = sw_pidfd_open(pid)
            if pidfd < 0 { kill(pid, SIGKILL); throw PlatformError.host("pidfd_open", Errno(-pidfd)) }
            do { try Self.awaitParked(area, pidfd: pidfd) } catch { kill(pid, SIGKILL); reap(pidfd); throw error }
            let sud = area.load(SW_AREA_SUD_RESULT, as: Int32.self)
            if !stub.trapsGuestSyscalls && sud != 0 {
                kill(pid, SIGKILL)
                reap(pidfd)
                throw PlatformError.unavailable("Syscall User Dispatch: \(Errno(-sud))")
            }
            return Parked(runner: Runner(pid: pid, pidfd: pidfd, slot: 0, area: area, root: true),
                          initialRegisters: boot.initialRegisters)
        } catch let e as PlatformError {
            memory.free(area.fileOffset, SystrapArea.size)
            throw e
        } catch {
            memory.free(area.fileOffset, SystrapArea.size)
            throw .host("starting a systrap stub", .EIO)
        }
    }

    /// Waits for a killed stub to be gone and collects it (every stub is a
    /// child of the sentry: the root directly, its siblings by CLONE_PARENT).
    static func reap(_ pidfd: Int32) {
        _ = sw_pidfd_exited(pidfd, -1)
        _ = sw_pidfd_reap(pidfd)
        close(pidfd)
    }

    /// Ends a stub for good: killed, collected, its area's memory freed.
    static func end(_ r: Runner, memory: MemoryFile) {
        kill(r.pid, SIGKILL)
        reap(r.pidfd)
        HostTaskCounters.forget(process: r.pid)
        memory.free(r.area.fileOffset, SystrapArea.size)
    }

    private static func makeArea(memory: MemoryFile, stub: StubRegion, slot: Int) throws(PlatformError) -> SystrapArea {
        let off: UInt64
        do { off = try memory.allocate(SystrapArea.size) } catch { throw .host("memory for a systrap area", error) }
        let area = SystrapArea(base: memory.pointer(off), address: stub.base.rawValue + SystrapArea.size * UInt64(slot + 1),
                               fileOffset: off)
        area.store(SW_AREA_SELECTOR, UInt8(1))   // SYSCALL_DISPATCH_FILTER_BLOCK, for good
        area.store(SW_AREA_STACK_T, area.address + UInt64(SW_AREA_STACK))
        area.store(SW_AREA_STACK_T + 8, Int64(0))
        area.store(SW_AREA_STACK_T + 16, SystrapArea.size - UInt64(SW_AREA_STACK))
        // struct kernel_sigaction of the trap handler: handler, flags, restorer, mask.
        let handler = stub.base.rawValue + UInt64(sw_systrap_handler_offset())
        area.store(SW_AREA_SCRATCH, handler)
        area.store(SW_AREA_SCRATCH + 8, SignalAction.SA_SIGINFO | SignalAction.SA_ONSTACK | SignalAction.SA_RESTORER)
        area.store(SW_AREA_SCRATCH + 16, handler)   // never returned through: the stub resumes with rt_sigreturn
        area.store(SW_AREA_SCRATCH + 24, UInt64.max)
        area.store(SW_AREA_CODE_START, stub.base.rawValue)
        // What a patched site's trampoline checks before it trusts %gs.
        area.store(SW_AREA_SELF, area.address)
        area.store(SW_AREA_CHECK, UInt64(SW_PATCH_MAGIC) &- area.address)
        // A sibling turns SUD on with these; with the seccomp variant the
        // (inherited) filter traps already, and a zero length makes the
        // sibling's prctl fail harmlessly.
        area.store(SW_AREA_CODE_LEN, stub.trapsGuestSyscalls ? UInt64(0) : UInt64(4096))
        return area
    }

    private static func awaitParked(_ area: SystrapArea, pidfd: Int32) throws(PlatformError) {
        let st = area.wait(whileState: 0, pidfd: pidfd)
        guard st == UInt32(SW_STATE_TRAP), area.load(SW_AREA_SIGNAL, as: Int32.self) == 0 else {
            throw .stubDied("a systrap stub did not park")
        }
    }

    func runner() throws(PlatformError) -> Runner {
        guard let r = state.withLock({ $0.runners[pthread_self()] }) else {
            throw .host("address space used from a thread that is not one of its runners", .EPERM)
        }
        return r
    }

    var hostPID: Int32? { try? runner().pid }
    var countsAtExitTrap: HostTaskCounters? { try? runner().area.usageAtExitTrap }
    var cpuTimeBase: Int64 {
        guard let r = try? runner() else { return 0 }
        return r.root ? rootCPUBase : r.cpuBase
    }
    /// The root stub's, as read when it was emptied; a spare's, as its last
    /// task's exit read them: each has slept since.
    var hostCountsBase: HostTaskCounters? {
        guard let r = try? runner() else { return nil }
        return r.root ? rootCounts : r.counts
    }

    /// Runs one syscall in the calling runner's stub, which is parked in its
    /// handler (its task is in the sentry).
    func stubSyscall(_ nr: UInt64, _ args: [UInt64]) throws(PlatformError) -> Int64 {
        try request(on: try runner(), nr, args)
    }

    /// Runs one syscall in `r`'s stub, parked in its handler. One request
    /// at a time per stub: the caller serializes.
    func request(on r: Runner, _ nr: UInt64, _ args: [UInt64]) throws(PlatformError) -> Int64 {
        let early = takeRunCalls(r)
        if !early.isEmpty { try Self.checkMirrored(early, try batch(on: r, early)) }
        let a = r.area
        a.store(SW_AREA_REQ_NR, nr)
        for i in 0..<6 { a.store(SW_AREA_REQ_ARGS + Int32(i * 8), i < args.count ? args[i] : 0) }
        a.post(UInt32(SW_STATE_REQUEST))
        guard a.wait(whileState: UInt32(SW_STATE_REQUEST), pidfd: r.pidfd) == UInt32(SW_STATE_DONE) else {
            throw .stubDied("systrap stub \(r.pid) died during a request")
        }
        return a.load(SW_AREA_REQ_RESULT, as: Int64.self)
    }

    func stubSyscalls(_ calls: [StubCall]) throws(PlatformError) -> [Int64] {
        try requestBatch(on: try runner(), calls)
    }

    /// Runs calls in `r`'s stub, up to SW_AREA_BATCH_MAX per hand-off,
    /// stopping after the first that fails. The caller serializes. Calls
    /// left for `r`'s next RUN go first, in the same hand-offs: whatever
    /// the caller changes comes after them, as it would have.
    func requestBatch(on r: Runner, _ calls: [StubCall]) throws(PlatformError) -> [Int64] {
        let early = takeRunCalls(r)
        if early.isEmpty { return try batch(on: r, calls) }
        let out = try batch(on: r, early + calls)
        try Self.checkMirrored(early, out)
        return Array(out.dropFirst(early.count))
    }

    private func batch(on r: Runner, _ calls: [StubCall]) throws(PlatformError) -> [Int64] {
        let a = r.area
        var out: [Int64] = []
        out.reserveCapacity(calls.count)
        var next = 0
        while next < calls.count {
            let chunk = calls[next..<min(calls.count, next + Int(SW_AREA_BATCH_MAX))]
            for (i, c) in chunk.enumerated() { a.writeBatchEntry(c, index: i) }
            a.store(SW_AREA_BATCH_COUNT, UInt32(chunk.count))
            a.post(UInt32(SW_STATE_BATCH))
            guard a.wait(whileState: UInt32(SW_STATE_BATCH), pidfd: r.pidfd) == UInt32(SW_STATE_DONE) else {
                throw .stubDied("systrap stub \(r.pid) died during a request")
            }
            for i in 0..<chunk.count {
                let res = a.batchResult(i)
                out.append(res)
                if Self.failed(res) { return out }
            }
            next += chunk.count
        }
        return out
    }

    /// A sibling stub for a task sharing this space: a spare one, left
    /// parked by a thread that exited, or a new one, whose area is mapped
    /// through the caller's stub, which then clones onto the new area's stack.
    func prepareRunner() throws(PlatformError) -> RunnerTicket {
        if let r = takeSpare() { return RunnerTicket(raw: Int64(r.slot) << 32 | Int64(r.pid), ready: true) }
        let slot: Int? = state.withLock { s in
            guard let free = (1..<Self.maxSlots).first(where: { !s.usedSlots.contains($0) }) else { return nil }
            s.usedSlots.insert(free)
            return free
        }
        guard let slot else { throw .host("too many tasks in one address space", .EAGAIN) }
        let area: SystrapArea
        do { area = try Self.makeArea(memory: memory, stub: stub, slot: slot) } catch {
            state.withLock { _ = $0.usedSlots.remove(slot) }
            throw error
        }
        do {
            try mapChunk(at: area.address, length: SystrapArea.size, fileOffset: area.fileOffset, prot: .rw)
            let pid = try stubSyscall(56 /* clone */, [StubRegion.siblingCloneFlags, area.address + SystrapArea.size - 64])
            guard pid > 0 else { throw PlatformError.host("cloning a sibling stub", Errno(Int32(truncatingIfNeeded: -pid))) }
            pendingAreas.withLock { $0[slot] = area }
            return RunnerTicket(raw: Int64(slot) << 32 | pid)
        } catch let e as PlatformError {
            memory.free(area.fileOffset, SystrapArea.size)
            state.withLock { _ = $0.usedSlots.remove(slot) }
            throw e
        } catch {
            throw .host("cloning a sibling stub", .EIO)
        }
    }

    func join(_ ticket: RunnerTicket) throws(PlatformError) {
        let pid = pid_t(truncatingIfNeeded: ticket.raw & 0xffff_ffff), slot = Int(ticket.raw >> 32)
        if ticket.ready {
            // A spare: parked and alive when taken; nothing to wait for.
            let joined = state.withLock { s -> Bool in
                guard let r = s.readyTickets.removeValue(forKey: slot) else { return false }
                s.runners[pthread_self()] = r
                return true
            }
            if !joined { throw .host("no spare stub for slot \(slot)", .EINVAL) }
            return
        }
        guard let a = pendingAreas.withLock({ $0.removeValue(forKey: slot) }) else {
            throw .host("no prepared area for slot \(slot)", .EINVAL)
        }
        let pidfd = sw_pidfd_open(pid)
        if pidfd < 0 { kill(pid, SIGKILL); throw .host("pidfd_open", Errno(-pidfd)) }
        try Self.awaitParked(a, pidfd: pidfd)
        state.withLock { $0.runners[pthread_self()] = Runner(pid: pid, pidfd: pidfd, slot: slot, area: a, root: false) }
    }

    /// Areas prepared for siblings that have not joined yet, by slot.
    private let pendingAreas = Mutex<[Int: SystrapArea]>([:])

    func abandon(_ ticket: RunnerTicket) {
        let pid = pid_t(truncatingIfNeeded: ticket.raw & 0xffff_ffff), slot = Int(ticket.raw >> 32)
        if ticket.ready {
            // Back to the spares, untouched (called by a runner: the root is alive).
            state.withLock { s in
                if let r = s.readyTickets.removeValue(forKey: slot) { s.spares.append(r) }
            }
            return
        }
        kill(pid, SIGKILL)
        let fd = sw_pidfd_open(pid)
        if fd >= 0 { Self.reap(fd) }
        if let a = pendingAreas.withLock({ $0.removeValue(forKey: slot) }) { memory.free(a.fileOffset, SystrapArea.size) }
        state.withLock { _ = $0.usedSlots.remove(slot) }
    }

    func handOver() {
        state.withLock { s in
            if let r = s.runners.removeValue(forKey: pthread_self()) { s.handedOver = r }
        }
    }

    func takeOver() {
        state.withLock { s in
            if let r = s.handedOver { s.runners[pthread_self()] = r; s.handedOver = nil }
        }
    }

    func leave(sentryExiting: Bool) {
        // Mirror calls left for a RUN that will not come: the stub is
        // emptied or ended, or runs another image (an exec).
        if let me = try? runner() { _ = takeRunCalls(me) }
        // A root stub outlives its task while siblings run: its host rseq
        // registration goes now, while the stub is parked and its task's.
        // The last runner's goes as the stub is emptied (`emptied`), or
        // with the stub. One still to be made at a RUN is not made.
        if sentryExiting || dropsRseqAtLeave {
            if let me = try? runner() { state.withLock { Self.forgetRunRseq(me, &$0) } }
        } else {
            try? unregisterHostRseq()
        }
        if !sentryExiting, keepAsSpare() { return }
        guard let me = state.withLock({ $0.runners.removeValue(forKey: pthread_self()) }) else { return }
        if !sentryExiting { retire(me) }
    }

    /// A sibling's stub outlives its thread, parked, for the process's
    /// next thread: a thread's create and exit then cost no host process
    /// (clone, the stub's set-up: signal stack, seven sigactions, SUD,
    /// PDEATHSIG; the kill, the wait for its death and the area's
    /// mapping), only the hand-over. Only a live stub parked in its
    /// handler, while the root is there; false if the caller's is not kept.
    private func keepAsSpare() -> Bool {
        guard let me = try? runner(), !me.root else { return false }
        let a = me.area
        guard [UInt32(SW_STATE_TRAP), UInt32(SW_STATE_DONE)].contains(a.state), sw_pidfd_exited(me.pidfd, 0) == 0 else { return false }
        // Nothing of the last trap that a fresh run would act on: the
        // bases to set, a kick, a patched frame (the next task's first run
        // writes a fresh frame and its own bases).
        memset(a.base + Int(SW_AREA_CODE), 0, Int(SW_AREA_SET_FS) + 8 - Int(SW_AREA_CODE))
        a.store(SW_AREA_SET_GS, UInt64(0))
        a.store(SW_AREA_PATCHED, UInt32(0))
        a.store(SW_AREA_KICKED, UInt32(0))
        a.store(SW_AREA_FP_SAVED, UInt32(0))
        sw_atomic_store32(a.base + Int(SW_AREA_SENTRY_WAITING), 0)
        a.store(SW_AREA_RSEQ_DROPPED, UInt32(0))
        var spare = me
        spare.cpuBase = HostCPUClock.nanoseconds(of: me.pid) ?? 0
        // Read at its task's exit, after the stub's last call (the rseq
        // unregistration): parked since, its counts have not moved.
        spare.counts = a.usageAtExitTrap ?? HostTaskCounters.lastRead(process: me.pid)
        // The next thread's exit must not take this one's reading for its own.
        a.store(SW_AREA_USAGE_SET, UInt32(0))
        return state.withLock { s in
            guard !s.rootEnded, s.spares.count < Self.maxSpares else { return false }
            s.runners.removeValue(forKey: pthread_self())
            s.spares.append(spare)
            return true
        }
    }

    /// A spare stub, alive, held for a ready ticket; nil if none is.
    private func takeSpare() -> Runner? {
        while let r = state.withLock({ s -> Runner? in
            guard let r = s.spares.popLast() else { return nil }
            s.readyTickets[r.slot] = r
            return r
        }) {
            if sw_pidfd_exited(r.pidfd, 0) == 0 { return r }
            // Killed from outside while it waited.
            state.withLock { _ = $0.readyTickets.removeValue(forKey: r.slot) }
            Self.end(r, memory: memory)
            state.withLock { _ = $0.usedSlots.remove(r.slot) }
        }
        return nil
    }

    /// Ends a runner's stub; from any thread once the runner is out of the table.
    /// A pooled root stub left alone goes back to the pool, emptied.
    func retire(_ me: Runner) {
        if me.root {
            // Siblings die with the root stub: it goes last, after the
            // spares (a sibling that leaves later is ended, not kept).
            var spares: [Runner] = []
            while !state.withLock({ s -> Bool in
                guard s.runners.isEmpty && s.readyTickets.isEmpty else { return false }
                s.rootEnded = true
                swap(&spares, &s.spares)
                return true
            }) { usleep(1000) }
            for r in spares { kill(r.pid, SIGKILL) }
            for r in spares {
                Self.reap(r.pidfd)
                HostTaskCounters.forget(process: r.pid)
                memory.free(r.area.fileOffset, SystrapArea.size)
                state.withLock { _ = $0.usedSlots.remove(r.slot) }
            }
            if let pool, pooled, state.withLock({ $0.usedSlots == [me.slot] }), let p = emptied(me) {
                state.withLock { _ = $0.usedSlots.remove(me.slot) }
                pool.give(p)
                return
            }
        }
        Self.end(me, memory: memory)
        state.withLock { _ = $0.usedSlots.remove(me.slot) }
    }

    /// The stub as a fresh one for the pool: every mapping above the guest
    /// range but its own code and area gone (stale sibling areas), nothing
    /// of the last guest left in the area (its registers sit in the trap
    /// frames on the signal stack), and the guest range either cleared
    /// (after an exec, on vmexec, or where the host did not tell) or read
    /// as the host has it, anything a guest mapped by jumping into stub
    /// code included, and kept (`Parked.kept`): the next life unmaps what
    /// it does not ask for of it before any guest code runs.
    /// Only a stub parked in its handler, alive, qualifies; nil otherwise.
    private func emptied(_ me: Runner) -> Parked? {
        let parked = [UInt32(SW_STATE_TRAP), UInt32(SW_STATE_DONE)].contains(me.area.state)
        guard parked, sw_pidfd_exited(me.pidfd, 0) == 0 else { return nil }
        // A host rseq registration left over points at guest memory about
        // to be freed: it goes first, in the same hand-off as the unmapping.
        var calls: [StubCall] = []
        if let r = state.withLock({ s in Self.noteHostRseq(me, nil, &s) }) {
            calls.append(StubCall(nr: HostRseqCall.nr, args: HostRseqCall.unregister(r)))
        }
        me.area.store(SW_AREA_RSEQ_DROPPED, UInt32(0))
        // Kept: the stub's pages at base, and slot 0's area at base + 64 KiB;
        // and the guest range's mappings, for the next life to keep what it
        // asks for of them (KeptMirror), read from the host after the batch.
        let base = stub.base.rawValue, stubEnd = stub.end.rawValue
        let areaEnd = base + 2 * SystrapArea.size, top = UInt64(SW_TASK_SIZE)
        // Then its usage, the base of its next life's counts, read in the
        // same hand-off (rather than from /proc).
        let clears = !keepsMirror || state.withLock { $0.execed }
        if clears { calls.append(Self.clearingCall(below: base)) }
        calls += [Self.munmapCall(stubEnd..<(base + SystrapArea.size)),
                  Self.munmapCall(areaEnd..<top),
                  StubCall(nr: SyscallNumber.getrusage, args: [0 /* RUSAGE_SELF */, me.area.address + UInt64(SW_AREA_USAGE)])]
        guard let results = try? requestBatch(on: me, calls), results.count == calls.count,
              results.allSatisfy({ $0 == 0 }) else { return nil }
        // Reading the host's list costs about 15 µs here (/proc renders
        // every mapping's path): only where it is likely to pay.
        var kept = clears ? KeptMirror(mappings: []) : KeptMirror.read(pid: me.pid, below: base, memoryFile: memory.fd)
        if kept == nil {
            // The host did not tell: cleared as before.
            guard (try? requestBatch(on: me, [Self.clearingCall(below: base)])) == [0] else { return nil }
        } else if kept!.mappings.isEmpty {
            kept = nil
        }
        let a = me.area
        let counts = a.stubUsage
        a.store(SW_AREA_USAGE_SET, UInt32(0))
        memset(a.base + Int(SW_AREA_CODE), 0, Int(SW_AREA_SET_FS) + 8 - Int(SW_AREA_CODE))
        a.store(SW_AREA_SET_GS, UInt64(0))
        memset(a.base + Int(SW_AREA_FRAME), 0, Int(SystrapArea.size) - Int(SW_AREA_FRAME))
        return Parked(runner: me, initialRegisters: initialRegisters,
                      cpuTimeBase: HostCPUClock.nanoseconds(of: me.pid) ?? 0,
                      counts: counts, pooled: true, kept: kept)
    }
}

extension SystrapAddressSpace: HostRseq {
    func registerHostRseq(area: GuestAddress, signature: UInt32) throws(PlatformError) -> Errno? {
        let me = try runner()
        if let old = state.withLock({ $0.hostRseq[me.slot] }) {
            if old == RseqRegistration(area: area, signature: signature) { return nil }
            try unregisterHostRseq()
        }
        let err = HostRseqCall.outcome(try request(on: me, HostRseqCall.nr, HostRseqCall.register(area, signature)))
        if err == nil { state.withLock { s in _ = Self.noteHostRseq(me, RseqRegistration(area: area, signature: signature), &s) } }
        return err
    }

    func unregisterHostRseq() throws(PlatformError) {
        guard let me = try? runner() else { return }
        // One not made yet (asked for the next RUN, or dropped by the stub
        // at an exit trap) needs no call.
        guard let r = state.withLock({ Self.forgetHostRseq(me, &$0) }) else { return }
        let raw = try request(on: me, HostRseqCall.nr, HostRseqCall.unregister(r))
        if raw != 0 { throw .host("stub rseq unregistration", Errno(Int32(truncatingIfNeeded: -raw))) }
    }

    /// Sets (or, nil, clears) `r`'s stub's host registration in the table
    /// and in its area, where the stub's trap of exit(2) finds it; the
    /// registration it replaces. Only while the stub is parked.
    private static func noteHostRseq(_ r: Runner, _ reg: RseqRegistration?, _ s: inout State) -> RseqRegistration? {
        r.area.store(SW_AREA_RSEQ, reg?.area.rawValue ?? 0)
        r.area.store(SW_AREA_RSEQ_SIG, reg?.signature ?? 0)
        if let reg { return s.hostRseq.updateValue(reg, forKey: r.slot) }
        return s.hostRseq.removeValue(forKey: r.slot)
    }

    /// Forgets `r`'s registration still to be made at its next RUN, and
    /// that one's outcome.
    private static func forgetRunRseq(_ r: Runner, _ s: inout State) {
        s.runRseq[r.slot] = nil
        s.runRseqOutcome[r.slot] = nil
    }

    /// Forgets every registration of `r`'s stub, made or to be made; the
    /// made one, which the caller unregisters with the host.
    private static func forgetHostRseq(_ r: Runner, _ s: inout State) -> RseqRegistration? {
        forgetRunRseq(r, &s)
        return noteHostRseq(r, nil, &s)
    }

    /// The registration rides on the runner's next RUN, unless its stub
    /// has one already (then the caller unregisters and registers in
    /// round trips of their own).
    func registerHostRseqAtNextRun(area: GuestAddress, signature: UInt32) -> Bool {
        guard let me = try? runner() else { return false }
        return state.withLock { s in
            guard s.hostRseq[me.slot] == nil else { return false }
            s.runRseq[me.slot] = (RseqRegistration(area: area, signature: signature), true)
            s.runRseqOutcome[me.slot] = .pending
            return true
        }
    }

    var deferredRseqOutcome: DeferredHostRseq {
        guard let me = try? runner() else { return .pending }
        return state.withLock { $0.runRseqOutcome[me.slot] ?? .pending }
    }

    /// Whether the runner's next RUN carries calls (`loadRunCalls`): a
    /// registration or mirror calls (a fork's write-protection).
    func hasRunCalls(_ r: Runner) -> Bool {
        state.withLock { $0.runRseq[r.slot] != nil || $0.runCalls[r.slot] != nil }
    }

    /// What a RUN carries: mirror calls, then a registration.
    struct RunCarried {
        let calls: [StubCall]
        let rseq: RseqRegistration?
    }

    /// Before a RUN (SystrapContext.switchTo): the calls to make with it,
    /// written into the area's batch; nil if none.
    func loadRunCalls(_ r: Runner) -> RunCarried? {
        guard let (calls, reg) = state.withLock({ s -> ([StubCall], RseqRegistration?)? in
            let reg = s.runRseq[r.slot]?.registration
            guard reg != nil || s.runCalls[r.slot] != nil else { return nil }
            if s.kept?.slot == r.slot { s.kept = nil }
            return (s.runCalls.removeValue(forKey: r.slot) ?? [], reg)
        }) else { return nil }
        // Result 1 is not one any call gives: a RUN that never ran it reads as refused.
        for (i, c) in calls.enumerated() { r.area.writeBatchEntry(c, index: i, result: 1) }
        if let reg {
            r.area.writeBatchEntry(StubCall(nr: HostRseqCall.nr, args: HostRseqCall.register(reg.area, reg.signature)),
                                   index: calls.count, result: 1)
        }
        r.area.store(SW_AREA_RUN_CALLS, UInt32(calls.count + (reg == nil ? 0 : 1)))
        return RunCarried(calls: calls, rseq: reg)
    }

    /// The mirror calls left for `r`'s next RUN, taken to be made now.
    private func takeRunCalls(_ r: Runner) -> [StubCall] {
        state.withLock { s in
            if s.kept?.slot == r.slot { s.kept = nil }
            return s.runCalls.removeValue(forKey: r.slot)
        } ?? []
    }

    /// The edits ride on the calling runner's next RUN. Only while its
    /// stub is the only one of the space that can run guest code before
    /// that RUN: every slot in use but the spares' belongs to a runner, one
    /// about to be (a ticket, a prepared area, a runner handed over) or one
    /// leaving, so the caller's must be the only one. The batch keeps room
    /// for a registration asked later.
    func editAtNextRun(_ edits: [MirrorEdit]) -> Bool {
        guard let me = try? runner() else { return false }
        let calls = stubCalls(edits)
        return state.withLock { s in
            guard s.usedSlots.count == s.spares.count + 1,
                  (s.runCalls[me.slot]?.count ?? 0) + calls.count + 1 <= Int(SW_AREA_BATCH_MAX) else { return false }
            s.runCalls[me.slot, default: []] += calls
            return true
        }
    }

    /// The mirror rides on the calling runner's first RUN: only for a stub
    /// that is the space's one (as `protectAtNextRun`), has nothing else
    /// waiting for that RUN and holds no host rseq registration, with room
    /// left in the batch for the registration its task's first run asks
    /// (a fork's child inherits its parent's: `Task.rseqRegisterOnHost`).
    /// A recycled stub's mappings of its last guest that are exactly ones
    /// asked for are kept; the rest of them are unmapped in the same batch.
    func mapAtFirstRun(_ mappings: [(range: Range<GuestAddress>, fileOffset: UInt64, prot: Prot)]) -> Bool {
        guard let me = try? runner() else { return false }
        return state.withLock { s in
            guard s.usedSlots.count == s.spares.count + 1, s.runRseq[me.slot] == nil,
                  s.hostRseq[me.slot] == nil else { return false }
            var calls: [StubCall]
            if let kept = s.kept, kept.slot == me.slot {
                // Its clearing is all that waits for the RUN (the init's).
                guard s.runCalls[me.slot]?.count == 1 else { return false }
                let wanted = mappings.map { $0.range.lowerBound.rawValue..<$0.range.upperBound.rawValue }
                let unmaps = kept.mirror.uncovered(by: wanted)
                let new = mappings.filter {
                    !kept.mirror.holds($0.range.lowerBound.rawValue..<$0.range.upperBound.rawValue, fileOffset: $0.fileOffset, prot: $0.prot)
                }
                if unmaps.count <= mappings.count - new.count {
                    calls = unmaps.map(Self.munmapCall)
                    calls += mmapCalls(new)
                } else {
                    // More to unmap than is kept (the last life was another
                    // program's): one clearing costs fewer calls.
                    calls = [Self.clearingCall(below: stub.base.rawValue)] + mmapCalls(mappings)
                }
            } else {
                guard s.runCalls[me.slot] == nil else { return false }
                calls = mmapCalls(mappings)
            }
            // Room left for the registration the first run adds.
            guard calls.count + 1 <= Int(SW_AREA_BATCH_MAX) else { return false }
            s.kept = nil
            s.runCalls[me.slot] = calls.isEmpty ? nil : calls
            return true
        }
    }

    /// After the trap that follows a RUN: what became of the registration
    /// it carried (`loadRunCalls`), and of one the stub dropped as it
    /// reported an exit (`SW_AREA_RSEQ_DROPPED`: made again at the next
    /// RUN if the task goes on; forgotten if it leaves). A registration
    /// the stub dropped that cannot be made again is the platform's
    /// failure: the host took it a moment before.
    func settleRunCalls(_ r: Runner, carried: RunCarried?) throws(PlatformError) {
        let a = r.area
        if let carried, !carried.calls.isEmpty {
            try Self.checkMirrored(carried.calls, (0..<carried.calls.count).map { a.batchResult($0) })
        }
        if let reg = carried?.rseq {
            let raw = a.batchResult(carried!.calls.count)
            try state.withLock { (s: inout State) throws(PlatformError) in
                let asked = s.runRseq.removeValue(forKey: r.slot)?.asked ?? false
                if raw == 0 {
                    _ = Self.noteHostRseq(r, reg, &s)
                    if asked { s.runRseqOutcome[r.slot] = .registered }
                } else if asked {
                    s.runRseqOutcome[r.slot] = .refused(HostRseqCall.outcome(raw) ?? .EIO)
                } else {
                    throw .host("stub rseq registration made again", HostRseqCall.outcome(raw) ?? .EIO)
                }
            }
        }
        if a.load(SW_AREA_RSEQ_DROPPED, as: UInt32.self) != 0 {
            a.store(SW_AREA_RSEQ_DROPPED, UInt32(0))
            state.withLock { s in
                if let reg = Self.noteHostRseq(r, nil, &s) { s.runRseq[r.slot] = (reg, false) }
            }
        }
    }

    /// An exec's new mirror, the old image cleared first: a host rseq
    /// registration of the old image's area goes before the clearing, in
    /// the same hand-off (`dropsRseqWhenCleared`).
    func map(_ mappings: [(range: Range<GuestAddress>, fileOffset: UInt64, prot: Prot)],
             clearing: Range<GuestAddress>?) throws(PlatformError) {
        if clearing != nil { state.withLock { $0.execed = true } }
        guard clearing != nil, let me = try? runner(),
              let r = state.withLock({ Self.forgetHostRseq(me, &$0) }) else {
            try mapBatch(mappings, clearing: clearing, first: nil, last: nil)
            return
        }
        do throws(PlatformError) {
            try mapBatch(mappings, clearing: clearing, first: StubCall(nr: HostRseqCall.nr, args: HostRseqCall.unregister(r)), last: nil)
        } catch {
            // Perhaps still registered: the stub's emptying tries again,
            // and ends the stub rather than recycle it if that fails.
            state.withLock { s in _ = Self.noteHostRseq(me, r, &s) }
            throw error
        }
    }

    var dropsRseqWhenCleared: Bool { true }

    /// The root stub with no other runner: at `leave` it is emptied, its
    /// registration dropped in that same hand-off, or it is ended.
    var dropsRseqAtLeave: Bool {
        guard let me = try? runner(), me.root else { return false }
        return state.withLock { $0.runners.count == 1 && $0.readyTickets.isEmpty && $0.handedOver == nil }
    }

    /// A fork's child's mirror and its rseq registration: one hand-off,
    /// where the child's first run would otherwise make a round trip of
    /// its own to register.
    func map(_ mappings: [(range: Range<GuestAddress>, fileOffset: UInt64, prot: Prot)],
             registeringRseq rseq: RseqRegistration) throws(PlatformError) -> Bool? {
        let me = try runner()
        guard state.withLock({ $0.hostRseq[me.slot] }) == nil else {
            try map(mappings, clearing: nil)
            return nil
        }
        let raw = try mapBatch(mappings, clearing: nil, first: nil,
                               last: StubCall(nr: HostRseqCall.nr, args: HostRseqCall.register(rseq.area, rseq.signature)))
        guard let raw, HostRseqCall.outcome(raw) == nil else { return false }
        state.withLock { s in _ = Self.noteHostRseq(me, rseq, &s) }
        return true
    }

    /// The signal that ended the calling runner's stub, if it is dead.
    var runnerDeathSignal: Int32? {
        guard let me = try? runner() else { return nil }
        return HostRseqDeath.signal(pidfd: me.pidfd)
    }
}

extension SystrapAddressSpace: CodePatchSync {
    /// Every other thread of the mm runs a serializing instruction before it
    /// next runs guest code (membarrier's PRIVATE_EXPEDITED_SYNC_CORE from
    /// the calling runner's stub), so none runs stale bytes of a patch.
    /// Nothing to do while the caller is the only runner: it is here.
    func syncCores() {
        guard state.withLock({ $0.runners.count }) > 1 else { return }
        guard let r = try? runner() else { return }
        if !syncCoreRegistered.load(ordering: .relaxed) {
            _ = try? request(on: r, SyscallNumber.membarrier, [Self.MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED_SYNC_CORE, 0, 0])
            syncCoreRegistered.store(true, ordering: .relaxed)
        }
        _ = try? request(on: r, SyscallNumber.membarrier, [Self.MEMBARRIER_CMD_PRIVATE_EXPEDITED_SYNC_CORE, 0, 0])
    }

    static let MEMBARRIER_CMD_PRIVATE_EXPEDITED_SYNC_CORE: UInt64 = 1 << 5
    static let MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED_SYNC_CORE: UInt64 = 1 << 6
}
