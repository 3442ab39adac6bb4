import Glibc
import Synchronization

/// POSIX message queues (ipc/mqueue.c of Linux 6.1): one namespace per
/// sandbox, named queues of prioritised messages, the limits of
/// /proc/sys/fs/mqueue and RLIMIT_MSGQUEUE, and mq_notify's registration.
/// One lock guards the namespace and every queue in it; blocked senders and
/// receivers wait on their queue's WaitQueue outside it.
/// Sendable: the registry, counts and charges under `lock`.
public final class PosixMQNamespace: @unchecked Sendable {
    /// /proc/sys/fs/mqueue's defaults in 6.1 (ipc/mq_sysctl.c).
    public struct Limits: Sendable, Codable, Equatable {
        public var queuesMax = 256, msgMax = 10, msgsizeMax = 8192, msgDefault = 10, msgsizeDefault = 8192

        /// The sysctls that set them and their bounds (ipc/mq_sysctl.c:
        /// MIN_MSGMAX..HARD_MSGMAX, MIN_MSGSIZEMAX..HARD_MSGSIZEMAX; queues_max any int).
        static let sysctls: [(name: String, field: WritableKeyPath<Limits, Int> & Sendable, range: ClosedRange<Int>)] = [
            ("msg_default", \.msgDefault, 1...PosixMQNamespace.hardMsgMax),
            ("msg_max", \.msgMax, 1...PosixMQNamespace.hardMsgMax),
            ("msgsize_default", \.msgsizeDefault, 128...PosixMQNamespace.hardMsgsizeMax),
            ("msgsize_max", \.msgsizeMax, 128...PosixMQNamespace.hardMsgsizeMax),
            ("queues_max", \.queuesMax, Int(Int32.min)...Int(Int32.max)),
        ]

        /// Every value in its sysctl's bounds (a restored image's).
        var valid: Bool { Self.sysctls.allSatisfy { $0.range.contains(self[keyPath: $0.field]) } }
    }
    /// HARD_MSGMAX, HARD_MSGSIZEMAX, MQ_PRIO_MAX; the kernel's per-message
    /// and per-priority overheads RLIMIT_MSGQUEUE counts (sizeof(struct
    /// msg_msg), sizeof(struct posix_msg_tree_node) on x86-64).
    static let hardMsgMax = 65536, hardMsgsizeMax = 16 << 20
    public static let prioMax: UInt32 = 32768
    static let msgOverhead = 48, treeNodeSize = 48

    let lock = Mutex<Void>(())
    // Guarded by `lock`.
    var queues: [String: PosixMQ] = [:]
    var live = 0                          // mq_queues_count: until a queue is unlinked and closed
    var charged: [UInt32: UInt64] = [:]   // RLIMIT_MSGQUEUE bytes by uid (the user's ucounts)
    public var limits = Limits()

    public init() {}

    func locked<T, E: Error>(_ body: () throws(E) -> T) throws(E) -> T {
        try lock.withLock { _ throws(E) -> T in try body() }
    }

    /// The limits, if a guest changed them from 6.1's defaults (what an image keeps).
    var changedLimits: Limits? { locked { limits == Limits() ? nil : limits } }

    /// The queue names, for /dev/mqueue.
    public var names: [String] { locked { queues.keys.sorted() } }
    public func queue(named n: String) -> PosixMQ? { locked { queues[n] } }
}

/// Who asks: filesystem ids, groups, and the capabilities mqueue checks.
public struct MQCredentials: Sendable {
    public var uid: UInt32, gid: UInt32, groups: [UInt32]
    public var dacOverride: Bool, sysResource: Bool, fowner: Bool
    public init(uid: UInt32, gid: UInt32, groups: [UInt32], dacOverride: Bool, sysResource: Bool, fowner: Bool) {
        self.uid = uid; self.gid = gid; self.groups = groups
        self.dacOverride = dacOverride; self.sysResource = sysResource; self.fowner = fowner
    }
}

/// One queue: Linux's mqueue_inode_info.
/// Sendable: its mutable state under its namespace's lock; the rest are `let`s.
public final class PosixMQ: @unchecked Sendable {
    public let name: String
    /// Strong: a descriptor may outlive the sandbox's VFS at teardown. The
    /// cycle through `queues` lasts only while the queue has its name.
    let ns: PosixMQNamespace
    public let maxMessages: Int, messageSize: Int
    public let inode: UInt64
    let charge: (uid: UInt32, bytes: UInt64)
    /// Readers and writers wait here; poll too.
    public let waiters = WaitQueue()
    // Guarded by the namespace's lock.
    var mode: UInt32, uid: UInt32, gid: UInt32
    /// Highest priority first, oldest first within one.
    var messages: [(priority: UInt32, data: [UInt8])] = []
    var bytes = 0                  // qsize: the messages' text
    var linked = true
    var opened = 0
    /// Tasks blocked in a receive on an empty queue, and in a send to a
    /// full one, in arrival order: a send hands its message to the first
    /// receiver (pipelined_send), a receive that frees a slot takes the
    /// first sender's message into the queue (pipelined_receive).
    var receivers: [Waiter] = [], senders: [Waiter] = []
    var notification: Notification?
    public internal(set) var times = (access: timespec(), modify: timespec(), change: timespec())

