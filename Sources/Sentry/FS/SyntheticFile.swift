import CSwitch
import Glibc
import Synchronization

// Nodes and open files the sentry makes up itself (/proc, /dev): each
// answers from closures run when it is looked up, read or listed.

/// A stable inode number for a made-up node, from its path.
func syntheticInode(_ path: String) -> UInt64 {
    var h: UInt64 = 0xcbf29ce484222325   // FNV-1a
    for b in path.utf8 { h = (h ^ UInt64(b)) &* 0x100000001b3 }
    return (h & 0xffff_ffff) | 0x1000
}

/// A directory whose entries and children are computed.
/// Sendable: only `let`s; the closures read kernel state under its locks.
final class SyntheticDirNode: Inode, @unchecked Sendable {
    let device: UInt64
    let ino: UInt64
    let mode: UInt32
    let list: (WalkContext) throws(Errno) -> [DirEntry]
    let child: (String, WalkContext) throws(Errno) -> Inode
    let owner: FileOwner?

    init(path: String, device: UInt64, mode: UInt32 = 0o555, owner: FileOwner? = nil,
         list: @escaping (WalkContext) throws(Errno) -> [DirEntry],
         child: @escaping (String, WalkContext) throws(Errno) -> Inode) {
        self.device = device; self.ino = syntheticInode(path); self.mode = mode; self.list = list; self.child = child
        self.owner = owner
    }

    override var kind: FileKind { .directory }
    override func stat() throws(Errno) -> Glibc.stat { .synthetic(mode: S_IFDIR | mode, inode: ino, device: device, links: 2, owner: owner) }
    override func statfs() throws(Errno) -> sw_statfs { syntheticStatfs(device == ProcFS.device ? 0x9fa0 : TmpFS.magic) }
    override func lookup(_ name: String, _ ctx: WalkContext) throws(Errno) -> Inode { try child(name, ctx) }
    override func entries(_ ctx: WalkContext) throws(Errno) -> [DirEntry] { try list(ctx) }
    override func open(_ flags: OpenFlags, at location: Location, _ ctx: WalkContext) throws(Errno) -> FileDescription {
        if flags.writable { throw .EISDIR }
        return SyntheticDirectory(location: location, flags: flags) { [self] () throws(Errno) -> [DirEntry] in try list(ctx) }
    }
}

/// A read-only file whose contents are made when it is opened.
/// Sendable: only `let`s; the closures read kernel state under its locks.
final class SyntheticFileNode: Inode, @unchecked Sendable {
    let device: UInt64
    let ino: UInt64
    let mode: UInt32
    let contents: () throws(Errno) -> [UInt8]
    /// Made at the first read rather than at open, as seq_file makes them
    /// (/proc/PID/syscall names the read that reads it).
    let atFirstRead: Bool
    let owner: FileOwner?

    init(path: String, device: UInt64, mode: UInt32 = 0o444, owner: FileOwner? = nil, atFirstRead: Bool = false,
         contents: @escaping () throws(Errno) -> [UInt8]) {
        self.device = device; self.ino = syntheticInode(path); self.mode = mode; self.contents = contents
        self.atFirstRead = atFirstRead; self.owner = owner
    }

    override func stat() throws(Errno) -> Glibc.stat { .synthetic(mode: S_IFREG | mode, inode: ino, device: device, owner: owner) }  // size 0, as procfs says
    override func statfs() throws(Errno) -> sw_statfs { syntheticStatfs(0x9fa0) }
    override func open(_ flags: OpenFlags, at location: Location, _ ctx: WalkContext) throws(Errno) -> FileDescription {
        if flags.contains(.path) { return PathOnlyFile(location: location, flags: flags) }
        if flags.writable { throw .EACCES }
        let f = atFirstRead ? SnapshotFile(path: location.path, flags: flags, generator: contents)
            : SnapshotFile(path: location.path, contents: try contents(), flags: flags)
        f.location = location
        return f
    }
}

