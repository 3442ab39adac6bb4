import Glibc
import Sentry

/// inotify_init, inotify_init1, inotify_add_watch, inotify_rm_watch
/// (fs/notify/inotify/inotify_user.c). The events come from the VFS's
/// fsnotify hooks (FSNotify); the instance is an InotifyFile.
enum Inotify {
    static func inotifyInit(_ t: Task, _ a: SyscallArguments) throws(Errno) -> Int64 {
        try make(t, flags: 0)
    }

    static func inotifyInit1(_ t: Task, _ a: SyscallArguments) throws(Errno) -> Int64 {
        try make(t, flags: a.int32(0))
    }

    /// IN_CLOEXEC and IN_NONBLOCK are O_CLOEXEC and O_NONBLOCK; any other bit is EINVAL.
    private static func make(_ t: Task, flags: Int32) throws(Errno) -> Int64 {
        let cloexec = OpenFlags.closeOnExec.rawValue, nonBlock = OpenFlags.nonBlock.rawValue
        guard flags & ~(cloexec | nonBlock) == 0 else { throw .EINVAL }
        let owner = t.attributes.withLock { $0.credentials.euid }
        let file = try InotifyFile.make(t.kernel.vfs.notify, owner: owner, nonBlocking: flags & nonBlock != 0)
        return Int64(try t.fds.install(file, closeOnExec: flags & cloexec != 0).rawValue)
    }

    /// The instance `fd` names: EBADF if none, EINVAL if not an inotify one.
    private static func instance(_ t: Task, _ fd: FileDescriptor) throws(Errno) -> InotifyFile {
        guard let f = try t.fds.get(fd) as? InotifyFile else { throw .EINVAL }
        return f
    }

    static func inotifyAddWatch(_ t: Task, _ a: SyscallArguments) throws(Errno) -> Int64 {
        let mask = a.uint32(2)
        typealias F = InotifyFile.Flag
        // Bits inotify does not know, or none at all: EINVAL before the fd is looked at.
        guard mask & ~F.all == 0, mask != 0 else { throw .EINVAL }
        let file = try t.fds.get(a.fd(0))
        if mask & F.maskAdd != 0 && mask & F.maskCreate != 0 { throw .EINVAL }
        guard let inotify = file as? InotifyFile else { throw .EINVAL }
        let (path, start) = try t.pathArgument(AtFlags.AT_FDCWD, a.address(1))
        let loc = try t.kernel.vfs.resolve(path, from: start, followLast: mask & F.dontFollow == 0, t)
        if mask & F.onlyDir != 0 && loc.inode.kind != .directory { throw .ENOTDIR }   // LOOKUP_DIRECTORY
        try t.kernel.vfs.mayAccess(loc.inode, .read, t.credentials)   // a watch needs read permission on what it watches
        return Int64(try inotify.addWatch(at: loc, mask: mask))
    }

    static func inotifyRmWatch(_ t: Task, _ a: SyscallArguments) throws(Errno) -> Int64 {
        try instance(t, a.fd(0)).removeWatch(a.int32(1))
        return 0
    }
}
