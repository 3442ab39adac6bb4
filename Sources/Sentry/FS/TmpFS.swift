import CSwitch
import Glibc
import Synchronization

/// A filesystem in sentry memory (/tmp, /dev/shm). File contents live in the
/// memory file, so a MAP_SHARED mapping of a tmpfs file maps the file's own
/// pages and every mapping and every write(2) see the same bytes.
/// One lock guards the tree; each file's bytes have their own.
public final class TmpFS: Sendable {
    let memory: MemoryFile
    let device: UInt64
    /// Its size (`size=`): the pages its files may hold.
    let blocks: TmpfsBlocks
    private let inodes = Atomic<UInt64>(2)
    /// Held across a rename, as Linux holds s_vfs_rename_mutex: no two
    /// renames can race to put a directory inside itself.
    let renameLock = Mutex(())
    nonisolated(unsafe) var rootNode: TmpfsNode!

    /// `size`: bytes its files may hold, rounded down to pages; nil for no
    /// limit (memfd_create's files, which only the sandbox's memory bounds).
    public convenience init(memory: MemoryFile, device: UInt64, mode: UInt32 = 0o1777, size: UInt64? = nil) {
        self.init(memory: memory, device: device, mode: mode, size: size.map { DeferredLimit($0) })
    }

    /// `size` deferred: the default, half of a memory limit not yet read.
    init(memory: MemoryFile, device: UInt64, mode: UInt32 = 0o1777, size: DeferredLimit?) {
        self.memory = memory
        self.device = device
        self.blocks = TmpfsBlocks(size: size)
        rootNode = TmpfsNode(fs: self, ino: 1, mode: S_IFDIR | mode)
    }

    func nextInode() -> UInt64 { inodes.wrappingAdd(1, ordering: .relaxed).oldValue }
    /// The number the next inode takes (a checkpoint keeps it).
    var nextInodeNumber: UInt64 { inodes.load(ordering: .relaxed) }
    /// A restored tree's numbers: the next inode takes `n` or more, never
    /// one already given.
    func continueInodes(from n: UInt64) { _ = inodes.max(n, ordering: .relaxed) }

    static let magic = 0x01021994
    /// The size a tmpfs gets when none is given: half the sandbox's memory,
    /// as Linux's tmpfs takes half of RAM.
    static func defaultSize(_ memory: MemoryFile) -> DeferredLimit? {
        memory.hasLimit ? memory.deferredLimit.map { $0 / 2 } : nil
    }
}

/// The pages a tmpfs's files hold against its size, as shmem's
/// `max_blocks`/`used_blocks`: a file is charged for every page below its
/// size (the sentry keeps a file's bytes in one run, so a hole becomes
/// memory as soon as the run is copied; Linux charges holes only when
/// written). Writing or truncating past the size is ENOSPC.
final class TmpfsBlocks: Sendable {
    /// In bytes; nil: no limit.
    private let size: DeferredLimit?
    private let used = Mutex<UInt64>(0)
    init(size: DeferredLimit?) { self.size = size }

    /// The pages the files may hold; nil: no limit.
    var limit: UInt64? { size.map { $0.value / 4096 } }

    var usedPages: UInt64 { used.withLock { $0 } }

    /// Takes up to `pages` more: all of them, or with `partial` as many as
    /// are left. Returns how many were taken.
    func charge(_ pages: UInt64, partial: Bool = false) -> UInt64 {
        used.withLock { u in
            // Within the floor of a deferred size, its value is not read.
            let limit = size.map { s in
                let (total, o) = u.addingReportingOverflow(pages)
                return !o && total <= s.floor / 4096 ? s.floor / 4096 : s.value / 4096
            }
            let left = limit.map { $0 > u ? $0 - u : 0 } ?? .max
            let n = pages <= left ? pages : (partial ? left : 0)
            u += n
            return n
        }
    }

    func uncharge(_ pages: UInt64) { used.withLock { $0 -= min($0, pages) } }

    /// Pages below `size` (never negative; Int64.max + 4095 fits a UInt64).
    static func pages(_ size: Int64) -> UInt64 { (UInt64(max(size, 0)) + 4095) / 4096 }
}

/// One tmpfs file, directory, symlink or FIFO.
/// Sendable: metadata behind `meta`; contents behind TmpfsData's own lock; the rest immutable.
public final class TmpfsNode: Inode, @unchecked Sendable {
    let fs: TmpFS   // strong: a file outlives nothing but its filesystem
    let ino: UInt64
    private struct Meta {
        var mode: UInt32
        var uid: UInt32 = getuid()
        var gid: UInt32 = getgid()
        var links: UInt64 = 1
        /// An O_TMPFILE file opened without O_EXCL (I_LINKABLE): linkat may
        /// give it a name although it has no link; cleared once it has one.
        var linkable = false
        var atime = TmpfsNode.now(), mtime = TmpfsNode.now(), ctime = TmpfsNode.now()
        var children: [ExactName: TmpfsNode] = [:]
        var xattrs: [ExactName: [UInt8]] = [:]
    }
    private let meta: Mutex<Meta>
    /// Regular files: the bytes.
    let data: TmpfsData?
    /// Symlinks: the target.
    let target: String?
    /// FIFOs: the pipe every open shares.
    let fifo: Pipe?

