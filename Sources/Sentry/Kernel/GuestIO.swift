import Glibc

/// Moving bytes between a file and the guest's buffers (read, write and
/// their vector and positioned forms). The bytes move at the moment of
/// transfer, against the mappings of that moment: a buffer another thread
/// unmaps while the call sleeps gets EFAULT (or a short count), never the
/// data in whatever memory-file pages now back another mapping.
extension Task {
    /// The largest bounce buffer one call uses.
    static let bounceLimit = 1 << 20

    /// read/readv (offset nil: the file's position; may block unless
    /// `noWait`, RWF_NOWAIT) and pread/preadv. Callers check the fd's access
    /// and cap the total.
    public func read(_ file: FileDescription, into ranges: [GuestRange], at offset: Int64? = nil,
                     noWait: Bool = false) throws(Errno) -> Int {
        let n = try readUnnotified(file, into: ranges, at: offset, noWait: noWait)
        // (A writer that completed the read told fsnotify already: ReadHandoff.)
        if n > 0 && !handoffNotified { kernel.vfs.notify.accessed(file) }   // fsnotify_access
        handoffNotified = false
        return n
    }

    private func readUnnotified(_ file: FileDescription, into ranges: [GuestRange], at offset: Int64?,
                                noWait: Bool) throws(Errno) -> Int {
        let total = ranges.reduce(0) { $0 + $1.count }
        if total == 0 { return 0 }
        try file.readJobControl(self)
        if file.transfersInPlace {
            // Wait (unlocked) until the file has data, then copy with the
            // memory manager locked: nothing can unmap in between.
            let op = { () throws(Errno) -> Int in
                try self.mm.withGuestBuffers(ranges, write: true) { (bufs) throws(Errno) -> Int in
                    if let offset { return try file.pread(into: bufs, at: offset) }
                    return try file.read(into: bufs)
                }
            }
            if offset == nil && !noWait, let end = file as? PipeEnd { return try blockingPipeRead(end, into: ranges, op) }
            return offset == nil && !noWait ? try blockingRead(file, op) : try op()
        }
        if offset == nil, let host = file as? HostFile, host.readsWithoutWaiting,
           let n = try hostReadInPlace(host, into: ranges, noWait: noWait) {
            return n
        }
        if let unit = file.wholeReadUnit { return try readWhole(file, into: ranges, total: total, unit: unit, at: offset) }
        // A file whose read may sleep in the host, or hold locks of its own:
        // into a bounce buffer no bigger than what is mapped now, then out.
        let room = min(mm.accessiblePrefix(ranges, write: true), Self.bounceLimit)
        if room == 0 { throw .EFAULT }
        let bounce = UnsafeMutableRawBufferPointer.allocate(byteCount: room, alignment: 16)
        defer { bounce.deallocate() }
        let n: Int
        if let offset { n = try file.pread(into: [bounce], at: offset) } else if noWait { n = try file.read(into: [bounce]) } else {
            n = try blockingRead(file) { () throws(Errno) -> Int in try file.read(into: [bounce]) }
        }
        // If the buffer went away meanwhile, the bytes read are lost, as a
        // stream's bytes copied to a bad address are in Linux.
        let copied = mm.copyOutPrefix(ranges, UnsafeRawBufferPointer(rebasing: bounce[0..<n]))
        if copied == 0 && n > 0 { throw .EFAULT }
        return copied
    }

    /// A read from a file that serves any length whole (`wholeReadUnit`),
    /// a bounce buffer at a time, as
    /// pagemap_read copies out walk after walk: the count must be a
    /// multiple of the unit; a fault in any part is EFAULT and leaves the
    /// position where it was; a short part is the end.
    private func readWhole(_ file: FileDescription, into ranges: [GuestRange], total: Int, unit: Int,
                           at offset: Int64?) throws(Errno) -> Int {
        guard total % unit == 0 else { throw .EINVAL }
        let start: Int64
        if let offset { start = offset } else { start = try file.seek(0, whence: SEEK_CUR) }
        let bounce = UnsafeMutableRawBufferPointer.allocate(byteCount: min(total, Self.bounceLimit), alignment: 16)
        defer { bounce.deallocate() }
        var done = 0
        while done < total {
            let rest = GuestRange.dropping(done, from: ranges)
            let want = min(total - done, bounce.count)
            let room = min(mm.accessiblePrefix(rest, write: true), want)
            let take = room == want ? want : room / unit * unit
            if take == 0 { throw .EFAULT }
            let n = try file.pread(into: [UnsafeMutableRawBufferPointer(rebasing: bounce[0..<take])], at: start &+ Int64(done))
            let copied = mm.copyOutPrefix(rest, UnsafeRawBufferPointer(rebasing: bounce[0..<n]))
            done += copied
            if copied < n || (take < want && n == take) { throw .EFAULT }
            if n < take { break }
        }
        if offset == nil { _ = try file.seek(start &+ Int64(done), whence: SEEK_SET) }
        return done
    }

