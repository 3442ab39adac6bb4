import Glibc
import Synchronization

/// A pipe: a ring buffer in the sentry (64 KiB, F_SETPIPE_SZ changes it)
/// with Linux's semantics: EOF once every writer is closed, EPIPE (and
/// SIGPIPE, raised by the write syscall) once every reader is, and writes
/// of up to PIPE_BUF bytes atomic.
public final class Pipe: Sendable {
    public static let defaultCapacity = 65536
    public static let atomicSize = 4096   // PIPE_BUF
    /// /proc/sys/fs/pipe-max-size: the most an unprivileged F_SETPIPE_SZ may ask.
    public static let maxUnprivileged = 1 << 20
    private struct State {
        var head = 0, count = 0
        /// Bytes a splice took out and may still put back: their room is
        /// kept from writers until the splice settles.
        var held = 0
        var readers = 0, writers = 0
        /// Opens by a reader and by a writer ever (r_counter, w_counter): a
        /// FIFO's open waits for its partner's to move.
        var readerOpens: UInt64 = 0, writerOpens: UInt64 = 0
        var capacity = Pipe.defaultCapacity
        /// A reader asleep in a read that a writer may complete (ReadHandoff): one at a time.
        var handoff: ReadHandoff?
        // The ring lives as long as the state that points at it (freed in deinit or on resize).
        nonisolated(unsafe) var ring = UnsafeMutableRawPointer.allocate(byteCount: Pipe.defaultCapacity, alignment: 16)
    }
    private let state = Mutex(State())
    public let queue = WaitQueue()
    /// Its inode number (`pipe:[N]`, fstat's st_ino): pipefs hands out the
    /// next number to each new pipe, as get_next_ino does; a checkpoint keeps it.
    public let inode: UInt64
    private static let inodes = Atomic<UInt64>(1000)

    /// `inode`: a restored pipe's number (`continueInodes` keeps the counter past it).
    public init(inode: UInt64? = nil) {
        self.inode = inode ?? Self.inodes.wrappingAdd(1, ordering: .relaxed).oldValue
    }
    /// The next pipe inode number (a checkpoint keeps it), and a restore's
    /// move of the counter: never back below a number given.
    static var nextInode: UInt64 { inodes.load(ordering: .relaxed) }
    static func continueInodes(from n: UInt64) { _ = inodes.max(n, ordering: .relaxed) }
    deinit { state.withLock { $0.ring.deallocate() } }

    public var capacity: Int { state.withLock { $0.capacity } }

    /// F_SETPIPE_SZ: `size` rounded up to a power-of-two number of pages;
    /// EBUSY if the data in the pipe would not fit. Returns the new size.
    public func resize(_ size: Int) throws(Errno) -> Int {
        let pages = max(1, (size + 4095) / 4096)
        var rounded = 1
        while rounded < pages { rounded <<= 1 }
        let bytes = rounded * 4096
        try state.withLock { (s: inout State) throws(Errno) in
            guard s.count + s.held <= bytes else { throw .EBUSY }
            let fresh = UnsafeMutableRawPointer.allocate(byteCount: bytes, alignment: 16)
            let first = min(s.count, s.capacity - s.head)
            memcpy(fresh, s.ring + s.head, first)
            memcpy(fresh + first, s.ring, s.count - first)
            s.ring.deallocate()
            s.ring = fresh
            s.head = 0
            s.capacity = bytes
        }
        queue.notify()
        return bytes
    }

    /// The two ends, as open file descriptions.
    public static func make(flags: OpenFlags) -> (PipeEnd, PipeEnd) {
        let p = Pipe()
        let extra = OpenFlags(rawValue: flags.rawValue & OpenFlags.nonBlock.rawValue)
        return (PipeEnd(p, writer: false, flags: extra), PipeEnd(p, writer: true, flags: OpenFlags.writeOnly.union(extra)))
    }

    /// An end opened: the counts, and a partner waiting in a FIFO's open woken.
    /// `reads`/`writes`: the end's sides (a FIFO opened O_RDWR has both).
    func open(reads: Bool, writes: Bool) {
        state.withLock { s in
            if reads { s.readers += 1; s.readerOpens &+= 1 }
            if writes { s.writers += 1; s.writerOpens &+= 1 }
        }
        queue.notify()
    }

    func close(reads: Bool, writes: Bool) {
        state.withLock { s in
            if reads { s.readers -= 1 }
            if writes { s.writers -= 1 }
            // The last end of a FIFO gone, Linux frees its pipe: the next open
            // finds it empty, at the default size.
            if s.readers == 0 && s.writers == 0 && s.held == 0 {
                (s.head, s.count) = (0, 0)
                if s.capacity != Pipe.defaultCapacity {
                    s.ring.deallocate()
                    s.ring = .allocate(byteCount: Pipe.defaultCapacity, alignment: 16)
                    s.capacity = Pipe.defaultCapacity
                }
            }
        }
        queue.notify()
    }