/// A symlink; /proc's magic links also lead straight to a place or a file.
/// Sendable: only `let`s; the closures read kernel state under its locks.
final class SyntheticLinkNode: Inode, @unchecked Sendable {
    let device: UInt64
    let ino: UInt64
    let target: (WalkContext) throws(Errno) -> String
    /// Where a magic link leads (cwd, root, an fd's file); nil: follow the text.
    let place: ((WalkContext) throws(Errno) -> Location?)?
    /// /proc/<pid>/fd/N: the open file it names; following the link to a
    /// file with no place in the tree (a pipe) opens or stats the file itself.
    let described: FileDescription?
    let owner: FileOwner?

    init(path: String, device: UInt64, owner: FileOwner? = nil, target: @escaping (WalkContext) throws(Errno) -> String,
         place: ((WalkContext) throws(Errno) -> Location?)? = nil, described: FileDescription? = nil) {
        self.device = device; self.ino = syntheticInode(path); self.target = target; self.place = place; self.described = described
        self.owner = owner
    }

    override var kind: FileKind { .symlink }
    override func stat() throws(Errno) -> Glibc.stat { .synthetic(mode: S_IFLNK | 0o777, inode: ino, device: device, owner: owner) }
    override func readlink(_ ctx: WalkContext) throws(Errno) -> String { try target(ctx) }
    override func magicTarget(_ ctx: WalkContext) throws(Errno) -> Location? { try place?(ctx) }
    override func open(_ flags: OpenFlags, at location: Location, _ ctx: WalkContext) throws(Errno) -> FileDescription {
        PathOnlyFile(location: location, flags: flags)
    }
}

func syntheticStatfs(_ magic: Int) -> sw_statfs {
    var s = sw_statfs()
    s.f_type = magic
    s.f_bsize = 4096
    s.f_frsize = 4096
    s.f_namelen = 255
    return s
}

/// An O_PATH description, or one for a file that can't be read.
/// Sendable: `let`s, and the offset behind its own Mutex.
final class PathOnlyFile: FileDescription, @unchecked Sendable {
    init(location: Location, flags: OpenFlags) {
        super.init(flags: flags)
        self.location = location
    }
    override func read(into bufs: [UnsafeMutableRawBufferPointer]) throws(Errno) -> Int { throw .EBADF }
    override func write(from bufs: [UnsafeRawBufferPointer]) throws(Errno) -> Int { throw .EBADF }
    override func stat() throws(Errno) -> Glibc.stat { try location!.inode.stat() }
}

/// A read-only file whose contents the sentry generates when it is opened
/// (the /proc files): reads see one consistent snapshot, as seq_file gives.
/// Sendable: contents immutable, the offset behind its Mutex.
public final class SnapshotFile: FileDescription, @unchecked Sendable {
    private let made: Mutex<[UInt8]?>
    private let generator: (() throws(Errno) -> [UInt8])?
    let path: String
    private let offset = Mutex<Int64>(0)

    public init(path: String, contents: [UInt8], flags: OpenFlags) {
        self.made = Mutex(contents)
        self.generator = nil
        self.path = path
        super.init(flags: flags)
    }

    /// Contents made when first needed.
    init(path: String, flags: OpenFlags, generator: @escaping () throws(Errno) -> [UInt8]) {
        self.made = Mutex(nil)
        self.generator = generator
        self.path = path
        super.init(flags: flags)
    }

    /// The bytes, made now if they were not yet (the first maker wins).
    func contents() throws(Errno) -> [UInt8] {
        if let c = made.withLock({ $0 }) { return c }
        let fresh = try generator?() ?? []
        return made.withLock { m in
            if m == nil { m = fresh }
            return m!
        }
    }

    public override var displayPath: String { path }
    /// The contents were made at open: a read only copies them.
    public override var transfersInPlace: Bool { true }

    public override func read(into bufs: [UnsafeMutableRawBufferPointer]) throws(Errno) -> Int {
        let at = offset.withLock { $0 }
        let n = try pread(into: bufs, at: at)
        offset.withLock { $0 = at + Int64(n) }
        return n
    }

    public override func pread(into bufs: [UnsafeMutableRawBufferPointer], at offset: Int64) throws(Errno) -> Int {
        guard flags.readable else { throw .EBADF }
        guard offset >= 0 else { throw .EINVAL }
        let contents = try self.contents()
        var at = Int(min(offset, Int64(contents.count))), total = 0
        for b in bufs where at < contents.count {
            let n = min(b.count, contents.count - at)
            contents.withUnsafeBytes { memcpy(b.baseAddress!, $0.baseAddress! + at, n) }
            at += n; total += n
        }
        return total
    }

