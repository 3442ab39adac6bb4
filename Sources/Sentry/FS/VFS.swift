import CSwitch
import Glibc
import Synchronization

/// openat2's RESOLVE_* flags.
public struct ResolveRules: OptionSet, Sendable {
    public let rawValue: UInt64
    public init(rawValue: UInt64) { self.rawValue = rawValue }
    public static let noXDev = ResolveRules(rawValue: 0x01)
    public static let noMagicLinks = ResolveRules(rawValue: 0x02)
    public static let noSymlinks = ResolveRules(rawValue: 0x04)
    public static let beneath = ResolveRules(rawValue: 0x08)
    public static let inRoot = ResolveRules(rawValue: 0x10)
}

/// The guest's filesystem: a tree of mounts (the root, --bind directories,
/// tmpfs, the sentry's /proc and /dev) and the sentry's own path walk over
/// it. The walk resolves `.`, `..`, guest mount points and symlinks itself,
/// one component at a time; a host filesystem only ever answers for one
/// name inside one directory it holds (see HostFS).
public final class VFS: Sendable {
    public let mounts: MountTable
    public let locks = FileLocks()
    /// The fsnotify hooks: dnotify (fcntl F_NOTIFY) and inotify watches,
    /// and the events that reach them.
    public let notify = FSNotify()
    public var dnotify: DirNotify { notify.dnotify }
    /// The sandbox's pseudo-terminals (/dev/ptmx, /dev/pts).
    let ptys = PtyTable()
    /// The sandbox's POSIX message queues (mq_open, /dev/mqueue).
    public let mqueues = PosixMQNamespace()
    /// The sysctls the sandbox keeps for itself (fs.protected_*, ping_group_range).
    public let sysctls = SandboxSysctls()
    let memory: MemoryFile
    /// The size of the tmpfs mounts the sandbox makes; nil: unlimited.
    let tmpfsSize: DeferredLimit?
    private let nextMountID = Atomic<Int>(1)
    /// The root as the walk starts from it.
    public let rootLocation: Location
    /// Where memfd_create's files live: a tmpfs no path reaches.
    /// memfd_create's files' filesystem (a checkpoint keeps its inode counter).
    let memfdFS: TmpFS
    let memfdRoot: Location

    static let maxSymlinks = 40

    /// `root` becomes the guest's `/`, read-only, or with `overlay` writable
    /// with every change kept in sentry memory (OverlayFS); the sentry's
    /// /proc, /dev and /dev/shm are mounted over it, and a fresh tmpfs at
    /// /tmp unless the overlay shows the host's own /tmp.
    /// `tmpfsSize`: the size of /tmp, /dev/shm and the overlay's upper layer
    /// (default: half the sandbox's memory, or none if it has no limit).
    public init(root: HostFS, overlay: Bool = false, memory: MemoryFile, tmpfsSize: UInt64? = nil) throws(Errno) {
        self.memory = memory
        self.tmpfsSize = tmpfsSize.map { DeferredLimit($0) } ?? TmpFS.defaultSize(memory)
        let m = overlay
            ? Mount(root: OverlayFS(lower: try root.rootInode(), memory: memory, device: 0x100,
                                    size: self.tmpfsSize).rootNode, on: nil,
                    type: "overlay", source: "overlay", readOnly: false, id: 0)
            : Mount(root: try root.rootInode(), on: nil, type: "ext4", source: root.hostPath, readOnly: true, id: 0)
        mounts = MountTable(root: m)
        rootLocation = Location(root: m)
        memfdFS = TmpFS(memory: memory, device: 0x1ff)
        memfdRoot = Location(root: Mount(root: memfdFS.rootNode, on: nil, type: "tmpfs", source: "memfd", readOnly: false, id: -1))
        add("/proc", ProcFS.root(self), type: "proc", source: "proc", readOnly: false)
        add("/dev", DevFS.root(ptys: ptys), type: "devtmpfs", source: "devtmpfs", readOnly: false)
        mountTmpfs(at: "/dev/shm")
        add("/dev/mqueue", MQueueFS.root(mqueues), type: "mqueue", source: "mqueue", readOnly: false)
        if !overlay { mountTmpfs(at: "/tmp") }
    }

    private func add(_ path: String, _ root: Inode, type: String, source: String, readOnly: Bool) {
        let id = nextMountID.wrappingAdd(1, ordering: .relaxed).oldValue
        let p = Self.normalize(path)
        // Mounts already below `p` (a --bind under a directory the sentry
        // exposes later) stay visible: they are made again on top of the new one.
        let below = mounts.all.filter { $0 !== mounts.root && $0.path.hasPrefix(p == "/" ? "/" : p + "/") }
        mounts.add(Mount(root: root, on: mountpoint(p, file: root.kind != .directory), type: type, source: source, readOnly: readOnly, id: id))
        for m in below {
            mounts.add(Mount(root: m.rootInode, on: mountpoint(m.path, file: m.rootInode.kind != .directory), type: m.type, source: m.source,
                             readOnly: m.readOnly, id: m.id))
        }
    }

