import CSwitch

/// Which host CPUs a task's stub may run on, and whether the stub and the
/// task's sentry thread spin for each other.
///
/// A task that traps often (every guest call is a hand-off from the stub to
/// the task's sentry thread and back) has its stub held to the CPU its
/// sentry thread is on, and neither side spins for the other
/// (`SW_AREA_SAME_CPU`, read by the stub and by `SystrapArea.wait`): each
/// side sleeps on the area's futex at once, and the wake-up lands on the CPU
/// where the waker is about to sleep. Spinning apart on two CPUs is only
/// faster on an idle host, and there only by a few µs; on a busy one the
/// other side is queued behind other work and a spin just burns the CPU it
/// waits for, and on an idle VM a wake-up of the other CPU from idle costs
/// tens of µs. A spin on the CPU the other side is held to could only keep
/// it off: that cost the pinned getppid 21 µs here before the stub knew.
///
/// A guest that computes for long between traps (`shortRuns` false) has its
/// stub free, so the host can balance its threads; a run that outlasts a
/// wait's timeout frees it too (`release`). The guest's own affinity
/// (sched_setaffinity, HostAffinity.swift) overrides all of it
/// (`guestAffinity`: the stub keeps the guest's mask). Used by its task's
/// thread only.
struct StubPlacement {
    /// The CPU the stub is held to; nil: the sentry's whole set.
    private var cpu: Int32?
    /// `cpu` is what the host has: false for a stub just taken (from the
    /// pool, a spare, an exec's), which may hold another task's pin.
    private var known = false

    /// A new stub: nothing known of its host affinity.
    mutating func newStub(_ area: SystrapArea) {
        known = false
        cpu = nil
        area.store(SW_AREA_SAME_CPU, UInt32(0))
    }

    /// Before a RUN from the task's thread: the stub held to this thread's
    /// CPU if the guest's runs are short, else freed; a host call only when
    /// that changes. Returns whether the stub shares this thread's CPU (a
    /// spin for its answer would only keep it off the CPU).
    mutating func place(stub pid: Int32, area: SystrapArea, shortRuns: Bool, guestAffinity: Bool) -> Bool {
        // The guest's mask is the host's: as unknown as a new stub's.
        if guestAffinity { newStub(area); return false }
        guard shortRuns else { release(stub: pid, area: area, guestAffinity: false); return false }
        let here = Int32(truncatingIfNeeded: sw_current_cpu())
        if known && cpu == here { return true }
        guard here >= 0 && here < 64, sw_set_affinity(pid, 1 << UInt64(here), 0) == 0 else {
            release(stub: pid, area: area, guestAffinity: false)
            return false
        }
        cpu = here
        known = true
        area.store(SW_AREA_SAME_CPU, UInt32(1))
        return true
    }

    /// The CPU the stub is known to be held to (nil: free or unknown).
    var heldTo: Int32? { known ? cpu : nil }

    /// A hand-off's claimer moved the stub to `cpu` (set while the task's
    /// thread sleeps; the claim's atomics order it before the thread's
    /// next look).
    mutating func moved(to cpu: Int32) {
        self.cpu = cpu
        known = true
    }

    /// The stub free to run anywhere the sentry may (unless the guest set
    /// its own affinity, which stays), and both sides spinning again.
    mutating func release(stub pid: Int32, area: SystrapArea, guestAffinity: Bool) {
        area.store(SW_AREA_SAME_CPU, UInt32(0))
        if guestAffinity { newStub(area); return }
        if known && cpu == nil { return }
        if sw_set_affinity(pid, 0, 1) == 0 { cpu = nil; known = true }
    }
}
