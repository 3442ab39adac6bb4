import CSwitch

/// A trapping backend. One per sandbox.
///
/// Host threads matter: each task runs on its own sentry thread, and an
/// address space is *entered* by the threads of the tasks that share it (its
/// runners). ptrace ties a stub to the thread that traces it, so every call
/// on an address space comes from one of its runners.
public protocol Platform: AnyObject, Sendable {
    var name: String { get }
    /// A fresh, empty guest address space whose first runner is the calling
    /// thread (for ptrace: a new stub process traced by this thread).
    func makeAddressSpace() throws(PlatformError) -> AddressSpace
    /// An execution context for one task, used only by that task's thread.
    func makeContext() throws(PlatformError) -> PlatformContext
    /// A fresh address space whose first runner, the calling thread, may
    /// hand it to another thread (`AddressSpace.handOver`/`takeOver`): a
    /// fork's parent then builds the child's mirror itself. nil where that
    /// cannot be had: ptrace's stub is traced by the thread that made it,
    /// and a stub started on the calling thread dies with it
    /// (PR_SET_PDEATHSIG), so only one the platform has ready qualifies.
    func makeMovableAddressSpace() throws(PlatformError) -> AddressSpace?
    /// Where a patched syscall site's trampoline enters the stub (systrap
    /// with patching on); nil where no site is patched. A restore keeps an
    /// image's patched sites only where this is set.
    var syscallPatchEntry: UInt64? { get }
    /// Whether a task's sentry thread may serve another task after its own
    /// ends (`TaskThreads`): no host state of the task is tied to the thread.
    var reusesTaskThreads: Bool { get }
}

extension Platform {
    public func makeMovableAddressSpace() throws(PlatformError) -> AddressSpace? { nil }
    public var syscallPatchEntry: UInt64? { nil }
    public var reusesTaskThreads: Bool { false }
}

/// The three changes the memory manager makes to a mirror, one at a time.
public protocol MirrorEditing {
    /// Maps `range` to the memory file at `fileOffset` with `prot`, replacing
    /// whatever was there.
    func map(_ range: Range<GuestAddress>, fileOffset: UInt64, prot: Prot) throws(PlatformError)
    func unmap(_ range: Range<GuestAddress>) throws(PlatformError)
    func protect(_ range: Range<GuestAddress>, prot: Prot) throws(PlatformError)
}

/// One change to a mirror, as a value: MemoryManager.mirror records them
/// (MirrorEditLog) and then has them made now or at the next run.
public enum MirrorEdit: Sendable, Equatable {
    case map(Range<GuestAddress>, fileOffset: UInt64, prot: Prot)
    case unmap(Range<GuestAddress>)
    case protect(Range<GuestAddress>, prot: Prot)

    func apply(to space: any MirrorEditing) throws(PlatformError) {
        switch self {
        case .map(let r, let off, let prot): try space.map(r, fileOffset: off, prot: prot)
        case .unmap(let r): try space.unmap(r)
        case .protect(let r, let prot): try space.protect(r, prot: prot)
        }
    }
}

/// The edits a `mirror` body asks for, in order, made later by the caller.
final class MirrorEditLog: MirrorEditing {
    private(set) var edits: [MirrorEdit] = []
    func map(_ range: Range<GuestAddress>, fileOffset: UInt64, prot: Prot) { edits.append(.map(range, fileOffset: fileOffset, prot: prot)) }
    func unmap(_ range: Range<GuestAddress>) { edits.append(.unmap(range)) }
    func protect(_ range: Range<GuestAddress>, prot: Prot) { edits.append(.protect(range, prot: prot)) }
}

