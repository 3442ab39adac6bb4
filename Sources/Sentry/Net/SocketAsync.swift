import Synchronization

/// Which O_ASYNC signals a socket sends (sk_wake_async): its queue does not
/// signal at every wake-up, as a pipe's does, only at these points.
extension SocketEndpoint {
    /// SOCK_WAKE_WAITD: data, a connection or a shutdown to read
    /// (sock_def_readable, tcp_fin, unix_shutdown, unix_release_sock). No
    /// signal while a reader waits in a stream receive (SOCKWQ_ASYNC_WAITDATA):
    /// it is woken instead. `now`: the caller is a send or a syscall of its
    /// own, holding no leaf lock (FileAsync.swift).
    func wakeAsyncReader(_ e: AsyncEvent, now: Bool = false) {
        if readersWaiting.load(ordering: .relaxed) == 0 { queue.kill(e, now: now) }
    }

    /// A stream receive goes to sleep for data, or wakes.
    public func readerSleeps(_ asleep: Bool) {
        if asleep { readersWaiting.add(1, ordering: .relaxed) } else { readersWaiting.subtract(1, ordering: .relaxed) }
    }

    /// SOCK_WAKE_IO: a finished connect (POLL_OUT), an error (sock_def_error_report's POLL_ERR).
    func wakeAsync(_ e: AsyncEvent, now: Bool = false) { queue.kill(e, now: now) }

    /// tcp_poll, unix_dgram_poll and datagram_poll mark a socket they find
    /// unwritable (SOCKWQ_ASYNC_NOSPACE), so that room coming back signals
    /// POLL_OUT; unix_poll (a stream's) does not.
    func pollFoundNoSpace() {
        if isInet || kind != .stream { account.noSpace.store(true, ordering: .relaxed) }
    }
}

extension SocketAccount {
    /// A send found the buffer full: a non-blocking one leaves the socket
    /// marked for POLL_OUT when room comes back (sock_alloc_send_pskb,
    /// sk_stream_wait_memory); a blocking one, about to wait, clears the
    /// mark (sock_wait_for_wmem), since the wake-up is what it waits for.
    public func sendFoundNoSpace(nonBlocking: Bool) { noSpace.store(nonBlocking, ordering: .relaxed) }

    /// TCP clears the mark at every send (tcp_sendmsg_locked).
    public func sendStarts() { noSpace.store(false, ordering: .relaxed) }

    /// SOCK_WAKE_SPACE: room came back (unix_write_space,
    /// sk_stream_write_space); POLL_OUT only if a send or poll found none.
    func roomCameBack() {
        if noSpace.exchange(false, ordering: .relaxed) { queue.kill(.output) }
    }
}


extension SocketEndpoint {
    /// A TCP FIN arrived: tcp_fin says POLL_HUP if this side had shut its own
    /// writing already (both directions now shut) and POLL_IN otherwise, then
    /// tcp_data_ready, which a FIN also calls, POLL_IN.
    func receivedFIN(alsoShutWrite: Bool, now: Bool = false) {
        wakeAsyncReader(alsoShutWrite ? .hangup : .input, now: now)
        wakeAsyncReader(.input, now: now)
    }
}
