import CSwitch
import Glibc
import Sentry

/// Calls on an open file's contents: ftruncate, fallocate, fsync,
/// sendfile, copy_file_range, memfd_create.
enum FileContents {
    static func ftruncate(_ t: Task, _ a: SyscallArguments) throws(Errno) -> Int64 {
        guard a.int(1) >= 0 else { throw .EINVAL }
        let f = try t.fds.get(a.fd(0))
        if f.flags.writable, let loc = f.location { t.kernel.vfs.removePrivileges(loc, t.credentials) }   // do_truncate's
        try f.truncate(a.int(1))
        if let loc = f.location { t.kernel.vfs.notify.changed(loc, FSNotify.Mask.modify) }
        t.kernel.fileMayHaveShrunk(f, by: t)
        return 0
    }

    /// fallocate: mode 0 (allocate, growing the file), KEEP_SIZE, and
    /// PUNCH_HOLE|KEEP_SIZE; the rest EOPNOTSUPP, as filesystems without them say.
    static func fallocate(_ t: Task, _ a: SyscallArguments) throws(Errno) -> Int64 {
        let f = try t.fds.get(a.fd(0))
        let mode = a.int32(1), offset = a.int(2), len = a.int(3)
        guard offset >= 0, len > 0 else { throw .EINVAL }
        guard f.flags.writable else { throw .EBADF }
        guard let l = f.location else { throw .ESPIPE }
        if l.inode.kind == .directory { throw .EISDIR }
        guard l.inode.kind == .regular else { throw .ENODEV }
        if l.mount.readOnly { throw .EROFS }
        let (end, o) = offset.addingReportingOverflow(len)
        guard !o else { throw .EFBIG }
        if let h = f.hostFD {
            _ = try Errno.check(Int(sw_fallocate(h, mode, offset, len)))
            t.kernel.vfs.notify.modified(f)   // vfs_fallocate's fsnotify_modify
            return 0
        }
        switch mode {
        case 0:
            if end > Int64(try f.stat().st_size) { try f.truncate(end) }
        case 1:  // FALLOC_FL_KEEP_SIZE: tmpfs pages come when written
            break
        case 3:  // PUNCH_HOLE | KEEP_SIZE: the range reads back as zeros
            let size = Int64(try f.stat().st_size)
            let stop = min(end, size)
            if stop > offset {
                let zeros = [UInt8](repeating: 0, count: Int(stop - offset))
                _ = try Errno.typed { try zeros.withUnsafeBytes { b in try f.pwrite(from: [b], at: offset) } }
            }
        default:
            throw .EOPNOTSUPP
        }
        t.kernel.vfs.notify.modified(f)
        return 0
    }

    static func fsync(_ t: Task, _ a: SyscallArguments) throws(Errno) -> Int64 {
        try t.fds.get(a.fd(0)).sync(dataOnly: false)
        return 0
    }

    static func fdatasync(_ t: Task, _ a: SyscallArguments) throws(Errno) -> Int64 {
        try t.fds.get(a.fd(0)).sync(dataOnly: true)
        return 0
    }

    /// sync_file_range (fs/sync.c): the range and flags checked as Linux
    /// does, then the host's writeback for a host file; tmpfs and the
    /// sandbox's other in-memory files have none to start or wait for.
    static func syncFileRange(_ t: Task, _ a: SyscallArguments) throws(Errno) -> Int64 {
        let f = try t.fds.get(a.fd(0))
        if f.flags.contains(.path) { throw .EBADF }
        let offset = Int64(bitPattern: a[1]), count = Int64(bitPattern: a[2]), flags = a.uint32(3)
        let waitBefore: UInt32 = 1, write: UInt32 = 2, waitAfter: UInt32 = 4
        guard flags & ~(waitBefore | write | waitAfter) == 0 else { throw .EINVAL }
        let (end, _) = offset.addingReportingOverflow(count)   // the kernel's sum wraps too
        guard offset >= 0, end >= 0, end >= offset else { throw .EINVAL }
        let mode = (try? f.stat().st_mode) ?? 0
        guard [S_IFREG, S_IFBLK, S_IFDIR, S_IFLNK].contains(mode & S_IFMT) else { throw .ESPIPE }
        try f.syncRange(offset: offset, count: count, flags: flags)
        return 0
    }

    /// sync and syncfs: the guest's writes to host files go to the host
    /// page cache; flushing it is the host's business, not the sandbox's.
    static func sync(_ t: Task, _ a: SyscallArguments) throws(Errno) -> Int64 { 0 }
    static func syncfs(_ t: Task, _ a: SyscallArguments) throws(Errno) -> Int64 {
        _ = try t.fds.get(a.fd(0))
        return 0
    }

