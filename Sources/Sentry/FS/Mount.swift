import Glibc
import Synchronization

/// A filesystem mounted somewhere in the guest's tree: on a dentry of its
/// parent mount, so it moves with that dentry's directory.
public final class Mount: Sendable {
    /// The mounted filesystem's root.
    public let root: Dentry
    /// Where it is mounted; nil for the sandbox's root (and the memfd mount).
    public let parent: Mount?
    public let mountpoint: Dentry?
    /// The type /proc/mounts shows ("ext4", "tmpfs", "proc"...).
    public let type: String
    /// What /proc/mounts shows as the source.
    public let source: String
    public let readOnly: Bool
    /// Distinguishes mounts (st_dev for sentry filesystems, mount ids).
    public let id: Int

    init(root: Inode, on mountpoint: Location?, type: String, source: String, readOnly: Bool, id: Int) {
        self.root = Dentry(root: root); self.parent = mountpoint?.mount; self.mountpoint = mountpoint?.dentry
        self.type = type; self.source = source; self.readOnly = readOnly; self.id = id
    }

    public var rootInode: Inode { root.inode }

    /// The mount point's guest path ("/" for the root).
    public var path: String { Location(root: self).path }
}

/// The mounts of the sandbox, in the order they were made, and which
/// dentry each is mounted on.
public final class MountTable: Sendable {
    private let order: Mutex<[Mount]>
    public let root: Mount

    init(root: Mount) {
        self.root = root
        order = Mutex([root])
    }

    func add(_ m: Mount) { order.withLock { $0.append(m) } }

    /// The mount on dentry `d` of mount `parent` (the last made, if several).
    func mounted(on d: Dentry, in parent: Mount) -> Mount? {
        order.withLock { $0.last { $0.mountpoint === d && $0.parent === parent } }
    }

    /// Whether some mount sits on `d`.
    func isMountpoint(_ d: Dentry) -> Bool { order.withLock { $0.contains { $0.mountpoint === d } } }

    /// The mount whose mount point is exactly `path`.
    public func mount(at path: String) -> Mount? { all.last { $0.path == path } }
    /// The mount a path lies on: the last made whose mount point is the path
    /// or one of its ancestors.
    public func mount(covering path: String) -> Mount? {
        all.last { let p = $0.path; return path == p || path.hasPrefix(p == "/" ? "/" : p + "/") }
    }
    /// Every mount, in the order they were made (/proc/mounts).
    public var all: [Mount] { order.withLock { $0 } }
}