    /// Where a new mount at `path` goes: the place the path names without
    /// following symlinks. A missing directory is made on tmpfs and the
    /// overlay; elsewhere it becomes an empty placeholder that holds only
    /// the mount (Linux would refuse). A single file bound over a name (`file`)
    /// goes on a file: made empty where missing, as runc does for file binds.
    private func mountpoint(_ path: String, file: Bool = false) -> Location {
        let ctx = SetupContext(self)
        var cur = rootLocation
        let components = path.pathComponents.filter { $0 != "." && $0 != ".." }
        for (i, c) in components.enumerated() {
            let name = String(c)
            let last = i == components.count - 1
            if let next = mountedOrPlaceholder(cur, name) { cur = next; continue }
            // On the sentry's own memory filesystems the directory is made for
            // real, as runsc makes mount points in its overlay; never on the host.
            let inMemory = !cur.mount.readOnly && (cur.mount.type == "tmpfs" || cur.mount.type == "overlay")
            if inMemory && (try? cur.inode.lookup(name, ctx)) == nil {
                if file && last { try? cur.inode.mknod(name, mode: S_IFREG | 0o644) } else { try? cur.inode.mkdir(name, mode: 0o755) }
            }
            if let inode = try? cur.inode.lookup(name, ctx), inode.kind == .directory || (file && last && inode.kind == .regular) {
                cur = cur.child(name, inode)
            } else {
                let dir = SyntheticDirNode(path: "mountpoint:" + path, device: 0x1fe, mode: 0o755,
                                           list: { _ in [] }, child: { _, _ throws(Errno) in throw .ENOENT })
                cur = Location(mount: cur.mount, dentry: cur.dentry.placeholderChild(name, dir))
            }
        }
        return cur
    }

    /// The mount's root if a mount sits on `name` in `dir`, or the placeholder
    /// directory made for one; nil if the filesystem must be asked.
    private func mountedOrPlaceholder(_ dir: Location, _ name: String) -> Location? {
        guard let d = dir.dentry.cachedChild(name) else { return nil }
        var (m, at) = (dir.mount, d)
        var crossed = false
        while let top = mounts.mounted(on: at, in: m) { (m, at) = (top, top.root); crossed = true }
        if crossed { return Location(root: m) }
        return d.isPlaceholder ? Location(mount: dir.mount, dentry: d) : nil
    }

    /// memfd_create: a tmpfs file with no name in any directory.
    public func memfd(name: String, allowSealing: Bool = false) -> FileDescription {
        let (node, location) = memfdNode(dentryName: "memfd:\(name) (deleted)", mode: S_IFREG | 0o777)
        if allowSealing { node.data?.allowSealing() }
        return TmpfsFile(node: node, location: location, flags: .readWrite)
    }

    /// A fresh memfd node and where it is (its dentry's name is what /proc
    /// shows); `ino`: a restored memfd's number.
    func memfdNode(dentryName: String, mode: UInt32, ino: UInt64? = nil) -> (TmpfsNode, Location) {
        let node = TmpfsNode(fs: memfdFS, ino: ino ?? memfdFS.nextInode(), mode: mode)
        if let ino { memfdFS.continueInodes(from: ino + 1) }
        return (node, Location(mount: memfdRoot.mount, dentry: memfdRoot.dentry.detachedChild(dentryName, node)))
    }

    /// Whether `node` is a memfd's.
    func isMemfd(_ node: TmpfsNode) -> Bool { node.fs === memfdFS }

    /// A fresh tmpfs; read-only, an empty directory that stands for a
    /// filesystem the sentry does not serve (an OCI bundle's sysfs), shown in
    /// /proc/mounts with that type.
    public func mountTmpfs(at path: String, readOnly: Bool = false, type: String = "tmpfs") {
        let device = 0x100 + UInt64(nextMountID.load(ordering: .relaxed))
        add(path, TmpFS(memory: memory, device: device, size: tmpfsSize).rootNode, type: type, source: type, readOnly: readOnly)
    }

    /// --bind HOST:GUEST[:ro|rw]: a host directory, or with `allowFile` a
    /// single host file over one guest name (OCI bind mounts of files).
    public func bind(host: String, at guestPath: String, readOnly: Bool, allowFile: Bool = false) throws(Errno) {
        let fs = try HostFS(path: host, allowFile: allowFile)
        let root = try fs.rootInode()
        guard root.kind == .directory || (allowFile && root.kind == .regular) else { throw .ENOTDIR }
        add(guestPath, root, type: "bind", source: fs.hostPath, readOnly: readOnly)
    }

