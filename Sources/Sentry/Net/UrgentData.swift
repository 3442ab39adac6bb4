import Glibc
import Synchronization

/// Out-of-band data on a stream socket (MSG_OOB): one urgent mark per
/// receiving socket, as Linux keeps one (tcp_sock's urg_seq/urg_data,
/// unix_sock's oob_skb). A TCP send with MSG_OOB makes its last byte
/// urgent; an AF_UNIX one sends its last byte as a message of its own.
/// Either way the byte stays in the receive queue at `distance` from the
/// read position: without SO_OOBINLINE a read steps over it, recv(MSG_OOB)
/// takes it, and no read crosses the mark once it has read something.
struct UrgentMark {
    /// Unread bytes before the urgent byte.
    var distance: Int
    /// TCP: recv(MSG_OOB) took it (TCP_URG_READ). An AF_UNIX oob_skb taken
    /// leaves the mark for State.consumedOOB, where it still stops reads.
    var taken = false
}

extension SocketEndpoint {
    public var isTCP: Bool { isInet && kind == .stream }
    /// SHUT_WR (or SHUT_RDWR) was done here.
    public var sendShut: Bool { locked { $0.shutWrite } }

    /// The receiver's side of an urgent send, its lock held, right after the
    /// send appended the byte (the last one queued). TCP (tcp_check_urg): an
    /// unread old mark the reader stands at loses its byte unless
    /// SO_OOBINLINE; elsewhere it becomes ordinary data. AF_UNIX (queue_oob):
    /// the new byte replaces the old as oob_skb. Returns what to credit its
    /// sender for a dropped byte.
    func markUrgentLocked(_ s: inout State) -> (SocketAccount, Int)? {
        var credit: (SocketAccount, Int)?
        if isTCP, let old = s.urgent, old.distance == 0, !s.flagOptions.contains(SocketConstants.SO_OOBINLINE) {
            let (acct, _, n) = s.rx.consume(1, whole: false)
            if let acct, n > 0 { credit = (acct, n) }
        }
        s.urgent = UrgentMark(distance: s.rx.bytes - 1)
        return credit
    }

    /// Where a stream read stands with respect to the mark, its lock held
    /// (tcp_recvmsg_locked's urg checks, manage_oob): the bytes a peek passes
    /// over at the front and how far the read may go. A read at the mark
    /// steps over (and consumes, unless peeking) an urgent byte not inline.
    /// AF_UNIX's consumed oob_skbs stop reads where they are; one at the
    /// front is dropped, and as 6.1 does a non-blocking read that dropped
    /// it with nothing read says EAGAIN (a peek goes past them, empty skbs).
    func approachMarkLocked(_ s: inout State, max: Int, peek: Bool, dontWait: Bool, credits: inout [(SocketAccount, Int)]) throws(Errno) -> (skip: Int, limit: Int) {
        var max = max
        if !peek, let first = s.consumedOOB.first {
            if first > 0 {
                max = Swift.min(max, first)
            } else {
                s.consumedOOB.removeFirst()
                if dontWait {
                    if let e = s.error { s.error = nil; throw e }
                    if !s.shutRead { throw .EAGAIN }
                }
                if let next = s.consumedOOB.first { max = Swift.min(max, next) }
            }
        }
        guard let u = s.urgent else { return (0, max) }
        let inline = s.flagOptions.contains(SocketConstants.SO_OOBINLINE)
        if u.distance > 0 { return (0, Swift.min(max, u.distance)) }
        if inline {
            // Read as data; AF_UNIX forgets oob_skb at once, TCP once the read passes it.
            if !isInet && !peek { s.urgent = nil }
            return (0, max)
        }
        if peek { return (1, max) }
        if let rights = s.rx.first?.rights, !rights.isEmpty, s.rx.first?.remaining == 1 {
            names.rightsInFlight.subtract(rights.count, ordering: .relaxed)
        }
        let (acct, _, n) = s.rx.consume(1, whole: false)
        if let acct, n > 0 { credits.append((acct, n)) }
        s.urgent = nil
        return (0, max)
    }

    /// What recv(MSG_OOB) found.
    public struct UrgentByte: Sendable {
        public var byte: UInt8?
        /// TCP with an empty buffer: the byte is taken and MSG_TRUNC reported.
        public var truncated = false
    }

    /// recv(MSG_OOB) on a stream (tcp_recv_urg, unix_stream_recv_urg):
    /// the urgent byte, once; EINVAL with none, one already taken, or
    /// SO_OOBINLINE. `wanted`: the caller's buffer length. Never waits.
    public func takeUrgent(peek: Bool, wanted: Int) throws(Errno) -> UrgentByte {
        var credit: (SocketAccount, Int)?
        defer { if let (a, n) = credit { a.release(n) } }
        return try locked { (s: inout State) throws(Errno) -> UrgentByte in
            if isTCP {
                if s.phase == .listening { throw .ENOTCONN }
            } else if s.phase != .connected {
                throw .EINVAL   // unix_stream_read_generic: not TCP_ESTABLISHED
            }
            guard let u = s.urgent, !u.taken, !s.flagOptions.contains(SocketConstants.SO_OOBINLINE) else { throw .EINVAL }
            let byte = s.rx.ring.byte(at: u.distance)
            if peek { return UrgentByte(byte: byte) }
            if isTCP {
                s.urgent!.taken = true
                return wanted > 0 ? UrgentByte(byte: byte) : UrgentByte(byte: nil, truncated: true)
            }
            // AF_UNIX (unix_stream_recv_urg): the oob_skb stays, consumed and
            // empty; a consumed one right before it leaves the queue.
            s.urgent = nil
            s.consumedOOB.removeAll { $0 == u.distance }
            s.consumedOOB.append(u.distance)
            s.consumedOOB.sort()
            // Our copy of the byte's message leaves the queue (descriptors it carried are closed).
            if let m = s.rx.remove(messageAt: u.distance) {
                if let acct = m.sender { credit = (acct, m.charge) }
                if !m.rights.isEmpty { names.rightsInFlight.subtract(m.rights.count, ordering: .relaxed) }
            }
            return UrgentByte(byte: byte)
        }
    }

    /// SIOCATMARK: whether the next byte read is the urgent one (TCP: or
    /// the one after a taken urgent byte). EOPNOTSUPP for AF_UNIX
    /// datagrams and seqpackets; nil where the request is unknown (UDP, netlink).
    public func atMark() throws(Errno) -> Bool? {
        if !isInet && !isNetlink && kind != .stream { throw .EOPNOTSUPP }
        guard kind == .stream else { return nil }
        return locked { s in
            guard let u = s.urgent, u.distance == 0 else { return false }
            // unix_ioctl looks at the front skb, which may be a consumed one.
            return isInet || !s.consumedOOB.contains(0)
        }
    }

    /// Readiness's view of the mark, its lock held: whether what is queued
    /// counts as readable (TCP at the mark needs a byte beyond the urgent
    /// one, tcp_poll; a consumed AF_UNIX oob_skb still fills the queue) and
    /// whether urgent data waits (POLLPRI).
    func urgentReadinessLocked(_ s: State) -> (readable: Bool, urgent: Bool) {
        if !isInet { return (!s.rx.isEmpty || !s.consumedOOB.isEmpty, s.urgent != nil) }
        guard let u = s.urgent else { return (!s.rx.isEmpty, false) }
        let atMark = u.distance == 0 && !s.flagOptions.contains(SocketConstants.SO_OOBINLINE)
        return (s.rx.bytes > (atMark ? 1 : 0), !u.taken)
    }
}
