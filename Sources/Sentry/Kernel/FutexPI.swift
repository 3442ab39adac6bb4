import CSwitch
import Synchronization

/// Priority-inheritance futexes, as kernel/futex/pi.c and requeue.c of
/// Linux 6.1: the word holds the owner's tid, FUTEX_WAITERS once someone
/// waits in the kernel, FUTEX_OWNER_DIED after a robust owner died; unlock
/// hands the lock to the first waiter by writing its tid. The sentry has no
/// priorities to inherit (guest threads are host threads the host
/// schedules), so only the ownership protocol is kept: waiters are served
/// in arrival order.
extension FutexTable {
    /// Linux's futex_cmpxchg_value_locked: the value found (`old` if the
    /// swap was made).
    static func cmpxchg(_ p: UnsafeMutableRawPointer, _ old: UInt32, _ new: UInt32) -> UInt32 {
        while true {
            let cur = sw_atomic_load32(p)
            if cur != old { return cur }
            if sw_atomic_cas32(p, old, new) != 0 { return old }
        }
    }

    /// The owner a word named when it was read before the locks were taken
    /// (the kernel's lock, which finds tasks, comes before this table's).
    struct OwnerHint {
        let tid: UInt32
        let task: Task?
    }

    private enum Attempt { case acquired, queued(Waiter), retry }

    /// The lock is `w`'s now.
    static func handOff(_ s: inout State, _ st: PIState, _ k: FutexKey, to w: Waiter) {
        st.owner = w.task
        st.ownerTID = w.tid
        st.waiters.removeAll { $0 === w }
        w.woken = true
        if st.waiters.isEmpty { s.pi[k] = nil }
    }

    /// A waiter that timed out or was interrupted leaves its queue: nil if
    /// the lock came to it first, else whether it was still waiting for a
    /// requeue (WAIT_REQUEUE_PI before CMP_REQUEUE_PI moved it).
    private func leavePI(_ w: Waiter) throws(Errno) -> Bool? {
        try state.withLock { (s: inout State) throws(Errno) -> Bool? in
            if w.woken { return nil }
            if let e = w.error { throw e }
            if w.requeuePI { Self.dequeue(&s, w); return true }
            if let st = s.pi[w.key] {
                st.waiters.removeAll { $0 === w }
                if st.waiters.isEmpty { s.pi[w.key] = nil }
            }
            return false
        }
    }

    /// FUTEX_LOCK_PI, FUTEX_LOCK_PI2 and FUTEX_TRYLOCK_PI (futex_lock_pi).
    func lockPI(_ task: Task, _ addr: GuestAddress, deadline: Deadline?, trylock: Bool,
                lookup: (UInt32) -> Task?) throws(Errno) {
        guard addr.rawValue & 3 == 0 else { throw .EINVAL }
        let me = UInt32(bitPattern: task.tid)
        var queued: Waiter?
        while queued == nil {
            let seen = try task.mm.read(addr, as: UInt32.self) & FutexWord.tidMask
            let hint = OwnerHint(tid: seen, task: seen == 0 || seen == me ? nil : lookup(seen))
            let attempt = try task.mm.withWord(addr, write: true) { (k, p) throws(Errno) -> Attempt in
              try state.withLock { (s: inout State) throws(Errno) -> Attempt in
                let uval = sw_atomic_load32(p)
                let owner = uval & FutexWord.tidMask
                if owner == me { throw .EDEADLK }
                // A plain waiter on the word: no PI state to join.
                if s.queues[k] != nil { throw .EINVAL }
                let word = PIWord(key: k, mm: task.mm, addr: addr)
                if let st = s.pi[k] {
                    // attach_to_pi_state: the word must name the state's owner.
                    guard owner == UInt32(bitPattern: st.ownerTID) else { throw .EINVAL }
                    if trylock { throw .EAGAIN }
                    let w = Waiter(task: task, bitset: ~0, key: k, pi: word)
                    st.waiters.append(w)
                    return .queued(w)
                }
                if owner == 0 {
                    // Free, or its robust owner died and nobody waits: take it,
                    // keeping OWNER_DIED for the new owner to see.
                    return Self.cmpxchg(p, uval, (uval & FutexWord.ownerDied) | me) == uval ? .acquired : .retry
                }
                guard owner == hint.tid else { return .retry }
                // The first waiter sets FUTEX_WAITERS before looking at the owner.
                let marked = uval | FutexWord.waiters
                if marked != uval, Self.cmpxchg(p, uval, marked) != uval { return .retry }
                // handle_exit_race: the word names a task that is gone
                // without leaving it (no robust list, or a bogus tid).
                guard let ownerTask = hint.task, !ownerTask.futexExited else { throw .ESRCH }
                if trylock { throw .EAGAIN }
                let st = PIState(owner: ownerTask, tid: Int32(bitPattern: owner))
                let w = Waiter(task: task, bitset: ~0, key: k, pi: word)
                st.waiters = [w]
                s.pi[k] = st
                return .queued(w)
              }
            }
            switch attempt {
            case .acquired: return
            case .retry: continue
            case .queued(let w): queued = w
            }
        }
        try sleepForPI(task, queued!, deadline: deadline, interruptedBy: .ERESTARTNOINTR, afterRequeue: .ERESTARTNOINTR)
    }