    init(fs: TmpFS, ino: UInt64, mode: UInt32, target: String? = nil) {
        self.fs = fs; self.ino = ino
        meta = Mutex(Meta(mode: mode, links: mode & S_IFMT == S_IFDIR ? 2 : 1))
        data = mode & S_IFMT == S_IFREG ? TmpfsData(memory: fs.memory, blocks: fs.blocks) : nil
        self.target = target
        fifo = mode & S_IFMT == S_IFIFO ? Pipe() : nil
        super.init()
    }

    static func now() -> timespec { var t = timespec(); clock_gettime(CLOCK_REALTIME, &t); return t }

    public override var kind: FileKind { FileKind(mode: meta.withLock { $0.mode }) }

    // Extended attributes in the user, trusted and security namespaces,
    // kept with the inode (simple_xattr); the caller checked permissions.
    static let xattrNamespaces = ["user.", "trusted.", "security."]

    public override func getxattr(_ name: String) throws(Errno) -> [UInt8] {
        guard Self.xattrNamespaces.contains(where: { name.hasPrefix($0) }) else { throw .EOPNOTSUPP }
        guard let v = meta.withLock({ $0.xattrs[ExactName(name)] }) else { throw .ENODATA }
        return v
    }

    public override func listxattr(trusted: Bool) throws(Errno) -> [String] {
        meta.withLock { m in m.xattrs.keys.map(\.name).filter { trusted || !$0.hasPrefix("trusted.") }.sorted() }
    }

    public override func setxattr(_ name: String, _ value: [UInt8], flags: Int32) throws(Errno) {
        guard Self.xattrNamespaces.contains(where: { name.hasPrefix($0) }) else { throw .EOPNOTSUPP }
        try meta.withLock { (m: inout Meta) throws(Errno) in
            let exists = m.xattrs[ExactName(name)] != nil
            if flags & 1 != 0 && exists { throw .EEXIST }        // XATTR_CREATE
            if flags & 2 != 0 && !exists { throw .ENODATA }      // XATTR_REPLACE
            m.xattrs[ExactName(name)] = value
            m.ctime = TmpfsNode.now()
        }
    }

    public override func removexattr(_ name: String) throws(Errno) {
        guard Self.xattrNamespaces.contains(where: { name.hasPrefix($0) }) else { throw .EOPNOTSUPP }
        try meta.withLock { (m: inout Meta) throws(Errno) in
            guard m.xattrs.removeValue(forKey: ExactName(name)) != nil else { throw .ENODATA }
            m.ctime = TmpfsNode.now()
        }
    }

    // POSIX ACLs (shmem's simple_set_acl), kept as their xattr values so
    // that listxattr names them and a checkpoint keeps them.
    private static func aclKey(_ kind: PosixACL.Kind) -> ExactName {
        ExactName(kind == .access ? PosixACL.accessName : PosixACL.defaultName)
    }
    public override var posixACLs: Bool { true }
    public override func posixACL(_ kind: PosixACL.Kind) -> PosixACL? {
        guard let b = meta.withLock({ $0.xattrs[Self.aclKey(kind)] }) else { return nil }
        return try? PosixACL.parse(b)
    }
    public override func setPosixACL(_ kind: PosixACL.Kind, _ acl: PosixACL?, mode: UInt32?) throws(Errno) {
        meta.withLock { m in
            m.xattrs[Self.aclKey(kind)] = acl?.bytes
            if let mode { m.mode = (m.mode & S_IFMT) | (mode & 0o7777) }
            m.ctime = TmpfsNode.now()
        }
    }

    public override func stat() throws(Errno) -> Glibc.stat {
        let m = meta.withLock { $0 }
        let size: Int64 = data?.size ?? Int64(target?.rawBytes.count ?? (m.mode & S_IFMT == S_IFDIR ? 40 + 20 * m.children.count : 0))
        var st = Glibc.stat.synthetic(mode: m.mode, inode: ino, device: fs.device, size: size, links: m.links)
        st.st_uid = m.uid; st.st_gid = m.gid
        st.st_atim = m.atime; st.st_mtim = m.mtime; st.st_ctim = m.ctime
        st.st_blocks = data == nil ? 0 : Int((size + 4095) / 4096 * 8)   // whole pages, as shmem counts them
        return st
    }

    public override func statfs() throws(Errno) -> sw_statfs {
        var s = sw_statfs()
        s.f_type = TmpFS.magic
        s.f_bsize = 4096
        s.f_frsize = 4096
        s.f_namelen = 255
        // shmem_statfs: the size and what is left of it.
        s.f_blocks = UInt(fs.blocks.limit ?? fs.memory.size / 4096)
        s.f_bfree = s.f_blocks - min(s.f_blocks, UInt(fs.blocks.usedPages)); s.f_bavail = s.f_bfree
        s.f_files = 1 << 20; s.f_ffree = s.f_files
        return s
    }

    public override func lookup(_ name: String, _ ctx: WalkContext) throws(Errno) -> Inode {
        try meta.withLock { (m: inout Meta) throws(Errno) -> Inode in
            guard m.mode & S_IFMT == S_IFDIR else { throw .ENOTDIR }
            guard let c = m.children[ExactName(name)] else { throw .ENOENT }
            return c
        }
    }

