import Glibc

/// /proc/net/{tcp,tcp6,udp,udp6,raw,raw6,icmp,icmp6,unix,dev}: the sandbox's own sockets and its
/// `lo`, in the formats Linux 6.1 prints (tcp4_seq_show, tcp6_seq_show,
/// udp4_seq_show, __ip6_dgram_sock_seq_show, raw_sock_seq_show, ping_v4_seq_show,
/// unix_seq_show, dev_seq_show).
/// Host sockets of --network=host are the host's, and are not listed.
enum ProcNet {
    static let files = ["dev", "icmp", "icmp6", "raw", "raw6", "tcp", "tcp6", "udp", "udp6", "unix"]

    static func text(_ name: String, _ names: UnixNamespace) -> String {
        let sockets = names.sockets
        switch name {
        case "tcp": return tcp(sockets.filter { $0.family == SocketConstants.AF_INET }, v6: false)
        case "tcp6": return tcp(sockets.filter { $0.family == SocketConstants.AF_INET6 }, v6: true)
        case "udp": return udp(sockets.filter { $0.family == SocketConstants.AF_INET && isUDP($0) }, v6: false)
        case "udp6": return udp(sockets.filter { $0.family == SocketConstants.AF_INET6 && isUDP($0) }, v6: true)
        // Ping sockets print as UDP's do (ping_v4_seq_show, ping_v6_seq_show).
        case "icmp": return udp(sockets.filter { $0.family == SocketConstants.AF_INET && $0.isPing }, v6: false)
        case "icmp6": return udp(sockets.filter { $0.family == SocketConstants.AF_INET6 && $0.isPing }, v6: true)
        case "raw": return raw(sockets.filter { $0.family == SocketConstants.AF_INET && $0.isRaw }, v6: false)
        case "raw6": return raw(sockets.filter { $0.family == SocketConstants.AF_INET6 && $0.isRaw }, v6: true)
        case "unix": return unix(sockets.filter { $0.family == SocketConstants.AF_UNIX })
        default: return dev(names.loopback)
        }
    }

    /// One socket's row, read under its lock.
    struct Row {
        var local: InetAddress?, remote: InetAddress?
        var phase: SocketEndpoint.Phase
        var txQueue: Int, rxQueue: Int
        var peerClosed: Bool, shutWrite: Bool
        var drops: Int
    }

    static func row(_ e: SocketEndpoint) -> Row {
        let peer = e.kind == .datagram ? e.udpPeer : { if case .inet(let a)? = e.peerAddress { return a } else { return nil } }()
        let tx = e.tcpUnacknowledged
        return e.locked { s in
            var local: InetAddress?
            if case .inet(let a)? = s.address { local = a }
            // A listener's receive queue is its backlog (sk_ack_backlog).
            let rx = s.phase == .listening ? s.backlog.count : e.isTCP ? SocketEndpoint.tcpArrived(s.rx.bytes, s) : s.rx.bytes
            return Row(local: local, remote: peer, phase: s.phase, txQueue: tx, rxQueue: rx,
                       peerClosed: s.peerClosed, shutWrite: s.shutWrite, drops: s.drops)
        }
    }

    static func hex(_ v: UInt64, _ width: Int) -> String { String(v, radix: 16, uppercase: true).leftPadded(width, "0") }

    /// An address as the kernel prints its __be32 words with %08X on a
    /// little-endian machine, and the port in host order.
    static func address(_ a: InetAddress?, v6: Bool) -> String {
        let a = a ?? (v6 ? .anyV6 : .anyV4)
        let port = ":" + hex(UInt64(a.port), 4)
        if !v6 { return hex(UInt64(a.v4.byteSwapped), 8) + port }
        let words = [UInt32(a.high >> 32), UInt32(truncatingIfNeeded: a.high), UInt32(a.low >> 32), UInt32(truncatingIfNeeded: a.low)]
        return words.map { hex(UInt64($0.byteSwapped), 8) }.joined() + port
    }

    /// tcp_states.h: what a sentry connection's phase corresponds to.
    static let TCP_ESTABLISHED = 1, TCP_FIN_WAIT2 = 5, TCP_CLOSE = 7, TCP_CLOSE_WAIT = 8, TCP_LISTEN = 10

    static func padded(_ line: String, _ width: Int) -> String { line.count >= width ? line : line.padded(width - 1) }

