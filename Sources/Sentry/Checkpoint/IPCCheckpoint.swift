import FoundationEssentials
import Glibc

/// System V IPC and POSIX message queues in a checkpoint image: each
/// object with its id or name, contents and times. Shared memory segments'
/// pages stay in the memory file (the page store keeps them with their
/// attachments'); blocked callers are not part of an object: the freeze
/// ended their waits and they wait again once restored.
extension IPCNamespace {
    /// The namespace, `held` the segments some mapping holds (a removed one
    /// is in no table). Returns the image and each segment's index in it.
    func checkpointImage(held: [ShmSegment]) -> (SysVImage, [ObjectIdentifier: Int]) {
        locked {
            var segments = shm.byIndex.values.sorted { $0.id < $1.id }
            for s in held where !segments.contains(where: { $0 === s }) { segments.append(s) }
            var index: [ObjectIdentifier: Int] = [:]
            var shmImages: [ShmImage] = []
            for s in segments {
                index[ObjectIdentifier(s)] = shmImages.count
                shmImages.append(ShmImage(id: s.id, perm: Self.image(s.perm), size: s.size, memory: s.memOffset..<(s.memOffset + s.length),
                                          attachTime: s.attachTime, detachTime: s.detachTime, changeTime: s.changeTime,
                                          creatorPID: s.creatorPID, lastPID: s.lastPID, removed: s.removed))
            }
            let sems = sem.byIndex.values.sorted { $0.id < $1.id }.map {
                SemImage(id: $0.id, perm: Self.image($0.perm), values: $0.values, lastPIDs: $0.lastPIDs,
                         operationTime: $0.operationTime, changeTime: $0.changeTime)
            }
            let msgs = msg.byIndex.values.sorted { $0.id < $1.id }.map {
                MsgQueueImage(id: $0.id, perm: Self.image($0.perm), types: $0.messages.map(\.type), texts: $0.messages.map { Data($0.text) },
                              maxBytes: $0.maxBytes, sendTime: $0.sendTime, receiveTime: $0.receiveTime, changeTime: $0.changeTime,
                              lastSender: $0.lastSender, lastReceiver: $0.lastReceiver)
            }
            var undos: [SemUndoImage] = []
            for (pid, sets) in undo.sorted(by: { $0.key < $1.key }) {
                for (set, adj) in sets.sorted(by: { $0.key < $1.key }) { undos.append(SemUndoImage(pid: pid, set: set, adjustments: adj)) }
            }
            return (SysVImage(shm: shmImages, sem: sems, msg: msgs, nextSeq: [shm.nextSeq, sem.nextSeq, msg.nextSeq], undo: undos), index)
        }
    }

    static func image(_ p: IPCPerm) -> IPCPermImage {
        IPCPermImage(key: p.key, uid: p.uid, gid: p.gid, cuid: p.cuid, cgid: p.cgid, mode: p.mode, seq: p.seq)
    }

    static func perm(_ i: IPCPermImage) -> IPCPerm {
        var p = IPCPerm(key: i.key, creator: IPCCredentials(uid: i.cuid, gid: i.cgid), mode: i.mode, seq: i.seq)
        p.uid = i.uid; p.gid = i.gid
        return p
    }

    /// Rebuilds the namespace of a fresh sandbox; `place` gives where a
    /// segment's run of image memory is now. Returns the segments in image order.
    func restore(_ image: SysVImage, place: (Range<UInt64>) throws(CheckpointError) -> UInt64) throws(CheckpointError) -> [ShmSegment] {
        var segments: [ShmSegment] = []
        for s in image.shm {
            guard s.size >= IPC.SHMMIN, s.size <= IPC.SHMMAX, let len = GuestAddress(s.size).pageUp?.rawValue,
                  s.memory.upperBound - s.memory.lowerBound == len else { throw .corrupt("System V segment \(s.id)") }
            let at = try place(s.memory)
            let segment: ShmSegment
            do { segment = try ShmSegment(restoring: Self.perm(s.perm), size: s.size, memory: memory, memOffset: at, creator: s.creatorPID) }
            catch { throw .corrupt("System V segment \(s.id)") }
            segment.attachTime = s.attachTime; segment.detachTime = s.detachTime; segment.changeTime = s.changeTime
            segment.lastPID = s.lastPID
            segment.namespace = self
            segments.append(segment)
        }
        try locked { () throws(CheckpointError) in
            do {
                for (s, i) in zip(segments, image.shm) { try shm.restore(s, id: i.removed ? nil : i.id) }
                for i in image.sem {
                    guard !i.values.isEmpty, i.values.count <= IPC.SEMMSL, i.lastPIDs.count == i.values.count,
                          i.values.allSatisfy({ (0...IPC.SEMVMX).contains($0) }) else { throw Errno.EINVAL }
                    let set = SemaphoreSet(perm: Self.perm(i.perm), count: i.values.count)
                    set.values = i.values; set.lastPIDs = i.lastPIDs
                    set.operationTime = i.operationTime; set.changeTime = i.changeTime
                    try sem.restore(set, id: i.id)
                }
                for i in image.msg {
                    guard i.types.count == i.texts.count, i.types.allSatisfy({ $0 > 0 }), i.maxBytes >= 0,
                          i.texts.allSatisfy({ $0.count <= IPC.MSGMAX }) else { throw Errno.EINVAL }
                    let q = MessageQueue(perm: Self.perm(i.perm))
                    q.messages = zip(i.types, i.texts).map { ($0, Array($1)) }
                    q.bytes = i.texts.reduce(0) { $0 + $1.count }
                    q.maxBytes = i.maxBytes
                    q.sendTime = i.sendTime; q.receiveTime = i.receiveTime; q.changeTime = i.changeTime
                    q.lastSender = i.lastSender; q.lastReceiver = i.lastReceiver
                    try msg.restore(q, id: i.id)
                }
                guard image.nextSeq.count == 3 else { throw Errno.EINVAL }
                try shm.restoreNextSeq(image.nextSeq[0]); try sem.restoreNextSeq(image.nextSeq[1]); try msg.restoreNextSeq(image.nextSeq[2])
                for u in image.undo {
                    guard let set = try? sem.lookup(u.set), set.values.count == u.adjustments.count else { throw Errno.EINVAL }
                    undo[u.pid, default: [:]][u.set] = u.adjustments
                }
            } catch { throw .corrupt("the System V IPC objects") }
        }
        return segments
    }
}

