import Glibc
import Synchronization

/// The sandbox's inotify instances and their per-user limits
/// (/proc/sys/fs/inotify: max_user_instances, max_user_watches,
/// max_queued_events), and the fan-out of an event to every instance.
/// One lock guards the list and the counts; it is a leaf, never held while
/// an instance's own lock is taken.
final class InotifyRegistry: Sendable {
    /// inotify_user_setup's defaults.
    static let maxQueuedEvents = 16384
    static let maxUserInstances = 128
    /// 1% of the memory, at INOTIFY_WATCH_COST (a mark and two inodes, about
    /// 1 KiB on x86-64) a watch, clamped to [8192, 1048576], as Linux sizes it.
    static let maxUserWatches: Int = {
        let pages = sysconf(Int32(_SC_PHYS_PAGES)), pageSize = sysconf(Int32(_SC_PAGESIZE))
        let cost = 1024
        guard pages > 0, pageSize > 0 else { return 8192 }
        let (bytes, o) = (pages / 100).multipliedReportingOverflow(by: pageSize)
        return o ? 1_048_576 : min(max(bytes / cost, 8192), 1_048_576)
    }()

    private final class Entry: @unchecked Sendable {
        weak var file: InotifyFile?
        init(_ f: InotifyFile) { file = f }
    }
    private struct State {
        var instances: [ObjectIdentifier: Entry] = [:]
        var instancesOf: [UInt32: Int] = [:]
        var watchesOf: [UInt32: Int] = [:]
    }
    private let state = Mutex(State())
    /// Watches in the whole sandbox: while 0, events cost nothing.
    private let watches = Atomic<Int>(0)

    var isWatching: Bool { watches.load(ordering: .relaxed) > 0 }

    /// inotify_new_group's inc_ucount: EMFILE past max_user_instances.
    func register(_ f: InotifyFile) throws(Errno) {
        try state.withLock { (s: inout State) throws(Errno) in
            let n = s.instancesOf[f.owner, default: 0]
            guard n < Self.maxUserInstances else { throw .EMFILE }
            s.instancesOf[f.owner] = n + 1
            s.instances[ObjectIdentifier(f)] = Entry(f)
        }
    }

    /// The instance is gone (its last reference): its count and its watches'.
    func unregister(_ id: ObjectIdentifier, owner: UInt32, watches n: Int) {
        state.withLock { s in
            s.instances[id] = nil
            s.instancesOf[owner, default: 1] -= 1
            if s.instancesOf[owner] == 0 { s.instancesOf[owner] = nil }
            s.watchesOf[owner, default: n] -= n
        }
        if n > 0 { watches.subtract(n, ordering: .relaxed) }
    }

    /// inc_inotify_watches: ENOSPC past max_user_watches.
    func chargeWatch(_ owner: UInt32) throws(Errno) {
        try state.withLock { (s: inout State) throws(Errno) in
            let n = s.watchesOf[owner, default: 0]
            guard n < Self.maxUserWatches else { throw .ENOSPC }
            s.watchesOf[owner] = n + 1
        }
        watches.add(1, ordering: .relaxed)
    }

    func unchargeWatch(_ owner: UInt32) {
        state.withLock { s in s.watchesOf[owner, default: 1] -= 1 }
        watches.subtract(1, ordering: .relaxed)
    }

    private var live: [InotifyFile] { state.withLock { s in s.instances.values.compactMap { $0.file } } }

    /// An event on the inode `key` itself (a name event to a directory, with
    /// the name; or one of its own, without).
    func deliver(_ mask: UInt32, to key: DirNotify.Key, name: String?, cookie: UInt32 = 0) {
        for f in live { f.handle(mask, on: key, asParent: false, name: name, cookie: cookie, unlinked: false) }
    }

    /// An event on a file: to its directory's watch with the name, then to
    /// its own, per instance (fsnotify_handle_event's order).
    func deliverFileEvent(_ mask: UInt32, to key: DirNotify.Key, parent: DirNotify.Key?, name: String, unlinked: Bool) {
        for f in live {
            if let parent { f.handle(mask, on: parent, asParent: true, name: name, cookie: 0, unlinked: unlinked) }
            f.handle(mask, on: key, asParent: false, name: nil, cookie: 0, unlinked: unlinked)
        }
    }

    /// fsnotify_inoderemove: IN_DELETE_SELF to the inode's watches, then
    /// each is dropped with IN_IGNORED.
    func inodeGone(_ key: DirNotify.Key) {
        for f in live {
            f.handle(FSNotify.Mask.deleteSelf, on: key, asParent: false, name: nil, cookie: 0, unlinked: false)
            f.drop(key)
        }
    }
}
