import CSwitch
import Glibc

/// The mqueue filesystem at /dev/mqueue (Debian mounts it there): one file
/// per queue of the sandbox, which reads as its status line (QSIZE, NOTIFY,
/// SIGNO, NOTIFY_PID) and opens as a descriptor mq_* calls take.
enum MQueueFS {
    static let magic = 0x1980_0202   // MQUEUE_MAGIC

    static func root(_ ns: PosixMQNamespace) -> Inode {
        MQueueDirNode(ns)
    }
}

/// The mount's root: sticky and writable by all, as mqueue_fill_super makes it.
/// Sendable: immutable; the namespace guards the queues.
final class MQueueDirNode: Inode, @unchecked Sendable {
    let ns: PosixMQNamespace
    init(_ ns: PosixMQNamespace) { self.ns = ns }
    override var kind: FileKind { .directory }
    override func stat() throws(Errno) -> Glibc.stat {
        .synthetic(mode: S_IFDIR | 0o1777, inode: 1, device: PosixMQFile.device, links: 2)
    }
    override func statfs() throws(Errno) -> sw_statfs { syntheticStatfs(MQueueFS.magic) }
    override func entries(_ ctx: WalkContext) throws(Errno) -> [DirEntry] {
        ns.names.compactMap { n in ns.queue(named: n).map { DirEntry(n, .regular, inode: $0.inode) } }
    }
    override func lookup(_ name: String, _ ctx: WalkContext) throws(Errno) -> Inode {
        guard let q = ns.queue(named: name) else { throw .ENOENT }
        return MQueueNode(q)
    }
    /// open(O_CREAT) of a new name: a queue with the default attributes
    /// (mqueue_create_attr with none), charged as mq_open's.
    override func create(_ name: String, mode: UInt32, flags: OpenFlags, in dir: Location, _ ctx: WalkContext) throws(Errno) -> FileDescription {
        guard let t = ctx as? Task else { throw .EPERM }
        let limit = t.rlimit(ResourceLimit.RLIMIT_MSGQUEUE)?.cur ?? 819_200
        let q = try ns.open(name: name, flags: flags.rawValue | O_CREAT, mode: mode, attributes: nil, t.mqCredentials, rlimit: limit)
        let f = PosixMQFile(q, flags: OpenFlags(rawValue: flags.rawValue & (OpenFlags.accessMode | OpenFlags.nonBlock.rawValue)))
        f.location = dir.child(name, MQueueNode(q))
        return f
    }

    override func unlink(_ name: String, directory: Bool) throws(Errno) {
        if directory { throw .EPERM }   // no rmdir in mqueue_dir_inode_operations
        try ns.unlink(name: name)
    }
    // The directory makes no other kind of entry, and renames none (vfs_*: no such operation).
    override func mkdir(_ name: String, mode: UInt32) throws(Errno) { throw .EPERM }
    override func mknod(_ name: String, mode: UInt32) throws(Errno) { throw .EPERM }
    override func symlink(_ name: String, target: String) throws(Errno) { throw .EPERM }
    override func link(_ name: String, to target: Inode) throws(Errno) { throw .EPERM }
    override func rename(_ name: String, to newDir: Inode, _ newName: String, flags: UInt32) throws(Errno) { throw .EPERM }

    override func open(_ flags: OpenFlags, at location: Location, _ ctx: WalkContext) throws(Errno) -> FileDescription {
        guard !flags.writable else { throw .EISDIR }
        let f = SyntheticDirNode(path: location.path, device: PosixMQFile.device, mode: 0o1777, list: { [ns] _ in
            ns.names.compactMap { n in ns.queue(named: n).map { DirEntry(n, .regular, inode: $0.inode) } }
        }, child: { _, _ throws(Errno) in throw .ENOENT })
        return try f.open(flags, at: location, ctx)
    }
}

/// One queue's file.
/// Sendable: immutable; the queue guards itself.
final class MQueueNode: Inode, @unchecked Sendable {
    let queue: PosixMQ
    init(_ q: PosixMQ) { queue = q }
    override var kind: FileKind { .regular }
    override func stat() throws(Errno) -> Glibc.stat { queue.stat() }
    override func statfs() throws(Errno) -> sw_statfs { syntheticStatfs(MQueueFS.magic) }
    override func open(_ flags: OpenFlags, at location: Location, _ ctx: WalkContext) throws(Errno) -> FileDescription {
        if flags.contains(.directory) { throw .ENOTDIR }
        let acc = flags.rawValue & OpenFlags.accessMode
        if let t = ctx as? Task {
            let want: UInt32 = acc == 0 ? 4 : acc == 1 ? 2 : 6
            guard queue.ns.locked({ queue.allows(want, t.mqCredentials) }) else { throw .EACCES }
        }
        try queue.ns.retain(queue)
        let f = PosixMQFile(queue, flags: OpenFlags(rawValue: flags.rawValue & (OpenFlags.accessMode | OpenFlags.nonBlock.rawValue)))
        f.location = location
        return f
    }
}
