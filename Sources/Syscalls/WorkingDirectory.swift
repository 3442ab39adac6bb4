import Glibc
import Sentry

/// Where a task stands: getcwd, chdir, fchdir, chroot, and the umask its
/// new files get.
enum WorkingDirectory {
    static func getcwd(_ t: Task, _ a: SyscallArguments) throws(Errno) -> Int64 {
        if t.cwd.isDeleted { throw .ENOENT }   // the cwd was removed
        let bytes = t.cwd.path(relativeTo: t.rootLocation).rawBytes + [0]
        guard UInt64(bytes.count) <= a[1] else { throw .ERANGE }   // size is an unsigned long
        try t.mm.copyOut(a.address(0), bytes)
        return Int64(bytes.count)
    }

    static func chdir(_ t: Task, _ a: SyscallArguments) throws(Errno) -> Int64 {
        let (path, start) = try t.pathArgument(AtFlags.AT_FDCWD, a.address(0))
        t.cwd = try t.kernel.vfs.directory(path, from: start, t)
        return 0
    }

    static func fchdir(_ t: Task, _ a: SyscallArguments) throws(Errno) -> Int64 {
        let f = try t.fds.get(a.fd(0))
        guard let dir = f.location, dir.inode.kind == .directory else { throw .ENOTDIR }
        try t.kernel.vfs.mayAccess(dir.inode, [.exec, .chdir], t.credentials)
        t.cwd = dir
        return 0
    }

    /// chroot: the caller's root becomes a directory of its view. Like
    /// Linux, the cwd stays where it is.
    static func chroot(_ t: Task, _ a: SyscallArguments) throws(Errno) -> Int64 {
        let (path, start) = try t.pathArgument(AtFlags.AT_FDCWD, a.address(0))
        let dir = try t.kernel.vfs.directory(path, from: start, t)
        guard t.credentials?.capable(Credentials.CAP_SYS_CHROOT) ?? true else { throw .EPERM }
        t.fs.root = dir
        return 0
    }

    static func umask(_ t: Task, _ a: SyscallArguments) throws(Errno) -> Int64 {
        let old = t.umask
        t.umask = a.uint32(0) & 0o777
        return Int64(old)
    }
}
