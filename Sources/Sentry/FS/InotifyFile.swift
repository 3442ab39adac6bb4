import Glibc
import Synchronization

/// An inotify instance (fs/notify/inotify): watches on inodes, each with a
/// watch descriptor, and the queue of events read(2) returns as struct
/// inotify_event records. Its watches and queue sit behind one leaf lock;
/// readers wait on `queue`.
public final class InotifyFile: FileDescription, @unchecked Sendable {
    /// inotify_add_watch's flag bits beyond the events.
    public enum Flag {
        public static let onlyDir: UInt32 = 0x0100_0000, dontFollow: UInt32 = 0x0200_0000
        public static let exclUnlink: UInt32 = 0x0400_0000, maskCreate: UInt32 = 0x1000_0000
        public static let maskAdd: UInt32 = 0x2000_0000, oneShot: UInt32 = 0x8000_0000
        /// ALL_INOTIFY_BITS: every bit inotify_add_watch knows.
        public static let all: UInt32 = 0xfff | 0x2000 | 0x4000 | 0x8000 | onlyDir | dontFollow | exclUnlink
            | maskCreate | maskAdd | 0x4000_0000 | oneShot
    }

    struct Watch {
        let key: DirNotify.Key
        let isDirectory: Bool
        /// The IN_* events asked for, with IN_EXCL_UNLINK and IN_ONESHOT.
        var mask: UInt32
    }
    struct Event {
        let wd: Int32, mask: UInt32, cookie: UInt32
        let name: [UInt8]
        /// struct inotify_event (16 bytes) and the name, NUL-padded to a
        /// multiple of 16 with at least one NUL (round_event_name_len).
        var size: Int { 16 + (name.isEmpty ? 0 : (name.count + 16) / 16 * 16) }
    }
    private struct State {
        var watches: [Int32: Watch] = [:]
        var byKey: [DirNotify.Key: Int32] = [:]
        /// idr_alloc_cyclic's cursor: the next wd tried.
        var cursor: Int32 = 1
        var events: [Event] = []
        var head = 0
        var overflowQueued = false
        var pending: Int { events.count - head }
    }

    private let state = Mutex(State())
    private let queue = WaitQueue()
    private unowned let registry: InotifyRegistry
    /// The euid whose limits it counts against.
    let owner: UInt32
    /// max_queued_events when it was made.
    private let maxEvents = InotifyRegistry.maxQueuedEvents

    init(registry: InotifyRegistry, owner: UInt32, flags: OpenFlags) {
        self.registry = registry
        self.owner = owner
        super.init(flags: flags)
    }

    /// inotify_init1: a new instance for `owner`, EMFILE past max_user_instances.
    public static func make(_ notify: FSNotify, owner: UInt32, nonBlocking: Bool) throws(Errno) -> InotifyFile {
        let f = InotifyFile(registry: notify.inotify, owner: owner, flags: nonBlocking ? .nonBlock : [])
        try notify.inotify.register(f)
        return f
    }

    deinit {
        let n = state.withLock { $0.watches.count }
        registry.unregister(ObjectIdentifier(self), owner: owner, watches: n)
    }

    public override var displayPath: String { "anon_inode:inotify" }
    public override var reportsLargeFile: Bool { false }
    public override var waitQueue: WaitQueue? { queue }
    public override func stat() throws(Errno) -> Glibc.stat { Self.anonymousInodeStat }

    public override func readiness(_ mask: Int16) -> Int16 {
        state.withLock { $0.pending > 0 } ? mask & Int16(POLLIN | POLLRDNORM) : 0
    }

    // MARK: Watches

    /// inotify_update_watch, after the path walk found `loc`: the watch's
    /// wd, made or changed as `mask` says.
    public func addWatch(at loc: Location, mask: UInt32) throws(Errno) -> Int32 {
        guard let key = DirNotify.key(loc.inode) else { throw .ENOENT }
        let isDirectory = loc.inode.kind == .directory
        let bits = mask & (FSNotify.Mask.allEvents | Flag.exclUnlink | Flag.oneShot)
        let existing: Int32? = try state.withLock { (s: inout State) throws(Errno) -> Int32? in
            guard let wd = s.byKey[key] else { return nil }
            if mask & Flag.maskCreate != 0 { throw .EEXIST }
            if mask & Flag.maskAdd != 0 { s.watches[wd]!.mask |= bits } else { s.watches[wd]!.mask = bits }
            return wd
        }
        if let existing { return existing }
        try registry.chargeWatch(owner)
        let wd: Int32? = state.withLock { s in
            if let wd = s.byKey[key] {   // made meanwhile by another thread
                if mask & Flag.maskAdd != 0 { s.watches[wd]!.mask |= bits } else { s.watches[wd]!.mask = bits }
                return -wd
            }
            // idr_alloc_cyclic(1, INT_MAX): the first free id from the cursor, wrapping to 1.
            var id = s.cursor
            var tried = 0
            while s.watches[id] != nil {
                id = id == Int32.max ? 1 : id + 1
                tried += 1
                if tried > s.watches.count { return nil }
            }
            s.cursor = id == Int32.max ? 1 : id + 1
            s.watches[id] = Watch(key: key, isDirectory: isDirectory, mask: bits)
            s.byKey[key] = id
            return id
        }
        guard let wd else { registry.unchargeWatch(owner); throw .ENOSPC }
        if wd < 0 { registry.unchargeWatch(owner); return -wd }
        return wd
    }

