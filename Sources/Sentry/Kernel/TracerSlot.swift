import Synchronization

/// Where the kernel keeps its tracer: the one `--strace` gave at start, or
/// one attached and detached while the sandbox runs (`sentry trace NAME`).
///
/// The syscall path asks `current` once per call: with no tracer that is a
/// single relaxed load of `active`; `--strace`'s tracer, which never
/// changes, is a plain read. A live tracer is behind a Mutex (a leaf lock,
/// taken for the read only). A call takes its tracer at entry
/// and reports its exit to that same tracer; one in flight when a tracer
/// attaches is reported whole at its end to the new tracer (the kernel looks
/// again after the call), and one in flight when it detaches ends on the
/// detached tracer, whose output is closed by then (the line is dropped).
public final class TracerSlot: Sendable {
    public enum AttachError: Error, Equatable, CustomStringConvertible {
        /// A tracer is already there: the one given at start, or a live one.
        case busy(startedWithStrace: Bool)
        /// The sandbox has ended.
        case finished
        public var description: String {
            switch self {
            case .busy(true): return "the sandbox is already traced (it was started with --strace)"
            case .busy(false): return "the sandbox is already traced by another `sentry trace`"
            case .finished: return "the sandbox has ended"
            }
        }
    }

    private struct State {
        var tracer: Tracer?
        var startedWith = false
        var closed = false
    }
    /// `--strace`'s tracer, there for the sandbox's life: read without the lock.
    private let fixed: Tracer?
    private let active = Atomic<Bool>(false)
    private let state: Mutex<State>

    init(_ initial: Tracer?) {
        fixed = initial
        state = Mutex(State(tracer: initial, startedWith: initial != nil))
    }

    /// The tracer now, or nil (one relaxed load when there is none).
    @inline(__always)
    var current: Tracer? {
        if let fixed { return fixed }
        guard active.load(ordering: .relaxed) else { return nil }
        return state.withLock { $0.tracer }
    }

    /// `--strace`'s tracer is there: no other comes or goes.
    @inline(__always)
    var isFixed: Bool { fixed != nil }

    /// Installs a live tracer: one at a time, and none over the start's.
    /// `announce` runs first, under the lock, so that what it writes comes
    /// before any line of the trace; it must not block. False if `announce`
    /// said no (the tracer is then not installed).
    func attach(_ tracer: Tracer, announce: () -> Bool) throws(AttachError) -> Bool {
        let result: Result<Bool, AttachError> = state.withLock { s in
            if s.closed { return .failure(.finished) }
            if s.tracer != nil { return .failure(.busy(startedWithStrace: s.startedWith)) }
            guard announce() else { return .success(false) }
            s.tracer = tracer
            active.store(true, ordering: .relaxed)
            return .success(true)
        }
        return try result.get()
    }

    /// Removes `tracer` if it is the one installed; true if this call removed it.
    @discardableResult
    func detach(_ tracer: Tracer) -> Bool {
        state.withLock { s in
            guard s.tracer === tracer, !s.startedWith else { return false }
            s.tracer = nil
            active.store(false, ordering: .relaxed)
            return true
        }
    }

    /// The sandbox is over: no more attaching; the live tracer, if any, is returned removed.
    func close() -> Tracer? {
        state.withLock { s in
            s.closed = true
            guard !s.startedWith, let t = s.tracer else { return nil }
            s.tracer = nil
            active.store(false, ordering: .relaxed)
            return t
        }
    }
}

extension Kernel {
    /// `sentry trace NAME`: starts tracing the running sandbox with `tracer`
    /// from every task's next syscall entry, once `announce` (which must not
    /// block) has said so. Refused while another tracer is installed (see
    /// TracerSlot.AttachError).
    public func attachTracer(_ tracer: Tracer, announce: () -> Bool) throws(TracerSlot.AttachError) -> Bool {
        // `[pid N]` from the first line if the sandbox already has more than one task.
        tracer.showPIDs.store(locked { tasks.count > 1 }, ordering: .relaxed)
        guard try tracers.attach(tracer, announce: announce) else { return false }
        // Tasks serving calls on their own (GuestSideCalls.swift) stop at their next run.
        if Task.guestSideCallNumbers.contains(where: tracer.wants) { kickOutOfGuestCode { _ in true } }
        return true
    }

    /// Stops tracing with `tracer`; true if it was the one installed.
    @discardableResult
    public func detachTracer(_ tracer: Tracer) -> Bool { tracers.detach(tracer) }

    /// The sandbox is over: a live tracer is detached and returned (to end
    /// its stream), and no other may attach.
    public func closeTracing() -> Tracer? { tracers.close() }
}