    /// A host pipe's or socket's read: wait (unlocked, interruptibly) until
    /// it has bytes, then take them without waiting straight into the
    /// guest's pages with the memory manager locked. A buffer unmapped
    /// meanwhile is EFAULT before a byte leaves the host, so the bytes stay
    /// for the next reader, as pipe_read faults before it consumes; a
    /// bounce buffer would lose them. Bytes another reader took between
    /// the poll and the read (EAGAIN) mean waiting again. nil: the host
    /// cannot read this file without waiting (the caller bounces).
    private func hostReadInPlace(_ host: HostFile, into ranges: [GuestRange], noWait: Bool) throws(Errno) -> Int? {
        let wait = !noWait && !host.flags.contains(.nonBlock)
        while true {
            if wait, let fd = host.hostPollFD { try waitHost(fd: fd, events: Int16(POLLIN)) }
            do {
                return try mm.withGuestBuffers(ranges, write: true) { (bufs) throws(Errno) -> Int in
                    try host.readWithoutWaiting(into: bufs)
                }
            } catch .EAGAIN where wait {
                continue
            } catch .EOPNOTSUPP {
                return nil
            }
        }
    }

    /// write/writev (offset nil; a pipe write may block until every byte is
    /// in, unless `noWait`) and pwrite/pwritev.
    public func write(_ file: FileDescription, from ranges: [GuestRange], at offset: Int64? = nil,
                      noWait: Bool = false) throws(Errno) -> Int {
        if let loc = file.location, !ranges.isEmpty { kernel.vfs.removePrivileges(loc, credentials) }   // file_remove_privs
        let n = try writeUnnotified(file, from: ranges, at: offset, noWait: noWait)
        if n > 0 { kernel.vfs.notify.modified(file) }   // fsnotify_modify
        return n
    }

    private func writeUnnotified(_ file: FileDescription, from ranges: [GuestRange], at offset: Int64?,
                                 noWait: Bool) throws(Errno) -> Int {
        let total = ranges.reduce(0) { $0 + $1.count }
        if total == 0 { return 0 }
        if file.transfersInPlace {
            if let offset {
                return try mm.withGuestBuffers(ranges, write: false) { (bufs) throws(Errno) -> Int in
                    try file.pwrite(from: bufs.map { UnsafeRawBufferPointer($0) }, at: offset)
                }
            }
            let op = { (done: Int) throws(Errno) -> Int in
                // A pipe's blocked reader the write claims is served once this mm is let go (ReadHandoff).
                self.collectsHandoffs = true
                defer { self.collectsHandoffs = false; self.completeClaimedHandoff() }
                return try self.mm.withGuestBuffers(GuestRange.dropping(done, from: ranges), write: false) { (bufs) throws(Errno) -> Int in
                    try file.write(from: bufs.map { UnsafeRawBufferPointer($0) })
                }
            }
            return noWait ? try op(0) : try blockingWrite(file, total: total, wholeCall: true, op)
        }
        // The bytes are copied in first, a chunk at a time, then written.
        let bounce = UnsafeMutableRawBufferPointer.allocate(byteCount: min(total, Self.bounceLimit), alignment: 16)
        defer { bounce.deallocate() }
        var done = 0
        while done < total {
            let got = mm.copyInPrefix(GuestRange.dropping(done, from: ranges), into: bounce)
            if got == 0 {
                if done > 0 { return done }
                throw .EFAULT
            }
            let chunk = UnsafeRawBufferPointer(rebasing: bounce[0..<got])
            let n: Int
            do throws(Errno) {
                if let offset {
                    let (at, o) = offset.addingReportingOverflow(Int64(done))
                    if o { throw .EFBIG }
                    n = try file.pwrite(from: [chunk], at: at)
                } else if noWait {
                    n = try file.write(from: [chunk])
                } else {
                    n = try blockingWrite(file, [chunk])
                }
            } catch {
                if done > 0 { return done }
                throw error
            }
            done += n
            if n < got || got < bounce.count || file.writesOneRecord { break }
        }
        return done
    }
}
