import Glibc
import Sentry

/// futex(2) and futex_waitv(2), as kernel/futex/syscalls.c of Linux 6.1.
enum Futex {
    // include/uapi/linux/futex.h
    static let privateFlag: Int32 = 128, clockRealtime: Int32 = 256
    static let wait: Int32 = 0, wake: Int32 = 1, requeue: Int32 = 3, cmpRequeue: Int32 = 4, wakeOp: Int32 = 5
    static let lockPI: Int32 = 6, unlockPI: Int32 = 7, trylockPI: Int32 = 8, waitBitset: Int32 = 9, wakeBitset: Int32 = 10
    static let waitRequeuePI: Int32 = 11, cmpRequeuePI: Int32 = 12, lockPI2: Int32 = 13
    /// futex_waitv: FUTEX_32, the only size, and FUTEX_WAITV_MAX.
    static let size32: UInt32 = 2, waitvMax: UInt32 = 128

    static func futex(_ t: Task, _ a: SyscallArguments) throws(Errno) -> Int64 {
        let addr = a.address(0), op = a.int32(1), val = a.uint32(2)
        let cmd = op & ~(privateFlag | clockRealtime)
        let realtime = op & clockRealtime != 0
        // The timeout is read first, for the commands that have one: a
        // relative one for FUTEX_WAIT, an absolute one on CLOCK_REALTIME for
        // LOCK_PI, and on the flag's clock for the others.
        var deadline: Deadline?
        if [wait, lockPI, lockPI2, waitBitset, waitRequeuePI].contains(cmd), !a.address(3).isNull {
            let ns = Time.ns(try Time.readTimespec(t, a.address(3)))
            if cmd == wait {
                deadline = .after(ns)
            } else {
                deadline = Deadline(nanoseconds: ns, clock: realtime || cmd == lockPI ? CLOCK_REALTIME : CLOCK_MONOTONIC)
            }
        }
        if realtime && cmd != waitBitset && cmd != waitRequeuePI && cmd != lockPI2 { throw .ENOSYS }
        let k = t.kernel
        switch cmd {
        case wait, waitBitset:
            return try waitOn(t, addr, val, bitset: cmd == waitBitset ? a.uint32(5) : ~0, deadline: deadline)
        case wake, wakeBitset:
            return Int64(try k.futexWake(t.mm, addr, count: Int(Int32(bitPattern: val)),
                                         bitset: cmd == wakeBitset ? a.uint32(5) : ~0, private: op & privateFlag != 0))
        case requeue, cmpRequeue, cmpRequeuePI:
            // val2 travels in the timeout's slot.
            let count = Int(Int32(bitPattern: val)), more = Int(Int32(truncatingIfNeeded: a[3]))
            guard count >= 0, more >= 0 else { throw .EINVAL }
            if cmd == cmpRequeuePI {
                return Int64(try k.futexCmpRequeuePI(t, addr, a.address(4), wake: count, requeue: more, expected: a.uint32(5)))
            }
            return Int64(try k.futexRequeue(t.mm, addr, a.address(4), count: count, requeue: more,
                                            expected: cmd == cmpRequeue ? a.uint32(5) : nil))
        case wakeOp:
            return Int64(try k.futexWakeOp(t.mm, addr, a.address(4), count1: Int(Int32(bitPattern: val)),
                                           count2: Int(Int32(truncatingIfNeeded: a[3])), op: a.uint32(5)))
        case lockPI, lockPI2:
            try k.futexLockPI(t, addr, deadline: deadline, trylock: false)
            return 0
        case trylockPI:
            try k.futexLockPI(t, addr, deadline: nil, trylock: true)
            return 0
        case unlockPI:
            try k.futexUnlockPI(t, addr)
            return 0
        case waitRequeuePI:
            try k.futexWaitRequeuePI(t, addr, expected: val, deadline: deadline, a.address(4))
            return 0
        default:
            // FUTEX_FD (gone since 2.6.26) and unknown commands.
            throw .ENOSYS
        }
    }

    /// FUTEX_WAIT(_BITSET): a signal restarts a wait without a timeout
    /// (ERESTARTSYS), and one with a timeout through restart_syscall with the
    /// same deadline (futex_wait_restart).
    private static func waitOn(_ t: Task, _ addr: GuestAddress, _ val: UInt32, bitset: UInt32, deadline: Deadline?) throws(Errno) -> Int64 {
        try t.restartableFutexWait(addr, val, bitset: bitset, deadline: deadline)
    }

    /// futex_waitv(waiters, nr_futexes, flags, timeout, clockid): waits on
    /// up to 128 words; returns the index of one that was woken.
    static func futexWaitv(_ t: Task, _ a: SyscallArguments) throws(Errno) -> Int64 {
        let list = a.address(0), count = a.uint32(1)
        guard a.uint32(2) == 0 else { throw .EINVAL }
        guard count != 0, count <= waitvMax, !list.isNull else { throw .EINVAL }
        var deadline: Deadline?
        if !a.address(3).isNull {
            let clock = a.int32(4)
            guard clock == CLOCK_REALTIME || clock == CLOCK_MONOTONIC else { throw .EINVAL }
            deadline = Deadline(nanoseconds: Time.ns(try Time.readTimespec(t, a.address(3))), clock: clock)
        }
        // struct futex_waitv { u64 val; u64 uaddr; u32 flags; u32 __reserved; }
        var words: [(addr: GuestAddress, value: UInt32)] = []
        for i in 0..<UInt64(count) {
            let e = try t.mm.read(list + i * 24, as: (UInt64, UInt64, UInt32, UInt32).self)
            guard e.2 & ~(size32 | UInt32(privateFlag)) == 0, e.3 == 0, e.2 & size32 != 0 else { throw .EINVAL }
            words.append((GuestAddress(e.1), UInt32(truncatingIfNeeded: e.0)))
        }
        return Int64(try t.kernel.futexWaitMultiple(t, words, deadline: deadline))
    }
}
