import CSwitch
import Glibc
import Sentry

/// Calls that change names and attributes: mkdir, unlink, rename, link,
/// symlink, mknod, chmod, chown, utimensat, truncate, statfs.
enum FileTree {
    static func mkdir(_ t: Task, _ a: SyscallArguments) throws(Errno) -> Int64 { try mkdirAt(t, AtFlags.AT_FDCWD, a.address(0), a.uint32(1)) }
    static func mkdirat(_ t: Task, _ a: SyscallArguments) throws(Errno) -> Int64 { try mkdirAt(t, a.int32(0), a.address(1), a.uint32(2)) }
    private static func mkdirAt(_ t: Task, _ dirfd: Int32, _ p: GuestAddress, _ mode: UInt32) throws(Errno) -> Int64 {
        let (path, start) = try t.pathArgument(dirfd, p)
        try t.kernel.vfs.mkdir(path, from: start, mode: mode & 0o7777, t, umask: t.umask)
        return 0
    }

    static func mknod(_ t: Task, _ a: SyscallArguments) throws(Errno) -> Int64 {
        try mknodAt(t, AtFlags.AT_FDCWD, a.address(0), a.uint32(1), a.uint32(2))
    }
    static func mknodat(_ t: Task, _ a: SyscallArguments) throws(Errno) -> Int64 { try mknodAt(t, a.int32(0), a.address(1), a.uint32(2), a.uint32(3)) }
    private static func mknodAt(_ t: Task, _ dirfd: Int32, _ p: GuestAddress, _ mode: UInt32, _ device: UInt32) throws(Errno) -> Int64 {
        let (path, start) = try t.pathArgument(dirfd, p)
        try t.kernel.vfs.mknod(path, from: start, mode: (mode & S_IFMT) | (mode & 0o7777), device: device, t, umask: t.umask)
        return 0
    }

    static func rmdir(_ t: Task, _ a: SyscallArguments) throws(Errno) -> Int64 {
        let (path, start) = try t.pathArgument(AtFlags.AT_FDCWD, a.address(0))
        try t.kernel.vfs.unlink(path, from: start, directory: true, t)
        return 0
    }

    static func unlink(_ t: Task, _ a: SyscallArguments) throws(Errno) -> Int64 {
        let (path, start) = try t.pathArgument(AtFlags.AT_FDCWD, a.address(0))
        try t.kernel.vfs.unlink(path, from: start, directory: false, t)
        return 0
    }

    static func unlinkat(_ t: Task, _ a: SyscallArguments) throws(Errno) -> Int64 {
        guard a[2] & ~AtFlags.AT_REMOVEDIR == 0 else { throw .EINVAL }
        let (path, start) = try t.pathArgument(a.int32(0), a.address(1))
        try t.kernel.vfs.unlink(path, from: start, directory: a[2] & AtFlags.AT_REMOVEDIR != 0, t)
        return 0
    }

    static func rename(_ t: Task, _ a: SyscallArguments) throws(Errno) -> Int64 {
        try renameAt(t, AtFlags.AT_FDCWD, a.address(0), AtFlags.AT_FDCWD, a.address(1), 0)
    }
    static func renameat(_ t: Task, _ a: SyscallArguments) throws(Errno) -> Int64 {
        try renameAt(t, a.int32(0), a.address(1), a.int32(2), a.address(3), 0)
    }
    static func renameat2(_ t: Task, _ a: SyscallArguments) throws(Errno) -> Int64 {
        try renameAt(t, a.int32(0), a.address(1), a.int32(2), a.address(3), a.uint32(4))
    }
    private static func renameAt(_ t: Task, _ od: Int32, _ op: GuestAddress, _ nd: Int32, _ np: GuestAddress, _ flags: UInt32) throws(Errno) -> Int64 {
        if flags & 4 != 0 { throw .EINVAL }   // RENAME_WHITEOUT: overlay filesystems only
        let (oldPath, oldStart) = try t.pathArgument(od, op)
        let (newPath, newStart) = try t.pathArgument(nd, np)
        try t.kernel.vfs.rename(oldPath, from: oldStart, to: newPath, from: newStart, flags: flags, t)
        return 0
    }

