import CSwitch
import Glibc
import Synchronization

/// A host directory mounted into the guest (the root, or a --bind).
///
/// The sentry walks it one component at a time; each step is one openat2
/// beneath the current directory with RESOLVE_BENEATH, RESOLVE_NO_SYMLINKS,
/// RESOLVE_NO_MAGICLINKS and RESOLVE_NO_XDEV, so the host kernel never
/// follows a link for the guest and never crosses into another host mount.
/// Symlinks and `..` are the sentry's walk's to resolve, inside the guest view.
public final class HostFS: Sendable {
    public let hostPath: String
    let rootFD: Int32
    /// The host filesystem keeps POSIX ACLs (IS_POSIXACL of its superblock):
    /// every file of the mount is on it, since the walk never crosses a host mount.
    let posixACLs: Bool
    /// Ownership the guest set where the host refused (not root on the host): by (dev, ino).
    let owners = Mutex<[HostFS.Key: (uid: UInt32, gid: UInt32)]>([:])
    struct Key: Hashable { var dev: UInt64; var ino: UInt64 }
    /// One inode object (one O_PATH descriptor) per host file in use, however
    /// many walks, open files and cwds hold it: the sentry's descriptors are
    /// bounded by the files in use, not by the walks made.
    private final class Weak { weak var inode: HostInode?; init(_ i: HostInode) { inode = i } }
    private struct Cache {
        var live: [Key: Weak] = [:]
        /// The files walked through last, kept open: a walk that finds one
        /// by statx needs no open of its own.
        var recent: [HostInode] = []
        var next = 0
    }
    private let cache = Mutex(Cache())
    static let recentFiles = 256

    /// The live inode of (dev, ino), if one is.
    func cached(_ key: Key) -> HostInode? { cache.withLock { $0.live[key]?.inode } }

    /// statx's identity of a file: the same key fstat's st_dev gives.
    static func key(_ x: CSwitch.statx) -> Key {
        let major = UInt64(x.stx_dev_major), minor = UInt64(x.stx_dev_minor)
        let dev = (major & 0xfffff000) << 32 | (major & 0xfff) << 8 | (minor & 0xffffff00) << 12 | (minor & 0xff)
        return Key(dev: dev, ino: x.stx_ino)
    }