    public override func entries(_ ctx: WalkContext) throws(Errno) -> [DirEntry] { try childEntries() }

    func childEntries() throws(Errno) -> [DirEntry] {
        try meta.withLock { (m: inout Meta) throws(Errno) -> [DirEntry] in
            guard m.mode & S_IFMT == S_IFDIR else { throw .ENOTDIR }
            return m.children.sorted { $0.key.name < $1.key.name }.map { DirEntry($0.key.name, $0.value.kind, inode: $0.value.ino) }
        }
    }

    public override func readlink(_ ctx: WalkContext) throws(Errno) -> String {
        guard let target else { throw .EINVAL }
        return target
    }

    public override func open(_ flags: OpenFlags, at location: Location, _ ctx: WalkContext) throws(Errno) -> FileDescription {
        switch kind {
        case .directory:
            return SyntheticDirectory(location: location, flags: flags) { [self] () throws(Errno) -> [DirEntry] in try entries(ctx) }
        case .fifo:
            guard let fifo, !flags.contains(.path) else { return PathOnlyFile(location: location, flags: flags) }
            return try PipeEnd.openFIFO(fifo, flags: flags)
        case .regular:
            if flags.contains(.path) { return PathOnlyFile(location: location, flags: flags) }
            if flags.contains(.truncate) && flags.writable { try setAttributes({ var a = InodeAttributes(); a.size = 0; return a }()) }
            return TmpfsFile(node: self, location: location, flags: flags)
        default:
            return PathOnlyFile(location: location, flags: flags)
        }
    }

    // MARK: Directory operations

    /// Adds a child; `body` makes it once the name is known to be free.
    private func add(_ name: String, _ make: () -> TmpfsNode) throws(Errno) -> TmpfsNode {
        try meta.withLock { (m: inout Meta) throws(Errno) -> TmpfsNode in
            guard m.mode & S_IFMT == S_IFDIR else { throw .ENOTDIR }
            guard m.links > 0 else { throw .ENOENT }   // a removed directory takes no new entries
            guard m.children[ExactName(name)] == nil else { throw .EEXIST }
            guard name.rawBytes.count <= 255 else { throw .ENAMETOOLONG }
            let c = make()
            m.children[ExactName(name)] = c
            if c.kind == .directory { m.links += 1 }
            m.mtime = Self.now(); m.ctime = m.mtime
            return c
        }
    }

    private func newNode(_ mode: UInt32, target: String? = nil) -> TmpfsNode {
        TmpfsNode(fs: fs, ino: fs.nextInode(), mode: mode, target: target)
    }

    public override func create(_ name: String, mode: UInt32, flags: OpenFlags, in dir: Location, _ ctx: WalkContext) throws(Errno) -> FileDescription {
        let node = try add(name) { newNode(S_IFREG | (mode & 0o7777)) }
        return TmpfsFile(node: node, location: dir.child(name, node), flags: flags)
    }

    /// Names the node has (0: unlinked while open, or an O_TMPFILE file).
    var linkCount: UInt32 { UInt32(meta.withLock { $0.links }) }
    /// Whether linkat may name it again (an O_TMPFILE file made without O_EXCL).
    var linkable: Bool { meta.withLock { $0.linkable } }

    /// An unlinked file with `links` 0 and `linkable` as given, for a restore
    /// of one that was open (or mapped) at the checkpoint.
    func makeOrphan(linkable: Bool) { meta.withLock { $0.links = 0; $0.linkable = linkable } }

    public override func tmpfile(mode: UInt32, flags: OpenFlags, in dir: Location, _ ctx: WalkContext) throws(Errno) -> FileDescription {
        guard kind == .directory else { throw .ENOTDIR }
        let node = newNode(S_IFREG | (mode & 0o7777))
        node.meta.withLock { $0.links = 0; $0.linkable = !flags.contains(.exclusive) }
        // d_tmpfile's name, "#" and the inode number, never in the directory.
        let location = Location(mount: dir.mount, dentry: dir.dentry.detachedChild("#\(node.ino)", node, deleted: true))
        return TmpfsFile(node: node, location: location, flags: flags)
    }

    public override func mkdir(_ name: String, mode: UInt32) throws(Errno) {
        _ = try add(name) { newNode(S_IFDIR | (mode & 0o7777)) }
    }

    public override func mknod(_ name: String, mode: UInt32) throws(Errno) {
        _ = try add(name) { newNode(mode) }
    }

    public override func symlink(_ name: String, target: String) throws(Errno) {
        _ = try add(name) { newNode(S_IFLNK | 0o777, target: target) }
    }

    public override func link(_ name: String, to target: Inode) throws(Errno) {
        guard let t = target as? TmpfsNode, t.fs === fs else { throw .EXDEV }
        guard t.kind != .directory else { throw .EPERM }
        // vfs_link: a file with no link left (unlinked while open) cannot
        // get one back, but an O_TMPFILE file made without O_EXCL can, once.
        try t.meta.withLock { (m: inout Meta) throws(Errno) in if m.links == 0 && !m.linkable { throw .ENOENT } }
        _ = try add(name) { t }
        t.meta.withLock { $0.links += 1; $0.linkable = false; $0.ctime = Self.now() }
    }