    static func link(_ t: Task, _ a: SyscallArguments) throws(Errno) -> Int64 {
        try linkAt(t, AtFlags.AT_FDCWD, a.address(0), AtFlags.AT_FDCWD, a.address(1), 0)
    }
    static func linkat(_ t: Task, _ a: SyscallArguments) throws(Errno) -> Int64 {
        try linkAt(t, a.int32(0), a.address(1), a.int32(2), a.address(3), a[4])
    }
    private static func linkAt(_ t: Task, _ od: Int32, _ op: GuestAddress, _ nd: Int32, _ np: GuestAddress, _ flags: UInt64) throws(Errno) -> Int64 {
        guard flags & ~(AtFlags.AT_SYMLINK_FOLLOW | AtFlags.AT_EMPTY_PATH) == 0 else { throw .EINVAL }
        // do_linkat: naming a file by its descriptor alone takes CAP_DAC_READ_SEARCH
        // (others go through /proc/self/fd/N with AT_SYMLINK_FOLLOW).
        if flags & AtFlags.AT_EMPTY_PATH != 0, !(t.credentials?.capable(Credentials.CAP_DAC_READ_SEARCH) ?? true) { throw .ENOENT }
        let (oldPath, oldStart) = try t.pathArgument(od, op, emptyPathAllowed: flags & AtFlags.AT_EMPTY_PATH != 0)
        let old = oldPath.isEmpty ? try t.emptyPathLocation(od)
            : try t.kernel.vfs.resolve(oldPath, from: oldStart, followLast: flags & AtFlags.AT_SYMLINK_FOLLOW != 0, t)
        let (newPath, newStart) = try t.pathArgument(nd, np)
        try t.kernel.vfs.link(old, to: newPath, from: newStart, t)
        return 0
    }

    static func symlink(_ t: Task, _ a: SyscallArguments) throws(Errno) -> Int64 { try symlinkAt(t, a.address(0), AtFlags.AT_FDCWD, a.address(1)) }
    static func symlinkat(_ t: Task, _ a: SyscallArguments) throws(Errno) -> Int64 { try symlinkAt(t, a.address(0), a.int32(1), a.address(2)) }
    private static func symlinkAt(_ t: Task, _ target: GuestAddress, _ dirfd: Int32, _ p: GuestAddress) throws(Errno) -> Int64 {
        let text = String(rawBytes: try t.mm.readCString(target, max: Int(PATH_MAX)))
        let (path, start) = try t.pathArgument(dirfd, p)
        try t.kernel.vfs.symlink(text, at: path, from: start, t)
        return 0
    }

    // MARK: Attributes

    /// The place a *at() attribute call names (an fd for the f* forms).
    private static func place(_ t: Task, _ dirfd: Int32, _ p: GuestAddress?, follow: Bool, emptyPath: Bool = false) throws(Errno) -> Location {
        guard let p else {
            guard let l = try t.fds.get(FileDescriptor(dirfd)).location else { throw .EBADF }
            return l
        }
        let (path, start) = try t.pathArgument(dirfd, p, emptyPathAllowed: emptyPath)
        if path.isEmpty { return try t.emptyPathLocation(dirfd) }
        return try t.kernel.vfs.resolve(path, from: start, followLast: follow, t)
    }

    private static func chmodAt(_ t: Task, _ l: Location, _ mode: UInt32) throws(Errno) -> Int64 {
        var attrs = InodeAttributes(); attrs.mode = mode & 0o7777
        try t.kernel.vfs.setAttributes(l, attrs, .mode, t)
        return 0
    }
    static func chmod(_ t: Task, _ a: SyscallArguments) throws(Errno) -> Int64 {
        try chmodAt(t, place(t, AtFlags.AT_FDCWD, a.address(0), follow: true), a.uint32(1))
    }
    static func fchmod(_ t: Task, _ a: SyscallArguments) throws(Errno) -> Int64 {
        try chmodAt(t, place(t, a.int32(0), nil, follow: true), a.uint32(1))
    }
    /// Linux 6.1's fchmodat takes three arguments: whatever is in the
    /// fourth register is not a flags word (glibc's AT_SYMLINK_NOFOLLOW
    /// emulation never reaches the kernel).
    static func fchmodat(_ t: Task, _ a: SyscallArguments) throws(Errno) -> Int64 {
        try chmodAt(t, place(t, a.int32(0), a.address(1), follow: true), a.uint32(2))
    }