    /// sendfile: from a seekable file to anything, through a sentry buffer.
    static func sendfile(_ t: Task, _ a: SyscallArguments) throws(Errno) -> Int64 {
        let out = try t.fds.get(a.fd(0)), input = try t.fds.get(a.fd(1))
        guard input.flags.readable, out.flags.writable else { throw .EBADF }
        if out.flags.contains(.append) { throw .EINVAL }
        // Linux splices only from files with a position (a pipe, socket or
        // terminal has no splice_read: EINVAL), so bytes read and not
        // written can always go back.
        do { _ = try input.seek(0, whence: SEEK_CUR) } catch { throw .EINVAL }
        let offsetAddr = a.address(2)
        var offset: Int64? = offsetAddr.isNull ? nil : try t.mm.read(offsetAddr, as: Int64.self)
        if let o = offset, o < 0 { throw .EINVAL }
        var outPosition: Int64? = nil   // the output's own file position
        let total = try copy(t, from: input, at: &offset, to: out, at: &outPosition, count: a.count(3))
        if total > 0 { t.kernel.vfs.notify.accessed(input); t.kernel.vfs.notify.modified(out) }   // do_sendfile's
        if let offset { try t.mm.write(offsetAddr, offset) }
        return Int64(total)
    }

    /// splice: between a pipe and any file, or two pipes, through a sentry
    /// buffer. The pipe side takes no offset (ESPIPE); the other side's offset,
    /// if given, is read and written back and its file position left alone.
    static func splice(_ t: Task, _ a: SyscallArguments) throws(Errno) -> Int64 {
        let flags = a.uint32(5)
        guard flags & ~UInt32(0xf) == 0 else { throw .EINVAL }   // SPLICE_F_MOVE, NONBLOCK, MORE, GIFT
        let input = try t.fds.get(a.fd(0)), out = try t.fds.get(a.fd(2))
        guard input.flags.readable, out.flags.writable else { throw .EBADF }
        let inPipe = input is PipeEnd, outPipe = out is PipeEnd
        guard inPipe || outPipe else { throw .EINVAL }
        if out.flags.contains(.append) { throw .EINVAL }
        var inOff: Int64?, outOff: Int64?
        if !a.address(1).isNull {
            if inPipe { throw .ESPIPE }
            inOff = try t.mm.read(a.address(1), as: Int64.self)
        }
        if !a.address(3).isNull {
            if outPipe { throw .ESPIPE }
            outOff = try t.mm.read(a.address(3), as: Int64.self)
        }
        if let i = input as? PipeEnd, let o = out as? PipeEnd, i.pipe === o.pipe { throw .EINVAL }   // a pipe into itself
        if (inOff ?? 0) < 0 || (outOff ?? 0) < 0 { throw .EINVAL }
        let count = a.count(4)
        if count == 0 { return 0 }
        let n = try copy(t, from: input, at: &inOff, to: out, at: &outOff, count: count, nonBlocking: flags & 2 != 0)
        if let inOff { try t.mm.write(a.address(1), inOff) }
        if let outOff { try t.mm.write(a.address(3), outOff) }
        return Int64(n)
    }

    static func copyFileRange(_ t: Task, _ a: SyscallArguments) throws(Errno) -> Int64 {
        guard a.uint32(5) == 0 else { throw .EINVAL }   // unsigned int flags: the register's upper half is not looked at
        let input = try t.fds.get(a.fd(0)), out = try t.fds.get(a.fd(2))
        guard input.flags.readable, out.flags.writable else { throw .EBADF }
        if out.flags.contains(.append) { throw .EBADF }
        for f in [input, out] {
            guard let l = f.location else { throw .EINVAL }
            if l.inode.kind == .directory { throw .EISDIR }
            guard l.inode.kind == .regular else { throw .EINVAL }
        }
        var inOff: Int64? = a.address(1).isNull ? nil : try t.mm.read(a.address(1), as: Int64.self)
        var outOff: Int64? = a.address(3).isNull ? nil : try t.mm.read(a.address(3), as: Int64.self)
        if (inOff ?? 0) < 0 || (outOff ?? 0) < 0 { throw .EINVAL }
        let n = try copy(t, from: input, at: &inOff, to: out, at: &outOff, count: a.count(4))
        if n > 0 { t.kernel.vfs.notify.accessed(input); t.kernel.vfs.notify.modified(out) }   // vfs_copy_file_range's
        if let inOff { try t.mm.write(a.address(1), inOff) }
        if let outOff { try t.mm.write(a.address(3), outOff) }
        return Int64(n)
    }

