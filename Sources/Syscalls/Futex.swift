import Glibc
import Sentry

/// futex(2): the operations glibc, musl and Go use.
enum Futex {
    static func futex(_ t: Task, _ a: SyscallArguments) throws(Errno) -> Int64 {
        let addr = a.address(0), op = a.int32(1), val = a.uint32(2)
        let cmd = op & 0x7f            // minus FUTEX_PRIVATE_FLAG (128) and FUTEX_CLOCK_REALTIME (256)
        let realtime = op & 256 != 0
        if realtime && cmd != 9 && cmd != 0 { throw .ENOSYS }   // only WAIT_BITSET (and WAIT, since 4.5) take it
        switch cmd {
        case 0, 9:   // FUTEX_WAIT: relative timeout; FUTEX_WAIT_BITSET: absolute
            let bitset = cmd == 9 ? a.uint32(5) : ~0
            var deadline: Deadline?
            if !a.address(3).isNull {
                let ts = try Time.readTimespec(t, a.address(3))
                let ns = Time.ns(ts)
                if cmd == 9 {
                    let clock = realtime ? CLOCK_REALTIME : CLOCK_MONOTONIC
                    deadline = Deadline.after(ns &- Deadline.now(clock))
                } else {
                    deadline = .after(ns)
                }
            }
            try t.kernel.futexWait(t, addr, expected: val, bitset: bitset, deadline: deadline)
            return 0
        case 1, 10:  // FUTEX_WAKE, FUTEX_WAKE_BITSET
            return Int64(try t.kernel.futexWake(t.mm, addr, count: Int(Int32(bitPattern: val)), bitset: cmd == 10 ? a.uint32(5) : ~0))
        case 3, 4:   // FUTEX_REQUEUE, FUTEX_CMP_REQUEUE (val2 travels in the timeout slot)
            let count = Int(Int32(bitPattern: val)), requeue = Int(Int32(truncatingIfNeeded: a[3]))
            guard count >= 0, requeue >= 0 else { throw .EINVAL }
            return Int64(try t.kernel.futexRequeue(t.mm, addr, a.address(4), count: count, requeue: requeue,
                                                   expected: cmd == 4 ? a.uint32(5) : nil))
        case 5:      // FUTEX_WAKE_OP
            return Int64(try t.kernel.futexWakeOp(t.mm, addr, a.address(4), count1: Int(Int32(bitPattern: val)),
                                                  count2: Int(Int32(truncatingIfNeeded: a[3])), op: a.uint32(5)))
        default:
            // PI futexes and FUTEX_WAIT_REQUEUE_PI need priority inheritance.
            throw .ENOSYS
        }
    }
}
