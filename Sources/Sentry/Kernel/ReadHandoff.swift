import CSwitch
import Glibc

/// A direct hand-off from a pipe's writer to a reader asleep in `read` or
/// `readv`: the writer's sentry thread completes the read itself and
/// resumes the reader's guest, so the reader's sentry thread is not woken
/// to do it (on systrap about one host context switch and two host
/// syscalls fewer per pipe round trip; README, Benchmark, "The direct
/// hand-off").
///
/// The normal path stays the rule and this the exception:
/// - The reader arms only a sleep with nothing special on its way out (no
///   guest tracer, no --strace, no freeze restart, no step, rseq either
///   absent or kept by the host with no critical section to fix up), and
///   only where its platform can be resumed from another thread (systrap).
/// - One compare-and-swap on the reader's waker word decides between any
///   wake (a signal, a kill, a notify) and a writer's claim
///   (`Waker.claimHandoff`); a claim is taken under the pipe's lock, right
///   after the writer's bytes went in.
/// - The claimer, with no lock of its own held, copies from the pipe into
///   the reader's buffers through the reader's mm, at that moment; pages
///   only the reader's runner may change (copy-on-write, soft-dirty
///   tracking, pending unmaps) make it give the read back (`declined`).
/// - Under the kernel lock it looks at what the run loop would look at on
///   the way back to guest code (signals, a kill, a stop, a freeze); if
///   anything is there the reader's own thread is woken with the count
///   (`woken`) and goes out the normal way, delivering the signal after
///   its read, as Linux does. Else it marks the task in guest code (so a
///   signal sent from then on kicks the stub), moves the reader's sleep
///   onto the stub's area word and resumes the guest with the count in rax
///   (`resumed`): the reader's thread next wakes at the guest's next trap,
///   finishes the read's bookkeeping, and waits for that trap as if it had
///   posted the RUN itself.
///
/// The writer's thread's CPU time pays for the copy (it is the reader's in
/// Linux); the reader's /proc/PID/syscall says "running" from the resume.
final class ReadHandoff: @unchecked Sendable {
    // Sendable: set by the reader before it arms; read by the claimer after
    // the claim's compare-and-swap, which orders them; `outcome` atomic.
    unowned(unsafe) let reader: Task
    private(set) var end: PipeEnd?
    private(set) var ranges: [GuestRange] = []
    /// The count the claimer moved (set before `outcome`).
    private(set) var count = 0
    /// How the reader's last armed sleep ended (the reader's own).
    var lastOutcome = Outcome.pending
    enum Outcome: UInt32 { case pending = 0, resumed = 1, woken = 2, declined = 3 }
    /// `Outcome`, and `readerWaits` while the reader sleeps on it.
    private let word: UnsafeMutablePointer<UInt32>
    private static let readerWaits: UInt32 = 0x100
    /// An armed sleep wakes at least this often (a stub that died while the
    /// sleep sat on its area word is then noticed).
    static let sleepBound: Int64 = 1_000_000_000

    init(reader: Task) {
        self.reader = reader
        word = .allocate(capacity: 1)
        word.initialize(to: 0)
    }
    deinit { word.deallocate() }

    /// Before the reader's sleep: what it reads into; registered on the pipe
    /// (false if another reader of it is).
    func arm(_ end: PipeEnd, _ ranges: [GuestRange]) -> Bool {
        self.end = end
        self.ranges = ranges
        count = 0
        lastOutcome = .pending
        word.pointee = 0
        if end.pipe.arm(self) { return true }
        self.end = nil
        return false
    }

    /// After the reader's sleep, whatever ended it.
    func disarm() {
        end?.pipe.disarm(self)
        end = nil
        ranges = []
    }

    /// Under the pipe's lock, by a writer that has just written.
    func claim() -> Bool { reader.waker.claimHandoff() }

    /// The reader, after its sleep ended claimed: the claimer's outcome.
    func awaitOutcome() -> Outcome {
        while true {
            let v = sw_atomic_load32(word) & ~Self.readerWaits
            if v != 0 { return Outcome(rawValue: v) ?? .declined }
            if sw_atomic_cas32(word, 0, Self.readerWaits) != 0 { _ = sw_futex_wait_private(word, Self.readerWaits, -1) }
        }
    }

    private func settle(_ o: Outcome) {
        if sw_atomic_xchg32(word, o.rawValue) & Self.readerWaits != 0 { _ = sw_futex_wake_private(word) }
    }

