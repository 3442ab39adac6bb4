import CSwitch
import Glibc
import Synchronization

/// The root as `--overlay` shows it: a host directory (the lower layer,
/// never written) under a tmpfs in sentry memory (the upper layer), merged
/// as Linux's overlayfs merges them. A file is copied up, data and
/// attributes, the first time it is opened for writing or changed; removing
/// a name the lower layer has leaves a whiteout (a character device in the
/// upper directory, which no guest can make there: mknod of devices is
/// refused); a directory made where a whiteout was is opaque (a child named
/// "", which no path component can reach), so the lower one's entries stay
/// hidden. Renaming a directory that has lower entries is EXDEV, as on
/// overlayfs without redirect_dir; `mv` then copies.
///
/// Lock order: `copyUpLock` (one copy-up or directory change at a time),
/// then an OverlayNode's `state`, then the upper tmpfs's own locks.
public final class OverlayFS: Sendable {
    let upper: TmpFS
    let device: UInt64
    let copyUpLock = Mutex(())
    nonisolated(unsafe) var rootNode: OverlayNode!

    /// `size`: what the upper layer may hold (a tmpfs's `size=`).
    init(lower: HostInode, memory: MemoryFile, device: UInt64, size: DeferredLimit?) {
        upper = TmpFS(memory: memory, device: device, mode: 0o755, size: size)
        self.device = device
        rootNode = OverlayNode(fs: self, name: "", parent: nil, upper: upper.rootNode, lower: lower)
        // The merged root has the host root's permissions.
        if let st = try? lower.stat() {
            var a = InodeAttributes()
            a.mode = UInt32(st.st_mode) & 0o7777; a.uid = st.st_uid; a.gid = st.st_gid
            try? upper.rootNode.setAttributes(a)
        }
    }

    static let magic = 0x794c_7630   // OVERLAYFS_SUPER_MAGIC
    /// Marks an opaque upper directory.
    static let opaqueMarker = ""
    /// Inode numbers of files only the upper layer has, kept apart from the host's.
    static let upperInodeBit: UInt64 = 1 << 62
}

/// One name in the merged tree: the upper file, the lower one, or a
/// directory present in both. Nodes are made per lookup and cached weakly
/// by their parent, so an open file and a later lookup of its name share
/// one node, and a copy-up is seen by both.
/// Sendable: the upper/lower pair behind `state`.
public final class OverlayNode: Inode, @unchecked Sendable {
    let fs: OverlayFS
    private struct State {
        var name: String
        var parent: OverlayNode?
        var upper: TmpfsNode?
        var lower: HostInode?
        var children: [ExactName: Weak] = [:]
    }
    private final class Weak { weak var node: OverlayNode?; init(_ n: OverlayNode) { node = n } }
    private let state: Mutex<State>

    init(fs: OverlayFS, name: String, parent: OverlayNode?, upper: TmpfsNode?, lower: HostInode?) {
        self.fs = fs
        state = Mutex(State(name: name, parent: parent, upper: upper, lower: lower))
        super.init()
    }

    var upper: TmpfsNode? { state.withLock { $0.upper } }
    var lower: HostInode? { state.withLock { $0.lower } }
    private var top: Inode? { state.withLock { $0.upper ?? $0.lower } }
    private func real() throws(Errno) -> Inode { guard let t = top else { throw .ENOENT }; return t }

    public override var kind: FileKind { top?.kind ?? .regular }

    /// A file shows the identity of the layer that holds it, as overlayfs
    /// does for non-directories, so its stat and an open descriptor's fstat
    /// agree (programs compare them to detect races). A directory, which is
    /// listed merged, is the overlay's: its lower number when it has one.
    public override func stat() throws(Errno) -> Glibc.stat {
        let (u, l) = state.withLock { ($0.upper, $0.lower) }
        guard let file: Inode = u ?? l else { throw .ENOENT }
        var st = try file.stat()
        guard file.kind == .directory else { return st }
        if let l, u != nil, let below = try? l.stat() { st.st_ino = below.st_ino }
        else if l == nil { st.st_ino |= UInt(OverlayFS.upperInodeBit) }
        st.st_dev = UInt(fs.device)
        return st
    }

