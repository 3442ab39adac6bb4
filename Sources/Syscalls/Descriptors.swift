import CSwitch
import Glibc
import Sentry

/// open/openat, close, dup*, fcntl, ioctl: the fd table.
enum Descriptors {
    static func open(_ t: Task, _ a: SyscallArguments) throws(Errno) -> Int64 {
        try openAt(t, AtFlags.AT_FDCWD, a.address(0), a.int32(1), a.uint32(2))
    }

    static func openat(_ t: Task, _ a: SyscallArguments) throws(Errno) -> Int64 {
        try openAt(t, a.int32(0), a.address(1), a.int32(2), a.uint32(3))
    }

    static func openAt(_ t: Task, _ dirfd: Int32, _ pathAddr: GuestAddress, _ rawFlags: Int32, _ mode: UInt32) throws(Errno) -> Int64 {
        var flags = OpenFlags(rawValue: rawFlags)
        // O_PATH keeps only these (open(2)); O_TMPFILE needs write access.
        if flags.contains(.path) {
            flags = OpenFlags(rawValue: rawFlags & (OpenFlags.path.rawValue | OpenFlags.directory.rawValue | OpenFlags.noFollow.rawValue | OpenFlags.closeOnExec.rawValue))
        }
        try checkCreateFlags(flags)
        let (path, start) = try t.pathArgument(dirfd, pathAddr)
        let file = try t.kernel.vfs.open(path, from: start, flags: flags, mode: mode, t, umask: t.umask)
        try waitForFIFOPartner(t, file)
        if flags.contains(.truncate) && flags.writable { t.kernel.fileMayHaveShrunk(file, by: t) }
        return Int64(try t.fds.install(file, closeOnExec: flags.contains(.closeOnExec)).rawValue)
    }

    static func creat(_ t: Task, _ a: SyscallArguments) throws(Errno) -> Int64 {
        try openAt(t, AtFlags.AT_FDCWD, a.address(0), OpenFlags([.writeOnly, .create, .truncate]).rawValue, a.uint32(1))
    }

    /// A FIFO's blocking open sleeps until the other side is opened
    /// (wait_for_partner), interruptibly: a signal drops the end (its last
    /// reference is `file`) and the open restarts or fails with EINTR.
    static func waitForFIFOPartner(_ t: Task, _ file: FileDescription) throws(Errno) {
        guard let end = file as? PipeEnd, let wait = end.openWaitsFor else { return }
        _ = try t.block(on: [end.pipe.queue]) { wait.satisfied(end.pipe) }
    }

    /// build_open_flags' rules for every open: O_CREAT with O_DIRECTORY (and so
    /// with O_TMPFILE, which includes it) is EINVAL.
    static func checkCreateFlags(_ flags: OpenFlags) throws(Errno) {
        if flags.contains(.create) && flags.contains(.directory) { throw .EINVAL }
        // __O_TMPFILE comes with O_DIRECTORY (O_TMPFILE), and for writing.
        let tmpfileBit: Int32 = 0o20000000
        if flags.rawValue & tmpfileBit != 0 && (!flags.contains(.tmpFile) || !flags.writable) { throw .EINVAL }
    }

