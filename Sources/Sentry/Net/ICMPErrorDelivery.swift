import Glibc

/// An ICMP or ICMPv6 error that crossed the sandbox loopback, read as
/// icmp_unreach / icmpv6_notify read it: the packet it quotes (its IP
/// header, then at least 8 bytes of the transport header), and the errno
/// and hardness icmp_err_convert / icmpv6_err_convert give it.
struct ICMPErrorNotice {
    var type: UInt8, code: UInt8
    /// ee_info: a parameter problem's pointer (ICMP's top byte of the word after the checksum).
    var info: UInt32
    var v6: Bool
    /// Who sent the error (SO_EE_OFFENDER).
    var offender: InetAddress
    /// The quoted packet from its IP header on, and that header's length.
    var quote: [UInt8]
    var headerLength: Int
    /// The quoted packet's protocol, and its addresses (no ports).
    var proto: UInt8
    var source: InetAddress, destination: InetAddress
    /// The errno for the sockets it concerns and whether it is hard (reported
    /// to a connected socket without IP_RECVERR); nil: no socket hears it
    /// (a source quench, a redirect).
    var verdict: (errno: Errno, hard: Bool)?

    static let ICMP_SOURCE_QUENCH: UInt8 = 4, ICMP_REDIRECT: UInt8 = 5, ICMP_TIME_EXCEEDED: UInt8 = 11, ICMP_PARAMETERPROB: UInt8 = 12
    static let ICMP_FRAG_NEEDED: UInt8 = 4, NR_ICMP_UNREACH: UInt8 = 15
    static let ICMPV6_PKT_TOOBIG: UInt8 = 2, ICMPV6_TIME_EXCEED: UInt8 = 3, ICMPV6_PARAMPROB: UInt8 = 4

    /// icmp_err_convert: ICMP_DEST_UNREACH's codes 0-15.
    static let unreachable: [(errno: Errno, hard: Bool)] = [
        (.ENETUNREACH, false), (.EHOSTUNREACH, false), (.ENOPROTOOPT, true), (.ECONNREFUSED, true),
        (.EMSGSIZE, false), (.EOPNOTSUPP, false), (.ENETUNREACH, true), (.EHOSTDOWN, true),
        (.ENONET, true), (.ENETUNREACH, true), (.EHOSTUNREACH, true), (.ENETUNREACH, false),
        (.EHOSTUNREACH, false), (.EHOSTUNREACH, true), (.EHOSTUNREACH, true), (.EHOSTUNREACH, true),
    ]
    /// icmpv6_err_convert's tab_unreach: ICMPV6_DEST_UNREACH's codes 0-6.
    static let unreachable6: [(errno: Errno, hard: Bool)] = [
        (.ENETUNREACH, false), (.EACCES, true), (.EHOSTUNREACH, false), (.EHOSTUNREACH, false),
        (.ECONNREFUSED, true), (.EACCES, true), (.EACCES, true),
    ]

    /// The error `p` carries, or nil if it is no error message or is
    /// too short to name the packet it is about (icmp_unreach drops those).
    init?(_ p: LoopbackPacket) {
        let m = p.payload
        guard m.count >= 8 else { return nil }
        let q = Array(m[8...])
        let type = m[0], code = m[1]
        self.type = type; self.code = code; v6 = p.v6
        offender = p.source
        quote = q
        info = 0
        if p.v6 {
            // icmpv6_notify: the quoted IPv6 header, then 8 bytes of its next header.
            guard [LoopbackICMP.ICMPV6_DEST_UNREACH, Self.ICMPV6_PKT_TOOBIG, Self.ICMPV6_TIME_EXCEED, Self.ICMPV6_PARAMPROB].contains(type),
                  q.count >= 48 else { return nil }
            headerLength = 40
            proto = q[6]
            source = Self.v6Address(q, at: 8); destination = Self.v6Address(q, at: 24)
            if type == Self.ICMPV6_PARAMPROB || type == Self.ICMPV6_PKT_TOOBIG {
                info = m[4..<8].reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
            }
            switch type {
            case LoopbackICMP.ICMPV6_DEST_UNREACH: verdict = Int(code) < Self.unreachable6.count ? Self.unreachable6[Int(code)] : (.EPROTO, true)
            case Self.ICMPV6_PKT_TOOBIG: verdict = (.EMSGSIZE, false)   // hard only under IPV6_PMTUDISC_DO
            case Self.ICMPV6_PARAMPROB: verdict = (.EPROTO, true)
            default: verdict = (.EHOSTUNREACH, false)
            }
            return
        }
        // icmp_rcv's handlers that reach icmp_unreach, and its "mangled header" check.
        guard [LoopbackICMP.ICMP_DEST_UNREACH, Self.ICMP_SOURCE_QUENCH, Self.ICMP_REDIRECT, Self.ICMP_TIME_EXCEEDED, Self.ICMP_PARAMETERPROB].contains(type),
              q.count >= 20 else { return nil }
        let ihl = Int(q[0] & 0x0f) * 4
        guard ihl >= 20, q.count >= ihl + 8 else { return nil }
        headerLength = ihl
        proto = q[9]
        source = Self.v4Address(q, at: 12); destination = Self.v4Address(q, at: 16)
        switch type {
        case LoopbackICMP.ICMP_DEST_UNREACH:
            if code == Self.ICMP_FRAG_NEEDED {
                verdict = (.EMSGSIZE, true)   // hard unless IP_PMTUDISC_DONT, which the sentry does not offer
            } else {
                verdict = code <= Self.NR_ICMP_UNREACH ? Self.unreachable[Int(code)] : (.EHOSTUNREACH, false)
            }
        case Self.ICMP_SOURCE_QUENCH, Self.ICMP_REDIRECT: verdict = nil
        case Self.ICMP_PARAMETERPROB:
            info = UInt32(m[4])
            verdict = (.EPROTO, true)
        default: verdict = (.EHOSTUNREACH, false)
        }
    }

