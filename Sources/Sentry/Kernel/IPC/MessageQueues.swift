import Glibc

/// A System V message queue (ipc/msg.c): typed messages in arrival order,
/// bounded by `maxBytes` (msg_qbytes) in bytes and in count.
final class MessageQueue: IPCObject, @unchecked Sendable {   // guarded by IPCNamespace.lock
    var messages: [(type: Int64, text: [UInt8])] = []
    var bytes = 0
    var maxBytes = IPC.MSGMNB
    var sendTime = 0, receiveTime = 0
    var lastSender: Int32 = 0, lastReceiver: Int32 = 0
}

extension IPCNamespace {
    /// msgget(2).
    public func msgget(key: Int32, flags: Int32, _ c: IPCCredentials) throws(Errno) -> Int32 {
        try locked { () throws(Errno) -> Int32 in
            try msg.get(key: key, flags: flags, c, check: { (_) throws(Errno) in }, make: { (perm) throws(Errno) -> MessageQueue in
                MessageQueue(perm: perm)
            })
        }
    }

    /// msgsnd(2): waits while the queue is full (unless IPC_NOWAIT).
    public func msgsnd(id: Int32, type: Int64, text: [UInt8], flags: Int32, _ c: IPCCredentials, pid: Int32,
                       block: (WaitQueue, () throws(Errno) -> Bool) throws(Errno) -> Void) throws(Errno) {
        guard id >= 0, text.count <= IPC.MSGMAX else { throw .EINVAL }
        guard type >= 1 else { throw .EINVAL }
        let q = try locked { () throws(Errno) -> MessageQueue in try msg.lookup(id) }
        try block(q.waiters) { () throws(Errno) -> Bool in
            try locked { () throws(Errno) -> Bool in
                guard q.perm.allows(0o222, c) else { throw .EACCES }
                if q.removed { throw .EIDRM }
                guard text.count + q.bytes <= q.maxBytes, q.messages.count + 1 <= q.maxBytes else {
                    if flags & IPC.IPC_NOWAIT != 0 { throw .EAGAIN }
                    return false
                }
                q.messages.append((type, text))
                q.bytes += text.count
                q.sendTime = IPCObject.now()
                q.lastSender = pid
                q.waiters.notify()
                return true
            }
        }
    }

    /// msgrcv(2): the first message `type` selects (0: any; > 0: that type,
    /// or any other with MSG_EXCEPT; < 0: the lowest type up to -type), or
    /// with MSG_COPY the message at index `type`, left in place. Returns
    /// the message's type and text, cut to `size` with MSG_NOERROR.
    public func msgrcv(id: Int32, size: Int, type: Int64, flags: Int32, _ c: IPCCredentials, pid: Int32,
                       block: (WaitQueue, () throws(Errno) -> Bool) throws(Errno) -> Void) throws(Errno) -> (Int64, [UInt8]) {
        guard id >= 0, size >= 0 else { throw .EINVAL }
        let copy = flags & IPC.MSG_COPY != 0
        if copy && (flags & IPC.MSG_EXCEPT != 0 || flags & IPC.IPC_NOWAIT == 0) { throw .EINVAL }
        let q = try locked { () throws(Errno) -> MessageQueue in try msg.lookup(id) }
        var got: (Int64, [UInt8])?
        try block(q.waiters) { () throws(Errno) -> Bool in
            try locked { () throws(Errno) -> Bool in
                guard q.perm.allows(0o444, c) else { throw .EACCES }
                if q.removed { throw .EIDRM }
                let index: Int?
                if copy {
                    index = type >= 0 && type < Int64(q.messages.count) ? Int(type) : nil
                } else if type == 0 {
                    index = q.messages.isEmpty ? nil : 0
                } else if type > 0 {
                    index = q.messages.firstIndex { flags & IPC.MSG_EXCEPT != 0 ? $0.type != type : $0.type == type }
                } else {
                    let limit = type == .min ? Int64.max : -type
                    index = q.messages.indices.filter { q.messages[$0].type <= limit }.min { q.messages[$0].type < q.messages[$1].type }
                }
                guard let index else {
                    if flags & IPC.IPC_NOWAIT != 0 { throw .ENOMSG }
                    return false
                }
                let m = q.messages[index]
                if m.text.count > size && flags & IPC.MSG_NOERROR == 0 { throw .E2BIG }
                got = (m.type, Array(m.text.prefix(size)))
                if !copy {
                    q.messages.remove(at: index)
                    q.bytes -= m.text.count
                    q.receiveTime = IPCObject.now()
                    q.lastReceiver = pid
                    q.waiters.notify()
                }
                return true
            }
        }
        return got!
    }

