import Glibc
import Synchronization

/// The sandbox's OOM killer: what Linux's memory cgroup does when a
/// container goes past `memory.max`.
///
/// Guest pages are faulted in by the host kernel, in the stubs, so the
/// sentry never sees the fault that takes the sandbox over its memory. It
/// looks at the memory file's size instead (one fstat of the memfd, shmem's
/// page count): a thread of its own looks every few milliseconds, more often
/// near the limit, and a task about to make a syscall looks itself when no
/// look is more recent than the coarse clock's last tick, so a guest that
/// touched past the limit on a host too loaded to run the watcher cannot
/// make its next call (its `write`, its `exit`) before the check.
/// Over the limit, the freed chunks kept for reuse are punched out first; if
/// that is not enough, the process holding the most pages
/// (`MemoryManager.residentBytes`, Linux's oom_badness) is killed with
/// SIGKILL, which its parent's wait sees as Linux's OOM kill shows it, and
/// the next victim is chosen only once that one's memory is gone (Linux's
/// oom_reaper skip). The sentry itself is never the victim: its own memory
/// is the host's business and small.
///
/// Locking: `state` is outermost, above every mm's lock and the kernel lock
/// (a look reads mms' resident pages and kills under the kernel lock); a
/// task entering a syscall holds no lock, and only tries it.
/// Sendable: the victim bookkeeping behind `state`; the rest immutable or atomic.
final class OOMKiller: @unchecked Sendable {
    /// Tasks look from their own threads, which the kernel outlives; the
    /// watcher holds the kernel strongly until init is gone. Not weak: see
    /// `Pty.kernel`.
    private unowned(unsafe) let kernel: Kernel
    private let memory: MemoryFile
    /// CLOCK_MONOTONIC_COARSE at the last look, in nanoseconds.
    private let lastLook = Atomic<UInt64>(0)
    private struct State {
        /// Killed, its memory not yet gone: no other victim until it is.
        var victim: ThreadGroup?
        var victimDeadline = Deadline(nanoseconds: .max)
    }
    private let state = Mutex<State>(State())

    /// `kernel`'s OOM killer; nil if it has no limit.
    static func make(_ kernel: Kernel) -> OOMKiller? {
        kernel.memory.hasLimit ? OOMKiller(kernel) : nil
    }

    private init(_ kernel: Kernel) {
        self.kernel = kernel
        self.memory = kernel.memory
    }

    /// Starts the watcher thread, once the sandbox runs.
    func startWatching() {
        let kernel = self.kernel
        try? HostThread.spawn { self.watch(kernel) }
    }

    private static func coarseNow() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC_COARSE, &ts)
        return UInt64(ts.tv_sec) &* 1_000_000_000 &+ UInt64(ts.tv_nsec)
    }

    /// A task's look at syscall entry: one clock read (vDSO) unless no
    /// look was taken since the clock's last tick (4 ms at HZ=250). True
    /// when this look killed a process (perhaps the caller's).
    @inline(__always) func syscallEntry() -> Bool {
        Self.coarseNow() != lastLook.load(ordering: .relaxed) && lookFromTask()
    }

    @inline(never) private func lookFromTask() -> Bool {
        // The watcher or another task is looking: that look will do.
        state.withLockIfAvailable { s in
            let before = s.victim
            look(&s)
            return s.victim !== before && s.victim != nil
        } ?? false
    }

    private func watch(_ kernel: Kernel) {
        while kernel.locked({ kernel.initStatus == nil }) {
            let (used, waiting) = state.withLock { s in (look(&s), s.victim != nil) }
            // Near the limit, or waiting for a victim to go, look more often.
            usleep(waiting ? 1_000 : memory.isOverLimit(used / 3 * 4) ? 2_000 : 10_000)
        }
    }

    /// One look: the memory used, after killing if it was over the limit.
    @discardableResult
    private func look(_ s: inout State) -> UInt64 {
        lastLook.store(Self.coarseNow(), ordering: .relaxed)
        // Wait for the victim to let go of its memory before choosing again:
        // a dying process is no candidate (its exit status is set), so
        // choosing early takes the next largest, often init, while the
        // victim's pages are still there. Its last task leaves the group
        // before it releases the mm; the group is a zombie only after that.
        // A loaded host can take seconds to end a task; 10 s bounds a victim
        // that never goes.
        if let v = s.victim {
            if kernel.locked({ !v.zombie && kernel.initStatus == nil }), s.victimDeadline.remaining > 0 { return memory.residentBytes }
            s.victim = nil
        }
        let used = memory.residentBytes
        // The default limit is read from the host only once `used` passes its floor.
        if !memory.isOverLimit(used) { return used }
        memory.dropFreedPages()
        let kept = memory.residentBytes
        if !memory.isOverLimit(kept) { return kept }
        guard let victim = chooseVictim(kernel) else { return kept }
        kernel.locked { kernel.killGroupLocked(victim, .signaled(.SIGKILL, coreDumped: false)) }
        kernel.oomKills.add(1, ordering: .relaxed)
        s.victim = victim
        s.victimDeadline = Deadline.after(10_000_000_000)
        return used
    }

    /// The living process with the highest badness (oom_badness): its
    /// pages, plus its oom_score_adj in thousandths of the limit; one at
    /// -1000 is never chosen. Ties go to the newest.
    private func chooseVictim(_ kernel: Kernel) -> ThreadGroup? {
        let candidates: [(ThreadGroup, MemoryManager, Int16)] = kernel.locked {
            kernel.groups.values.compactMap { g in
                guard !g.zombie, g.exitStatus == nil, let t = g.tasks.first else { return nil }
                return (g, t.mm, g.oomScoreAdj)
            }
        }
        let limit = Int64(clamping: kernel.memory.limit)
        var best: (group: ThreadGroup, points: Int64)?
        var seen: Set<ObjectIdentifier> = []
        for (g, mm, adj) in candidates.sorted(by: { $0.0.pid > $1.0.pid }) {
            // An mm shared by several processes (vfork) is counted once.
            guard seen.insert(ObjectIdentifier(mm)).inserted else { continue }
            guard Int(adj) != Task.OOM_SCORE_ADJ_MIN else { continue }
            let bytes = Int64(clamping: mm.residentBytes)
            let points = bytes.addingReportingOverflow(limit / 1000 * Int64(adj)).partialValue
            if best == nil || points > best!.points { best = (g, points) }
        }
        return best?.group
    }
}