    public override func unlink(_ name: String, directory: Bool) throws(Errno) {
        let removed = try meta.withLock { (m: inout Meta) throws(Errno) -> TmpfsNode in
            guard m.mode & S_IFMT == S_IFDIR else { throw .ENOTDIR }
            guard let c = m.children[ExactName(name)] else { throw .ENOENT }
            if directory {
                guard c.kind == .directory else { throw .ENOTDIR }
                guard c.meta.withLock({ $0.children.isEmpty }) else { throw .ENOTEMPTY }
                m.links -= 1
            } else if c.kind == .directory {
                throw .EISDIR
            }
            m.children[ExactName(name)] = nil
            m.mtime = Self.now(); m.ctime = m.mtime
            return c
        }
        let wasDirectory = removed.kind == .directory
        removed.meta.withLock { $0.links = wasDirectory ? 0 : $0.links - 1; $0.ctime = Self.now() }
    }

    public override func rename(_ name: String, to newDir: Inode, _ newName: String, flags: UInt32) throws(Errno) {
        guard let nd = newDir as? TmpfsNode, nd.fs === fs else { throw .EXDEV }
        guard newName.rawBytes.count <= 255 else { throw .ENAMETOOLONG }
        try fs.renameLock.withLock { (_: inout ()) throws(Errno) in
            guard let src = child(name) else { throw .ENOENT }
            let dst = nd.child(newName)
            if flags & 1 != 0 && dst != nil { throw .EEXIST }   // RENAME_NOREPLACE
            if src === dst { return }   // two names of one file: nothing to do, as POSIX says
            if src.kind == .directory && nd.isInside(src) { throw .EINVAL }
            if flags & 2 != 0 {   // RENAME_EXCHANGE
                guard let dst else { throw .ENOENT }
                if dst.kind == .directory && self.isInside(dst) { throw .EINVAL }
                meta.withLock { $0.children[ExactName(name)] = dst }
                nd.meta.withLock { $0.children[ExactName(newName)] = src }
                return
            }
            if let dst {
                if src.kind == .directory {
                    guard dst.kind == .directory else { throw .ENOTDIR }
                    guard dst.meta.withLock({ $0.children.isEmpty }) else { throw .ENOTEMPTY }
                } else if dst.kind == .directory {
                    throw .EISDIR
                }
            }
            // A moved directory's ".." moves with it; a replaced one is gone.
            let dirMoved = src.kind == .directory && (nd !== self || dst != nil)
            meta.withLock {
                $0.children[ExactName(name)] = nil
                if dirMoved { $0.links -= 1 }
                $0.mtime = Self.now(); $0.ctime = $0.mtime
            }
            if let dst {
                let dstDirectory = dst.kind == .directory
                dst.meta.withLock { $0.links = dstDirectory ? 0 : $0.links - 1 }
            }
            nd.meta.withLock {
                if src.kind == .directory && nd !== self && dst == nil { $0.links += 1 }
                $0.children[ExactName(newName)] = src; $0.mtime = Self.now(); $0.ctime = $0.mtime
            }
        }
    }

    /// Whether this directory is `dir` or lies beneath it.
    private func isInside(_ dir: TmpfsNode) -> Bool {
        if self === dir { return true }
        for c in dir.meta.withLock({ Array($0.children.values) }) where c.kind == .directory {
            if isInside(c) { return true }
        }
        return false
    }

    func child(_ name: String) -> TmpfsNode? { meta.withLock { $0.children[ExactName(name)] } }

    public override func setAttributes(_ a: InodeAttributes) throws(Errno) {
        if let size = a.size {
            guard let data else { throw kind == .directory ? .EISDIR : .EINVAL }
            try data.truncate(size)
        }
        meta.withLock { m in
            if let mode = a.mode {
                m.mode = (m.mode & S_IFMT) | (mode & 0o7777)
                // posix_acl_chmod: the access ACL follows the new mode.
                let key = Self.aclKey(.access)
                if let b = m.xattrs[key], var acl = try? PosixACL.parse(b) {
                    acl.chmod(m.mode)
                    m.xattrs[key] = acl.bytes
                }
            }
            if let u = a.uid { m.uid = u }
            if let g = a.gid { m.gid = g }
            if let t = a.atime { m.atime = t }
            if let t = a.mtime { m.mtime = t } else if a.size != nil { m.mtime = Self.now() }
            m.ctime = Self.now()
        }
    }

    func touch(modified: Bool) { meta.withLock { if modified { $0.mtime = Self.now(); $0.ctime = $0.mtime } else { $0.atime = Self.now() } } }
}

/// The bytes of a tmpfs file: one run of the memory file, regrown by
/// doubling. A run that a MAP_SHARED mapping holds is never moved: growth
/// past it allocates afresh and the old mappings keep the old pages (a
/// difference from Linux, where the page cache has no such runs).
/// Sendable: the run, size and seals behind `run`.
final class TmpfsData: @unchecked Sendable {
    let memory: MemoryFile
    private struct Run {
        var offset: UInt64 = 0, capacity: UInt64 = 0, size: Int64 = 0
        /// memfd seals (F_SEAL_*): a file that may not be sealed has F_SEAL_SEAL.
        var seals = Seals.seal
    }
    private let run = Mutex(Run())