    /// Lexical normal form: no `.`, no `..`, no repeated or trailing slashes.
    public static func normalize(_ path: String) -> String {
        var out: [String] = []
        for c in path.pathComponents {
            if c == "." { continue }
            if c == ".." { _ = out.popLast(); continue }
            out.append(c)
        }
        return absolutePath(out[...])
    }

    /// "/" and `names` joined by slashes. Not `joined(separator:)`: that
    /// generic's first use builds its metadata from mangled names, about
    /// 0.15 ms of every start (where a sandbox's mounts are added).
    static func absolutePath(_ names: ArraySlice<String>) -> String {
        var path = ""
        for n in names { path += "/"; path += n }
        return path.isEmpty ? "/" : path
    }

    // MARK: - The walk

    /// The child `name` of `dir`: a mount's root if one is mounted there.
    func child(_ dir: Location, _ name: String, _ ctx: WalkContext) throws(Errno) -> Location {
        guard name.rawBytes.count <= 255 else { throw .ENAMETOOLONG }
        if let covered = mountedOrPlaceholder(dir, name) { return covered }
        return dir.child(name, try dir.inode.lookup(name, ctx))
    }

    /// `..` of a place: the directory that holds it (across mount points),
    /// never above the walker's root.
    func parent(_ l: Location, root: Location) -> Location {
        if l.isSame(root) { return l }
        return l.parent ?? l
    }

    /// Where a walk ended: the place and, for `parentOnly`, the last name
    /// left to create or remove ("." and ".." are returned as such).
    struct WalkResult {
        var location: Location
        var last: String?
        /// The path ended in a slash: the last component must be a directory.
        var trailingSlash: Bool
    }

    /// The walk. `rules` are openat2's RESOLVE_* restrictions, checked as
    /// Linux checks them: EXDEV for leaving the start (BENEATH) or a mount
    /// (NO_XDEV), ELOOP for a link that may not be followed.
    func walk(_ path: String, from start: Location, followLast: Bool, parentOnly: Bool, _ ctx: WalkContext,
              rules: ResolveRules = []) throws(Errno) -> WalkResult {
        if path.isEmpty { throw .ENOENT }
        var pending: [String] = path.pathComponents.reversed()
        let trailingSlash = path.endsWithSlash
        let root = rules.contains(.inRoot) ? start : ctx.rootLocation
        let beneath = rules.contains(.beneath)
        if path.startsWithSlash && beneath { throw .EXDEV }
        var cur = path.startsWithSlash ? root : start
        if rules.contains(.noXDev) && cur.mount !== start.mount { throw .EXDEV }
        // Magic links lead anywhere: refused under any rule that confines the walk.
        let magicRefused = rules.contains(.noMagicLinks) || beneath || rules.contains(.inRoot)
        var links = 0
        var depth = 0   // below `start`, for RESOLVE_BENEATH
        let creds = ctx.credentials
        if parentOnly && pending.isEmpty { return WalkResult(location: cur, last: ".", trailingSlash: true) }
        while let c = pending.popLast() {
            let isLast = pending.isEmpty
            guard cur.inode.kind == .directory else { throw .ENOTDIR }
            // may_lookup: every directory a name is looked up in must be
            // searchable, the last one's too, before the name is.
            try mayAccess(cur.inode, .exec, creds)
            if parentOnly && isLast { return WalkResult(location: cur, last: String(c), trailingSlash: trailingSlash) }
            if c == "." { continue }
            if c == ".." {
                if beneath && depth == 0 { throw .EXDEV }
                let up = parent(cur, root: root)
                if rules.contains(.noXDev) && up.mount !== cur.mount { throw .EXDEV }
                if up !== cur { depth -= 1 }
                cur = up
                continue
            }
            let next = try child(cur, String(c), ctx)
            if rules.contains(.noXDev) && next.mount !== cur.mount { throw .EXDEV }
            guard next.inode.kind == .symlink, !isLast || followLast || trailingSlash else { cur = next; depth += 1; continue }
            if rules.contains(.noSymlinks) { throw .ELOOP }
            links += 1
            if links > Self.maxSymlinks { throw .ELOOP }
            if let creds { try mayFollowLink(next, in: cur, creds) }
            if let place = try next.inode.magicTarget(ctx) {
                if magicRefused { throw .ELOOP }
                cur = place
                continue
            }
            if let link = next.inode as? SyntheticLinkNode, link.described != nil {
                if magicRefused { throw .ELOOP }
                guard isLast else { throw .ENOTDIR }
                cur = next   // an fd link to a pipe or socket: the caller opens the file itself
                continue
            }
            let target = try next.inode.readlink(ctx)
            if target.isEmpty { throw .ENOENT }
            if target.startsWithSlash {
                if beneath { throw .EXDEV }
                if rules.contains(.noXDev) && root.mount !== cur.mount { throw .EXDEV }
                cur = root
                depth = 0
            }
            pending += target.pathComponents.reversed()
        }
        if trailingSlash && cur.inode.kind != .directory { throw .ENOTDIR }
        return WalkResult(location: cur, last: nil, trailingSlash: trailingSlash)
    }

