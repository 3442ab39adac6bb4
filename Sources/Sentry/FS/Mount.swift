import Glibc
import Synchronization

/// A filesystem mounted somewhere in the guest's tree.
public final class Mount: Sendable {
    /// Where it is mounted, as a normalized guest path ("/" for the root).
    public let path: String
    public let root: Inode
    /// The type /proc/mounts shows ("ext4", "tmpfs", "proc"...).
    public let type: String
    /// What /proc/mounts shows as the source.
    public let source: String
    public let readOnly: Bool
    /// Distinguishes mounts (st_dev for sentry filesystems, mount ids).
    public let id: Int

    init(path: String, root: Inode, type: String, source: String, readOnly: Bool, id: Int) {
        self.path = path; self.root = root; self.type = type; self.source = source
        self.readOnly = readOnly; self.id = id
    }
}

/// A place in the guest's tree: a file on a mount, and how the walk reached
/// it. `..` goes back along `parent`, so it can never leave the tree the
/// walk came down, whatever is renamed meanwhile; at the top (the guest's
/// `/`) it stays put, as in a chroot.
/// Sendable: immutable once made.
public final class Location: @unchecked Sendable {
    public let mount: Mount
    public let inode: Inode
    public let name: String
    public let parent: Location?

    /// The guest path, from the top of the sandbox.
    public let path: String

    init(mount: Mount, inode: Inode, name: String, parent: Location?) {
        self.mount = mount; self.inode = inode; self.name = name; self.parent = parent
        if let parent { path = parent.path == "/" ? "/" + name : parent.path + "/" + name } else { path = "/" }
    }

    /// The path as a process rooted at `root` sees it (getcwd, /proc/self/cwd).
    public func path(relativeTo root: Location) -> String {
        // Outside the chroot: Linux prints "(unreachable)"; the full path is as honest.
        Location.relative(path, to: root.path) ?? path
    }

    /// Whether two locations are the same place (the same path on the same mount).
    public func isSame(_ other: Location) -> Bool { mount === other.mount && path == other.path }
}

/// The mounts of the sandbox, by guest path. Mounts are made before the
/// first guest runs, so the table is read without a lock afterwards.
public final class MountTable: Sendable {
    private let byPath: Mutex<[String: Mount]>
    private let order: Mutex<[Mount]>
    public let root: Mount

    init(root: Mount) {
        self.root = root
        byPath = Mutex(["/": root])
        order = Mutex([root])
    }

    func add(_ m: Mount) {
        byPath.withLock { $0[m.path] = m }
        order.withLock { $0.append(m) }
    }

    /// The mount whose mount point is exactly `path`.
    public func mount(at path: String) -> Mount? { byPath.withLock { $0[path] } }
    /// The mount a path lies on: the last made whose mount point is the path
    /// or one of its ancestors.
    public func mount(covering path: String) -> Mount? {
        all.last { path == $0.path || path.hasPrefix($0.path == "/" ? "/" : $0.path + "/") }
    }
    /// Every mount, in the order they were made (/proc/mounts).
    public var all: [Mount] { order.withLock { $0 } }
    /// Whether a mount point lies at or below `path` (rename refuses to move those).
    func hasMount(atOrBelow path: String) -> Bool {
        byPath.withLock { $0.keys.contains { $0 == path || $0.hasPrefix(path == "/" ? "/" : path + "/") } }
    }
}
