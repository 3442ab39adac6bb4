import CSwitch
import Synchronization

/// Futex wait queues, keyed by the futex word's offset in the memory file.
/// Every guest page lives in that file, so the key is the same for every
/// process that maps the page shared, and distinct for private copies:
/// private and shared futexes both come out right.
final class FutexTable: Sendable {
    /// Sendable: `woken` and `key` under the table's lock; the rest are `let`s.
    final class Waiter: @unchecked Sendable {
        let waker: Waker
        let bitset: UInt32
        var key: UInt64
        var woken = false   // guarded by the table's lock
        init(waker: Waker, bitset: UInt32, key: UInt64) { self.waker = waker; self.bitset = bitset; self.key = key }
    }
    private let queues = Mutex<[UInt64: [Waiter]]>([:])

    /// The word's key. Its value is read or changed only inside
    /// MemoryManager.withWord, never through a pointer kept past it.
    private func key(_ mm: MemoryManager, _ addr: GuestAddress) throws(Errno) -> UInt64 {
        guard addr.rawValue & 3 == 0 else { throw .EINVAL }
        return try mm.fileOffset(of: addr, write: false)
    }

    /// FUTEX_WAIT(_BITSET): sleeps while the word holds `expected`.
    func wait(_ task: Task, _ addr: GuestAddress, expected: UInt32, bitset: UInt32, deadline: Deadline?) throws(Errno) {
        guard bitset != 0 else { throw .EINVAL }
        guard addr.rawValue & 3 == 0 else { throw .EINVAL }
        // The value check and the queueing are one step for wakers (the
        // queue's lock), and the word stays mapped meanwhile (the mm's).
        let w: Waiter = try task.mm.withWord(addr, write: false) { (k, p) throws(Errno) -> Waiter in
            let w = Waiter(waker: task.waker, bitset: bitset, key: k)
            try queues.withLock { (q: inout [UInt64: [Waiter]]) throws(Errno) in
                if sw_atomic_load32(p) != expected { throw .EAGAIN }
                q[k, default: []].append(w)
            }
            return w
        }
        defer {
            queues.withLock { q in
                if !w.woken { q[w.key]?.removeAll { $0 === w }; if q[w.key]?.isEmpty == true { q[w.key] = nil } }
            }
        }
        let r = try task.block(on: [], deadline: deadline, interruptedBy: deadline == nil ? .ERESTARTSYS : .EINTR) { () throws(Errno) in
            queues.withLock { _ in w.woken }
        }
        if r == .timedOut { throw .ETIMEDOUT }
    }

    /// FUTEX_WAKE(_BITSET): wakes up to `count` waiters; returns how many.
    @discardableResult
    func wake(_ mm: MemoryManager, _ addr: GuestAddress, count: Int, bitset: UInt32) throws(Errno) -> Int {
        guard bitset != 0 else { throw .EINVAL }
        return wake(key: try key(mm, addr), count: count, bitset: bitset)
    }

    private func wake(key k: UInt64, count: Int, bitset: UInt32) -> Int {
        let woken: [Waiter] = queues.withLock { q in wakeLocked(&q, k, count, bitset) }
        for w in woken { w.waker.wake() }
        return woken.count
    }

    private func wakeLocked(_ q: inout [UInt64: [Waiter]], _ k: UInt64, _ count: Int, _ bitset: UInt32) -> [Waiter] {
        guard var list = q[k], count > 0 else { return [] }
        var out: [Waiter] = []
        list.removeAll { w in
            guard out.count < count, w.bitset & bitset != 0 else { return false }
            w.woken = true
            out.append(w)
            return true
        }
        q[k] = list.isEmpty ? nil : list
        return out
    }

