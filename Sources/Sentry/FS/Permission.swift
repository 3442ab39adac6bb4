import Glibc

/// Linux's MAY_* bits (include/linux/fs.h): what a permission check asks for.
public struct MayMask: OptionSet, Sendable {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }
    public static let exec = MayMask(rawValue: 0x01)
    public static let write = MayMask(rawValue: 0x02)
    public static let read = MayMask(rawValue: 0x04)
    public static let append = MayMask(rawValue: 0x08)
    public static let access = MayMask(rawValue: 0x10)
    public static let open = MayMask(rawValue: 0x20)
    public static let chdir = MayMask(rawValue: 0x40)
    /// The three bits the mode's classes answer.
    public static let rwx: MayMask = [.read, .write, .exec]
}

/// What discretionary access control reads of an inode: its type and
/// permission bits, owner and group, exactly as stat shows them to the guest.
public struct InodeOwnership: Sendable {
    public var mode: UInt32
    public var uid: UInt32
    public var gid: UInt32
    public init(mode: UInt32, uid: UInt32, gid: UInt32) { self.mode = mode; self.uid = uid; self.gid = gid }
    public init(_ st: Glibc.stat) { self.init(mode: st.st_mode, uid: st.st_uid, gid: st.st_gid) }
    public var isDirectory: Bool { mode & S_IFMT == S_IFDIR }
}

/// Linux 6.1's DAC rules (fs/namei.c, fs/attr.c) against a task's
/// filesystem credentials, in one place: every filesystem of the sandbox
/// (tmpfs, the overlay, host mounts, /proc, /dev) is judged by them from
/// the ownership its stat shows. Host files are opened with the sentry's
/// own rights, so the sentry must refuse before it opens.
public enum Permission {
    /// generic_permission: acl_permission_check (the owner's bits for the
    /// owner; else an access ACL decides if the file has one and group
    /// bits; else the group's bits for a member of the group, the others'
    /// otherwise); then CAP_DAC_READ_SEARCH reads anything and searches any
    /// directory, CAP_DAC_OVERRIDE does the rest except executing a file
    /// with no execute bit at all.
    public static func check(_ a: InodeOwnership, _ mask: MayMask, _ c: Credentials, acl: PosixACL? = nil) -> Errno? {
        let want = mask.intersection(.rwx).rawValue
        if want == 0 { return nil }
        let denied: Bool
        if c.fsuid == a.uid {
            denied = want & ~((a.mode >> 6) & 7) != 0
        } else if let acl, a.mode & 0o070 != 0 {
            denied = acl.permission(a, want: UInt16(want), c) != nil
        } else {
            let bits = c.inGroup(a.gid) ? (a.mode >> 3) & 7 : a.mode & 7
            denied = want & ~bits != 0
        }
        return !denied || capabilitiesGrant(a, mask, c) ? nil : .EACCES
    }

    /// generic_permission's capability part: what CAP_DAC_READ_SEARCH and
    /// CAP_DAC_OVERRIDE grant whatever the mode and ACL say.
    static func capabilitiesGrant(_ a: InodeOwnership, _ mask: MayMask, _ c: Credentials) -> Bool {
        if a.isDirectory {
            if mask.contains(.write) == false && c.capable(Credentials.CAP_DAC_READ_SEARCH) { return true }
            return c.capable(Credentials.CAP_DAC_OVERRIDE)
        }
        if mask.intersection(.rwx) == .read && c.capable(Credentials.CAP_DAC_READ_SEARCH) { return true }
        return (!mask.contains(.exec) || a.mode & 0o111 != 0) && c.capable(Credentials.CAP_DAC_OVERRIDE)
    }

    /// Whether `check` can pass without looking at the inode: a
    /// directory search or read by a task with either DAC capability.
    static func searchNeedsNoInode(_ c: Credentials) -> Bool {
        c.capable(Credentials.CAP_DAC_READ_SEARCH) || c.capable(Credentials.CAP_DAC_OVERRIDE)
    }

    /// inode_owner_or_capable: the file's owner, or CAP_FOWNER.
    public static func isOwnerOrCapable(_ a: InodeOwnership, _ c: Credentials) -> Bool {
        c.fsuid == a.uid || c.capable(Credentials.CAP_FOWNER)
    }

    /// in_group_or_capable: may keep S_ISGID on a file of group `gid`.
    public static func inGroupOrCapable(_ gid: UInt32, _ c: Credentials) -> Bool {
        c.inGroup(gid) || c.capable(Credentials.CAP_FSETID)
    }

    /// check_sticky: in a sticky directory only the file's owner, the
    /// directory's owner or CAP_FOWNER may remove or rename a name.
    public static func stickyForbids(dir: InodeOwnership, victim: InodeOwnership, _ c: Credentials) -> Bool {
        guard dir.mode & S_ISVTX != 0 else { return false }
        return c.fsuid != victim.uid && c.fsuid != dir.uid && !c.capable(Credentials.CAP_FOWNER)
    }