    /// inotify_rm_watch: EINVAL for a wd it does not have; IN_IGNORED queued.
    public func removeWatch(_ wd: Int32) throws(Errno) {
        let found = state.withLock { s -> Bool in
            guard let w = s.watches.removeValue(forKey: wd) else { return false }
            s.byKey[w.key] = nil
            enqueue(&s, Event(wd: wd, mask: FSNotify.Mask.ignored, cookie: 0, name: []))
            return true
        }
        guard found else { throw .EINVAL }
        registry.unchargeWatch(owner)
        queue.notify()
    }

    /// The inode went: its watch, if any, is dropped with IN_IGNORED.
    func drop(_ key: DirNotify.Key) {
        let found = state.withLock { s -> Bool in
            guard let wd = s.byKey.removeValue(forKey: key) else { return false }
            s.watches[wd] = nil
            enqueue(&s, Event(wd: wd, mask: FSNotify.Mask.ignored, cookie: 0, name: []))
            return true
        }
        guard found else { return }
        registry.unchargeWatch(owner)
        queue.notify()
    }

    /// inotify_handle_inode_event, for the watch on `key` if this instance
    /// has one and wants the event. `asParent`: the event is a child's,
    /// which a directory's watch hears with the child's name.
    func handle(_ mask: UInt32, on key: DirNotify.Key, asParent: Bool, name: String?, cookie: UInt32, unlinked: Bool) {
        let (queued, spent) = state.withLock { s -> (Bool, Bool) in
            guard let wd = s.byKey[key], let w = s.watches[wd] else { return (false, false) }
            if asParent && !w.isDirectory { return (false, false) }
            if unlinked && w.mask & Flag.exclUnlink != 0 { return (false, false) }
            guard mask & w.mask & FSNotify.Mask.allEvents != 0 else { return (false, false) }
            var m = mask
            // inotify never reported IN_ISDIR with the SELF events.
            if m & (FSNotify.Mask.moveSelf | FSNotify.Mask.deleteSelf) != 0 { m &= ~FSNotify.Mask.isDirectory }
            enqueue(&s, Event(wd: wd, mask: m, cookie: cookie, name: name.map { Array($0.utf8) } ?? []))
            if w.mask & Flag.oneShot != 0 {
                s.watches[wd] = nil
                s.byKey[key] = nil
                enqueue(&s, Event(wd: wd, mask: FSNotify.Mask.ignored, cookie: 0, name: []))
                return (true, true)
            }
            return (true, false)
        }
        guard queued else { return }
        if spent { registry.unchargeWatch(owner) }   // a one-shot watch that fired is gone
        queue.notify()
    }

    /// fsnotify_insert_event with inotify_merge: past max_queued_events one
    /// IN_Q_OVERFLOW (wd -1) stands for everything lost; an event the same
    /// as the last queued one (mask, wd, name) is dropped.
    private func enqueue(_ s: inout State, _ e: Event) {
        if s.pending >= maxEvents {
            if s.overflowQueued { return }
            s.overflowQueued = true
            s.events.append(Event(wd: -1, mask: FSNotify.Mask.overflow, cookie: 0, name: []))
            return
        }
        if s.pending > 0, let last = s.events.last, last.mask & FSNotify.Mask.ignored == 0,
           last.mask == e.mask, last.wd == e.wd, last.name == e.name { return }
        s.events.append(e)
    }

    // MARK: Reading

