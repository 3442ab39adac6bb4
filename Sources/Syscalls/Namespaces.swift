import Sentry

/// setns(2) (kernel/nsproxy.c). A sandbox has one namespace of each kind
/// and every task is in all of them (Kernel/Namespaces.swift), so the only
/// namespaces there are to join are the caller's own: Linux's checks decide
/// the errno, and a join that passes them changes nothing but, for the mount
/// namespace, the root and working directory (mntns_install sets both to
/// the namespace's root), which a mount namespace joined alone refuses
/// while another task shares the caller's root and cwd (CLONE_FS).
enum NamespaceCalls {
    static func setns(_ t: Task, _ a: SyscallArguments) throws(Errno) -> Int64 {
        let file = try t.fds.get(FileDescriptor(a.int32(0)))
        if file.flags.contains(.path) { throw .EBADF }   // fget() takes no O_PATH file
        var flags = UInt64(a.uint32(1))
        if let ns = file as? NamespaceFile {
            if flags != 0 && flags != ns.kind.type { throw .EINVAL }
            flags = ns.kind.type
        } else if let p = file as? PidFD {
            // check_setns_flags, then validate_nsset: the process must live.
            guard flags != 0, flags & ~Namespaces.all == 0 else { throw .EINVAL }
            guard p.hasLiveThread else { throw .ESRCH }
        } else {
            throw .EINVAL
        }
        let c = t.attributes.withLock { $0.credentials }
        // validate_nsset's order: the user namespace first, which is the
        // caller's own (userns_install: EINVAL), then mnt, uts, ipc, pid,
        // cgroup, net, each of which asks CAP_SYS_ADMIN (mnt also
        // CAP_SYS_CHROOT), and time last, whose install refuses a caller
        // that is not single-threaded (EUSERS) before it asks CAP_SYS_ADMIN.
        if flags & Namespaces.CLONE_NEWUSER != 0 { throw .EINVAL }
        if flags != Namespaces.CLONE_NEWTIME {
            guard c.capable(Credentials.CAP_SYS_ADMIN) else { throw .EPERM }
        }
        if flags & Namespaces.CLONE_NEWNS != 0 {
            guard c.capable(Credentials.CAP_SYS_CHROOT) else { throw .EPERM }
            // mntns_install: the fs_struct must be the caller's alone. Joined
            // alone (prepare_nsset), that is the caller's own, shared with
            // its CLONE_FS threads; with other namespaces, a private copy.
            if flags == Namespaces.CLONE_NEWNS, t.fsShared { throw .EINVAL }
        }
        if flags & Namespaces.CLONE_NEWTIME != 0 {
            guard t.singleThreaded else { throw .EUSERS }
            guard c.capable(Credentials.CAP_SYS_ADMIN) else { throw .EPERM }
        }
        // commit_nsset: only once every check passed.
        if flags & Namespaces.CLONE_NEWNS != 0 {
            let root = t.kernel.vfs.rootLocation
            t.fs.root = root
            t.fs.cwd = root
        }
        return 0
    }
}
