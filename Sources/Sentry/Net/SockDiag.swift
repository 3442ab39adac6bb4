/// NETLINK_SOCK_DIAG (net/core/sock_diag.c, net/ipv4/inet_diag.c,
/// net/unix/diag.c): SOCK_DIAG_BY_FAMILY dumps of the sandbox's own sockets,
/// what iproute2's `ss` reads before it falls back to /proc/net. AF_INET and
/// AF_INET6 TCP sockets in the listening and established tables and bound
/// UDP sockets answer with struct inet_diag_msg; AF_UNIX sockets with
/// struct unix_diag_msg and the attributes udiag_show asks for. No
/// extensions (INET_DIAG_INFO and the rest) are attached, no bytecode filter
/// is run (ss filters what it gets itself), and a request for one socket
/// (without NLM_F_DUMP) or of another family is answered as Linux answers
/// what it does not serve.
public enum SockDiag {
    public static let NETLINK_SOCK_DIAG: Int32 = 4
    static let SOCK_DIAG_BY_FAMILY: UInt16 = 20
    static let TCP_ESTABLISHED: UInt8 = 1, TCP_FIN_WAIT2: UInt8 = 5, TCP_CLOSE: UInt8 = 7, TCP_CLOSE_WAIT: UInt8 = 8, TCP_LISTEN: UInt8 = 10
    static let INET_DIAG_SHUTDOWN: UInt16 = 8, INET_DIAG_SKV6ONLY: UInt16 = 11
    static let UDIAG_SHOW_NAME: UInt32 = 1, UDIAG_SHOW_VFS: UInt32 = 2, UDIAG_SHOW_PEER: UInt32 = 4, UDIAG_SHOW_ICONS: UInt32 = 8
    static let UDIAG_SHOW_RQLEN: UInt32 = 0x10, UDIAG_SHOW_UID: UInt32 = 0x40
    static let UNIX_DIAG_NAME: UInt16 = 0, UNIX_DIAG_PEER: UInt16 = 2, UNIX_DIAG_ICONS: UInt16 = 3, UNIX_DIAG_RQLEN: UInt16 = 4, UNIX_DIAG_UID: UInt16 = 7
    typealias N = NetlinkRoute

    static func le<T: FixedWidthInteger>(_ v: T) -> [UInt8] { N.le(v) }
    static func be<T: FixedWidthInteger>(_ v: T) -> [UInt8] { withUnsafeBytes(of: v.bigEndian) { Array($0) } }

    /// The replies to every request in one datagram, as NetlinkRoute.respond.
    static func respond(to request: [UInt8], port: UInt32, names: UnixNamespace) -> [UInt8] {
        var out: [UInt8] = []
        var at = 0
        while request.count - at >= N.headerSize {
            let h = request.withUnsafeBytes { r in
                N.Header(length: r.loadUnaligned(fromByteOffset: at, as: UInt32.self), type: r.loadUnaligned(fromByteOffset: at + 4, as: UInt16.self),
                         flags: r.loadUnaligned(fromByteOffset: at + 6, as: UInt16.self), seq: r.loadUnaligned(fromByteOffset: at + 8, as: UInt32.self),
                         pid: r.loadUnaligned(fromByteOffset: at + 12, as: UInt32.self))
            }
            guard h.length >= UInt32(N.headerSize), Int(h.length) <= request.count - at else { break }
            let body = Array(request[(at + N.headerSize)..<(at + Int(h.length))])
            if h.flags & N.NLM_F_REQUEST != 0 { out += reply(h, body, port: port, names: names) }
            at += N.aligned(Int(h.length))
        }
        return out
    }

