import Glibc

/// One reason kill_fasync gives (si_code POLL_IN...POLL_HUP) and the band
/// send_sigio_to_task puts beside it (band_table).
public enum AsyncEvent: Sendable {
    case input, output, error, priority, hangup

    var reason: Int32 {
        switch self {
        case .input: SignalInfo.POLL_IN
        case .output: SignalInfo.POLL_OUT
        case .error: SignalInfo.POLL_ERR
        case .priority: SignalInfo.POLL_PRI
        case .hangup: SignalInfo.POLL_HUP
        }
    }

    var band: Int64 {
        switch self {
        case .input: Int64(POLLIN | POLLRDNORM)
        case .output: Int64(POLLOUT | POLLWRNORM | POLLWRBAND)
        case .error: Int64(POLLERR)
        case .priority: Int64(POLLPRI | POLLRDBAND)
        case .hangup: Int64(POLLHUP | POLLERR)
        }
    }
}

/// O_ASYNC (fs/fcntl.c's fasync): a pipe, socket or pty with the flag set
/// sends its owner (F_SETOWN) SIGIO, or F_SETSIG's signal, when it becomes
/// readable (POLL_IN) or writable (POLL_OUT), as kill_fasync does. The file
/// registers with its wait queue while the flag is on. A pipe's queue
/// signals at each notify, for the directions the file was opened for; a
/// socket's and a pty's only when they say (`WaitQueue.kill`: sk_wake_async's
/// points, SocketAsync.swift; n_tty's, Pty.swift). The signal is sent at
/// once where the caller holds no lock the kernel's ranks below (a syscall's
/// own path: `now`), else from the timer thread a moment later (a notify, a
/// closing file's fd table).
extension FileDescription {
    /// Whether O_ASYNC means anything for this file (it has f_op->fasync).
    var supportsAsync: Bool { self is PipeEnd || self is SocketFile || self is PtyEnd }

    /// F_SETFL's O_ASYNC turned on or off through descriptor `fd` (fasync_helper).
    public func setAsync(_ on: Bool, fd: Int32) {
        guard supportsAsync, let q = waitQueue else { return }
        asyncFD.withLock { $0 = on ? fd : nil }
        if on { q.addAsync(self) } else { q.removeAsync(self) }
    }

    /// One notify of the file's wait queue, on a queue that signals at each.
    func asyncEvent(_ changed: WaitQueue.Interest) {
        var events: [AsyncEvent] = []
        if changed.contains(.readable) && flags.readable { events.append(.input) }
        if changed.contains(.writable) && flags.writable { events.append(.output) }
        sendAsync(events)
    }

    /// kill_fasync's send_sigio for each of `events`. A POLL_PRI goes only
    /// with F_SETSIG's signal: plain SIGIO owners had their SIGURG.
    func sendAsync(_ events: [AsyncEvent], now: Bool = false) {
        guard !events.isEmpty, let fd = asyncFD.withLock({ $0 }), flags.contains(.async), let owner = signalOwner, owner.id != 0 else { return }
        let signal = ownerSignal.load(ordering: .relaxed)
        let toSend = signal == 0 ? events.filter { $0 != .priority } : events
        guard !toSend.isEmpty else { return }
        let kernel = owner.kernel
        let send: @Sendable () -> Void = { for e in toSend { kernel.sendSIGIO(to: owner, signal: signal, reason: e.reason, band: e.band, fd: fd) } }
        if now { send(); return }
        // The caller may hold a leaf lock: a task's call sends them once it
        // has let go (Task.deferredSignals), any other thread through the timer thread.
        if let task = Task.current { task.deferredSignals.append(send); return }
        _ = kernel.timerThread.schedule(at: 0, send)
    }
}
