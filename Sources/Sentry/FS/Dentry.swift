import Synchronization

/// A name in the sandbox's tree: which directory holds it, under what name,
/// and the file it names. A `Location` is a (mount, dentry) pair, so every
/// holder of a place (a cwd, an open file, a mount point) shares one dentry
/// per name, and a rename or unlink made through any path is seen by all:
/// getcwd follows a renamed directory and /proc/self/fd shows "(deleted)".
///
/// Dentries live only while something uses them: a directory's cache of its
/// children holds them weakly, a child holds its parent strongly.
///
/// Sendable: `name`, `parent`, `inode`, `deleted` and `children` are guarded by
/// `Dentry.tree`, one lock for the whole tree (as Linux's rename_lock: a
/// rename changes two directories at once); a leaf lock, nothing taken under it.
public final class Dentry: @unchecked Sendable {
    static let tree = Mutex<Void>(())

    private final class WeakDentry { weak var dentry: Dentry?; init(_ d: Dentry) { dentry = d } }

    private var _name: String
    private var _parent: Dentry?
    private var _inode: Inode
    private var _deleted = false
    private var children: [String: WeakDentry] = [:]
    private var sweepAt = 16
    /// A directory made only to hold a mount point that the filesystem below
    /// does not have (a --bind onto a path that does not exist).
    let isPlaceholder: Bool

    init(root inode: Inode) {
        _name = ""; _inode = inode; isPlaceholder = false
    }

    private init(name: String, parent: Dentry, inode: Inode, placeholder: Bool) {
        _name = name; _parent = parent; _inode = inode; isPlaceholder = placeholder
    }

    public var name: String { Self.tree.withLock { _ in _name } }
    public var parent: Dentry? { Self.tree.withLock { _ in _parent } }
    /// The file, as last looked up under this name.
    public var inode: Inode { Self.tree.withLock { _ in _inode } }
    /// Unlinked, or replaced by a rename: the name no longer leads here.
    public var isDeleted: Bool { Self.tree.withLock { _ in _deleted } }

    /// The live child dentry called `name`, if any.
    func cachedChild(_ name: String) -> Dentry? {
        Self.tree.withLock { _ in children[name]?.dentry }
    }

    /// The child dentry for `name` naming `inode`: the live one if it names
    /// the same file, else a new one that takes the name. (Filesystems that
    /// make a new inode object per lookup, as /proc's, get a new dentry each
    /// time; the old one keeps its name for whoever holds it.)
    func child(_ name: String, _ inode: Inode) -> Dentry {
        Self.tree.withLock { _ in
            if let d = children[name]?.dentry, !d.isPlaceholder, d._inode === inode { return d }
            let d = Dentry(name: name, parent: self, inode: inode, placeholder: false)
            children[name] = WeakDentry(d)
            // Names whose dentries died stay as empty entries: sweep them
            // whenever the table doubles, so a guest making ever new names
            // cannot grow it without bound.
            if children.count >= sweepAt {
                children = children.filter { $0.value.dentry != nil }
                sweepAt = max(16, children.count * 2)
            }
            return d
        }
    }

    /// A dentry under this directory that no lookup finds (memfd's files;
    /// `deleted` for an O_TMPFILE file, shown as d_tmpfile names it).
    func detachedChild(_ name: String, _ inode: Inode, deleted: Bool = false) -> Dentry {
        let d = Dentry(name: name, parent: self, inode: inode, placeholder: false)
        if deleted { Self.tree.withLock { _ in d._deleted = true } }
        return d
    }

    /// A placeholder directory for a mount point (see `isPlaceholder`).
    func placeholderChild(_ name: String, _ inode: Inode) -> Dentry {
        Self.tree.withLock { _ in
            let d = Dentry(name: name, parent: self, inode: inode, placeholder: true)
            children[name] = WeakDentry(d)
            return d
        }
    }

    /// `name` in this directory was unlinked.
    func removed(_ name: String) {
        Self.tree.withLock { _ in
            guard let d = children.removeValue(forKey: name)?.dentry else { return }
            d._deleted = true
        }
    }

    /// rename(2) succeeded: `name` here is now `newName` in `newDir`; what
    /// `newName` named there is gone, or (exchange) has `name` here.
    func renamed(_ name: String, to newDir: Dentry, _ newName: String, exchange: Bool) {
        Self.tree.withLock { _ in
            let moving = children.removeValue(forKey: name)?.dentry
            let displaced = newDir.children.removeValue(forKey: newName)?.dentry
            if let moving {
                moving._name = newName; moving._parent = newDir
                newDir.children[newName] = WeakDentry(moving)
            }
            if let displaced {
                if exchange {
                    displaced._name = name; displaced._parent = self
                    children[name] = WeakDentry(displaced)
                } else {
                    displaced._deleted = true
                }
            }
        }
    }

    /// Whether this dentry is `other` or lies below it.
    func isWithin(_ other: Dentry) -> Bool {
        Self.tree.withLock { _ in
            var d: Dentry? = self
            while let c = d { if c === other { return true }; d = c._parent }
            return false
        }
    }
}