    private static func reply(_ h: N.Header, _ body: [UInt8], port: UInt32, names: UnixNamespace) -> [UInt8] {
        // sock_diag_rcv_msg: SOCK_DIAG_BY_FAMILY with a family byte; the old
        // TCPDIAG_GETSOCK/DCCPDIAG_GETSOCK types have no handler here (no inet_diag compat).
        guard h.type == SOCK_DIAG_BY_FAMILY, body.count >= 2 else { return N.errorReply(h, Errno.EINVAL.rawValue, port: port) }
        let family = Int32(body[0]), proto = Int32(body[1])
        guard h.flags & N.NLM_F_DUMP == N.NLM_F_DUMP else { return N.errorReply(h, Errno.EOPNOTSUPP.rawValue, port: port) }
        var out: [UInt8] = []
        switch family {
        case SocketConstants.AF_INET, SocketConstants.AF_INET6:
            // struct inet_diag_req_v2: family, protocol, ext, pad, states, id.
            guard body.count >= 56 else { return N.errorReply(h, Errno.EINVAL.rawValue, port: port) }
            let states = body.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: 4, as: UInt32.self) }
            guard proto == 6 || proto == 17 else { return N.errorReply(h, Errno.ENOENT.rawValue, port: port) }
            for e in names.sockets where e.family == family {
                guard let m = inetMessage(e, proto: proto, v6: family == SocketConstants.AF_INET6), states & (1 << UInt32(m[1])) != 0 else { continue }
                out += N.message(SOCK_DIAG_BY_FAMILY, flags: N.NLM_F_MULTI, seq: h.seq, port: port, m)
            }
        case SocketConstants.AF_UNIX:
            // struct unix_diag_req: family, protocol, pad, states, ino, show, cookie.
            guard body.count >= 24 else { return N.errorReply(h, Errno.EINVAL.rawValue, port: port) }
            let states = body.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: 4, as: UInt32.self) }
            let show = body.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: 12, as: UInt32.self) }
            for e in names.sockets where e.family == SocketConstants.AF_UNIX {
                let m = unixMessage(e, show: show)
                guard states & (1 << UInt32(m[2])) != 0 else { continue }
                out += N.message(SOCK_DIAG_BY_FAMILY, flags: N.NLM_F_MULTI, seq: h.seq, port: port, m)
            }
        default:
            return N.errorReply(h, Errno.EINVAL.rawValue, port: port)   // no sock_diag handler for the family
        }
        return out + N.doneReply(h, port)
    }

    /// struct inet_diag_msg for a socket Linux's tables hold: TCP listeners
    /// and connections, bound UDP sockets. nil for any other.
    static func inetMessage(_ e: SocketEndpoint, proto: Int32, v6: Bool) -> [UInt8]? {
        let r = ProcNet.row(e)
        let state: UInt8, rq: Int, wq: Int
        if proto == 6 {
            guard e.kind == .stream else { return nil }
            switch r.phase {
            case .listening:
                state = TCP_LISTEN
                rq = r.rxQueue
                wq = e.locked { $0.backlogLimit }   // sk_max_ack_backlog
            case .connected:
                state = r.peerClosed ? TCP_CLOSE_WAIT : r.shutWrite ? TCP_FIN_WAIT2 : TCP_ESTABLISHED
                rq = r.rxQueue; wq = r.txQueue
            default: return nil
            }
        } else {
            guard e.kind == .datagram, e.proto == 17, !e.isRaw, r.local != nil else { return nil }
            state = r.remote == nil ? TCP_CLOSE : TCP_ESTABLISHED
            rq = r.rxQueue; wq = 0
        }
        let local = r.local ?? (v6 ? .anyV6 : .anyV4), remote = r.remote ?? (v6 ? .anyV6 : .anyV4)
        func words(_ a: InetAddress) -> [UInt8] {
            if !v6 { return be(a.v4) + [UInt8](repeating: 0, count: 12) }
            return be(a.high) + be(a.low)
        }
        var m: [UInt8] = [UInt8(v6 ? SocketConstants.AF_INET6 : SocketConstants.AF_INET), state, 0, 0]
        m += be(local.port) + be(remote.port) + words(local) + words(remote)
        m += le(UInt32(0))                                              // if: no device bound
        m += le(UInt32(truncatingIfNeeded: e.inode)) + le(UInt32(truncatingIfNeeded: e.inode >> 32))   // cookie
        m += le(UInt32(0)) + le(UInt32(clamping: rq)) + le(UInt32(clamping: wq))   // expires: no timers run
        m += le(e.owner) + le(UInt32(truncatingIfNeeded: e.inode))
        // What inet_sk_diag_fill attaches whatever was asked: the shutdown
        // bits (RCV_SHUTDOWN 1, SEND_SHUTDOWN 2) and, for AF_INET6, IPV6_V6ONLY.
        let (shutRead, shutWrite, v6only) = e.locked { ($0.shutRead, $0.shutWrite, $0.v6only) }
        m += N.attribute(INET_DIAG_SHUTDOWN, [(shutRead ? 1 : 0) | (shutWrite ? 2 : 0)])
        if v6 { m += N.attribute(INET_DIAG_SKV6ONLY, [v6only ? 1 : 0]) }
        return m
    }

    /// struct unix_diag_msg and the attributes `show` asks for.
    static func unixMessage(_ e: SocketEndpoint, show: UInt32) -> [UInt8] {
        let (phase, addr, peer, backlog, limit, rx) = e.locked { s in (s.phase, s.address, s.peer, s.backlog, s.backlogLimit, s.rx.bytes) }
        let type: UInt8 = e.kind == .stream ? 1 : e.kind == .datagram ? 2 : 5
        let state = phase == .listening ? TCP_LISTEN : phase == .connected ? TCP_ESTABLISHED : TCP_CLOSE
        var m: [UInt8] = [UInt8(SocketConstants.AF_UNIX), type, state, 0] + le(UInt32(truncatingIfNeeded: e.inode))
        m += le(UInt32(truncatingIfNeeded: e.inode)) + le(UInt32(truncatingIfNeeded: e.inode >> 32))
        if show & UDIAG_SHOW_NAME != 0, case .unix(let u)? = addr {
            switch u {
            case .unnamed: break
            case .path(let p): m += N.attribute(UNIX_DIAG_NAME, p)
            case .abstract(let n): m += N.attribute(UNIX_DIAG_NAME, [0] + n)
            }
        }
        if show & UDIAG_SHOW_PEER != 0, let peer { m += N.attribute(UNIX_DIAG_PEER, le(UInt32(truncatingIfNeeded: peer.inode))) }
        if show & UDIAG_SHOW_ICONS != 0, phase == .listening {
            m += N.attribute(UNIX_DIAG_ICONS, backlog.flatMap { le(UInt32(truncatingIfNeeded: $0.inode)) })
        }
        if show & UDIAG_SHOW_RQLEN != 0 {
            // A listener's queue is its backlog against its limit; others' the bytes unread and in flight.
            let q = phase == .listening ? (backlog.count, limit) : (rx, e.account.inFlight)
            m += N.attribute(UNIX_DIAG_RQLEN, le(UInt32(clamping: q.0)) + le(UInt32(clamping: q.1)))
        }
        if show & UDIAG_SHOW_UID != 0 { m += N.attribute(UNIX_DIAG_UID, le(e.owner)) }
        return m
    }
}
