import Glibc
import Sentry

/// The extended attribute calls (fs/xattr.c): the path, l- (no following of
/// the last symlink) and f- (a descriptor) forms of set/get/list/remove.
/// Host files answer what the host kernel says (writes only on rw binds);
/// tmpfs keeps them with the inode; /proc, /dev and pipes have none.
enum Xattr {
    static let XATTR_CREATE: UInt64 = 1, XATTR_REPLACE: UInt64 = 2
    static let nameMax = 255, sizeMax = 65536, listMax = 65536

    /// What a call works on: the inode, its mount's writability, and the file mode.
    struct Target {
        var inode: Inode?
        var readOnly: Bool
        var mode: UInt32
        var uid: UInt32
        var gid: UInt32
        /// Where it is, for fsnotify_xattr's IN_ATTRIB.
        var location: Location? = nil
    }

    private static func target(_ t: Task, _ a: SyscallArguments, form: Form) throws(Errno) -> Target {
        let l: Location
        switch form {
        case .path, .link:
            let (path, start) = try t.pathArgument(AtFlags.AT_FDCWD, a.address(0))
            l = try t.kernel.vfs.resolve(path, from: start, followLast: form == .path, t)
        case .fd:
            let f = try t.fds.get(a.fd(0))
            if f.flags.contains(.path) { throw .EBADF }
            guard let loc = f.location else {
                // A pipe, eventfd or the like: an inode with no xattr handlers.
                let st = try f.stat()
                return Target(inode: nil, readOnly: false, mode: st.st_mode, uid: st.st_uid, gid: st.st_gid)
            }
            l = loc
        }
        let st = try l.inode.stat()
        return Target(inode: l.inode, readOnly: l.mount.readOnly, mode: st.st_mode, uid: st.st_uid, gid: st.st_gid, location: l)
    }

    enum Form { case path, link, fd }

    /// strncpy_from_user into XATTR_NAME_MAX + 1 bytes: empty or too long is ERANGE.
    private static func name(_ t: Task, _ addr: GuestAddress) throws(Errno) -> String {
        let raw: [UInt8]
        do { raw = try t.mm.readCString(addr, max: nameMax + 1) } catch {
            throw error == .ENAMETOOLONG ? .ERANGE : error
        }
        guard !raw.isEmpty else { throw .ERANGE }
        return String(rawBytes: raw)
    }

    /// xattr_permission, the LSM's security.* rule (cap_inode_setxattr) and
    /// inode_permission, against the guest's credentials, on every
    /// filesystem: a host file's ownership is judged here too, since the
    /// sentry reaches it with its own rights.
    private static func permit(_ t: Task, _ x: Target, _ name: String, write: Bool) throws(Errno) {
        let c = Creds.creds(t)
        let owner = InodeOwnership(mode: x.mode, uid: x.uid, gid: x.gid)
        if name.hasPrefix("security.") || name.hasPrefix("system.") {
            if write && name.hasPrefix("security.") && name != "security.capability" && !c.capable(Credentials.CAP_SYS_ADMIN) { throw .EPERM }
            return
        }
        if name.hasPrefix("trusted.") {
            if !c.capable(Credentials.CAP_SYS_ADMIN) { throw write ? .EPERM : .ENODATA }
            return
        }
        if name.hasPrefix("user.") {
            let type = x.mode & S_IFMT
            guard type == S_IFREG || type == S_IFDIR else { throw write ? .EPERM : .ENODATA }
            if type == S_IFDIR && x.mode & S_ISVTX != 0 && write && !Permission.isOwnerOrCapable(owner, c) { throw .EPERM }
        }
        let acl = x.inode.flatMap { $0.posixACLs ? $0.posixACL(.access) : nil }
        if let e = Permission.check(owner, write ? .write : .read, c, acl: acl) { throw e }
    }

    // MARK: set

    static func setxattr(_ t: Task, _ a: SyscallArguments) throws(Errno) -> Int64 { try set(t, a, .path) }
    static func lsetxattr(_ t: Task, _ a: SyscallArguments) throws(Errno) -> Int64 { try set(t, a, .link) }
    static func fsetxattr(_ t: Task, _ a: SyscallArguments) throws(Errno) -> Int64 { try set(t, a, .fd) }

