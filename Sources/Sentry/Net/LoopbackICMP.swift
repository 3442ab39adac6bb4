import Glibc
import Synchronization

/// One IP packet crossing the sandbox's `lo`: what raw sockets see, and what
/// the loopback's ICMP answers. IPv4 addresses are kept mapped, as
/// `InetAddress` keeps them; `v6` says which header the packet has.
public struct LoopbackPacket: Sendable {
    public var source: InetAddress, destination: InetAddress
    public var proto: UInt8
    public var v6: Bool
    public var ttl: UInt8 = 64   // net.ipv4.ip_default_ttl, the loopback's hop limit
    public var tos: UInt8 = 0
    /// IPv4: the DF bit and the identification field.
    public var dontFragment = false
    public var identification: UInt16 = 0
    /// The transport header and data (ICMP message, UDP datagram...).
    public var payload: [UInt8]

    public init(source: InetAddress, destination: InetAddress, proto: UInt8, v6: Bool, payload: [UInt8]) {
        self.source = source; self.destination = destination; self.proto = proto; self.v6 = v6; self.payload = payload
    }

    /// The IPv4 header and payload, as an AF_INET raw socket receives them.
    public var ipv4Bytes: [UInt8] {
        let total = 20 + payload.count
        var h: [UInt8] = [0x45, tos, UInt8(truncatingIfNeeded: total >> 8), UInt8(truncatingIfNeeded: total),
                          UInt8(truncatingIfNeeded: identification >> 8), UInt8(truncatingIfNeeded: identification),
                          dontFragment ? 0x40 : 0, 0, ttl, proto, 0, 0]
        for a in [source.v4, destination.v4] {
            h += [UInt8(truncatingIfNeeded: a >> 24), UInt8(truncatingIfNeeded: a >> 16), UInt8(truncatingIfNeeded: a >> 8), UInt8(truncatingIfNeeded: a)]
        }
        let sum = ICMPChecksum.of(h)
        h[10] = UInt8(sum >> 8); h[11] = UInt8(sum & 0xff)
        return h + payload
    }
}

/// The Internet checksum (RFC 1071), and ICMPv6's over its pseudo-header.
public enum ICMPChecksum {
    static func add(_ bytes: [UInt8], to start: UInt32 = 0) -> UInt32 {
        var sum = start
        var i = 0
        while i + 1 < bytes.count { sum &+= UInt32(bytes[i]) << 8 | UInt32(bytes[i + 1]); i += 2 }
        if i < bytes.count { sum &+= UInt32(bytes[i]) << 8 }
        return sum
    }
    static func fold(_ s: UInt32) -> UInt16 {
        var sum = s
        while sum >> 16 != 0 { sum = (sum & 0xffff) &+ (sum >> 16) }
        return ~UInt16(truncatingIfNeeded: sum)
    }
    public static func of(_ bytes: [UInt8]) -> UInt16 { fold(add(bytes)) }

    static func addressBytes(_ a: InetAddress) -> [UInt8] {
        (0..<8).map { UInt8(truncatingIfNeeded: a.high >> (56 - 8 * UInt64($0))) }
            + (0..<8).map { UInt8(truncatingIfNeeded: a.low >> (56 - 8 * UInt64($0))) }
    }
    /// Over the IPv6 pseudo-header (source, destination, length, next header) and `payload`.
    public static func v6(_ payload: [UInt8], from s: InetAddress, to d: InetAddress, proto: UInt8) -> UInt16 {
        let n = UInt32(payload.count)
        let pseudo = addressBytes(s) + addressBytes(d)
            + [UInt8(truncatingIfNeeded: n >> 24), UInt8(truncatingIfNeeded: n >> 16), UInt8(truncatingIfNeeded: n >> 8), UInt8(truncatingIfNeeded: n), 0, 0, 0, proto]
        return fold(add(payload, to: add(pseudo)))
    }
    /// Whether a received ICMP message's checksum holds (icmp_rcv, icmpv6_rcv drop it otherwise).
    static func valid(_ p: LoopbackPacket) -> Bool {
        p.v6 ? v6(p.payload, from: p.source, to: p.destination, proto: p.proto) == 0 : of(p.payload) == 0
    }
    /// Fills bytes 2-3 of an ICMP message with its checksum.
    public static func fill(_ p: inout LoopbackPacket) {
        guard p.payload.count >= 4 else { return }
        p.payload[2] = 0; p.payload[3] = 0
        let c = p.v6 ? v6(p.payload, from: p.source, to: p.destination, proto: p.proto) : of(p.payload)
        p.payload[2] = UInt8(c >> 8); p.payload[3] = UInt8(c & 0xff)
    }
}