    /// fcntl's F_SEAL_* bits (Linux 6.1 knows these five).
    enum Seals {
        static let seal: UInt32 = 1, shrink: UInt32 = 2, grow: UInt32 = 4, write: UInt32 = 8, futureWrite: UInt32 = 16
        static let all: UInt32 = 0x1f
    }
    var seals: UInt32 { run.withLock { $0.seals } }

    /// F_ADD_SEALS after its checks (EPERM once sealed; `writablyMapped`:
    /// F_SEAL_WRITE fails with EBUSY). The mapping scan takes the memory
    /// managers' locks, which rank above this leaf lock, so it runs first,
    /// outside it.
    func addSeals(_ add: UInt32, writablyMapped: Bool) throws(Errno) {
        try run.withLock { (r: inout Run) throws(Errno) in
            guard add & ~Seals.all == 0 else { throw .EINVAL }
            guard r.seals & Seals.seal == 0 else { throw .EPERM }
            if add & Seals.write != 0 && r.seals & Seals.write == 0 && writablyMapped { throw .EBUSY }
            r.seals |= add
        }
    }

    /// memfd_create(MFD_ALLOW_SEALING): a file that starts unsealed.
    func allowSealing() { run.withLock { $0.seals = 0 } }

    /// Where the bytes are: the memory-file run and the size (a
    /// checkpoint keeps a shared-mapped file's run as memory, not a copy).
    var layout: (offset: UInt64, capacity: UInt64, size: Int64) { run.withLock { ($0.offset, $0.capacity, $0.size) } }

    /// Restore: this empty file takes `capacity` bytes at memory-file offset
    /// `offset` (their one reference handed over), `size` of them its bytes.
    func adopt(offset: UInt64, capacity: UInt64, size: Int64) throws(Errno) {
        guard size >= 0, UInt64(size) <= capacity else { throw .EINVAL }
        guard blocks.charge(TmpfsBlocks.pages(size)) == TmpfsBlocks.pages(size) else { throw .ENOSPC }
        run.withLock { r in
            if r.capacity > 0 { memory.free(r.offset, r.capacity) }
            r.offset = offset; r.capacity = capacity; r.size = size
        }
    }

    /// Restore: the seals as they were (F_SEAL_* bits only).
    func restoreSeals(_ seals: UInt32) { run.withLock { $0.seals = seals & Seals.all } }

    let blocks: TmpfsBlocks
    init(memory: MemoryFile, blocks: TmpfsBlocks) { self.memory = memory; self.blocks = blocks }
    deinit {
        let r = run.withLock { $0 }
        if r.capacity > 0 { memory.free(r.offset, r.capacity) }
        blocks.uncharge(TmpfsBlocks.pages(r.size))
    }

    var size: Int64 { run.withLock { $0.size } }

    private func ensure(_ r: inout Run, _ needed: UInt64) throws(Errno) {
        guard needed > r.capacity else { return }
        guard needed <= memory.size / 2 else { throw .EFBIG }
        var cap = max(r.capacity * 2, 16384)
        while cap < needed { cap *= 2 }
        let off = try memory.allocate(cap)
        if r.capacity > 0 {
            memcpy(memory.pointer(off), memory.pointer(r.offset), Int(r.size))
            memory.free(r.offset, r.capacity)
        }
        r.offset = off; r.capacity = cap
    }

    func read(into bufs: [UnsafeMutableRawBufferPointer], at offset: Int64) -> Int {
        run.withLock { r in
            var at = offset, total = 0
            for b in bufs where at < r.size {
                let n = Int(min(Int64(b.count), r.size - at))
                memcpy(b.baseAddress!, memory.pointer(r.offset + UInt64(at)), n)
                at += Int64(n); total += n
                if n < b.count { break }
            }
            return total
        }
    }

    func write(from bufs: [UnsafeRawBufferPointer], at offset: Int64?) throws(Errno) -> (Int, Int64) {
        try run.withLock { (r: inout Run) throws(Errno) -> (Int, Int64) in
            let start = offset ?? r.size   // nil: O_APPEND
            let total = bufs.reduce(0) { $0 + $1.count }
            // Past the largest file offset: EFBIG, as generic_write_checks says.
            let (end, o) = start.addingReportingOverflow(Int64(total))
            guard !o else { throw .EFBIG }
            if r.seals & (Seals.write | Seals.futureWrite) != 0 { throw .EPERM }
            if r.seals & Seals.grow != 0 && end > r.size { throw .EPERM }
            // Past the tmpfs's size: what fits is written, then ENOSPC.
            var stop = end
            if end > r.size {
                let have = TmpfsBlocks.pages(r.size), want = TmpfsBlocks.pages(end) - have
                let got = blocks.charge(want, partial: true)
                if got < want {
                    stop = min(end, Int64(clamping: (have + got) * 4096))
                    if stop <= start {
                        blocks.uncharge(got)
                        throw .ENOSPC
                    }
                }
            }
            do throws(Errno) { try ensure(&r, UInt64(stop)) } catch {
                if stop > r.size { blocks.uncharge(TmpfsBlocks.pages(stop) - TmpfsBlocks.pages(r.size)) }
                throw error
            }
            var at = start
            for b in bufs where b.count > 0 && at < stop {
                let n = Int(min(Int64(b.count), stop - at))
                memcpy(memory.pointer(r.offset + UInt64(at)), b.baseAddress!, n)
                at += Int64(n)
            }
            r.size = max(r.size, stop)
            return (Int(stop - start), stop)
        }
    }