    private static func v4Address(_ q: [UInt8], at o: Int) -> InetAddress {
        InetAddress(v4: q[o..<(o + 4)].reduce(UInt32(0)) { $0 << 8 | UInt32($1) }, port: 0)
    }
    private static func v6Address(_ q: [UInt8], at o: Int) -> InetAddress {
        InetAddress(high: q[o..<(o + 8)].reduce(UInt64(0)) { $0 << 8 | UInt64($1) },
                    low: q[(o + 8)..<(o + 16)].reduce(UInt64(0)) { $0 << 8 | UInt64($1) }, port: 0)
    }

    /// The quoted transport header's ports (UDP's source and destination).
    var ports: (source: UInt16, destination: UInt16) {
        let t = headerLength
        return (UInt16(quote[t]) << 8 | UInt16(quote[t + 1]), UInt16(quote[t + 2]) << 8 | UInt16(quote[t + 3]))
    }
}

extension LoopbackICMP {
    /// icmp_socket_deliver / icmpv6_notify: an ICMP error is told to every
    /// raw socket of the quoted packet's protocol that could have sent it
    /// (raw_icmp_error, raw6_icmp_error), then to the protocol: UDP finds
    /// the socket bound where the quoted datagram came from (__udp4_lib_err).
    func deliver(_ n: ICMPErrorNotice, on loopback: Loopback) {
        for e in rawSockets where e.mayHaveSent(n) { e.rawICMPError(n) }
        let udp = UInt8(Self.IPPROTO_UDP), udplite = UInt8(Self.IPPROTO_UDPLITE)
        guard n.proto == udp || n.proto == udplite else { return }
        let (sport, dport) = n.ports
        if let u = loopback.find(n.source.with(port: sport), proto: Int32(n.proto)) { u.udpICMPError(n, port: dport) }
    }
}

extension SocketEndpoint {
    /// raw_v4_match / raw_v6_match on an error's quoted packet: the
    /// protocol, a connected socket's peer, a bound socket's address.
    func mayHaveSent(_ n: ICMPErrorNotice) -> Bool {
        guard (family == SocketConstants.AF_INET6) == n.v6, proto == Int32(n.proto) else { return false }
        return locked { s in
            if case .inet(let local)? = s.address, !local.isAny, !local.sameIP(n.source) { return false }
            if let peer = s.inetPeer, !peer.isAny, !peer.sameIP(n.destination) { return false }
            return true
        }
    }

    /// raw_err / rawv6_err: a connected socket or one with IP_RECVERR hears
    /// the error; with IP_RECVERR it is queued (the quote from the transport
    /// header on, or from the IP header with IP_HDRINCL), and it becomes the
    /// pending error if queued or hard.
    func rawICMPError(_ n: ICMPErrorNotice) {
        guard let (err, hard) = n.verdict else { return }
        let told = locked { s -> Bool in
            guard s.icmp.receiveErrors || s.phase == .connected else { return false }
            if s.icmp.receiveErrors {
                queueErrorLocked(&s, ICMPErrorReport(errno: err, type: n.type, code: n.code, info: n.info, offender: n.offender,
                                                     destination: n.destination.shown(as: n.v6 ? SocketConstants.AF_INET6 : SocketConstants.AF_INET),
                                                     payload: s.icmp.headerIncluded ? n.quote : Array(n.quote[n.headerLength...]), v6: n.v6))
            } else if !hard {
                return false
            }
            s.error = err
            return true
        }
        if told { queue.notify(); wakeAsync(.error) }
    }

    /// __udp4_lib_err / __udp6_lib_err for the socket bound where the quoted
    /// datagram came from: a socket connected elsewhere is not the one it
    /// names; without IP_RECVERR only a hard error reaches a connected socket.
    func udpICMPError(_ n: ICMPErrorNotice, port: UInt16) {
        guard let (err, hard) = n.verdict else { return }
        let dest = n.destination.with(port: port)
        let told = locked { s -> Bool in
            if let peer = s.inetPeer, !peer.sameEndpoint(dest) { return false }
            if s.icmp.receiveErrors {
                queueErrorLocked(&s, ICMPErrorReport(errno: err, type: n.type, code: n.code, info: n.info, offender: n.offender,
                                                     destination: dest, payload: Array(n.quote[(n.headerLength + 8)...]), v6: n.v6))
            } else if !hard || s.inetPeer == nil {
                return false
            }
            s.error = err
            return true
        }
        if told { queue.notify(); wakeAsync(.error) }
    }

    /// sock_queue_err_skb: dropped once the receive buffer is spent.
    private func queueErrorLocked(_ s: inout State, _ r: ICMPErrorReport) {
        let held = s.icmp.errorQueue.reduce(s.rx.bytes) { $0 + $1.payload.count + SocketMessage.overhead }
        if held + r.payload.count + SocketMessage.overhead <= s.receiveBuffer { s.icmp.errorQueue.append(r) }
    }
}