    /// The place `path` names, seen from `start` (the cwd or a dirfd).
    public func resolve(_ path: String, from start: Location, followLast: Bool, _ ctx: WalkContext) throws(Errno) -> Location {
        try walk(path, from: start, followLast: followLast, parentOnly: false, ctx).location
    }

    /// The directory that holds the last component, and that component.
    func resolveParent(_ path: String, from start: Location, _ ctx: WalkContext,
                       rules: ResolveRules = []) throws(Errno) -> (Location, String, Bool) {
        let r = try walk(path, from: start, followLast: false, parentOnly: true, ctx, rules: rules)
        return (r.location, r.last ?? ".", r.trailingSlash)
    }

    private func writable(_ l: Location) throws(Errno) { if l.mount.readOnly { throw .EROFS } }

    /// inode_init_owner: a node a guest makes belongs to its fsuid, and to
    /// its fsgid unless the directory is set-group-ID: then to the
    /// directory's group, and a new directory is set-group-ID too: in tmpfs,
    /// an overlay's upper layer, and a writable host mount (the sentry made
    /// the file, so it hands it over; a sentry that is not host root keeps
    /// the owner in its HostFS table), so that DAC sees the owner Linux would.
    private func initOwner(_ dir: Location, _ name: String, _ ctx: WalkContext) {
        guard let node = try? dir.inode.lookup(name, ctx) else { return }
        initOwner(dir, node: node, ctx)
    }

    private func initOwner(_ dir: Location, node: Inode, _ ctx: WalkContext) {
        guard let creds = ctx.process?.taskAttributes.credentials,
              node is TmpfsNode || node is OverlayNode || node is HostInode,
              let parent = try? dir.inode.stat(), let st = try? node.stat() else { return }
        var a = InodeAttributes()
        a.uid = creds.fsuid
        a.gid = creds.fsgid
        if parent.st_mode & S_ISGID != 0 {
            a.gid = parent.st_gid
            if node.kind == .directory && st.st_mode & S_ISGID == 0 { a.mode = (st.st_mode & 0o7777) | S_ISGID }
        }
        if a.uid == st.st_uid && a.gid == st.st_gid && a.mode == nil { return }
        try? node.setAttributes(a)
    }

    // MARK: - Opening

    /// `execute`: execve's open (open_exec), which asks for execute
    /// permission instead of read.
    /// `umask` applies to a new file unless its directory has a default ACL.
    public func open(_ path: String, from start: Location, flags: OpenFlags, mode: UInt32, _ ctx: WalkContext,
                     rules: ResolveRules = [], execute: Bool = false, umask: UInt32 = 0) throws(Errno) -> FileDescription {
        if flags.contains(.tmpFile) {
            // do_tmpfile: the directory named, then vfs_tmpfile's checks: a
            // writable mount, write and search permission, a filesystem that makes unnamed files.
            let dir = try walk(path, from: start, followLast: true, parentOnly: false, ctx, rules: rules).location
            guard dir.inode.kind == .directory else { throw .ENOTDIR }
            try writable(dir)
            try mayCreate(in: dir, ctx.credentials)
            var mode = mode & 0o7777
            let acls = inheritedACLs(dir, mode: &mode, umask: umask, isDirectory: false)
            let f = try dir.inode.tmpfile(mode: mode, flags: flags, in: dir, ctx)
            if let node = f.location?.inode {
                applyInheritedACLs(acls, to: node)
                initOwner(dir, node: node, ctx)
            }
            if let loc = f.location { try landlockOpen(loc, flags, execute: false, ctx.credentials) }
            if let loc = f.location { notify.opened(f, at: loc) }
            return f
        }
        if flags.contains(.create) {
            let (dir, name, slash) = try resolveParent(path, from: start, ctx, rules: rules)
            if name == "." || name == ".." || slash { throw .EISDIR }
            let existing: Location?
            do { existing = try child(dir, name, ctx) } catch .ENOENT { existing = nil }
            if let existing {
                if flags.contains(.exclusive) { throw .EEXIST }
                if existing.inode.kind == .symlink && !flags.contains(.noFollow) {
                    let full = try walk(name, from: dir, followLast: true, parentOnly: false, ctx, rules: rules).location
                    try mayOpenCreatingInSticky(full, in: full.parent ?? dir, ctx.credentials)
                    return try openExisting(full, flags: flags, ctx)
                }
                // An existing file: may_create's error is not the open's.
                try mayOpenCreatingInSticky(existing, in: dir, ctx.credentials)
                return try openExisting(existing, flags: flags, ctx)
            }
            try writable(dir)
            // may_o_create: the LSMs' security_path_mknod, then DAC.
            try landlock(dir, .makeReg, ctx.credentials)
            try mayCreate(in: dir, ctx.credentials)
            var mode = mode & 0o7777
            let acls = inheritedACLs(dir, mode: &mode, umask: umask, isDirectory: false)
            let f = try dir.inode.create(name, mode: mode, flags: flags, in: dir, ctx)
            applyInheritedACLs(acls, dir, name, ctx)
            initOwner(dir, name, ctx)
            notify.created(name, in: dir, isDirectory: false)
            // The new file is then opened as any other: Landlock may refuse
            // that open and leave the file made (EACCES).
            if let loc = f.location { try landlockOpen(loc, flags, execute: false, ctx.credentials) }
            if let loc = f.location { notify.opened(f, at: loc) }
            return f
        }
        let loc = try walk(path, from: start, followLast: !flags.contains(.noFollow), parentOnly: false, ctx, rules: rules).location
        return try openExisting(loc, flags: flags, ctx, execute: execute)
    }

