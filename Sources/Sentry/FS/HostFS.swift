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
    /// Ownership the guest set where the host refused (not root on the host): by (dev, ino).
    let owners = Mutex<[HostFS.Key: (uid: UInt32, gid: UInt32)]>([:])
    struct Key: Hashable { var dev: UInt64; var ino: UInt64 }
    /// One inode object (one O_PATH descriptor) per host file in use, however
    /// many walks, open files and cwds hold it: the sentry's descriptors are
    /// bounded by the files in use, not by the walks made.
    private final class Weak { weak var inode: HostInode?; init(_ i: HostInode) { inode = i } }
    private let live = Mutex<[Key: Weak]>([:])

    public init(path: String) throws(Errno) {
        let fd = Glibc.open(path, SW_O_PATH | O_DIRECTORY | O_CLOEXEC)
        if fd < 0 { throw Errno(errno) }
        rootFD = fd
        var buf = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        hostPath = realpath(path, &buf) != nil ? String(cString: buf) : path
    }

    deinit { close(rootFD) }

    public func rootInode() throws(Errno) -> HostInode {
        let fd = fcntl(rootFD, F_DUPFD_CLOEXEC, 0)
        if fd < 0 { throw Errno(errno) }
        return try inode(adopting: fd, foreignMount: false)
    }

    /// The inode for a descriptor just opened: the live one for the same file if
    /// there is one (the new descriptor is closed), else a new one owning it.
    func inode(adopting fd: Int32, foreignMount: Bool) throws(Errno) -> HostInode {
        var st = Glibc.stat()
        if fstat(fd, &st) != 0 { let e = errno; close(fd); throw Errno(e) }
        let key = Key(dev: UInt64(st.st_dev), ino: UInt64(st.st_ino))
        return live.withLock { live in
            if !foreignMount, let existing = live[key]?.inode, !existing.foreignMount {
                close(fd)
                return existing
            }
            let fresh = HostInode(fs: self, fd: fd, kind: FileKind(mode: st.st_mode), foreignMount: foreignMount)
            if !foreignMount {
                live[key] = Weak(fresh)
                if live.count > 4096 { live = live.filter { $0.value.inode != nil } }
            }
            return fresh
        }
    }

    static let resolve: UInt64 = 0x08 /* BENEATH */ | 0x04 /* NO_SYMLINKS */ | 0x02 /* NO_MAGICLINKS */ | 0x01 /* NO_XDEV */
}

/// A file of a host mount, held by an O_PATH descriptor.
public final class HostInode: Inode, @unchecked Sendable {
    let fs: HostFS
    public let fd: Int32
    let cachedKind: FileKind
    /// A host mount point met under this mount: shown as the empty directory
    /// it covers, since the guest may not cross into it.
    let foreignMount: Bool