/// ICMP on the sandbox loopback: the raw sockets every packet is copied to
/// (raw_v4_input, ipv6_raw_deliver), the ping sockets echo replies go to
/// (ping_rcv), and the answers Linux's stack gives on `lo` (icmp_echo,
/// icmpv6_echo_reply; a UDP datagram to a closed port draws a port
/// unreachable, icmp_send). Everything happens in the sender's call, as on
/// Linux's loopback, whose packets are processed on the way out.
public final class LoopbackICMP: Sendable {
    public static let IPPROTO_ICMP: Int32 = 1, IPPROTO_ICMPV6: Int32 = 58, IPPROTO_RAW: Int32 = 255, IPPROTO_UDP: Int32 = 17, IPPROTO_UDPLITE: Int32 = 136
    public static let ICMP_ECHOREPLY: UInt8 = 0, ICMP_DEST_UNREACH: UInt8 = 3, ICMP_ECHO: UInt8 = 8, ICMP_PORT_UNREACH: UInt8 = 3
    public static let ICMPV6_DEST_UNREACH: UInt8 = 1, ICMPV6_PORT_UNREACH: UInt8 = 4
    public static let ICMPV6_ECHO_REQUEST: UInt8 = 128, ICMPV6_ECHO_REPLY: UInt8 = 129

    /// Raw and ping sockets hold no lock here: the table keeps them weakly
    /// and forgets the closed ones as it meets them.
    private struct Entry { weak var endpoint: SocketEndpoint? }
    private struct State {
        var raw: [Entry] = []
        /// Ping sockets by identifier (their "port").
        var ping: [UInt16: [Entry]] = [:]
        /// ping_port_rover: the last identifier handed out.
        var rover: UInt16 = 0
        /// ip_select_ident's counter for the packets the loopback makes.
        var nextID: UInt16 = 1
    }
    private let state = Mutex(State())

    public init() {}

    // MARK: Sockets

    func addRaw(_ e: SocketEndpoint) {
        state.withLock { s in
            s.raw.removeAll { $0.endpoint == nil || $0.endpoint!.phase == .closed }
            s.raw.append(Entry(endpoint: e))
        }
    }

    var rawSockets: [SocketEndpoint] {
        state.withLock { s in s.raw.compactMap { $0.endpoint }.filter { $0.phase != .closed } }
    }

    /// ping_get_port: `ident` if free (both sockets with SO_REUSEADDR may
    /// share), or the next free one after the rover (never 0). EADDRINUSE.
    func bindPing(_ e: SocketEndpoint, ident: UInt16, reuse: Bool) throws(Errno) -> UInt16 {
        try state.withLock { (s: inout State) throws(Errno) -> UInt16 in
            func holders(_ id: UInt16) -> [SocketEndpoint] {
                s.ping[id, default: []].compactMap { $0.endpoint }.filter { $0.phase != .closed && $0 !== e }
            }
            var chosen = ident
            if chosen == 0 {
                var candidate = s.rover &+ 1
                for _ in 0..<65536 {
                    if candidate == 0 { candidate = 1 }
                    if holders(candidate).isEmpty { chosen = candidate; break }
                    candidate &+= 1
                }
                guard chosen != 0 else { throw .EADDRINUSE }
                s.rover = chosen
            } else {
                for h in holders(chosen) where !(reuse && h.hasFlagOption(SocketConstants.SO_REUSEADDR)) { throw .EADDRINUSE }
            }
            var list = s.ping[chosen, default: []]
            list.removeAll { $0.endpoint == nil || $0.endpoint!.phase == .closed }
            list.append(Entry(endpoint: e))
            s.ping[chosen] = list
            return chosen
        }
    }

