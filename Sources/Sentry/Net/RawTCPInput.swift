/// TCP segments a raw socket puts on the loopback reach TCP's input, as on
/// Linux (tcp_v4_rcv / tcp_v6_rcv), where every packet on `lo` is received
/// like any other: a short or inconsistent header or a wrong checksum drops
/// it, and one that finds no socket is answered with a reset
/// (tcp_v4_send_reset / tcp_v6_send_reset), which raw TCP sockets see. A
/// segment that finds a socket (the connection of its four-tuple, or a
/// listener) is dropped: the sandbox's TCP carries streams between its own
/// sockets and takes no segments (README, Known gaps).
extension LoopbackICMP {
    static let TCP_FIN: UInt8 = 0x01, TCP_SYN: UInt8 = 0x02, TCP_RST: UInt8 = 0x04, TCP_ACK: UInt8 = 0x10

    func receiveTCP(_ p: LoopbackPacket, on loopback: Loopback) {
        let seg = p.payload
        guard seg.count >= 20 else { return }
        let headerLength = Int(seg[12] >> 4) * 4
        guard headerLength >= 20, headerLength <= seg.count, ICMPChecksum.transport(p) == 0 else { return }
        func be16(_ o: Int) -> UInt16 { UInt16(seg[o]) << 8 | UInt16(seg[o + 1]) }
        func be32(_ o: Int) -> UInt32 { seg[o..<(o + 4)].reduce(UInt32(0)) { $0 << 8 | UInt32($1) } }
        let from = p.source.with(port: be16(0)), to = p.destination.with(port: be16(2))
        let flags = seg[13]
        guard !loopback.tcpTakes(to, from: from), flags & Self.TCP_RST == 0 else { return }
        // The reset: ports swapped, a bare 20-byte header, window 0. It
        // acknowledges what the segment carried unless the segment itself
        // acknowledged something, whose number it then takes as its own.
        var reset = [UInt8](repeating: 0, count: 20)
        reset[0] = seg[2]; reset[1] = seg[3]; reset[2] = seg[0]; reset[3] = seg[1]
        reset[12] = 5 << 4
        if flags & Self.TCP_ACK != 0 {
            reset[4..<8] = seg[8..<12]
            reset[13] = Self.TCP_RST
        } else {
            let carried = UInt32(flags & Self.TCP_SYN != 0 ? 1 : 0) + UInt32(flags & Self.TCP_FIN != 0 ? 1 : 0)
                + UInt32(seg.count - headerLength)
            let ack = be32(4) &+ carried
            reset[8] = UInt8(ack >> 24); reset[9] = UInt8(truncatingIfNeeded: ack >> 16)
            reset[10] = UInt8(truncatingIfNeeded: ack >> 8); reset[11] = UInt8(truncatingIfNeeded: ack)
            reset[13] = Self.TCP_RST | Self.TCP_ACK
        }
        var reply = LoopbackPacket(source: p.destination, destination: p.source, proto: p.proto, v6: p.v6, payload: reset)
        let sum = ICMPChecksum.transport(reply)
        reply.payload[16] = UInt8(sum >> 8); reply.payload[17] = UInt8(sum & 0xff)
        if !p.v6 {
            // ip_send_unicast_reply from the per-CPU TCP control socket:
            // the segment's TOS without ECN, IP_PMTUDISC_DO (DF, so an
            // identification of 0); IPv6's carries traffic class 0.
            reply.tos = p.tos & ~3
            reply.dontFragment = true
        }
        transmit(reply, on: loopback)
    }
}

extension Loopback {
    /// Whether a TCP segment from `source` to `dest` finds a socket, as
    /// __inet_lookup_skb does: the connection of its four-tuple, or a
    /// listener at its destination.
    func tcpTakes(_ dest: InetAddress, from source: InetAddress) -> Bool {
        bindings(port: dest.port, proto: Self.tcp).contains { b in
            guard b.accepts(dest) else { return false }
            switch b.endpoint.phase {
            case .listening: return true
            case .connected:
                if case .inet(let peer)? = b.endpoint.peerAddress { return peer.sameEndpoint(source) }
                return false
            default: return false
            }
        }
    }
}