    /// Blocks until the lock is handed to `w`, the deadline, or a signal.
    private func sleepForPI(_ task: Task, _ w: Waiter, deadline: Deadline?, interruptedBy: Errno, afterRequeue: Errno) throws(Errno) {
        do {
            _ = try task.block(on: [], deadline: deadline, interruptedBy: .EINTR) { () throws(Errno) in
                state.withLock { _ in w.woken || w.error != nil }
            }
        } catch {
            guard let early = try leavePI(w) else { return }
            throw error == .EINTR ? (early ? interruptedBy : afterRequeue) : error
        }
        // Woken with the lock or an error, or timed out.
        guard try leavePI(w) != nil else { return }
        throw .ETIMEDOUT
    }

    /// FUTEX_UNLOCK_PI (futex_unlock_pi).
    func unlockPI(_ task: Task, _ addr: GuestAddress) throws(Errno) {
        let me = UInt32(bitPattern: task.tid)
        enum Outcome { case done(Waiter?), retry }
        while true {
            let uval = try task.mm.read(addr, as: UInt32.self)
            // Only the owner unlocks.
            guard uval & FutexWord.tidMask == me else { throw .EPERM }
            guard addr.rawValue & 3 == 0 else { throw .EINVAL }
            let outcome = try task.mm.withWord(addr, write: true) { (k, p) throws(Errno) -> Outcome in
              try state.withLock { (s: inout State) throws(Errno) -> Outcome in
                if let st = s.pi[k] {
                    // The state must agree that we own it.
                    guard st.owner === task, let top = st.waiters.first else { throw .EINVAL }
                    // The next owner gets the word with FUTEX_WAITERS (it may
                    // have company) and without OWNER_DIED.
                    let cur = Self.cmpxchg(p, uval, FutexWord.waiters | UInt32(bitPattern: top.tid))
                    if cur != uval {
                        // An unconditional unlock raced a waiter setting FUTEX_WAITERS.
                        if cur & FutexWord.tidMask == uval { return .retry }
                        throw .EINVAL
                    }
                    Self.handOff(&s, st, k, to: top)
                    return .done(top)
                }
                if s.queues[k] != nil { throw .EINVAL }
                // No waiter in the kernel: the word goes to 0, its flags too.
                guard Self.cmpxchg(p, uval, 0) == uval else { throw .EAGAIN }
                return .done(nil)
              }
            }
            switch outcome {
            case .retry: continue
            case .done(let w): w?.waker.wake(); return
            }
        }
    }