    private static func chownAt(_ t: Task, _ l: Location, _ uid: UInt32, _ gid: UInt32) throws(Errno) -> Int64 {
        var attrs = InodeAttributes()
        if uid != UInt32.max { attrs.uid = uid }
        if gid != UInt32.max { attrs.gid = gid }
        if attrs.uid == nil && attrs.gid == nil { _ = try l.inode.stat(); return 0 }
        try t.kernel.vfs.setAttributes(l, attrs, .owner, t)
        return 0
    }
    static func chown(_ t: Task, _ a: SyscallArguments) throws(Errno) -> Int64 {
        try chownAt(t, place(t, AtFlags.AT_FDCWD, a.address(0), follow: true), a.uint32(1), a.uint32(2))
    }
    static func lchown(_ t: Task, _ a: SyscallArguments) throws(Errno) -> Int64 {
        try chownAt(t, place(t, AtFlags.AT_FDCWD, a.address(0), follow: false), a.uint32(1), a.uint32(2))
    }
    static func fchown(_ t: Task, _ a: SyscallArguments) throws(Errno) -> Int64 {
        try chownAt(t, place(t, a.int32(0), nil, follow: true), a.uint32(1), a.uint32(2))
    }
    static func fchownat(_ t: Task, _ a: SyscallArguments) throws(Errno) -> Int64 {
        let flags = a[4]
        guard flags & ~(AtFlags.AT_SYMLINK_NOFOLLOW | AtFlags.AT_EMPTY_PATH) == 0 else { throw .EINVAL }
        return try chownAt(t, place(t, a.int32(0), a.address(1), follow: flags & AtFlags.AT_SYMLINK_NOFOLLOW == 0,
                                    emptyPath: flags & AtFlags.AT_EMPTY_PATH != 0), a.uint32(2), a.uint32(3))
    }

    /// utimensat: a NULL path means the fd itself; UTIME_NOW and UTIME_OMIT as Linux reads them.
    static func utimensat(_ t: Task, _ a: SyscallArguments) throws(Errno) -> Int64 {
        let flags = a[3]
        guard flags & ~(AtFlags.AT_SYMLINK_NOFOLLOW | AtFlags.AT_EMPTY_PATH) == 0 else { throw .EINVAL }
        var times: (timespec, timespec)?
        if !a.address(2).isNull {
            let ts = try t.mm.read(a.address(2), as: (timespec, timespec).self)
            for v in [ts.0, ts.1] where v.tv_nsec != InodeAttributes.UTIME_NOW && v.tv_nsec != InodeAttributes.UTIME_OMIT && !(0..<1_000_000_000).contains(v.tv_nsec) {
                throw .EINVAL
            }
            times = ts
        }
        let l = try place(t, a.int32(0), a.address(1).isNull ? nil : a.address(1), follow: flags & AtFlags.AT_SYMLINK_NOFOLLOW == 0,
                          emptyPath: flags & AtFlags.AT_EMPTY_PATH != 0)
        try setTimes(t, l, times)
        return 0
    }

    static func utimes(_ t: Task, _ a: SyscallArguments) throws(Errno) -> Int64 {
        try futimesAt(t, AtFlags.AT_FDCWD, a.address(0), a.address(1))
    }
    static func futimesat(_ t: Task, _ a: SyscallArguments) throws(Errno) -> Int64 {
        try futimesAt(t, a.int32(0), a.address(1), a.address(2))
    }
    private static func futimesAt(_ t: Task, _ dirfd: Int32, _ p: GuestAddress, _ tv: GuestAddress) throws(Errno) -> Int64 {
        var times: (timespec, timespec)?
        if !tv.isNull {
            let v = try t.mm.read(tv, as: (timeval, timeval).self)
            for x in [v.0, v.1] where !(0..<1_000_000).contains(x.tv_usec) { throw .EINVAL }
            times = (timespec(tv_sec: v.0.tv_sec, tv_nsec: v.0.tv_usec * 1000), timespec(tv_sec: v.1.tv_sec, tv_nsec: v.1.tv_usec * 1000))
        }
        try setTimes(t, place(t, dirfd, p, follow: true), times)
        return 0
    }
    static func utime(_ t: Task, _ a: SyscallArguments) throws(Errno) -> Int64 {
        var times: (timespec, timespec)?
        if !a.address(1).isNull {
            let v = try t.mm.read(a.address(1), as: (Int64, Int64).self)
            times = (timespec(tv_sec: Int(v.0), tv_nsec: 0), timespec(tv_sec: Int(v.1), tv_nsec: 0))
        }
        try setTimes(t, place(t, AtFlags.AT_FDCWD, a.address(0), follow: true), times)
        return 0
    }

