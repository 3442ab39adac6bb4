import CSwitch
import Synchronization

/// The bits of a PI or robust futex word (include/uapi/linux/futex.h).
public enum FutexWord {
    public static let waiters: UInt32 = 0x8000_0000
    public static let ownerDied: UInt32 = 0x4000_0000
    public static let tidMask: UInt32 = 0x3fff_ffff
}

/// Futex wait queues, keyed as get_futex_key keys them (FutexKey): a word
/// of a shared mapping by its offset in the memory file, the same for every
/// process that maps the page; a word of a private mapping by its mm and
/// address, which a copy-on-write break moving the page does not change.
///
/// One lock guards the plain queues, the PI states (FutexPI.swift) and every
/// waiter's flags; a word's value is read or changed only inside
/// MemoryManager.withWord (the mm's lock, taken first), never through a
/// pointer kept past it.
final class FutexTable: Sendable {
    /// Sendable: `key`, `woken`, `error` and `requeuePI` under the table's lock; the rest are `let`s.
    final class Waiter: @unchecked Sendable {
        let waker: Waker
        let task: Task
        let tid: Int32
        let bitset: UInt32
        // Guarded by the table's lock from here on.
        var key: FutexKey
        /// Woken (plain), or the PI lock is now this waiter's.
        var woken = false
        /// A PI hand-off that could not be made for this waiter.
        var error: Errno?
        /// The PI word this waiter wants: its own (LOCK_PI), or
        /// WAIT_REQUEUE_PI's second word.
        let pi: PIWord?
        /// A WAIT_REQUEUE_PI waiter still queued on its first word.
        var requeuePI: Bool
        init(task: Task, bitset: UInt32, key: FutexKey, pi: PIWord? = nil, requeuePI: Bool = false) {
            self.waker = task.waker; self.task = task; self.tid = task.tid
            self.bitset = bitset; self.key = key; self.pi = pi; self.requeuePI = requeuePI
        }
    }

    /// Where a PI waiter's word is in its own address space (the owner's
    /// death hands the lock over by writing it there).
    struct PIWord {
        let key: FutexKey
        let mm: MemoryManager
        let addr: GuestAddress
    }

    /// Linux's futex_pi_state: the owner and the tasks blocked on the lock,
    /// in FIFO order. It exists only while someone waits.
    /// Sendable: every field under the table's lock.
    final class PIState: @unchecked Sendable {
        var owner: Task
        var ownerTID: Int32
        var waiters: [Waiter] = []
        init(owner: Task, tid: Int32) { self.owner = owner; self.ownerTID = tid }
    }

    struct State {
        var queues: [FutexKey: [Waiter]] = [:]
        var pi: [FutexKey: PIState] = [:]
    }
    let state = Mutex<State>(State())

    /// The word's key: EINVAL if unaligned, EFAULT if unmapped.
    func key(_ mm: MemoryManager, _ addr: GuestAddress, write: Bool = false) throws(Errno) -> FutexKey {
        guard addr.rawValue & 3 == 0 else { throw .EINVAL }
        return try mm.futexKey(of: addr, write: write)
    }

    /// FUTEX_WAIT(_BITSET): sleeps while the word holds `expected`.
    func wait(_ task: Task, _ addr: GuestAddress, expected: UInt32, bitset: UInt32, deadline: Deadline?,
              interruptedBy: Errno) throws(Errno) {
        guard bitset != 0 else { throw .EINVAL }
        guard addr.rawValue & 3 == 0 else { throw .EINVAL }
        // The value check and the queueing are one step for wakers (the
        // table's lock), and the word stays mapped meanwhile (the mm's).
        let w: Waiter = try task.mm.withWord(addr, write: false) { (k, p) throws(Errno) -> Waiter in
            let w = Waiter(task: task, bitset: bitset, key: k)
            try state.withLock { (s: inout State) throws(Errno) in
                if sw_atomic_load32(p) != expected { throw .EAGAIN }
                s.queues[k, default: []].append(w)
            }
            return w
        }
        defer { state.withLock { s in if !w.woken { Self.dequeue(&s, w) } } }
        let r = try task.block(on: [], deadline: deadline, interruptedBy: interruptedBy) { () throws(Errno) in
            state.withLock { _ in w.woken }
        }
        if r == .timedOut { throw .ETIMEDOUT }
    }

    static func dequeue(_ s: inout State, _ w: Waiter) {
        s.queues[w.key]?.removeAll { $0 === w }
        if s.queues[w.key]?.isEmpty == true { s.queues[w.key] = nil }
    }

