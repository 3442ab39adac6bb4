import Glibc
import Synchronization

/// The kernel side of one AF_UNIX socket (Linux's `struct unix_sock`): its
/// state, receive queue and options. The file description the guest holds
/// (`SocketFile`) closes it when the last fd goes; endpoints refer to each
/// other strongly, and closing breaks the links.
///
/// Locking: each endpoint has its own lock and no code holds two at once;
/// a change that concerns two endpoints is two steps, each re-checking.
/// Sendable: connection state behind `state` (one endpoint's lock at a time); `owner` and `isAccepted` are set before the endpoint is shared.
public final class SocketEndpoint: @unchecked Sendable {
    public enum Kind: Sendable { case stream, datagram, seqpacket }
    public enum Phase: Sendable { case idle, listening, connected, closed }

    public let kind: Kind
    /// AF_UNIX or AF_INET, and the protocol SO_PROTOCOL reports (0, TCP, UDP).
    public let family: Int32
    public let proto: Int32
    /// SOCK_RAW on AF_INET/AF_INET6 (RawSocket.swift): whole packets of `proto`.
    public let isRaw: Bool
    /// A TCP connection's server half: it shares its listener's port, never binds it.
    nonisolated(unsafe) var isAccepted = false
    public var isInet: Bool { family == SocketConstants.AF_INET || family == SocketConstants.AF_INET6 }
    public var isNetlink: Bool { family == SocketConstants.AF_NETLINK }
    public var isConnectionOriented: Bool { kind != .datagram }
    /// Announces every change in this socket's readiness; its O_ASYNC
    /// signals are sent at sk_wake_async's points only (SocketAsync.swift).
    public let queue = WaitQueue(signalsOnNotify: false)
    /// Stream receives waiting for data (SOCKWQ_ASYNC_WAITDATA): arrivals send no SIGIO meanwhile.
    let readersWaiting = Atomic<Int>(0)
    /// What this socket has queued at its peers (SO_SNDBUF).
    public let account: SocketAccount
    unowned let names: UnixNamespace
    /// The socket inode's number (fstat, /proc/self/fd, /proc/net).
    public let inode: UInt64
    private static let inodes = Atomic<UInt64>(1000)
    /// The effective uid of the process that made it (/proc/net's uid column);
    /// a connection's server half takes its listener's.
    nonisolated(unsafe) public var owner: UInt32 = 0
    /// Its file's F_SETOWN owner (f_owner of sk_socket->file), whom urgent data signals.
    let fileOwner = Mutex<SignalOwner?>(nil)

    /// net.core.wmem_default / rmem_default, and Linux's floors for the setters.
    public static let defaultBuffer = 212_992, maxBuffer = 212_992
    static let minSendBuffer = 4608, minReceiveBuffer = 2304
    /// net.unix.max_dgram_qlen: datagrams a receiver queues from senders it is not connected to.
    static let maxDatagramQueue = 10

