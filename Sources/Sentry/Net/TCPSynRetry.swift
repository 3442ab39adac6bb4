import Glibc

/// A TCP connect that meets a full accept queue: Linux drops the SYN
/// (tcp_conn_request's sk_acceptq_is_full) and the connecting socket stays
/// in SYN_SENT, retransmitting, so a non-blocking connect says EINPROGRESS
/// and completes once the listener has room. The loopback here completes it
/// at the accept that makes room, where Linux waits for the next
/// retransmission (1 s, then 3 s, 7 s...); a listener that closes refuses
/// the waiting ones (the retransmitted SYN draws a reset).
struct SynWaiter {
    weak var endpoint: SocketEndpoint?
    let credentials: SocketCredentials
    let serverAddress: SocketAddress?
}

extension SocketEndpoint {
    /// Queues this socket's connect at `listener` until it has room (SYN_SENT).
    public func waitForRoom(at listener: SocketEndpoint, credentials: SocketCredentials, serverAddress: SocketAddress?) {
        locked { $0.synSent = true; $0.connecting = true }
        listener.locked { $0.synWaiting.append(SynWaiter(endpoint: self, credentials: credentials, serverAddress: serverAddress)) }
        listener.admitWaiting()   // room may have come meanwhile
    }

    /// Connects the waiting sockets while this listener has room, in the
    /// order they came; refuses them all once it no longer listens.
    func admitWaiting() {
        while let w = locked({ s -> SynWaiter? in s.synWaiting.isEmpty ? nil : s.synWaiting.removeFirst() }) {
            guard let e = w.endpoint, e.phase != .closed else { continue }
            do {
                try e.connect(to: self, credentials: w.credentials, serverAddress: w.serverAddress)
                e.locked { $0.synSent = false }
                e.queue.notify()
            } catch .EAGAIN {
                locked { $0.synWaiting.insert(w, at: 0) }
                return
            } catch {
                e.locked { $0.synSent = false }
                e.setPendingError(.ECONNREFUSED)
            }
        }
    }

    /// SYN_SENT: a connect waiting for the listener's room.
    var awaitingRoom: Bool { locked { $0.synSent } }
}