    /// The host filesystem's figures (what `df` of the root shows), as overlayfs reports.
    public override func statfs() throws(Errno) -> sw_statfs {
        guard let lower = fs.rootNode.lower else { return try fs.upper.rootNode.statfs() }
        var s = try lower.statfs()
        s.f_type = OverlayFS.magic
        return s
    }

    // MARK: Lookup and listing

    private static func isWhiteout(_ n: Inode) -> Bool { n.kind == .character }
    private static func isOpaque(_ dir: TmpfsNode?) -> Bool { dir?.child(OverlayFS.opaqueMarker) != nil }

    public override func lookup(_ name: String, _ ctx: WalkContext) throws(Errno) -> Inode { try child(name) }

    func child(_ name: String) throws(Errno) -> OverlayNode {
        guard kind == .directory else { throw .ENOTDIR }
        let (u, l) = state.withLock { ($0.upper, $0.lower) }
        var upperChild: TmpfsNode?
        if let c = u?.child(name) {
            if Self.isWhiteout(c) { throw .ENOENT }
            upperChild = c
        }
        var lowerChild: HostInode?
        if let l, !Self.isOpaque(u), upperChild == nil || upperChild?.kind == .directory {
            do {
                lowerChild = try l.child(name)
            } catch {
                if upperChild == nil { throw error }
            }
            // Only a directory merges with a directory.
            if let uc = upperChild, let lc = lowerChild, uc.kind != lc.kind { lowerChild = nil }
        }
        guard upperChild != nil || lowerChild != nil else { throw .ENOENT }
        return state.withLock { s in
            if let n = s.children[ExactName(name)]?.node {
                n.state.withLock { $0.upper = upperChild; $0.lower = lowerChild }
                return n
            }
            let n = OverlayNode(fs: fs, name: name, parent: self, upper: upperChild, lower: lowerChild)
            s.children[ExactName(name)] = Weak(n)
            if s.children.count > 64 { s.children = s.children.filter { $0.value.node != nil } }
            return n
        }
    }

    public override func entries(_ ctx: WalkContext) throws(Errno) -> [DirEntry] { try mergedEntries() }

    /// Upper entries, then the lower ones no whiteout hides; a directory in
    /// both shows the lower number, as its stat does.
    func mergedEntries() throws(Errno) -> [DirEntry] {
        guard kind == .directory else { throw .ENOTDIR }
        let (u, l) = state.withLock { ($0.upper, $0.lower) }
        var out: [ExactName: DirEntry] = [:]
        var hidden: Set<ExactName> = []
        // Numbers as stat gives them: a file's own layer's, a directory's with the upper-only bit.
        for e in try u?.childEntries() ?? [] where e.name != OverlayFS.opaqueMarker {
            if e.kind == .character { hidden.insert(ExactName(e.name)) }
            else { out[ExactName(e.name)] = DirEntry(e.name, e.kind, inode: e.kind == .directory ? e.inode | OverlayFS.upperInodeBit : e.inode) }
        }
        if let l, !Self.isOpaque(u) {
            for e in try Self.hostEntries(l) where !hidden.contains(ExactName(e.name)) {
                if let mine = out[ExactName(e.name)] {
                    if mine.kind == .directory && e.kind == .directory { out[ExactName(e.name)] = DirEntry(e.name, mine.kind, inode: e.inode) }
                } else {
                    out[ExactName(e.name)] = e
                }
            }
        }
        return out.values.sorted { $0.name < $1.name }
    }