    func truncate(_ size: Int64) throws(Errno) {
        guard size >= 0 else { throw .EINVAL }
        try run.withLock { (r: inout Run) throws(Errno) in
            if (size < r.size && r.seals & Seals.shrink != 0) || (size > r.size && r.seals & Seals.grow != 0) { throw .EPERM }
            if size < r.size {
                // The cut-off tail reads back as zeros if the file grows again.
                let from = UInt64(size), to = UInt64(r.size)
                memset(memory.pointer(r.offset + from), 0, Int(to - from))
                blocks.uncharge(TmpfsBlocks.pages(r.size) - TmpfsBlocks.pages(size))
            } else if size > r.size {
                let want = TmpfsBlocks.pages(size) - TmpfsBlocks.pages(r.size)
                guard blocks.charge(want) == want else { throw .ENOSPC }
                do throws(Errno) { try ensure(&r, UInt64(size)) } catch { blocks.uncharge(want); throw error }
            }
            r.size = size
        }
    }

    /// The memory-file offset of file offset `offset`, with `length` bytes
    /// behind it allocated, retained for a shared mapping.
    func sharedPages(offset: UInt64, length: UInt64) throws(Errno) -> UInt64 {
        let (end, o) = offset.addingReportingOverflow(length)
        guard !o, end <= UInt64(Int64.max) else { throw .EOVERFLOW }
        return try run.withLock { (r: inout Run) throws(Errno) -> UInt64 in
            try ensure(&r, end)
            memory.retain(r.offset + offset, length)
            return r.offset + offset
        }
    }
}

/// An open tmpfs regular file.
/// Sendable: the file position behind its Mutex.
final class TmpfsFile: FileDescription, @unchecked Sendable {
    let node: TmpfsNode
    private let position = Mutex<Int64>(0)

    init(node: TmpfsNode, location: Location, flags: OpenFlags) {
        self.node = node
        super.init(flags: flags)
        self.location = location
    }

    /// Pages of the memory file, copied under the file's own lock.
    override var transfersInPlace: Bool { true }

    override func read(into bufs: [UnsafeMutableRawBufferPointer]) throws(Errno) -> Int {
        guard flags.readable else { throw .EBADF }
        return position.withLock { p in
            let n = node.data!.read(into: bufs, at: p)
            p += Int64(n)
            return n
        }
    }

    override func pread(into bufs: [UnsafeMutableRawBufferPointer], at offset: Int64) throws(Errno) -> Int {
        guard flags.readable else { throw .EBADF }
        guard offset >= 0 else { throw .EINVAL }
        return node.data!.read(into: bufs, at: offset)
    }

    override func write(from bufs: [UnsafeRawBufferPointer]) throws(Errno) -> Int {
        guard flags.writable else { throw .EBADF }
        let append = flags.contains(.append)
        let n = try position.withLock { (p: inout Int64) throws(Errno) -> Int in
            let (n, end) = try node.data!.write(from: bufs, at: append ? nil : p)
            p = end
            return n
        }
        node.touch(modified: true)
        return n
    }

    override func pwrite(from bufs: [UnsafeRawBufferPointer], at offset: Int64) throws(Errno) -> Int {
        guard flags.writable else { throw .EBADF }
        guard offset >= 0 else { throw .EINVAL }
        // Linux: pwrite on an O_APPEND file appends.
        let n = try node.data!.write(from: bufs, at: flags.contains(.append) ? nil : offset).0
        node.touch(modified: true)
        return n
    }

    override func seek(_ offset: Int64, whence: Int32) throws(Errno) -> Int64 {
        let size = node.data!.size
        return try position.withLock { (p: inout Int64) throws(Errno) -> Int64 in
            let base: Int64
            switch whence {
            case SEEK_SET: base = 0
            case SEEK_CUR: base = p
            case SEEK_END: base = size
            case 3:  // SEEK_DATA: all of a tmpfs file is data
                guard offset >= 0, offset < size else { throw .ENXIO }
                p = offset; return p
            case 4:  // SEEK_HOLE: the only hole is past the end
                guard offset >= 0, offset < size else { throw .ENXIO }
                p = size; return p
            default: throw .EINVAL
            }
            let (n, o) = base.addingReportingOverflow(offset)
            guard !o, n >= 0 else { throw .EINVAL }
            p = n
            return p
        }
    }

    override func stat() throws(Errno) -> Glibc.stat { try node.stat() }
    override func mappable() throws(Errno) -> FileMapping? { TmpfsMapping(node: node, path: displayPath, openedAt: location) }
}

