import Glibc
import Sentry
import Synchronization

/// Linux AIO (fs/aio.c): io_setup, io_destroy, io_submit, io_getevents,
/// io_pgetevents, io_cancel. A context is a ring in the process's memory, as Linux maps
/// it (the context id is its address; the header's head and tail are what
/// libaio reads to skip an empty io_getevents), and each request completes
/// at submission: its read or write is done then, and its io_event written
/// to the ring (with a count added to the IOCB_FLAG_RESFD eventfd). Linux
/// completes requests on regular files asynchronously only with O_DIRECT on
/// some filesystems, and otherwise also within io_submit; io_cancel
/// therefore finds no request still running (EINVAL, as for a completed one).
enum AsyncIO {
    static let AIO_RING_MAGIC: UInt32 = 0xa10a10a1
    static let KIOCB_KEY: UInt32 = 0
    static let IOCB_CMD_PREAD: UInt16 = 0, IOCB_CMD_PWRITE: UInt16 = 1, IOCB_CMD_FSYNC: UInt16 = 2, IOCB_CMD_FDSYNC: UInt16 = 3
    static let IOCB_CMD_NOOP: UInt16 = 6, IOCB_CMD_PREADV: UInt16 = 7, IOCB_CMD_PWRITEV: UInt16 = 8
    static let IOCB_FLAG_RESFD: UInt32 = 1, IOCB_FLAG_IOPRIO: UInt32 = 2
    static let headerSize: UInt64 = 32, eventSize: UInt64 = 32
    /// /proc/sys/fs/aio-max-nr's default: the events every context of the sandbox may reserve together.
    static let maxEvents: UInt64 = 65536

    final class Context: Sendable {
        let ring: GuestAddress, length: UInt64
        /// Slots in the ring (one always empty: at most slots - 1 events wait), and what io_setup reserved.
        let slots: UInt32, reserved: UInt64
        nonisolated(unsafe) weak var mm: MemoryManager?
        let queue = WaitQueue()
        init(ring: GuestAddress, length: UInt64, slots: UInt32, reserved: UInt64, mm: MemoryManager) {
            self.ring = ring; self.length = length; self.slots = slots; self.reserved = reserved; self.mm = mm
        }
    }

    /// Every context, of every process (each names its mm; a context of an
    /// mm that is gone, after exit or exec, is dropped at the next io_setup).
    static let contexts = Mutex<[Context]>([])

    static func lookup(_ t: Task, _ id: UInt64) -> Context? {
        contexts.withLock { $0.first { $0.mm === t.mm && $0.ring.rawValue == id } }
    }

    /// io_setup(nr_events, ctxp): *ctxp must be 0 and nr_events not (EINVAL);
    /// ioctx_alloc's sizing (twice at least four per CPU) against aio-max-nr
    /// is EAGAIN.
    static func ioSetup(_ t: Task, _ a: SyscallArguments) throws(Errno) -> Int64 {
        let nr = UInt64(a.uint32(0))
        let old = try t.mm.read(a.address(1), as: UInt64.self)
        guard old == 0, nr != 0 else { throw .EINVAL }
        guard nr <= 0x1000_0000 / eventSize else { throw .EINVAL }
        let cpus = UInt64(max(1, sysconf(Int32(_SC_NPROCESSORS_CONF))))
        let reserved = max(nr, 4 * cpus) * 2
        // aio_setup_ring: the pages `reserved` events need, every slot of them used.
        let length = (headerSize + eventSize * reserved + 4095) & ~UInt64(4095)
        let slots = (length - headerSize) / eventSize
        let taken = contexts.withLock { list -> UInt64 in
            list.removeAll { $0.mm == nil }
            return list.reduce(0) { $0 + $1.reserved }
        }
        guard reserved <= maxEvents, taken + reserved <= maxEvents else { throw .EAGAIN }
        let ring = try t.mm.map(hint: GuestAddress(0), length: length, prot: [.read, .write], flags: [.private, .anonymous])
        // The ring is the parent's alone: a fork's child has no context (VM_DONTCOPY, as aio_setup_ring's mapping).
        try? t.mm.advise(ring, length: length, advice: MemoryAdvice.MADV_DONTFORK)
        var header = [UInt8]()
        for w in [UInt32(0), UInt32(slots), 0, 0, AIO_RING_MAGIC, 1, 0, UInt32(headerSize)] { withUnsafeBytes(of: w) { header += $0 } }
        try t.mm.copyOut(ring, header)
        let ctx = Context(ring: ring, length: length, slots: UInt32(slots), reserved: reserved, mm: t.mm)
        contexts.withLock { $0.append(ctx) }
        do { try t.mm.write(a.address(1), ring.rawValue) } catch {
            destroy(t, ctx)
            throw error
        }
        return 0
    }

