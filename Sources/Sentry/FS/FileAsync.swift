import Glibc

/// O_ASYNC (fs/fcntl.c's fasync): a pipe, socket or pty with the flag set
/// sends its owner (F_SETOWN) SIGIO, or F_SETSIG's signal, when it becomes
/// readable (POLL_IN) or writable (POLL_OUT), as kill_fasync does from the
/// pipe's, socket's and tty's wake-ups. The file registers with its wait
/// queue while the flag is on; each notify of the queue is such an event,
/// for the directions the file was opened for. The signal is sent from the
/// timer thread, since a notify may come with the notifier's own locks held
/// and the kernel's lock ranks above them.
extension FileDescription {
    /// Whether O_ASYNC means anything for this file (it has f_op->fasync).
    var supportsAsync: Bool { self is PipeEnd || self is SocketFile || self is PtyEnd }

    /// F_SETFL's O_ASYNC turned on or off through descriptor `fd` (fasync_helper).
    public func setAsync(_ on: Bool, fd: Int32) {
        guard supportsAsync, let q = waitQueue else { return }
        asyncFD.withLock { $0 = on ? fd : nil }
        if on { q.addAsync(self) } else { q.removeAsync(self) }
    }

    /// One event on the file's wait queue (kill_fasync).
    func asyncEvent(_ changed: WaitQueue.Interest) {
        guard let fd = asyncFD.withLock({ $0 }), flags.contains(.async), let owner = signalOwner, owner.id != 0 else { return }
        let signal = ownerSignal.load(ordering: .relaxed)
        var events: [(reason: Int32, band: Int64)] = []
        if changed.contains(.readable) && flags.readable { events.append((SignalInfo.POLL_IN, Int64(POLLIN | POLLRDNORM))) }
        if changed.contains(.writable) && flags.writable { events.append((SignalInfo.POLL_OUT, Int64(POLLOUT | POLLWRNORM | POLLWRBAND))) }
        guard !events.isEmpty else { return }
        let kernel = owner.kernel, toSend = events
        _ = kernel.timerThread.schedule(at: 0) {
            for e in toSend { kernel.sendSIGIO(to: owner, signal: signal, reason: e.reason, band: e.band, fd: fd) }
        }
    }
}