    struct State {
        var phase = Phase.idle
        var address: SocketAddress?
        /// Connected peer (stream, seqpacket) or default destination (datagram).
        var peer: SocketEndpoint?
        var rx = SocketBuffer()
        /// A stream's urgent mark (MSG_OOB), if any.
        var urgent: UrgentMark?
        /// AF_UNIX: where each oob_skb that recv(MSG_OOB) consumed still
        /// sits, empty, in 6.1's queue (unread bytes before it), in order.
        var consumedOOB: [Int] = []
        var backlog: [SocketEndpoint] = []
        var backlogLimit = 0
        var shutRead = false, shutWrite = false
        /// sk_err: ECONNRESET when the peer closed with unread data.
        var error: Errno?
        var passCredentials = false
        /// sk_drops: datagrams this socket dropped (its queue full, a bad
        /// checksum found at the read); /proc/net/udp's last column.
        var drops = 0
        /// SO_SNDBUF; `account` keeps a copy (SocketAccount.setLimit at every change).
        var sendBuffer = SocketEndpoint.defaultBuffer, receiveBuffer = SocketEndpoint.defaultBuffer
        /// SO_RCVBUF was set (SOCK_RCVBUF_LOCK): SO_RCVLOWAT no longer grows the buffer.
        var receiveBufferSet = false
        /// SO_SNDBUF was set (SOCK_SNDBUF_LOCK), as SO_BUF_LOCK reads it.
        var sendBufferSet = false
        /// SOL_SOCKET values recorded without an effect here (SocketLevelOptions.swift), by option.
        var recordedOptions: [Int32: Int32] = [:]
        /// SO_BINDTODEVICE / SO_BINDTOIFINDEX: the interface index (0: none; lo is 1).
        var boundDevice: Int32 = 0
        /// SO_COOKIE, given at the first ask (0: not yet).
        var cookie: UInt64 = 0
        /// SO_TIMESTAMP and its forms (SocketTimestamps.swift).
        var timestamps = ReceiveTimestamps()
        /// SO_RCVLOWAT (sk_rcvlowat): what a stream read waits for, and TCP's POLLIN.
        var receiveLowWater: Int32 = 1
        /// SO_PEERCRED: the peer process at connect (or listen) time, or socketpair's.
        var peerCredentials: SocketCredentials?
        /// Whose creds a listener hands its connections.
        var listenCredentials: SocketCredentials?
        var receiveTimeout: Int64 = 0, sendTimeout: Int64 = 0
        var linger: (on: Bool, seconds: Int32) = (false, 0)
        /// IPPROTO_IPV6 options of an AF_INET6 socket (IPV6_UNICAST_HOPS, IPV6_TCLASS, IPV6_RECVHOPLIMIT, IPV6_RECVTCLASS).
        var ipv6Options: [Int32: Int32] = [:]
        /// IPPROTO_IP options of an inet socket (IP_TTL, IP_TOS, IP_MULTICAST_TTL, IP_MULTICAST_LOOP).
        var ipv4Options: [Int32: Int32] = [:]
        /// Boolean options Linux records on any socket (SO_REUSEADDR, SO_KEEPALIVE, ...).
        var flagOptions: Set<Int32> = []
        /// Datagram sockets connected to this one: told when space frees up.
        var connectedSenders: [ObjectIdentifier: WaitQueue] = [:]
        var tcpOptions: [Int32: Int32] = [:]
        /// A UDP socket's connected destination.
        var inetPeer: InetAddress?
        /// The local address a UDP connect chose for a wildcard-bound socket
        /// (ip4_datagram_connect's saddr), which disconnecting takes back.
        var sourceFromConnect = false
        /// bind(2) named the port (SOCK_BINDPORT_LOCK): a UDP disconnect keeps
        /// it. Set at each bind; true for a socket restored from an image, which keeps what it had.
        var portLocked = true
        /// TCP: the peer closed after reading everything (a FIN came).
        var peerClosed = false
        /// TCP: a non-blocking connect said EINPROGRESS and no connect came
        /// since (Linux's SS_CONNECTING, whatever became of the handshake).
        var connecting = false
        /// TCP: that connect waits for its listener's room (SYN_SENT; TCPSynRetry.swift).
        var synSent = false
        /// A TCP listener's connects waiting for room in its backlog.
        var synWaiting: [SynWaiter] = []
        /// TCP: the peer reset the connection (TCP_CLOSE: getpeername says ENOTCONN).
        var reset = false
        var v6only = false
        /// The (device, inode) of a path binding, to undo at close.
        var boundNode: UnixNamespace.NodeKey?
        /// That node's place in the guest's tree, by which a checkpoint names it
        /// (its path then, after any rename; none once unlinked).
        var boundLocation: Location?
        /// Raw and ping sockets' options, and IP_RECVERR (ICMPSocket.swift).
        var icmp = ICMPSocketOptions()
    }
    let state: Mutex<State>

    /// `inode`: a restored socket's number (`continueInodes` keeps the counter past it).
    init(kind: Kind, names: UnixNamespace, family: Int32 = SocketConstants.AF_UNIX, proto: Int32 = 0, raw: Bool = false,
         inode: UInt64? = nil) {
        self.kind = kind
        self.family = family
        self.proto = proto
        self.isRaw = raw
        self.names = names
        account = SocketAccount(queue: queue)
        state = Mutex(State())
        self.inode = inode ?? Self.inodes.wrappingAdd(1, ordering: .relaxed).oldValue
        names.register(self)
    }

