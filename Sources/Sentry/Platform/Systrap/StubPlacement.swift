import CSwitch

/// Which host CPUs a task's stub may run on, and whether the stub and the
/// task's sentry thread spin for each other. Every guest call is a hand-off
/// from the stub to the sentry thread and back; two ways to make it, each
/// right somewhere:
/// - **Held together**: the stub held to the CPU its sentry thread is on, and
///   neither side spins for the other (`SW_AREA_SAME_CPU`, read by the stub
///   and by `SystrapArea.wait`): each sleeps on the area's futex at once, and
///   the wake-up lands where the waker is about to sleep. Right for a task
///   that sleeps in the sentry (a read of an empty pipe or socket: its answer
///   comes from another task, so a spin gains nothing, and a wake-up of the
///   other CPU from idle costs tens of µs in a VM), and on a busy host, where
///   the other side waits behind other work and a spin only burns the CPU it
///   waits for. A spin on the CPU the other side is held to could only keep
///   it off.
/// - **Apart**: the stub free, and each side spinning a few µs for the
///   other's answer: no sleep or wake-up at all, the fastest for a task whose
///   calls the sentry answers at once (getppid, mmap) on a host with a CPU to
///   spare.
/// A task starts held. One that has not slept in the sentry for
/// `probeAfter` runs tries apart; it stays apart while its spins see their
/// answers, and is held again after `missesToHold` spins in a row that did
/// not (the other side was waiting for a CPU) or as soon as it sleeps in the
/// sentry.
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
    /// The policy's choice (above).
    private var apart = false
    /// The task slept in the sentry since its last run.
    private var sleptSinceRun = false
    /// Runs held in a row with no sleep in the sentry.
    private var quietRuns = 0
    /// Spins apart in a row that missed their answer.
    private var misses = 0

    private static let probeAfter = 128, missesToHold = 2

    /// A new stub: nothing known of its host affinity.
    mutating func newStub(_ area: SystrapArea) {
        known = false
        cpu = nil
        area.store(SW_AREA_SAME_CPU, UInt32(0))
    }

    /// The task is about to sleep in the sentry, waiting for another task.
    mutating func sentrySleeps() { sleptSinceRun = true }

    /// What the spin of the last RUN's wait came to.
    mutating func spun(_ outcome: SpinOutcome) {
        switch outcome {
        case .answered: misses = 0
        case .missed:
            misses += 1
            if misses >= Self.missesToHold { apart = false; misses = 0; quietRuns = 0 }
        case .notSpun: break
        }
    }

    /// Before a RUN from the task's thread: the stub held to this thread's
    /// CPU or freed, as above; a host call only when that changes. Returns
    /// whether the stub shares this thread's CPU (a spin for its answer
    /// would only keep it off the CPU).
    mutating func place(stub pid: Int32, area: SystrapArea, shortRuns: Bool, guestAffinity: Bool) -> Bool {
        let slept = sleptSinceRun
        sleptSinceRun = false
        if guestAffinity {
            known = false
            cpu = nil
            area.store(SW_AREA_SAME_CPU, UInt32(0))
            return false
        }
        if slept {
            apart = false
            quietRuns = 0
        } else if !apart {
            quietRuns += 1
            if quietRuns >= Self.probeAfter { apart = true; misses = 0 }
        }
        guard shortRuns && !apart else { release(stub: pid, area: area, guestAffinity: false); return false }
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

    /// The stub free to run anywhere the sentry may (unless the guest set
    /// its own affinity, which stays), and both sides spinning again.
    mutating func release(stub pid: Int32, area: SystrapArea, guestAffinity: Bool) {
        area.store(SW_AREA_SAME_CPU, UInt32(0))
        if guestAffinity { known = false; cpu = nil; return }
        if known && cpu == nil { return }
        if sw_set_affinity(pid, 0, 1) == 0 { cpu = nil; known = true }
    }
}
