/// A place in the guest's tree: a dentry on a mount, as Linux's `struct path`.
/// Its path is computed from the dentries up to the sandbox's root, so it is
/// the place's current name wherever renames have moved it.
/// Sendable: immutable; the dentries guard their own names.
public final class Location: @unchecked Sendable {
    public let mount: Mount
    public let dentry: Dentry
    /// The file, as it was when the walk reached it.
    public let inode: Inode

    init(mount: Mount, dentry: Dentry, inode: Inode? = nil) {
        self.mount = mount; self.dentry = dentry; self.inode = inode ?? dentry.inode
    }

    /// The mount's root.
    convenience init(root mount: Mount) { self.init(mount: mount, dentry: mount.root) }

    public var name: String { dentry.name }

    /// Where `name` in this directory, naming `inode`, is (a file just made or found).
    public func child(_ name: String, _ inode: Inode) -> Location {
        Location(mount: mount, dentry: dentry.child(name, inode), inode: inode)
    }

    /// The directory that holds this place: across mount points to the one
    /// that holds the mount point, as `..` goes; nil at the sandbox's root.
    public var parent: Location? {
        var (m, d) = (mount, dentry)
        while d === m.root {
            guard let pm = m.parent, let mp = m.mountpoint else { return nil }
            (m, d) = (pm, mp)
        }
        guard let p = d.parent else { return nil }
        return Location(mount: m, dentry: p)
    }

    /// The guest path, from the top of the sandbox.
    public var path: String {
        var names: [String] = []
        var (m, d) = (mount, dentry)
        while true {
            if d === m.root {
                guard let pm = m.parent, let mp = m.mountpoint else { break }
                (m, d) = (pm, mp)
                continue
            }
            names.append(d.name)
            guard let p = d.parent else { break }
            d = p
        }
        // Built by hand: see VFS.absolutePath.
        var path = ""
        for n in names.reversed() { path += "/"; path += n }
        return path.isEmpty ? "/" : path
    }

    /// The name no longer leads here (unlinked, or replaced by a rename).
    public var isDeleted: Bool { dentry.isDeleted }

    /// The path as a process rooted at `root` sees it (/proc/self/cwd and
    /// fd links, strace -y): " (deleted)" after it when the name is gone, as d_path.
    public func path(relativeTo root: Location) -> String {
        let p = path
        // Outside the chroot: Linux prints "(unreachable)"; the full path is as honest.
        let shown = Location.relative(p, to: root.path) ?? p
        return isDeleted ? shown + " (deleted)" : shown
    }

    /// Whether two locations are the same place.
    public func isSame(_ other: Location) -> Bool { mount === other.mount && dentry === other.dentry }
}
