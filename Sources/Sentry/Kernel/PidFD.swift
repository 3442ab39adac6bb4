import Glibc

/// A pidfd (pidfd_open, CLONE_PIDFD): a handle on one process that stays
/// that process, whatever pid numbers are reused. Readable (POLLIN) once
/// every thread of it has exited, as 6.1's pidfd_poll says.
/// Sendable: only `let`s; the group is read under the kernel lock.
public final class PidFD: FileDescription, @unchecked Sendable {
    let group: ThreadGroup
    unowned let kernel: Kernel

    init(_ group: ThreadGroup, kernel: Kernel, flags: OpenFlags) {
        self.group = group
        self.kernel = kernel
        super.init(flags: OpenFlags.readWrite.union(flags))
    }

    public var pid: Int32 { group.pid }
    public override var displayPath: String { "anon_inode:[pidfd]" }
    public override var waitQueue: WaitQueue? { group.groupEvents }

    public override func readiness(_ mask: Int16) -> Int16 {
        kernel.locked { group.tasks.isEmpty } ? mask & Int16(POLLIN | POLLRDNORM) : 0
    }

    public override func stat() throws(Errno) -> Glibc.stat { Self.anonymousInodeStat }
}

extension Task {
    /// pidfd_open(2): a thread-group leader's pid (6.1 has no PIDFD_THREAD).
    public func pidfdOpen(pid: Int32, flags: UInt32) throws(Errno) -> FileDescriptor {
        guard flags & ~UInt32(O_NONBLOCK) == 0, pid > 0 else { throw .EINVAL }
        let g: ThreadGroup = try kernel.locked { () throws(Errno) -> ThreadGroup in
            if let g = kernel.groups[pid], !g.tasks.isEmpty || g.zombie { return g }
            if kernel.tasks[pid] != nil { throw .EINVAL }   // a thread, not a process
            throw .ESRCH
        }
        return try pidfd(g, flags: OpenFlags(rawValue: Int32(bitPattern: flags)))
    }

    /// A new pidfd for `g` in this task's table (always close-on-exec).
    func pidfd(_ g: ThreadGroup, flags: OpenFlags = []) throws(Errno) -> FileDescriptor {
        try fds.install(PidFD(g, kernel: kernel, flags: flags), closeOnExec: true)
    }

    /// The process a pidfd argument names: EBADF for no such fd and for a file that is no pidfd.
    public func process(ofPidFD fd: Int32) throws(Errno) -> PidFD {
        guard let p = try fds.get(FileDescriptor(fd)) as? PidFD else { throw .EBADF }
        return p
    }

    /// pidfd_send_signal also takes an fd of a /proc/PID directory
    /// (tgid_pidfd_to_pid): the process that directory shows.
    public func process(ofPidFDOrProcDirectory fd: Int32) throws(Errno) -> PidFD {
        let f = try fds.get(FileDescriptor(fd))
        if let p = f as? PidFD { return p }
        guard let l = f.location, l.mount.type == "proc", l.inode.kind == .directory,
              let parent = l.parent, parent.mount === l.mount, parent.path == l.mount.path,
              let pid = Int32(l.name), String(pid) == l.name else { throw .EBADF }
        return try kernel.locked { () throws(Errno) -> PidFD in
            guard let g = kernel.groups[pid] else { throw .ESRCH }
            return PidFD(g, kernel: kernel, flags: [])
        }
    }

    /// pidfd_send_signal(2): as kill(2) to that very process; ESRCH once it has exited.
    public func pidfdSendSignal(_ p: PidFD, _ info: SignalInfo) throws(Errno) {
        guard info.signo >= 0, info.signo <= 64 else { throw .EINVAL }
        try kernel.locked { () throws(Errno) in
            guard !p.group.zombie, p.group.exitStatus == nil, !p.group.tasks.isEmpty else { throw .ESRCH }
            if info.signo != 0 { kernel.sendLocked(info, to: p.group) }
        }
    }

    /// pidfd_getfd(2): a duplicate of another process's fd, close-on-exec.
    public func pidfdGetFD(_ p: PidFD, _ target: Int32) throws(Errno) -> FileDescriptor {
        let table: FDTable = try kernel.locked { () throws(Errno) -> FDTable in
            guard let t = p.group.tasks.first else { throw .ESRCH }
            return t.fds
        }
        return try fds.install(try table.get(FileDescriptor(target)), closeOnExec: true)
    }

    /// waitid(P_PIDFD): the process is waited for as P_PID of its pid, if it is this process's child.
    public func childPID(ofPidFD fd: Int32) throws(Errno) -> Int32 {
        let p = try process(ofPidFD: fd)
        return try kernel.locked { () throws(Errno) -> Int32 in
            guard group.children.contains(where: { $0 === p.group }) else { throw .ECHILD }
            return p.group.pid
        }
    }
}
