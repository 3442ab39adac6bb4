import Glibc

/// What raw and ping sockets keep beyond a datagram socket's state (Linux's
/// raw_sock filter, inet->hdrincl, inet->recverr).
struct ICMPSocketOptions {
    /// IP_HDRINCL: an AF_INET raw socket's sends bring their own IPv4 header.
    var headerIncluded = false
    /// ICMP_FILTER (SOL_RAW): a set bit drops ICMP messages of that type (below 32).
    var icmpFilter: UInt32 = 0
    /// ICMP6_FILTER (SOL_ICMPV6): struct icmp6_filter, a set bit blocks the type.
    var icmp6Filter = [UInt8](repeating: 0, count: 32)
    /// IP_RECVERR / IPV6_RECVERR: ICMP errors reach an unconnected socket
    /// too, and queue (sk_error_queue) for MSG_ERRQUEUE.
    var receiveErrors = false
    var errorQueue: [ICMPErrorReport] = []
}

/// One ICMP error queued for MSG_ERRQUEUE (an skb with its sock_exterr_skb).
public struct ICMPErrorReport: Sendable {
    public var errno: Errno
    public var type: UInt8, code: UInt8
    /// ee_info (a parameter problem's pointer; 0 for the others here).
    public var info: UInt32 = 0
    /// Who sent the ICMP error (SO_EE_OFFENDER), and where the offending datagram went.
    public var offender: InetAddress, destination: InetAddress
    /// The offending datagram's payload as the error quoted it.
    public var payload: [UInt8]
    public var v6: Bool
}

/// Raw sockets (SOCK_RAW on AF_INET/AF_INET6) and ping sockets
/// (SOCK_DGRAM with IPPROTO_ICMP/IPPROTO_ICMPV6) on the sandbox loopback:
/// datagram endpoints whose queue holds packets the loopback's ICMP
/// (LoopbackICMP) hands them.
extension SocketEndpoint {
    public static let SOL_RAW: Int32 = 255, ICMP_FILTER: Int32 = 1, ICMP6_FILTER: Int32 = 1
    public static let IP_HDRINCL: Int32 = 3, IP_RECVERR: Int32 = 11, IPV6_RECVERR: Int32 = 25, IPV6_CHECKSUM: Int32 = 7, IPV6_HDRINCL: Int32 = 36

    /// A ping socket: echo requests out, the replies to its identifier in.
    public var isPing: Bool {
        !isRaw && kind == .datagram
            && ((family == SocketConstants.AF_INET && proto == LoopbackICMP.IPPROTO_ICMP)
                || (family == SocketConstants.AF_INET6 && proto == LoopbackICMP.IPPROTO_ICMPV6))
    }
    /// Raw or ping: served by RawSocket/ICMP paths, not UDP's.
    public var isICMPSocket: Bool { isInet && (isRaw || isPing) }

    /// A new raw or ping socket. A raw one is named by its protocol (inet_create's inet_num, which
    /// getsockname shows as the port), IP_HDRINCL for IPPROTO_RAW, and in
    /// the loopback's list of raw sockets. A ping socket on AF_INET6 is v6-only.
    public func startICMPSocket() {
        // inetsw's INET_PROTOSW_REUSE: raw and ping sockets start with SO_REUSEADDR (ping sockets share identifiers).
        locked { _ = $0.flagOptions.insert(SocketConstants.SO_REUSEADDR) }
        if isRaw {
            let any = family == SocketConstants.AF_INET6 ? InetAddress.anyV6 : InetAddress.anyV4
            locked { s in
                s.address = .inet(any.with(port: UInt16(truncatingIfNeeded: proto)))
                if proto == LoopbackICMP.IPPROTO_RAW { s.icmp.headerIncluded = true }
            }
            loopback.icmp.addRaw(self)
        } else if family == SocketConstants.AF_INET6 {
            locked { $0.v6only = true }
        }
    }

    public var headerIncluded: Bool { locked { $0.icmp.headerIncluded } }
    public var receivesErrors: Bool { locked { $0.icmp.receiveErrors } }

