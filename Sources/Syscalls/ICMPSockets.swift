import Glibc
import Sentry

/// Raw sockets (SOCK_RAW) and ping sockets (SOCK_DGRAM, IPPROTO_ICMP or
/// IPPROTO_ICMPV6) on the sandbox loopback: who may open them, and their
/// bind, connect and send (raw_sendmsg, ping_v4_sendmsg, rawv6_sendmsg,
/// ping_v6_sendmsg). Receiving is the datagram path every socket shares.
enum ICMPSockets {
    typealias C = SocketConstants
    static let CAP_NET_RAW = Credentials.CAP_NET_RAW
    static let IPPROTO_MAX: Int32 = 263

    /// Whether socket(domain, base, proto) asks for a raw or ping socket:
    /// nil if not; else whether it is raw. SOCK_RAW with protocol 0 matches
    /// no inetsw entry (EPROTONOSUPPORT, as inet_create finds).
    static func kind(domain: Int32, base: Int32, proto: Int32) throws(Errno) -> Bool? {
        guard domain == C.AF_INET || domain == C.AF_INET6 else { return nil }
        if base == C.SOCK_RAW {
            guard proto >= 0, proto < IPPROTO_MAX else { throw .EINVAL }
            guard proto != 0 else { throw .EPROTONOSUPPORT }
            return true
        }
        if base == C.SOCK_DGRAM {
            if domain == C.AF_INET && proto == LoopbackICMP.IPPROTO_ICMP { return false }
            if domain == C.AF_INET6 && proto == LoopbackICMP.IPPROTO_ICMPV6 { return false }
        }
        return nil
    }

    /// inet_create's CAP_NET_RAW check for raw sockets, and ping_init_sock's
    /// net.ipv4.ping_group_range check (the effective gid, then the
    /// supplementary groups; capabilities do not matter) for ping sockets.
    static func permit(_ t: Task, raw: Bool) throws(Errno) {
        let c = Creds.creds(t)
        if raw {
            guard c.capable(CAP_NET_RAW) else { throw .EPERM }
            return
        }
        let v = t.kernel.vfs.sysctls.values
        guard v.pingAllowed(c.egid) || c.groups.contains(where: { v.pingAllowed($0) }) else { throw .EACCES }
    }

    // MARK: Names

    /// raw_bind (any family field, 16 bytes), rawv6_bind, and ping_bind's
    /// ping_check_bind_addr (AF_INET, or AF_UNSPEC with INADDR_ANY).
    static func bind(_ ep: SocketEndpoint, _ bytes: [UInt8]) throws(Errno) {
        let family = bytes.count >= 2 ? Int32(bytes[0]) | Int32(bytes[1]) << 8 : -1
        if ep.family == C.AF_INET {
            guard bytes.count >= 16 else { throw .EINVAL }
            let a = try InetAddress.parse([UInt8(C.AF_INET), 0] + bytes[2...], socketFamily: C.AF_INET)
            if ep.isRaw { try ep.bindRaw(a); return }
            guard family == C.AF_INET || (family == C.AF_UNSPEC && a.v4 == 0) else { throw .EAFNOSUPPORT }
            try ep.bindPing(a)
            return
        }
        if ep.isRaw {
            guard bytes.count >= 24 else { throw .EINVAL }
            guard family == C.AF_INET6 else { throw .EINVAL }
            let a = try InetAddress.parse(bytes, socketFamily: C.AF_INET6)
            if a.isV4 { throw .EADDRNOTAVAIL }
            try ep.bindRaw(a)
            return
        }
        guard bytes.count >= 28 else { throw .EINVAL }
        guard family == C.AF_INET6 else { throw .EAFNOSUPPORT }
        let a = try InetAddress.parse(bytes, socketFamily: C.AF_INET6)
        if a.isV4 && !a.isAny { throw .EADDRNOTAVAIL }
        try ep.bindPing(a)
    }

