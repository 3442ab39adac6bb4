import Glibc

/// The sandbox's OOM killer: what Linux's memory cgroup does when a
/// container goes past `memory.max`.
///
/// Guest pages are faulted in by the host kernel, in the stubs, so the
/// sentry never sees the fault that takes the sandbox over its memory. It
/// watches the memory file's size instead (one fstat of the memfd, shmem's
/// page count) every few milliseconds, more often near the limit. Over it,
/// the freed chunks kept for reuse are punched out first; if that is not
/// enough, the process holding the most pages (`MemoryManager.residentBytes`,
/// Linux's badness without its adjustments) is killed with SIGKILL, which
/// its parent's wait sees as Linux's OOM kill shows it, and the next victim
/// is chosen only once that one's memory is gone (Linux's oom_reaper skip).
/// The sentry itself is never the victim: its own memory is the host's
/// business and small. A guest can overshoot the limit by what it touches
/// in one interval (2 ms near the limit).
/// Sendable: immutable after init (a weak kernel reference, the memory file); used by its one thread.
final class OOMKiller: @unchecked Sendable {
    private weak var kernel: Kernel?
    private let memory: MemoryFile

    /// Starts watching `kernel`'s memory; nothing if it has no limit.
    static func start(_ kernel: Kernel) {
        guard kernel.memory.limit != .max else { return }
        let k = OOMKiller(kernel)
        try? HostThread.spawn { k.watch() }
    }

    private init(_ kernel: Kernel) {
        self.kernel = kernel
        self.memory = kernel.memory
    }

    private func watch() {
        let limit = memory.limit
        while let kernel, kernel.locked({ kernel.initStatus == nil }) {
            let used = memory.residentBytes
            if used <= limit {
                // Near the limit, look more often.
                usleep(used > limit / 4 * 3 ? 2_000 : 10_000)
                continue
            }
            memory.dropFreedPages()
            if memory.residentBytes <= limit { continue }
            guard let victim = chooseVictim(kernel) else { usleep(10_000); continue }
            kernel.locked { kernel.killGroupLocked(victim, .signaled(.SIGKILL, coreDumped: false)) }
            kernel.oomKills.add(1, ordering: .relaxed)
            // Wait for the victim to let go of its memory before choosing
            // again: a dying process is no candidate (its exit status is set),
            // so choosing early takes the next largest, often init, while the
            // victim's pages are still there. Its last task leaves the group
            // before it releases the mm; the group is a zombie only after that.
            // A loaded host can take seconds to end a task; 10 s bounds a
            // victim that never goes.
            let deadline = Deadline.after(10_000_000_000)
            while kernel.locked({ !victim.zombie && kernel.initStatus == nil }), deadline.remaining > 0 {
                usleep(1_000)
            }
        }
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