    /// FUTEX_WAKE(_BITSET): wakes up to `count` waiters (at least one, as
    /// Linux counts); returns how many. A private futex at an unmapped
    /// address has no waiters (Linux keys it by address, unchecked).
    @discardableResult
    func wake(_ mm: MemoryManager, _ addr: GuestAddress, count: Int, bitset: UInt32, private: Bool = false) throws(Errno) -> Int {
        guard bitset != 0 else { throw .EINVAL }
        let k: FutexKey
        do { k = try key(mm, addr) } catch .EFAULT where `private` { return 0 }
        let (woken, error) = state.withLock { s in Self.wakeLocked(&s, k, count, bitset) }
        for w in woken { w.waker.wake() }
        if let error { throw error }
        return woken.count
    }

    /// Marks up to max(count, 1) waiters woken. A PI waiter, or a
    /// WAIT_REQUEUE_PI one, on the word makes it EINVAL (the ones marked
    /// before it are still woken, as in Linux).
    static func wakeLocked(_ s: inout State, _ k: FutexKey, _ count: Int, _ bitset: UInt32) -> ([Waiter], Errno?) {
        if s.pi[k] != nil { return ([], .EINVAL) }
        guard var list = s.queues[k] else { return ([], nil) }
        var out: [Waiter] = [], error: Errno?
        for w in list {
            if w.requeuePI { error = .EINVAL; break }
            guard w.bitset & bitset != 0 else { continue }
            w.woken = true
            out.append(w)
            if out.count >= count { break }
        }
        list.removeAll { $0.woken }
        s.queues[k] = list.isEmpty ? nil : list
        return (out, error)
    }

    /// FUTEX_REQUEUE / FUTEX_CMP_REQUEUE: wake `count`, move up to `requeue`
    /// more to the second word's queue; the result counts both.
    func requeue(_ mm: MemoryManager, _ a1: GuestAddress, _ a2: GuestAddress, count: Int, requeue: Int,
                 expected: UInt32?) throws(Errno) -> Int {
        _ = try key(mm, a1)
        let k2 = try key(mm, a2)
        let (woken, n, error) = try mm.withWord(a1, write: false) { (k1, p1) throws(Errno) -> ([Waiter], Int, Errno?) in
          try state.withLock { (s: inout State) throws(Errno) -> ([Waiter], Int, Errno?) in
            if let expected, sw_atomic_load32(p1) != expected { throw .EAGAIN }
            var woken: [Waiter] = [], moving: [Waiter] = [], n = 0, error: Errno?
            for w in s.queues[k1] ?? [] {
                if n - count >= requeue { break }
                if w.requeuePI { error = .EINVAL; break }
                n += 1
                if n <= count { w.woken = true; woken.append(w) } else { moving.append(w) }
            }
            if !woken.isEmpty || (!moving.isEmpty && k1 != k2) {
                s.queues[k1]?.removeAll { w in w.woken || (k1 != k2 && moving.contains { $0 === w }) }
                if s.queues[k1]?.isEmpty == true { s.queues[k1] = nil }
                if k1 != k2 && !moving.isEmpty {
                    for w in moving { w.key = k2 }
                    s.queues[k2, default: []].append(contentsOf: moving)
                }
            }
            return (woken, n, error)
          }
        }
        for w in woken { w.waker.wake() }
        if let error { throw error }
        return n
    }

    /// FUTEX_WAKE_OP: atomically change the second word, wake waiters of the
    /// first, and of the second too if the old value passes the comparison.
    func wakeOp(_ mm: MemoryManager, _ a1: GuestAddress, _ a2: GuestAddress, count1: Int, count2: Int, op: UInt32) throws(Errno) -> Int {
        let k1 = try key(mm, a1)
        let k2 = try key(mm, a2, write: true)
        let kind = (op >> 28) & 7, cmp = (op >> 24) & 15
        // The 12-bit arguments are signed; a shift out of 0...31 is taken
        // modulo 32, as Linux does (with a warning in its log).
        var oparg = Int32(bitPattern: ((op >> 12) & 0xfff) << 20) >> 20
        let cmparg = Int32(bitPattern: (op & 0xfff) << 20) >> 20
        if op & 0x8000_0000 != 0 { oparg = Int32(bitPattern: UInt32(1) << UInt32(oparg & 31)) }   // FUTEX_OP_OPARG_SHIFT
        guard kind <= 4 else { throw .ENOSYS }
        let arg = UInt32(bitPattern: oparg)
        let (woken, error): ([Waiter], Errno?) = try mm.withWord(a2, write: true) { (_, p2) throws(Errno) -> ([Waiter], Errno?) in
            var old: UInt32 = 0
            while true {
                old = sw_atomic_load32(p2)
                let new: UInt32
                switch kind {
                case 0: new = arg                 // SET
                case 1: new = old &+ arg          // ADD
                case 2: new = old | arg           // OR
                case 3: new = old & ~arg          // ANDN
                default: new = old ^ arg          // XOR
                }
                if sw_atomic_cas32(p2, old, new) != 0 { break }
            }
            let o = Int32(bitPattern: old)
            let pass: Bool
            switch cmp {
            case 0: pass = o == cmparg
            case 1: pass = o != cmparg
            case 2: pass = o < cmparg
            case 3: pass = o <= cmparg
            case 4: pass = o > cmparg
            case 5: pass = o >= cmparg
            default: throw .ENOSYS   // after the change, as Linux
            }
            return state.withLock { s in
                var (out, error) = Self.wakeAnyLocked(&s, k1, count1)
                if error == nil && pass {
                    let (more, e2) = Self.wakeAnyLocked(&s, k2, count2)
                    out += more; error = e2
                }
                return (out, error)
            }
        }
        for w in woken { w.waker.wake() }
        if let error { throw error }
        return woken.count
    }