    private static func setTimes(_ t: Task, _ l: Location, _ times: (timespec, timespec)?) throws(Errno) {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        var attrs = InodeAttributes()
        let (at, mt) = times ?? (now, now)
        if at.tv_nsec != InodeAttributes.UTIME_OMIT { attrs.atime = at.tv_nsec == InodeAttributes.UTIME_NOW ? now : at }
        if mt.tv_nsec != InodeAttributes.UTIME_OMIT { attrs.mtime = mt.tv_nsec == InodeAttributes.UTIME_NOW ? now : mt }
        if attrs.atime == nil && attrs.mtime == nil { return }
        // vfs_utimes: both UTIME_NOW is the same as no times.
        let explicit = times.map { !($0.0.tv_nsec == InodeAttributes.UTIME_NOW && $0.1.tv_nsec == InodeAttributes.UTIME_NOW) } ?? false
        try t.kernel.vfs.setAttributes(l, attrs, .times(explicit: explicit), t)
    }

    static func truncate(_ t: Task, _ a: SyscallArguments) throws(Errno) -> Int64 {
        guard a.int(1) >= 0 else { throw .EINVAL }
        let l = try place(t, AtFlags.AT_FDCWD, a.address(0), follow: true)
        var attrs = InodeAttributes(); attrs.size = a.int(1)
        try t.kernel.vfs.setAttributes(l, attrs, .size, t)
        if let st = try? l.inode.stat() { t.kernel.fileMayHaveShrunk(st, by: t) }
        return 0
    }

    static func statfs(_ t: Task, _ a: SyscallArguments) throws(Errno) -> Int64 {
        try t.mm.write(a.address(1), t.kernel.vfs.statfs(place(t, AtFlags.AT_FDCWD, a.address(0), follow: true)))
        return 0
    }
    static func fstatfs(_ t: Task, _ a: SyscallArguments) throws(Errno) -> Int64 {
        let f = try t.fds.get(a.fd(0))
        guard let l = f.location else {
            let pipe = (try? f.stat()).map { $0.st_mode & S_IFMT == S_IFIFO } ?? false
            try t.mm.write(a.address(1), syntheticPipeStatfs(pipe ? 0x50495045 : 0x0904_1934))
            return 0
        }
        try t.mm.write(a.address(1), t.kernel.vfs.statfs(l))
        return 0
    }
    /// The internal filesystems of descriptors with no path: pipefs
    /// (PIPEFS_MAGIC) for pipes, anon_inodefs (ANON_INODE_FS_MAGIC) for
    /// eventfd, epoll and the like; ST_VALID as every statfs says.
    private static func syntheticPipeStatfs(_ magic: Int) -> sw_statfs {
        var s = sw_statfs()
        s.f_type = magic
        s.f_bsize = 4096; s.f_frsize = 4096; s.f_namelen = 255
        s.f_flags = 0x20   // ST_VALID
        return s
    }

    /// File handles would let a guest name files without a path walk: not offered.
    static func nameToHandleAt(_ t: Task, _ a: SyscallArguments) throws(Errno) -> Int64 {
        let (path, start) = try t.pathArgument(a.int32(0), a.address(1), emptyPathAllowed: a[4] & AtFlags.AT_EMPTY_PATH != 0)
        if !path.isEmpty { _ = try t.kernel.vfs.resolve(path, from: start, followLast: a[4] & AtFlags.AT_SYMLINK_FOLLOW != 0, t) }
        throw .EOPNOTSUPP
    }
}