    /// Moves up to `count` bytes in 64 KiB steps; a nil offset means the
    /// file's own position. Only the first read and write may block; a short
    /// read or write ends the copy, as in Linux.
    private static func copy(_ t: Task, from input: FileDescription, at inOff: inout Int64?,
                             to out: FileDescription, at outOff: inout Int64?, count: Int,
                             nonBlocking: Bool = false) throws(Errno) -> Int {
        var buf = [UInt8](repeating: 0, count: min(count, 65536))
        var done = 0
        while done < count {
            let want = min(buf.count, count - done)
            let o = inOff, first = done == 0 && !nonBlocking
            // A pipe's bytes are taken, not read: what the output refuses
            // goes back (settled below on every path).
            let inPipe = (input as? PipeEnd)?.pipe
            // Where the input's pages start, for an AF_UNIX stream output: a file's
            // offset (a pipe's buffers start at the bytes taken).
            let pageAt: Int64? = inPipe != nil || !(out is SocketFile) ? nil : (o ?? (try? input.seek(0, whence: SEEK_CUR)))
            let got: Int
            do {
                got = try Errno.typed { try buf.withUnsafeMutableBytes { b -> Int in
                    let view = UnsafeMutableRawBufferPointer(rebasing: b[0..<want])
                    if let o { return try input.pread(into: [view], at: o) }
                    if let inPipe {
                        return try first ? t.blockingRead(input) { () throws(Errno) in try inPipe.take(into: view) } : inPipe.take(into: view)
                    }
                    return try first ? t.blockingRead(input, [view]) : input.read(into: [view])
                } }
            } catch {
                if done > 0 { break }   // an input pipe emptied after some bytes moved: return those
                throw error
            }
            if got == 0 { break }
            var put = 0
            defer { if let inPipe { buf.withUnsafeBytes { inPipe.settle(taken: got, returning: UnsafeRawBufferPointer(rebasing: $0[put..<got])) } } }
            do {
                let at = outOff, first = done == 0
                if let sock = out as? SocketFile, !sock.endpoint.isInet, !sock.endpoint.isNetlink {
                    // AF_UNIX takes them page by page (6.1's unix_stream_sendpage, or
                    // sock_no_sendpage's message a page), the pages a pipe's 4 KiB
                    // buffers or the input file's pages.
                    let firstPage = SocketEndpoint.pageSize - Int((pageAt ?? 0) % Int64(SocketEndpoint.pageSize))
                    put = try Errno.typed { try buf.withUnsafeBytes { b in
                        try Sockets.sendPages(t, sock, UnsafeRawBufferPointer(rebasing: b[0..<got]), firstPage: firstPage)
                    } }
                } else if let sock = out as? SocketFile {
                    // A socket takes its bytes through the socket layer (blocking as send does).
                    put = Int(try Sockets.write(t, sock, GuestIOV(holding: Array(buf[0..<got]))))
                } else if let h = out as? HostSocketFile {
                    put = try HostSockets.send(t, h, GuestIOV(holding: Array(buf[0..<got])), name: nil, control: [], flags: 0)
                } else {
                    put = try Errno.typed { try buf.withUnsafeBytes { b -> Int in
                        let view = UnsafeRawBufferPointer(rebasing: b[0..<got])
                        if let at { return try out.pwrite(from: [view], at: at) }
                        // SPLICE_F_NONBLOCK: a full output pipe is EAGAIN (opipe_prep).
                        if nonBlocking && out is PipeEnd { return try out.write(from: [view]) }
                        return try first ? t.blockingWrite(out, [view]) : out.write(from: [view])
                    } }
                }
            } catch {
                // The bytes read but not written go back to the input, or a
                // later sendfile (cat into a full pipe, Go's io.Copy to a
                // socket that says EAGAIN first) would skip them. A pipe's
                // go back through its settle.
                if inOff == nil && inPipe == nil { _ = try? input.seek(-Int64(got), whence: SEEK_CUR) }
                if done > 0 { break }
                throw error
            }
            if let o = inOff { inOff = o + Int64(put) } else if put < got && inPipe == nil { _ = try? input.seek(Int64(put - got), whence: SEEK_CUR) }
            if let o = outOff { outOff = o + Int64(put) }
            done += put
            if put < got || got < want { break }
        }
        return done
    }

    /// memfd_create: an anonymous tmpfs file.
    static func memfdCreate(_ t: Task, _ a: SyscallArguments) throws(Errno) -> Int64 {
        let flags = a.uint32(1)
        guard flags & ~UInt32(0x1 | 0x2 | 0x4 | 0x8) == 0 else { throw .EINVAL }   // CLOEXEC, ALLOW_SEALING, HUGETLB, NOEXEC_SEAL
        if flags & 0x4 != 0 { throw .EINVAL }   // no hugetlbfs in the sentry
        let raw = try t.mm.readCString(a.address(0), max: 250)
        let name = String(rawBytes: raw)
        let f = t.kernel.vfs.memfd(name: name, allowSealing: flags & 0x2 != 0)
        return Int64(try t.fds.install(f, closeOnExec: flags & 1 != 0).rawValue)
    }
}