    private static func set(_ t: Task, _ a: SyscallArguments, _ form: Form) throws(Errno) -> Int64 {
        let x = try target(t, a, form: form)
        if x.readOnly { throw .EROFS }
        let flags = a[4]
        guard flags & ~(XATTR_CREATE | XATTR_REPLACE) == 0 else { throw .EINVAL }
        let n = try name(t, a.address(1))
        guard a[3] <= UInt64(sizeMax) else { throw .E2BIG }
        let value = a[3] == 0 ? [] : try t.mm.copyIn(a.address(2), Int(a[3]))
        try permit(t, x, n, write: true)
        guard let inode = x.inode else { throw .EOPNOTSUPP }
        if let kind = PosixACL.kind(ofXattr: n), inode.posixACLs {
            // The ACL handler ignores XATTR_CREATE/XATTR_REPLACE; an empty value removes.
            try t.kernel.vfs.setPosixACL(inode, kind, value: value, Creds.creds(t))
        } else {
            try inode.setxattr(n, value, flags: Int32(flags))
        }
        if let l = x.location { t.kernel.vfs.notify.changed(l, FSNotify.Mask.attrib) }   // fsnotify_xattr
        return 0
    }

    // MARK: get

    static func getxattr(_ t: Task, _ a: SyscallArguments) throws(Errno) -> Int64 { try get(t, a, .path) }
    static func lgetxattr(_ t: Task, _ a: SyscallArguments) throws(Errno) -> Int64 { try get(t, a, .link) }
    static func fgetxattr(_ t: Task, _ a: SyscallArguments) throws(Errno) -> Int64 { try get(t, a, .fd) }

    private static func get(_ t: Task, _ a: SyscallArguments, _ form: Form) throws(Errno) -> Int64 {
        let x = try target(t, a, form: form)
        let n = try name(t, a.address(1))
        try permit(t, x, n, write: false)
        guard let inode = x.inode else { throw .EOPNOTSUPP }
        let value: [UInt8]
        if let kind = PosixACL.kind(ofXattr: n), inode.posixACLs {
            value = try t.kernel.vfs.posixACLValue(inode, kind)
        } else {
            value = try inode.getxattr(n)
        }
        let size = min(a[3], UInt64(sizeMax))
        if size == 0 { return Int64(value.count) }
        guard UInt64(value.count) <= size else { throw .ERANGE }
        if !value.isEmpty { try t.mm.copyOut(a.address(2), value) }
        return Int64(value.count)
    }

    // MARK: list

    static func listxattr(_ t: Task, _ a: SyscallArguments) throws(Errno) -> Int64 { try list(t, a, .path) }
    static func llistxattr(_ t: Task, _ a: SyscallArguments) throws(Errno) -> Int64 { try list(t, a, .link) }
    static func flistxattr(_ t: Task, _ a: SyscallArguments) throws(Errno) -> Int64 { try list(t, a, .fd) }

    private static func list(_ t: Task, _ a: SyscallArguments, _ form: Form) throws(Errno) -> Int64 {
        let x = try target(t, a, form: form)
        let trusted = Creds.creds(t).capable(Credentials.CAP_SYS_ADMIN)
        let names = try x.inode?.listxattr(trusted: trusted) ?? []
        let bytes: [UInt8] = names.flatMap { $0.rawBytes + [UInt8(0)] }
        let size = min(a[2], UInt64(listMax))
        if size == 0 { return Int64(bytes.count) }
        guard UInt64(bytes.count) <= size else { throw .ERANGE }
        if !bytes.isEmpty { try t.mm.copyOut(a.address(1), bytes) }
        return Int64(bytes.count)
    }

    // MARK: remove

    static func removexattr(_ t: Task, _ a: SyscallArguments) throws(Errno) -> Int64 { try remove(t, a, .path) }
    static func lremovexattr(_ t: Task, _ a: SyscallArguments) throws(Errno) -> Int64 { try remove(t, a, .link) }
    static func fremovexattr(_ t: Task, _ a: SyscallArguments) throws(Errno) -> Int64 { try remove(t, a, .fd) }

    private static func remove(_ t: Task, _ a: SyscallArguments, _ form: Form) throws(Errno) -> Int64 {
        let x = try target(t, a, form: form)
        if x.readOnly { throw .EROFS }
        let n = try name(t, a.address(1))
        try permit(t, x, n, write: true)
        guard let inode = x.inode else { throw .EOPNOTSUPP }
        if let kind = PosixACL.kind(ofXattr: n), inode.posixACLs {
            try t.kernel.vfs.setPosixACL(inode, kind, value: [], Creds.creds(t))   // a NULL ACL
        } else {
            try inode.removexattr(n)
        }
        if let l = x.location { t.kernel.vfs.notify.changed(l, FSNotify.Mask.attrib) }   // fsnotify_xattr
        return 0
    }
}
