import CSwitch
import Glibc
import Sentry

/// The stat family, access and readlink: what a path or fd names, read-only.
enum Stat {
    static func fstat(_ t: Task, _ a: SyscallArguments) throws(Errno) -> Int64 {
        let st = try t.fds.get(a.fd(0)).stat()
        try t.mm.write(a.address(1), st)
        return 0
    }

    static func stat(_ t: Task, _ a: SyscallArguments) throws(Errno) -> Int64 {
        let (path, start) = try t.pathArgument(AtFlags.AT_FDCWD, a.address(0))
        try t.mm.write(a.address(1), t.kernel.vfs.stat(path, from: start, followLast: true, t))
        return 0
    }

    static func lstat(_ t: Task, _ a: SyscallArguments) throws(Errno) -> Int64 {
        let (path, start) = try t.pathArgument(AtFlags.AT_FDCWD, a.address(0))
        try t.mm.write(a.address(1), t.kernel.vfs.stat(path, from: start, followLast: false, t))
        return 0
    }

    static func newfstatat(_ t: Task, _ a: SyscallArguments) throws(Errno) -> Int64 {
        let flags = a[3]
        guard flags & ~(AtFlags.AT_SYMLINK_NOFOLLOW | AtFlags.AT_NO_AUTOMOUNT | AtFlags.AT_EMPTY_PATH) == 0 else { throw .EINVAL }
        let st = try statAt(t, a.int32(0), a.address(1), flags)
        try t.mm.write(a.address(2), st)
        return 0
    }

    private static func statAt(_ t: Task, _ dirfd: Int32, _ pathAddr: GuestAddress, _ flags: UInt64) throws(Errno) -> Glibc.stat {
        let raw = try t.mm.readCString(pathAddr, max: Int(PATH_MAX))
        if raw.isEmpty {
            guard flags & AtFlags.AT_EMPTY_PATH != 0 else { throw .ENOENT }
            if dirfd == AtFlags.AT_FDCWD { return try t.cwd.inode.stat() }
            return try t.fds.get(FileDescriptor(dirfd)).stat()
        }
        let (path, start) = try t.pathArgument(dirfd, pathAddr)
        return try t.kernel.vfs.stat(path, from: start, followLast: flags & AtFlags.AT_SYMLINK_NOFOLLOW == 0, t)
    }

    static func statx(_ t: Task, _ a: SyscallArguments) throws(Errno) -> Int64 {
        let dirfd = a.int32(0), flags = a[2], mask = a.uint32(3)
        guard flags & ~(AtFlags.AT_SYMLINK_NOFOLLOW | AtFlags.AT_NO_AUTOMOUNT | AtFlags.AT_EMPTY_PATH | AtFlags.AT_STATX_SYNC_TYPE) == 0,
              flags & AtFlags.AT_STATX_SYNC_TYPE != AtFlags.AT_STATX_SYNC_TYPE else { throw .EINVAL }
        guard mask & 0x8000_0000 == 0 else { throw .EINVAL }  // STATX__RESERVED
        let raw = try t.mm.readCString(a.address(1), max: Int(PATH_MAX))
        var x: CSwitch.statx
        if raw.isEmpty {
            guard flags & AtFlags.AT_EMPTY_PATH != 0 else { throw .ENOENT }
            if dirfd == AtFlags.AT_FDCWD {
                x = try t.cwd.inode.statx(mask: mask)
            } else {
                x = try t.fds.get(FileDescriptor(dirfd)).statx(mask: mask)
            }
        } else {
            let (path, start) = try t.pathArgument(dirfd, a.address(1))
            x = try t.kernel.vfs.statx(path, from: start, followLast: flags & AtFlags.AT_SYMLINK_NOFOLLOW == 0, mask: mask, t)
        }
        try t.mm.write(a.address(4), x)
        return 0
    }

    static func access(_ t: Task, _ a: SyscallArguments) throws(Errno) -> Int64 {
        try accessAt(t, AtFlags.AT_FDCWD, a.address(0), a.int32(1), 0)
    }

    static func faccessat(_ t: Task, _ a: SyscallArguments) throws(Errno) -> Int64 {
        try accessAt(t, a.int32(0), a.address(1), a.int32(2), 0)
    }

    static func faccessat2(_ t: Task, _ a: SyscallArguments) throws(Errno) -> Int64 {
        try accessAt(t, a.int32(0), a.address(1), a.int32(2), a[3])
    }

    private static func accessAt(_ t: Task, _ dirfd: Int32, _ pathAddr: GuestAddress, _ mode: Int32, _ flags: UInt64) throws(Errno) -> Int64 {
        guard mode & ~7 == 0, flags & ~(AtFlags.AT_SYMLINK_NOFOLLOW | AtFlags.AT_EACCESS | AtFlags.AT_EMPTY_PATH) == 0 else { throw .EINVAL }
        let (path, start) = try t.pathArgument(dirfd, pathAddr, emptyPathAllowed: flags & AtFlags.AT_EMPTY_PATH != 0)
        try t.kernel.vfs.access(path, from: path.isEmpty ? t.emptyPathLocation(dirfd) : start, mode: mode,
                                followLast: flags & AtFlags.AT_SYMLINK_NOFOLLOW == 0, effective: flags & AtFlags.AT_EACCESS != 0, t)
        return 0
    }

    static func readlink(_ t: Task, _ a: SyscallArguments) throws(Errno) -> Int64 {
        try readlinkAt(t, AtFlags.AT_FDCWD, a.address(0), a.address(1), a.int32(2))
    }

    static func readlinkat(_ t: Task, _ a: SyscallArguments) throws(Errno) -> Int64 {
        try readlinkAt(t, a.int32(0), a.address(1), a.address(2), a.int32(3))
    }

    private static func readlinkAt(_ t: Task, _ dirfd: Int32, _ pathAddr: GuestAddress, _ buf: GuestAddress, _ size: Int32) throws(Errno) -> Int64 {
        guard size > 0 else { throw .EINVAL }
        let (path, start) = try t.pathArgument(dirfd, pathAddr)
        let target = Array(try t.kernel.vfs.readlink(path, from: start, t).rawBytes.prefix(Int(size)))
        try t.mm.copyOut(buf, target)
        return Int64(target.count)
    }
}
