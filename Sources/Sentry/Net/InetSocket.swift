import Glibc

/// AF_INET sockets on the sandbox loopback: the same endpoints as AF_UNIX
/// (a TCP connection is a connected pair of stream queues, a UDP socket a
/// datagram queue), named by ports in the sandbox's `Loopback`.
extension SocketEndpoint {
    var loopback: Loopback { names.loopback }

    public var inetAddress: InetAddress? {
        if case .inet(let a)? = address { return a }
        return nil
    }

    /// bind(2) for AF_INET and AF_INET6: EINVAL if already bound.
    public func bindInet(_ a: InetAddress, privileged: Bool = false) throws(Errno) {
        if address != nil { throw .EINVAL }
        let (reuse, v6only) = locked { ($0.flagOptions.contains(SocketConstants.SO_REUSEADDR), $0.v6only) }
        let bound = try loopback.bind(self, ip: a.shown(as: family), proto: proto, reuse: reuse, v6only: v6only,
                                   privileged: privileged)
        let lost = locked { s -> Bool in
            if s.address != nil { return true }
            s.address = .inet(bound)
            s.portLocked = a.port != 0
            return false
        }
        if lost { loopback.unbind(self, port: bound.port, proto: proto); throw .EINVAL }
    }

    /// An unbound socket gets an ephemeral port on `ip` (nil: the wildcard
    /// of its family) when it first needs a name (listen, connect, a UDP
    /// send), as inet_autobind does.
    public func autobindInet(ip: InetAddress? = nil) throws(Errno) -> InetAddress {
        if let a = inetAddress { return a }
        try bindInet((ip ?? (family == SocketConstants.AF_INET6 ? .anyV6 : .anyV4)).with(port: 0))
        return inetAddress!
    }

    /// Where a connect or send to `a` goes: the wildcard means this host, as
    /// on Linux; anything off the loopback is unreachable from the sandbox.
    public static func route(_ a: InetAddress) throws(Errno) -> InetAddress {
        if a.isAny { return (a.isV4 ? InetAddress.loopbackV4 : InetAddress.loopbackV6).with(port: a.port).shown(as: a.family) }
        guard a.isLoopback else { throw .ENETUNREACH }
        return a
    }

    /// The listener a TCP connect to `a` reaches; ECONNREFUSED if none.
    public func inetListener(_ a: InetAddress) throws(Errno) -> SocketEndpoint {
        guard let l = loopback.find(try Self.route(a), proto: Loopback.tcp) else { throw .ECONNREFUSED }
        return l
    }

    /// UDP: the socket bound to `a`, if any (a datagram to no one is dropped).
    public func udpReceiver(_ a: InetAddress) throws(Errno) -> SocketEndpoint? {
        loopback.find(try Self.route(a), proto: proto)
    }

    /// An address as this socket shows it (a peer's IPv4 address on an
    /// AF_INET6 socket is ::ffff:a.b.c.d).
    public func present(_ a: SocketAddress?) -> SocketAddress? {
        guard case .inet(let i)? = a else { return a }
        return .inet(i.shown(as: family))
    }

    /// UDP connect: the default destination (nil: AF_UNSPEC dissolves it).
    public func connectUDP(_ a: InetAddress?) throws(Errno) {
        if let a {
            let dest = try Self.route(a)
            let local = try autobindInet()
            locked { s in
                s.inetPeer = dest; s.phase = .connected
                // A wildcard-bound socket takes the route's source as its address.
                if local.isAny || s.sourceFromConnect {
                    s.address = .inet(Self.sourceAddress(for: dest).with(port: local.port).shown(as: family))
                    s.sourceFromConnect = true
                }
            }
        } else {
            // udp_disconnect: the address connect chose goes (inet_reset_saddr),
            // and a port the socket did not bind itself (unhash).
            let released: UInt16? = locked { s in
                s.inetPeer = nil; s.phase = .idle
                guard case .inet(let l)? = s.address else { return nil }
                if !s.portLocked { s.address = nil; s.sourceFromConnect = false; return l.port }
                if s.sourceFromConnect {
                    s.address = .inet((family == SocketConstants.AF_INET6 ? InetAddress.anyV6 : .anyV4).with(port: l.port))
                    s.sourceFromConnect = false
                }
                return nil
            }
            if let port = released { loopback.unbind(self, port: port, proto: proto) }
        }
        queue.notify()
    }

    public var udpPeer: InetAddress? { locked { $0.inetPeer } }