    /// ping_lookup: the first live ping socket of the family with this
    /// identifier whose bound address (if any) is the reply's destination.
    func pingSocket(ident: UInt16, v6: Bool, destination: InetAddress) -> SocketEndpoint? {
        let list = state.withLock { s in s.ping[ident, default: []].compactMap { $0.endpoint } }
        return list.first { e in
            guard e.phase != .closed, (e.family == SocketConstants.AF_INET6) == v6 else { return false }
            guard let a = e.inetAddress, !a.isAny else { return true }
            return a.sameIP(destination)
        }
    }

    public func nextIdentification() -> UInt16 {
        state.withLock { s in defer { s.nextID &+= 1 }; return s.nextID }
    }

    /// Every socket this table knows, for /proc/net/{raw,icmp}.
    var sockets: [SocketEndpoint] {
        state.withLock { s in
            (s.raw.compactMap { $0.endpoint } + s.ping.values.flatMap { $0.compactMap { $0.endpoint } }).filter { $0.phase != .closed }
        }
    }

    // MARK: Packets

    /// A packet sent on `lo`: copied to each raw socket that matches it, then
    /// handled by the protocol it carries (ICMP here; other protocols reach
    /// raw sockets only).
    public func transmit(_ packet: LoopbackPacket, on loopback: Loopback) {
        var p = packet
        if !p.v6 && p.identification == 0 && !p.dontFragment { p.identification = nextIdentification() }
        loopback.count(bytes: p.payload.count + (p.v6 ? 40 : 20))
        var taken = false
        for e in rawSockets where e.acceptsRaw(p) { e.queueRaw(p); taken = true }
        if p.proto == UInt8(Self.IPPROTO_UDP) { receiveUDP(p, on: loopback); return }
        if p.proto == UInt8(Loopback.tcp) { receiveTCP(p, on: loopback); return }
        let icmp = p.v6 ? UInt8(Self.IPPROTO_ICMPV6) : UInt8(Self.IPPROTO_ICMP)
        if p.proto != icmp {
            // ip_protocol_deliver_rcu / ip6_protocol_deliver_rcu: a protocol no one takes, not even
            // a raw socket, is unreachable (IPv4) or a parameter problem at the next header (IPv6).
            if !taken && !p.v6 && !Self.spokenV4.contains(p.proto) { protocolUnreachable(p, on: loopback) }
            if !taken && p.v6 && !Self.spokenV6.contains(p.proto) { unknownNextHeader(p, on: loopback) }
            return
        }
        guard p.payload.count >= 8, ICMPChecksum.valid(p) else { return }
        let type = p.payload[0]
        if type == (p.v6 ? Self.ICMPV6_ECHO_REQUEST : Self.ICMP_ECHO) {
            // icmp_echo: the same identifier, sequence and data, from the address it was sent to.
            var reply = LoopbackPacket(source: p.destination, destination: p.source, proto: p.proto, v6: p.v6, payload: p.payload)
            reply.payload[0] = p.v6 ? Self.ICMPV6_ECHO_REPLY : Self.ICMP_ECHOREPLY
            reply.tos = p.tos
            ICMPChecksum.fill(&reply)
            transmit(reply, on: loopback)
        } else if type == (p.v6 ? Self.ICMPV6_ECHO_REPLY : Self.ICMP_ECHOREPLY) {
            let ident = UInt16(p.payload[4]) << 8 | UInt16(p.payload[5])
            pingSocket(ident: ident, v6: p.v6, destination: p.destination)?.queuePing(p)
        } else if let notice = ICMPErrorNotice(p) {
            deliver(notice, on: loopback)
        }
    }

    /// icmp_send(ICMP_DEST_UNREACH, ICMP_PORT_UNREACH) for a UDP datagram
    /// that found no socket: the error carries the offending IP header and
    /// the start of its payload. Raw sockets see it, and it reaches the
    /// sockets that may have sent the datagram (deliver).
    public func portUnreachable(_ offending: LoopbackPacket, on loopback: Loopback) {
        unreachable(offending, code: offending.v6 ? Self.ICMPV6_PORT_UNREACH : Self.ICMP_PORT_UNREACH, on: loopback)
    }