    /// Opens the file at a place already found (execveat's AT_EMPTY_PATH
    /// reopening its descriptor's file, an O_PATH one included).
    public func open(at loc: Location, flags: OpenFlags, _ ctx: WalkContext, execute: Bool = false) throws(Errno) -> FileDescription {
        try openExisting(loc, flags: flags, ctx, execute: execute)
    }

    private func openExisting(_ loc: Location, flags: OpenFlags, _ ctx: WalkContext, execute: Bool = false) throws(Errno) -> FileDescription {
        let kind = loc.inode.kind
        if let link = loc.inode as? SyntheticLinkNode, let file = link.described, !flags.contains(.noFollow) {
            return try file.reopen(flags)
        }
        if kind == .symlink && !flags.contains(.path) { throw .ELOOP }   // O_NOFOLLOW met a link
        if flags.contains(.directory) && kind != .directory && kind != .symlink { throw .ENOTDIR }
        let writes = flags.writable || (flags.contains(.truncate) && !flags.contains(.path))
        if writes && kind == .directory { throw .EISDIR }
        if writes && kind == .regular { try writable(loc) }
        if !flags.contains(.path) {
            try mayOpen(loc, flags, execute: execute, ctx.credentials)
            try landlockOpen(loc, flags, execute: execute, ctx.credentials)
        }
        let f = try loc.inode.open(flags, at: loc, ctx)
        if f.location == nil { f.location = loc }
        if flags.contains(.truncate) && writes && kind == .regular { notify.changed(loc, FSNotify.Mask.modify) }   // do_truncate's
        notify.opened(f, at: f.location ?? loc)
        return f
    }

    // MARK: - Names

    public func stat(_ path: String, from start: Location, followLast: Bool, _ ctx: WalkContext) throws(Errno) -> Glibc.stat {
        let loc = try resolve(path, from: start, followLast: followLast, ctx)
        return followLast ? try stat(at: loc) : try loc.inode.stat()
    }

    /// The file at a place found with its last link followed: a magic
    /// link's open file (/proc/PID/fd/N of a pipe) is what it describes.
    public func stat(at loc: Location) throws(Errno) -> Glibc.stat {
        if let link = loc.inode as? SyntheticLinkNode, let file = link.described { return try file.stat() }
        return try loc.inode.stat()
    }

    public func statx(_ path: String, from start: Location, followLast: Bool, mask: UInt32, _ ctx: WalkContext) throws(Errno) -> CSwitch.statx {
        let loc = try resolve(path, from: start, followLast: followLast, ctx)
        if followLast, let link = loc.inode as? SyntheticLinkNode, let file = link.described { return try file.statx(mask: mask) }
        var x = try loc.inode.statx(mask: mask)
        x.stx_mnt_id = UInt64(loc.mount.id)
        return x
    }

    public func readlink(_ path: String, from start: Location, _ ctx: WalkContext) throws(Errno) -> String {
        let loc = try resolve(path, from: start, followLast: false, ctx)
        guard loc.inode.kind == .symlink else { throw .EINVAL }
        return try loc.inode.readlink(ctx)
    }

