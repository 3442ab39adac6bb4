import Glibc

/// NETLINK_ROUTE as far as programs read it to list interfaces (glibc's
/// getifaddrs and if_nameindex, Go's net.Interfaces): RTM_GETLINK and
/// RTM_GETADDR dumps that describe the sandbox's one interface, `lo`, with
/// 127.0.0.1/8 and ::1/128. A request the sentry does not serve gets the
/// NLMSG_ERROR reply (EOPNOTSUPP) rtnetlink gives.
public enum NetlinkRoute {
    public static let NETLINK_ROUTE: Int32 = 0
    static let NLMSG_ERROR: UInt16 = 2, NLMSG_DONE: UInt16 = 3
    static let RTM_NEWLINK: UInt16 = 16, RTM_GETLINK: UInt16 = 18, RTM_NEWADDR: UInt16 = 20, RTM_GETADDR: UInt16 = 22
    static let NLM_F_REQUEST: UInt16 = 1, NLM_F_MULTI: UInt16 = 2, NLM_F_ACK: UInt16 = 4, NLM_F_DUMP: UInt16 = 0x300
    static let headerSize = 16

    struct Header {
        var length: UInt32, type: UInt16, flags: UInt16, seq: UInt32, pid: UInt32
        var bytes: [UInt8] { le(length) + le(type) + le(flags) + le(seq) + le(pid) }
    }

    static func le<T: FixedWidthInteger>(_ v: T) -> [UInt8] { withUnsafeBytes(of: v.littleEndian) { Array($0) } }
    static func aligned(_ n: Int) -> Int { (n + 3) & ~3 }

    /// One rtattr: length, type, data padded to four bytes.
    static func attribute(_ type: UInt16, _ data: [UInt8]) -> [UInt8] {
        let a = le(UInt16(4 + data.count)) + le(type) + data
        return a + [UInt8](repeating: 0, count: aligned(a.count) - a.count)
    }

    static func message(_ type: UInt16, flags: UInt16, seq: UInt32, port: UInt32, _ payload: [UInt8]) -> [UInt8] {
        Header(length: UInt32(headerSize + payload.count), type: type, flags: flags, seq: seq, pid: port).bytes + payload
    }

    /// The replies to every request in `request` (one sendmsg may carry
    /// several), concatenated as one datagram the way a dump fills an skb.
    static func respond(to request: [UInt8], port: UInt32) -> [UInt8] {
        var out: [UInt8] = []
        var at = 0
        while request.count - at >= headerSize {
            let h = request.withUnsafeBytes { r in
                Header(length: r.loadUnaligned(fromByteOffset: at, as: UInt32.self), type: r.loadUnaligned(fromByteOffset: at + 4, as: UInt16.self),
                       flags: r.loadUnaligned(fromByteOffset: at + 6, as: UInt16.self), seq: r.loadUnaligned(fromByteOffset: at + 8, as: UInt32.self),
                       pid: r.loadUnaligned(fromByteOffset: at + 12, as: UInt32.self))
            }
            guard h.length >= UInt32(headerSize), Int(h.length) <= request.count - at else { break }
            let body = Array(request[(at + headerSize)..<(at + Int(h.length))])
            if h.flags & NLM_F_REQUEST != 0 { out += reply(h, body, port: port) }
            at += aligned(Int(h.length))
        }
        return out
    }

    private static func reply(_ h: Header, _ body: [UInt8], port: UInt32) -> [UInt8] {
        let dump = h.flags & NLM_F_DUMP == NLM_F_DUMP
        let family = body.first.map { Int32($0) } ?? 0
        switch h.type {
        case RTM_GETLINK where dump:
            return message(RTM_NEWLINK, flags: NLM_F_MULTI, seq: h.seq, port: port, link()) + done(h, port)
        case RTM_GETADDR where dump:
            var out: [UInt8] = []
            if family == 0 || family == SocketConstants.AF_INET {
                out += message(RTM_NEWADDR, flags: NLM_F_MULTI, seq: h.seq, port: port, address(v6: false))
            }
            if family == 0 || family == SocketConstants.AF_INET6 {
                out += message(RTM_NEWADDR, flags: NLM_F_MULTI, seq: h.seq, port: port, address(v6: true))
            }
            return out + done(h, port)
        default:
            return error(h, Errno.EOPNOTSUPP.rawValue, port: port)
        }
    }

    /// The end of a dump and an error reply, for the other netlink families' answers.
    static func doneReply(_ h: Header, _ port: UInt32) -> [UInt8] { done(h, port) }
    static func errorReply(_ h: Header, _ errno: Int32, port: UInt32) -> [UInt8] { error(h, errno, port: port) }

    /// NLMSG_DONE ends a dump; its payload is the dump's status (0).
    private static func done(_ h: Header, _ port: UInt32) -> [UInt8] {
        message(NLMSG_DONE, flags: NLM_F_MULTI, seq: h.seq, port: port, le(Int32(0)))
    }

    /// NLMSG_ERROR: the negated errno, then the request's header.
    private static func error(_ h: Header, _ errno: Int32, port: UInt32) -> [UInt8] {
        message(NLMSG_ERROR, flags: 0, seq: h.seq, port: port, le(-errno) + h.bytes)
    }

    /// struct ifinfomsg and the attributes `ip link` shows for lo.
    private static func link() -> [UInt8] {
        let IFF_LOWER_UP: UInt32 = 0x10000
        let flags = UInt32(UInt16(bitPattern: LoopbackInterface.flags)) | IFF_LOWER_UP
        var p: [UInt8] = [0, 0] + le(LoopbackInterface.ARPHRD_LOOPBACK) + le(LoopbackInterface.index) + le(flags) + le(UInt32(0))
        p += attribute(3, Array(LoopbackInterface.name.utf8) + [0])   // IFLA_IFNAME
        p += attribute(4, le(UInt32(LoopbackInterface.mtu)))          // IFLA_MTU
        p += attribute(13, le(UInt32(1000)))                          // IFLA_TXQLEN
        p += attribute(16, [0])                                       // IFLA_OPERSTATE: IF_OPER_UNKNOWN, as lo says
        p += attribute(1, [UInt8](repeating: 0, count: 6))            // IFLA_ADDRESS
        p += attribute(2, [UInt8](repeating: 0, count: 6))            // IFLA_BROADCAST
        return p
    }

    /// struct ifaddrmsg and attributes for 127.0.0.1/8 or ::1/128 on lo.
    private static func address(v6: Bool) -> [UInt8] {
        let IFA_F_PERMANENT: UInt8 = 0x80, RT_SCOPE_HOST: UInt8 = 254
        let family = UInt8(v6 ? SocketConstants.AF_INET6 : SocketConstants.AF_INET)
        var p: [UInt8] = [family, v6 ? 128 : 8, IFA_F_PERMANENT, RT_SCOPE_HOST] + le(UInt32(LoopbackInterface.index))
        let ip: [UInt8] = v6 ? [UInt8](repeating: 0, count: 15) + [1] : [127, 0, 0, 1]
        p += attribute(1, ip)                                         // IFA_ADDRESS
        if !v6 {
            p += attribute(2, ip)                                     // IFA_LOCAL
            p += attribute(3, Array(LoopbackInterface.name.utf8) + [0])  // IFA_LABEL
        }
        p += attribute(8, le(UInt32(IFA_F_PERMANENT)))                // IFA_FLAGS
        return p
    }
}