    /// The IPv4 protocols the stack itself takes (inet_protos on Debian's
    /// 6.1: ICMP, IGMP, TCP, UDP, UDP-Lite); others need a raw socket.
    static let spokenV4: Set<UInt8> = [1, 2, 6, 17, 136]
    static let ICMP_PROT_UNREACH: UInt8 = 2

    /// icmp_send(ICMP_DEST_UNREACH, ICMP_PROT_UNREACH): an IPv4 packet of a
    /// protocol nothing here receives.
    func protocolUnreachable(_ offending: LoopbackPacket, on loopback: Loopback) {
        unreachable(offending, code: Self.ICMP_PROT_UNREACH, on: loopback)
    }

    /// What IPv6 takes itself (inet6_protos on Debian's 6.1 without tunnel
    /// or IPsec modules loaded): TCP, UDP, ICMPv6, UDP-Lite and the routing,
    /// fragment, no-next-header and destination options headers; and a
    /// hop-by-hop header, which ip6_rcv_core reads before any of them. The
    /// sentry reads no extension header's contents.
    static let spokenV6: Set<UInt8> = [0, 6, 17, 43, 44, 58, 59, 60, 136]
    static let ICMPV6_UNK_NEXTHDR: UInt8 = 1
    /// The offset of the IPv6 header's next header field.
    static let nextHeaderOffset: UInt32 = 6

    /// icmpv6_send(ICMPV6_PARAMPROB, ICMPV6_UNK_NEXTHDR, nhoff): an IPv6
    /// packet whose next header nothing here receives.
    func unknownNextHeader(_ offending: LoopbackPacket, on loopback: Loopback) {
        sendError(about: offending, type: ICMPErrorNotice.ICMPV6_PARAMPROB, code: Self.ICMPV6_UNK_NEXTHDR, word: Self.nextHeaderOffset, on: loopback)
    }

    /// A destination unreachable about `offending`, sent back to its source.
    private func unreachable(_ offending: LoopbackPacket, code: UInt8, on loopback: Loopback) {
        sendError(about: offending, type: offending.v6 ? Self.ICMPV6_DEST_UNREACH : Self.ICMP_DEST_UNREACH, code: code, word: 0, on: loopback)
    }

    /// An ICMP or ICMPv6 error about `offending` (type, code, and the word
    /// after the checksum: a parameter problem's pointer), sent back to its
    /// source. icmp_send marks IPv4's as internetwork control (tos 0xc0);
    /// icmpv6_send uses its own socket's traffic class, 0.
    private func sendError(about offending: LoopbackPacket, type: UInt8, code: UInt8, word: UInt32, on loopback: Loopback) {
        var body: [UInt8]
        if offending.v6 {
            // The IPv6 header and as much of the datagram as keeps the error within the minimum MTU (1280).
            let hdr = ipv6Header(offending)
            body = Array((hdr + offending.payload).prefix(1280 - 40 - 8))
        } else {
            // As much of the offending packet as keeps the error within 576 bytes (icmp_send).
            body = Array(offending.ipv4Bytes.prefix(576 - 20 - 8))
        }
        let w = [UInt8(word >> 24), UInt8(truncatingIfNeeded: word >> 16), UInt8(truncatingIfNeeded: word >> 8), UInt8(truncatingIfNeeded: word)]
        var p = LoopbackPacket(source: offending.destination, destination: offending.source,
                               proto: UInt8(offending.v6 ? Self.IPPROTO_ICMPV6 : Self.IPPROTO_ICMP), v6: offending.v6,
                               payload: [type, code, 0, 0] + w + body)
        if !offending.v6 { p.tos = 0xc0 }   // IPTOS_PREC_INTERNETCONTROL
        ICMPChecksum.fill(&p)
        transmit(p, on: loopback)
    }

    private func ipv6Header(_ p: LoopbackPacket) -> [UInt8] {
        let n = p.payload.count
        return [0x60, 0, 0, 0, UInt8(truncatingIfNeeded: n >> 8), UInt8(truncatingIfNeeded: n), p.proto, p.ttl]
            + ICMPChecksum.addressBytes(p.source) + ICMPChecksum.addressBytes(p.destination)
    }
}