extension PosixMQNamespace {
    /// Every named queue and the unlinked ones still open (`open`), and each
    /// one's index. A SIGEV_THREAD registration (a netlink socket's) is refused.
    func checkpointImage(open: [PosixMQ]) throws(CheckpointError) -> ([PosixMQImage], [ObjectIdentifier: Int]) {
        try locked { () throws(CheckpointError) -> ([PosixMQImage], [ObjectIdentifier: Int]) in
            var all = queues.values.sorted { $0.name < $1.name }
            for q in open where !all.contains(where: { $0 === q }) { all.append(q) }
            var index: [ObjectIdentifier: Int] = [:]
            var images: [PosixMQImage] = []
            for q in all {
                if let n = q.notification, n.kind == PosixMQ.SIGEV_THREAD {
                    throw .unsupported("POSIX message queue /\(q.name): an mq_notify SIGEV_THREAD registration (a netlink socket)")
                }
                let t = q.times
                index[ObjectIdentifier(q)] = images.count
                images.append(PosixMQImage(
                    name: q.name, linked: q.linked, maxMessages: q.maxMessages, messageSize: q.messageSize, mode: q.mode, uid: q.uid, gid: q.gid,
                    chargeUID: q.charge.uid, chargeBytes: q.charge.bytes, priorities: q.messages.map(\.priority),
                    messages: q.messages.map { Data($0.data) }, notifyPID: q.notification?.pid, notifyKind: q.notification?.kind,
                    notifySigno: q.notification?.signo, notifyValue: q.notification?.value,
                    times: [t.access, t.modify, t.change].flatMap { [Int64($0.tv_sec), Int64($0.tv_nsec)] }))
            }
            return (images, index)
        }
    }

    /// Rebuilds the queues of a fresh sandbox; `opened[i]`: how many open
    /// descriptions name queue i.
    func restore(_ images: [PosixMQImage], opened: [Int]) throws(CheckpointError) -> [PosixMQ] {
        try locked { () throws(CheckpointError) -> [PosixMQ] in
            var out: [PosixMQ] = []
            for (i, m) in images.enumerated() {
                let bytes = Array(m.name.utf8)
                guard !bytes.isEmpty, bytes.count <= 255, !bytes.contains(UInt8(ascii: "/")), m.name != ".", m.name != "..",
                      (1...Self.hardMsgMax).contains(m.maxMessages), (1...Self.hardMsgsizeMax).contains(m.messageSize),
                      m.priorities.count == m.messages.count, m.messages.count <= m.maxMessages,
                      m.messages.allSatisfy({ $0.count <= m.messageSize }), m.priorities.allSatisfy({ $0 < Self.prioMax }),
                      m.times.count == 6, m.linked || opened[i] > 0, !(m.linked && queues[m.name] != nil),
                      m.notifyKind.map({ $0 == PosixMQ.SIGEV_SIGNAL || $0 == PosixMQ.SIGEV_NONE }) ?? true else {
                    throw .corrupt("POSIX message queue \(i)")
                }
                let c = MQCredentials(uid: m.uid, gid: m.gid, groups: [], dacOverride: false, sysResource: false, fowner: false)
                let q = PosixMQ(name: m.name, ns: self, maxMessages: m.maxMessages, messageSize: m.messageSize, mode: m.mode & 0o7777, c: c,
                                charge: (m.chargeUID, m.chargeBytes), inode: Self.nextInode.add(1, ordering: .relaxed).newValue)
                q.messages = zip(m.priorities, m.messages).map { ($0, Array($1)) }
                q.bytes = m.messages.reduce(0) { $0 + $1.count }
                q.linked = m.linked
                q.opened = opened[i]
                if let pid = m.notifyPID, let kind = m.notifyKind {
                    q.notification = .init(pid: pid, kind: kind, signo: m.notifySigno ?? 0, value: m.notifyValue ?? 0, socket: nil, cookie: [])
                }
                let ts = m.times.map { Int($0) }
                q.times = (timespec(tv_sec: ts[0], tv_nsec: ts[1]), timespec(tv_sec: ts[2], tv_nsec: ts[3]), timespec(tv_sec: ts[4], tv_nsec: ts[5]))
                if m.linked { queues[m.name] = q }
                live += 1
                charged[m.chargeUID, default: 0] &+= m.chargeBytes
                out.append(q)
            }
            return out
        }
    }
}