    /// The claimer's work, on its own thread with no lock held.
    func complete(by writer: Task) {
        let r = reader
        guard let end else { return settleWaking(.declined) }
        // The copy, at this moment, against the reader's mappings of this moment.
        let moved: Int?
        do { moved = try r.mm.withWholeGuestBuffersAsMapped(ranges) { (bufs) throws(Errno) -> Int in try end.pipe.read(into: bufs) } }
        catch { moved = nil }   // another reader took the bytes first: the reader looks again
        guard let n = moved, n > 0 else { return settleWaking(.declined) }
        count = n
        writer.kernel.vfs.notify.accessed(end)   // fsnotify_access, as the reader's read would
        // O_ASYNC signals this write raised (POLL_IN to the pipe's readers'
        // owner) and the read just made (POLL_OUT to its writers') are sent
        // now, with no lock held, as kill_fasync sends them before either
        // call returns: one meant for the reader is then pending at the
        // look below, which hands it to the reader's own thread.
        writer.sendDeferredSignals()
        var regs = r.regs
        regs.returnValue = UInt64(n)
        guard let space = r.space, r.mayResumeFromHandoff(regs: regs, space: space) else { return settleWaking(.woken) }
        // The run loop's look on the way to guest code: from here a signal kicks the stub.
        let sideCalls = r.guestSideCalls
        let readerThread = r.kernel.locked { () -> pid_t? in
            guard !r.interruptedLocked, !r.kernel.freezing, r.ptrace == nil, r.savedMask == nil,
                  r.ignoredForTracer.isEmpty else { return nil }
            r.enterGuestLocked(sideCalls)
            return r.hostThreadID
        }
        guard let readerThread else { return settleWaking(.woken) }
        // A truncation that queued its unmaps before `inGuest` was set did not kick: the reader's thread applies them.
        if r.mm.hasPendingUnmaps {
            r.kernel.locked { r.leaveGuestLocked() }
            return settleWaking(.woken)
        }
        r.sleepingIn.withLock { $0 = nil }
        // As the run loop would before its RUN: a tracer may have attached while the reader slept.
        r.context.allowGuestSideClockReads(sideCalls.clocks)
        // The reader's thread sleeps on until the trap that ends this run:
        // moved onto the word the stub wakes at a trap, before the RUN.
        // Settled last, so the reader cannot be in a later sleep when its
        // sleep is moved.
        // A stub moved to this CPU has the reader's thread pulled after it
        // (the thread lets go when it wakes, Task.block).
        guard r.context.resumeFromAnotherThread(regs, moveSleep: { word, cpu in
            if let cpu { r.waker.pullClaimed(tid: readerThread, to: cpu) }
            _ = r.waker.requeueClaimed(onto: word)
        }) else {
            r.kernel.locked { r.leaveGuestLocked() }
            return settleWaking(.woken)
        }
        settle(.resumed)
    }

    private func settleWaking(_ o: Outcome) {
        settle(o)
        reader.waker.wakeClaimed()
    }
}

extension Task {
    /// A blocking read of a pipe (read or readv, the file's position, no
    /// RWF_NOWAIT) whose sleep a writer may complete (ReadHandoff).
    func blockingPipeRead(_ end: PipeEnd, into ranges: [GuestRange], _ op: () throws(Errno) -> Int) throws(Errno) -> Int {
        while true {
            do { return try op() } catch {
                guard error == .EAGAIN, !end.flags.contains(.nonBlock) else { throw error }
            }
            let handoff = handoffForRead()
            // Only this block's sleep says how the read ended (a ready pipe returns before any).
            handoff?.lastOutcome = .pending
            _ = try block(on: [end.pipe.queue], handoff: handoff.map { ($0, end, ranges) }) { () throws(Errno) in
                end.readiness(Int16(POLLIN)) != 0
            }
            guard let h = handoff else { continue }
            defer { h.lastOutcome = .pending }
            switch h.lastOutcome {
            case .resumed:
                resumedByHandoff = true
                handoffNotified = true
                return h.count
            case .woken:
                handoffNotified = true
                return h.count
            case .pending, .declined:
                continue
            }
        }
    }

    /// The task's hand-off, if this call's way out may be taken by a
    /// writer: read or readv, nothing for a tracer to see, nothing for the
    /// run loop to do but enter guest code, and a platform that can be
    /// resumed from another thread. Own thread.
    private func handoffForRead() -> ReadHandoff? {
        let nr = regs.syscallNumber
        guard nr == Self.readNumber || nr == Self.readvNumber, !traced.load(ordering: .acquiring), kernel.tracer == nil,
              freezeRestart == nil, let space, context.canResumeFromAnotherThread(space, regs: regs) else { return nil }
        if rseq != nil, rseqOnHost != true || rseqHostUnsettled { return nil }
        if let h = readHandoff { return h }
        let h = ReadHandoff(reader: self)
        readHandoff = h
        return h
    }
    private static let readNumber: UInt64 = 0, readvNumber: UInt64 = 19

    /// What the claimer checks besides the kernel lock's state: the
    /// registers resume as switchTo would, rseq has no section to fix up
    /// (the host keeps cpu_id), and the task is where it armed. The task's
    /// thread sleeps meanwhile, so its own fields hold still.
    func mayResumeFromHandoff(regs: Registers, space: AddressSpace) -> Bool {
        guard kernel.tracer == nil, !traced.load(ordering: .acquiring), context.canResumeFromAnotherThread(space, regs: regs) else { return false }
        if let r = rseq {
            guard rseqOnHost == true, !rseqHostUnsettled, (try? mm.read(r.area + RseqABI.rseqCS, as: UInt64.self)) == 0 else { return false }
        }
        return true
    }

    /// The writer's side: after its bytes went in and its mm's lock is let
    /// go, the read it claimed (Pipe.write) is completed.
    func completeClaimedHandoff() {
        guard let h = claimedHandoff else { return }
        claimedHandoff = nil
        h.complete(by: self)
    }
}
