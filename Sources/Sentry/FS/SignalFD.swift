import Glibc
import Synchronization

/// signalfd(2): the reader's pending signals in `mask`, dequeued as
/// signalfd_siginfo records instead of delivered. Like Linux's, it answers
/// for whoever reads or polls it (`Task.current`), not its creator.
/// Sendable: the mask behind its Mutex; the signals read are the kernel lock's.
public final class SignalFD: FileDescription, @unchecked Sendable {
    private let maskState: Mutex<UInt64>

    public init(mask: UInt64, flags: OpenFlags) {
        maskState = Mutex(mask & ~SignalSets.unblockable)
        super.init(flags: OpenFlags.readWrite.union(flags))
    }

    public var mask: UInt64 {
        get { maskState.withLock { $0 } }
        set { maskState.withLock { $0 = newValue & ~SignalSets.unblockable } }
    }

    public override var displayPath: String { "anon_inode:[signalfd]" }
    public override var waitQueue: WaitQueue? { Task.current?.group.signalEvents }

    public override func readiness(_ events: Int16) -> Int16 {
        guard let t = Task.current else { return 0 }
        let m = mask
        let pending = t.kernel.locked { t.pending.bits | t.group.sharedPending.bits }
        return pending & m != 0 ? events & Int16(POLLIN | POLLRDNORM) : 0
    }

    /// As many records as fit, at least one; EAGAIN when none is pending.
    public override func read(into bufs: [UnsafeMutableRawBufferPointer]) throws(Errno) -> Int {
        let room = bufs.reduce(0) { $0 + $1.count } / 128
        guard room > 0 else { throw .EINVAL }
        guard let t = Task.current else { throw .EAGAIN }
        let m = mask
        let infos: [SignalInfo] = t.kernel.locked {
            var out: [SignalInfo] = []
            while out.count < room, let i = t.dequeueSignalLocked(from: m) { out.append(i) }
            return out
        }
        if infos.isEmpty { throw .EAGAIN }
        var bytes: [UInt8] = []
        for i in infos { bytes += Self.record(i) }
        return bytes.withUnsafeBytes { Self.scatter($0, into: bufs) }
    }

    /// struct signalfd_siginfo (128 bytes).
    static func record(_ i: SignalInfo) -> [UInt8] {
        var b = [UInt8](repeating: 0, count: 128)
        b.store(UInt32(bitPattern: i.signo), at: 0); b.store(i.errno, at: 4); b.store(i.code, at: 8)
        b.store(UInt32(bitPattern: i.pid), at: 12); b.store(i.uid, at: 16)
        if i.code == SignalInfo.SI_TIMER { b.store(UInt32(bitPattern: i.timerID), at: 24); b.store(UInt32(bitPattern: i.overrun), at: 32) }
        b.store(i.status, at: 40)
        b.store(Int32(truncatingIfNeeded: i.value), at: 44); b.store(i.value, at: 48)
        b.store(i.address, at: 72)
        return b
    }

    public override func stat() throws(Errno) -> Glibc.stat { Self.anonymousInodeStat }
}