    /// How many times an end of each side was ever opened.
    var opens: (readers: UInt64, writers: UInt64) { state.withLock { ($0.readerOpens, $0.writerOpens) } }
    var hasReaders: Bool { state.withLock { $0.readers > 0 } }
    var hasWriters: Bool { state.withLock { $0.writers > 0 } }

    var available: Int { state.withLock { $0.count } }

    /// The buffered bytes, oldest first (a checkpoint).
    var contents: [UInt8] {
        state.withLock { s in
            var out = [UInt8](repeating: 0, count: s.count)
            if s.count == 0 { return out }
            let first = min(s.count, s.capacity - s.head)
            out.withUnsafeMutableBytes { b in
                memcpy(b.baseAddress!, s.ring + s.head, first)
                memcpy(b.baseAddress! + first, s.ring, s.count - first)
            }
            return out
        }
    }

    /// A restored pipe: its capacity and buffered bytes.
    static func restored(capacity: Int, contents: [UInt8], inode: UInt64?) -> Pipe {
        let p = Pipe(inode: inode)
        if let inode { continueInodes(from: inode &+ 1) }
        p.state.withLock { s in
            if capacity != s.capacity {
                s.ring.deallocate()
                s.ring = .allocate(byteCount: capacity, alignment: 16)
                s.capacity = capacity
            }
            if !contents.isEmpty { contents.withUnsafeBytes { _ = memcpy(s.ring, $0.baseAddress!, min($0.count, capacity)) } }
            s.head = 0
            s.count = min(contents.count, capacity)
        }
        return p
    }

    /// pipe_read ends every call with POLL_OUT to the write end's O_ASYNC
    /// owners, one that took nothing (EAGAIN, end of file) too; only one
    /// that took bytes wakes writers.
    func read(into bufs: [UnsafeMutableRawBufferPointer]) throws(Errno) -> Int {
        let n: Int
        do { n = try state.withLock { (s: inout State) throws(Errno) -> Int in try Self.drain(&s, into: bufs) } } catch {
            queue.kill(.output) { $0.flags.writable }
            throw error
        }
        if n > 0 { queue.notify(.writable) } else { queue.kill(.output) { $0.flags.writable } }
        return n
    }

    /// A splice's read: like `read`, but the room the bytes leave stays
    /// reserved until `settle`, so what the output refuses can go back to
    /// the front of the pipe, as Linux's splice never took it (it holds the
    /// pipe's lock across the write instead; the sentry cannot sleep
    /// holding a lock).
    public func take(into buf: UnsafeMutableRawBufferPointer) throws(Errno) -> Int {
        try state.withLock { (s: inout State) throws(Errno) -> Int in
            let n = try Self.drain(&s, into: [buf])
            s.held += n
            return n
        }
    }

    /// Ends a `take` of `taken` bytes: `unwritten`, its tail the output
    /// refused, goes back in front of what the pipe holds now.
    public func settle(taken: Int, returning unwritten: UnsafeRawBufferPointer) {
        state.withLock { s in
            precondition(unwritten.count <= taken && taken <= s.held)
            s.held -= taken
            let n = unwritten.count
            guard n > 0 else { return }
            s.head = (s.head - n % s.capacity + s.capacity) % s.capacity
            let first = min(n, s.capacity - s.head)
            memcpy(s.ring + s.head, unwritten.baseAddress!, first)
            memcpy(s.ring, unwritten.baseAddress! + first, n - first)
            s.count += n
        }
        queue.notify(unwritten.count == taken ? .readable : unwritten.isEmpty ? .writable : [.readable, .writable])
    }

    private static func drain(_ s: inout State, into bufs: [UnsafeMutableRawBufferPointer]) throws(Errno) -> Int {
        if s.count == 0 {
            if s.writers == 0 { return 0 }
            throw .EAGAIN
        }
        var done = 0
        for b in bufs where s.count > 0 {
            var off = 0
            while off < b.count && s.count > 0 {
                let chunk = min(b.count - off, s.count, s.capacity - s.head)
                memcpy(b.baseAddress! + off, s.ring + s.head, chunk)
                s.head = (s.head + chunk) % s.capacity
                s.count -= chunk
                off += chunk
            }
            done += off
        }
        if s.count == 0 && s.held == 0 { s.head = 0 }
        return done
    }

