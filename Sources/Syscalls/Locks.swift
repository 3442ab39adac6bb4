import CSwitch
import Glibc
import Sentry

/// fcntl record locks and flock, kept by the sentry (see FileLocks).
enum Locks {
    static func key(_ f: FileDescription) throws(Errno) -> FileLocks.Key { try FileLocks.Key(of: f) }

    static func flock(_ t: Task, _ a: SyscallArguments) throws(Errno) -> Int64 {
        let f = try t.fds.get(a.fd(0))
        let op = a.int32(1)
        let nonBlocking = op & 4 != 0
        let k = try key(f)
        let owner = FileLocks.Owner.description(FileLocks.WeakDescription(f))
        let locks = t.kernel.vfs.locks
        switch op & ~4 {
        case 8:  // LOCK_UN
            locks.set(k, FileLocks.Lock(owner: owner, exclusive: false, range: 0..<UInt64.max, flock: true), unlock: true)
            return 0
        case 1, 2:
            let want = FileLocks.Lock(owner: owner, exclusive: op & 2 != 0, range: 0..<UInt64.max, flock: true)
            try acquire(t, k, want, wait: !nonBlocking, busy: .EAGAIN, interrupted: .EINTR)
            return 0
        default:
            throw .EINVAL
        }
    }

    /// F_GETLK/F_SETLK/F_SETLKW and the OFD forms (36, 37, 38).
    static func fcntlLock(_ t: Task, _ f: FileDescription, cmd: Int32, _ addr: GuestAddress) throws(Errno) -> Int64 {
        var fl = try t.mm.read(addr, as: sw_flock.self)
        let ofd = cmd >= 36
        if ofd && fl.l_pid != 0 { throw .EINVAL }
        guard [Int16(F_RDLCK), Int16(F_WRLCK), Int16(F_UNLCK)].contains(fl.l_type) else { throw .EINVAL }
        let base: Int64
        switch Int32(fl.l_whence) {
        case SEEK_SET: base = 0
        case SEEK_CUR: base = try f.seek(0, whence: SEEK_CUR)
        case SEEK_END: base = Int64(try f.stat().st_size)
        default: throw .EINVAL
        }
        // As flock_to_posix_lock: a start or end past the largest offset is
        // EOVERFLOW, one before 0 is EINVAL; a negative length reaches back.
        let (start, past) = base.addingReportingOverflow(Int64(fl.l_start))
        guard !past else { throw .EOVERFLOW }
        guard start >= 0 else { throw .EINVAL }
        let len = Int64(fl.l_len)
        let range: Range<UInt64>
        if len > 0 {
            guard len - 1 <= Int64.max - start else { throw .EOVERFLOW }
            range = UInt64(start)..<(UInt64(start) + UInt64(len))
        } else if len < 0 {
            let (from, o) = start.addingReportingOverflow(len)
            guard !o, from >= 0 else { throw .EINVAL }
            range = UInt64(from)..<UInt64(start)
        } else {
            range = UInt64(start)..<UInt64.max
        }
        let owner: FileLocks.Owner = ofd ? .description(FileLocks.WeakDescription(f)) : .process(t.pid)
        let k = try key(f)
        let locks = t.kernel.vfs.locks
        let want = FileLocks.Lock(owner: owner, exclusive: fl.l_type == Int16(F_WRLCK), range: range, flock: false)
        switch cmd {
        case F_GETLK, 36:
            guard fl.l_type != Int16(F_UNLCK) else { throw .EINVAL }
            if let c = locks.conflict(k, want, alive: { t.kernel.process($0) != nil }) {
                fl.l_type = Int16(c.exclusive ? F_WRLCK : F_RDLCK)
                fl.l_whence = Int16(SEEK_SET)
                fl.l_start = off_t(c.range.lowerBound)
                // A lock reaching the largest offset reads as "to the end" (0).
                fl.l_len = c.range.upperBound > UInt64(Int64.max) ? 0 : off_t(c.range.upperBound - c.range.lowerBound)
                if case .process(let p) = c.owner { fl.l_pid = p } else { fl.l_pid = -1 }
            } else {
                fl.l_type = Int16(F_UNLCK)
            }
            try t.mm.write(addr, fl)
            return 0
        default:
            if fl.l_type == Int16(F_UNLCK) { locks.set(k, want, unlock: true); return 0 }
            guard want.exclusive ? f.flags.writable : f.flags.readable else { throw .EBADF }
            let wait = cmd == F_SETLKW || cmd == 38
            try acquire(t, k, want, wait: wait, busy: .EAGAIN, interrupted: .ERESTARTSYS)
            return 0
        }
    }

    private static func acquire(_ t: Task, _ k: FileLocks.Key, _ want: FileLocks.Lock, wait: Bool, busy: Errno, interrupted: Errno) throws(Errno) {
        let locks = t.kernel.vfs.locks
        let free: () -> Bool = { locks.conflict(k, want, alive: { t.kernel.process($0) != nil }) == nil }
        if !free() {
            guard wait else { throw busy }
            _ = try t.block(on: [locks.released], interruptedBy: interrupted) { () throws(Errno) -> Bool in free() }
        }
        locks.set(k, want, unlock: false)
    }
}
