import Glibc

/// Waiting on many files at once: the engine under poll, select, epoll and
/// blocking reads and writes.
extension Task {
    /// Blocks until at least one of `files` reports one of its events, the
    /// deadline passes (nil: forever; a past deadline: just look), or a signal
    /// interrupts (throws `interruptedBy`). Returns each file's events.
    public func poll(_ files: [(FileDescription?, Int16)], deadline: Deadline?, interruptedBy: Errno) throws(Errno) -> [Int16] {
        let (queues, hostFDs) = Self.waitSources(files)
        var result = [Int16](repeating: 0, count: files.count)
        _ = try block(on: queues, hostFDs: hostFDs, deadline: deadline, interruptedBy: interruptedBy) { () throws(Errno) in
            var any = false
            for (i, (f, ev)) in files.enumerated() {
                guard let f else { result[i] = Int16(POLLNVAL); any = true; continue }
                result[i] = f.readiness(ev)
                if result[i] != 0 { any = true }
            }
            return any
        }
        return result
    }

    /// What waiting on `files` means: the sentry wait queues that announce
    /// their changes (each once, after `extra`) and the host fds to poll.
    static func waitSources(_ files: [(FileDescription?, Int16)], extra: [WaitQueue] = []) -> ([WaitQueue], [pollfd]) {
        var queues = extra
        var hostFDs: [pollfd] = []
        for (f, ev) in files {
            guard let f else { continue }
            if let q = f.waitQueue, !queues.contains(where: { $0 === q }) { queues.append(q) }
            if let h = f.hostPollFD { hostFDs.append(pollfd(fd: h, events: ev, revents: 0)) }
        }
        return (queues, hostFDs)
    }

    /// Runs a read or write that may have to wait: EAGAIN from the file
    /// means "not ready", and unless the file is O_NONBLOCK the task sleeps
    /// until it is (interruptibly: ERESTARTSYS, or the bytes done so far).
    public func blockingIO(_ file: FileDescription, _ events: Int16, _ op: () throws(Errno) -> Int) throws(Errno) -> Int {
        while true {
            do { return try op() } catch {
                guard error == .EAGAIN, !file.flags.contains(.nonBlock),
                      file.waitQueue != nil || file.hostPollFD != nil else { throw error }
                _ = try poll([(file, events)], deadline: nil, interruptedBy: .ERESTARTSYS)
            }
        }
    }

    /// A blocking write to a pipe keeps going until every byte is written,
    /// as Linux's pipe_write does; a signal (or a fault further on in the
    /// guest's buffer) returns the count so far. `op(done)` writes what it
    /// can of the bytes after the first `done`.
    ///
    /// `wholeCall`: the write is the whole of the guest's call. A freeze
    /// that cuts it short after some bytes restarts the call, which goes on
    /// after them (`freezeRestart`), so the guest sees one write with the
    /// full count, as without the freeze.
    public func blockingWrite(_ file: FileDescription, total: Int, wholeCall: Bool = false,
                              _ op: (_ done: Int) throws(Errno) -> Int) throws(Errno) -> Int {
        if file.waitQueue == nil || file.flags.contains(.nonBlock) {
            if let h = file.hostPollFD, !file.flags.contains(.nonBlock) { try waitHost(fd: h, events: Int16(POLLOUT)) }
            return try op(0)
        }
        var done = wholeCall ? takeRestartDone(max: total) : 0
        while done < total {
            do {
                let n = try blockingIO(file, Int16(POLLOUT)) { () throws(Errno) -> Int in try op(done) }
                if n == 0 { break }
                done += n
                if file.writesOneRecord { break }
            } catch {
                if wholeCall, let restart = freezeCut(after: done, error) { throw restart }
                if done > 0 && (error == .ERESTARTSYS || error == .EPIPE || error == .EFAULT) { return done }
                throw error
            }
        }
        return done
    }

    /// For the call being served, restarted after a freeze: the bytes it
    /// had written (at most `max`), taken once.
    public func takeRestartDone(max: Int) -> Int {
        defer { restartDone = 0 }
        return min(restartDone, max)
    }

    /// A write of a whole call that a freeze cut short (`error` the
    /// wait's ERESTARTSYS) after `done` bytes: they are kept for the
    /// call's restart, which goes on after them; the error to restart with.
    /// nil when the call ends as it would have anyway.
    public func freezeCut(after done: Int, _ error: Errno) -> Errno? {
        guard done > 0, error == .ERESTARTSYS || error == .ERESTARTNOINTR, let f = freezeRestart else { return nil }
        kernel.locked { freezeRestart = (f.nr, f.deadline, done) }
        return .ERESTARTNOINTR
    }

    /// blockingWrite from sentry memory.
    public func blockingWrite(_ file: FileDescription, _ bufs: [UnsafeRawBufferPointer]) throws(Errno) -> Int {
        try blockingWrite(file, total: bufs.reduce(0) { $0 + $1.count }) { (done) throws(Errno) -> Int in
            try file.write(from: Self.drop(done, from: bufs))
        }
    }

    /// A blocking read: `op` reads without sleeping (EAGAIN if nothing is
    /// there); host pipes and terminals are polled first so the wait can be
    /// interrupted.
    public func blockingRead(_ file: FileDescription, _ op: () throws(Errno) -> Int) throws(Errno) -> Int {
        if let h = file.hostPollFD, !file.flags.contains(.nonBlock) {
            try waitHost(fd: h, events: Int16(POLLIN))
            return try op()
        }
        return try blockingIO(file, Int16(POLLIN), op)
    }

    /// blockingRead into sentry memory.
    public func blockingRead(_ file: FileDescription, _ bufs: [UnsafeMutableRawBufferPointer]) throws(Errno) -> Int {
        try blockingRead(file) { () throws(Errno) -> Int in try file.read(into: bufs) }
    }

    private static func drop(_ n: Int, from bufs: [UnsafeRawBufferPointer]) -> [UnsafeRawBufferPointer] {
        var n = n
        var out: [UnsafeRawBufferPointer] = []
        for b in bufs {
            if n >= b.count { n -= b.count; continue }
            out.append(UnsafeRawBufferPointer(rebasing: b[n...]))
            n = 0
        }
        return out
    }
}