/// The host-side mirror of one guest memory map. The memory manager owns the
/// truth (its VMAs); this only makes the host page tables agree with it.
public protocol AddressSpace: AnyObject, Sendable, MirrorEditing {
    /// Several `map`s at once (a new address space's whole mirror), after
    /// unmapping `clearing` if given (an exec's old image), in as few
    /// round trips to the host side as it allows.
    func map(_ mappings: [(range: Range<GuestAddress>, fileOffset: UInt64, prot: Prot)],
             clearing: Range<GuestAddress>?) throws(PlatformError)
    /// `map(mappings, clearing: nil)` for a fork's child, whose mirror its
    /// parent builds, with the child's rseq area registered with the host
    /// for the calling runner's guest code in the same round trip: true if
    /// registered, false if the host refused (the sentry then emulates),
    /// nil where the platform registers only on its own (`HostRseq`, at
    /// the task's first run).
    func map(_ mappings: [(range: Range<GuestAddress>, fileOffset: UInt64, prot: Prot)],
             registeringRseq rseq: RseqRegistration) throws(PlatformError) -> Bool?
    /// The edits, in order, in as few round trips as the platform allows.
    func edit(_ edits: [MirrorEdit]) throws(PlatformError)
    /// The edits made by the calling runner's next entry into guest code,
    /// before its first instruction, in that same hand-off (a fork's
    /// write-protection of the parent's mirror, a brk's new heap, an
    /// mmap's pages); any other call on the space by that runner makes
    /// them first. Only where no other runner of the space can run guest
    /// code before then: false where the platform cannot promise that
    /// (the caller edits now). A change the host refuses then ends that
    /// run, as the platform's failure (as it breaks the mm when made now).
    func editAtNextRun(_ edits: [MirrorEdit]) -> Bool
    /// A new space's whole mirror (a fork's child's) made by the calling
    /// runner's first entry into guest code, before its first instruction,
    /// in that same hand-off: the forking thread then waits for no stub.
    /// A mapping the host refuses then ends that run before any guest
    /// code, as the platform's failure. Any other call on the space by
    /// that runner makes them first. False where the platform cannot (the
    /// caller maps now).
    func mapAtFirstRun(_ mappings: [(range: Range<GuestAddress>, fileOffset: UInt64, prot: Prot)]) -> Bool
    /// Called by a runner: makes room for another task in this address space
    /// (clone with CLONE_VM). The new task's thread passes the ticket to `join`.
    func prepareRunner() throws(PlatformError) -> RunnerTicket
    /// Called by the new task's thread: it becomes a runner.
    func join(_ ticket: RunnerTicket) throws(PlatformError)
    /// A prepared runner that will never join (the clone failed after all).
    func abandon(_ ticket: RunnerTicket)
    /// Registers a new image starts from (valid segment selectors, flags).
    var initialRegisters: Registers { get }
    /// The host process the calling runner's guest code runs in (its CPU
    /// clocks are the task's).
    var hostPID: Int32? { get }
    /// CPU time (ns) `hostPID` spent before this address space had it (a
    /// recycled stub); the task's CPU clocks start from there.
    var cpuTimeBase: Int64 { get }
    /// `hostPID`'s fault and switch counts when this address space got it,
    /// if the platform read them then (a recycled stub, read as it was
    /// emptied); nil: read them now.
    var hostCountsBase: HostTaskCounters? { get }
    /// `hostPID`'s counts as it reported the calling runner's trap of
    /// exit(2) or exit_group(2), if it did and has run no guest code
    /// since; nil: read them from /proc.
    var countsAtExitTrap: HostTaskCounters? { get }
    /// The calling thread stops running in this space (task exit or execve).
    /// The last runner to leave frees the host side, or, when the sentry is
    /// exiting, leaves it to die with the sentry (PR_SET_PDEATHSIG).
    func leave(sentryExiting: Bool)
    /// The calling thread stops being a runner, for the next thread to call
    /// `takeOver` to become it (a space from `Platform.makeMovableAddressSpace`).
    func handOver()
    /// The calling thread becomes the runner the last `handOver` let go.
    func takeOver()
}

extension AddressSpace {
    func leave() { leave(sentryExiting: false) }
    public var hostCountsBase: HostTaskCounters? { nil }
    public var countsAtExitTrap: HostTaskCounters? { nil }
    public func map(_ mappings: [(range: Range<GuestAddress>, fileOffset: UInt64, prot: Prot)],
                    registeringRseq rseq: RseqRegistration) throws(PlatformError) -> Bool? {
        try map(mappings, clearing: nil)
        return nil
    }
    public func handOver() {}
    public func takeOver() {}
    public func edit(_ edits: [MirrorEdit]) throws(PlatformError) {
        for e in edits { try e.apply(to: self) }
    }
    public func editAtNextRun(_ edits: [MirrorEdit]) -> Bool { false }
    public func mapAtFirstRun(_ mappings: [(range: Range<GuestAddress>, fileOffset: UInt64, prot: Prot)]) -> Bool { false }
}

/// A promise of room in an address space for one more runner.
public struct RunnerTicket: Sendable {
    public let raw: Int64
    /// The runner's host side exists and is parked (systrap's spare stub
    /// of a thread that exited): `join` cannot fail, so the thread that
    /// made the ticket need not wait for the joiner.
    public let ready: Bool
    public init(raw: Int64, ready: Bool = false) { self.raw = raw; self.ready = ready }
}

