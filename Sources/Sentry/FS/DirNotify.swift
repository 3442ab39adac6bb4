import Glibc
import Synchronization

/// Directory notification (dnotify, fcntl F_NOTIFY), for the changes the
/// sandbox itself makes: a watch on a directory signals its owner process
/// when an entry is made, removed or renamed there, or a file in it is read,
/// written or has its attributes changed, as fs/notify/dnotify does.
///
/// A watch is held by an open description and the fd table that set it
/// (dnotify_struct's dn_filp and dn_owner). Linux drops it when that table
/// closes any descriptor of the description; here a watch lapses when its
/// fd no longer names the description in its table, checked at each event
/// (so closing another dup of it leaves the watch in place).
///
/// One lock guards the watches; it is a leaf. Signals are sent after it is
/// released, through `send` (the kernel's, which takes the kernel lock).
public final class DirNotify: Sendable {
    /// The DN_* bits of F_NOTIFY's argument.
    public enum Arg {
        public static let access: UInt64 = 0x1, modify: UInt64 = 0x2, create: UInt64 = 0x4, delete: UInt64 = 0x8
        public static let rename: UInt64 = 0x10, attrib: UInt64 = 0x20, multishot: UInt64 = 0x8000_0000
    }

    /// The fsnotify events a directory sees (FS_* in Linux).
    public struct Event: OptionSet, Sendable {
        public let rawValue: UInt32
        public init(rawValue: UInt32) { self.rawValue = rawValue }
        public static let access = Event(rawValue: FSNotify.Mask.access), modify = Event(rawValue: FSNotify.Mask.modify)
        public static let attrib = Event(rawValue: FSNotify.Mask.attrib)
        public static let movedFrom = Event(rawValue: FSNotify.Mask.movedFrom), movedTo = Event(rawValue: FSNotify.Mask.movedTo)
        public static let create = Event(rawValue: FSNotify.Mask.create), delete = Event(rawValue: FSNotify.Mask.delete)
        public static let rename = Event(rawValue: FSNotify.Mask.rename)
        /// Every event a dnotify watch can see.
        public static let all: Event = [.access, .modify, .attrib, .movedFrom, .movedTo, .create, .delete, .rename]
    }

    /// convert_arg: the events each DN_* bit stands for.
    static func events(_ arg: UInt64) -> Event {
        var e: Event = []
        if arg & Arg.delete != 0 { e.formUnion([.delete, .movedFrom]) }
        if arg & Arg.modify != 0 { e.insert(.modify) }
        if arg & Arg.access != 0 { e.insert(.access) }
        if arg & Arg.attrib != 0 { e.insert(.attrib) }
        if arg & Arg.rename != 0 { e.insert(.rename) }
        if arg & Arg.create != 0 { e.formUnion([.create, .movedTo]) }
        return e
    }

    struct Key: Hashable { let device: UInt64, inode: UInt64 }

    private struct Watch {
        weak var file: FileDescription?
        weak var table: FDTable?
        var fd: Int32
        var events: Event
        var multishot: Bool
        /// The process that set it (dnotify makes it the file's owner).
        var owner: Int32
    }

    private let watches = Mutex<[Key: [Watch]]>([:])
    /// How many directories have watches: events cost nothing while it is 0.
    private let watched = Atomic<Int>(0)

    /// Queues the owner's signal: pid of the process, the file's F_SETSIG
    /// signal (0: plain SIGIO), the fd. Set once by the kernel.
    private let sender = Mutex<(@Sendable (Int32, Int32, Int32) -> Void)?>(nil)
    public func setSender(_ send: @escaping @Sendable (Int32, Int32, Int32) -> Void) { sender.withLock { $0 = send } }

    public init() {}

    /// Whether any directory has a watch.
    var isWatching: Bool { watched.load(ordering: .relaxed) > 0 }

    static func key(_ inode: Inode) -> Key? {
        guard let st = try? inode.stat() else { return nil }
        return Key(device: UInt64(st.st_dev), inode: UInt64(st.st_ino))
    }