    /// inotify_read: whole events while they fit; EINVAL if the first does
    /// not; EAGAIN (for the blocking wait) when there are none.
    public override func read(into bufs: [UnsafeMutableRawBufferPointer]) throws(Errno) -> Int {
        let room = bufs.reduce(0) { $0 + $1.count }
        var out: [UInt8] = []
        let result: Errno? = state.withLock { s -> Errno? in
            guard s.pending > 0 else { return .EAGAIN }
            while s.pending > 0 {
                let e = s.events[s.head]
                guard out.count + e.size <= room else { return out.isEmpty ? .EINVAL : nil }
                s.head += 1
                if e.mask == FSNotify.Mask.overflow && e.wd == -1 { s.overflowQueued = false }
                Self.append(e, to: &out)
            }
            return nil
        }
        state.withLock { s in
            if s.head > 256 && s.head * 2 > s.events.count { s.events.removeFirst(s.head); s.head = 0 }
        }
        if let result { throw result }
        _ = out.withUnsafeBytes { Self.scatter($0, into: bufs) }
        return out.count
    }

    private static func append(_ e: Event, to out: inout [UInt8]) {
        let len = UInt32(e.size - 16)
        withUnsafeBytes(of: e.wd.littleEndian) { out += $0 }
        withUnsafeBytes(of: e.mask.littleEndian) { out += $0 }
        withUnsafeBytes(of: e.cookie.littleEndian) { out += $0 }
        withUnsafeBytes(of: len.littleEndian) { out += $0 }
        if len > 0 {
            out += e.name
            out += [UInt8](repeating: 0, count: Int(len) - e.name.count)
        }
    }

    /// FIONREAD: the bytes every queued event takes.
    public override func ioctl(_ request: UInt64, argument: GuestAddress, mm: MemoryManager) throws(Errno) -> Int64 {
        guard request == Ioctl.FIONREAD else { throw .ENOTTY }
        let n = state.withLock { s in s.events[s.head...].reduce(0) { $0 + $1.size } }
        try mm.write(argument, Int32(truncatingIfNeeded: n))
        return 0
    }

    // MARK: Checkpoint

    /// The instance as an image keeps it: each watch by the (device, inode)
    /// it is on (the numbers a restore gives the same files again), the
    /// wd cursor, the events not yet read.
    func checkpointImage() -> InotifyImage {
        state.withLock { s in
            InotifyImage(owner: owner, cursor: s.cursor, overflowQueued: s.overflowQueued,
                         watches: s.watches.sorted { $0.key < $1.key }.map {
                             InotifyImage.Watch(wd: $0.key, device: $0.value.key.device, inode: $0.value.key.inode,
                                                directory: $0.value.isDirectory, mask: $0.value.mask)
                         },
                         events: s.events[s.head...].map { InotifyImage.Event(wd: $0.wd, mask: $0.mask, cookie: $0.cookie, name: $0.name) })
        }
    }

    /// A restored instance, registered and its watches charged to its owner
    /// as inotify_init1 and inotify_add_watch would have.
    static func restored(_ notify: FSNotify, image: InotifyImage, flags: OpenFlags) throws(Errno) -> InotifyFile {
        let f = InotifyFile(registry: notify.inotify, owner: image.owner, flags: flags)
        try notify.inotify.register(f)
        for _ in image.watches { try notify.inotify.chargeWatch(image.owner) }
        f.state.withLock { s in
            for w in image.watches {
                let key = DirNotify.Key(device: w.device, inode: w.inode)
                s.watches[w.wd] = Watch(key: key, isDirectory: w.directory, mask: w.mask)
                s.byKey[key] = w.wd
            }
            s.cursor = image.cursor
            s.overflowQueued = image.overflowQueued
            s.events = image.events.map { Event(wd: $0.wd, mask: $0.mask, cookie: $0.cookie, name: $0.name) }
        }
        return f
    }

    // MARK: /proc/PID/fdinfo

    /// inotify_fdinfo's lines, newest watch first (marks_list order). No
    /// fhandle part: the sentry offers no file handles (name_to_handle_at
    /// is EOPNOTSUPP), as Linux prints none when the filesystem has none.
    public override var fdinfoDetails: String {
        let ws = state.withLock { s in s.watches.sorted { $0.key > $1.key } }
        var out = ""
        for (wd, w) in ws {
            let dev = w.key.device
            let major = ((dev >> 8) & 0xfff) | ((dev >> 32) & ~0xfff), minor = (dev & 0xff) | ((dev >> 12) & ~0xff)
            let sdev = (major << 20) | minor
            out += "inotify wd:\(String(wd, radix: 16)) ino:\(String(w.key.inode, radix: 16)) sdev:\(String(sdev, radix: 16)) "
                + "mask:\(String(w.mask, radix: 16)) ignored_mask:0\n"
        }
        return out
    }
}
