import CSwitch
import Glibc
import Synchronization

/// Root stubs started ahead of need. Starting one (spawn, one ptrace
/// injection, detach, the stub's own set-up) takes about 0.2 ms, which every
/// fork and every new sandbox would otherwise wait for. A pool thread keeps
/// `target` parked stubs ready; taking the last one wakes it to start the
/// next, on the other CPU while the guest goes on. An address space that ends gives
/// its root stub back, emptied, so a shell's fork-exec-exit cycle rarely
/// starts a stub at all.
///
/// The first stub is the first process's. The rest are started only once
/// a second address space is asked for (the guest's first fork, which
/// starts its own stub if none is ready yet): a guest that never forks
/// (`sentry run hello`) needs no other, and the two more the pool used to
/// start at once cost every such run about 0.6 ms of CPU (clone, execveat,
/// the injection) competing with the guest and its sentry thread for this
/// 2-CPU host's other CPU. A timed grace instead was no good: under load
/// a short guest outlives any short grace.
///
/// The pool thread lives as long as the sentry: it is the parent of the
/// stubs it starts, and their PR_SET_PDEATHSIG fires when it dies, that is,
/// when the sentry exits.
final class StubPool: Sendable {
    private struct State {
        var ready: [SystrapAddressSpace.Parked] = []
        /// Set when starting a stub failed: the pool stops, and callers start
        /// their own stubs and see the error themselves.
        var broken = false
        /// Stubs asked for so far (ready or not).
        var asked = 0
    }
    private let state = Mutex(State())
    private let wanted = Waker()
    let target: Int
    let memory: MemoryFile
    let stub: StubRegion

    init(target: Int, memory: MemoryFile, stub: StubRegion) {
        self.target = target
        self.memory = memory
        self.stub = stub
        // The thread takes no signals: a process-directed SIGINT must reach
        // the sentry's forwarding thread, not end the sentry here.
        var all = sigset_t(), old = sigset_t()
        sigfillset(&all)
        pthread_sigmask(SIG_SETMASK, &all, &old)
        defer { pthread_sigmask(SIG_SETMASK, &old, nil) }
        do {
            try HostThread.spawn { [self] in refill() }
        } catch {
            state.withLock { $0.broken = true }
        }
    }

    /// A parked stub: a ready one, or one started on the calling thread
    /// when none is. The pool's thread is woken only when this took the
    /// last ready one: while one is left, the stub taken usually comes
    /// back first (a fork is followed by an exit), and waking the thread
    /// for nothing cost every fork a context switch and a timer on this
    /// 2-CPU host. A pool left at one stub is topped up when that one is
    /// taken.
    func take() throws(PlatformError) -> SystrapAddressSpace.Parked {
        if let p = takeReady() { return p }
        // The stub dies with this thread (PR_SET_PDEATHSIG): the thread
        // must end with its task, as the stub is left to when the sentry exits.
        TaskThreads.keepOff()
        return try start()
    }

    /// A ready stub, nil if none is (one started by the pool's thread, so
    /// any thread may hand it on).
    func takeReady() -> SystrapAddressSpace.Parked? {
        while true {
            let (p, left) = state.withLock { s in
                s.asked += 1
                return (s.ready.popLast(), s.ready.count)
            }
            if left == 0 { wanted.wake() }
            guard let p else { return nil }
            // A stub killed from outside while it waited is of no use.
            if sw_pidfd_exited(p.runner.pidfd, 0) == 0 { return p }
            SystrapAddressSpace.end(p.runner, memory: memory)
        }
    }

    private func start() throws(PlatformError) -> SystrapAddressSpace.Parked {
        try SystrapAddressSpace.startRoot(memory: memory, stub: stub)
    }

    /// Takes back an emptied stub of an address space that ended; beyond
    /// twice the target, it is killed.
    func give(_ p: SystrapAddressSpace.Parked) {
        let kept = state.withLock { s -> Bool in
            guard s.ready.count < 2 * target else { return false }
            s.ready.append(p)
            return true
        }
        if !kept { SystrapAddressSpace.end(p.runner, memory: memory) }
    }

    /// Never returns: the stubs it started die with this thread.
    private func refill() {
        while true {
            // Until a second address space is asked for: the first process's stub only.
            if let have = state.withLock({ s in !s.broken && s.ready.count < (s.asked <= 1 ? 1 - s.asked : target) ? s.ready.count : nil }) {
                // A task that just took a stub usually gives one back soon
                // (a fork is followed by an exit): while one is still ready,
                // wait a little before paying for a new one.
                if have > 0 {
                    usleep(1000)
                    if state.withLock({ $0.ready.count >= target }) { continue }
                }
                do {
                    var p = try start()
                    p.pooled = true
                    state.withLock { $0.ready.append(p) }
                } catch {
                    state.withLock { $0.broken = true }
                }
                continue
            }
            var p = pollfd(fd: wanted.fd, events: Int16(POLLIN), revents: 0)
            _ = sw_ppoll(&p, 1, -1)
            wanted.drain()
        }
    }
}
