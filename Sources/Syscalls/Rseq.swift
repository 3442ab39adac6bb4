import Sentry

/// rseq(2): registers the thread's struct rseq (Kernel/Rseq.swift keeps it
/// current and aborts its critical sections).
enum Rseq {
    static func rseq(_ t: Task, _ a: SyscallArguments) throws(Errno) -> Int64 {
        try t.rseqSyscall(area: a.address(0), length: a.uint32(1), flags: a.int32(2), signature: a.uint32(3))
        return 0
    }
}