    /// `path` must be a directory unless `allowFile`: a host file bound over
    /// one guest name (an OCI bundle's /etc/hosts) is a mount of its own.
    public init(path: String, allowFile: Bool = false) throws(Errno) {
        let fd = Glibc.open(path.hostCString, SW_O_PATH | (allowFile ? 0 : O_DIRECTORY) | O_CLOEXEC)
        if fd < 0 { throw Errno(errno) }
        rootFD = fd
        // ENODATA (no ACL) or a value: the host answers for ACLs; EOPNOTSUPP: it has none.
        posixACLs = sw_getxattr("/proc/self/fd/\(fd)", PosixACL.accessName, nil, 0) != -Int(EOPNOTSUPP)
        var buf = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        hostPath = realpath(path.hostCString, &buf) != nil ? String(rawBytes: buf.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }) : path
    }

    deinit { close(rootFD) }

    public func rootInode() throws(Errno) -> HostInode {
        let fd = fcntl(rootFD, F_DUPFD_CLOEXEC, 0)
        if fd < 0 { throw Errno(errno) }
        return try inode(adopting: fd, foreignMount: false)
    }

    /// The inode for a descriptor just opened: the live one for the same file if
    /// there is one (the new descriptor is closed), else a new one owning it.
    /// One statx gives the type, the identity and the mount.
    func inode(adopting fd: Int32, foreignMount: Bool) throws(Errno) -> HostInode {
        var x = CSwitch.statx()
        let r = sw_statx(fd, "", SW_AT_EMPTY_PATH, 0x1 /* STATX_TYPE */ | 0x100 /* STATX_INO */ | 0x1000 /* STATX_MNT_ID */, &x)
        if r < 0 { close(fd); throw Errno(Int32(-r)) }
        let key = Self.key(x)
        let mountID = x.stx_mask & 0x1000 != 0 ? x.stx_mnt_id : UInt64.max
        return cache.withLock { c in
            if !foreignMount, let existing = c.live[key]?.inode, !existing.foreignMount {
                close(fd)
                return existing
            }
            let fresh = HostInode(fs: self, fd: fd, kind: FileKind(mode: UInt32(x.stx_mode)), mountID: mountID, foreignMount: foreignMount)
            if !foreignMount {
                c.live[key] = Weak(fresh)
                if c.live.count > 4096 { c.live = c.live.filter { $0.value.inode != nil } }
                if c.recent.count < Self.recentFiles { c.recent.append(fresh) } else { c.recent[c.next] = fresh }
                c.next = (c.next + 1) % Self.recentFiles
            }
            return fresh
        }
    }

    static let resolve: UInt64 = 0x08 /* BENEATH */ | 0x04 /* NO_SYMLINKS */ | 0x02 /* NO_MAGICLINKS */ | 0x01 /* NO_XDEV */

    /// The sentry's own umask (never changed after start; read from
    /// /proc, since umask(2) to read it would change it for other threads).
    static let sentryUmask: UInt32 = {
        let fd = Glibc.open("/proc/self/status", O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return 0o022 }
        defer { close(fd) }
        var buf = [UInt8](repeating: 0, count: 4096)
        let n = read(fd, &buf, buf.count)
        guard n > 0 else { return 0o022 }
        for line in buf[0..<n].split(separator: UInt8(ascii: "\n")) where line.starts(with: Array("Umask:".utf8)) {
            let digits = line.dropFirst(6).filter { (0x30...0x37).contains($0) }
            return UInt32(String(decoding: digits, as: UTF8.self), radix: 8) ?? 0o022
        }
        return 0o022
    }()
}

/// A file of a host mount, held by an O_PATH descriptor.
/// Sendable: only `let`s (the O_PATH fd and what was learnt when it was opened).
public final class HostInode: Inode, @unchecked Sendable {
    let fs: HostFS
    public let fd: Int32
    let cachedKind: FileKind
    /// A host mount point met under this mount: shown as the empty directory
    /// it covers, since the guest may not cross into it.
    let foreignMount: Bool

    /// Takes ownership of `fd`; made only by HostFS.inode(adopting:).
    fileprivate init(fs: HostFS, fd: Int32, kind: FileKind, mountID: UInt64, foreignMount: Bool) {
        self.fs = fs; self.fd = fd; self.cachedKind = kind; self.mountID = mountID; self.foreignMount = foreignMount
        super.init()
    }
    /// The host mount the file is on (statx's mount id).
    let mountID: UInt64

    deinit { close(fd) }

    /// The sentry's own name for the descriptor, for calls that take no O_PATH fd.
    var procPath: String { "/proc/self/fd/\(fd)" }

    public override var kind: FileKind { cachedKind }

    public override func stat() throws(Errno) -> Glibc.stat {
        var st = Glibc.stat()
        if fstat(fd, &st) != 0 { throw Errno(errno) }
        if let o = fs.owners.withLock({ $0[HostFS.Key(dev: UInt64(st.st_dev), ino: UInt64(st.st_ino))] }) {
            st.st_uid = o.uid; st.st_gid = o.gid
        }
        return st
    }

    public override func statx(mask: UInt32) throws(Errno) -> CSwitch.statx {
        var x = CSwitch.statx()
        let r = sw_statx(fd, "", SW_AT_EMPTY_PATH | SW_AT_SYMLINK_NOFOLLOW, mask, &x)
        if r < 0 { throw Errno(Int32(-r)) }
        if let o = fs.owners.withLock({ $0[HostFS.key(x)] }) {
            x.stx_uid = o.uid; x.stx_gid = o.gid
        }
        return x
    }