    public override func write(from bufs: [UnsafeRawBufferPointer]) throws(Errno) -> Int { throw .EBADF }

    public override func seek(_ off: Int64, whence: Int32) throws(Errno) -> Int64 {
        try offset.withLock { (o: inout Int64) throws(Errno) -> Int64 in
            let base: Int64
            switch whence {
            case SEEK_SET: base = 0
            case SEEK_CUR: base = o
            case SEEK_END: base = Int64(try contents().count)
            default: throw .EINVAL
            }
            let (n, overflow) = base.addingReportingOverflow(off)
            guard !overflow, n >= 0 else { throw .EINVAL }
            o = n
            return o
        }
    }

    public override func stat() throws(Errno) -> Glibc.stat {
        if let l = location { return try l.inode.stat() }
        return .synthetic(mode: S_IFREG | 0o444, inode: syntheticInode(path), device: ProcFS.device)
    }
}

/// An open directory the sentry lists itself (tmpfs, /proc, /dev): real
/// getdents64 over entries taken when it is opened or rewound.
/// Sendable: the listing cursor behind its Mutex.
public final class SyntheticDirectory: FileDescription, @unchecked Sendable {
    private let list: () throws(Errno) -> [DirEntry]
    private struct Cursor { var entries: [DirEntry]? = nil; var next = 0 }
    private let cursor = Mutex(Cursor())

    init(location: Location, flags: OpenFlags, list: @escaping () throws(Errno) -> [DirEntry]) {
        self.list = list
        super.init(flags: flags)
        self.location = location
    }

    convenience init(location: Location, entries: [DirEntry], flags: OpenFlags) {
        self.init(location: location, flags: flags) { entries }
    }

    public override var isDirectory: Bool { true }
    public override func read(into bufs: [UnsafeMutableRawBufferPointer]) throws(Errno) -> Int { throw .EISDIR }

    public override func getdents(into buf: UnsafeMutableRawBufferPointer) throws(Errno) -> Int {
        var all: [DirEntry]
        if let e = cursor.withLock({ $0.entries }) { all = e } else {
            let st = try location!.inode.stat()
            all = [DirEntry(".", .directory, inode: UInt64(st.st_ino)), DirEntry("..", .directory, inode: UInt64(st.st_ino))] + (try list())
            cursor.withLock { $0.entries = all }
        }
        return try cursor.withLock { (c: inout Cursor) throws(Errno) -> Int in
            var used = 0
            while c.next < all.count {
                let e = all[c.next]
                let name = e.name.rawBytes
                let reclen = (19 + name.count + 1 + 7) & ~7   // struct linux_dirent64, 8-aligned
                if used + reclen > buf.count { if used == 0 { throw .EINVAL }; break }
                let p = buf.baseAddress! + used
                memset(p, 0, reclen)
                p.storeBytes(of: e.inode != 0 ? e.inode : UInt64(c.next + 1), toByteOffset: 0, as: UInt64.self)  // d_ino
                p.storeBytes(of: Int64(c.next + 1), toByteOffset: 8, as: Int64.self)      // d_off
                p.storeBytes(of: UInt16(reclen), toByteOffset: 16, as: UInt16.self)       // d_reclen
                p.storeBytes(of: e.kind.direntType, toByteOffset: 18, as: UInt8.self)     // d_type
                name.withUnsafeBytes { _ = memcpy(p + 19, $0.baseAddress!, name.count) }
                used += reclen
                c.next += 1
            }
            return used
        }
    }

    public override func seek(_ offset: Int64, whence: Int32) throws(Errno) -> Int64 {
        guard whence == SEEK_SET || whence == SEEK_CUR, offset >= 0 else { throw .EINVAL }
        return cursor.withLock { c in
            if whence == SEEK_CUR { return Int64(c.next) }
            if offset == 0 { c.entries = nil }   // rewinddir sees the directory as it is now
            c.next = Int(offset)
            return offset
        }
    }

    public override func stat() throws(Errno) -> Glibc.stat { try location!.inode.stat() }
}
