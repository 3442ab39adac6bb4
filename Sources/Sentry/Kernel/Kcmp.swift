import Glibc

/// kcmp(2): whether two tasks share a kernel object, and an order between
/// objects that says nothing of where they live (kernel/kcmp.c).
public enum KcmpType: Int32, Sendable {
    case file = 0, vm, files, fs, sighand, io, sysvsem, epollTFD
}

/// The per-type cookies kcmp obfuscates object identities with, drawn once
/// per sentry as Linux draws them once per boot.
private let kcmpCookies: [(UInt64, UInt64)] = (0..<8).map { _ in
    // The multiplier is odd, so distinct values stay distinct.
    (UInt64.random(in: 0...UInt64.max), UInt64.random(in: 0...UInt64.max) | 1)
}

extension Task {
    /// __ptrace_may_access with PTRACE_MODE_READ_REALCREDS (kcmp's, and
    /// /proc's for other processes' private files): the same process, or the
    /// caller's real ids are all of the target's ids and the target is
    /// dumpable and holds no capability the caller lacks, or CAP_SYS_PTRACE;
    /// then the LSMs' hook: Landlock's scope, which no capability passes.
    public func mayInspect(_ target: Task) -> Bool {
        if target.group === group { return true }
        let mine = attributes.withLock { $0.credentials }
        let theirs = target.attributes.withLock { $0.credentials }
        guard LandlockDomain.scopes(mine.landlock, theirs.landlock) else { return false }
        if mine.capable(Credentials.CAP_SYS_PTRACE) { return true }
        let ids = [theirs.uid, theirs.euid, theirs.suid].allSatisfy { $0 == mine.uid }
            && [theirs.gid, theirs.egid, theirs.sgid].allSatisfy { $0 == mine.gid }
        guard ids, kernel.locked({ target.group.dumpable }) else { return false }
        return theirs.permitted & ~mine.permitted == 0
    }

    /// kcmp(pid1, pid2, type, idx1, idx2): 0 when the objects are one, 1 or 2
    /// for an order (the same for the same pair while both live).
    public func kcmp(_ t1: Task, _ t2: Task, type rawType: Int32, _ idx1: UInt64, _ idx2: UInt64) throws(Errno) -> Int64 {
        guard mayInspect(t1), mayInspect(t2) else { throw .EPERM }
        guard let type = KcmpType(rawValue: rawType) else { throw .EINVAL }
        let a: AnyObject?, b: AnyObject?
        switch type {
        case .file:
            a = Self.fileObject(t1, idx1); b = Self.fileObject(t2, idx2)
            guard a != nil, b != nil else { throw .EBADF }
        case .vm: a = t1.mm; b = t2.mm
        case .files: a = t1.fds; b = t2.fds
        case .fs: a = t1.fs; b = t2.fs
        case .sighand: (a, b) = kernel.locked { (t1.group.handlers, t2.group.handlers) }
        // Every task has its own I/O context unless made with CLONE_IO.
        case .io: a = t1.ioContext; b = t2.ioContext
        case .sysvsem:
            // The SEM_UNDO list: a process's own (its threads share it), none
            // (NULL, so equal to another none) until it first asks for one.
            let (u1, u2) = kernel.ipc.locked { (kernel.ipc.undo[t1.pid] != nil, kernel.ipc.undo[t2.pid] != nil) }
            a = u1 ? t1.group : nil; b = u2 ? t2.group : nil
        case .epollTFD:
            guard let target = Self.fileObject(t1, idx1) else { throw .EBADF }
            // struct kcmp_epoll_slot { __u32 efd, tfd, toff; } in the caller's memory.
            let slot = try mm.read(GuestAddress(idx2), as: (UInt32, UInt32, UInt32).self)
            guard let ep = Self.fileObject(t2, UInt64(slot.0)) else { throw .EBADF }
            guard let epoll = ep as? EpollFile else { throw .EINVAL }
            guard let watched = epoll.watchedFile(fd: Int32(bitPattern: slot.1), nth: slot.2) else { throw .ENOENT }
            a = target; b = watched
        }
        return Self.order(a, b, type == .epollTFD ? .file : type)
    }

    private static func fileObject(_ t: Task, _ fd: UInt64) -> FileDescription? {
        guard fd <= UInt64(Int32.max) else { return nil }
        return t.fds.entry(FileDescriptor(Int32(fd)))?.file
    }

    /// kcmp_ptr: equal, or an order of the obfuscated identities.
    private static func order(_ a: AnyObject?, _ b: AnyObject?, _ type: KcmpType) -> Int64 {
        func key(_ o: AnyObject?) -> UInt64 {
            let raw = o.map { UInt64(UInt(bitPattern: ObjectIdentifier($0))) } ?? 0
            let c = kcmpCookies[Int(type.rawValue)]
            return (raw ^ c.0) &* c.1
        }
        let x = key(a), y = key(b)
        return x == y ? 0 : x < y ? 1 : 2
    }
}