    /// faccessat2: judged by the real ids unless `effective` (AT_EACCESS),
    /// the walk included. `path` empty: `place` itself (AT_EMPTY_PATH).
    public func access(_ path: String, from start: Location, mode: Int32, followLast: Bool, effective: Bool,
                       _ ctx: WalkContext) throws(Errno) {
        let judge: WalkContext = effective ? ctx : ctx.credentials.map { OverriddenCredentials(ctx, Permission.accessCredentials($0)) } ?? ctx
        let loc = path.isEmpty ? start : try resolve(path, from: start, followLast: followLast, judge)
        let kind = loc.inode.kind
        if mode & 2 != 0 && loc.mount.readOnly && (kind == .regular || kind == .directory || kind == .symlink) { throw .EROFS }
        try mayAccess(loc.inode, MayMask(rawValue: UInt32(mode & 7)).union(.access), judge.credentials)
    }

    /// A directory to chdir or chroot into.
    public func directory(_ path: String, from start: Location, _ ctx: WalkContext) throws(Errno) -> Location {
        let loc = try resolve(path, from: start, followLast: true, ctx)
        guard loc.inode.kind == .directory else { throw .ENOTDIR }
        try mayAccess(loc.inode, [.exec, .chdir], ctx.credentials)
        return loc
    }

    /// The directory and name a new entry goes to: EEXIST if the name is
    /// taken, is "." or "..", or (unless a directory is made) ends in a slash.
    private func newEntry(_ path: String, from start: Location, _ ctx: WalkContext,
                          trailingSlashAllowed: Bool = false) throws(Errno) -> (Location, String) {
        let (dir, name, slash) = try resolveParent(path, from: start, ctx)
        if name == "." || name == ".." || (slash && !trailingSlashAllowed) { throw .EEXIST }
        if (try? child(dir, name, ctx)) != nil { throw .EEXIST }
        return (dir, name)
    }

    public func mkdir(_ path: String, from start: Location, mode: UInt32, _ ctx: WalkContext, umask: UInt32 = 0) throws(Errno) {
        let (dir, name) = try newEntry(path, from: start, ctx, trailingSlashAllowed: true)
        try writable(dir)
        try landlock(dir, .makeDir, ctx.credentials)
        try mayCreate(in: dir, ctx.credentials)
        var mode = mode & 0o7777
        let acls = inheritedACLs(dir, mode: &mode, umask: umask, isDirectory: true)
        try dir.inode.mkdir(name, mode: mode)
        applyInheritedACLs(acls, dir, name, ctx)
        initOwner(dir, name, ctx)
        notify.created(name, in: dir, isDirectory: true)
    }

    /// mknod: FIFOs and regular files; device nodes are not the guest's to make.
    /// `device`: the number a device node would have (0 for a FIFO, a socket or a file).
    public func mknod(_ path: String, from start: Location, mode: UInt32, device: UInt32 = 0, _ ctx: WalkContext, umask: UInt32 = 0) throws(Errno) {
        let kind = mode & S_IFMT
        guard kind == 0 || kind == S_IFREG || kind == S_IFIFO || kind == S_IFCHR || kind == S_IFBLK || kind == S_IFSOCK else { throw .EINVAL }
        let (dir, name) = try newEntry(path, from: start, ctx)
        try writable(dir)
        try landlock(dir, LandlockAccess.make(mode, device: device), ctx.credentials)
        try mayCreate(in: dir, ctx.credentials)
        // vfs_mknod's CAP_MKNOD rule, after may_create.
        if kind == S_IFCHR || kind == S_IFBLK { throw .EPERM }
        var perm = mode & 0o7777
        let acls = inheritedACLs(dir, mode: &perm, umask: umask, isDirectory: false)
        try dir.inode.mknod(name, mode: (kind == 0 ? S_IFREG : kind) | perm)
        applyInheritedACLs(acls, dir, name, ctx)
        initOwner(dir, name, ctx)
        notify.created(name, in: dir, isDirectory: false)
    }

    public func symlink(_ target: String, at path: String, from start: Location, _ ctx: WalkContext) throws(Errno) {
        if target.isEmpty { throw .ENOENT }
        let (dir, name) = try newEntry(path, from: start, ctx)
        try writable(dir)
        try landlock(dir, .makeSym, ctx.credentials)
        try mayCreate(in: dir, ctx.credentials)
        try dir.inode.symlink(name, target: target)
        initOwner(dir, name, ctx)
        notify.created(name, in: dir, isDirectory: false)
    }

    public func link(_ old: Location, to path: String, from start: Location, _ ctx: WalkContext) throws(Errno) {
        let (dir, name) = try newEntry(path, from: start, ctx)
        try writable(dir)
        guard old.mount === dir.mount else { throw .EXDEV }
        // do_linkat's may_linkat (protected_hardlinks), then vfs_link's may_create.
        if let c = ctx.credentials, sysctls.values.protectedHardlinks != 0,
           let e = Permission.mayHardlink(InodeOwnership(try old.inode.stat()), c) { throw e }
        if let d = ctx.credentials?.landlock, let e = d.checkRefer(old, into: dir, replacing: nil, removing: false, exchange: false) { throw e }
        try mayCreate(in: dir, ctx.credentials)
        if old.inode.kind == .directory { throw .EPERM }
        try dir.inode.link(name, to: old.inode)
        notify.linked(old.inode, as: name, in: dir)
    }