    /// Queues a UDP datagram at `target` unless its receive buffer is full,
    /// when UDP drops it (the sender never waits for a receiver).
    public func sendUDP(_ m: SocketMessage, bytes: [UnsafeRawBufferPointer], to target: SocketEndpoint) throws(Errno) {
        if locked({ $0.shutWrite }) { throw .EPIPE }
        guard m.length <= 65507 else { throw .EMSGSIZE }
        target.arriveUDP(m, bytes: bytes)
    }

    /// A UDP datagram for this socket (udp_queue_rcv_skb): queued unless the
    /// receive buffer is full or reading is shut down.
    func arriveUDP(_ m: SocketMessage, bytes: [UnsafeRawBufferPointer]) {
        let delivered = locked { t -> Bool in
            guard t.phase != .closed else { return false }
            guard !t.shutRead, t.rx.bytes + m.length <= t.receiveBuffer else { t.drops &+= 1; return false }
            var m = m
            m.dropCount = Self.dropCountLocked(t)
            t.rx.append(m, bytes: bytes)
            return true
        }
        if delivered { queue.notify(); wakeAsyncReader(.input, now: true) }
    }

    /// A non-blocking TCP connect that was refused reports it through SO_ERROR.
    public func setPendingError(_ e: Errno) {
        locked { $0.error = e }
        queue.notify()
        wakeAsync(.error)   // the reset to the SYN: tcp_reset's sk_error_report
    }

    /// A non-blocking connect answered EINPROGRESS.
    public func markConnecting() { locked { $0.connecting = true } }

    /// The first connect after an EINPROGRESS one, as __inet_stream_connect
    /// answers it in SS_CONNECTING: 0 if the connection was made; the
    /// refusal (or ECONNABORTED once SO_ERROR took it) if it was not, the
    /// socket left unconnected so the next connect starts afresh. Nil if no
    /// connect is in progress.
    public func finishConnecting() -> Errno?? {
        locked { s -> Errno?? in
            guard s.connecting else { return nil }
            if s.synSent { return .some(.EALREADY) }   // still SYN_SENT
            s.connecting = false
            if s.phase == .connected { return .some(nil) }
            defer { s.error = nil }
            return .some(s.error ?? .ECONNABORTED)
        }
    }

    /// A write to a TCP peer that has closed is taken and lost, as far as a
    /// send buffer holds (what Linux puts on the wire before the peer's
    /// reset comes back), and the reset shuts the socket: the next write is
    /// EPIPE, as on Linux. The bytes taken, or nil if the peer is there.
    public func absorbWriteAfterPeerClosed(_ count: Int) -> Int? {
        let absorbed = locked { s -> Int? in
            guard isInet, kind == .stream, s.peerClosed, !s.shutWrite else { return nil }
            s.shutWrite = true
            s.error = .EPIPE
            return min(count, s.sendBuffer)
        }
        if absorbed != nil { queue.notify(); wakeAsync(.error) }   // the peer's reset
        return absorbed
    }

    /// TCP: an empty send on a connection we have not shut is 0, even
    /// after the peer's FIN (CLOSE_WAIT still sends; tcp_sendmsg checks only
    /// our own SEND_SHUTDOWN and sk_err), where AF_UNIX says EPIPE.
    public var takesEmptySend: Bool {
        locked { s in isInet && kind == .stream && s.phase == .connected && !s.shutWrite && s.error == nil }
    }

    public func hasFlagOption(_ name: Int32) -> Bool { locked { $0.flagOptions.contains(name) } }

    /// TCP's send queue, write_seq - snd_una (SIOCOUTQ, /proc/net/tcp's
    /// tx_queue): the loopback acknowledges a segment as it lands in the
    /// peer's receive queue, so bytes there are the peer's whether read or
    /// not. What the peer's window could not take stays ours, unsent.
    /// Nothing is ever sent and unacknowledged, so this is SIOCOUTQNSD's
    /// answer too.
    public var tcpUnacknowledged: Int {
        guard isTCP, let peer = locked({ $0.phase == .connected ? $0.peer : nil }) else { return 0 }
        return peer.locked { p in Swift.max(0, p.rx.bytes - Self.tcpWindow(p)) }
    }

    /// What a TCP receiver takes in before its window closes: half its
    /// receive buffer (tcp_win_from_space with 6.1's tcp_adv_win_scale of
    /// 1). A sender's bytes queued here beyond it count as the sender's
    /// unsent ones, not the receiver's (SIOCINQ, /proc/net/tcp's rx_queue).
    static func tcpWindow(_ s: State) -> Int { s.receiveBuffer / 2 }

    /// A TCP receiver's arrived bytes out of `queued` (tcp_inq).
    static func tcpArrived(_ queued: Int, _ s: State) -> Int { Swift.min(queued, tcpWindow(s)) }
}