    /// may_follow_link with fs.protected_symlinks=1: in a sticky
    /// world-writable directory only a link owned by the follower or by the
    /// directory's owner is followed; no capability overrides it (EACCES).
    public static func mayFollowLink(_ link: InodeOwnership, in dir: InodeOwnership, _ c: Credentials) -> Errno? {
        guard c.fsuid != link.uid else { return nil }
        guard dir.mode & (S_ISVTX | S_IWOTH) == S_ISVTX | S_IWOTH, dir.uid != link.uid else { return nil }
        return .EACCES
    }

    /// may_create_in_sticky: an O_CREAT open of an existing FIFO
    /// (protected_fifos) or regular file (protected_regular) in a sticky
    /// directory, owned neither by the opener nor by the directory's owner,
    /// is refused if the directory is world-writable, or at level 2 group-writable (EACCES).
    /// `fifos` and `regular`: the two sysctls' levels.
    public static func mayOpenCreatingInSticky(_ file: InodeOwnership, in dir: InodeOwnership, _ c: Credentials,
                                               fifos: Int, regular: Int) -> Errno? {
        let type = file.mode & S_IFMT
        let level = type == S_IFIFO ? fifos : type == S_IFREG ? regular : 0
        guard level != 0, dir.mode & S_ISVTX != 0, file.uid != dir.uid, file.uid != c.fsuid else { return nil }
        return dir.mode & 0o002 != 0 || (dir.mode & 0o020 != 0 && level >= 2) ? .EACCES : nil
    }

    /// may_linkat with fs.protected_hardlinks=1 (Debian's default): the
    /// owner (or CAP_FOWNER) links anything; others only a regular file
    /// that is not set-user-ID, not executable set-group-ID, and that they
    /// may both read and write.
    public static func mayHardlink(_ a: InodeOwnership, _ c: Credentials) -> Errno? {
        if isOwnerOrCapable(a, c) { return nil }
        let safe = a.mode & S_IFMT == S_IFREG && a.mode & S_ISUID == 0
            && a.mode & (S_ISGID | 0o010) != (S_ISGID | 0o010) && check(a, [.read, .write], c) == nil
        return safe ? nil : .EPERM
    }

    /// setattr_should_drop_suidgid, as file_remove_privs asks it before a
    /// write or truncate: the mode a regular file keeps when a task without
    /// CAP_FSETID changes it (no S_ISUID; no S_ISGID if group-executable
    /// or not the writer's group), nil if nothing goes.
    public static func modeAfterWrite(_ a: InodeOwnership, _ c: Credentials) -> UInt32? {
        guard a.mode & S_IFMT == S_IFREG, a.mode & (S_ISUID | S_ISGID) != 0, !c.capable(Credentials.CAP_FSETID) else { return nil }
        var mode = a.mode & 0o7777
        mode &= ~S_ISUID
        if a.mode & S_ISGID != 0 && (a.mode & 0o010 != 0 || !inGroupOrCapable(a.gid, c)) { mode &= ~S_ISGID }
        return mode == a.mode & 0o7777 ? nil : mode
    }

    /// The credentials access(2) and faccessat without AT_EACCESS judge
    /// by (access_override_creds): the real ids as filesystem ids, and
    /// the capabilities of root only when the real uid is root.
    public static func accessCredentials(_ c: Credentials) -> Credentials {
        var o = c
        o.fsuid = c.uid
        o.fsgid = c.gid
        o.effective = c.uid == 0 ? c.permitted : 0
        return o
    }

    /// setattr_prepare's checks and notify_change's set-id clearing, for a
    /// change `a` of a file with ownership `cur`; `touch` is utimes with
    /// no times (the current time; needs the owner or write permission),
    /// `explicitTimes` times given (needs the owner). Returns the change
    /// to make, S_ISUID/S_ISGID removed where Linux removes them.
    public static func setattr(_ a: InodeAttributes, of cur: InodeOwnership, touch: Bool, explicitTimes: Bool,
                               killSetID: Bool, _ c: Credentials, acl: PosixACL? = nil) throws(Errno) -> InodeAttributes {
        var a = a
        if touch && !isOwnerOrCapable(cur, c), let e = check(cur, .write, c, acl: acl) { throw e }
        // chown_common asks for the set-id bits to go on a non-directory
        // (ATTR_KILL_SUID, and ATTR_KILL_SGID by setattr_should_drop_sgid).
        if killSetID && !cur.isDirectory {
            var mode = cur.mode & 0o7777
            if cur.mode & S_ISUID != 0 { mode &= ~S_ISUID }
            if cur.mode & S_ISGID != 0 && (cur.mode & 0o010 != 0 || !inGroupOrCapable(cur.gid, c)) { mode &= ~S_ISGID }
            if mode != cur.mode & 0o7777 { a.mode = mode }
        }
        if let uid = a.uid, !((c.fsuid == cur.uid && uid == cur.uid) || c.capable(Credentials.CAP_CHOWN)) { throw .EPERM }
        if let gid = a.gid, !((c.fsuid == cur.uid && (gid == cur.gid || c.inGroup(gid))) || c.capable(Credentials.CAP_CHOWN)) {
            throw .EPERM
        }
        if var mode = a.mode {
            guard isOwnerOrCapable(cur, c) else { throw .EPERM }
            if !inGroupOrCapable(a.gid ?? cur.gid, c) { mode &= ~S_ISGID }
            a.mode = mode
        }
        if explicitTimes && !isOwnerOrCapable(cur, c) { throw .EPERM }
        return a
    }
}