    /// openat2: open(2)'s flags, strictly checked, and RESOLVE_* for the walk.
    static func openat2(_ t: Task, _ a: SyscallArguments) throws(Errno) -> Int64 {
        let size = a.count(3)
        guard size >= 24 else { throw .EINVAL }
        guard size <= 4096 else { throw .E2BIG }
        let how = try t.mm.copyIn(a.address(2), size)
        if how[24...].contains(where: { $0 != 0 }) { throw .E2BIG }   // fields this kernel does not know
        let flags = how.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: 0, as: UInt64.self) }
        let mode = how.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: 8, as: UInt64.self) }
        let resolve = how.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: 16, as: UInt64.self) }
        guard flags >> 32 == 0, flags & ~UInt64(0o37777777) == 0 else { throw .EINVAL }
        guard resolve & ~0x3f == 0 else { throw .EINVAL }
        guard resolve & 0x18 != 0x18 else { throw .EINVAL }   // RESOLVE_BENEATH and RESOLVE_IN_ROOT exclude each other
        let f = OpenFlags(rawValue: Int32(flags))
        try checkCreateFlags(f)
        // openat2 does not strip what O_PATH ignores: it refuses it.
        let pathFlags = OpenFlags.path.rawValue | OpenFlags.directory.rawValue | OpenFlags.noFollow.rawValue | OpenFlags.closeOnExec.rawValue
        if f.contains(.path) && f.rawValue & ~pathFlags != 0 { throw .EINVAL }
        if !(f.contains(.create) || f.contains(.tmpFile)) && mode != 0 { throw .EINVAL }
        guard mode & ~0o7777 == 0 else { throw .EINVAL }
        if resolve & 0x20 != 0 { throw .EAGAIN }   // RESOLVE_CACHED: the sentry has no lookup cache to answer from
        let (path, start) = try t.pathArgument(a.int32(0), a.address(1))
        let file = try t.kernel.vfs.open(path, from: start, flags: f, mode: UInt32(mode), t,
                                         rules: ResolveRules(rawValue: resolve), umask: t.umask)
        try waitForFIFOPartner(t, file)
        if f.contains(.truncate) && f.writable { t.kernel.fileMayHaveShrunk(file, by: t) }
        return Int64(try t.fds.install(file, closeOnExec: f.contains(.closeOnExec)).rawValue)
    }

    static func close(_ t: Task, _ a: SyscallArguments) throws(Errno) -> Int64 {
        let f = try t.fds.get(a.fd(0))
        try t.fds.remove(a.fd(0))
        t.descriptorClosed(f)
        return 0
    }

    static func dup(_ t: Task, _ a: SyscallArguments) throws(Errno) -> Int64 {
        let f = try t.fds.get(a.fd(0))
        return Int64(try t.fds.install(f).rawValue)
    }

    static func dup2(_ t: Task, _ a: SyscallArguments) throws(Errno) -> Int64 {
        let f = try t.fds.get(a.fd(0))
        if a.int32(0) == a.int32(1) { return Int64(a.int32(1)) }
        if let replaced = try t.fds.install(f, at: a.fd(1), closeOnExec: false) { t.descriptorClosed(replaced) }
        return Int64(a.int32(1))
    }

    static func dup3(_ t: Task, _ a: SyscallArguments) throws(Errno) -> Int64 {
        let flags = a.int32(2)
        guard flags & ~OpenFlags.closeOnExec.rawValue == 0, a.int32(0) != a.int32(1) else { throw .EINVAL }
        let f = try t.fds.get(a.fd(0))
        if let replaced = try t.fds.install(f, at: a.fd(1), closeOnExec: flags != 0) { t.descriptorClosed(replaced) }
        return Int64(a.int32(1))
    }

    static func fcntl(_ t: Task, _ a: SyscallArguments) throws(Errno) -> Int64 {
        let fd = a.fd(0)
        let f = try t.fds.get(fd)
        switch a.int32(1) {
        case F_DUPFD, 1030 /* F_DUPFD_CLOEXEC */:
            let min = a.int32(2)
            guard min >= 0 else { throw .EINVAL }
            return Int64(try t.fds.install(f, closeOnExec: a.int32(1) == 1030, minimum: min).rawValue)
        case F_GETFD:
            return t.fds.entry(fd)?.closeOnExec == true ? 1 : 0
        case F_SETFD:
            try t.fds.setCloseOnExec(fd, a[2] & 1 != 0)
            return 0
        case F_GETFL:
            if let h = f.hostFD {
                let r = Glibc.fcntl(h, F_GETFL)
                if r >= 0 { return Int64(r & ~OpenFlags.closeOnExec.rawValue) }
            }
            return Int64(f.flags.rawValue | (f.reportsLargeFile ? OpenFlags.largeFile.rawValue : 0))
        case F_SETFL:
            let was = f.flags.contains(.async)
            try f.setStatusFlags(OpenFlags(rawValue: a.int32(2)))
            if f.flags.contains(.async) != was { f.setAsync(!was, fd: fd.rawValue) }
            return 0
        case F_GETLK, F_SETLK, F_SETLKW, 36, 37, 38:   // record locks, classic and OFD
            return try Locks.fcntlLock(t, f, cmd: a.int32(1), a.address(2))
        case 1032:   // F_GETPIPE_SZ
            guard let p = f as? PipeEnd else { throw .EBADF }
            return Int64(p.pipe.capacity)
        case 1031:   // F_SETPIPE_SZ
            guard let p = f as? PipeEnd else { throw .EBADF }
            let size = a[2] & 0xffff_ffff   // an unsigned int
            if size > UInt64(Pipe.maxUnprivileged) && !Creds.creds(t).capable(Credentials.CAP_SYS_RESOURCE) { throw .EPERM }
            guard size <= UInt64(Int32.max) else { throw .ENOMEM }
            return Int64(try p.pipe.resize(Int(size)))
        case 1026:   // F_NOTIFY: dnotify, the caller's process the owner
            try t.kernel.vfs.dnotify.fcntl(f, fd: fd.rawValue, table: t.fds, arg: a[2], owner: t.pid)
            return 0
        case 10:     // F_SETSIG: do_fcntl's int argument, checked by valid_signal; 0 is plain SIGIO again
            let sig = a.int32(2)
            guard sig >= 0, sig <= Signal.max else { throw .EINVAL }
            f.ownerSignal.store(sig, ordering: .relaxed)
            return 0
        case 11:     // F_GETSIG
            return Int64(f.ownerSignal.load(ordering: .relaxed))
        case 1033:   // F_ADD_SEALS
            try t.addSeals(f, a.uint32(2))
            return 0
        case 1034:   // F_GET_SEALS
            return Int64(try t.seals(of: f))
        case F_SETOWN:
            try t.setOwner(of: f, legacy: a.int32(2))
            return 0
        case F_GETOWN:
            return Int64(f.signalOwner?.legacyValue ?? 0)
        case 15:     // F_SETOWN_EX: struct f_owner_ex { int type; pid_t pid; }
            let raw = try t.mm.copyIn(a.address(2), 8)
            guard let kind = SignalOwner.Kind(rawValue: raw.load(Int32.self, at: 0)) else { throw .EINVAL }
            try t.setOwner(of: f, kind, raw.load(Int32.self, at: 4))
            return 0
        case 16:     // F_GETOWN_EX
            let o = f.signalOwner
            try t.mm.copyOut(a.address(2), withUnsafeBytes(of: (o?.kind.rawValue ?? 0, o?.id ?? 0)) { Array($0) })
            return 0
        case 1024, 1025:
            throw .ENOSYS  // leases: not in the sentry yet
        default:
            throw .EINVAL
        }
    }

    static func ioctl(_ t: Task, _ a: SyscallArguments) throws(Errno) -> Int64 {
        let fd = a.fd(0)
        let f = try t.fds.get(fd)
        switch a[1] & 0xffffffff {
        case Ioctl.FIOCLEX: try t.fds.setCloseOnExec(fd, true); return 0
        case Ioctl.FIONCLEX: try t.fds.setCloseOnExec(fd, false); return 0
        case Ioctl.FIONBIO:  // for every file (do_vfs_ioctl)
            let on = try t.mm.read(a.address(2), as: Int32.self)
            var fl = f.flags
            if on != 0 { fl.insert(.nonBlock) } else { fl.remove(.nonBlock) }
            try f.setStatusFlags(fl)
            return 0
        case 0x541B where f.location?.inode.kind == .regular:   // FIONREAD of a regular file: bytes after the position
            let st = try f.stat()
            let pos = try f.seek(0, whence: SEEK_CUR)
            try t.mm.write(a.address(2), Int32(truncatingIfNeeded: Int64(st.st_size) &- pos))
            return 0
        case 0x540F where f.hostFD != nil, 0x5410 where f.hostFD != nil:  // TIOCGPGRP, TIOCSPGRP on the host terminal: the guest's own foreground group
            guard let h = f.hostFD, isatty(h) == 1 else { throw .ENOTTY }
            if a[1] & 0xffffffff == 0x540F {
                try t.mm.write(a.address(2), t.foregroundProcessGroup)
            } else {
                let pg = try t.mm.read(a.address(2), as: Int32.self)
                guard pg > 0 else { throw .EINVAL }
                try t.setForegroundProcessGroup(pg)
            }
            return 0
        case Ioctl.FIOSETOWN where f.isSocket, Ioctl.SIOCSPGRP where f.isSocket:   // sock_ioctl: F_SETOWN's int
            try t.setOwner(of: f, legacy: t.mm.read(a.address(2), as: Int32.self))
            return 0
        case Ioctl.FIOGETOWN where f.isSocket, Ioctl.SIOCGPGRP where f.isSocket:
            try t.mm.write(a.address(2), f.signalOwner?.legacyValue ?? 0)
            return 0
        default: return try f.ioctl(a[1] & 0xffffffff, argument: a.address(2), mm: t.mm)
        }
    }
}