    /// Writes what fits; EAGAIN if nothing (or, for a small write, not all) fits.
    func write(from bufs: [UnsafeRawBufferPointer]) throws(Errno) -> Int {
        let total = bufs.reduce(0) { $0 + $1.count }
        let n: Int = try state.withLock { (s: inout State) throws(Errno) -> Int in
            if s.readers == 0 { throw .EPIPE }
            let space = s.capacity - s.count - s.held
            if space == 0 || (total <= Self.atomicSize && space < total) { throw .EAGAIN }
            var done = 0
            for b in bufs {
                var off = 0
                while off < b.count && s.count + s.held < s.capacity {
                    let tail = (s.head + s.count) % s.capacity
                    let chunk = min(b.count - off, s.capacity - s.count - s.held, s.capacity - tail)
                    memcpy(s.ring + tail, b.baseAddress! + off, chunk)
                    s.count += chunk
                    off += chunk
                }
                done += off
                if off < b.count { break }
            }
            // The armed reader's read is this writer's to complete, if its
            // thread collects claims (Task.completeClaimedHandoff) and no wake came first.
            if done > 0, let h = s.handoff, let writer = Task.current, writer.collectsHandoffs, h.claim() {
                s.handoff = nil
                writer.claimedHandoff = h
            }
            return done
        }
        if n > 0 { queue.notify(.readable) }   // data for readers (pipe_write wakes and signals only them)
        return n
    }

    /// Records `h`'s reader as one a writer may complete; false if another is.
    func arm(_ h: ReadHandoff) -> Bool {
        state.withLock { s in
            guard s.handoff == nil else { return false }
            s.handoff = h
            return true
        }
    }

    func disarm(_ h: ReadHandoff) {
        state.withLock { s in if s.handoff === h { s.handoff = nil } }
    }

    /// tee: copies up to `count` of this pipe's buffered bytes, oldest
    /// first, to the end of `other` without consuming them (link_pipe), as
    /// many as fit. 0 when there is nothing to copy or no room; EPIPE when
    /// `other` has no reader. The two locks are taken in address order, as
    /// Linux's pipe_double_lock, so tees in both directions cannot deadlock.
    public func tee(into other: Pipe, count: Int) throws(Errno) -> Int {
        precondition(other !== self)
        let selfFirst = ObjectIdentifier(self) < ObjectIdentifier(other)
        let first = selfFirst ? self : other, second = selfFirst ? other : self
        let n: Int = try first.state.withLock { (a: inout State) throws(Errno) -> Int in
            try second.state.withLock { (b: inout State) throws(Errno) -> Int in
                if selfFirst { return try Self.link(from: &a, to: &b, count: count) }
                return try Self.link(from: &b, to: &a, count: count)
            }
        }
        if n > 0 { other.queue.notify(.readable) }
        return n
    }

    private static func link(from s: inout State, to d: inout State, count: Int) throws(Errno) -> Int {
        if d.readers == 0 { throw .EPIPE }
        let n = min(count, s.count, d.capacity - d.count - d.held)
        var done = 0
        while done < n {
            let from = (s.head + done) % s.capacity, to = (d.head + d.count) % d.capacity
            let chunk = min(n - done, s.capacity - from, d.capacity - to)
            memcpy(d.ring + to, s.ring + from, chunk)
            d.count += chunk
            done += chunk
        }
        return n
    }

    /// pipe_poll's answer for an end with these sides. `writersSeen`: for a
    /// FIFO reader that opened O_NONBLOCK with no writer, the writer opens
    /// then; no POLLHUP until another writer has come (and gone).
    func readiness(_ mask: Int16, reads: Bool, writes: Bool, writersSeen: UInt64?) -> Int16 {
        state.withLock { s in
            var r: Int16 = 0
            if writes {
                if s.capacity - s.count - s.held >= Self.atomicSize { r |= Int16(POLLOUT | POLLWRNORM) }
                if s.readers == 0 { r |= Int16(POLLERR) }
            }
            if reads {
                if s.count > 0 { r |= Int16(POLLIN | POLLRDNORM) }
                if s.writers == 0 && s.writerOpens != writersSeen { r |= Int16(POLLHUP) }
            }
            return r & (mask | Int16(POLLERR | POLLHUP))
        }
    }
}

/// One end of a pipe. The end closes when the last fd referring to this
/// open file description goes (its deinit), as in Linux.
/// Sendable: only `let`s; the pipe guards its buffer with its own lock.
public final class PipeEnd: FileDescription, @unchecked Sendable {
    public let pipe: Pipe
    /// The end's sides: an anonymous pipe's ends have one each; a FIFO
    /// opened O_RDWR has both (and never waits in its open).
    public let reads: Bool, writes: Bool
    /// See Pipe.readiness: a FIFO reader opened O_NONBLOCK with no writer.
    private let writersSeen: UInt64?
    /// A FIFO's blocking open of one side: the other side's open it must
    /// wait for, in the task (the syscall layer sleeps on it before it
    /// installs the fd; a signal then drops the end, as fifo_open's error path).
    public let openWaitsFor: FIFOWait?
    /// The write-only end (what a checkpoint image records; the access mode says O_RDWR).
    public var writer: Bool { writes && !reads }

