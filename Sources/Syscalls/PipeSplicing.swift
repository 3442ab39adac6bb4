import Glibc
import Sentry

/// tee and vmsplice (fs/splice.c): the pipe-only members of the splice
/// family. Linux moves page references between pipes and user memory; the
/// sentry's pipes are byte rings in its own memory, so both copy. What a
/// program can observe is the same: tee leaves the input's bytes in place,
/// vmsplice's SPLICE_F_GIFT is a hint (Linux only ever steals a gifted page
/// when a later splice moves it to a file, and then the page's contents are
/// the same as the copy's), and bytes vmspliced into a pipe are the bytes
/// at the moment of the call (Linux's are whatever the page holds when they
/// are read: a program that changes its buffer afterwards is undefined
/// under Linux's own rules, see vmsplice(2)).
enum PipeSplicing {
    static let SPLICE_F_NONBLOCK: UInt32 = 0x2
    /// SPLICE_F_MOVE, NONBLOCK, MORE, GIFT.
    static let SPLICE_F_ALL: UInt32 = 0xf

    /// tee(fd_in, fd_out, len, flags): duplicates up to len bytes of one
    /// pipe into another. Order of checks as do_tee's.
    static func tee(_ t: Task, _ a: SyscallArguments) throws(Errno) -> Int64 {
        var flags = a.uint32(3)
        guard flags & ~SPLICE_F_ALL == 0 else { throw .EINVAL }
        let len = a.count(2)
        if a[2] == 0 { return 0 }
        let input = try t.fds.get(a.fd(0)), out = try t.fds.get(a.fd(1))
        guard input.flags.readable, out.flags.writable else { throw .EBADF }
        guard let i = input as? PipeEnd, let o = out as? PipeEnd, i.pipe !== o.pipe else { throw .EINVAL }
        if input.flags.contains(.nonBlock) || out.flags.contains(.nonBlock) { flags |= SPLICE_F_NONBLOCK }
        let nonBlocking = flags & SPLICE_F_NONBLOCK != 0
        // ipipe_prep: wait for bytes, or for the last writer to go (then 0).
        while input.readiness(Int16(POLLIN)) == 0 {
            if nonBlocking { throw .EAGAIN }
            _ = try t.poll([(input, Int16(POLLIN))], deadline: nil, interruptedBy: .ERESTARTSYS)
        }
        // opipe_prep: wait for room; no reader is SIGPIPE and EPIPE.
        while true {
            let r = out.readiness(Int16(POLLOUT))
            if r & Int16(POLLERR) != 0 { return try brokenPipe(t) }
            if r & Int16(POLLOUT) != 0 { break }
            if nonBlocking { throw .EAGAIN }
            _ = try t.poll([(out, Int16(POLLOUT))], deadline: nil, interruptedBy: .ERESTARTSYS)
        }
        do { return Int64(try i.pipe.tee(into: o.pipe, count: len)) } catch {
            if error == .EPIPE { return try brokenPipe(t) }
            throw error
        }
    }

    /// vmsplice(fd, iov, nr_segs, flags): user memory into a pipe opened
    /// for writing, or a pipe opened for reading into user memory. Only
    /// SPLICE_F_NONBLOCK makes it non-blocking (the file's O_NONBLOCK does
    /// not, as in Linux 6.1). A non-pipe is EBADF.
    static func vmsplice(_ t: Task, _ a: SyscallArguments) throws(Errno) -> Int64 {
        let flags = a.uint32(3)
        guard flags & ~SPLICE_F_ALL == 0 else { throw .EINVAL }
        let file = try t.fds.get(a.fd(0))
        let toPipe: Bool
        if file.flags.writable { toPipe = true } else if file.flags.readable { toPipe = false } else { throw .EBADF }
        guard a[2] <= 1024 else { throw .EINVAL }   // UIO_MAXIOV
        let ranges = try t.iovecRanges(a.address(1), count: Int(a[2]))
        if ranges.isEmpty { return 0 }
        guard file is PipeEnd else { throw .EBADF }
        let nonBlocking = flags & SPLICE_F_NONBLOCK != 0
        while true {
            do {
                // One transfer of what fits (to a pipe) or what is there
                // (from one), after waiting for room or bytes, as
                // vmsplice_to_pipe and vmsplice_to_user.
                if toPipe { return Int64(try t.write(file, from: ranges, noWait: true)) }
                return Int64(try t.read(file, into: ranges, noWait: true))
            } catch {
                if error == .EPIPE { return try brokenPipe(t) }
                guard error == .EAGAIN, !nonBlocking else { throw error }
            }
            _ = try t.poll([(file, Int16(toPipe ? POLLOUT : POLLIN))], deadline: nil, interruptedBy: .ERESTARTSYS)
        }
    }

    /// A pipe with no reader left: SIGPIPE to the caller, then EPIPE.
    private static func brokenPipe(_ t: Task) throws(Errno) -> Int64 {
        t.post(t.senderInfo(Signal.SIGPIPE.rawValue, code: SignalInfo.SI_USER))
        throw .EPIPE
    }
}
