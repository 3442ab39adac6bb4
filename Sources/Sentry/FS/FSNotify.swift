import Glibc
import Synchronization

/// The fsnotify hooks (include/linux/fsnotify.h): the VFS reports here once
/// per thing that happens to a name or a file, and the hub passes it on to
/// the dnotify watches (fcntl F_NOTIFY) and the inotify instances, with the
/// events each backend sees. Only the sandbox's own changes are seen: a host
/// file changed behind a bind mount sends nothing, as Linux's inotify sees
/// nothing of a network filesystem's other clients.
///
/// An event on a file goes to its directory's watches with the file's name
/// (FS_EVENT_ON_CHILD) and to the file's own, without it; an event on a
/// name (create, delete, move) goes to the directory's, with the name.
/// Files are told apart by device and inode number. Nothing here holds a
/// lock while it calls out: the backends take their own leaf locks.
public final class FSNotify: Sendable {
    /// The FS_* / IN_* event bits (they are the same numbers).
    public enum Mask {
        public static let access: UInt32 = 0x1, modify: UInt32 = 0x2, attrib: UInt32 = 0x4
        public static let closeWrite: UInt32 = 0x8, closeNoWrite: UInt32 = 0x10, open: UInt32 = 0x20
        public static let movedFrom: UInt32 = 0x40, movedTo: UInt32 = 0x80, create: UInt32 = 0x100
        public static let delete: UInt32 = 0x200, deleteSelf: UInt32 = 0x400, moveSelf: UInt32 = 0x800
        public static let unmount: UInt32 = 0x2000, overflow: UInt32 = 0x4000, ignored: UInt32 = 0x8000
        public static let isDirectory: UInt32 = 0x4000_0000
        /// dnotify's own: a move within one directory.
        public static let rename: UInt32 = 0x1000_0000
        /// IN_ALL_EVENTS: what a watch may ask for.
        public static let allEvents: UInt32 = 0xfff
    }

    public let dnotify = DirNotify()
    let inotify = InotifyRegistry()
    /// fsnotify_get_cookie: what ties a MOVED_FROM to its MOVED_TO.
    private let cookies = Atomic<UInt32>(0)
    /// Inodes whose last name went while files were open on them: their
    /// IN_DELETE_SELF comes when the last of those closes.
    private let doomed = Mutex<[ObjectIdentifier: DirNotify.Key]>([:])
    private let doomedCount = Atomic<Int>(0)

    public init() {}

    /// No watch anywhere: events cost nothing.
    var quiet: Bool { !dnotify.isWatching && !inotify.isWatching }

    private static func key(_ loc: Location) -> DirNotify.Key? { DirNotify.key(loc.inode) }
    private static func dirBit(_ inode: Inode) -> UInt32 { inode.kind == .directory ? Mask.isDirectory : 0 }

    /// The directory whose watches hear about `loc` as a child: none for a
    /// mount's root (IS_ROOT in Linux: a filesystem's root has no parent).
    private static func parent(of loc: Location) -> Location? {
        guard loc.dentry !== loc.mount.root, let p = loc.dentry.parent else { return nil }
        return Location(mount: loc.mount, dentry: p)
    }

    // MARK: Names

    /// fsnotify_create / fsnotify_mkdir (mknod and symlink too): `name` made in `dir`.
    public func created(_ name: String, in dir: Location, isDirectory: Bool) {
        guard !quiet else { return }
        dnotify.nameEvent(.create, in: dir)
        guard inotify.isWatching, let k = Self.key(dir) else { return }
        inotify.deliver(Mask.create | (isDirectory ? Mask.isDirectory : 0), to: k, name: name)
    }

    /// fsnotify_link: the file's link count changed (IN_ATTRIB to it), then
    /// IN_CREATE to the directory.
    public func linked(_ inode: Inode, as name: String, in dir: Location) {
        guard !quiet else { return }
        dnotify.nameEvent(.create, in: dir)
        guard inotify.isWatching else { return }
        if let k = DirNotify.key(inode) { inotify.deliver(Mask.attrib, to: k, name: nil) }
        if let k = Self.key(dir) { inotify.deliver(Mask.create, to: k, name: name) }
    }

    /// What an unlink or rmdir needs to know before the name goes: the
    /// victim's identity (a host file may not answer stat once unlinked).
    func removing(_ victim: Location) -> DirNotify.Key? { quiet ? nil : DirNotify.key(victim.inode) }

    /// vfs_unlink / vfs_rmdir, after the name went: IN_ATTRIB to a file
    /// (fsnotify_link_count), IN_DELETE_SELF to it when that was its last
    /// link, and IN_DELETE to the directory.
    func removed(_ name: String, in dir: Location, victim: Inode, key: DirNotify.Key?, isDirectory: Bool) {
        guard !quiet else { return }
        dnotify.nameEvent(.delete, in: dir)
        guard inotify.isWatching else { return }
        if let key {
            if !isDirectory { inotify.deliver(Mask.attrib, to: key, name: nil) }
            if isDirectory || Self.lastLinkGone(victim) { gone(victim, key) }
        }
        if let k = Self.key(dir) { inotify.deliver(Mask.delete | (isDirectory ? Mask.isDirectory : 0), to: k, name: name) }
    }

    /// fsnotify_inoderemove, now or when the last open file on it closes.
    /// (A directory someone is in, or an O_PATH descriptor, does not delay it
    /// here as it does in Linux.)
    private func gone(_ inode: Inode, _ key: DirNotify.Key) {
        if inode.openFiles.load(ordering: .sequentiallyConsistent) > 0 {
            if doomed.withLock({ $0.updateValue(key, forKey: ObjectIdentifier(inode)) }) == nil { doomedCount.add(1, ordering: .sequentiallyConsistent) }
            // Closed meanwhile: the close did not see it doomed.
            guard inode.openFiles.load(ordering: .sequentiallyConsistent) == 0, undoom(inode) != nil else { return }
        }
        inotify.inodeGone(key)
    }