    /// A host directory's entries, read with readdir on a fresh descriptor
    /// (host directories have no list of their own; a host mount point shows empty).
    private static func hostEntries(_ dir: HostInode) throws(Errno) -> [DirEntry] {
        if dir.foreignMount { return [] }
        let fd = Glibc.open(dir.procPath, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0, let d = fdopendir(fd) else { let e = Errno(errno); if fd >= 0 { close(fd) }; throw e }
        defer { closedir(d) }
        var out: [DirEntry] = []
        while let e = readdir(d) {
            let name = withUnsafeBytes(of: e.pointee.d_name) { String(rawBytes: $0.prefix { $0 != 0 }) }
            if name == "." || name == ".." { continue }
            let kind: FileKind
            switch Int(e.pointee.d_type) {
            case Int(DT_DIR): kind = .directory
            case Int(DT_LNK): kind = .symlink
            case Int(DT_FIFO): kind = .fifo
            case Int(DT_CHR): kind = .character
            case Int(DT_BLK): kind = .block
            case Int(DT_SOCK): kind = .socket
            default: kind = .regular
            }
            out.append(DirEntry(name, kind, inode: UInt64(e.pointee.d_ino)))
        }
        return out
    }

    public override func readlink(_ ctx: WalkContext) throws(Errno) -> String { try real().readlink(ctx) }

    // MARK: Opening

    public override func open(_ flags: OpenFlags, at location: Location, _ ctx: WalkContext) throws(Errno) -> FileDescription {
        let k = kind
        if k == .directory && !flags.contains(.path) {
            return SyntheticDirectory(location: location, flags: flags) { [self] () throws(Errno) -> [DirEntry] in try mergedEntries() }
        }
        let writes = flags.writable || (flags.contains(.truncate) && !flags.contains(.path))
        if writes && k == .regular { try copyUp() }
        return try real().open(flags, at: location, ctx)
    }

    // MARK: Copy-up

    /// Makes this node's upper copy (and its ancestors'), with the lower
    /// file's data, mode, owner and times.
    func copyUp() throws(Errno) {
        if upper != nil { return }
        try fs.copyUpLock.withLock { (_: inout ()) throws(Errno) in try copyUpLocked() }
    }

    private func copyUpLocked() throws(Errno) {
        let (name, parent, u, l) = state.withLock { ($0.name, $0.parent, $0.upper, $0.lower) }
        if u != nil { return }
        guard let parent, let l else { throw .ENOENT }
        try parent.copyUpLocked()
        guard let dir = parent.upper else { throw .ENOENT }
        let st = try l.stat()
        let perms = UInt32(st.st_mode) & 0o7777
        switch l.kind {
        case .directory: try dir.mkdir(name, mode: perms)
        case .symlink: try dir.symlink(name, target: try l.linkTarget())
        case .fifo: try dir.mknod(name, mode: S_IFIFO | perms)
        case .regular:
            try dir.mknod(name, mode: S_IFREG | perms)
            guard let fresh = dir.child(name), let data = fresh.data else { throw .EIO }
            do throws(Errno) { try Self.copyData(from: l, to: data) } catch {
                try? dir.unlink(name, directory: false)
                throw error
            }
        default: throw .EPERM   // devices and sockets are never the guest's to copy
        }
        guard let made = dir.child(name) else { throw .EIO }
        var a = InodeAttributes()
        a.mode = perms; a.uid = st.st_uid; a.gid = st.st_gid; a.atime = st.st_atim; a.mtime = st.st_mtim
        try made.setAttributes(a)
        state.withLock { $0.upper = made }
    }

    private static func copyData(from file: HostInode, to data: TmpfsData) throws(Errno) {
        let fd = Glibc.open(file.procPath, O_RDONLY | O_CLOEXEC)
        if fd < 0 { throw Errno(errno) }
        defer { close(fd) }
        let buf = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 4096)
        defer { buf.deallocate() }
        var at: Int64 = 0
        while true {
            let n = pread(fd, buf.baseAddress, buf.count, off_t(at))
            if n < 0 { if errno == EINTR { continue }; throw Errno(errno) }
            if n == 0 { break }
            // A copy-up that does not fit the upper layer is ENOSPC, as overlayfs's.
            guard try data.write(from: [UnsafeRawBufferPointer(rebasing: buf[0..<n])], at: at).0 == n else { throw .ENOSPC }
            at += Int64(n)
        }
    }

