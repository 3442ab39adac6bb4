import Glibc
import Synchronization

/// Advisory locks the guest takes: fcntl record locks (per process, or per
/// open file description for OFD locks) and flock (per description). All
/// guest processes are one host process, so the host can't keep them apart:
/// the sentry keeps the table. Locks of a process or description that is
/// gone are dropped when next looked at.
public final class FileLocks: Sendable {
    public struct Key: Hashable, Sendable {
        public var device: UInt64; public var inode: UInt64
        public init(device: UInt64, inode: UInt64) { self.device = device; self.inode = inode }
        /// The file an open description is of.
        public init(of f: FileDescription) throws(Errno) {
            let st = try f.stat()
            self.init(device: UInt64(st.st_dev), inode: UInt64(st.st_ino))
        }
    }

    public enum Owner: Sendable {
        case process(Int32)
        case description(WeakDescription)
        func same(_ o: Owner) -> Bool {
            switch (self, o) {
            case let (.process(a), .process(b)): return a == b
            case let (.description(a), .description(b)): return a.id == b.id
            default: return false
            }
        }
    }

    /// Sendable: `id` is a `let`; `file` is a weak reference, read and cleared atomically by the runtime.
    public final class WeakDescription: @unchecked Sendable {
        weak var file: FileDescription?
        let id: ObjectIdentifier
        public init(_ f: FileDescription) { file = f; id = ObjectIdentifier(f) }
    }

    public struct Lock: Sendable {
        public var owner: Owner
        public var exclusive: Bool
        public var range: Range<UInt64>
        /// flock locks live in their own space: they never meet record locks.
        public var flock: Bool
        public init(owner: Owner, exclusive: Bool, range: Range<UInt64>, flock: Bool) {
            self.owner = owner; self.exclusive = exclusive; self.range = range; self.flock = flock
        }
    }

    private let table = Mutex<[Key: [Lock]]>([:])
    /// Woken whenever a lock goes away.
    public let released = WaitQueue()

    public init() {}

    /// The first lock that stops `want`, if any. `alive` says whether a process still exists.
    public func conflict(_ key: Key, _ want: Lock, alive: (Int32) -> Bool) -> Lock? {
        table.withLock { t in
            prune(&t, key, alive)
            return t[key]?.first { l in
                l.flock == want.flock && !l.owner.same(want.owner) && (l.exclusive || want.exclusive)
                    && l.range.overlaps(want.range)
            }
        }
    }

    /// Takes `want` (or, for an unlock, removes the range), splitting and
    /// merging the owner's existing locks as POSIX says. Call after `conflict` said none.
    public func set(_ key: Key, _ want: Lock, unlock: Bool) {
        table.withLock { t in
            var locks = t[key] ?? []
            var kept: [Lock] = []
            for l in locks {
                guard l.flock == want.flock, l.owner.same(want.owner), l.range.overlaps(want.range) || want.flock else {
                    kept.append(l); continue
                }
                // The parts of the old lock outside the new range stay.
                if !want.flock {
                    if l.range.lowerBound < want.range.lowerBound {
                        kept.append(Lock(owner: l.owner, exclusive: l.exclusive, range: l.range.lowerBound..<want.range.lowerBound, flock: false))
                    }
                    if l.range.upperBound > want.range.upperBound {
                        kept.append(Lock(owner: l.owner, exclusive: l.exclusive, range: want.range.upperBound..<l.range.upperBound, flock: false))
                    }
                }
            }
            if !unlock { kept.append(want) }
            locks = kept
            t[key] = locks.isEmpty ? nil : locks
        }
        released.notify()
    }

    /// No lock is held anywhere: close(2) has nothing to look up.
    public var isEmpty: Bool { table.withLock { $0.isEmpty } }

    /// close(2) of any fd drops the process's record locks on the file.
    public func releaseProcess(_ pid: Int32, _ key: Key) {
        let changed = table.withLock { t -> Bool in
            guard let locks = t[key] else { return false }
            let kept = locks.filter { !($0.owner.same(.process(pid)) && !$0.flock) }
            t[key] = kept.isEmpty ? nil : kept
            return kept.count != locks.count
        }
        if changed { released.notify() }
    }

    private func prune(_ t: inout [Key: [Lock]], _ key: Key, _ alive: (Int32) -> Bool) {
        guard let locks = t[key] else { return }
        let kept = locks.filter {
            switch $0.owner {
            case .process(let p): return alive(p)
            case .description(let w): return w.file != nil
            }
        }
        if kept.count != locks.count { t[key] = kept.isEmpty ? nil : kept }
    }
}