    /// inet_dgram_connect: AF_UNSPEC dissolves; else the address as
    /// ip4_datagram_connect / ip6_datagram_connect check it.
    static func connect(_ ep: SocketEndpoint, _ bytes: [UInt8]) throws(Errno) {
        guard bytes.count >= 2 else { throw .EINVAL }
        if Int32(bytes[0]) | Int32(bytes[1]) << 8 == C.AF_UNSPEC { try ep.connectICMP(nil); return }
        let a = try InetAddress.parse(bytes, socketFamily: ep.family)
        if ep.family == C.AF_INET6 && a.isV4 && ep.isPing { throw .EINVAL }
        try ep.connectICMP(a)
    }

    // MARK: Sending

    /// A send on a raw or ping socket: the packet crosses the loopback at
    /// once (raw sockets see it, the loopback answers an echo request).
    static func send(_ t: Task, _ ep: SocketEndpoint, _ iov: GuestIOV, name: [UInt8]?, flags: Int32) throws(Errno) -> Int {
        if ep.isPing { return try sendPing(t, ep, iov, name: name, flags: flags) }
        return try sendRaw(t, ep, iov, name: name, flags: flags)
    }

    /// The destination named or connected to: EDESTADDRREQ if neither.
    private static func destination(_ ep: SocketEndpoint, _ dest: InetAddress?) throws(Errno) -> InetAddress {
        if let dest { return try SocketEndpoint.route(dest) }
        guard ep.phase == .connected, let p = ep.udpPeer else { throw .EDESTADDRREQ }
        return p
    }

    private static func packet(_ ep: SocketEndpoint, to dest: InetAddress, payload: [UInt8]) -> LoopbackPacket {
        let v6 = ep.family == C.AF_INET6
        var p = LoopbackPacket(source: ep.packetSource(for: dest), destination: dest.with(port: 0),
                               proto: UInt8(truncatingIfNeeded: ep.proto), v6: v6, payload: payload)
        (p.ttl, p.tos) = ep.packetTTLAndTOS
        // IP_PMTUDISC_WANT: DF, and still an identification (ip_sk_ignore_df
        // lets ip_select_ident choose one below IP_PMTUDISC_DO).
        p.dontFragment = !v6
        if !v6 { p.identification = ep.loopbackICMP.nextIdentification() }
        return p
    }

    /// ping_v4_sendmsg / ping_v6_sendmsg: an echo request whose identifier
    /// is the socket's, its checksum filled in.
    private static func sendPing(_ t: Task, _ ep: SocketEndpoint, _ iov: GuestIOV, name: [UInt8]?, flags: Int32) throws(Errno) -> Int {
        let v6 = ep.family == C.AF_INET6
        // inet_send_prepare binds an identifier before the protocol looks at anything.
        let ident = try ep.pingIdentifier()
        guard iov.total <= 0xFFFF else { throw .EMSGSIZE }
        guard iov.total >= 8 else { throw .EINVAL }
        if flags & C.MSG_OOB != 0 { throw .EOPNOTSUPP }
        var payload = try iov.copyIn(t, from: 0, count: iov.total)
        let echo = v6 ? LoopbackICMP.ICMPV6_ECHO_REQUEST : LoopbackICMP.ICMP_ECHO
        guard payload[0] == echo, payload[1] == 0 else { throw .EINVAL }
        var dest: InetAddress? = nil
        if let name {
            guard name.count >= (v6 ? 28 : 16) else { throw .EINVAL }
            let a = try InetAddress.parse(name, socketFamily: ep.family)
            if v6 && a.isV4 { throw .EINVAL }
            dest = a
        }
        let to = try destination(ep, dest)
        // ip_append_data: the IP packet must fit its 16-bit length.
        guard iov.total + (v6 ? 0 : 20) <= 0xFFFF else { throw .EMSGSIZE }
        payload[4] = UInt8(ident >> 8); payload[5] = UInt8(ident & 0xff)
        var p = packet(ep, to: to, payload: payload)
        ICMPChecksum.fill(&p)
        ep.loopbackICMP.transmit(p, on: ep.sandboxLoopback)
        return iov.total
    }