    public func unlink(_ path: String, from start: Location, directory: Bool, _ ctx: WalkContext) throws(Errno) {
        let (dir, name, slash) = try resolveParent(path, from: start, ctx)
        if name == "." { throw directory ? .EINVAL : .EISDIR }
        if name == ".." { throw directory ? .ENOTEMPTY : .EISDIR }
        // do_unlinkat / do_rmdir: the mount's writability, the lookup, a
        // trailing slash on a non-directory, then may_delete (permission,
        // the sticky rule, the type), then a mount point's EBUSY.
        try writable(dir)
        let victim = try child(dir, name, ctx)
        if slash && !directory { throw victim.inode.kind == .directory ? .EISDIR : .ENOTDIR }
        try landlock(dir, directory ? .removeDir : .removeFile, ctx.credentials)
        try mayDelete(victim, from: dir, ctx.credentials)
        if victim.inode.kind == .directory && !directory { throw .EISDIR }
        if directory && victim.inode.kind != .directory { throw .ENOTDIR }
        if victim.mount !== dir.mount || victim.dentry.isPlaceholder { throw .EBUSY }
        let key = notify.removing(victim)
        try dir.inode.unlink(name, directory: directory)
        dir.dentry.removed(name)
        notify.removed(name, in: dir, victim: victim.inode, key: key, isDirectory: directory)
    }

    /// renameat2: RENAME_NOREPLACE (1), RENAME_EXCHANGE (2).
    public func rename(_ oldPath: String, from oldStart: Location, to newPath: String, from newStart: Location,
                       flags: UInt32, _ ctx: WalkContext) throws(Errno) {
        guard flags & ~3 == 0, flags != 3 else { throw .EINVAL }
        let (od, on, oslash) = try resolveParent(oldPath, from: oldStart, ctx)
        let (nd, nn, _) = try resolveParent(newPath, from: newStart, ctx)
        if on == "." || on == ".." || nn == "." || nn == ".." { throw .EBUSY }
        let src = try child(od, on, ctx)
        if oslash && src.inode.kind != .directory { throw .ENOTDIR }
        guard od.mount === nd.mount else { throw .EXDEV }
        // A mount point stays where it is (is_local_mountpoint); a directory
        // holding one may move, and the mount moves with it.
        if src.mount !== od.mount || src.dentry.isPlaceholder { throw .EBUSY }
        if let dst = mountedOrPlaceholder(nd, nn), dst.mount !== nd.mount || dst.dentry.isPlaceholder { throw .EBUSY }
        if src.inode.kind == .directory && nd.dentry.isWithin(src.dentry) { throw .EINVAL }
        try writable(od)
        let target = try? child(nd, nn, ctx)
        // do_renameat2's checks of the new name come before the LSMs' hook.
        if flags & 1 != 0 && target != nil { throw .EEXIST }
        if flags & 2 != 0 && target == nil { throw .ENOENT }
        if let d = ctx.credentials?.landlock,
           let e = d.checkRefer(src, into: nd, replacing: target, removing: true, exchange: flags & 2 != 0) { throw e }
        if target?.inode !== src.inode { try mayRename(src, from: od, to: nd, replacing: target, flags: flags, ctx.credentials) }
        let dst = notify.quiet ? nil : target   // what the new name held, for its events
        let srcKey = notify.removing(src), dstKey = dst.flatMap { notify.removing($0) }
        try od.inode.rename(on, to: nd.inode, nn, flags: flags)
        od.dentry.renamed(on, to: nd.dentry, nn, exchange: flags & 2 != 0)
        // fsnotify_move: FS_RENAME (to dnotify only within one directory, as
        // fsnotify's handler filters it), FS_MOVED_FROM to the old directory
        // and FS_MOVED_TO to the new with one cookie, IN_MOVE_SELF to the
        // file; an exchange moves both ways, a replaced file goes.
        if dst?.inode === src.inode {
            // Two names of one file: nothing moved (vfs_rename returns early).
        } else if flags & 2 != 0, let dst {
            notify.moved(src.inode, movedKey: srcKey, from: od, on, to: nd, nn, replaced: nil)
            notify.moved(dst.inode, movedKey: dstKey, from: nd, nn, to: od, on, replaced: nil)
        } else {
            notify.moved(src.inode, movedKey: srcKey, from: od, on, to: nd, nn,
                         replaced: dst.flatMap { $0.inode === src.inode ? nil : ($0.inode, dstKey) })
        }
    }