    /// raw_bind / rawv6_bind: the local address alone (the port stays the
    /// protocol), again if need be, but not once connected.
    public func bindRaw(_ a: InetAddress) throws(Errno) {
        guard a.isAny || a.isLoopback else { throw .EADDRNOTAVAIL }
        try locked { (s: inout State) throws(Errno) in
            if s.phase == .connected { throw .EINVAL }
            s.address = .inet(a.with(port: UInt16(truncatingIfNeeded: proto)).shown(as: family))
        }
    }

    /// ping_bind: an identifier (the port; 0 picks one) on a local address; EINVAL once bound.
    public func bindPing(_ a: InetAddress) throws(Errno) {
        guard a.isAny || a.isLoopback else { throw .EADDRNOTAVAIL }
        if address != nil { throw .EINVAL }
        let ident = try loopback.icmp.bindPing(self, ident: a.port, reuse: hasFlagOption(SocketConstants.SO_REUSEADDR))
        let lost = locked { s -> Bool in
            if s.address != nil { return true }
            s.address = .inet(a.with(port: ident).shown(as: family))
            return false
        }
        if lost { throw .EINVAL }
    }

    /// The identifier a ping socket sends with, binding one first (inet_autobind).
    public func pingIdentifier() throws(Errno) -> UInt16 {
        if let a = inetAddress { return a.port }
        do { try bindPing(family == SocketConstants.AF_INET6 ? .anyV6 : .anyV4) } catch .EINVAL { /* raced: bound meanwhile */ }
        return inetAddress?.port ?? 0
    }

    /// raw_v4_match / the raw6 lookup: the protocol, then the bound and
    /// connected addresses, then the ICMP filters.
    func acceptsRaw(_ p: LoopbackPacket) -> Bool {
        guard (family == SocketConstants.AF_INET6) == p.v6, proto == Int32(p.proto), proto != LoopbackICMP.IPPROTO_RAW || p.v6 else { return false }
        return locked { s in
            if case .inet(let local)? = s.address, !local.isAny, !local.sameIP(p.destination) { return false }
            if let peer = s.inetPeer, !peer.isAny, !peer.sameIP(p.source) { return false }
            guard let type = p.payload.first else { return true }
            if !p.v6 && proto == LoopbackICMP.IPPROTO_ICMP && type < 32 && s.icmp.icmpFilter & (1 << UInt32(type)) != 0 { return false }
            if p.v6 && proto == LoopbackICMP.IPPROTO_ICMPV6 && s.icmp.icmp6Filter[Int(type >> 3)] & (1 << (type & 7)) != 0 { return false }
            return true
        }
    }

    /// raw_rcv: AF_INET raw sockets read the IPv4 header too, AF_INET6 ones
    /// the payload alone; the sender's address has no port.
    func queueRaw(_ p: LoopbackPacket) {
        queueDatagram(p.v6 ? p.payload : p.ipv4Bytes, from: p.source.with(port: 0), hopLimit: p.v6 ? p.ttl : nil, trafficClass: p.tos)
    }

    /// ping_rcv: the ICMP header and data of an echo reply.
    func queuePing(_ p: LoopbackPacket) {
        queueDatagram(p.payload, from: p.source.with(port: 0), hopLimit: p.v6 ? p.ttl : nil, trafficClass: p.tos)
    }

    /// sock_queue_rcv_skb: dropped when the receive buffer is full.
    private func queueDatagram(_ bytes: [UInt8], from: InetAddress, hopLimit: UInt8?, trafficClass: UInt8) {
        var m = SocketMessage(length: bytes.count, rights: [], credentials: nil, from: .inet(from.shown(as: family)), sender: nil)
        if let hopLimit { m.ipv6 = IPv6PacketInfo(hopLimit: Int32(hopLimit), trafficClass: Int32(trafficClass)) }
        let delivered = bytes.withUnsafeBytes { b in
            locked { s -> Bool in
                guard s.phase != .closed else { return false }
                guard !s.shutRead, s.rx.bytes + m.length <= s.receiveBuffer else { s.drops &+= 1; return false }
                var m = m
                m.dropCount = Self.dropCountLocked(s)
                s.rx.append(m, bytes: [b])
                return true
            }
        }
        if delivered { queue.notify(.readable); wakeAsyncReader(.input) }
    }

