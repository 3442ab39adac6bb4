import CSwitch
import Glibc
import Synchronization

/// A POSIX message queue descriptor (mqd_t): what mq_open returns and what
/// opening /dev/mqueue/NAME gives. Reading it gives the queue's status line;
/// poll says whether a message waits (POLLIN) or there is room (POLLOUT).
/// Sendable: the position behind its Mutex; the queue guards itself.
public final class PosixMQFile: FileDescription, @unchecked Sendable {
    public let queue: PosixMQ
    private let offset = Mutex<Int>(0)

    /// A new descriptor of `queue`, whose opener the namespace has counted
    /// (PosixMQNamespace.open or retain).
    init(_ queue: PosixMQ, flags: OpenFlags) {
        self.queue = queue
        super.init(flags: flags)
    }
    deinit { queue.ns.closed(queue, pid: 0) }

    public override var displayPath: String { "/" + queue.name }
    public override var waitQueue: WaitQueue? { queue.waiters }

    public override func readiness(_ mask: Int16) -> Int16 {
        let (max, _, n) = queue.attributes
        var r: Int16 = 0
        if n > 0 { r |= Int16(POLLIN | POLLRDNORM) }
        if n < max { r |= Int16(POLLOUT | POLLWRNORM) }
        return r & (mask | Int16(POLLERR | POLLHUP))
    }

    /// mqueue_read_file: the status line, from the file position.
    public override func read(into bufs: [UnsafeMutableRawBufferPointer]) throws(Errno) -> Int {
        let line = Array(queue.statusLine.utf8)
        let at = offset.withLock { $0 }
        var pos = min(at, line.count), total = 0
        for b in bufs where pos < line.count {
            let n = min(b.count, line.count - pos)
            line.withUnsafeBytes { b.baseAddress!.copyMemory(from: $0.baseAddress! + pos, byteCount: n) }
            pos += n; total += n
        }
        offset.withLock { $0 = at + total }
        queue.ns.locked { queue.touch(modify: false) }
        return total
    }

    public override func seek(_ off: Int64, whence: Int32) throws(Errno) -> Int64 {
        // generic_file_llseek over an 80-byte file (FILENT_SIZE).
        let base: Int64
        switch whence {
        case SEEK_SET: base = 0
        case SEEK_CUR: base = Int64(offset.withLock { $0 })
        case SEEK_END: base = 80
        default: throw .EINVAL
        }
        let (to, o) = base.addingReportingOverflow(off)
        guard !o, to >= 0 else { throw .EINVAL }
        offset.withLock { $0 = Int(clamping: to) }
        return to
    }

    public override func stat() throws(Errno) -> Glibc.stat { queue.stat() }

    /// The mqueue filesystem's device number.
    static let device: UInt64 = 0x13
}

extension PosixMQ {
    /// The queue's inode as fstat shows it: FILENT_SIZE bytes.
    func stat() -> Glibc.stat {
        let (mode, uid, gid, t) = ns.locked { (self.mode, self.uid, self.gid, times) }
        var st = Glibc.stat.synthetic(mode: S_IFREG | mode, inode: inode, device: PosixMQFile.device, size: 80)
        st.st_uid = uid
        st.st_gid = gid
        st.st_atim = t.access; st.st_mtim = t.modify; st.st_ctim = t.change
        return st
    }
}

/// mq_timedsend, mq_timedreceive, mq_notify and mq_getsetattr on a queue.
extension Task {
    /// The caller as mqueue's checks see it.
    public var mqCredentials: MQCredentials {
        let c = attributes.withLock { $0.credentials }
        return MQCredentials(uid: c.fsuid, gid: c.fsgid, groups: c.groups,
                             dacOverride: c.capable(Credentials.CAP_DAC_OVERRIDE), sysResource: c.capable(Credentials.CAP_SYS_RESOURCE),
                             fowner: c.capable(Credentials.CAP_FOWNER))
    }

