import Glibc
import Sentry

/// mlock, munlock, mlock2, mlockall, munlockall (mm/mlock.c), msync
/// (mm/msync.c) and mincore (mm/mincore.c). Guest memory lives in the
/// sentry's memory file; locking it is accounted per process against
/// RLIMIT_MEMLOCK and shown as VmLck, as Linux does.
enum MemoryLocking {
    static let MCL_CURRENT: UInt64 = 1, MCL_FUTURE: UInt64 = 2, MCL_ONFAULT: UInt64 = 4
    static let MLOCK_ONFAULT: UInt64 = 1
    static let MS_ASYNC: UInt64 = 1, MS_INVALIDATE: UInt64 = 2, MS_SYNC: UInt64 = 4
    static let page = GuestAddress.pageSize

    /// The page-aligned range [start, start+len) rounded out as mlock does:
    /// PAGE_ALIGN wraps (a length near 2^64 becomes 0, so nothing), and an
    /// end past 2^64 is EINVAL.
    private static func pageRange(_ start: UInt64, _ len: UInt64) throws(Errno) -> Range<UInt64> {
        let lo = start & ~(page - 1)
        let aligned = (len &+ (start - lo) &+ (page - 1)) & ~(page - 1)
        let (hi, overflow) = lo.addingReportingOverflow(aligned)
        guard !overflow else { throw .EINVAL }
        return lo..<hi
    }

    /// Where the mapped run from `r`'s start ends (at most `r`'s end).
    private static func mappedPrefix(_ t: Task, _ r: Range<UInt64>) -> UInt64 {
        var cursor = r.lowerBound
        for v in t.mm.vmas where v.end.rawValue > cursor && v.start.rawValue < r.upperBound {
            guard v.start.rawValue <= cursor else { break }
            cursor = v.end.rawValue
            if cursor >= r.upperBound { return r.upperBound }
        }
        return cursor
    }

    /// Every page of `r` is mapped, else ENOMEM.
    private static func requireMapped(_ t: Task, _ r: Range<UInt64>) throws(Errno) {
        if mappedPrefix(t, r) < r.upperBound { throw .ENOMEM }
    }

    private static func limit(_ t: Task) -> UInt64 { t.resourceLimits[ResourceLimit.RLIMIT_MEMLOCK]?.cur ?? 0 }
    private static func canLock(_ t: Task) -> Bool { Creds.creds(t).capable(Credentials.CAP_IPC_LOCK) }

    static func mlock(_ t: Task, _ a: SyscallArguments) throws(Errno) -> Int64 { try lock(t, a[0], a[1]) }

    static func mlock2(_ t: Task, _ a: SyscallArguments) throws(Errno) -> Int64 {
        guard a[2] & ~MLOCK_ONFAULT == 0 else { throw .EINVAL }
        return try lock(t, a[0], a[1])
    }

    /// do_mlock: allowed at all with a non-zero RLIMIT_MEMLOCK or CAP_IPC_LOCK;
    /// what ends up locked, counting what already was, must fit the limit.
    private static func lock(_ t: Task, _ start: UInt64, _ len: UInt64) throws(Errno) -> Int64 {
        let capable = canLock(t), lim = limit(t)
        guard lim != 0 || capable else { throw .EPERM }
        let r = try pageRange(start, len)
        if r.isEmpty { return 0 }
        // apply_vma_lock_flags: mappings up to a hole are locked, then ENOMEM.
        let end = mappedPrefix(t, r)
        guard end > r.lowerBound else { throw .ENOMEM }
        let vmas = t.mm.vmas
        try t.withMemoryLocks { (locks: inout MemoryLocks) throws(Errno) in
            let already = locks.lockedBytes(mapped: vmas)
            let adding = (r.upperBound - r.lowerBound) - locks.lockedBytes(in: r)
            let (total, overflow) = already.addingReportingOverflow(adding)
            guard capable || (!overflow && total <= lim & ~(page - 1)) else { throw .ENOMEM }
            locks.add(r.lowerBound..<end)
        }
        if end < r.upperBound { throw .ENOMEM }
        return 0
    }

    static func munlock(_ t: Task, _ a: SyscallArguments) throws(Errno) -> Int64 {
        let r = try pageRange(a[0], a[1])
        if r.isEmpty { return 0 }
        let end = mappedPrefix(t, r)
        guard end > r.lowerBound else { throw .ENOMEM }
        try t.withMemoryLocks { (locks: inout MemoryLocks) throws(Errno) in locks.remove(r.lowerBound..<end) }
        if end < r.upperBound { throw .ENOMEM }
        return 0
    }

    /// mlockall: MCL_ONFAULT needs one of the others; MCL_CURRENT locks what is
    /// mapped now, within the limit (the whole mapped size must fit).
    static func mlockall(_ t: Task, _ a: SyscallArguments) throws(Errno) -> Int64 {
        let flags = a[0]
        guard flags != 0, flags & ~(MCL_CURRENT | MCL_FUTURE | MCL_ONFAULT) == 0, flags != MCL_ONFAULT else { throw .EINVAL }
        let capable = canLock(t), lim = limit(t)
        guard lim != 0 || capable else { throw .EPERM }
        let vmas = t.mm.vmas
        let total = vmas.reduce(UInt64(0)) { $0 + $1.length }
        try t.withMemoryLocks { (locks: inout MemoryLocks) throws(Errno) in
            if flags & MCL_CURRENT != 0 {
                guard capable || total <= lim else { throw .ENOMEM }
                for v in vmas { locks.add(v.start.rawValue..<v.end.rawValue) }
            }
            locks.future = flags & MCL_FUTURE != 0
        }
        return 0
    }