    /// The next socket inode number (a checkpoint keeps it), and a restore's
    /// move of the counter: never back below a number given.
    static var nextInode: UInt64 { inodes.load(ordering: .relaxed) }
    static func continueInodes(from n: UInt64) { _ = inodes.max(n, ordering: .relaxed) }

    func locked<T, E: Error>(_ body: (inout State) throws(E) -> T) throws(E) -> T {
        try state.withLock { (s: inout State) throws(E) -> T in try body(&s) }
    }

    public var phase: Phase { locked { $0.phase } }
    public var address: SocketAddress? { locked { $0.address } }
    /// What getsockname says of an unbound socket.
    public var unnamedAddress: SocketAddress {
        isNetlink ? .netlink(port: 0, groups: 0)
            : family == SocketConstants.AF_UNIX ? .unix(.unnamed) : .inet((family == SocketConstants.AF_INET6 ? InetAddress.anyV6 : .anyV4))
    }
    public var peerAddress: SocketAddress? {
        guard let p = locked({ $0.phase == .closed || $0.reset ? nil : $0.peer }) else { return nil }
        return present(p.address ?? p.unnamedAddress)
    }

    // MARK: Connection set-up

    /// Joins two fresh endpoints (socketpair, and a connect's two halves).
    static func pair(_ a: SocketEndpoint, _ b: SocketEndpoint, credentials ca: SocketCredentials, _ cb: SocketCredentials) {
        a.locked { $0.peer = b; $0.phase = .connected; $0.peerCredentials = cb }
        b.locked { $0.peer = a; $0.phase = .connected; $0.peerCredentials = ca }
    }

    public func listen(backlog: Int32, credentials: SocketCredentials) throws(Errno) {
        guard isConnectionOriented else { throw .EOPNOTSUPP }
        try locked { (s: inout State) throws(Errno) in
            guard s.address != nil, s.phase == .idle || s.phase == .listening else { throw .EINVAL }
            // An unsigned compare, as Linux does: a negative backlog means the maximum.
            s.backlogLimit = Int(min(UInt32(bitPattern: backlog), UInt32(SocketConstants.somaxconn)))
            s.phase = .listening
            s.listenCredentials = credentials
        }
        queue.notify()
    }

    /// One attempt to connect a stream or seqpacket socket to `listener`:
    /// EAGAIN while its backlog is full.
    public func connect(to listener: SocketEndpoint, credentials: SocketCredentials, serverAddress: SocketAddress? = nil) throws(Errno) {
        guard listener.kind == kind else { throw .EPROTOTYPE }
        try locked { (s: inout State) throws(Errno) in
            switch s.phase {
            case .connected: throw .EISCONN
            case .listening: throw .EINVAL
            case .closed: throw .EBADF
            case .idle: break
            }
        }
        let server = SocketEndpoint(kind: kind, names: names, family: listener.family, proto: proto)
        try listener.locked { (l: inout State) throws(Errno) in
            guard l.phase == .listening else { throw .ECONNREFUSED }
            // Linux lets one more than the backlog wait (unix_recvq_full is a '>').
            guard l.backlog.count <= l.backlogLimit else { throw .EAGAIN }
            server.locked { srv in
                srv.address = server.present(serverAddress ?? l.address)
                srv.peer = self
                srv.phase = .connected
                srv.peerCredentials = credentials
                srv.sendBuffer = l.sendBuffer; srv.receiveBuffer = l.receiveBuffer
                server.account.setLimit(l.sendBuffer)
                srv.passCredentials = l.passCredentials
                // A connection is a clone of its listener (sk_clone_lock): its timeouts and options too.
                srv.receiveTimeout = l.receiveTimeout; srv.sendTimeout = l.sendTimeout
                srv.flagOptions = l.flagOptions; srv.linger = l.linger; srv.tcpOptions = l.tcpOptions
                srv.ipv4Options = l.ipv4Options; srv.ipv6Options = l.ipv6Options
            }
            server.isAccepted = true
            server.owner = listener.owner
            l.backlog.append(server)
        }
        let lc = listener.locked { $0.listenCredentials }
        let raced: Bool = locked { s in
            guard s.phase == .idle else { return true }
            s.peer = server; s.phase = .connected; s.peerCredentials = lc
            return false
        }
        listener.queue.notify()
        listener.wakeAsyncReader(.input, now: true)   // the listener's sk_data_ready
        if raced { server.close(); throw .EISCONN }
        queue.notify()
        if isInet { wakeAsync(.output, now: true) }   // tcp_rcv_synsent_state_process
    }