    /// Which call changes attributes: each has its own permission rule.
    public enum AttributeChange: Sendable, Equatable {
        /// chmod: the owner or CAP_FOWNER; S_ISGID kept only by a member of the group or CAP_FSETID.
        case mode
        /// chown: CAP_CHOWN, or the owner giving the file to a group of its own;
        /// a non-directory loses its set-id bits.
        case owner
        /// utimes: explicit times need the owner; the current time also write permission.
        case times(explicit: Bool)
        /// truncate(2): write permission.
        case size
    }

    public func setAttributes(_ loc: Location, _ a: InodeAttributes, _ change: AttributeChange, _ ctx: WalkContext) throws(Errno) {
        if a.size != nil && loc.inode.kind == .directory { throw .EISDIR }
        if a.size != nil && loc.inode.kind != .regular { throw .EINVAL }
        try writable(loc)
        var a = a
        if let c = ctx.credentials {
            let cur = InodeOwnership(try loc.inode.stat())
            switch change {
            case .size:
                try mayAccess(loc.inode, .write, c)   // an access ACL may grant it
                if let mode = Permission.modeAfterWrite(cur, c) { a.mode = mode }   // do_truncate's file_remove_privs
            case .mode, .owner: a = try Permission.setattr(a, of: cur, touch: false, explicitTimes: false, killSetID: change == .owner, c)
            case .times(let explicit):
                let acl = !explicit && loc.inode.posixACLs ? loc.inode.posixACL(.access) : nil
                a = try Permission.setattr(a, of: cur, touch: !explicit, explicitTimes: explicit, killSetID: false, c, acl: acl)
            }
        }
        try loc.inode.setAttributes(a)
        notify.changed(loc, FSNotify.events(of: a))
    }

    /// may_open: what the open asks for (its access mode, O_TRUNC's write,
    /// execve's execute), then O_NOATIME's ownership rule.
    func mayOpen(_ loc: Location, _ flags: OpenFlags, execute: Bool, _ c: Credentials?) throws(Errno) {
        guard let c else { return }
        var mask: MayMask = .open
        if execute {
            mask.insert(.exec)
        } else {
            switch flags.rawValue & OpenFlags.accessMode {
            case 0: mask.insert(.read)
            case 1: mask.insert(.write)
            default: mask.formUnion([.read, .write])
            }
        }
        if flags.contains(.truncate) { mask.insert(.write) }
        if flags.contains(.append) { mask.insert(.append) }
        if mask.contains(.exec) && loc.inode.kind != .regular { throw .EACCES }
        try mayAccess(loc.inode, mask, c)
        if flags.contains(.noATime), !Permission.isOwnerOrCapable(InodeOwnership(try loc.inode.stat()), c) { throw .EPERM }
    }

    /// vfs_rename's checks: removing the old name, making or replacing the
    /// new one, and a directory that changes parent must be writable
    /// itself (its `..` changes).
    func mayRename(_ src: Location, from od: Location, to nd: Location, replacing target: Location?, flags: UInt32,
                   _ c: Credentials?) throws(Errno) {
        guard let c else { return }
        try mayDelete(src, from: od, c)
        if let target { try mayDelete(target, from: nd, c) } else { try mayCreate(in: nd, c) }
        guard od.inode !== nd.inode else { return }
        if src.inode.kind == .directory { try mayAccess(src.inode, .write, c) }
        if flags & 2 != 0, let target, target.inode.kind == .directory { try mayAccess(target.inode, .write, c) }
    }

    public func statfs(_ loc: Location) throws(Errno) -> sw_statfs {
        var s = try loc.inode.statfs()
        // The sentry's own filesystems are mounted relatime, as /proc/mounts says;
        // a host one brings the host's flags (ST_VALID among them).
        if s.f_flags & 0x20 == 0 { s.f_flags |= 0x20 | 0x1000 }   // ST_VALID, ST_RELATIME
        if loc.mount.readOnly { s.f_flags |= 1 }   // ST_RDONLY
        return s
    }
}

/// Who walks while mounts are made: no process yet, and nothing in /proc.
private final class SetupContext: WalkContext, SandboxView {
    unowned let vfs: VFS
    init(_ vfs: VFS) { self.vfs = vfs }
    var process: ProcessView? { nil }
    var rootLocation: Location { vfs.rootLocation }
    var sandbox: SandboxView { self }
    var processIDs: [Int32] { [] }
    func process(_ pid: Int32) -> ProcessView? { nil }
    func thread(_ tid: Int32, of pid: Int32) -> ProcessView? { nil }
    func threadIDs(of pid: Int32) -> [Int32] { [] }
    var bootTime: timespec { timespec() }
    var hostname: String { "" }
    let unixNames = UnixNamespace()
    var namespaces: Namespaces { .none }
    var credentials: Credentials? { nil }
}