    /// mq_open: the queue's descriptor, always close-on-exec as Linux makes it.
    public func mqOpen(name: String, flags: Int32, mode: UInt32, attributes: (Int, Int)?) throws(Errno) -> FileDescriptor {
        let limit = rlimit(ResourceLimit.RLIMIT_MSGQUEUE)?.cur ?? 819_200
        let q = try kernel.vfs.mqueues.open(name: name, flags: flags, mode: mode & ~umask & 0o7777,
                                            attributes: attributes.map { (maxMessages: $0.0, messageSize: $0.1) },
                                            mqCredentials, rlimit: limit)
        // dentry_open's file_open hook, once the queue exists (one made stays): Landlock's.
        if let domain = self.attributes.withLock({ $0.credentials.landlock }),
           let e = domain.checkUnreachable(LandlockAccess.opening(OpenFlags(rawValue: flags), directory: false, execute: false)) { throw e }
        let file = PosixMQFile(q, flags: OpenFlags(rawValue: flags & (O_ACCMODE | O_NONBLOCK)))
        return try fds.install(file, closeOnExec: true)
    }

    func mqFile(_ fd: FileDescriptor) throws(Errno) -> PosixMQFile {
        guard let f = try? fds.get(fd), let q = f as? PosixMQFile else { throw .EBADF }
        return q
    }

    /// do_mq_timedsend, after the priority and the timeout were checked.
    public func mqSend(_ fd: FileDescriptor, message: GuestAddress, length: Int, priority: UInt32, deadline: Deadline?) throws(Errno) {
        let file = try mqFile(fd)
        guard file.flags.writable && file.flags.rawValue & 3 != 3 else { throw .EBADF }
        let q = file.queue
        guard length <= q.messageSize else { throw .EMSGSIZE }
        let data = try mm.copyIn(message, length)
        enum Outcome { case sent(PosixMQ.Notification?), full(PosixMQ.Waiter?) }
        let nonBlocking = file.flags.contains(.nonBlock)
        let outcome: Outcome = q.ns.locked {
            if q.messages.count >= q.maxMessages {
                // Full: wait in line (a receive that frees a slot queues the first waiter's message).
                guard !nonBlocking else { return .full(nil) }
                let w = PosixMQ.Waiter(message: (priority, data))
                q.senders.append(w)
                return .full(w)
            }
            q.touch(modify: true)
            if !q.receivers.isEmpty {
                let r = q.receivers.removeFirst()   // pipelined_send: straight to the first receiver
                r.message = (priority, data)
                r.done = true
                return .sent(nil)
            }
            q.insertLocked((priority, data))
            // __do_notify: the queue went from empty to not, and no receiver
            // was waiting for it: the registration fires once.
            if q.messages.count == 1, let n = q.notification {
                q.notification = nil
                return .sent(n)
            }
            return .sent(nil)
        }
        switch outcome {
        case .sent(let n):
            q.waiters.notify()
            if let n { notifyMQ(n) }
        case .full(nil):
            throw .EAGAIN
        case .full(let w?):
            try mqWait(q, w, in: \.senders, deadline: deadline)
        }
    }

    /// wq_sleep: blocks until `w` is served; a timeout or a signal that
    /// comes after it was served still succeeds (the message moved). Leaves `list` otherwise.
    private func mqWait(_ q: PosixMQ, _ w: PosixMQ.Waiter, in list: ReferenceWritableKeyPath<PosixMQ, [PosixMQ.Waiter]>,
                        deadline: Deadline?) throws(Errno) {
        var failure: Errno?
        do {
            if try block(on: [q.waiters], deadline: deadline, { () throws(Errno) in q.ns.locked { w.done } }) == .timedOut {
                failure = .ETIMEDOUT
            }
        } catch { failure = error }
        guard let failure else { return }
        let served: Bool = q.ns.locked {
            if w.done { return true }
            q[keyPath: list].removeAll { $0 === w }
            return false
        }
        if !served { throw failure }
    }

    /// The registration fires: a signal to the registered process, or the
    /// cookie to its netlink socket (glibc's SIGEV_THREAD helper).
    private func notifyMQ(_ n: PosixMQ.Notification) {
        switch n.kind {
        case PosixMQ.SIGEV_SIGNAL:
            var info = SignalInfo(Signal(n.signo), code: -3)   // SI_MESGQ
            info.pid = group.pid
            info.uid = attributes.withLock { $0.credentials.uid }
            info.value = n.value
            kernel.locked { if let g = kernel.groupLocked(n.pid) { kernel.sendLocked(info, to: g) } }
        case PosixMQ.SIGEV_THREAD:
            var cookie = n.cookie
            cookie[PosixMQ.cookieLength - 1] = PosixMQ.notifyWokenUp
            n.socket?.netlinkDeliverFromKernel(cookie)
        default:
            break
        }
    }