    /// Takes the oldest pending connection: EAGAIN if none.
    public func accept() throws(Errno) -> SocketEndpoint {
        guard isConnectionOriented else { throw .EOPNOTSUPP }
        let e = try locked { (s: inout State) throws(Errno) -> SocketEndpoint in
            guard s.phase == .listening else { throw .EINVAL }
            guard !s.backlog.isEmpty else { throw .EAGAIN }
            return s.backlog.removeFirst()
        }
        queue.notify()   // a blocked connect may now fit
        if isInet { admitWaiting() }   // and a non-blocking one's SYN, retransmitted
        return e
    }

    /// connect(2) on a datagram socket: the default destination (nil: AF_UNSPEC, dissolve).
    public func connectDatagram(to target: SocketEndpoint?) throws(Errno) {
        if let target, target.kind != kind { throw .EPROTOTYPE }
        if let target, target.phase == .closed { throw .ECONNREFUSED }
        let old = locked { s -> SocketEndpoint? in
            let o = s.peer
            s.peer = target
            s.phase = target == nil ? .idle : .connected
            return o
        }
        let me = ObjectIdentifier(self)
        if let old, old !== target { _ = old.locked { $0.connectedSenders.removeValue(forKey: me) } }
        if let target { target.locked { $0.connectedSenders[me] = queue } }
        queue.notify()
    }

    public func shutdown(_ how: Int32) throws(Errno) {
        guard (SocketConstants.SHUT_RD...SocketConstants.SHUT_RDWR).contains(how) else { throw .EINVAL }
        let rd = how != SocketConstants.SHUT_WR, wr = how != SocketConstants.SHUT_RD
        let (peer, finSent) = locked { s -> (SocketEndpoint?, Bool) in
            let fin = wr && !s.shutWrite
            if rd { s.shutRead = true }
            if wr { s.shutWrite = true }
            return (s.phase == .connected ? s.peer : nil, fin)
        }
        // A connection's peer sees the mirror image: our SHUT_WR is its EOF.
        // Our SHUT_RD ends its sending on AF_UNIX (unix_shutdown's peer_mode);
        // TCP sends nothing for it, so the peer's data still comes and is read.
        if let peer, isConnectionOriented {
            let peerShutWrite = peer.locked { p -> Bool in
                let own = p.shutWrite
                if wr { p.shutRead = true }
                if rd && !isInet { p.shutWrite = true }
                return own
            }
            peer.queue.notify()
            if isInet {
                if finSent { peer.receivedFIN(alsoShutWrite: peerShutWrite, now: true) }
            } else if rd && wr {
                peer.wakeAsyncReader(.hangup, now: true)
            } else if wr {
                peer.wakeAsyncReader(.input, now: true)
            }
        }
        queue.notify()
    }

