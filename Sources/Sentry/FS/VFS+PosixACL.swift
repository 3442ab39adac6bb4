import Glibc

/// POSIX ACLs at the VFS: the xattr handlers (posix_acl_xattr_get/set,
/// set_posix_acl, simple_set_acl's posix_acl_update_mode) and inheritance
/// at creation (posix_acl_create). Permission checks read the access ACL
/// in mayAccess; chmod rewrites it in the filesystem (posix_acl_chmod).
extension VFS {
    /// getxattr of system.posix_acl_*: EOPNOTSUPP for a symlink or a
    /// filesystem without ACLs, ENODATA if the file has none.
    public func posixACLValue(_ inode: Inode, _ kind: PosixACL.Kind) throws(Errno) -> [UInt8] {
        guard inode.posixACLs, inode.kind != .symlink else { throw .EOPNOTSUPP }
        guard let acl = inode.posixACL(kind) else { throw .ENODATA }
        return acl.bytes
    }

    /// setxattr (an empty value: removexattr) of system.posix_acl_*:
    /// parsed and, after the owner check, validated; a default ACL only on
    /// a directory (EACCES; removing one elsewhere succeeds); an access ACL
    /// the mode can say alone is not kept, and its bits become the mode's,
    /// S_ISGID dropped for a caller outside the file's group without CAP_FSETID.
    public func setPosixACL(_ inode: Inode, _ kind: PosixACL.Kind, value: [UInt8], _ c: Credentials?) throws(Errno) {
        // A symlink's inode operations have no set_acl.
        guard inode.posixACLs, inode.kind != .symlink else { throw .EOPNOTSUPP }
        var acl = try PosixACL.parse(value)
        let st = try inode.stat()
        let own = InodeOwnership(st)
        if kind == .default && !own.isDirectory {
            if acl != nil { throw .EACCES }
            return
        }
        if let c, !Permission.isOwnerOrCapable(own, c) { throw .EPERM }
        try acl?.validate()
        var mode: UInt32?
        if kind == .access {
            var m = own.mode & 0o7777
            if let a = acl {
                let (bits, equivalent) = a.equivalentMode(m)
                m = bits
                if equivalent { acl = nil }
            }
            if let c, !Permission.inGroupOrCapable(own.gid, c) { m &= ~S_ISGID }
            mode = m
        }
        try inode.setPosixACL(kind, acl, mode: mode)
    }

    /// posix_acl_create: a directory's default ACL, if it has one, instead
    /// of the umask: the new file's mode is cut by it, the new file gets it
    /// (cut by the mode) as its access ACL when the mode cannot say it
    /// alone, and a new directory inherits it as its own default.
    func inheritedACLs(_ dir: Location, mode: inout UInt32, umask: UInt32, isDirectory: Bool) -> (access: PosixACL?, default: PosixACL?) {
        guard dir.inode.posixACLs, var acl = dir.inode.posixACL(.default) else {
            mode &= ~umask
            return (nil, nil)
        }
        if dir.inode.inheritsPosixACLs { return (nil, nil) }
        let inherited = acl
        let needed = acl.createMasq(&mode)
        return (needed ? acl : nil, isDirectory ? inherited : nil)
    }

    /// Gives the node just made as `name` in `dir` what inheritedACLs chose.
    func applyInheritedACLs(_ acls: (access: PosixACL?, default: PosixACL?), _ dir: Location, _ name: String, _ ctx: WalkContext) {
        guard acls.access != nil || acls.default != nil, let node = try? dir.inode.lookup(name, ctx) else { return }
        applyInheritedACLs(acls, to: node)
    }

    func applyInheritedACLs(_ acls: (access: PosixACL?, default: PosixACL?), to node: Inode) {
        guard node.posixACLs else { return }
        if let a = acls.access { try? node.setPosixACL(.access, a, mode: nil) }
        if let d = acls.default { try? node.setPosixACL(.default, d, mode: nil) }
    }
}