    /// do_mq_timedreceive: the oldest message of the highest priority.
    public func mqReceive(_ fd: FileDescriptor, capacity: Int, deadline: Deadline?) throws(Errno) -> (data: [UInt8], priority: UInt32) {
        let file = try mqFile(fd)
        guard file.flags.readable && file.flags.rawValue & 3 != 3 else { throw .EBADF }
        let q = file.queue
        guard capacity >= q.messageSize else { throw .EMSGSIZE }
        let nonBlocking = file.flags.contains(.nonBlock)
        enum Outcome { case empty, message(priority: UInt32, data: [UInt8]), waiting(PosixMQ.Waiter) }
        let got: Outcome = q.ns.locked {
            if q.messages.isEmpty {
                guard !nonBlocking else { return .empty }
                let w = PosixMQ.Waiter()
                q.receivers.append(w)
                return .waiting(w)
            }
            let m = q.messages.removeFirst()
            q.bytes -= m.data.count
            q.touch(modify: true)
            // pipelined_receive: the slot goes to the first sender waiting for one.
            if !q.senders.isEmpty {
                let s = q.senders.removeFirst()
                if let sm = s.message { q.insertLocked(sm) }
                s.message = nil
                s.done = true
            }
            return .message(priority: m.priority, data: m.data)
        }
        switch got {
        case .empty:
            throw .EAGAIN
        case .message(let priority, let data):
            q.waiters.notify()
            return (data, priority)
        case .waiting(let w):
            try mqWait(q, w, in: \.receivers, deadline: deadline)
            let m = q.ns.locked { w.message }!
            return (m.data, m.priority)
        }
    }

    /// What mq_notify registers: nil unregisters.
    public enum MQNotifyRequest {
        case none, signal(Int32, UInt64), thread(socketFD: FileDescriptor, cookie: [UInt8])
    }

    /// do_mq_notify: the sigevent (and its netlink socket) first, then the queue.
    public func mqNotify(_ fd: FileDescriptor, _ request: MQNotifyRequest?) throws(Errno) {
        var socket: SocketEndpoint?
        if case .thread(let sfd, _)? = request {
            guard let f = try? fds.get(sfd) else { throw .EBADF }
            guard let s = f as? SocketFile else { throw .ENOTSOCK }
            guard s.endpoint.family == SocketConstants.AF_NETLINK else { throw .EINVAL }
            socket = s.endpoint
        }
        let q = try mqFile(fd).queue
        let me = group.pid
        let removed: PosixMQ.Notification? = try q.ns.locked { () throws(Errno) -> PosixMQ.Notification? in
            guard let request else {
                guard let n = q.notification, n.pid == me else { return nil }
                q.notification = nil
                return n
            }
            guard q.notification == nil else { throw .EBUSY }
            switch request {
            case .none:
                q.notification = .init(pid: me, kind: PosixMQ.SIGEV_NONE, signo: 0, value: 0, socket: nil, cookie: [])
            case .signal(let signo, let value):
                q.notification = .init(pid: me, kind: PosixMQ.SIGEV_SIGNAL, signo: signo, value: value, socket: nil, cookie: [])
            case .thread(_, let cookie):
                q.notification = .init(pid: me, kind: PosixMQ.SIGEV_THREAD, signo: 0, value: 0, socket: socket, cookie: cookie)
            }
            q.touch(modify: false)
            return nil
        }
        if let removed { PosixMQNamespace.removed(removed) }
    }

    /// do_mq_getsetattr: the old attributes; O_NONBLOCK is the descriptor's.
    public func mqGetSetAttributes(_ fd: FileDescriptor, newFlags: Int64?) throws(Errno) -> (flags: Int64, max: Int, size: Int, current: Int) {
        if let newFlags { guard newFlags & ~Int64(O_NONBLOCK) == 0 else { throw .EINVAL } }
        let file = try mqFile(fd)
        let (max, size, n) = file.queue.attributes
        let old = (flags: Int64(file.flags.rawValue & O_NONBLOCK), max: max, size: size, current: n)
        if let newFlags {
            var f = file.flags
            if newFlags & Int64(O_NONBLOCK) != 0 { f.insert(.nonBlock) } else { f.remove(.nonBlock) }
            file.flags = f
            file.queue.ns.locked { file.queue.touch(modify: false) }
        }
        return old
    }
}