    /// The last fd went: unbind, wake the peer with EOF (ECONNRESET if we
    /// leave data unread), refuse pending connections, drop queued messages.
    func close() {
        let (peer, pending, dropped, node, address, abortive, finSent) = locked { s in
            // SO_LINGER on with a zero timeout: TCP closes with a reset (tcp_close's abort path).
            let r = (s.peer, s.backlog, s.rx.drain(), s.boundNode, s.address, s.linger.on && s.linger.seconds == 0, !s.shutWrite)
            s.phase = .closed
            s.peer = nil
            s.backlog = []
            s.shutRead = true; s.shutWrite = true
            s.connectedSenders = [:]
            return r
        }
        names.unbind(self, address: address, node: node)
        names.unregister(self)
        if case .inet(let a)? = address, !isAccepted { names.loopback.unbind(self, port: a.port, proto: proto) }
        if let peer {
            if isConnectionOriented {
                let peerShutWrite = peer.locked { p -> Bool in
                    let own = p.shutWrite
                    if isInet && dropped.isEmpty && !abortive {
                        // TCP: a FIN; the peer may still write once (then our reset ends it).
                        p.shutRead = true; p.peerClosed = true
                    } else {
                        p.shutRead = true; p.shutWrite = true
                        if !dropped.isEmpty || (isInet && abortive) {
                            // A reset: what the peer has queued stays readable, then ECONNRESET;
                            // a TCP socket that took a reset is closed (no peer name).
                            p.error = .ECONNRESET
                            if isInet { p.reset = true }
                        }
                    }
                    return own
                }
                peer.queue.notify()
                if !isInet {
                    peer.wakeAsyncReader(.hangup)   // unix_release_sock
                } else if !dropped.isEmpty || abortive {
                    peer.wakeAsync(.error)   // tcp_reset's sk_error_report
                } else if finSent {
                    peer.receivedFIN(alsoShutWrite: peerShutWrite)
                }
            } else {
                _ = peer.locked { $0.connectedSenders.removeValue(forKey: ObjectIdentifier(self)) }
                peer.queue.notify()
            }
        }
        for e in pending { e.close() }
        if isInet { admitWaiting() }   // refused now
        for m in dropped { m.sender?.release(m.remaining + m.overhead) }
        let rights = dropped.reduce(0) { $0 + $1.rights.count }
        if rights > 0 { names.rightsInFlight.subtract(rights, ordering: .relaxed) }
        queue.notify()
    }

    // MARK: Data

    /// How many bytes a stream send may queue now (0 or less: the send
    /// buffer is full), after the checks unix_stream_sendmsg makes first.
    public func streamSendSpace() throws(Errno) -> Int {
        let (phase, shutWrite, peer, limit) = locked { s in (s.phase, s.shutWrite, s.peer, s.sendBuffer) }
        if shutWrite { throw .EPIPE }
        guard phase == .connected, let peer else { throw .ENOTCONN }
        // A TCP peer's own SHUT_RD refuses nothing (see shutdown).
        if peer.locked({ $0.phase == .closed || ($0.shutRead && !isInet) }) { throw .EPIPE }
        return limit - account.inFlight
    }

    /// Queues one message at `target` (nil: the connected peer), its bytes
    /// copied from `bytes`, with the checks unix_stream_sendmsg /
    /// unix_dgram_sendmsg make.
    /// `urgent`: the last byte is out-of-band data (MSG_OOB), for the
    /// receiver to mark and its owner to hear of (SIGURG).
    public func send(_ message: SocketMessage, bytes: [UnsafeRawBufferPointer], to explicitTarget: SocketEndpoint?, urgent: Bool = false) throws(Errno) {
        let (peer, shutWrite, limit) = locked { s in (s.peer, s.shutWrite, s.sendBuffer) }
        if shutWrite { throw .EPIPE }
        if kind != .stream {
            guard message.length <= limit - 32 else { throw .EMSGSIZE }
            if account.inFlight >= limit { throw .EAGAIN }
        }
        guard let target = explicitTarget ?? peer else { throw .ENOTCONN }
        var dropped: (SocketAccount, Int)?
        try target.locked { (t: inout State) throws(Errno) in
            if t.phase == .closed {
                if kind == .datagram { throw .ECONNREFUSED }
                throw .EPIPE
            }
            if kind == .datagram {
                if let tp = t.peer, tp !== self { throw .EPERM }
                if t.shutRead { throw .EPIPE }
                if target !== self && t.peer !== self && t.rx.count > Self.maxDatagramQueue { throw .EAGAIN }
            } else if t.shutRead && !isInet {
                throw .EPIPE   // a TCP receiver's shutRead is its own SHUT_RD (ours would have made shutWrite)
            }
            t.rx.append(message, bytes: bytes)
            if urgent && message.length > 0 { dropped = target.markUrgentLocked(&t) }
        }
        if message.charge > 0 { account.charge(message.charge) }
        if urgent && message.length > 0 {
            if let (a, n) = dropped { a.release(n) }
            target.fileOwner.withLock { $0 }?.sendURG()
            target.wakeAsync(.priority, now: true)   // sk_send_sigurg's SOCK_WAKE_URG
            if isTCP { target.wakeAsyncReader(.input, now: true) }   // tcp_urg's own sk_data_ready for the byte
        }
        if !message.rights.isEmpty { names.rightsInFlight.add(message.rights.count, ordering: .relaxed) }
        target.queue.notify(.readable)   // data: its blocked senders wait for room, not this
        target.wakeAsyncReader(.input, now: true)
    }

