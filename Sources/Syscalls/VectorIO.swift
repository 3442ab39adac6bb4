import Glibc
import Sentry

/// preadv, pwritev, preadv2, pwritev2 (fs/read_write.c): readv/writev at an
/// offset, and with RWF_* flags. An offset of -1 in the v2 calls means the
/// file position, as readv/writev.
enum VectorIO {
    static let RWF_HIPRI: UInt64 = 1, RWF_DSYNC: UInt64 = 2, RWF_SYNC: UInt64 = 4, RWF_NOWAIT: UInt64 = 8, RWF_APPEND: UInt64 = 0x10
    static let supported = RWF_HIPRI | RWF_DSYNC | RWF_SYNC | RWF_NOWAIT | RWF_APPEND

    static func preadv(_ t: Task, _ a: SyscallArguments) throws(Errno) -> Int64 { try read(t, a, flags: 0, v2: false) }
    static func pwritev(_ t: Task, _ a: SyscallArguments) throws(Errno) -> Int64 { try write(t, a, flags: 0, v2: false) }
    static func preadv2(_ t: Task, _ a: SyscallArguments) throws(Errno) -> Int64 { try read(t, a, flags: a[5], v2: true) }
    static func pwritev2(_ t: Task, _ a: SyscallArguments) throws(Errno) -> Int64 { try write(t, a, flags: a[5], v2: true) }

    /// pos_from_hilo on x86-64: the low word is the whole offset.
    private static func offset(_ a: SyscallArguments, v2: Bool) throws(Errno) -> Int64? {
        let pos = a.int(3)
        if v2 && pos == -1 { return nil }
        guard pos >= 0 else { throw .EINVAL }
        return pos
    }

    /// A file preadv can address: one with a position (FMODE_PREAD).
    private static func positional(_ f: FileDescription) throws(Errno) {
        do { _ = try f.seek(0, whence: SEEK_CUR) } catch { if error == .ESPIPE { throw .ESPIPE } }
    }

    private static func checkFlags(_ f: FileDescription, _ flags: UInt64) throws(Errno) {
        guard flags & ~supported == 0 else { throw .EOPNOTSUPP }
        // RWF_NOWAIT needs a file that can say "would block" (FMODE_NOWAIT):
        // regular files and the sentry's own pipes and eventfds.
        if flags & RWF_NOWAIT != 0, f.location?.inode.kind != .regular, f.waitQueue == nil { throw .EOPNOTSUPP }
    }

    private static func total(_ ranges: [GuestRange]) -> Int { ranges.reduce(0) { $0 + $1.count } }

    static func read(_ t: Task, _ a: SyscallArguments, flags: UInt64, v2: Bool) throws(Errno) -> Int64 {
        let pos = try offset(a, v2: v2)
        let f = try t.fds.get(a.fd(0))
        if pos != nil { try positional(f) }
        guard f.flags.readable else { throw .EBADF }
        let ranges = try t.iovecRanges(a.address(1), count: Int(a.int32(2)))
        if total(ranges) == 0 { return 0 }
        try checkFlags(f, flags)
        // RWF_NOWAIT never waits: EAGAIN if empty.
        return try t.countingRead { () throws(Errno) -> Int64 in
            Int64(try t.read(f, into: ranges, at: pos, noWait: flags & RWF_NOWAIT != 0))
        }
    }

    static func write(_ t: Task, _ a: SyscallArguments, flags: UInt64, v2: Bool) throws(Errno) -> Int64 {
        var pos = try offset(a, v2: v2)
        let f = try t.fds.get(a.fd(0))
        if pos != nil { try positional(f) }
        guard f.flags.writable else { throw .EBADF }
        let ranges = try t.iovecRanges(a.address(1), count: Int(a.int32(2)))
        if total(ranges) == 0 { return 0 }
        try checkFlags(f, flags)
        let fromPosition = pos == nil
        pos = try appendOffset(f, flags: flags) ?? pos
        let n: Int
        do {
            if let pos {
                n = try t.write(f, from: ranges, at: pos)
                // The file position moves only when the write was at it.
                if fromPosition { _ = try f.seek(pos + Int64(n), whence: SEEK_SET) }
            } else {
                n = try t.write(f, from: ranges, noWait: flags & RWF_NOWAIT != 0)
            }
        } catch {
            t.accountWrite(0)
            if error == .EPIPE { t.post(t.senderInfo(Signal.SIGPIPE.rawValue, code: SignalInfo.SI_USER)) }
            throw error
        }
        t.accountWrite(Int64(n))
        try syncWritten(f, flags: flags)
        return Int64(n)
    }

    /// RWF_APPEND (IOCB_APPEND): a regular file is written at its end, whatever offset was given.
    static func appendOffset(_ f: FileDescription, flags: UInt64) throws(Errno) -> Int64? {
        guard flags & RWF_APPEND != 0, f.location?.inode.kind == .regular else { return nil }
        return Int64(try f.stat().st_size)
    }

    /// RWF_DSYNC and RWF_SYNC: what was written is synced, data alone for DSYNC.
    static func syncWritten(_ f: FileDescription, flags: UInt64) throws(Errno) {
        if flags & (RWF_DSYNC | RWF_SYNC) != 0 { try f.sync(dataOnly: flags & RWF_SYNC == 0) }
    }
}