    /// WAKE_OP's wake: any bitset, and a PI or requeue-PI waiter is EINVAL.
    private static func wakeAnyLocked(_ s: inout State, _ k: FutexKey, _ count: Int) -> ([Waiter], Errno?) {
        wakeLocked(&s, k, count, ~0)
    }

    /// futex_waitv: waits on every word while each holds its value; returns
    /// the index of a woken one (the last, as Linux's unqueue_multiple).
    func waitMultiple(_ task: Task, _ words: [(addr: GuestAddress, value: UInt32)], deadline: Deadline?) throws(Errno) -> Int {
        for w in words { _ = try key(task.mm, w.addr) }
        var waiters: [Waiter] = []
        func unqueueAll() -> Int? {
            state.withLock { s in
                var hit: Int?
                for (i, w) in waiters.enumerated() {
                    if w.woken { hit = i } else { Self.dequeue(&s, w) }
                }
                return hit
            }
        }
        for (addr, value) in words {
            do {
                let w = try task.mm.withWord(addr, write: false) { (k, p) throws(Errno) -> Waiter in
                    let w = Waiter(task: task, bitset: ~0, key: k)
                    try state.withLock { (s: inout State) throws(Errno) in
                        if sw_atomic_load32(p) != value { throw .EAGAIN }
                        s.queues[k, default: []].append(w)
                    }
                    return w
                }
                waiters.append(w)
            } catch {
                if let i = unqueueAll() { return i }
                throw error
            }
        }
        let r: Task.BlockResult
        do {
            r = try task.block(on: [], deadline: deadline, interruptedBy: .ERESTARTSYS) { () throws(Errno) in
                state.withLock { _ in waiters.contains { $0.woken } }
            }
        } catch {
            if let i = unqueueAll() { return i }
            throw error
        }
        if let i = unqueueAll() { return i }
        if r == .timedOut { throw .ETIMEDOUT }
        throw .ERESTARTSYS
    }
}

/// The futex operations, for the syscall layer.
extension Kernel {
    public func futexWait(_ t: Task, _ addr: GuestAddress, expected: UInt32, bitset: UInt32, deadline: Deadline?,
                          interruptedBy: Errno) throws(Errno) {
        try futexes.wait(t, addr, expected: expected, bitset: bitset, deadline: deadline, interruptedBy: interruptedBy)
    }
    public func futexWake(_ mm: MemoryManager, _ addr: GuestAddress, count: Int, bitset: UInt32, private: Bool) throws(Errno) -> Int {
        try futexes.wake(mm, addr, count: count, bitset: bitset, private: `private`)
    }
    public func futexRequeue(_ mm: MemoryManager, _ a1: GuestAddress, _ a2: GuestAddress, count: Int, requeue: Int,
                             expected: UInt32?) throws(Errno) -> Int {
        try futexes.requeue(mm, a1, a2, count: count, requeue: requeue, expected: expected)
    }
    public func futexWakeOp(_ mm: MemoryManager, _ a1: GuestAddress, _ a2: GuestAddress, count1: Int, count2: Int,
                            op: UInt32) throws(Errno) -> Int {
        try futexes.wakeOp(mm, a1, a2, count1: count1, count2: count2, op: op)
    }
    public func futexWaitMultiple(_ t: Task, _ words: [(addr: GuestAddress, value: UInt32)], deadline: Deadline?) throws(Errno) -> Int {
        try futexes.waitMultiple(t, words, deadline: deadline)
    }
}