    public override func statfs() throws(Errno) -> sw_statfs {
        var s = sw_statfs()
        if fstatfs(fd, &s) != 0 { throw Errno(errno) }
        return s
    }

    // Extended attributes: what the host says, through the descriptor's /proc name.

    public override func getxattr(_ name: String) throws(Errno) -> [UInt8] {
        let n = sw_getxattr(procPath, name.hostCString, nil, 0)
        if n < 0 { throw Errno(Int32(-n)) }
        var buf = [UInt8](repeating: 0, count: n)
        let m = buf.withUnsafeMutableBytes { sw_getxattr(procPath, name.hostCString, $0.baseAddress, UInt(n)) }
        if m < 0 { throw Errno(Int32(-m)) }
        return Array(buf.prefix(m))
    }

    public override func listxattr(trusted: Bool) throws(Errno) -> [String] {
        let n = sw_listxattr(procPath, nil, 0)
        if n < 0 { throw Errno(Int32(-n)) }
        var buf = [CChar](repeating: 0, count: n)
        let m = sw_listxattr(procPath, &buf, UInt(n))
        if m < 0 { throw Errno(Int32(-m)) }
        return buf.prefix(m).split(separator: 0).map { String(rawBytes: $0.map { UInt8(bitPattern: $0) }) }
    }

    public override func setxattr(_ name: String, _ value: [UInt8], flags: Int32) throws(Errno) {
        let r = value.withUnsafeBytes { sw_setxattr(procPath, name.hostCString, $0.baseAddress, UInt(value.count), flags) }
        if r < 0 { throw Errno(Int32(-r)) }
    }

    public override func removexattr(_ name: String) throws(Errno) {
        let r = sw_removexattr(procPath, name.hostCString)
        if r < 0 { throw Errno(Int32(-r)) }
    }

    // POSIX ACLs: the host's system.posix_acl_* values, judged and checked
    // by the sentry's VFS for the guest, as a filesystem's get_acl and set_acl.

    public override var posixACLs: Bool { fs.posixACLs && !foreignMount }

    /// The host's ACL; nil if it has none or cannot be read as one.
    public override func posixACL(_ kind: PosixACL.Kind) -> PosixACL? {
        guard let value = try? getxattr(kind == .access ? PosixACL.accessName : PosixACL.defaultName) else { return nil }
        return (try? PosixACL.parse(value)) ?? nil
    }

    /// The host sets the ACL (and, for an access ACL, the mode it implies);
    /// then the mode the guest's rules chose, which may differ in S_ISGID.
    public override func setPosixACL(_ kind: PosixACL.Kind, _ acl: PosixACL?, mode: UInt32?) throws(Errno) {
        let name = kind == .access ? PosixACL.accessName : PosixACL.defaultName
        if let acl {
            try setxattr(name, acl.bytes, flags: 0)
        } else {
            do { try removexattr(name) } catch .ENODATA {}
        }
        if let mode { try check(chmod(procPath, mode & 0o7777)) }
    }

    /// The host's posix_acl_create gives a file made beneath a default ACL
    /// its ACL and mode, from the mode asked for (no umask).
    public override var inheritsPosixACLs: Bool { true }

    public override func lookup(_ name: String, _ ctx: WalkContext) throws(Errno) -> Inode { try child(name) }

    /// The child called `name`: the host answers for this one name, beneath this directory.
    func child(_ name: String) throws(Errno) -> HostInode {
        guard cachedKind == .directory else { throw .ENOTDIR }
        if foreignMount { throw .ENOENT }
        // One statx finds an inode already open; on the same host mount only
        // (a mount point answers with another mount id: the slow path below
        // shows it as the directory it covers).
        var x = CSwitch.statx()
        let found = sw_statx(fd, name.hostCString, SW_AT_SYMLINK_NOFOLLOW | 0x800 /* AT_NO_AUTOMOUNT */, 0x1000 /* STATX_MNT_ID */, &x)
        if found < 0 { throw Errno(Int32(-found)) }
        if x.stx_mask & 0x1000 != 0, x.stx_mnt_id == mountID, let hit = fs.cached(HostFS.key(x)) { return hit }
        let r = sw_openat2(fd, name.hostCString, UInt64(SW_O_PATH | O_NOFOLLOW | O_CLOEXEC), 0, HostFS.resolve)
        if r == -Int(EXDEV) {
            // A host mount point: the guest sees the directory, not what is mounted on it.
            let r2 = sw_openat2(fd, ".", UInt64(SW_O_PATH | O_CLOEXEC), 0, HostFS.resolve)
            return try fs.inode(adopting: Int32(try Errno.check(r2)), foreignMount: true)
        }
        return try fs.inode(adopting: Int32(try Errno.check(r)), foreignMount: false)
    }