    /// Forgets a dead default destination (a datagram send got ECONNREFUSED).
    public func forgetDeadPeer() {
        guard kind == .datagram, let p = locked({ $0.peer }), p.phase == .closed else { return }
        locked { s in if s.peer === p { s.peer = nil; s.phase = .idle } }
    }

    /// What a receive saw, without waiting.
    /// Sendable: a value handed from the endpoint to the one receiving thread.
    public struct Received: @unchecked Sendable {
        /// The bytes copied to the receiver.
        public var count = 0
        public var fullLength = 0
        public var rights: [FileDescription] = []
        public var credentials: SocketCredentials?
        public var from: SocketAddress?
        public var ipv6: IPv6PacketInfo?
        public var truncated = false
        public var endOfFile = false
        /// A datagram was taken that did not fit the accessible buffer: EFAULT, the datagram lost.
        public var faulted = false
        /// A stream read stopped at the urgent mark (MSG_WAITALL goes no further).
        public var atMark = false
        /// The arrival stamp of the datagram taken, or of the last stream
        /// write read from (tcp_recvmsg keeps the last skb's); 0: none.
        public var arrival: Int64 = 0
        /// The datagram's SO_RXQ_OVFL count.
        public var dropCount: UInt32 = 0
    }

    /// One receive of up to `max` bytes, copied into `targets` (which may
    /// be shorter: the accessible part of the caller's buffers; a write's
    /// bytes that would cross its end are left queued, and `faulted` says
    /// so if they are the first). Streams
    /// gather across writes but never past a message that carries
    /// descriptors (nor, with SO_PASSCRED, across writers); datagrams and
    /// seqpackets take one message, the rest of a longer one lost unless
    /// peeking, and one that does not fit the accessible part is lost
    /// (`faulted`: the caller says EFAULT), as with Linux's copy after the
    /// dequeue. EAGAIN when there is
    /// nothing yet; `endOfFile` once the peer is gone or reading is shut down.
    /// `dontWait`: the caller will not block (MSG_DONTWAIT, O_NONBLOCK).
    public func receive(into targets: [UnsafeMutableRawBufferPointer], max: Int, peek: Bool, dontWait: Bool = false) throws(Errno) -> Received {
        var r = Received()
        var credits: [(SocketAccount, Int)] = []
        defer { for (a, n) in credits { a.release(n) } }
        try locked { (s: inout State) throws(Errno) in
            // The urgent mark: a byte to step over, a point not to read past.
            var skip = 0, limit = max
            if (s.urgent != nil || !s.consumedOOB.isEmpty) && kind == .stream {
                (skip, limit) = try approachMarkLocked(&s, max: max, peek: peek, dontWait: dontWait, credits: &credits)
            }
            let room = Swift.min(limit, targets.reduce(0) { $0 + $1.count })
            // UDP, raw and ping sockets report a pending error before what is
            // queued (__skb_recv_udp, __skb_try_recv_datagram's sock_error).
            if isInet && kind == .datagram, let e = s.error { s.error = nil; throw e }
            Self.dropBadChecksumsLocked(&s)
            if s.rx.isEmpty || (skip > 0 && s.rx.bytes <= skip) {
                if let e = s.error { s.error = nil; throw e }
                if s.shutRead || (kind != .datagram && s.phase == .closed) { r.endOfFile = true; return }
                // unix_stream_read_generic says EINVAL, unix_seqpacket_recvmsg ENOTCONN.
                if kind != .datagram && s.phase != .connected { throw kind == .stream && !isInet ? .EINVAL : .ENOTCONN }
                throw .EAGAIN
            }
            if kind == .stream {
                var first = true
                var skipLeft = skip
                for m in s.rx.pending {
                    var remaining = m.remaining
                    if skipLeft > 0 {
                        let passed = Swift.min(skipLeft, remaining)
                        skipLeft -= passed; remaining -= passed
                        if remaining == 0 { continue }
                    }
                    if !first && (!m.rights.isEmpty || (s.passCredentials && m.credentials != r.credentials)) { break }
                    let take = Swift.min(limit - r.count, remaining)
                    if take == 0 { break }
                    // Linux copies each write's chunk whole or not at all: a fault
                    // inside the first is EFAULT with nothing taken, inside a later
                    // one ends the read before it.
                    if r.count + take > room {
                        if first { r.faulted = true }
                        break
                    }
                    r.count += take
                    if m.arrival != 0 { r.arrival = m.arrival }
                    if first { r.credentials = m.credentials; r.from = m.from; r.rights = m.rights }
                    first = false
                    if take < remaining || !m.rights.isEmpty { break }
                }
                s.rx.copy(r.count, skipping: skip, into: targets)
                r.fullLength = r.count
                if !peek {
                    var left = r.count
                    while left > 0 {
                        let (acct, took, credit) = s.rx.consume(left, whole: false)
                        if let acct, credit > 0 { credits.append((acct, credit)) }
                        left -= took
                    }
                }
                if !peek && !s.consumedOOB.isEmpty {
                    // A read stops at a consumed oob_skb (manage_oob), whatever
                    // MSG_WAITALL says; one that had room left reached it and dropped it.
                    r.atMark = r.count > 0 && s.consumedOOB[0] == r.count
                    if r.atMark && r.count < max { s.consumedOOB.removeFirst() }
                    s.consumedOOB = s.consumedOOB.map { $0 - r.count }
                }
                if let u = s.urgent {
                    r.atMark = r.atMark || (r.count > 0 && r.count == limit && u.distance == skip + limit)
                    if !peek {
                        // Past the mark (read inline) it is forgotten (tcp_recvmsg's skip_copy).
                        let d = u.distance - r.count
                        if d < 0 { s.urgent = nil } else { s.urgent!.distance = d }
                    }
                }
            } else {
                let m = s.rx.first!
                r.fullLength = m.remaining
                r.count = Swift.min(limit, m.remaining)
                if r.count > room {
                    r.faulted = true
                    r.count = 0
                } else {
                    s.rx.copy(r.count, into: targets)
                    r.truncated = r.count < m.remaining
                    r.rights = m.rights
                    r.credentials = m.credentials
                    r.from = m.from
                    r.ipv6 = m.ipv6
                    r.arrival = m.arrival
                    r.dropCount = m.dropCount
                }
                if !peek {
                    let (acct, _, credit) = s.rx.consume(0, whole: true)
                    if let acct, credit > 0 { credits.append((acct, credit)) }
                    if r.faulted && !m.rights.isEmpty { names.rightsInFlight.subtract(m.rights.count, ordering: .relaxed) }
                }
            }
        }
        if !peek {
            if !r.rights.isEmpty { names.rightsInFlight.subtract(r.rights.count, ordering: .relaxed) }
            // Datagram senders connected to us wait for our queue to shorten.
            if kind == .datagram {
                let senders = locked { Array($0.connectedSenders.values) }
                for q in senders { q.notify() }
            }
        }
        return r
    }