    /// FUTEX_REQUEUE / FUTEX_CMP_REQUEUE: wake `count`, move up to `requeue`
    /// more to the second word's queue.
    func requeue(_ mm: MemoryManager, _ a1: GuestAddress, _ a2: GuestAddress, count: Int, requeue: Int,
                 expected: UInt32?) throws(Errno) -> Int {
        _ = try key(mm, a1)
        let k2 = try key(mm, a2)
        let (woken, moved) = try mm.withWord(a1, write: false) { (k1, p1) throws(Errno) -> ([Waiter], Int) in
          try queues.withLock { (q: inout [UInt64: [Waiter]]) throws(Errno) -> ([Waiter], Int) in
            if let expected, sw_atomic_load32(p1) != expected { throw .EAGAIN }
            let out = wakeLocked(&q, k1, count, ~0)
            guard k1 != k2, var list = q[k1] else { return (out, 0) }
            let moving = Array(list.prefix(max(0, requeue)))
            list.removeFirst(moving.count)
            q[k1] = list.isEmpty ? nil : list
            for w in moving { w.key = k2 }
            if !moving.isEmpty { q[k2, default: []].append(contentsOf: moving) }
            return (out, moving.count)
          }
        }
        for w in woken { w.waker.wake() }
        // Linux counts the requeued waiters too.
        return woken.count + moved
    }

    /// FUTEX_WAKE_OP: atomically change the second word, wake waiters of the
    /// first, and of the second too if the old value passes the comparison.
    func wakeOp(_ mm: MemoryManager, _ a1: GuestAddress, _ a2: GuestAddress, count1: Int, count2: Int, op: UInt32) throws(Errno) -> Int {
        let k1 = try key(mm, a1)
        let k2 = try mm.fileOffset(of: a2, write: true)
        guard a2.rawValue & 3 == 0 else { throw .EINVAL }
        let kind = (op >> 28) & 7, cmp = (op >> 24) & 15
        var oparg = (op >> 12) & 0xfff, cmparg = op & 0xfff
        if op & 0x8000_0000 != 0 { oparg = oparg < 32 ? 1 << oparg : 0 }   // FUTEX_OP_OPARG_SHIFT
        // Sign-extend the 12-bit arguments, as Linux does.
        let soparg = Int32(bitPattern: oparg << 20) >> 20
        cmparg = UInt32(bitPattern: Int32(bitPattern: cmparg << 20) >> 20)
        guard kind <= 4, cmp <= 5 else { throw .ENOSYS }
        // The change is made with the word's page held mapped.
        let old: UInt32 = try mm.withWord(a2, write: true) { (_, p2) throws(Errno) -> UInt32 in
            while true {
                let old = sw_atomic_load32(p2)
                let new: UInt32
                switch kind {
                case 0: new = UInt32(bitPattern: op & 0x8000_0000 != 0 ? Int32(bitPattern: oparg) : soparg)  // SET
                case 1: new = old &+ UInt32(bitPattern: soparg)   // ADD
                case 2: new = old | UInt32(bitPattern: soparg)    // OR
                case 3: new = old & ~UInt32(bitPattern: soparg)   // ANDN
                default: new = old ^ UInt32(bitPattern: soparg)   // XOR
                }
                if sw_atomic_cas32(p2, old, new) != 0 { return old }
            }
        }
        let o = Int32(bitPattern: old), c = Int32(bitPattern: cmparg)
        let pass: Bool
        switch cmp {
        case 0: pass = o == c
        case 1: pass = o != c
        case 2: pass = o < c
        case 3: pass = o <= c
        case 4: pass = o > c
        default: pass = o >= c
        }
        var n = wake(key: k1, count: count1, bitset: ~0)
        if pass { n += wake(key: k2, count: count2, bitset: ~0) }
        return n
    }
}

/// The futex operations, for the syscall layer.
extension Kernel {
    public func futexWait(_ t: Task, _ addr: GuestAddress, expected: UInt32, bitset: UInt32, deadline: Deadline?) throws(Errno) {
        try futexes.wait(t, addr, expected: expected, bitset: bitset, deadline: deadline)
    }
    public func futexWake(_ mm: MemoryManager, _ addr: GuestAddress, count: Int, bitset: UInt32) throws(Errno) -> Int {
        try futexes.wake(mm, addr, count: count, bitset: bitset)
    }
    public func futexRequeue(_ mm: MemoryManager, _ a1: GuestAddress, _ a2: GuestAddress, count: Int, requeue: Int,
                             expected: UInt32?) throws(Errno) -> Int {
        try futexes.requeue(mm, a1, a2, count: count, requeue: requeue, expected: expected)
    }
    public func futexWakeOp(_ mm: MemoryManager, _ a1: GuestAddress, _ a2: GuestAddress, count1: Int, count2: Int,
                            op: UInt32) throws(Errno) -> Int {
        try futexes.wakeOp(mm, a1, a2, count1: count1, count2: count2, op: op)
    }
}
