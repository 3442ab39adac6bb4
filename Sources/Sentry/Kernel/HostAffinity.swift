import CSwitch

/// The guest's CPU affinity (sched_setaffinity) applied on the host to what
/// runs the task: its stub, where its code runs, so the host's rseq
/// `cpu_id` (glibc's sched_getcpu) and getcpu name a CPU inside the mask,
/// and its sentry thread, which serves its calls (and on vmexec runs its
/// code). The mask is cut to the sentry's own CPUs: the sandbox's are the
/// host's. A task whose affinity was never set is left as the host has it.
extension Task {
    /// Applies the task's affinity to its current stub and sentry thread;
    /// from any thread (another task's sched_setaffinity). Host errors are
    /// not the guest's: the mask stays recorded and reported either way.
    public func applyHostAffinity() {
        guard let mask = attributes.withLock({ $0.scheduling.affinity }) else { return }
        context.guestAffinitySet()
        let (stub, thread) = kernel.locked { (stubClock?.pid, hostThreadID) }
        if let stub { _ = sw_set_affinity(stub, mask, 0) }
        if thread != 0 { _ = sw_set_affinity(thread, mask, 0) }
    }

    /// `stub`, and with `ownThread` the calling sentry thread, go back to
    /// the sentry's whole set once the task is done with them: a recycled
    /// stub or thread must not keep a guest's narrowing.
    func resetHostAffinity(stub: Int32?, ownThread: Bool) {
        guard attributes.withLock({ $0.scheduling.affinity }) != nil else { return }
        if let stub { _ = sw_set_affinity(stub, 0, 1) }
        if ownThread { _ = sw_set_affinity(0, 0, 1) }
    }
}
