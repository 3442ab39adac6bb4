import Glibc
import Sentry

/// poll, ppoll, select, pselect6 and the epoll family.
enum Poll {
    static func deadline(_ t: Task, ms: Int32) -> Deadline? {
        ms < 0 ? nil : t.timeout(after: Int64(ms) * 1_000_000)
    }

    static func poll(_ t: Task, _ a: SyscallArguments) throws(Errno) -> Int64 {
        try doPoll(t, a.address(0), count: UInt64(a.uint32(1)), deadline: deadline(t, ms: a.int32(2)))   // nfds is an unsigned int
    }

    private static func doPoll(_ t: Task, _ addr: GuestAddress, count: UInt64, deadline: Deadline?) throws(Errno) -> Int64 {
        guard count <= UInt64(t.rlimit(ResourceLimit.RLIMIT_NOFILE)?.cur ?? 1024) else { throw .EINVAL }
        let n = Int(count)
        let raw = try t.mm.copyIn(addr, n * 8)
        // A negative fd is skipped (revents 0); an unknown one is POLLNVAL.
        var polled: [(FileDescription?, Int16)] = [], slots: [Int] = []
        for i in 0..<n {
            let fd = raw.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: i * 8, as: Int32.self) }
            guard fd >= 0 else { continue }
            let ev = raw.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: i * 8 + 4, as: Int16.self) }
            polled.append(((try? t.fds.get(FileDescriptor(fd))), ev))
            slots.append(i)
        }
        let rev: [Int16]
        do {
            rev = try t.poll(polled, deadline: deadline, interruptedBy: .ERESTART_RESTARTBLOCK)
        } catch {
            // A freeze restarts poll itself, its end kept (no restart block an image would need).
            if error == .ERESTART_RESTARTBLOCK && t.cutShortByFreeze { throw .ERESTARTNOINTR }
            if error == .ERESTART_RESTARTBLOCK {
                t.restartBlock = { (t: Task) throws(Errno) -> Int64 in try doPoll(t, addr, count: count, deadline: deadline) }
            }
            throw error
        }
        var out = raw
        for i in 0..<n { out.store(Int16(0), at: i * 8 + 6) }
        for (k, i) in slots.enumerated() { out.store(rev[k], at: i * 8 + 6) }
        let ready = rev.filter { $0 != 0 }.count
        try t.mm.copyOut(addr, out)
        return Int64(ready)
    }

    static func ppoll(_ t: Task, _ a: SyscallArguments) throws(Errno) -> Int64 {
        var dl: Deadline?
        if !a.address(2).isNull { dl = .after(Time.ns(try Time.readTimespec(t, a.address(2)))) }
        return try withSignalMask(t, a.address(3), size: a[4], timeout: a.address(2), deadline: dl) { () throws(Errno) -> Int64 in
            try doPoll(t, a.address(0), count: UInt64(a.uint32(1)), deadline: dl)
        }
    }

    /// ppoll/pselect6/epoll_pwait: a temporary signal mask for the wait, and
    /// the time left written back, as Linux does.
    static func withSignalMask(_ t: Task, _ maskAddr: GuestAddress, size: UInt64, timeout: GuestAddress, deadline: Deadline?,
                               _ body: () throws(Errno) -> Int64) throws(Errno) -> Int64 {
        if !maskAddr.isNull {
            guard size == 8 else { throw .EINVAL }
            t.setTemporaryMask(try t.mm.read(maskAddr, as: UInt64.self))
        }
        do {
            let r = try body()
            if !maskAddr.isNull { t.restoreTemporaryMask() }
            if let deadline, !timeout.isNull, !sticky(t) { try? t.mm.write(timeout, Time.timespecOf(deadline.remaining)) }
            return r
        } catch {
            if !maskAddr.isNull && !t.signalWaiting { t.restoreTemporaryMask() }
            if let deadline, !timeout.isNull, !sticky(t) { try? t.mm.write(timeout, Time.timespecOf(deadline.remaining)) }
            let e = error == .ERESTART_RESTARTBLOCK ? Errno.ERESTARTNOHAND : error
            // A timeout that is not updated cannot be restarted with.
            throw e == .ERESTARTNOHAND && !timeout.isNull && sticky(t) ? .EINTR : e
        }
    }

    /// poll_select_finish: under STICKY_TIMEOUTS the caller's timeout is left as it was.
    static func sticky(_ t: Task) -> Bool { PersonalityCalls.of(t).has(Personality.STICKY_TIMEOUTS) }

    // MARK: - select

    static func select(_ t: Task, _ a: SyscallArguments) throws(Errno) -> Int64 {
        var dl: Deadline?
        if !a.address(4).isNull { dl = .after(try Time.readTimeval(t, a.address(4))) }
        do {
            let r = try doSelect(t, a, deadline: dl)
            if let dl, !sticky(t) { let tv = Time.timevalParts(dl.remaining); try? t.mm.write(a.address(4), tv) }
            return r
        } catch {
            if let dl, !sticky(t) { let tv = Time.timevalParts(dl.remaining); try? t.mm.write(a.address(4), tv) }
            throw error == .ERESTARTNOHAND && dl != nil && sticky(t) ? .EINTR : error
        }
    }

    static func pselect6(_ t: Task, _ a: SyscallArguments) throws(Errno) -> Int64 {
        var dl: Deadline?
        if !a.address(4).isNull { dl = .after(Time.ns(try Time.readTimespec(t, a.address(4)))) }
        var maskAddr = GuestAddress.null, size: UInt64 = 8
        if !a.address(5).isNull {
            let m = try t.mm.read(a.address(5), as: (UInt64, UInt64).self)
            maskAddr = GuestAddress(m.0); size = m.1
        }
        return try withSignalMask(t, maskAddr, size: size, timeout: a.address(4), deadline: dl) { () throws(Errno) -> Int64 in
            try doSelect(t, a, deadline: dl)
        }
    }

    private static func doSelect(_ t: Task, _ a: SyscallArguments, deadline: Deadline?) throws(Errno) -> Int64 {
        // core_sys_select: a negative count is EINVAL; one past the table's
        // capacity is cut to it, so bits for descriptors beyond are ignored.
        guard a.int32(0) >= 0 else { throw .EINVAL }
        let nfds = min(a.int32(0), t.fds.capacity)
        let words = (Int(nfds) + 63) / 64
        func readSet(_ addr: GuestAddress) throws(Errno) -> [UInt64]? {
            if addr.isNull { return nil }
            let raw = try t.mm.copyIn(addr, words * 8)
            return (0..<words).map { i in raw.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: i * 8, as: UInt64.self) } }
        }
        let sets = [try readSet(a.address(1)), try readSet(a.address(2)), try readSet(a.address(3))]
        let masks: [Int16] = [Int16(POLLIN | POLLRDNORM | POLLHUP | POLLERR), Int16(POLLOUT | POLLWRNORM | POLLERR), Int16(POLLPRI)]
        var entries: [(FileDescription?, Int16)] = []
        var which: [Int32] = []
        for fd in 0..<nfds {
            var ev: Int16 = 0
            for k in 0..<3 where sets[k].map({ $0[Int(fd) / 64] & (1 << UInt64(fd % 64)) != 0 }) ?? false { ev |= masks[k] }
            guard ev != 0 else { continue }
            entries.append((try t.fds.get(FileDescriptor(fd)), ev))
            which.append(fd)
        }
        let rev = try t.poll(entries, deadline: deadline, interruptedBy: .ERESTARTNOHAND)
        var out = [[UInt64]](repeating: [UInt64](repeating: 0, count: words), count: 3)
        var count = 0
        for (i, fd) in which.enumerated() {
            for k in 0..<3 where sets[k] != nil && sets[k]![Int(fd) / 64] & (1 << UInt64(fd % 64)) != 0 && rev[i] & masks[k] != 0 {
                out[k][Int(fd) / 64] |= 1 << UInt64(fd % 64)
                count += 1
            }
        }
        for k in 0..<3 where sets[k] != nil {
            try Errno.typed { try out[k].withUnsafeBytes { b in try t.mm.copyOut(a.address(k + 1), b) } }
        }
        return Int64(count)
    }

    // MARK: - epoll

    static func epollCreate(_ t: Task, _ a: SyscallArguments) throws(Errno) -> Int64 {
        guard a.int32(0) > 0 else { throw .EINVAL }
        return Int64(try t.fds.install(EpollFile(flags: []), closeOnExec: false).rawValue)
    }

    static func epollCreate1(_ t: Task, _ a: SyscallArguments) throws(Errno) -> Int64 {
        let flags = a.int32(0)
        guard flags & ~OpenFlags.closeOnExec.rawValue == 0 else { throw .EINVAL }
        return Int64(try t.fds.install(EpollFile(flags: []), closeOnExec: flags != 0).rawValue)
    }

    static func epollCtl(_ t: Task, _ a: SyscallArguments) throws(Errno) -> Int64 {
        guard let ep = try t.fds.get(a.fd(0)) as? EpollFile else { throw .EINVAL }
        let file = try t.fds.get(a.fd(2))
        var events: UInt32 = 0, data: UInt64 = 0
        if a.int32(1) != 2 {
            let ev = try t.mm.read(a.address(3), as: (UInt32, UInt32, UInt32).self)
            events = ev.0
            data = UInt64(ev.1) | UInt64(ev.2) << 32
        }
        try ep.control(op: a.int32(1), fd: a.int32(2), file: file, events: events, data: data)
        return 0
    }

    static func epollWait(_ t: Task, _ a: SyscallArguments) throws(Errno) -> Int64 {
        try doEpollWait(t, a, deadline: deadline(t, ms: a.int32(3)))
    }

    static func epollPwait(_ t: Task, _ a: SyscallArguments) throws(Errno) -> Int64 {
        let dl = deadline(t, ms: a.int32(3))
        return try withSignalMask(t, a.address(4), size: a[5], timeout: .null, deadline: nil) { () throws(Errno) -> Int64 in
            try doEpollWait(t, a, deadline: dl)
        }
    }

    static func epollPwait2(_ t: Task, _ a: SyscallArguments) throws(Errno) -> Int64 {
        var dl: Deadline?
        if !a.address(3).isNull { dl = t.timeout(after: Time.ns(try Time.readTimespec(t, a.address(3)))) }
        return try withSignalMask(t, a.address(4), size: a[5], timeout: .null, deadline: nil) { () throws(Errno) -> Int64 in
            try doEpollWait(t, a, deadline: dl)
        }
    }

    private static func doEpollWait(_ t: Task, _ a: SyscallArguments, deadline: Deadline?) throws(Errno) -> Int64 {
        let max = a.int32(2)
        guard max > 0, max <= Int32.max / 12 else { throw .EINVAL }
        guard let ep = try t.fds.get(a.fd(0)) as? EpollFile else { throw .EINVAL }
        _ = try t.mm.buffers(a.address(1), Int(max) * 12, write: true)   // EFAULT before sleeping
        let got = try t.epollWait(ep, max: Int(max), deadline: deadline)
        var out = [UInt8]()
        out.reserveCapacity(got.count * 12)
        for e in got {
            withUnsafeBytes(of: e.events) { out += $0 }
            withUnsafeBytes(of: e.data) { out += $0 }
        }
        try t.mm.copyOut(a.address(1), out)
        return Int64(got.count)
    }
}