    /// FUTEX_WAIT_REQUEUE_PI: a condition variable's wait that ends owning
    /// the PI mutex at `addr2`, once FUTEX_CMP_REQUEUE_PI moved it there.
    func waitRequeuePI(_ task: Task, _ addr: GuestAddress, expected: UInt32, deadline: Deadline?,
                       _ addr2: GuestAddress) throws(Errno) {
        guard addr != addr2 else { throw .EINVAL }
        let k2 = try key(task.mm, addr2, write: true)
        guard addr.rawValue & 3 == 0 else { throw .EINVAL }
        let w: Waiter = try task.mm.withWord(addr, write: false) { (k, p) throws(Errno) -> Waiter in
            try state.withLock { (s: inout State) throws(Errno) -> Waiter in
                if sw_atomic_load32(p) != expected { throw .EAGAIN }
                if k == k2 { throw .EINVAL }
                let w = Waiter(task: task, bitset: ~0, key: k, pi: PIWord(key: k2, mm: task.mm, addr: addr2), requeuePI: true)
                s.queues[k, default: []].append(w)
                return w
            }
        }
        // Before the requeue a signal restarts the call; after it, the
        // value has changed, so Linux answers EWOULDBLOCK at once.
        try sleepForPI(task, w, deadline: deadline, interruptedBy: .ERESTARTNOINTR, afterRequeue: .EAGAIN)
    }

    /// FUTEX_CMP_REQUEUE_PI: takes the PI futex at `a2` for the first waiter
    /// of `a1` if it is free, and queues up to `requeue` others on it.
    func cmpRequeuePI(_ task: Task, _ a1: GuestAddress, _ a2: GuestAddress, wake: Int, requeue: Int, expected: UInt32,
                      lookup: (UInt32) -> Task?) throws(Errno) -> Int {
        guard a1 != a2, wake == 1 else { throw .EINVAL }
        _ = try key(task.mm, a1)
        _ = try key(task.mm, a2, write: true)
        enum Outcome { case done([Waiter], Int, Errno?), retry }
        while true {
            let seen = try task.mm.read(a2, as: UInt32.self) & FutexWord.tidMask
            let hint = OwnerHint(tid: seen, task: seen == 0 ? nil : lookup(seen))
            let outcome = try task.mm.withWords(a1, write1: false, a2, write2: true) { (w1, w2) throws(Errno) -> Outcome in
              try state.withLock { (s: inout State) throws(Errno) -> Outcome in
                let (k1, p1) = w1, (k2, p2) = w2
                guard k1 != k2 else { throw .EINVAL }
                if sw_atomic_load32(p1) != expected { throw .EAGAIN }
                var count = 0
                var woken: [Waiter] = []
                var st = s.pi[k2]
                if let top = s.queues[k1]?.first {
                    // futex_proxy_trylock_atomic, on behalf of the first waiter.
                    guard top.requeuePI, top.pi?.key == k2 else { throw .EINVAL }
                    let uval = sw_atomic_load32(p2)
                    let owner = uval & FutexWord.tidMask
                    if owner == UInt32(bitPattern: top.tid) { throw .EDEADLK }
                    if s.queues[k2] != nil { throw .EINVAL }
                    if let st {
                        guard owner == UInt32(bitPattern: st.ownerTID) else { throw .EINVAL }
                    } else if owner == 0 {
                        let new = (uval & FutexWord.ownerDied) | UInt32(bitPattern: top.tid) | (requeue > 0 ? FutexWord.waiters : 0)
                        guard Self.cmpxchg(p2, uval, new) == uval else { return .retry }
                        Self.dequeue(&s, top)
                        top.requeuePI = false
                        top.key = k2
                        top.woken = true
                        woken.append(top)
                        count = 1
                        if requeue > 0 {
                            let fresh = PIState(owner: top.task, tid: top.tid)
                            s.pi[k2] = fresh
                            st = fresh
                        }
                    } else {
                        guard owner == hint.tid else { return .retry }
                        let marked = uval | FutexWord.waiters
                        if marked != uval, Self.cmpxchg(p2, uval, marked) != uval { return .retry }
                        guard let ownerTask = hint.task, !ownerTask.futexExited else { throw .ESRCH }
                        let fresh = PIState(owner: ownerTask, tid: Int32(bitPattern: owner))
                        s.pi[k2] = fresh
                        st = fresh
                    }
                }
                var error: Errno?
                if let st {
                    for w in s.queues[k1] ?? [] {
                        if count - wake >= requeue { break }
                        guard w.requeuePI, w.pi?.key == k2 else { error = .EINVAL; break }
                        // rt_mutex_start_proxy_lock's deadlock check.
                        if w.task === st.owner { error = .EDEADLK; break }
                        Self.dequeue(&s, w)
                        w.requeuePI = false
                        w.key = k2
                        st.waiters.append(w)
                        count += 1
                    }
                    if st.waiters.isEmpty { s.pi[k2] = nil }
                }
                return .done(woken, count, error)
              }
            }
            switch outcome {
            case .retry: continue
            case .done(let woken, let count, let error):
                for w in woken { w.waker.wake() }
                if let error { throw error }
                return count
            }
        }
    }