    /// An end of an anonymous pipe, or one restored; O_RDWR in `flags` gives both sides.
    public init(_ pipe: Pipe, writer: Bool, flags: OpenFlags) {
        self.pipe = pipe
        let both = flags.rawValue & OpenFlags.accessMode == 2
        (reads, writes) = (both || !writer, both || writer)
        (writersSeen, openWaitsFor) = (nil, nil)
        super.init(flags: flags)
        pipe.open(reads: reads, writes: writes)
    }

    private init(fifo pipe: Pipe, reads: Bool, writes: Bool, writersSeen: UInt64? = nil, waitsFor: FIFOWait? = nil, flags: OpenFlags) {
        self.pipe = pipe
        (self.reads, self.writes, self.writersSeen, openWaitsFor) = (reads, writes, writersSeen, waitsFor)
        super.init(flags: flags)
        pipe.open(reads: reads, writes: writes)
    }
    deinit { pipe.close(reads: reads, writes: writes) }

    /// A FIFO's open (fifo_open): O_WRONLY|O_NONBLOCK with no reader is
    /// ENXIO; a blocking open of one side with no partner must then wait
    /// for an open of the other (`openWaitsFor`).
    public static func openFIFO(_ pipe: Pipe, flags: OpenFlags) throws(Errno) -> PipeEnd {
        let nonBlocking = flags.contains(.nonBlock)
        switch flags.rawValue & OpenFlags.accessMode {
        case 0:
            let before = pipe.opens.writers, noWriter = !pipe.hasWriters
            return PipeEnd(fifo: pipe, reads: true, writes: false, writersSeen: noWriter && nonBlocking ? before : nil,
                           waitsFor: noWriter && !nonBlocking ? FIFOWait(forWriter: true, since: before) : nil, flags: flags)
        case 1:
            if nonBlocking && !pipe.hasReaders { throw .ENXIO }
            let before = pipe.opens.readers
            return PipeEnd(fifo: pipe, reads: false, writes: true,
                           waitsFor: pipe.hasReaders ? nil : FIFOWait(forWriter: false, since: before), flags: flags)
        default:
            return PipeEnd(fifo: pipe, reads: true, writes: true, flags: flags)
        }
    }

    /// What a blocking FIFO open waits for: the other side's open count to move.
    public struct FIFOWait: Sendable {
        public let forWriter: Bool
        public let since: UInt64
        public func satisfied(_ pipe: Pipe) -> Bool {
            let o = pipe.opens
            return (forWriter ? o.writers : o.readers) != since
        }
    }

    public override var displayPath: String { "pipe:[\(pipe.inode)]" }
    public override var waitQueue: WaitQueue? { pipe.queue }
    /// A ring buffer in the sentry: its reads and writes never sleep (EAGAIN
    /// says "not now"), so data moves to and from guest pages at once.
    public override var transfersInPlace: Bool { true }
    /// A reopen through /proc/PID/fd (an anonymous pipe: fifo_open with no waiting), O_RDWR included.
    public override func reopen(_ flags: OpenFlags) throws(Errno) -> FileDescription {
        PipeEnd(pipe, writer: flags.rawValue & OpenFlags.accessMode == 1,
                flags: OpenFlags(rawValue: flags.rawValue & (OpenFlags.accessMode | OpenFlags.nonBlock.rawValue)))
    }
    public override func readiness(_ mask: Int16) -> Int16 { pipe.readiness(mask, reads: reads, writes: writes, writersSeen: writersSeen) }
    public override func read(into bufs: [UnsafeMutableRawBufferPointer]) throws(Errno) -> Int { try pipe.read(into: bufs) }
    public override func write(from bufs: [UnsafeRawBufferPointer]) throws(Errno) -> Int { try pipe.write(from: bufs) }

    public override func stat() throws(Errno) -> Glibc.stat {
        var st = Glibc.stat()
        st.st_mode = S_IFIFO | 0o600
        st.st_nlink = 1
        st.st_uid = getuid(); st.st_gid = getgid()
        st.st_blksize = 4096
        st.st_ino = ino_t(pipe.inode)
        st.st_dev = 0xc
        return st
    }

    public override func ioctl(_ request: UInt64, argument: GuestAddress, mm: MemoryManager) throws(Errno) -> Int64 {
        guard request == Ioctl.FIONREAD else { throw .ENOTTY }
        try mm.write(argument, Int32(pipe.available))
        return 0
    }
}