    public var sendBufferSize: Int { locked { $0.sendBuffer } }
    /// The connected peer's queue (where a blocked datagram send waits for room).
    public var peerQueue: WaitQueue? { locked { $0.peer?.queue } }

    /// Whether a receive should report SCM_CREDENTIALS.
    public var passesCredentials: Bool { locked { $0.passCredentials } }

    // MARK: Readiness and options

    /// UDP's checksum check at the read (udp_recvmsg's csum_copy_err,
    /// first_packet_length): datagrams at the front whose checksum fails
    /// are dropped and counted, so that what follows is what a read,
    /// FIONREAD or a blocking poll sees. They come from raw sockets,
    /// charged to no sender.
    static func dropBadChecksumsLocked(_ s: inout State) {
        while let m = s.rx.first, m.badChecksum {
            _ = s.rx.consume(0, whole: true)
            s.drops &+= 1
        }
    }

    /// poll(2) bits, as unix_poll and unix_dgram_poll compute them.
    /// `nonBlocking`: the polled file's O_NONBLOCK, under which udp_poll
    /// reports a queued datagram without checking its checksum.
    public func readiness(_ mask: Int16, nonBlocking: Bool = false) -> Int16 {
        let POLLRDHUP: Int16 = 0x2000
        let (phase, queued, shutRead, shutWrite, hasError, peer, limit, pending, synSent, errQueuePri) = locked { s in
            if !nonBlocking && !s.shutRead { Self.dropBadChecksumsLocked(&s) }
            return (s.phase, s.urgent == nil && s.consumedOOB.isEmpty ? (!s.rx.isEmpty, false) : urgentReadinessLocked(s), s.shutRead, s.shutWrite,
             s.error != nil || !s.icmp.errorQueue.isEmpty, s.peer, s.sendBuffer, !s.backlog.isEmpty, s.synSent,
             // SO_SELECT_ERR_QUEUE: a queued error is POLLPRI too (datagram_poll, tcp_poll).
             !s.icmp.errorQueue.isEmpty && s.flagOptions.contains(SocketConstants.SO_SELECT_ERR_QUEUE))
        }
        // SYN_SENT: neither writable nor hung up (tcp_poll) until the connection is made.
        if synSent { return hasError ? Int16(POLLERR) & (mask | Int16(POLLERR)) : 0 }
        var readable = queued.0
        // tcp_poll's tcp_stream_is_readable: the SO_RCVLOWAT mark's worth, or the end (AF_UNIX looks at any byte).
        if readable && isTCP { readable = tcpReadableAtLowWater }
        var r: Int16 = 0
        if queued.1 || errQueuePri { r |= Int16(POLLPRI) }
        if hasError { r |= Int16(POLLERR) }
        if shutRead && shutWrite { r |= Int16(POLLHUP) }
        if shutRead { r |= POLLRDHUP | Int16(POLLIN | POLLRDNORM) }
        if readable || (phase == .listening && pending) { r |= Int16(POLLIN | POLLRDNORM) }
        if kind != .datagram && (phase == .idle || phase == .closed) { r |= Int16(POLLHUP) }
        var writable = phase != .listening && account.inFlight * 4 <= limit
        if writable, kind == .datagram, let peer, peer !== self {
            writable = peer.locked { p in p.peer === self || p.rx.count <= Self.maxDatagramQueue }
        }
        if writable { r |= Int16(POLLOUT | POLLWRNORM | POLLWRBAND) } else { pollFoundNoSpace() }
        return r & (mask | Int16(POLLERR | POLLHUP))
    }

    /// FIONREAD: a stream's unread bytes; a datagram socket's next message.
    public var unreadBytes: Int {
        locked { s in
            if s.phase == .listening { return 0 }
            // tcp_inq: an urgent byte not inline ends what counts as readable.
            if let u = s.urgent, isTCP, !s.flagOptions.contains(SocketConstants.SO_OOBINLINE) { return Self.tcpArrived(u.distance, s) }
            if isTCP { return Self.tcpArrived(s.rx.bytes, s) }
            Self.dropBadChecksumsLocked(&s)   // udp_ioctl's first_packet_length
            return kind == .stream ? s.rx.bytes : (s.rx.first?.remaining ?? 0)
        }
    }

    /// SO_ERROR reads and clears the pending error.
    public func takeError() -> Errno? { locked { s in defer { s.error = nil }; return s.error } }
}
