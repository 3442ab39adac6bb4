/// A seccomp USER_NOTIF listener in an image (Linux's `struct
/// notification`): its counter of ids, its flags, and every notification
/// not yet consumed by its call, with the phase it is in (queued, received
/// by the supervisor, answered) and the answer if any. Filters and listener
/// fds name it by index in `CheckpointManifest.seccompListeners`.
public struct SeccompListenerImage: Codable, Sendable, Equatable {
    public struct Notification: Codable, Sendable, Equatable {
        public var id: UInt64
        public var tid: Int32
        /// struct seccomp_data as eight words: nr | arch << 32, the
        /// instruction pointer, the six arguments.
        public var data: [UInt64]
        /// "initial", "sent" or "replied".
        public var phase: String
        public var value: Int64
        public var error: Int32
        public var flags: UInt32
    }
    public var nextID: UInt64
    public var waitKillableAfterReceive: Bool
    /// The listener fd was closed (every call since answered ENOSYS).
    public var detached: Bool
    /// No task uses the filter any more (the fd polls POLLHUP).
    public var unused: Bool
    public var pending: [Notification]
}

/// The listeners a checkpoint meets (through filters and listener fds), each once.
final class SeccompListenerCollector {
    private var index: [ObjectIdentifier: Int] = [:]
    private(set) var listeners: [SeccompListener] = []

    func hold(_ l: SeccompListener) -> Int {
        if let i = index[ObjectIdentifier(l)] { return i }
        listeners.append(l)
        index[ObjectIdentifier(l)] = listeners.count - 1
        return listeners.count - 1
    }

    /// Their state once every task is parked (nothing changes it then).
    func images() -> [SeccompListenerImage] { listeners.map { $0.image() } }
}

extension SeccompListener {
    static let phases: [(Phase, String)] = [(.initial, "initial"), (.sent, "sent"), (.replied, "replied")]

    func image() -> SeccompListenerImage {
        let s = state.withLock { $0 }
        return SeccompListenerImage(
            nextID: s.nextID, waitKillableAfterReceive: waitKillableAfterReceive, detached: s.detached, unused: s.unused,
            pending: s.pending.map { p in
                let d = p.data
                return .init(id: p.id, tid: p.tid,
                             data: [UInt64(UInt32(bitPattern: d.nr)) | UInt64(d.arch) << 32, d.instructionPointer,
                                    d.args.0, d.args.1, d.args.2, d.args.3, d.args.4, d.args.5],
                             phase: Self.phases.first { $0.0 == p.phase }!.1, value: p.value, error: p.error, flags: p.flags)
            })
    }

    /// A listener as its image left it: ids unique and below the counter,
    /// each notification's task one of `tids`.
    static func restored(_ image: SeccompListenerImage, tids: Set<Int32>) throws(CheckpointError) -> SeccompListener {
        var s = State()
        s.nextID = image.nextID
        s.detached = image.detached
        s.unused = image.unused
        var ids = Set<UInt64>()
        for n in image.pending {
            guard n.data.count == 8, n.id < image.nextID, ids.insert(n.id).inserted, tids.contains(n.tid),
                  let phase = phases.first(where: { $0.1 == n.phase })?.0 else {
                throw .corrupt("a seccomp notification (id \(n.id))")
            }
            var data = SeccompData(nr: Int32(truncatingIfNeeded: n.data[0]), instructionPointer: n.data[1],
                                   args: SyscallArguments(n.data[2], n.data[3], n.data[4], n.data[5], n.data[6], n.data[7]))
            data.arch = UInt32(truncatingIfNeeded: n.data[0] >> 32)
            s.pending.append(Pending(id: n.id, tid: n.tid, data: data, phase: phase, value: n.value, error: n.error, flags: n.flags))
        }
        return SeccompListener(restoring: s, waitKillableAfterReceive: image.waitKillableAfterReceive)
    }
}
