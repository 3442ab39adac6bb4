import Glibc
import Synchronization

/// eventfd(2): a 64-bit counter with read/write/poll semantics.
/// Sendable: the counter behind its Mutex.
public final class EventFD: FileDescription, @unchecked Sendable {
    private let counter: Mutex<UInt64>
    private let semaphore: Bool
    private let queue = WaitQueue()
    static let maximum: UInt64 = 0xffff_ffff_ffff_fffe

    public init(initial: UInt64, semaphore: Bool, flags: OpenFlags) {
        counter = Mutex(initial)
        self.semaphore = semaphore
        super.init(flags: OpenFlags.readWrite.union(flags))
    }

    public override var displayPath: String { "anon_inode:[eventfd]" }
    /// The counter and EFD_SEMAPHORE (a checkpoint).
    var state: (counter: UInt64, semaphore: Bool) { (counter.withLock { $0 }, semaphore) }
    public override var waitQueue: WaitQueue? { queue }
    public override var writesOneRecord: Bool { true }

    public override func readiness(_ mask: Int16) -> Int16 {
        let v = counter.withLock { $0 }
        var r: Int16 = 0
        if v > 0 { r |= Int16(POLLIN | POLLRDNORM) }
        if v < Self.maximum { r |= Int16(POLLOUT | POLLWRNORM) }
        return r & mask
    }

    public override func read(into bufs: [UnsafeMutableRawBufferPointer]) throws(Errno) -> Int {
        guard bufs.reduce(0, { $0 + $1.count }) >= 8 else { throw .EINVAL }
        let v: UInt64 = try counter.withLock { (c: inout UInt64) throws(Errno) -> UInt64 in
            if c == 0 { throw .EAGAIN }
            let out = semaphore ? 1 : c
            c -= out
            return out
        }
        _ = withUnsafeBytes(of: v) { src in Self.scatter(src, into: bufs) }
        queue.notify()
        return 8
    }

    public override func write(from bufs: [UnsafeRawBufferPointer]) throws(Errno) -> Int {
        guard bufs.reduce(0, { $0 + $1.count }) >= 8 else { throw .EINVAL }
        var bytes = [UInt8]()
        for b in bufs where bytes.count < 8 { bytes += b.prefix(8 - bytes.count) }   // the value, not the whole buffer
        let v = bytes.withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) }
        guard v != UInt64.max else { throw .EINVAL }
        try counter.withLock { (c: inout UInt64) throws(Errno) in
            if Self.maximum - c < v { throw .EAGAIN }
            c += v
        }
        queue.notify()
        return 8
    }

    public override func stat() throws(Errno) -> Glibc.stat { Self.anonymousInodeStat }
}