/// What mmap keeps of a tmpfs file.
/// Sendable: only `let`s; the node guards its pages.
final class TmpfsMapping: FileMapping, @unchecked Sendable {
    let node: TmpfsNode
    let path: String
    var device: UInt64 { node.fs.device }
    var inode: UInt64 { node.ino }
    let openedAt: Location?
    init(node: TmpfsNode, path: String, openedAt: Location? = nil) { self.node = node; self.path = path; self.openedAt = openedAt }

    func copy(offset: UInt64, length: UInt64, into memory: MemoryFile, at: UInt64) throws(Errno) {
        // An offset no file reaches maps zeros (the run reads as zeros already).
        guard offset <= UInt64(Int64.max), length <= UInt64(Int.max) else { return }
        _ = node.data!.read(into: [UnsafeMutableRawBufferPointer(start: memory.pointer(at), count: Int(length))], at: Int64(offset))
    }

    func sharedPages(offset: UInt64, length: UInt64) throws(Errno) -> UInt64? {
        try node.data!.sharedPages(offset: offset, length: length)
    }

    func currentSize() -> UInt64? { UInt64(max(0, node.data!.size)) }
}

extension Task {
    /// F_ADD_SEALS: tmpfs and memfd files only (EINVAL for others), opened
    /// for writing (EPERM); F_SEAL_WRITE is EBUSY while any process maps the
    /// file shared and writable, as mapping_deny_writable finds.
    public func addSeals(_ f: FileDescription, _ seals: UInt32) throws(Errno) {
        guard let file = f as? TmpfsFile, let data = file.node.data else { throw .EINVAL }
        guard f.flags.writable else { throw .EPERM }
        let mms = kernel.locked { kernel.tasks.values.map(\.mm) }
        let writablyMapped = seals & TmpfsData.Seals.write != 0 && mms.contains { mm in
            mm.vmas.contains { v in
                guard v.shared, v.maxProt.contains(.write), case .file(let m as TmpfsMapping, _) = v.backing else { return false }
                return m.node.data === data
            }
        }
        try data.addSeals(seals, writablyMapped: writablyMapped)
    }

    /// F_GET_SEALS.
    public func seals(of f: FileDescription) throws(Errno) -> UInt32 {
        guard let file = f as? TmpfsFile, let data = file.node.data else { throw .EINVAL }
        return data.seals
    }
}

// MARK: - Checkpoint

/// The regular files with more than one name met in one walk of a tree, by
/// inode number: a checkpoint keeps such a file's node at its first name and
/// makes each other name a link to that number, which a restore follows.
final class TmpfsHardLinks {
    var written = Set<ObjectIdentifier>()
    var restored: [UInt64: TmpfsNode] = [:]
}

extension TmpfsNode {
    /// This node and everything below it, as a checkpoint keeps them; file
    /// bytes go through `store`. Refuses what a restore could not rebuild
    /// the same: FIFOs and devices. A socket node is a name alone: the
    /// socket bound there is the image's, bound to it again. A file's
    /// second and later names (in `links`' walk order) are links to its number.
    /// `overlayUpper`: an --overlay's upper layer, whose character nodes are
    /// whiteouts (no guest can make a device there).
    func checkpointImage(name: String, path: String, inMemory: (TmpfsData) -> Bool = { _ in false }, overlayUpper: Bool = false,
                         links: TmpfsHardLinks = TmpfsHardLinks(),
                         store: ([UInt8]) throws(CheckpointError) -> StoredRun) throws(CheckpointError) -> TmpfsNodeImage {
        let m = meta.withLock { $0 }
        let type = m.mode & S_IFMT
        guard type == S_IFREG || type == S_IFDIR || type == S_IFLNK || type == S_IFSOCK || (overlayUpper && type == S_IFCHR) else {
            throw .unsupported("tmpfs \(path): a FIFO or device node")
        }
        if type == S_IFREG && m.links > 1 && !links.written.insert(ObjectIdentifier(self)).inserted {
            return TmpfsNodeImage(name: name, mode: m.mode, uid: m.uid, gid: m.gid, mtime: m.mtime, atime: m.atime, xattrs: [:],
                                  contents: nil, target: nil, children: [], link: ino)
        }
        var contents: StoredRun?
        var memoryRun: TmpfsNodeImage.MemoryRun?
        if let data, inMemory(data) {
            // Mapped shared: its pages are in the page store with the mappings'.
            let l = data.layout
            memoryRun = .init(offset: l.offset, capacity: l.capacity, size: l.size)
        } else if let data {
            let size = Int(data.size)
            var bytes = [UInt8](repeating: 0, count: size)
            if size > 0 { _ = bytes.withUnsafeMutableBytes { data.read(into: [$0], at: 0) } }
            contents = try store(bytes)
        }
        var children: [TmpfsNodeImage] = []
        for (n, c) in m.children.sorted(by: { $0.key.name < $1.key.name }) {
            let image = try c.checkpointImage(name: n.name, path: path == "/" ? "/" + n.name : path + "/" + n.name, inMemory: inMemory,
                                              overlayUpper: overlayUpper, links: links, store: store)
            children.append(image)
        }
        var xattrs: [String: [UInt8]] = [:]
        for (k, v) in m.xattrs { xattrs[k.name] = v }
        return TmpfsNodeImage(name: name, mode: m.mode, uid: m.uid, gid: m.gid, mtime: m.mtime, atime: m.atime, xattrs: xattrs,
                              contents: contents, memory: memoryRun, target: target, children: children, ino: ino)
    }

