import Glibc

/// UDP datagrams a raw socket puts on the loopback reach UDP's input, as
/// on Linux, where every packet on `lo` is received like any other: after
/// __udp4_lib_rcv / __udp6_lib_rcv's checks they go to the socket bound
/// to their destination, or draw a port unreachable.
extension LoopbackICMP {
    /// udp_rcv for a packet that crossed the loopback: a short or
    /// inconsistent length drops it; a zero checksum means none on IPv4,
    /// and on IPv6 drops it (no socket here has no_check6_rx, and
    /// __udp6_lib_rcv drops it before a port unreachable too). A wrong
    /// checksum drops a datagram of up to 76 bytes before the lookup
    /// (udp4_csum_init's __skb_checksum_validate_complete, CHECKSUM_BREAK);
    /// a longer one (a raw socket's packet carries CHECKSUM_NONE) is
    /// looked up and queued, its reader woken, and dropped at the read.
    func receiveUDP(_ packet: LoopbackPacket, on loopback: Loopback) {
        var p = packet
        guard p.payload.count >= 8 else { return }
        var length = Int(p.payload[4]) << 8 | Int(p.payload[5])
        if length == 0 && p.v6 { length = p.payload.count }   // a jumbogram's: the packet's length
        guard length >= 8, length <= p.payload.count else { return }
        p.payload.removeLast(p.payload.count - length)   // pskb_trim_rcsum: what follows is not the datagram's
        let check = UInt16(p.payload[6]) << 8 | UInt16(p.payload[7])
        if check == 0 && p.v6 { return }
        let bad = check != 0 && ICMPChecksum.transport(p) != 0
        if bad && length <= Self.checksumBreak { return }
        let from = p.source.with(port: UInt16(p.payload[0]) << 8 | UInt16(p.payload[1]))
        let to = p.destination.with(port: UInt16(p.payload[2]) << 8 | UInt16(p.payload[3]))
        // The lookup: a socket bound there, and if connected, connected to the sender.
        if let r = loopback.find(to, proto: Self.IPPROTO_UDP), r.udpPeer.map({ $0.sameEndpoint(from) }) ?? true {
            var m = SocketMessage(length: length - 8, rights: [], credentials: nil, from: .inet(from), sender: nil)
            if p.v6 { m.ipv6 = IPv6PacketInfo(hopLimit: Int32(p.ttl), trafficClass: Int32(p.tos)) }
            m.badChecksum = bad
            p.payload.withUnsafeBytes { b in r.arriveUDP(m, bytes: [UnsafeRawBufferPointer(rebasing: b[8...])]) }
            return
        }
        // No socket: __udp4_lib_rcv checks the checksum before it answers.
        if !bad { portUnreachable(p, on: loopback) }
    }

    /// CHECKSUM_BREAK: a packet this short is verified on arrival.
    static let checksumBreak = 76

}

extension ICMPChecksum {
    /// A UDP or TCP checksum: over the IPv4 pseudo-header (addresses,
    /// protocol, length) or IPv6's, then the payload. Zero for a payload
    /// whose checksum field holds.
    static func transport(_ p: LoopbackPacket) -> UInt16 {
        if p.v6 { return v6(p.payload, from: p.source, to: p.destination, proto: p.proto) }
        func bytes(_ a: UInt32) -> [UInt8] { [UInt8(a >> 24), UInt8(truncatingIfNeeded: a >> 16), UInt8(truncatingIfNeeded: a >> 8), UInt8(truncatingIfNeeded: a)] }
        let n = p.payload.count
        let pseudo = bytes(p.source.v4) + bytes(p.destination.v4) + [0, p.proto, UInt8(truncatingIfNeeded: n >> 8), UInt8(truncatingIfNeeded: n)]
        return fold(add(p.payload, to: add(pseudo)))
    }
}