    /// raw_sendmsg / rawv6_sendmsg: the bytes as given after the IP header
    /// the sentry makes, or (IP_HDRINCL) a whole IPv4 packet whose length,
    /// checksum, and if zero identification and source, the kernel fills.
    /// ICMPv6's checksum is always the kernel's.
    private static func sendRaw(_ t: Task, _ ep: SocketEndpoint, _ iov: GuestIOV, name: [UInt8]?, flags: Int32) throws(Errno) -> Int {
        let v6 = ep.family == C.AF_INET6
        // raw_sendmsg's 0xFFFF; an IPv6 payload length has 16 bits too.
        guard iov.total <= 0xFFFF else { throw .EMSGSIZE }
        if flags & C.MSG_OOB != 0 { throw .EOPNOTSUPP }
        var dest: InetAddress? = nil
        // The IPv6 next header: the socket's protocol, or sin6_port's.
        var proto = UInt8(truncatingIfNeeded: ep.proto)
        if let name {
            guard name.count >= (v6 ? 24 : 16) else { throw .EINVAL }
            let family = Int32(name[0]) | Int32(name[1]) << 8
            // raw_sendmsg lets AF_UNSPEC through (old programs leave it zero).
            if family != ep.family && family != C.AF_UNSPEC { throw .EAFNOSUPPORT }
            let a = try InetAddress.parse([UInt8(truncatingIfNeeded: ep.family), 0] + name[2...], socketFamily: ep.family)
            // rawv6_sendmsg: sin6_port, if set, is the protocol: the socket's
            // own unless the socket is IPPROTO_RAW's, and at most 255.
            if v6 && a.port != 0 {
                if Int32(a.port) != ep.proto && ep.proto != LoopbackICMP.IPPROTO_RAW { throw .EINVAL }
                guard a.port <= 255 else { throw .EINVAL }
                proto = UInt8(a.port)
            }
            dest = a
        }
        let to = try destination(ep, dest)
        let payload = try iov.copyIn(t, from: 0, count: iov.total)
        if !v6 && ep.headerIncluded {
            guard payload.count >= 20 else { throw .EINVAL }
            // raw_send_hdrinc's sock_alloc_send_skb: a pending error (an ICMP error
            // about an earlier packet) fails this send, and is gone. The path
            // without IP_HDRINCL allocates without looking (ip_append_data).
            if let e = ep.takeError() { throw e }
            let ihl = Int(payload[0] & 0x0f) * 4
            guard ihl >= 20, ihl <= payload.count else { throw .EINVAL }
            return try sendWithHeader(ep, payload, ihl: ihl, to: to)
        }
        if v6 && ep.headerIncluded {
            guard payload.count >= 40 else { throw .EINVAL }   // rawv6_send_hdrinc: at least the header
            if let e = ep.takeError() { throw e }
            return sendWithHeader6(ep, payload)
        }
        if v6 && ep.proto == LoopbackICMP.IPPROTO_ICMPV6 {
            guard payload.count >= 4 else { throw .EINVAL }   // the checksum's offset must be inside
        }
        var p = packet(ep, to: to, payload: payload)
        p.proto = proto
        if v6 && ep.proto == LoopbackICMP.IPPROTO_ICMPV6 { ICMPChecksum.fill(&p) }
        ep.loopbackICMP.transmit(p, on: ep.sandboxLoopback)
        return iov.total
    }