    /// sock_dequeue_err_skb: the oldest queued error (EAGAIN if none), or
    /// a look at it; the pending error becomes the next one's, or none.
    public func takeQueuedError(peek: Bool) throws(Errno) -> ICMPErrorReport {
        try locked { (s: inout State) throws(Errno) -> ICMPErrorReport in
            guard let first = s.icmp.errorQueue.first else { throw .EAGAIN }
            if peek { return first }
            s.icmp.errorQueue.removeFirst()
            s.error = s.icmp.errorQueue.first?.errno
            return first
        }
    }

    public var hasQueuedErrors: Bool { locked { !$0.icmp.errorQueue.isEmpty } }

    /// Options of raw and ping sockets, and IP_RECVERR on any inet socket
    /// (raw_getsockopt, do_ip_getsockopt); nil for the ones left to getOption.
    public func icmpOption(level: Int32, name: Int32) throws(Errno) -> [UInt8]? {
        func int(_ v: Bool) -> [UInt8] { withUnsafeBytes(of: Int32(v ? 1 : 0)) { Array($0) } }
        guard isInet else { return nil }
        if level == Self.IPPROTO_IP && name == Self.IP_HDRINCL && family == SocketConstants.AF_INET {
            guard isRaw else { throw .ENOPROTOOPT }
            return int(headerIncluded)
        }
        // do_rawv6_getsockopt; on other IPv6 sockets, an option ipv6_getsockopt does not know.
        if level == Self.IPPROTO_IPV6 && name == Self.IPV6_HDRINCL && family == SocketConstants.AF_INET6 {
            guard isRaw else { throw .ENOPROTOOPT }
            return int(headerIncluded)
        }
        if (level == Self.IPPROTO_IP && name == Self.IP_RECVERR) || (level == Self.IPPROTO_IPV6 && name == Self.IPV6_RECVERR && family == SocketConstants.AF_INET6) {
            return int(receivesErrors)
        }
        if level == Self.SOL_RAW && isRaw && family == SocketConstants.AF_INET {
            guard name == Self.ICMP_FILTER else { throw .ENOPROTOOPT }
            guard proto == LoopbackICMP.IPPROTO_ICMP else { throw .EOPNOTSUPP }
            return withUnsafeBytes(of: locked { $0.icmp.icmpFilter }) { Array($0) }
        }
        if level == LoopbackICMP.IPPROTO_ICMPV6 && isRaw && family == SocketConstants.AF_INET6 {
            guard proto == LoopbackICMP.IPPROTO_ICMPV6 else { throw .EOPNOTSUPP }
            guard name == Self.ICMP6_FILTER else { throw .ENOPROTOOPT }
            return locked { $0.icmp.icmp6Filter }
        }
        return nil
    }

