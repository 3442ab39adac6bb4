import Glibc

/// Address families, socket types and the socket-level constants guests pass
/// (linux/socket.h, linux/net.h), defined once.
public enum SocketConstants {
    public static let AF_UNSPEC: Int32 = 0, AF_UNIX: Int32 = 1, AF_INET: Int32 = 2, AF_INET6: Int32 = 10
    public static let AF_NETLINK: Int32 = 16, AF_PACKET: Int32 = 17, AF_MAX: Int32 = 46
    public static let SOCK_STREAM: Int32 = 1, SOCK_DGRAM: Int32 = 2, SOCK_RAW: Int32 = 3
    public static let SOCK_RDM: Int32 = 4, SOCK_SEQPACKET: Int32 = 5, SOCK_MAX: Int32 = 11
    public static let SOCK_NONBLOCK: Int32 = 0o4000, SOCK_CLOEXEC: Int32 = 0o2000000
    public static let SOCK_TYPE_MASK: Int32 = 0xf

    public static let SOL_SOCKET: Int32 = 1
    public static let SO_DEBUG: Int32 = 1, SO_REUSEADDR: Int32 = 2, SO_TYPE: Int32 = 3, SO_ERROR: Int32 = 4
    public static let SO_DONTROUTE: Int32 = 5, SO_BROADCAST: Int32 = 6, SO_SNDBUF: Int32 = 7, SO_RCVBUF: Int32 = 8
    public static let SO_KEEPALIVE: Int32 = 9, SO_OOBINLINE: Int32 = 10, SO_LINGER: Int32 = 13, SO_REUSEPORT: Int32 = 15
    public static let SO_PASSCRED: Int32 = 16, SO_PEERCRED: Int32 = 17, SO_RCVLOWAT: Int32 = 18, SO_SNDLOWAT: Int32 = 19
    public static let SO_RCVTIMEO: Int32 = 20, SO_SNDTIMEO: Int32 = 21, SO_ACCEPTCONN: Int32 = 30
    public static let SO_SNDBUFFORCE: Int32 = 32, SO_RCVBUFFORCE: Int32 = 33, SO_PROTOCOL: Int32 = 38, SO_DOMAIN: Int32 = 39
    public static let SO_NO_CHECK: Int32 = 11, SO_PRIORITY: Int32 = 12, SO_BSDCOMPAT: Int32 = 14, SO_BINDTODEVICE: Int32 = 25
    public static let SO_GET_FILTER: Int32 = 26, SO_PEERNAME: Int32 = 28, SO_MARK: Int32 = 36, SO_WIFI_STATUS: Int32 = 41
    public static let SO_NOFCS: Int32 = 43, SO_LOCK_FILTER: Int32 = 44, SO_SELECT_ERR_QUEUE: Int32 = 45, SO_BUSY_POLL: Int32 = 46
    public static let SO_BPF_EXTENSIONS: Int32 = 48, SO_INCOMING_CPU: Int32 = 49, SO_INCOMING_NAPI_ID: Int32 = 56
    public static let SO_COOKIE: Int32 = 57, SO_BINDTOIFINDEX: Int32 = 62, SO_PREFER_BUSY_POLL: Int32 = 69
    public static let SO_BUSY_POLL_BUDGET: Int32 = 70, SO_NETNS_COOKIE: Int32 = 71, SO_BUF_LOCK: Int32 = 72
    public static let SO_TXREHASH: Int32 = 74, SO_RCVMARK: Int32 = 75, SO_RXQ_OVFL: Int32 = 40

    public static let SCM_RIGHTS: Int32 = 1, SCM_CREDENTIALS: Int32 = 2
    /// SCM_MAX_FD: the most descriptors one SCM_RIGHTS message may carry.
    public static let maxRights = 253

    public static let MSG_OOB: Int32 = 1, MSG_PEEK: Int32 = 2, MSG_DONTROUTE: Int32 = 4, MSG_CTRUNC: Int32 = 8
    public static let MSG_TRUNC: Int32 = 0x20, MSG_DONTWAIT: Int32 = 0x40, MSG_EOR: Int32 = 0x80
    public static let MSG_WAITALL: Int32 = 0x100, MSG_NOSIGNAL: Int32 = 0x4000, MSG_MORE: Int32 = 0x8000
    public static let MSG_CMSG_CLOEXEC: Int32 = 0x4000_0000

    public static let SHUT_RD: Int32 = 0, SHUT_WR: Int32 = 1, SHUT_RDWR: Int32 = 2
    /// net.core.somaxconn, the cap on a listen backlog.
    public static let somaxconn = 4096
}

/// An AF_UNIX address: unnamed, a path in the guest's tree, or a name in the
/// sandbox's abstract namespace (sun_path starting with a NUL byte).
public enum UnixAddress: Sendable, Hashable {
    case unnamed
    case path([UInt8])
    case abstract([UInt8])

    /// offsetof(struct sockaddr_un, sun_path), and sizeof(struct sockaddr_un).
    public static let pathOffset = 2, maxLength = 110