    /// msgctl(2).
    public func msgctl(id: Int32, cmd: Int32, input: [UInt8]?, _ c: IPCCredentials) throws(Errno) -> (Int64, [UInt8]?) {
        try locked { () throws(Errno) -> (Int64, [UInt8]?) in
            switch cmd {
            case IPC.IPC_INFO, IPC.MSG_INFO:
                // struct msginfo: msgpool, msgmap, msgmax, msgmnb, msgmni, msgssz, msgtql (int), msgseg (ushort).
                var b = [UInt8](repeating: 0, count: 32)
                let queued = msg.byIndex.values.reduce(0) { $0 + $1.messages.count }
                let bytes = msg.byIndex.values.reduce(0) { $0 + $1.bytes }
                let fields: [Int32] = cmd == IPC.MSG_INFO
                    ? [Int32(msg.count), Int32(queued), Int32(IPC.MSGMAX), Int32(IPC.MSGMNB), Int32(IPC.MSGMNI), 16, Int32(bytes)]
                    // MSGPOOL, then MSGMAP and MSGTQL, both MSGMNB (uapi/linux/msg.h).
                    : [Int32(IPC.MSGMNI * IPC.MSGMNB / 1024), Int32(IPC.MSGMNB), Int32(IPC.MSGMAX),
                       Int32(IPC.MSGMNB), Int32(IPC.MSGMNI), 16, Int32(IPC.MSGMNB)]
                for (i, f) in fields.enumerated() { b.store(f, at: i * 4) }
                b.store(UInt16(0xffff), at: 28)
                return (Int64(msg.highestIndex), b)
            case IPC.IPC_STAT, IPC.MSG_STAT, IPC.MSG_STAT_ANY:
                let q = cmd == IPC.IPC_STAT ? try msg.lookup(id) : try msg.at(index: id)
                if cmd != IPC.MSG_STAT_ANY { guard q.perm.allows(0o444, c) else { throw .EACCES } }
                // struct msqid64_ds (120 bytes).
                var b = [UInt8](repeating: 0, count: 120)
                q.perm.encode(into: &b, at: 0)
                b.store(Int64(q.sendTime), at: 48); b.store(Int64(q.receiveTime), at: 56); b.store(Int64(q.changeTime), at: 64)
                b.store(UInt64(q.bytes), at: 72); b.store(UInt64(q.messages.count), at: 80); b.store(UInt64(q.maxBytes), at: 88)
                b.store(q.lastSender, at: 96); b.store(q.lastReceiver, at: 100)
                return (cmd == IPC.IPC_STAT ? 0 : Int64(q.id), b)
            case IPC.IPC_SET:
                let q = try msg.lookup(id)
                try q.set(from: input, length: 96, c) { (input) throws(Errno) in
                    let newMax = input.load(UInt64.self, at: 88)
                    if newMax > UInt64(IPC.MSGMNB) && !c.sysResource { throw .EPERM }
                    guard newMax <= UInt64(Int32.max) else { throw .EINVAL }
                    q.maxBytes = Int(newMax)
                }
                q.waiters.notify()   // a larger queue may take a blocked sender
                return (0, nil)
            case IPC.IPC_RMID:
                let q = try msg.lookup(id)
                guard q.perm.ownedBy(c) else { throw .EPERM }
                msg.remove(q)
                q.waiters.notify()   // blocked callers see EIDRM
                return (0, nil)
            default:
                throw .EINVAL
            }
        }
    }
}