    public override func entries(_ ctx: WalkContext) throws(Errno) -> [DirEntry] {
        if foreignMount { return [] }
        throw .EOPNOTSUPP   // host directories are read with getdents on an open description
    }

    public override func readlink(_ ctx: WalkContext) throws(Errno) -> String { try linkTarget() }

    func linkTarget() throws(Errno) -> String {
        guard cachedKind == .symlink else { throw .EINVAL }
        var buf = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let n = readlinkat(fd, "", &buf, Int(PATH_MAX))
        if n < 0 { throw Errno(errno) }
        return String(rawBytes: buf[0..<n].map { UInt8(bitPattern: $0) })
    }

    public override func open(_ flags: OpenFlags, at location: Location, _ ctx: WalkContext) throws(Errno) -> FileDescription {
        if flags.contains(.path) {
            let dup = fcntl(fd, F_DUPFD_CLOEXEC, 0)
            if dup < 0 { throw Errno(errno) }
            return HostFile(fd: dup, flags: flags, location: location)
        }
        switch cachedKind {
        case .character, .block: throw .EACCES   // host devices are never the guest's
        case .socket: throw .ENXIO
        case .directory where foreignMount:
            return SyntheticDirectory(location: location, entries: [], flags: flags)
        default: break
        }
        let host = flags.rawValue & (OpenFlags.accessMode | OpenFlags.nonBlock.rawValue | OpenFlags.directory.rawValue
                                     | OpenFlags.noATime.rawValue | OpenFlags.largeFile.rawValue | OpenFlags.append.rawValue
                                     | OpenFlags.truncate.rawValue | OpenFlags.dsync.rawValue | OpenFlags.sync.rawValue)
        if cachedKind == .fifo { return try openFIFO(flags, host: host, at: location) }
        let r = Glibc.open(procPath, host | O_CLOEXEC | O_NOCTTY)
        if r < 0 { throw Errno(errno) }
        return HostFile(fd: r, flags: OpenFlags(rawValue: flags.rawValue & ~OpenFlags.closeOnExec.rawValue), location: location)
    }

    // MARK: Directory operations: the host does them, beneath this directory.

    private func check(_ r: Int32) throws(Errno) { if r < 0 { throw Errno(errno) } }
    private func checkName(_ name: String) throws(Errno) {
        guard cachedKind == .directory else { throw .ENOTDIR }
        if foreignMount { throw .EXDEV }
        guard !name.utf8.contains(UInt8(ascii: "/")) else { throw .EINVAL }
    }

    public override func create(_ name: String, mode: UInt32, flags: OpenFlags, in dir: Location, _ ctx: WalkContext) throws(Errno) -> FileDescription {
        try checkName(name)
        let host = flags.rawValue & (OpenFlags.accessMode | OpenFlags.nonBlock.rawValue | OpenFlags.append.rawValue
                                     | OpenFlags.largeFile.rawValue | OpenFlags.dsync.rawValue | OpenFlags.sync.rawValue)
        let r = openat(fd, name.hostCString, host | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY, mode)
        try check(r)
        let node = try lookup(name, ctx)
        (node as? HostInode)?.undoSentryUmask(mode, madeIn: self)
        return HostFile(fd: r, flags: OpenFlags(rawValue: flags.rawValue & ~OpenFlags.closeOnExec.rawValue),
                        location: dir.child(name, node))
    }

