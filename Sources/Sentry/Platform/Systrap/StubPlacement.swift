import CSwitch

/// Which host CPUs a task's stub may run on. A task that traps often
/// (a round trip through a pipe or socket: every guest call is a hand-off
/// from the stub to the task's sentry thread and back) has its stub held to
/// the CPU its sentry thread is on, so each futex wake-up of the pair lands
/// where the waker is about to sleep: on a busy host the wakee otherwise
/// queues behind other work on the other CPU, and on an idle one it pays
/// that CPU's wake-up from idle (tens of µs in a VM). A guest that computes
/// for long between traps (the same measure as the spin's, `runTime`) has
/// its stub free again, so the host can balance its threads; a run that
/// outlasts a wait's timeout frees it too (`release`). The guest's own
/// affinity (sched_setaffinity, HostAffinity.swift) overrides all of it
/// (`guestAffinity`: the stub keeps the guest's mask). Used by its task's
/// thread only.
struct StubPlacement {
    /// The CPU the stub is held to; nil: the sentry's whole set.
    private var cpu: Int32?
    /// `cpu` is what the host has: false for a stub just taken (from the
    /// pool, a spare, an exec's), which may hold another task's pin.
    private var known = false

    /// A new stub: nothing known of its host affinity.
    mutating func newStub() { known = false; cpu = nil }

    /// Before a RUN from the task's thread: the stub held to this thread's
    /// CPU if the guest's runs are short, else freed. A host call only when
    /// that changes. Returns whether the stub shares this thread's CPU
    /// (a spin for its answer would only keep it off the CPU).
    mutating func place(stub pid: Int32, shortRuns: Bool, guestAffinity: Bool) -> Bool {
        if guestAffinity { known = false; cpu = nil; return false }
        guard shortRuns else { release(stub: pid, guestAffinity: false); return false }
        let here = Int32(truncatingIfNeeded: sw_current_cpu())
        if known && cpu == here { return true }
        guard here >= 0 && here < 64, sw_set_affinity(pid, 1 << UInt64(here), 0) == 0 else { return false }
        cpu = here
        known = true
        return true
    }

    /// The stub free to run anywhere the sentry may (unless the guest set
    /// its own affinity, which stays).
    mutating func release(stub pid: Int32, guestAffinity: Bool) {
        if guestAffinity { known = false; cpu = nil; return }
        if known && cpu == nil { return }
        if sw_set_affinity(pid, 0, 1) == 0 { cpu = nil; known = true }
    }
}