    private func undoom(_ inode: Inode) -> DirNotify.Key? {
        guard let k = doomed.withLock({ $0.removeValue(forKey: ObjectIdentifier(inode)) }) else { return nil }
        doomedCount.subtract(1, ordering: .relaxed)
        return k
    }

    /// Whether the inode has no name left.
    private static func lastLinkGone(_ inode: Inode) -> Bool {
        guard let st = try? inode.stat() else { return true }
        return st.st_nlink == 0
    }

    /// fsnotify_move, for a rename of `moved` from `oldName` in `from` to
    /// `newName` in `to`; `replaced` is the file the new name held (its key
    /// taken before), and for an exchange, `moved` is called twice.
    func moved(_ moved: Inode, movedKey: DirNotify.Key?, from: Location, _ oldName: String,
                      to: Location, _ newName: String, replaced: (inode: Inode, key: DirNotify.Key?)?) {
        guard !quiet else { return }
        if from.inode === to.inode || from.isSame(to) { dnotify.nameEvent(.rename, in: from) }
        dnotify.nameEvent(.movedFrom, in: from)
        dnotify.nameEvent(.movedTo, in: to)
        guard inotify.isWatching else { return }
        let cookie = cookies.add(1, ordering: .relaxed).newValue
        let dirBit = Self.dirBit(moved)
        if let k = Self.key(from) { inotify.deliver(Mask.movedFrom | dirBit, to: k, name: oldName, cookie: cookie) }
        if let k = Self.key(to) { inotify.deliver(Mask.movedTo | dirBit, to: k, name: newName, cookie: cookie) }
        if let r = replaced, let rk = r.key { inotify.deliver(Mask.attrib | Self.dirBit(r.inode), to: rk, name: nil) }
        if let movedKey { inotify.deliver(Mask.moveSelf, to: movedKey, name: nil) }
        // The replaced file's dentry goes when the rename lets go of it.
        if let r = replaced, let rk = r.key, r.inode.kind == .directory || Self.lastLinkGone(r.inode) { gone(r.inode, rk) }
    }

    // MARK: Files

    /// fsnotify_parent: an event on the file at `loc`, to its directory's
    /// watches with its name and to its own. `viaFile`: the event came
    /// through an open file (a path event), which IN_EXCL_UNLINK watches
    /// ignore once the file is unlinked.
    private func fileEvent(_ mask: UInt32, at loc: Location, viaFile: Bool) {
        let parent = Self.parent(of: loc)
        let dn = DirNotify.Event(rawValue: mask).intersection(.all)
        if !dn.isEmpty { dnotify.fileEvent(dn, at: loc) }
        guard inotify.isWatching, let k = Self.key(loc) else { return }
        let m = mask | Self.dirBit(loc.inode)
        inotify.deliverFileEvent(m, to: k, parent: parent.flatMap { Self.key($0) }, name: loc.name,
                                 unlinked: viaFile && loc.isDeleted)
    }

    /// fsnotify_access: a read (or getdents) through `file`.
    public func accessed(_ file: FileDescription) {
        guard !quiet, let loc = file.location, !file.flags.contains(.path) else { return }
        fileEvent(Mask.access, at: loc, viaFile: true)
    }

    /// fsnotify_modify: a write through `file`.
    public func modified(_ file: FileDescription) {
        guard !quiet, let loc = file.location, !file.flags.contains(.path) else { return }
        fileEvent(Mask.modify, at: loc, viaFile: true)
    }

    /// fsnotify_open: `file` was opened at `loc` (not O_PATH). Its close
    /// (the last reference going) will be told too.
    func opened(_ file: FileDescription, at loc: Location) {
        guard !file.flags.contains(.path) else { return }
        file.closeNotice.withLock { $0 = self }
        loc.inode.openFiles.add(1, ordering: .relaxed)
        guard !quiet else { return }
        fileEvent(Mask.open, at: loc, viaFile: true)
    }

    /// fsnotify_close: the last reference to a file opened at `loc` went.
    func closed(at loc: Location, wrote: Bool) {
        let last = loc.inode.openFiles.subtract(1, ordering: .sequentiallyConsistent).newValue == 0
        let key = last && doomedCount.load(ordering: .sequentiallyConsistent) > 0 ? undoom(loc.inode) : nil
        guard inotify.isWatching else { return }   // dnotify has no close events
        fileEvent(wrote ? Mask.closeWrite : Mask.closeNoWrite, at: loc, viaFile: true)
        if let key { inotify.inodeGone(key) }
    }

    /// fsnotify_change: attributes of `loc` changed (chmod, chown, utimes,
    /// truncate): see `events(of:)`.
    public func changed(_ loc: Location, _ mask: UInt32) {
        guard !quiet, mask != 0 else { return }
        fileEvent(mask, at: loc, viaFile: false)
    }

    /// fsnotify_change's mapping: a size is a modification; ownership,
    /// mode, or both times, attributes; one time alone, an access (atime)
    /// or a modification (mtime).
    public static func events(of a: InodeAttributes) -> UInt32 {
        var e: UInt32 = 0
        if a.uid != nil || a.gid != nil || a.mode != nil || (a.atime != nil && a.mtime != nil) { e |= Mask.attrib }
        if a.size != nil { e |= Mask.modify }
        if a.atime != nil && a.mtime == nil { e |= Mask.access }
        if a.mtime != nil && a.atime == nil { e |= Mask.modify }
        return e
    }
}