    /// One blocked sender or receiver (ext_wait_queue); guarded by the namespace's lock.
    final class Waiter: @unchecked Sendable {
        /// A receiver's message once a sender handed it over; a sender's until it is queued.
        var message: (priority: UInt32, data: [UInt8])?
        var done = false
        init(message: (priority: UInt32, data: [UInt8])? = nil) { self.message = message }
    }

    /// msg_insert: highest priority first, oldest first within one.
    func insertLocked(_ m: (priority: UInt32, data: [UInt8])) {
        let at = messages.firstIndex { $0.priority < m.priority } ?? messages.count
        messages.insert(m, at: at)
        bytes += m.data.count
    }

    struct Notification {
        let pid: Int32
        let kind: Int32            // SIGEV_SIGNAL, SIGEV_NONE, SIGEV_THREAD
        let signo: Int32
        let value: UInt64
        let socket: SocketEndpoint?
        let cookie: [UInt8]
    }

    init(name: String, ns: PosixMQNamespace, maxMessages: Int, messageSize: Int, mode: UInt32, c: MQCredentials,
         charge: (UInt32, UInt64), inode: UInt64) {
        self.name = name; self.ns = ns; self.maxMessages = maxMessages; self.messageSize = messageSize
        self.mode = mode; uid = c.uid; gid = c.gid; self.charge = charge; self.inode = inode
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        times = (now, now, now)
    }

    /// inode_permission for MAY_READ (4) / MAY_WRITE (2).
    func allows(_ want: UInt32, _ c: MQCredentials) -> Bool {
        if c.dacOverride { return true }
        var granted = mode
        if c.uid == uid { granted >>= 6 } else if c.gid == gid || c.groups.contains(gid) { granted >>= 3 }
        return want & ~granted & 7 == 0
    }

    /// The line a read of the queue's file gives, as mqueue_read_file prints it.
    public var statusLine: String {
        ns.locked {
            let n = notification
            func pad(_ v: Int, _ w: Int) -> String { let s = String(v); return s + String(repeating: " ", count: max(0, w - s.count)) }
            return "QSIZE:\(pad(bytes, 10)) NOTIFY:\(pad(Int(n?.kind ?? 0), 5)) SIGNO:\(pad(n?.kind == PosixMQ.SIGEV_SIGNAL ? Int(n!.signo) : 0, 5)) NOTIFY_PID:\(pad(Int(n?.pid ?? 0), 6))\n"
        }
    }

    public var attributes: (maxMessages: Int, messageSize: Int, current: Int) {
        ns.locked { (maxMessages, messageSize, messages.count) }
    }

    public static let SIGEV_SIGNAL: Int32 = 0, SIGEV_NONE: Int32 = 1, SIGEV_THREAD: Int32 = 2
    /// NOTIFY_COOKIE_LEN, and the cookie's last byte: NOTIFY_WOKENUP, NOTIFY_REMOVED.
    public static let cookieLength = 32
    static let notifyWokenUp: UInt8 = 1, notifyRemoved: UInt8 = 2

    func touch(modify: Bool) {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        times.access = now
        if modify { times.modify = now; times.change = now }
    }
}