    static func munlockall(_ t: Task, _ a: SyscallArguments) throws(Errno) -> Int64 {
        try t.withMemoryLocks { (locks: inout MemoryLocks) throws(Errno) in locks.removeAll() }
        return 0
    }

    /// munmap and mremap leave nothing locked behind where they unmapped (called after they succeeded).
    static func forget(_ t: Task, _ start: UInt64, _ len: UInt64) {
        guard let r = try? pageRange(start, len) else { return }
        try? t.withMemoryLocks { (locks: inout MemoryLocks) throws(Errno) in locks.remove(r) }
    }

    static func isLocked(_ t: Task, _ start: UInt64, _ len: UInt64) -> Bool {
        guard let r = try? pageRange(start, len) else { return false }
        return (try? t.withMemoryLocks { (l: inout MemoryLocks) throws(Errno) in l.lockedBytes(in: r) > 0 }) ?? false
    }

    /// mremap: the lock (VM_LOCKED) goes with the mapping to where it now is.
    static func moved(_ t: Task, from old: UInt64, _ oldLength: UInt64, to new: UInt64, _ newLength: UInt64, locked: Bool) {
        if new != old { forget(t, old, oldLength) } else if newLength < oldLength { forget(t, old + newLength, oldLength - newLength) }
        guard locked, let r = try? pageRange(new, newLength) else { return }
        try? t.withMemoryLocks { (l: inout MemoryLocks) throws(Errno) in l.add(r) }
    }

    /// mmap, then under mlockall(MCL_FUTURE) the new mapping is locked.
    static func mmap(_ t: Task, _ a: SyscallArguments) throws(Errno) -> Int64 {
        let addr = try Memory.mmap(t, a)
        mapped(t, UInt64(bitPattern: addr), a[1])
        return addr
    }

    /// A new mapping under mlockall(MCL_FUTURE) is locked.
    static func mapped(_ t: Task, _ start: UInt64, _ len: UInt64) {
        guard let r = try? pageRange(start, len) else { return }
        try? t.withMemoryLocks { (locks: inout MemoryLocks) throws(Errno) in if locks.future { locks.add(r) } }
    }

    // MARK: msync, mincore

    static func msync(_ t: Task, _ a: SyscallArguments) throws(Errno) -> Int64 {
        let start = a[0], flags = a[2]
        guard flags & ~(MS_ASYNC | MS_INVALIDATE | MS_SYNC) == 0, start & (page - 1) == 0,
              !(flags & MS_ASYNC != 0 && flags & MS_SYNC != 0) else { throw .EINVAL }
        let length = (a[1] &+ (page - 1)) & ~(page - 1)   // wraps, as Linux's does
        let (end, overflow) = start.addingReportingOverflow(length)
        guard !overflow else { throw .ENOMEM }
        if end == start { return 0 }
        let r = start..<end
        if flags & MS_INVALIDATE != 0 {
            let vmas = t.mm.vmas.filter { $0.end.rawValue > start && $0.start.rawValue < end }
            let locked = try t.withMemoryLocks { (l: inout MemoryLocks) throws(Errno) in
                vmas.contains { l.lockedBytes(in: max($0.start.rawValue, start)..<min($0.end.rawValue, end)) > 0 }
            }
            if locked { throw .EBUSY }
        }
        try requireMapped(t, r)
        // Shared host-file mappings are written back (tmpfs ones are the file's own pages).
        return try Memory.msync(t, a)
    }

    /// mincore: one byte per page, 1 where the page holds data in the memory
    /// file (MemoryManager.residency, as pagemap's present bit).
    static func mincore(_ t: Task, _ a: SyscallArguments) throws(Errno) -> Int64 {
        let start = a[0]
        guard start & (page - 1) == 0 else { throw .EINVAL }
        guard start < t.kernel.layout.top.rawValue else { throw .ENOMEM }
        let (rounded, o) = a[1].addingReportingOverflow(page - 1)
        guard !o else { throw .ENOMEM }
        let pages = Int(rounded / page)
        if pages == 0 { return 0 }
        let (end, o2) = start.addingReportingOverflow(UInt64(pages) * page)
        guard !o2, end <= t.kernel.layout.top.rawValue else { throw .ENOMEM }
        try requireMapped(t, start..<end)
        // One chunk of the vector at a time, as Linux does a page of it at a
        // time: a huge PROT_NONE reservation must not cost a huge buffer.
        let chunkPages = 1 << 16
        var chunkStart = start
        while chunkStart < end {
            let chunkEnd = min(end, chunkStart + UInt64(chunkPages) * page)
            let vec = t.mm.residency(GuestAddress(chunkStart)..<GuestAddress(chunkEnd))
            try t.mm.copyOut(a.address(2) + (chunkStart - start) / page, vec)
            chunkStart = chunkEnd
        }
        return 0
    }
}