    /// fcntl(fd, F_NOTIFY, arg), after the caller's checks: with no event
    /// bit (the whole unsigned long but DN_MULTISHOT is 0), the watch of
    /// (file, table) goes (dnotify_flush); else the events
    /// are added to it, or it is made, and `owner` is where signals go.
    public func fcntl(_ file: FileDescription, fd: Int32, table: FDTable, arg: UInt64, owner: Int32) throws(Errno) {
        guard let loc = file.location else {
            if arg & ~Arg.multishot == 0 { return }
            throw .ENOTDIR
        }
        let isDir = loc.inode.kind == .directory
        if arg & ~Arg.multishot == 0 {
            guard isDir, let k = Self.key(loc.inode) else { return }
            update(k) { $0.removeAll { $0.file === file && $0.table === table } }
            return
        }
        guard isDir else { throw .ENOTDIR }
        guard let k = Self.key(loc.inode) else { throw .ENOENT }
        let events = Self.events(arg), multishot = arg & Arg.multishot != 0
        update(k) { list in
            list.removeAll { $0.file == nil || $0.table == nil }
            if let i = list.firstIndex(where: { $0.file === file && $0.table === table }) {
                // attach_dn: more events on the same watch, the latest fd.
                list[i].fd = fd
                list[i].events.formUnion(events)
                list[i].multishot = list[i].multishot || multishot
                list[i].owner = owner
            } else {
                list.append(Watch(file: file, table: table, fd: fd, events: events, multishot: multishot, owner: owner))
            }
        }
    }

    private func update(_ k: Key, _ change: (inout [Watch]) -> Void) {
        watches.withLock { w in
            var list = w[k] ?? []
            let had = !list.isEmpty
            change(&list)
            w[k] = list.isEmpty ? nil : list
            if had != !list.isEmpty { watched.add(list.isEmpty ? -1 : 1, ordering: .relaxed) }
        }
    }

    /// Something happened to a name in `dir` (create, delete, a move).
    public func nameEvent(_ e: Event, in dir: Location) {
        guard watched.load(ordering: .relaxed) > 0 else { return }
        deliver(e, to: dir.inode)
    }

    /// Something happened to the file at `loc` (read, written, attributes
    /// changed): its directory's watches hear it (FS_EVENT_ON_CHILD), and so
    /// do a directory's own.
    public func fileEvent(_ e: Event, at loc: Location?) {
        guard watched.load(ordering: .relaxed) > 0, let loc else { return }
        if let parent = loc.parent, parent !== loc, !loc.isSame(parent) { deliver(e, to: parent.inode) }
        if loc.inode.kind == .directory { deliver(e, to: loc.inode) }
    }

    private func deliver(_ e: Event, to dir: Inode) {
        guard let k = Self.key(dir) else { return }
        let snapshot = watches.withLock { $0[k] ?? [] }
        guard !snapshot.isEmpty else { return }
        // Which watches are still held (their fd still names their file):
        // looked at outside the lock, as the fd tables have their own.
        var live: [Int] = []
        for (i, w) in snapshot.enumerated() {
            if let f = w.file, let t = w.table, t.entry(FileDescriptor(w.fd))?.file === f { live.append(i) }
        }
        var sends: [(Int32, Int32, Int32)] = []
        update(k) { list in
            var kept: [Watch] = []
            for w in list {
                guard let f = w.file, w.table != nil else { continue }   // its file or table is gone
                // Set since the snapshot: not this event's.
                guard let i = snapshot.firstIndex(where: { $0.file === f && $0.table === w.table }) else { kept.append(w); continue }
                guard live.contains(i) else { continue }
                if w.events.isDisjoint(with: e) { kept.append(w); continue }
                sends.append((w.owner, f.ownerSignal.load(ordering: .relaxed), w.fd))
                if w.multishot { kept.append(w) }   // a one-shot watch is spent
            }
            list = kept
        }
        guard !sends.isEmpty, let send = sender.withLock({ $0 }) else { return }
        for (owner, sig, fd) in sends { send(owner, sig, fd) }
    }
}
