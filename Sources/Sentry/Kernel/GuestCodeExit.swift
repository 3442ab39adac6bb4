import Glibc

extension Kernel {
    /// Kicks the tasks `which` picks that are in guest code out of it, and
    /// waits until each has left it or entered it again (each entry runs
    /// what was queued for it first: rseq's fix-up, the mm's pending mirror
    /// changes). The kicks land within microseconds unless the host is
    /// loaded; a task that never comes back (a stub stopped by the host) is
    /// not waited for beyond a second.
    func kickOutOfGuestCode(_ which: (Task) -> Bool) {
        var waiting: [(Task, UInt64)] = locked {
            tasks.values.filter { $0.inGuest && which($0) }.map { t in
                t.context.kick()
                return (t, t.guestEntries)
            }
        }
        let deadline = Deadline.now() + 1_000_000_000
        while !waiting.isEmpty && Deadline.now() < deadline {
            waiting = locked {
                waiting.filter { t, entries in t.inGuest && t.guestEntries == entries && !t.killed }
            }
            if !waiting.isEmpty { usleep(50) }
        }
    }
}