    /// Takes ownership of `fd`; made only by HostFS.inode(adopting:).
    fileprivate init(fs: HostFS, fd: Int32, kind: FileKind, foreignMount: Bool) {
        self.fs = fs; self.fd = fd; self.cachedKind = kind; self.foreignMount = foreignMount
        super.init()
    }

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
        if let o = fs.owners.withLock({ $0[HostFS.Key(dev: UInt64(x.stx_dev_major) << 32 | UInt64(x.stx_dev_minor), ino: x.stx_ino)] }) {
            x.stx_uid = o.uid; x.stx_gid = o.gid
        }
        return x
    }

    public override func statfs() throws(Errno) -> sw_statfs {
        var s = sw_statfs()
        if fstatfs(fd, &s) != 0 { throw Errno(errno) }
        return s
    }

    public override func lookup(_ name: String, _ ctx: WalkContext) throws(Errno) -> Inode {
        guard cachedKind == .directory else { throw .ENOTDIR }
        if foreignMount { throw .ENOENT }
        let r = sw_openat2(fd, name, UInt64(SW_O_PATH | O_NOFOLLOW | O_CLOEXEC), 0, HostFS.resolve)
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

    public override func readlink(_ ctx: WalkContext) throws(Errno) -> String {
        guard cachedKind == .symlink else { throw .EINVAL }
        var buf = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let n = readlinkat(fd, "", &buf, Int(PATH_MAX))
        if n < 0 { throw Errno(errno) }
        return String(decoding: buf[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
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
        var host = flags.rawValue & (OpenFlags.accessMode | OpenFlags.nonBlock.rawValue | OpenFlags.directory.rawValue
                                     | OpenFlags.noATime.rawValue | OpenFlags.largeFile.rawValue | OpenFlags.append.rawValue
                                     | OpenFlags.truncate.rawValue | OpenFlags.dsync.rawValue | OpenFlags.sync.rawValue)
        if cachedKind == .fifo && flags.rawValue & OpenFlags.accessMode != 0 { host |= O_NONBLOCK }  // a host FIFO open must not hang the sentry
        let r = Glibc.open(procPath, host | O_CLOEXEC | O_NOCTTY)
        if r < 0 { throw Errno(errno) }
        return HostFile(fd: r, flags: OpenFlags(rawValue: flags.rawValue & ~OpenFlags.closeOnExec.rawValue), location: location)
    }

    // MARK: Directory operations: the host does them, beneath this directory.

    private func check(_ r: Int32) throws(Errno) { if r < 0 { throw Errno(errno) } }
    private func checkName(_ name: String) throws(Errno) {
        guard cachedKind == .directory else { throw .ENOTDIR }
        if foreignMount { throw .EXDEV }
        guard !name.contains("/") else { throw .EINVAL }
    }

    public override func create(_ name: String, mode: UInt32, flags: OpenFlags, in dir: Location, _ ctx: WalkContext) throws(Errno) -> FileDescription {
        try checkName(name)
        let host = flags.rawValue & (OpenFlags.accessMode | OpenFlags.nonBlock.rawValue | OpenFlags.append.rawValue
                                     | OpenFlags.largeFile.rawValue | OpenFlags.dsync.rawValue | OpenFlags.sync.rawValue)
        let r = openat(fd, name, host | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY, mode)
        try check(r)
        let node = try lookup(name, ctx)
        return HostFile(fd: r, flags: OpenFlags(rawValue: flags.rawValue & ~OpenFlags.closeOnExec.rawValue),
                        location: Location(mount: dir.mount, inode: node, name: name, parent: dir))
    }

    public override func mkdir(_ name: String, mode: UInt32) throws(Errno) {
        try checkName(name); try check(mkdirat(fd, name, mode))
    }

    public override func mknod(_ name: String, mode: UInt32) throws(Errno) {
        try checkName(name); try check(mknodat(fd, name, mode, 0))
    }

    public override func symlink(_ name: String, target: String) throws(Errno) {
        try checkName(name); try check(symlinkat(target, fd, name))
    }

    public override func link(_ name: String, to target: Inode) throws(Errno) {
        try checkName(name)
        guard let t = target as? HostInode, t.fs === fs else { throw .EXDEV }
        // Through the sentry's /proc link: linkat(AT_EMPTY_PATH) would need CAP_DAC_READ_SEARCH.
        try check(linkat(AT_FDCWD, t.procPath, fd, name, AT_SYMLINK_FOLLOW))
    }

    public override func unlink(_ name: String, directory: Bool) throws(Errno) {
        try checkName(name); try check(unlinkat(fd, name, directory ? AT_REMOVEDIR : 0))
    }

    public override func rename(_ name: String, to newDir: Inode, _ newName: String, flags: UInt32) throws(Errno) {
        try checkName(name)
        guard let nd = newDir as? HostInode, nd.fs === fs else { throw .EXDEV }
        try nd.checkName(newName)
        _ = try Errno.check(sw_renameat2(fd, name, nd.fd, newName, flags))
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

    public override func access(_ mode: Int32) throws(Errno) {
        guard mode & 7 != 0 else { return }
        _ = try Errno.check(sw_faccessat2(fd, "", mode & 7, SW_AT_EMPTY_PATH))
    }
}