    private static func destroy(_ t: Task, _ ctx: Context) {
        contexts.withLock { $0.removeAll { $0 === ctx } }
        try? t.mm.unmap(ctx.ring, length: ctx.length)
        ctx.queue.notify()
    }

    static func ioDestroy(_ t: Task, _ a: SyscallArguments) throws(Errno) -> Int64 {
        guard let ctx = lookup(t, a[0]) else { throw .EINVAL }
        destroy(t, ctx)
        return 0
    }

    /// The ring's head and tail, as the process may have moved the head.
    private static func positions(_ t: Task, _ ctx: Context) throws(Errno) -> (head: UInt32, tail: UInt32) {
        let head = try t.mm.read(ctx.ring + 8, as: UInt32.self) % ctx.slots
        let tail = try t.mm.read(ctx.ring + 12, as: UInt32.self) % ctx.slots
        return (head, tail)
    }

    /// io_submit(ctx, nr, iocbpp): each iocb checked and done in turn; an
    /// error for the first is the call's, a later one ends the batch.
    static func ioSubmit(_ t: Task, _ a: SyscallArguments) throws(Errno) -> Int64 {
        let nr = a.int(1)
        guard nr >= 0 else { throw .EINVAL }
        guard let ctx = lookup(t, a[0]) else { throw .EINVAL }
        let count = min(nr, Int64(ctx.slots))
        var done: Int64 = 0
        while done < count {
            do {
                let user = GuestAddress(try t.mm.read(a.address(2) + UInt64(done) * 8, as: UInt64.self))
                try submitOne(t, ctx, user)
            } catch {
                if done == 0 { throw error }
                break
            }
            done += 1
        }
        return done
    }