    /// The setters of the same options; false for the ones left to setOption.
    public func setICMPOption(level: Int32, name: Int32, value: [UInt8]) throws(Errno) -> Bool {
        guard isInet else { return false }
        func flag() throws(Errno) -> Bool {
            // do_ip_setsockopt reads an int, or one byte from a shorter value.
            guard let first = value.first else { throw .EINVAL }
            return (value.count >= 4 ? value.withUnsafeBytes { $0.loadUnaligned(as: Int32.self) } : Int32(first)) != 0
        }
        if level == Self.IPPROTO_IP && name == Self.IP_HDRINCL && family == SocketConstants.AF_INET {
            guard isRaw else { throw .ENOPROTOOPT }
            let v = try flag()
            locked { $0.icmp.headerIncluded = v }
            return true
        }
        // do_rawv6_setsockopt reads a whole int.
        if level == Self.IPPROTO_IPV6 && name == Self.IPV6_HDRINCL && family == SocketConstants.AF_INET6 {
            guard isRaw else { throw .ENOPROTOOPT }
            guard value.count >= 4 else { throw .EINVAL }
            let v = value.withUnsafeBytes { $0.loadUnaligned(as: Int32.self) } != 0
            locked { $0.icmp.headerIncluded = v }
            return true
        }
        if (level == Self.IPPROTO_IP && name == Self.IP_RECVERR) || (level == Self.IPPROTO_IPV6 && name == Self.IPV6_RECVERR && family == SocketConstants.AF_INET6) {
            let v = try flag()
            // Turning it off empties the error queue (ip_sock_set_recverr's skb_queue_purge).
            locked { s in
                s.icmp.receiveErrors = v
                if !v { s.icmp.errorQueue = [] }
            }
            return true
        }
        if level == Self.SOL_RAW && isRaw && family == SocketConstants.AF_INET {
            guard name == Self.ICMP_FILTER else { throw .ENOPROTOOPT }
            guard proto == LoopbackICMP.IPPROTO_ICMP else { throw .EOPNOTSUPP }
            // raw_seticmpfilter copies at most the filter's 4 bytes, over what it had.
            locked { s in
                var bytes = withUnsafeBytes(of: s.icmp.icmpFilter) { Array($0) }
                for (i, b) in value.prefix(4).enumerated() { bytes[i] = b }
                s.icmp.icmpFilter = bytes.withUnsafeBytes { $0.loadUnaligned(as: UInt32.self) }
            }
            return true
        }
        if level == Self.SOL_RAW && isRaw && family == SocketConstants.AF_INET6 && name == Self.IPV6_CHECKSUM
            && proto == LoopbackICMP.IPPROTO_ICMPV6 {
            throw .EINVAL   // ICMPv6's checksum is always the kernel's (do_rawv6_setsockopt)
        }
        if level == LoopbackICMP.IPPROTO_ICMPV6 && isRaw && family == SocketConstants.AF_INET6 {
            guard proto == LoopbackICMP.IPPROTO_ICMPV6 else { throw .EOPNOTSUPP }
            guard name == Self.ICMP6_FILTER else { throw .ENOPROTOOPT }
            locked { s in for (i, b) in value.prefix(32).enumerated() { s.icmp.icmp6Filter[i] = b } }
            return true
        }
        return false
    }
}

extension SocketEndpoint {
    /// ip4_datagram_connect / ip6_datagram_connect on a raw or ping socket:
    /// the default destination, and the local address the route gives if
    /// none was bound (nil: AF_UNSPEC dissolves the association).
    public func connectICMP(_ a: InetAddress?) throws(Errno) {
        guard let a else {
            locked { $0.inetPeer = nil; $0.phase = .idle }
            queue.notify()
            return
        }
        let dest = try Self.route(a)
        if isPing { _ = try pingIdentifier() }
        let source = Self.sourceAddress(for: dest)
        locked { s in
            s.inetPeer = dest
            s.phase = .connected
            if case .inet(let local)? = s.address, local.isAny { s.address = .inet(source.with(port: local.port).shown(as: family)) }
        }
        queue.notify()
    }

    /// The address a packet to `dest` leaves from when the socket names
    /// none: the loopback route's preferred source (127.0.0.1 for all of
    /// 127.0.0.0/8, as `ip route show table local` says), or ::1.
    public static func sourceAddress(for dest: InetAddress) -> InetAddress {
        (dest.isV4 ? InetAddress.loopbackV4 : InetAddress.loopbackV6).shown(as: dest.family)
    }

    /// The bound local address if specific, else the route's source for `dest`.
    public func packetSource(for dest: InetAddress) -> InetAddress {
        if let a = inetAddress, !a.isAny { return a.with(port: 0) }
        return Self.sourceAddress(for: dest)
    }

    /// IP_TTL (or IPV6_UNICAST_HOPS) and IP_TOS (IPV6_TCLASS) as the socket's packets carry them.
    public var packetTTLAndTOS: (UInt8, UInt8) {
        locked { s in
            if family == SocketConstants.AF_INET6 {
                let h = s.ipv6Options[Self.IPV6_UNICAST_HOPS] ?? -1, c = s.ipv6Options[Self.IPV6_TCLASS] ?? 0
                return (UInt8(truncatingIfNeeded: h < 0 ? Self.loopbackHopLimit : h), UInt8(truncatingIfNeeded: c))
            }
            let t = s.ipv4Options[Self.IP_TTL] ?? -1, tos = s.ipv4Options[Self.IP_TOS] ?? 0
            return (UInt8(truncatingIfNeeded: t < 0 ? Self.defaultTTL : t), UInt8(truncatingIfNeeded: tos))
        }
    }

    /// The loopback's ICMP, for the send paths of the syscall layer.
    public var loopbackICMP: LoopbackICMP { loopback.icmp }
    public var sandboxLoopback: Loopback { loopback }
}