    // MARK: Directory operations

    /// The upper directory, copied up, with no whiteout left at `name`;
    /// whether there was one (a directory made there must then be opaque).
    private func prepare(_ name: String) throws(Errno) -> (TmpfsNode, hadWhiteout: Bool) {
        try copyUpLocked()
        guard let dir = upper else { throw .ENOENT }
        if let c = dir.child(name), Self.isWhiteout(c) {
            try dir.unlink(name, directory: false)
            return (dir, true)
        }
        return (dir, false)
    }

    private func forget(_ name: String) { state.withLock { $0.children[ExactName(name)] = nil } }

    /// Whether `name` exists below, unhidden: removing it must leave a whiteout.
    private func lowerHas(_ name: String) -> Bool {
        guard let l = lower, !Self.isOpaque(upper), l.kind == .directory else { return false }
        return (try? l.child(name)) != nil
    }

    private func withDirectoryChange<T>(_ body: () throws(Errno) -> T) throws(Errno) -> T {
        try fs.copyUpLock.withLock { (_: inout ()) throws(Errno) -> T in try body() }
    }

    public override func create(_ name: String, mode: UInt32, flags: OpenFlags, in dir: Location, _ ctx: WalkContext) throws(Errno) -> FileDescription {
        let f = try withDirectoryChange { () throws(Errno) -> FileDescription in
            let (u, _) = try prepare(name)
            return try u.create(name, mode: mode, flags: flags, in: dir, ctx)
        }
        f.location = dir.child(name, try child(name))
        return f
    }

    public override func mkdir(_ name: String, mode: UInt32) throws(Errno) {
        try withDirectoryChange { () throws(Errno) in
            let (u, hadWhiteout) = try prepare(name)
            try u.mkdir(name, mode: mode)
            if hadWhiteout, let made = u.child(name) { try made.mknod(OverlayFS.opaqueMarker, mode: S_IFREG) }
        }
    }

    public override func mknod(_ name: String, mode: UInt32) throws(Errno) {
        try withDirectoryChange { () throws(Errno) in try prepare(name).0.mknod(name, mode: mode) }
    }

    public override func symlink(_ name: String, target: String) throws(Errno) {
        try withDirectoryChange { () throws(Errno) in try prepare(name).0.symlink(name, target: target) }
    }

    public override func link(_ name: String, to target: Inode) throws(Errno) {
        guard let t = target as? OverlayNode, t.fs === fs else { throw .EXDEV }
        try withDirectoryChange { () throws(Errno) in
            try t.copyUpLocked()
            guard let tu = t.upper else { throw .ENOENT }
            try prepare(name).0.link(name, to: tu)
        }
    }

    public override func unlink(_ name: String, directory: Bool) throws(Errno) {
        let victim = try child(name)
        try withDirectoryChange { () throws(Errno) in
            if directory {
                guard victim.kind == .directory else { throw .ENOTDIR }
                guard try victim.mergedEntries().isEmpty else { throw .ENOTEMPTY }
            } else if victim.kind == .directory {
                throw .EISDIR
            }
            let below = lowerHas(name)
            try copyUpLocked()
            guard let dir = upper else { throw .ENOENT }
            if let vu = victim.upper {
                if directory { try Self.clearMarkers(vu) }
                try dir.unlink(name, directory: directory)
            }
            if below { try dir.mknod(name, mode: S_IFCHR) }
            victim.state.withLock { $0.lower = nil }
            forget(name)
        }
    }