    /// raw_send_hdrinc: the guest's header, completed; it crosses the
    /// loopback to the header's destination (dropped past the raw sockets
    /// if that is not a loopback address, as nothing here forwards).
    private static func sendWithHeader(_ ep: SocketEndpoint, _ bytes: [UInt8], ihl: Int, to dest: InetAddress) throws(Errno) -> Int {
        func be32(_ o: Int) -> UInt32 { bytes[o..<(o + 4)].reduce(UInt32(0)) { $0 << 8 | UInt32($1) } }
        var src = InetAddress(v4: be32(12), port: 0)
        if src.v4 == 0 { src = ep.packetSource(for: dest).shown(as: C.AF_INET) }
        let dst = InetAddress(v4: be32(16), port: 0)
        // Not for this host: nothing here forwards, and raw sockets see only what is delivered locally.
        guard dst.isLoopback else { ep.sandboxLoopback.count(bytes: bytes.count); return bytes.count }
        var p = LoopbackPacket(source: src, destination: dst, proto: bytes[9], v6: false, payload: Array(bytes[ihl...]))
        p.tos = bytes[1]
        p.ttl = bytes[8]
        p.dontFragment = bytes[6] & 0x40 != 0
        p.identification = UInt16(bytes[4]) << 8 | UInt16(bytes[5])
        ep.loopbackICMP.transmit(p, on: ep.sandboxLoopback)
        return bytes.count
    }

    /// rawv6_send_hdrinc: the guest's IPv6 header goes out as written (the
    /// kernel completes nothing in it), and ip6_rcv_core on `lo` judges it:
    /// a version other than 6 is dropped, a payload length past the packet
    /// drops it and a shorter one trims it; a destination not on the loopback
    /// is dropped past the raw sockets (nothing here forwards). A payload
    /// length of 0 with a hop-by-hop header (a jumbogram) keeps the packet.
    private static func sendWithHeader6(_ ep: SocketEndpoint, _ bytes: [UInt8]) -> Int {
        func be64(_ o: Int) -> UInt64 { bytes[o..<(o + 8)].reduce(UInt64(0)) { $0 << 8 | UInt64($1) } }
        let length = Int(bytes[4]) << 8 | Int(bytes[5]), next = bytes[6]
        let end = length == 0 && next == 0 ? bytes.count : 40 + length
        let dst = InetAddress(high: be64(24), low: be64(32), port: 0)
        guard bytes[0] >> 4 == 6, end <= bytes.count, dst.isLoopback else {
            ep.sandboxLoopback.count(bytes: bytes.count)
            return bytes.count
        }
        var p = LoopbackPacket(source: InetAddress(high: be64(8), low: be64(16), port: 0), destination: dst,
                               proto: next, v6: true, payload: Array(bytes[40..<end]))
        p.tos = bytes[0] << 4 | bytes[1] >> 4
        p.ttl = bytes[7]
        ep.loopbackICMP.transmit(p, on: ep.sandboxLoopback)
        return bytes.count
    }

    // MARK: Errors for UDP

    /// A UDP datagram found no socket on the loopback: the stack answers
    /// with an ICMP port unreachable (icmp_send; never rate-limited on
    /// `lo`), which raw sockets see and which __udp4_lib_err /
    /// __udp6_lib_err turn into the sender's ECONNREFUSED (LoopbackICMP.deliver).
    static func udpPortUnreachable(_ t: Task, _ ep: SocketEndpoint, _ iov: GuestIOV, from: InetAddress, to dest: InetAddress) {
        let data = (try? iov.copyIn(t, from: 0, count: min(iov.total, 1280))) ?? []
        let length = UInt16(truncatingIfNeeded: 8 + iov.total)
        func be16(_ v: UInt16) -> [UInt8] { [UInt8(v >> 8), UInt8(v & 0xff)] }
        let udp = be16(from.port) + be16(dest.port) + be16(length) + [0, 0] + data
        var sent = LoopbackPacket(source: from.with(port: 0), destination: dest.with(port: 0),
                                  proto: UInt8(truncatingIfNeeded: ep.proto), v6: !dest.isV4, payload: udp)   // UDP or UDP-Lite
        (sent.ttl, sent.tos) = ep.packetTTLAndTOS
        // The error crosses the loopback back to the sender (LoopbackICMP.deliver), as any other would.
        ep.loopbackICMP.portUnreachable(sent, on: ep.sandboxLoopback)
    }