    /// A path from this directory to `node` (names, in sorted order): where
    /// a file unlinked from the name it was opened by is linked still.
    func names(to node: TmpfsNode) -> [String]? {
        let children = meta.withLock { $0.children }
        for (n, c) in children.sorted(by: { $0.key.name < $1.key.name }) {
            if c === node { return [n.name] }
            if c.kind == .directory, let rest = c.names(to: node) { return [n.name] + rest }
        }
        return nil
    }

    /// A regular file's bytes: copied from the image's data file, or, for a
    /// file mapped shared, the run of restored memory its mappings share.
    func restoreContents(_ c: TmpfsNodeImage, read: (StoredRun) throws(CheckpointError) -> [UInt8],
                         place: (TmpfsNodeImage.MemoryRun) throws(CheckpointError) -> UInt64) throws(CheckpointError) {
        guard let data else { return }
        if let m = c.memory {
            let at = try place(m)
            do { try data.adopt(offset: at, capacity: m.capacity, size: m.size) }
            catch { throw .restoreFailed("tmpfs file \(c.name): \(error.message)") }
        } else if let run = c.contents {
            let bytes = try read(run)
            if !bytes.isEmpty {
                let written: Errno? = bytes.withUnsafeBytes { b in
                    do throws(Errno) { _ = try data.write(from: [b], at: 0); return nil } catch { return error }
                }
                if let written { throw .restoreFailed("tmpfs file \(c.name): \(written.message)") }
            }
        }
    }

    /// Rebuilds `image`'s children under this (empty, fresh) directory, and
    /// this directory's own attributes.
    /// `overlayUpper`: an --overlay's upper layer, which may hold whiteouts
    /// (character nodes) and opaque markers (a regular child named "").
    func restore(_ image: TmpfsNodeImage, read: (StoredRun) throws(CheckpointError) -> [UInt8],
                 place: (TmpfsNodeImage.MemoryRun) throws(CheckpointError) -> UInt64, overlayUpper: Bool = false,
                 links: TmpfsHardLinks = TmpfsHardLinks()) throws(CheckpointError) {
        for c in image.children {
            if let target = c.link {
                // Another name of a file restored earlier in the walk.
                guard !c.name.isEmpty, c.name != ".", c.name != "..", !c.name.contains("/"), c.name.utf8.count <= 255,
                      c.contents == nil, c.memory == nil, c.children.isEmpty, c.target == nil, c.ino == nil,
                      let node = links.restored[target], meta.withLock({ $0.children[ExactName(c.name)] }) == nil else {
                    throw .corrupt("a tmpfs hard link '\(c.name)' to inode \(target)")
                }
                meta.withLock { $0.children[ExactName(c.name)] = node }
                node.meta.withLock { $0.links += 1 }
                continue
            }
            let t = c.mode & S_IFMT
            let marker = overlayUpper && c.name.isEmpty && t == S_IFREG && c.contents?.length ?? 0 == 0 && c.memory == nil
            guard marker || !c.name.isEmpty, c.name != ".", c.name != "..", !c.name.contains("/"), c.name.utf8.count <= 255 else {
                throw .corrupt("a tmpfs name '\(c.name)'")
            }
            guard t == S_IFREG || t == S_IFDIR || t == S_IFLNK || t == S_IFSOCK || (overlayUpper && t == S_IFCHR), (t == S_IFLNK) == (c.target != nil),
                  t == S_IFDIR || c.children.isEmpty else { throw .corrupt("tmpfs node '\(c.name)'") }
            // A directory the new sandbox made already (a bind's mount point): filled, not replaced.
            if let existing = meta.withLock({ $0.children[ExactName(c.name)] }) {
                guard t == S_IFDIR, existing.kind == .directory else { throw .corrupt("tmpfs name '\(c.name)' twice") }
                try existing.restore(c, read: read, place: place, overlayUpper: overlayUpper, links: links)
                continue
            }
            // Its number from the image (checked unique by the restore), else a new one.
            let node = TmpfsNode(fs: fs, ino: c.ino ?? fs.nextInode(), mode: c.mode, target: c.target)
            if let i = c.ino {
                fs.continueInodes(from: i + 1)
                if t == S_IFREG { links.restored[i] = node }
            }
            try node.restoreContents(c, read: read, place: place)
            try node.restore(c, read: read, place: place, overlayUpper: overlayUpper, links: links)
            meta.withLock { m in
                m.children[ExactName(c.name)] = node
                if node.kind == .directory { m.links += 1 }
            }
        }
        meta.withLock { m in
            m.mode = (m.mode & S_IFMT) | (image.mode & 0o7777); m.uid = image.uid; m.gid = image.gid
            m.mtime = timespec(tv_sec: Int(image.mtimeSec), tv_nsec: Int(image.mtimeNsec))
            m.atime = timespec(tv_sec: Int(image.atimeSec), tv_nsec: Int(image.atimeNsec))
            m.xattrs = [:]
            for (k, v) in image.xattrs { m.xattrs[ExactName(k)] = v }
        }
    }
}