/// A walk judged by other credentials than its task's own: access(2)'s
/// real ids. Everything else is the task's.
final class OverriddenCredentials: WalkContext {
    let base: WalkContext
    let credentials: Credentials?
    init(_ base: WalkContext, _ credentials: Credentials) { self.base = base; self.credentials = credentials }
    var process: ProcessView? { base.process }
    var rootLocation: Location { base.rootLocation }
    var sandbox: SandboxView { base.sandbox }
}

extension VFS {
    /// inode_permission's DAC part for `inode`, as `c` (nil: the sandbox
    /// being built, which may do anything). A directory search or read by
    /// a task with a DAC capability needs no stat.
    public func mayAccess(_ inode: Inode, _ mask: MayMask, _ c: Credentials?) throws(Errno) {
        guard let c, !mask.intersection(.rwx).isEmpty else { return }
        if inode.kind == .directory && !mask.contains(.write) && Permission.searchNeedsNoInode(c) { return }
        if inode.kind == .directory && c.capable(Credentials.CAP_DAC_OVERRIDE) { return }
        let a = InodeOwnership(try inode.stat())
        // check_acl: only a non-owner's check of a file with group bits reads
        // the ACL, and only where the capabilities would not grant anyway (a host file's costs a getxattr).
        let acl = a.uid != c.fsuid && a.mode & 0o070 != 0 && !Permission.capabilitiesGrant(a, mask, c) && inode.posixACLs
            ? inode.posixACL(.access) : nil
        if let e = Permission.check(a, mask, c, acl: acl) { throw e }
    }

    /// file_remove_privs: a write or truncate by a task without
    /// CAP_FSETID takes the set-id bits off a regular file (notify_change
    /// with ATTR_FORCE: no permission asked).
    public func removePrivileges(_ loc: Location, _ c: Credentials?) {
        guard let c, !c.capable(Credentials.CAP_FSETID), loc.inode.kind == .regular, !loc.mount.readOnly,
              let st = try? loc.inode.stat(), let mode = Permission.modeAfterWrite(InodeOwnership(st), c) else { return }
        var a = InodeAttributes()
        a.mode = mode
        if (try? loc.inode.setAttributes(a)) != nil { notify.changed(loc, FSNotify.events(of: a)) }
    }

    /// may_follow_link (fs.protected_symlinks) for the link `link` found in `dir`.
    func mayFollowLink(_ link: Location, in dir: Location, _ c: Credentials) throws(Errno) {
        guard link.inode.kind == .symlink, sysctls.values.protectedSymlinks != 0 else { return }
        let d = InodeOwnership(try dir.inode.stat())
        guard d.mode & (S_ISVTX | S_IWOTH) == S_ISVTX | S_IWOTH else { return }
        if let e = Permission.mayFollowLink(InodeOwnership(try link.inode.stat()), in: d, c) { throw e }
    }

    /// may_create_in_sticky for an O_CREAT open of `file`, which exists in
    /// `dir` (a directory is EISDIR before this is asked).
    func mayOpenCreatingInSticky(_ file: Location, in dir: Location, _ c: Credentials?) throws(Errno) {
        guard let c, file.inode.kind == .regular || file.inode.kind == .fifo else { return }
        let d = InodeOwnership(try dir.inode.stat())
        guard d.mode & S_ISVTX != 0 else { return }
        let v = sysctls.values
        if let e = Permission.mayOpenCreatingInSticky(InodeOwnership(try file.inode.stat()), in: d, c,
                                                      fifos: v.protectedFIFOs, regular: v.protectedRegular) { throw e }
    }

    /// may_create: write and search permission on the directory.
    func mayCreate(in dir: Location, _ c: Credentials?) throws(Errno) {
        try mayAccess(dir.inode, [.write, .exec], c)
    }

    /// may_delete's permission part: write and search on the directory,
    /// then the sticky rule (EPERM).
    func mayDelete(_ victim: Location, from dir: Location, _ c: Credentials?) throws(Errno) {
        guard let c else { return }
        try mayAccess(dir.inode, [.write, .exec], c)
        if c.capable(Credentials.CAP_FOWNER) { return }
        let d = InodeOwnership(try dir.inode.stat())
        guard d.mode & S_ISVTX != 0 else { return }
        if Permission.stickyForbids(dir: d, victim: InodeOwnership(try victim.inode.stat()), c) { throw .EPERM }
    }
}