    /// Parses a guest sockaddr_un of `bytes.count` bytes, as unix_validate_addr
    /// and unix_mkname_bsd do: a path ends at the first NUL or at the length.
    /// A bare family (length 2) is `.unnamed`: bind autobinds it.
    public static func parse(_ bytes: [UInt8]) throws(Errno) -> UnixAddress {
        guard bytes.count >= pathOffset, bytes.count <= maxLength else { throw .EINVAL }
        let family = Int32(bytes[0]) | Int32(bytes[1]) << 8
        guard family == SocketConstants.AF_UNIX else { throw .EINVAL }
        if bytes.count == pathOffset { return .unnamed }
        let body = Array(bytes[pathOffset...])
        if body[0] == 0 { return .abstract(Array(body.dropFirst())) }
        let end = body.firstIndex(of: 0) ?? body.count
        return .path(Array(body[..<end]))
    }

    /// The bytes getsockname/getpeername/recvfrom report: Linux counts a
    /// path's terminating NUL, and an abstract name exactly.
    public var encoded: [UInt8] {
        var out: [UInt8] = [UInt8(SocketConstants.AF_UNIX), 0]
        switch self {
        case .unnamed: break
        case .path(let p): out += p; out.append(0)
        case .abstract(let n): out.append(0); out += n
        }
        return out
    }
}

/// An AF_INET or AF_INET6 address. The address is kept as IPv6, IPv4
/// a.b.c.d as ::ffff:a.b.c.d, so a dual-stack socket compares both alike;
/// `family` says how the socket holding it shows it.
public struct InetAddress: Sendable, Hashable {
    public var high: UInt64, low: UInt64
    public var port: UInt16
    public var family: Int32

    public init(v4 ip: UInt32, port: UInt16) {
        high = 0; low = 0xffff_0000_0000 | UInt64(ip); self.port = port; family = SocketConstants.AF_INET
    }
    public init(high: UInt64, low: UInt64, port: UInt16, family: Int32 = SocketConstants.AF_INET6) {
        self.high = high; self.low = low; self.port = port; self.family = family
    }

    public static let anyV4 = InetAddress(v4: 0, port: 0), anyV6 = InetAddress(high: 0, low: 0, port: 0)
    public static let loopbackV4 = InetAddress(v4: 0x7f00_0001, port: 0), loopbackV6 = InetAddress(high: 0, low: 1, port: 0)

    /// An IPv4 address (or one mapped into IPv6).
    public var isV4: Bool { high == 0 && low >> 32 == 0xffff }
    public var v4: UInt32 { UInt32(truncatingIfNeeded: low) }
    public var isAny: Bool { high == 0 && (low == 0 || (isV4 && v4 == 0)) }
    public var isLoopback: Bool { isV4 ? v4 >> 24 == 127 : high == 0 && low == 1 }
    public func sameIP(_ o: InetAddress) -> Bool { high == o.high && low == o.low }
    public func sameEndpoint(_ o: InetAddress) -> Bool { sameIP(o) && port == o.port }
    public func with(port: UInt16) -> InetAddress { var a = self; a.port = port; return a }
    public func shown(as family: Int32) -> InetAddress { var a = self; a.family = family; return a }

    /// A guest sockaddr_in (at least 16 bytes) for an AF_INET socket, or
    /// sockaddr_in6 (at least 24, SIN6_LEN_RFC2133) for an AF_INET6 one.
    public static func parse(_ bytes: [UInt8], socketFamily: Int32) throws(Errno) -> InetAddress {
        func be16(_ o: Int) -> UInt16 { UInt16(bytes[o]) << 8 | UInt16(bytes[o + 1]) }
        func be64(_ o: Int) -> UInt64 { (0..<8).reduce(UInt64(0)) { $0 << 8 | UInt64(bytes[o + $1]) } }
        let family = bytes.count >= 2 ? Int32(bytes[0]) | Int32(bytes[1]) << 8 : -1
        if socketFamily == SocketConstants.AF_INET6 {
            guard bytes.count >= 24 else { throw .EINVAL }
            guard family == SocketConstants.AF_INET6 else { throw .EAFNOSUPPORT }
            return InetAddress(high: be64(8), low: be64(16), port: be16(2))
        }
        guard bytes.count >= 16 else { throw .EINVAL }
        guard family == SocketConstants.AF_INET else { throw .EAFNOSUPPORT }
        return InetAddress(v4: UInt32(be16(4)) << 16 | UInt32(be16(6)), port: be16(2))
    }

    public var encoded: [UInt8] {
        func be(_ v: UInt64, _ n: Int) -> [UInt8] { (0..<n).map { UInt8(truncatingIfNeeded: v >> (8 * UInt64(n - 1 - $0))) } }
        if family == SocketConstants.AF_INET6 {
            return [UInt8(SocketConstants.AF_INET6), 0] + be(UInt64(port), 2) + [0, 0, 0, 0] + be(high, 8) + be(low, 8) + [0, 0, 0, 0]
        }
        return [UInt8(SocketConstants.AF_INET), 0] + be(UInt64(port), 2) + be(UInt64(v4), 4) + [UInt8](repeating: 0, count: 8)
    }
}

/// A socket's name in any family the sentry serves.
public enum SocketAddress: Sendable, Hashable {
    case unix(UnixAddress)
    case inet(InetAddress)
    /// struct sockaddr_nl: a port id (0 is the kernel) and multicast groups.
    case netlink(port: UInt32, groups: UInt32)

    public var encoded: [UInt8] {
        switch self {
        case .unix(let u): u.encoded
        case .inet(let i): i.encoded
        case .netlink(let port, let groups):
            [UInt8(SocketConstants.AF_NETLINK), 0, 0, 0] + withUnsafeBytes(of: (port, groups)) { Array($0) }
        }
    }
}