    static func tcp(_ sockets: [SocketEndpoint], v6: Bool) -> String {
        var out = v6
            ? "  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n"
            : padded("  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode", 149) + "\n"
        var i = 0
        for e in sockets where e.kind == .stream {
            let r = row(e)
            // Only sockets in the listening and established tables show, as on Linux.
            guard r.phase == .listening || r.phase == .connected else { continue }
            let state = r.phase == .listening ? TCP_LISTEN : r.peerClosed ? TCP_CLOSE_WAIT : r.shutWrite ? TCP_FIN_WAIT2 : TCP_ESTABLISHED
            // No timers, retransmits or probes run on the sentry's loopback;
            // the tail is what Linux shows for a fresh loopback socket (rto,
            // ato, quick/pingpong, cwnd, ssthresh or fastopen queue).
            let tail = r.phase == .listening ? "100 0 0 10 0" : "20 4 0 10 -1"
            let line = String(i).leftPadded(4) + ": " + address(r.local, v6: v6) + " " + address(r.remote, v6: v6)
                + " " + hex(UInt64(state), 2) + " " + hex(UInt64(r.txQueue), 8) + ":" + hex(UInt64(r.rxQueue), 8)
                + " 00:00000000 00000000 " + String(e.owner).leftPadded(5) + " " + "0".leftPadded(8) + " \(e.inode) 1 0000000000000000 " + tail
            out += (v6 ? line : padded(line, 149)) + "\n"
            i += 1
        }
        return out
    }

    static func udp(_ sockets: [SocketEndpoint], v6: Bool) -> String {
        var out = v6
            ? "  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops\n"
            : padded("   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops", 127) + "\n"
        var i = 0
        for e in sockets {
            let r = row(e)
            guard r.local != nil else { continue }   // unbound: not hashed, not listed
            // Datagrams are handed over at once: nothing waits in a send queue.
            let line = String(i).leftPadded(5) + ": " + address(r.local, v6: v6) + " " + address(r.remote, v6: v6)
                + " " + hex(UInt64(r.remote == nil ? TCP_CLOSE : TCP_ESTABLISHED), 2) + " 00000000:" + hex(UInt64(r.rxQueue), 8)
                + " 00:00000000 00000000 " + String(e.owner).leftPadded(5) + " " + "0".leftPadded(8) + " \(e.inode) 2 0000000000000000 \(r.drops)"
            out += (v6 ? line : padded(line, 127)) + "\n"
            i += 1
        }
        return out
    }

    /// UDP-Lite has a file of its own, not served; raw UDP sockets are raw's.
    static func isUDP(_ e: SocketEndpoint) -> Bool { e.kind == .datagram && e.proto == 17 && !e.isRaw }

    /// raw_sock_seq_show, __ip6_dgram_sock_seq_show: a raw socket's "port"
    /// is its protocol, which is also its hash bucket (the first column).
    static func raw(_ sockets: [SocketEndpoint], v6: Bool) -> String {
        var out = v6
            ? "  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops\n"
            : "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops\n"
        for e in sockets.sorted(by: { $0.proto < $1.proto }) {
            let r = row(e)
            let line = String(e.proto & 0xff).leftPadded(v6 ? 5 : 4) + ": " + address(r.local, v6: v6) + " " + address(r.remote.map { $0.with(port: 0) }, v6: v6)
                + " " + hex(UInt64(r.remote == nil ? TCP_CLOSE : TCP_ESTABLISHED), 2) + " 00000000:" + hex(UInt64(r.rxQueue), 8)
                + " 00:00000000 00000000 " + String(e.owner).leftPadded(5) + " " + "0".leftPadded(8) + " \(e.inode) 2 0000000000000000 \(r.drops)"
            out += line + "\n"
        }
        return out
    }

    static let __SO_ACCEPTCON = 1 << 16
    static let SS_UNCONNECTED = 1, SS_CONNECTED = 3

    static func unix(_ sockets: [SocketEndpoint]) -> String {
        var out = "Num       RefCount Protocol Flags    Type St Inode Path\n"
        for e in sockets {
            let (phase, addr) = e.locked { ($0.phase, $0.address) }
            let type = e.kind == .stream ? 1 : e.kind == .datagram ? 2 : 5
            let flags = phase == .listening ? __SO_ACCEPTCON : 0
            let st = phase == .connected ? SS_CONNECTED : SS_UNCONNECTED
            out += "0000000000000000: 00000002 00000000 " + hex(UInt64(flags), 8) + " " + hex(UInt64(type), 4) + " "
                + hex(UInt64(st), 2) + " " + String(e.inode).leftPadded(5)
            if case .unix(let u)? = addr {
                switch u {
                case .unnamed: break
                case .path(let p): out += " " + String(decoding: p, as: UTF8.self)
                case .abstract(let n): out += " @" + String(decoding: n.map { $0 == 0 ? UInt8(ascii: "@") : $0 }, as: UTF8.self)
                }
            }
            out += "\n"
        }
        return out
    }

    static func dev(_ lo: Loopback) -> String {
        let (bytes, packets) = lo.traffic
        // On lo every byte sent is a byte received.
        let side = String(bytes).leftPadded(7) + " " + String(packets).leftPadded(7)
        return "Inter-|   Receive                                                |  Transmit\n"
            + " face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed\n"
            + LoopbackInterface.name.leftPadded(6) + ": " + side + "    0    0    0     0          0         0 "
            + String(bytes).leftPadded(8) + " " + String(packets).leftPadded(7) + "    0    0    0     0       0          0\n"
    }
}
