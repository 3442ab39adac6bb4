import Glibc
import Sentry

/// ptrace(2), and process_vm_readv/writev: one guest task reaching into
/// another, under ptrace's access rules. Served by the sentry's own guest
/// ptrace (Kernel/Ptrace/), never by the host's.
enum Ptrace {
    /// ptrace(request, pid, addr, data): `request` is a long.
    static func ptrace(_ t: Task, _ a: SyscallArguments) throws(Errno) -> Int64 {
        try t.ptraceRequest(a.int(0), pid: a.int32(1), addr: a[2], data: a[3])
    }

    static func processVMReadv(_ t: Task, _ a: SyscallArguments) throws(Errno) -> Int64 {
        try processVM(t, a, write: false)
    }

    static func processVMWritev(_ t: Task, _ a: SyscallArguments) throws(Errno) -> Int64 {
        try processVM(t, a, write: true)
    }

    /// process_vm_rw: flags must be 0; the local vector read first as
    /// import_iovec reads it (its count an unsigned int; an empty one moves
    /// nothing), then the remote one as iovec_from_user does (lengths' signs
    /// only, no cap); no remote bytes at all is 0 before the pid is looked
    /// up (process_vm_rw_core); then the target under
    /// PTRACE_MODE_ATTACH_REALCREDS. Bytes move remote iovec by remote iovec
    /// until the first fault, and a transfer that moved nothing answers that fault.
    private static func processVM(_ t: Task, _ a: SyscallArguments, write: Bool) throws(Errno) -> Int64 {
        guard a[5] == 0 else { throw .EINVAL }
        let local = try t.iovecRanges(a.address(1), count: Int(UInt32(truncatingIfNeeded: a[2])))
        if local.isEmpty { return 0 }
        let remote = try t.iovecArray(a.address(3), count: a[4] > 1024 ? -1 : Int(a[4]))
            .filter { $0.length > 0 }.map { GuestRange(GuestAddress($0.base), Int($0.length)) }
        if remote.isEmpty { return 0 }
        let pid = a.int32(0)
        guard pid > 0, let target = t.kernel.task(pid) else { throw .ESRCH }
        guard t.mayAttach(target) else { throw .EPERM }
        let (src, dst) = write ? (t.mm, target.mm) : (target.mm, t.mm)
        let (from, to) = write ? (local, remote) : (remote, local)
        var moved = 0
        var fi = 0, fOff = 0, ti = 0, tOff = 0
        while fi < from.count && ti < to.count {
            let n = min(from[fi].count - fOff, to[ti].count - tOff, 1 << 20)
            let fa = from[fi].address + UInt64(fOff), ta = to[ti].address + UInt64(tOff)
            // A fault on the remote side ends the transfer; on the local side too (EFAULT when nothing moved).
            let readable = src.accessiblePrefix([GuestRange(fa, n)], write: false)
            let writable = dst.accessiblePrefix([GuestRange(ta, readable)], write: true, fromOutside: dst !== t.mm)
            if writable > 0 {
                guard let bytes = try? src.copyIn(fa, writable), (try? dst.copyOut(ta, bytes)) != nil else { break }
                moved += writable
            }
            if writable < n { break }
            fOff += n; tOff += n
            if fOff == from[fi].count { fi += 1; fOff = 0 }
            if tOff == to[ti].count { ti += 1; tOff = 0 }
        }
        if moved == 0 { throw .EFAULT }
        return Int64(moved)
    }
}