    private static func submitOne(_ t: Task, _ ctx: Context, _ user: GuestAddress) throws(Errno) {
        let iocb = try t.mm.copyIn(user, 64)
        func u64(_ o: Int) -> UInt64 { iocb.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: o, as: UInt64.self) } }
        func u32(_ o: Int) -> UInt32 { iocb.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: o, as: UInt32.self) } }
        let opcode = iocb.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: 16, as: UInt16.self) }
        let data = u64(0), rwFlags = u32(12), fd = Int32(bitPattern: u32(20)), buf = u64(24), nbytes = u64(32)
        let offset = Int64(bitPattern: u64(40)), flags = u32(56), resfd = Int32(bitPattern: u32(60))
        // io_submit_one: reserved words zero, sizes that fit a ssize_t.
        guard u64(48) == 0, Int64(bitPattern: nbytes) >= 0 else { throw .EINVAL }
        // aio_get_req: a completed event not yet reaped holds its slot.
        let (head, tail) = try positions(t, ctx)
        guard (tail + 1) % ctx.slots != head else { throw .EAGAIN }
        var eventfd: EventFD?
        if flags & IOCB_FLAG_RESFD != 0 {
            guard let e = try t.fds.get(FileDescriptor(resfd)) as? EventFD else { throw .EINVAL }
            eventfd = e
        }
        try t.mm.write(user + 8, KIOCB_KEY)   // aio_key
        let res: Int64
        switch opcode {
        case IOCB_CMD_PREAD, IOCB_CMD_PWRITE, IOCB_CMD_PREADV, IOCB_CMD_PWRITEV:
            let write = opcode == IOCB_CMD_PWRITE || opcode == IOCB_CMD_PWRITEV
            let file = try t.fds.get(FileDescriptor(fd))
            // kiocb_set_rw_flags: RWF_HIPRI, DSYNC, SYNC, NOWAIT, APPEND.
            guard rwFlags & ~UInt32(0x1f) == 0 else { throw .EOPNOTSUPP }
            guard write ? file.flags.writable : file.flags.readable else { throw .EBADF }
            let ranges: [GuestRange]
            if opcode == IOCB_CMD_PREADV || opcode == IOCB_CMD_PWRITEV {
                guard nbytes <= 1024 else { throw .EINVAL }
                ranges = try t.iovecRanges(GuestAddress(buf), count: Int(nbytes))
            } else {
                let n = min(nbytes, UInt64(Task.maxRWCount))
                guard buf <= Task.userAddressLimit, n <= Task.userAddressLimit - buf else { throw .EFAULT }
                ranges = n == 0 ? [] : [GuestRange(GuestAddress(buf), Int(n))]
            }
            res = transfer(t, file, ranges, offset: offset, write: write, rwFlags: UInt64(rwFlags))
        case IOCB_CMD_FSYNC, IOCB_CMD_FDSYNC:
            let file = try t.fds.get(FileDescriptor(fd))
            guard buf == 0, nbytes == 0, offset == 0, rwFlags == 0 else { throw .EINVAL }
            do { try file.sync(dataOnly: opcode == IOCB_CMD_FDSYNC); res = 0 } catch { res = -Int64(error.rawValue) }
        default:
            // IOCB_CMD_POLL is not served; NOOP and unknown opcodes are EINVAL, as 6.1.
            throw .EINVAL
        }
        // The io_event: data, obj (the iocb's address), res, res2.
        var event = [UInt8]()
        for w in [data, user.rawValue, UInt64(bitPattern: res), 0] { withUnsafeBytes(of: w) { event += $0 } }
        try t.mm.copyOut(ctx.ring + headerSize + UInt64(tail) * eventSize, event)
        try t.mm.write(ctx.ring + 12, (tail + 1) % ctx.slots)
        if let eventfd {
            var one: UInt64 = 1
            _ = try? withUnsafeBytes(of: &one) { (b) throws(Errno) in try eventfd.write(from: [b]) }
        }
        ctx.queue.notify()
    }

    /// A read or write at the iocb's offset (the file's position for one
    /// without: pipes, sockets), its result or negated errno for the event.
    /// The iocb's RWF_APPEND writes a regular file at its end, and
    /// RWF_DSYNC/RWF_SYNC sync what was written, as pwritev2's flags do.
    private static func transfer(_ t: Task, _ file: FileDescription, _ ranges: [GuestRange], offset: Int64, write: Bool,
                                 rwFlags: UInt64) -> Int64 {
        if ranges.isEmpty { return 0 }
        do {
            var positional = true
            do { _ = try file.seek(0, whence: SEEK_CUR) } catch { positional = error != .ESPIPE }
            if positional && offset < 0 { return -Int64(Errno.EINVAL.rawValue) }
            var at: Int64? = positional ? offset : nil
            guard write else { return Int64(try t.read(file, into: ranges, at: at)) }
            at = try VectorIO.appendOffset(file, flags: rwFlags) ?? at
            let n = try t.write(file, from: ranges, at: at)
            try VectorIO.syncWritten(file, flags: rwFlags)
            return Int64(n)
        } catch { return -Int64(error.rawValue) }
    }

    /// io_getevents(ctx, min_nr, nr, events, timeout): waits (interruptibly:
    /// EINTR) until min_nr events are there or the timeout passes, then
    /// copies out up to nr, oldest first, moving the ring's head.
    /// io_getevents(ctx, min_nr, nr, events, timeout): waits until min_nr
    /// events are there or the timeout ends, then takes up to nr. The
    /// timeout is read as fs/aio.c reads it (get_timespec64, then
    /// timespec64_to_ktime: no range check; zero polls once). A signal with no event taken is EINTR, never restarted.
    static func ioGetevents(_ t: Task, _ a: SyscallArguments) throws(Errno) -> Int64 {
        let timeout = try readTimeout(t, a.address(4))
        return try getEvents(t, a, timeout: timeout, interruptedBy: .EINTR)
    }

    /// io_pgetevents(ctx, min_nr, nr, events, timeout, usig): io_getevents
    /// with a signal mask for the wait, as ppoll's: usig points to
    /// `struct __aio_sigset { sigset_t *sigmask; size_t sigsetsize; }`
    /// (a null sigmask keeps the mask; a size other than 8 is EINVAL). A
    /// signal with no event taken restarts the call where no handler runs
    /// (ERESTARTNOHAND), and the mask is put back after the handler.
    static func ioPgetevents(_ t: Task, _ a: SyscallArguments) throws(Errno) -> Int64 {
        let timeout = try readTimeout(t, a.address(4))
        var mask = GuestAddress.null, size: UInt64 = 8
        if !a.address(5).isNull {
            let usig = try t.mm.read(a.address(5), as: (UInt64, UInt64).self)
            mask = GuestAddress(usig.0); size = usig.1
        }
        return try Poll.withSignalMask(t, mask, size: size, timeout: .null, deadline: nil) { () throws(Errno) -> Int64 in
            try getEvents(t, a, timeout: timeout, interruptedBy: .ERESTARTNOHAND)
        }
    }

    /// The wait a raw timespec asks for, in nanoseconds (nil: no timeout);
    /// EFAULT before anything else, as both calls copy it first. A negative
    /// sum waits forever: the hrtimer's relative expiry added to the clock
    /// saturates (ktime_add_safe).
    private static func readTimeout(_ t: Task, _ addr: GuestAddress) throws(Errno) -> Int64? {
        if addr.isNull { return nil }
        let ts = try t.mm.read(addr, as: timespec.self)
        let ns = Time.nanoseconds(seconds: Int64(ts.tv_sec), plus: Int64(ts.tv_nsec))
        return ns < 0 ? nil : ns
    }

    /// do_io_getevents and read_events: the context and the counts checked
    /// (EINVAL), then a wait; events are taken when min_nr are there, when
    /// the timeout ends (whatever is there, maybe none), or when a signal
    /// comes (whatever is there; the signal's errno only if none).
    private static func getEvents(_ t: Task, _ a: SyscallArguments, timeout: Int64?, interruptedBy: Errno) throws(Errno) -> Int64 {
        let minNr = a.int(1), nr = a.int(2)
        guard let ctx = lookup(t, a[0]) else { throw .EINVAL }
        guard minNr >= 0, minNr <= nr else { throw .EINVAL }
        func available() throws(Errno) -> Int64 {
            let (head, tail) = try positions(t, ctx)
            return Int64((tail + ctx.slots - head) % ctx.slots)
        }
        var interrupted: Errno?
        if try available() < minNr && (timeout.map { $0 > 0 } ?? true) {
            do {
                _ = try t.block(on: [ctx.queue], deadline: timeout.map { Deadline.after($0) }, interruptedBy: interruptedBy) { () throws(Errno) -> Bool in
                    if lookup(t, a[0]) == nil { return true }
                    return try available() >= minNr
                }
            } catch where error == interruptedBy {
                interrupted = error
            }
        }
        guard lookup(t, a[0]) != nil else { throw .EINVAL }
        var (head, tail) = try positions(t, ctx)
        var copied: Int64 = 0
        while copied < nr && head != tail {
            let event = try t.mm.copyIn(ctx.ring + headerSize + UInt64(head) * eventSize, Int(eventSize))
            try t.mm.copyOut(a.address(3) + UInt64(copied) * eventSize, event)
            head = (head + 1) % ctx.slots
            try t.mm.write(ctx.ring + 8, head)
            copied += 1
            (_, tail) = try positions(t, ctx)
        }
        if copied == 0, let interrupted { throw interrupted }
        return copied
    }

    /// io_cancel(ctx, iocb, result): the iocb's key checked (EFAULT, EINVAL);
    /// no request is ever still running to cancel: EINVAL.
    static func ioCancel(_ t: Task, _ a: SyscallArguments) throws(Errno) -> Int64 {
        guard lookup(t, a[0]) != nil else { throw .EINVAL }
        let key = try t.mm.read(a.address(1) + 8, as: UInt32.self)
        guard key == KIOCB_KEY else { throw .EINVAL }
        throw .EINVAL
    }
}