extension PosixMQNamespace {
    /// mq_open's lookup or creation (do_mq_open, prepare_open, mqueue_get_inode).
    public func open(name: String, flags: Int32, mode: UInt32, attributes: (maxMessages: Int, messageSize: Int)?,
                     _ c: MQCredentials, rlimit: UInt64) throws(Errno) -> PosixMQ {
        // lookup_one_len: no empty name, no "." or "..", no slash.
        let bytes = Array(name.rawBytes)
        guard !bytes.isEmpty, name != ".", name != "..", !bytes.contains(UInt8(ascii: "/")) else { throw .EACCES }
        guard bytes.count <= 255 else { throw .ENAMETOOLONG }
        let q: PosixMQ = try locked { () throws(Errno) -> PosixMQ in
            if let q = queues[name] {
                if flags & O_CREAT != 0 && flags & O_EXCL != 0 { throw .EEXIST }
                let acc = flags & O_ACCMODE
                guard acc != O_ACCMODE else { throw .EINVAL }
                let want: UInt32 = acc == O_RDONLY ? 4 : acc == O_WRONLY ? 2 : 6
                guard q.allows(want, c) else { throw .EACCES }
                q.opened += 1
                return q
            }
            guard flags & O_CREAT != 0 else { throw .ENOENT }
            guard live < limits.queuesMax || c.sysResource else { throw .ENOSPC }
            let maxMessages = attributes?.maxMessages ?? min(limits.msgMax, limits.msgDefault)
            let messageSize = attributes?.messageSize ?? min(limits.msgsizeMax, limits.msgsizeDefault)
            guard maxMessages > 0, messageSize > 0 else { throw .EINVAL }
            if c.sysResource {
                guard maxMessages <= Self.hardMsgMax, messageSize <= Self.hardMsgsizeMax else { throw .EINVAL }
            } else {
                guard maxMessages <= limits.msgMax, messageSize <= limits.msgsizeMax else { throw .EINVAL }
            }
            // What RLIMIT_MSGQUEUE counts: the text and the kernel's bookkeeping.
            let (text, o1) = maxMessages.multipliedReportingOverflow(by: messageSize)
            guard !o1 else { throw .EOVERFLOW }
            let tree = maxMessages * Self.msgOverhead + min(maxMessages, Int(Self.prioMax)) * Self.treeNodeSize
            let (total, o2) = text.addingReportingOverflow(tree)
            guard !o2 else { throw .EOVERFLOW }
            let used = charged[c.uid, default: 0]
            guard used &+ UInt64(total) <= rlimit, used &+ UInt64(total) >= used else { throw .EMFILE }
            charged[c.uid] = used + UInt64(total)
            live += 1
            let q = PosixMQ(name: name, ns: self, maxMessages: maxMessages, messageSize: messageSize, mode: mode, c: c,
                            charge: (c.uid, UInt64(total)), inode: Self.nextInode.add(1, ordering: .relaxed).newValue)
            q.opened = 1
            queues[name] = q
            return q
        }
        return q
    }

    static let nextInode = Atomic<UInt64>(0x4000)

    /// mq_unlink: the name goes; the queue lives on while open.
    public func unlink(name: String, _ c: MQCredentials) throws(Errno) {
        let bytes = Array(name.rawBytes)
        guard !bytes.isEmpty, name != ".", name != "..", !bytes.contains(UInt8(ascii: "/")) else { throw .EACCES }
        guard bytes.count <= 255 else { throw .ENAMETOOLONG }
        try locked { () throws(Errno) in
            guard let q = queues[name] else { throw .ENOENT }
            // vfs_unlink in a root-owned directory of mode 1777 (the sticky
            // bit): the queue's owner, the directory's (root), or CAP_FOWNER.
            guard q.uid == c.uid || c.uid == 0 || c.fowner else { throw .EPERM }
            removeLocked(name, q)
        }
    }

    /// An unlink in /dev/mqueue, whose path walk judged the permission already.
    func unlink(name: String) throws(Errno) {
        try locked { () throws(Errno) in
            guard let q = queues[name] else { throw .ENOENT }
            removeLocked(name, q)
        }
    }

    private func removeLocked(_ name: String, _ q: PosixMQ) {
        queues[name] = nil
        q.linked = false
        releaseIfGoneLocked(q)
    }

    /// One more descriptor (an open of /dev/mqueue/NAME): ENOENT if the
    /// queue was unlinked and freed meanwhile.
    func retain(_ q: PosixMQ) throws(Errno) {
        try locked { () throws(Errno) in
            guard q.linked || q.opened > 0 else { throw .ENOENT }
            q.opened += 1
        }
    }

    /// The last descriptor closed: a queue already unlinked is freed, its
    /// charge returned.
    func closed(_ q: PosixMQ, pid: Int32) {
        locked {
            q.opened -= 1
            releaseIfGoneLocked(q)
        }
    }

    /// mqueue_flush_file: a process that closes a descriptor of a queue
    /// drops its own registration there.
    public func flushed(_ q: PosixMQ, pid: Int32) {
        let n: PosixMQ.Notification? = locked {
            guard let n = q.notification, n.pid == pid else { return nil }
            q.notification = nil
            return n
        }
        if let n { Self.removed(n) }
    }

    /// A process that exits or execs closes every queue descriptor it had
    /// (they are all close-on-exec): its registrations go.
    public func processReleased(pid: Int32) {
        let gone: [PosixMQ.Notification] = locked {
            var out: [PosixMQ.Notification] = []
            for q in queues.values { if let n = q.notification, n.pid == pid { q.notification = nil; out.append(n) } }
            return out
        }
        for n in gone { Self.removed(n) }
    }

    private func releaseIfGoneLocked(_ q: PosixMQ) {
        guard !q.linked, q.opened == 0 else { return }
        live -= 1
        charged[q.charge.uid, default: 0] -= min(q.charge.bytes, charged[q.charge.uid, default: 0])
        if let n = q.notification { q.notification = nil; Self.removed(n) }
    }

    /// A SIGEV_THREAD registration that goes away tells its socket so.
    static func removed(_ n: PosixMQ.Notification) {
        guard n.kind == PosixMQ.SIGEV_THREAD, let s = n.socket else { return }
        var cookie = n.cookie
        cookie[PosixMQ.cookieLength - 1] = PosixMQ.notifyRemoved
        s.netlinkDeliverFromKernel(cookie)
    }
}