    public override func mkdir(_ name: String, mode: UInt32) throws(Errno) {
        try checkName(name); try check(mkdirat(fd, name.hostCString, mode))
        (try? child(name))?.undoSentryUmask(mode, madeIn: self)
    }

    public override func mknod(_ name: String, mode: UInt32) throws(Errno) {
        try checkName(name); try check(mknodat(fd, name.hostCString, mode, 0))
        (try? child(name))?.undoSentryUmask(mode, madeIn: self)
    }

    /// The host took the sentry's umask off the mode of a file just made in
    /// `dir` unless the directory has a default ACL; the VFS already applied
    /// the guest's umask, the only one Linux would, so the bits go back.
    func undoSentryUmask(_ mode: UInt32, madeIn dir: HostInode) {
        guard mode & 0o777 & HostFS.sentryUmask != 0, dir.posixACL(.default) == nil,
              let st = try? stat(), st.st_mode & 0o777 == mode & 0o777 & ~HostFS.sentryUmask else { return }
        _ = chmod(procPath, (st.st_mode & 0o7000) | (mode & 0o777))
    }

    public override func symlink(_ name: String, target: String) throws(Errno) {
        try checkName(name); try check(symlinkat(target.hostCString, fd, name.hostCString))
    }

    public override func link(_ name: String, to target: Inode) throws(Errno) {
        try checkName(name)
        guard let t = target as? HostInode, t.fs === fs else { throw .EXDEV }
        // Through the sentry's /proc link: linkat(AT_EMPTY_PATH) would need CAP_DAC_READ_SEARCH.
        try check(linkat(AT_FDCWD, t.procPath, fd, name.hostCString, AT_SYMLINK_FOLLOW))
    }

    public override func unlink(_ name: String, directory: Bool) throws(Errno) {
        try checkName(name); try check(unlinkat(fd, name.hostCString, directory ? AT_REMOVEDIR : 0))
    }

    public override func rename(_ name: String, to newDir: Inode, _ newName: String, flags: UInt32) throws(Errno) {
        try checkName(name)
        guard let nd = newDir as? HostInode, nd.fs === fs else { throw .EXDEV }
        try nd.checkName(newName)
        _ = try Errno.check(sw_renameat2(fd, name.hostCString, nd.fd, newName.hostCString, flags))
    }

    public override func setAttributes(_ a: InodeAttributes) throws(Errno) {
        if cachedKind == .symlink && (a.mode != nil || a.size != nil) { throw .EOPNOTSUPP }
        if let m = a.mode { try check(chmod(procPath, m & 0o7777)) }
        if a.uid != nil || a.gid != nil {
            let uid = a.uid.map { uid_t($0) } ?? uid_t.max, gid = a.gid.map { gid_t($0) } ?? gid_t.max
            if fchownat(fd, "", uid, gid, SW_AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) != 0 {
                guard errno == EPERM else { throw Errno(errno) }
                // Not root on the host: the sentry keeps the guest's answer.
                let st = try stat()
                fs.owners.withLock {
                    $0[HostFS.Key(dev: UInt64(st.st_dev), ino: UInt64(st.st_ino))] = (a.uid ?? st.st_uid, a.gid ?? st.st_gid)
                }
            }
        }
        if let size = a.size {
            guard cachedKind != .directory else { throw .EISDIR }
            try check(truncate(procPath, off_t(size)))
        }
        if a.atime != nil || a.mtime != nil {
            var times = [a.atime ?? timespec(tv_sec: 0, tv_nsec: InodeAttributes.UTIME_OMIT), a.mtime ?? timespec(tv_sec: 0, tv_nsec: InodeAttributes.UTIME_OMIT)]
            if cachedKind == .symlink {
                try check(utimensat(fd, "", &times, SW_AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW))
            } else {
                try check(utimensat(AT_FDCWD, procPath, &times, 0))
            }
        }
    }
}