    static let MSG_ERRQUEUE: Int32 = 0x2000
    static let SO_EE_ORIGIN_ICMP: UInt8 = 2, SO_EE_ORIGIN_ICMP6: UInt8 = 3
    static let IPPROTO_IP: Int32 = 0, IP_RECVERR: Int32 = 11, IPPROTO_IPV6: Int32 = 41, IPV6_RECVERR: Int32 = 25

    /// ip_recv_error / ipv6_recv_error: the oldest queued ICMP error: its
    /// quoted payload into the buffers (MSG_TRUNC if cut), the offending
    /// datagram's destination as the name, and a control message of struct
    /// sock_extended_err followed by the offender's address. EAGAIN if none.
    static func receiveError(_ t: Task, _ ep: SocketEndpoint, _ iov: GuestIOV, flags: Int32)
        throws(Errno) -> (count: Int, truncated: Bool, name: [UInt8], level: Int32, type: Int32, control: [UInt8]) {
        let e = try ep.takeQueuedError(peek: flags & C.MSG_PEEK != 0)
        let n = min(iov.total, e.payload.count)
        try iov.copyOut(t, Array(e.payload.prefix(n)), at: 0)
        let family = e.v6 ? C.AF_INET6 : C.AF_INET
        let name = e.destination.shown(as: family).encoded
        let ee = withUnsafeBytes(of: (UInt32(e.errno.rawValue), e.v6 ? SO_EE_ORIGIN_ICMP6 : SO_EE_ORIGIN_ICMP, e.type, e.code, UInt8(0),
                                      e.info, UInt32(0))) { Array($0) }
        let control = ee + e.offender.with(port: 0).shown(as: family).encoded
        return (n, n < e.payload.count, name, e.v6 ? IPPROTO_IPV6 : IPPROTO_IP, e.v6 ? IPV6_RECVERR : IP_RECVERR, control)
    }

    /// recvfrom or recvmsg with MSG_ERRQUEUE: the error's bytes, its name
    /// (recvfrom's address and length, or the msghdr's), and for recvmsg the
    /// IP_RECVERR control message as put_cmsg writes it (MSG_CTRUNC when the
    /// buffer is short) and msg_flags with MSG_ERRQUEUE.
    static func receiveErrorMessage(_ t: Task, _ ep: SocketEndpoint, _ iov: GuestIOV, flags: Int32,
                                    name: (GuestAddress, GuestAddress)?, msghdr: (GuestAddress, GuestMsghdr)?) throws(Errno) -> Int {
        let r = try receiveError(t, ep, iov, flags: flags)
        if let (addr, lenp) = name, addr.rawValue != 0 { try Sockets.writeSockaddr(t, addr, lenp, r.name) }
        guard let (at, m) = msghdr else { return r.count }
        if m.name.rawValue != 0 {
            let n = min(Int(max(0, m.nameLength)), r.name.count)
            if n > 0 { try t.mm.copyOut(m.name, Array(r.name[..<n])) }
            try t.mm.write(at + 8, Int32(r.name.count))
        } else {
            try t.mm.write(at + 8, Int32(0))
        }
        var msgFlags = (flags & C.MSG_CMSG_CLOEXEC) | MSG_ERRQUEUE | (r.truncated ? C.MSG_TRUNC : 0)
        let room = Int(min(m.controlLength, UInt64(Int32.max)))
        var used = 0
        if room < 16 {
            msgFlags |= C.MSG_CTRUNC
        } else {
            let full = 16 + r.control.count
            var bytes = withUnsafeBytes(of: (UInt64(full), r.level, r.type)) { Array($0) } + r.control
            if full > room { msgFlags |= C.MSG_CTRUNC; bytes = Array(bytes[..<room]) }
            try t.mm.copyOut(m.control, bytes)
            used = min((full + 7) & ~7, room)
        }
        try t.mm.write(at + 40, UInt64(used))
        try t.mm.write(at + 48, msgFlags)
        return r.count
    }
}