/// Runs guest code on behalf of one task until it traps back into the sentry.
public protocol PlatformContext: AnyObject, Sendable {
    func switchTo(_ space: AddressSpace, _ regs: inout Registers) throws(PlatformError) -> Trap
    /// Guest FPU/SSE/AVX state as an XSAVE image (signal frames, checkpoints).
    func fpuState(_ space: AddressSpace) throws(PlatformError) -> [UInt8]
    func setFPUState(_ space: AddressSpace, _ image: [UInt8]) throws(PlatformError)
    /// From any thread: makes a `switchTo` in progress return `.interrupted`
    /// soon. Only call while the task is in guest code.
    func kick()
    /// When the last trap was a syscall this platform would rather take
    /// through a patched site (systrap, --systrap-patch on): the absolute
    /// address a site's trampoline jumps to. nil otherwise.
    var patchableSyscallEntry: UInt64? { get }
    /// The task's thread is about to sleep in the sentry (`blocked`), or
    /// woke: a platform whose guest side spins for the sentry's answer
    /// (systrap's stub) stops spinning, since none is coming soon. On the
    /// task's thread, between runs of `space`.
    func sentryBlocked(_ blocked: Bool, in space: AddressSpace?)
    /// The guest gave the task a CPU affinity of its own, applied to its
    /// stub and thread (HostAffinity.swift): the platform stops placing
    /// the stub itself. From any thread.
    func guestAffinitySet()
    /// A direct hand-off (Kernel/ReadHandoff.swift): whether another thread
    /// could resume the task's guest with `regs` while the task's own
    /// thread sleeps in the sentry, as `switchTo` would (the same frame,
    /// bases and flags, nothing to carry on the run). On the task's thread
    /// or, while it sleeps, on the thread that claimed its sleep.
    func canResumeFromAnotherThread(_ space: AddressSpace, regs: Registers) -> Bool
    /// Resumes the guest with `regs` (after `canResumeFromAnotherThread`
    /// said yes, the task's thread asleep); `moveSleep` first moves that
    /// thread's sleep onto the word the guest's next trap wakes, and is
    /// told the host CPU the guest was moved to, if it was (for the thread
    /// to follow). false if the platform cannot.
    func resumeFromAnotherThread(_ regs: Registers, moveSleep: (_ word: UnsafeMutablePointer<UInt32>, _ movedTo: Int32?) -> Void) -> Bool
    /// On the task's thread, after another thread resumed its guest: waits
    /// for the trap that ends that run, as `switchTo` does after its RUN.
    func awaitRunFromAnotherThread(_ space: AddressSpace, _ regs: inout Registers) throws(PlatformError) -> Trap
    /// The clocks (a bit per clock id) whose `clock_gettime` the guest's
    /// side may answer itself from the host's clock from the next run on,
    /// the call never reaching the sentry (systrap's patched sites); 0 for
    /// none. On the task's thread, before `switchTo`, or on the thread
    /// resuming it (`resumeFromAnotherThread`) while it sleeps.
    func allowGuestSideClockReads(_ clocks: UInt64)
    /// On the way into guest code of `space`, kernel lock held (on the
    /// task's thread, or on the thread resuming it while it sleeps): if
    /// `allowed` and the platform can, the task's signal mask and the
    /// signals pending for it go to the guest's side, which answers
    /// `rt_sigprocmask` itself until the run ends (systrap's stub,
    /// Kernel/GuestSideSignalMask.swift). The words the sentry reads and
    /// writes meanwhile; nil: the mask stays the sentry's for this run.
    func enterGuestSignalMask(_ space: AddressSpace?, allowed: Bool, mask: UInt64, pending: UInt64) -> GuestSignalWords?
    /// Likewise for `set_robust_list`: if `allowed` and the platform can,
    /// the guest's side records the head it gives until the run ends
    /// (Kernel/GuestSideRobustList.swift); where to find it, nil if not.
    func enterGuestRobustList(_ space: AddressSpace?, allowed: Bool) -> GuestRobustListWord?
}

extension PlatformContext {
    public var patchableSyscallEntry: UInt64? { nil }
    public func sentryBlocked(_ blocked: Bool, in space: AddressSpace?) {}
    public func guestAffinitySet() {}
    public func canResumeFromAnotherThread(_ space: AddressSpace, regs: Registers) -> Bool { false }
    public func resumeFromAnotherThread(_ regs: Registers, moveSleep: (_ word: UnsafeMutablePointer<UInt32>, _ movedTo: Int32?) -> Void) -> Bool { false }
    public func awaitRunFromAnotherThread(_ space: AddressSpace, _ regs: inout Registers) throws(PlatformError) -> Trap {
        try switchTo(space, &regs)
    }
    public func allowGuestSideClockReads(_ clocks: UInt64) {}
    public func enterGuestSignalMask(_ space: AddressSpace?, allowed: Bool, mask: UInt64, pending: UInt64) -> GuestSignalWords? { nil }
    public func enterGuestRobustList(_ space: AddressSpace?, allowed: Bool) -> GuestRobustListWord? { nil }
}

/// Why guest code stopped running.
public enum Trap: Sendable, Equatable {
    /// A system call; number and arguments are in the registers.
    case syscall
    /// A call into the legacy vsyscall page (Arch/VsyscallPage.swift): the
    /// registers as at the fault, rip the entry called, rsp at the return address.
    case vsyscall
    /// A synchronous fault raised by the guest's own instruction; for a
    /// page fault, the access that faulted when the platform knows it.
    case fault(Signal, address: GuestAddress, code: Int32, access: Prot?)
    /// The sentry kicked the task out of guest code (a signal to deliver, a
    /// group exit), or a stray host signal reached the stub.
    case interrupted
}

public enum PlatformError: Error, CustomStringConvertible {
    case unavailable(String)
    case host(String, Errno)
    /// The host process behind the address space died under us.
    case stubDied(String)

    public var description: String {
        switch self {
        case .unavailable(let why): return why
        case .host(let what, let e): return "\(what): \(e)"
        case .stubDied(let why): return "stub process died: \(why)"
        }
    }
}