    /// Empties an upper directory of whiteouts and its opaque marker, so it can be removed.
    private static func clearMarkers(_ dir: TmpfsNode) throws(Errno) {
        for e in try dir.childEntries() where e.name == OverlayFS.opaqueMarker || e.kind == .character {
            try dir.unlink(e.name, directory: false)
        }
    }

    public override func rename(_ name: String, to newDir: Inode, _ newName: String, flags: UInt32) throws(Errno) {
        guard let nd = newDir as? OverlayNode, nd.fs === fs else { throw .EXDEV }
        let src = try child(name)
        let dst = try? nd.child(newName)
        if src === dst { return }
        if flags & 1 != 0 && dst != nil { throw .EEXIST }                       // RENAME_NOREPLACE
        if flags & 2 != 0 && (dst == nil || src.lower != nil || dst?.lower != nil) {
            throw dst == nil ? .ENOENT : .EXDEV                                   // RENAME_EXCHANGE: upper files only
        }
        // A directory with entries below would need redirect_dir: overlayfs says EXDEV too.
        if src.kind == .directory && src.lower != nil { throw .EXDEV }
        if let dst, flags & 2 == 0 {
            if src.kind == .directory && dst.kind != .directory { throw .ENOTDIR }
            if src.kind != .directory && dst.kind == .directory { throw .EISDIR }
            if dst.kind == .directory, try !dst.mergedEntries().isEmpty { throw .ENOTEMPTY }
        }
        try withDirectoryChange { () throws(Errno) in
            let srcBelow = lowerHas(name)
            let dstBelow = nd.lowerHas(newName)
            try src.copyUpLocked()
            let (to, _) = try nd.prepare(newName)
            try copyUpLocked()
            guard let from = upper else { throw .ENOENT }
            if let du = dst?.upper, du.kind == .directory { try Self.clearMarkers(du) }
            try from.rename(name, to: to, newName, flags: flags & 2)
            // What was below the new name stays hidden; the old name hides its own lower file.
            if dstBelow, src.kind == .directory, let moved = to.child(newName), !Self.isOpaque(moved) {
                try moved.mknod(OverlayFS.opaqueMarker, mode: S_IFREG)
            }
            if srcBelow { try from.mknod(name, mode: S_IFCHR) }
            src.state.withLock { $0.name = newName; $0.parent = nd; $0.lower = nil }
            forget(name)
            nd.forget(newName)
        }
    }

    public override func setAttributes(_ a: InodeAttributes) throws(Errno) {
        try copyUp()
        guard let u = upper else { throw .ENOENT }
        try u.setAttributes(a)
    }

    // Extended attributes: the top layer's; a change copies the file up first
    // (without the lower file's own attributes, which stay behind).
    public override func getxattr(_ name: String) throws(Errno) -> [UInt8] { try real().getxattr(name) }
    public override func listxattr(trusted: Bool) throws(Errno) -> [String] { try real().listxattr(trusted: trusted) }
    public override func setxattr(_ name: String, _ value: [UInt8], flags: Int32) throws(Errno) {
        try copyUp()
        guard let u = upper else { throw .ENOENT }
        try u.setxattr(name, value, flags: flags)
    }
    public override func removexattr(_ name: String) throws(Errno) {
        try copyUp()
        guard let u = upper else { throw .ENOENT }
        try u.removexattr(name)
    }
    // POSIX ACLs: the upper layer's (tmpfs) once copied up; a host lower file has none the sentry consults.
    public override var posixACLs: Bool { true }
    public override func posixACL(_ kind: PosixACL.Kind) -> PosixACL? { (try? real())?.posixACL(kind) }
    public override func setPosixACL(_ kind: PosixACL.Kind, _ acl: PosixACL?, mode: UInt32?) throws(Errno) {
        try copyUp()
        guard let u = upper else { throw .ENOENT }
        try u.setPosixACL(kind, acl, mode: mode)
    }
}