    /// The PI locks a task held when it exits or execs go to their first
    /// waiters (exit_pi_state_list), with FUTEX_OWNER_DIED whether or not
    /// the lock was on the robust list. Once `dead`, no one can queue on
    /// the task.
    func ownerReleased(_ task: Task, dead: Bool) {
        while true {
            let next: Waiter? = state.withLock { s in
                task.futexExited = true
                for st in s.pi.values where st.owner === task { return st.waiters.first }
                return nil
            }
            guard let w = next, let word = w.pi else { break }
            do {
                try word.mm.withWord(word.addr, write: true) { (k, p) throws(Errno) in
                    try state.withLock { (s: inout State) throws(Errno) in
                        guard let st = s.pi[word.key], st.owner === task, st.waiters.first === w else { return }
                        guard k == word.key else { throw .EFAULT }
                        // fixup_pi_state_owner after an owner left: the new
                        // owner always learns it died.
                        var cur = sw_atomic_load32(p)
                        while sw_atomic_cas32(p, cur, FutexWord.ownerDied | FutexWord.waiters | UInt32(bitPattern: w.tid)) == 0 {
                            cur = sw_atomic_load32(p)
                        }
                        Self.handOff(&s, st, k, to: w)
                    }
                }
            } catch {
                // The waiter's word is gone from under it: it fails.
                state.withLock { s in
                    guard !w.woken, w.error == nil, let st = s.pi[word.key] else { return }
                    st.waiters.removeAll { $0 === w }
                    w.error = error
                    if st.waiters.isEmpty { s.pi[word.key] = nil }
                }
            }
            w.waker.wake()
        }
        if !dead { state.withLock { _ in task.futexExited = false } }
    }
}

extension Kernel {
    /// The task a PI word's tid names, in the sandbox's pid namespace.
    func futexOwner(_ tid: UInt32) -> Task? {
        locked { tasks[Int32(bitPattern: tid)] }
    }
    public func futexLockPI(_ t: Task, _ addr: GuestAddress, deadline: Deadline?, trylock: Bool) throws(Errno) {
        try futexes.lockPI(t, addr, deadline: deadline, trylock: trylock) { futexOwner($0) }
    }
    public func futexUnlockPI(_ t: Task, _ addr: GuestAddress) throws(Errno) {
        try futexes.unlockPI(t, addr)
    }
    public func futexWaitRequeuePI(_ t: Task, _ addr: GuestAddress, expected: UInt32, deadline: Deadline?,
                                   _ addr2: GuestAddress) throws(Errno) {
        try futexes.waitRequeuePI(t, addr, expected: expected, deadline: deadline, addr2)
    }
    public func futexCmpRequeuePI(_ t: Task, _ a1: GuestAddress, _ a2: GuestAddress, wake: Int, requeue: Int,
                                  expected: UInt32) throws(Errno) -> Int {
        try futexes.cmpRequeuePI(t, a1, a2, wake: wake, requeue: requeue, expected: expected) { futexOwner($0) }
    }
}
