import Glibc

/// getsockopt/setsockopt at SOL_SOCKET for AF_UNIX sockets, as
/// sk_getsockopt/sk_setsockopt answer them. Options Linux only records on a
/// unix socket (SO_REUSEADDR, SO_KEEPALIVE, ...) are recorded and reported.
extension SocketEndpoint {
    private typealias C = SocketConstants

    /// The option's value as getsockopt copies it out (the caller truncates
    /// it to the guest's length, as Linux does).
    public func getOption(level: Int32, name: Int32, length: Int = Int.max) throws(Errno) -> [UInt8] {
        func int(_ v: Int) -> [UInt8] { withUnsafeBytes(of: Int32(clamping: v)) { Array($0) } }
        if level == Self.IPPROTO_TCP && isInet && kind == .stream {
            guard let v = locked({ $0.tcpOptions[name] }) ?? Self.tcpDefaults[name] else { throw .ENOPROTOOPT }
            return int(Int(v))
        }
        if level == Self.IPPROTO_IPV6 && family == C.AF_INET6 && name == Self.IPV6_V6ONLY {
            return int(locked { $0.v6only } ? 1 : 0)
        }
        if level == Self.IPPROTO_IP && isInet {
            guard let d = Self.ipv4Defaults[name] else { throw .ENOPROTOOPT }
            let v = locked { $0.ipv4Options[name] } ?? d
            // The TTL's -1 (the route's) reads as net.ipv4.ip_default_ttl.
            return int(Int(name == Self.IP_TTL && v < 0 ? Self.defaultTTL : v))
        }
        if level == Self.IPPROTO_IPV6 && family == C.AF_INET6, let d = Self.ipv6Defaults[name] {
            let v = locked { $0.ipv6Options[name] } ?? d
            // The hop limit's -1 (the route's) reads as the loopback's 64.
            return int(Int(name == Self.IPV6_UNICAST_HOPS && v < 0 ? Self.loopbackHopLimit : v))
        }
        guard level == C.SOL_SOCKET else { throw isInet ? .ENOPROTOOPT : .EOPNOTSUPP }   // unix sockets have no other level
        if let v = try recordedOption(name, length: length, names: names) { return v }
        return try locked { (s: inout State) throws(Errno) -> [UInt8] in
            switch name {
            case C.SO_TYPE: return int(kind == .stream ? 1 : isRaw ? 3 : kind == .datagram ? 2 : 5)
            case C.SO_DOMAIN: return int(Int(family))
            case C.SO_PROTOCOL: return int(Int(proto))
            case C.SO_ERROR:
                let e = s.error; s.error = nil
                return int(Int(e?.rawValue ?? 0))
            case C.SO_SNDBUF: return int(s.sendBuffer)
            case C.SO_RCVBUF: return int(s.receiveBuffer)
            case C.SO_PASSCRED: return int(s.passCredentials ? 1 : 0)
            case C.SO_ACCEPTCONN: return int(s.phase == .listening ? 1 : 0)
            case C.SO_PEERCRED:
                // No peer: pid 0 and the overflow ids (-1), as cred_to_ucred leaves them.
                let c = (isInet ? nil : s.peerCredentials) ?? SocketCredentials(pid: 0, uid: UInt32.max, gid: UInt32.max)
                return withUnsafeBytes(of: (c.pid, c.uid, c.gid)) { Array($0) }
            case C.SO_RCVTIMEO, C.SO_SNDTIMEO:
                let ns = name == C.SO_RCVTIMEO ? s.receiveTimeout : s.sendTimeout
                let tv = (Int64(ns / 1_000_000_000), Int64(ns % 1_000_000_000 / 1000))
                return withUnsafeBytes(of: tv) { Array($0) }
            case C.SO_LINGER:
                return withUnsafeBytes(of: (s.linger.on ? Int32(1) : 0, s.linger.seconds)) { Array($0) }
            case C.SO_REUSEADDR, C.SO_KEEPALIVE, C.SO_BROADCAST, C.SO_OOBINLINE, C.SO_DONTROUTE, C.SO_REUSEPORT:
                return int(s.flagOptions.contains(name) ? 1 : 0)
            case C.SO_RCVLOWAT: return int(Int(s.receiveLowWater))
            case C.SO_SNDLOWAT: return int(1)
            default: throw .ENOPROTOOPT
            }
        }
    }

    /// `capable`: whether the caller holds a capability (CAP_NET_ADMIN,
    /// CAP_NET_RAW) that some options need.
    public func setOption(level: Int32, name: Int32, value: [UInt8], capable: (Int) -> Bool = { _ in false }) throws(Errno) {
        if level == Self.IPPROTO_TCP && isInet && kind == .stream {
            guard Self.tcpDefaults[name] != nil else { throw .ENOPROTOOPT }
            guard value.count >= 4 else { throw .EINVAL }
            let v = value.withUnsafeBytes { $0.loadUnaligned(as: Int32.self) }
            if name != Self.TCP_NODELAY && v < 1 { throw .EINVAL }   // keepalive times and counts are positive
            locked { $0.tcpOptions[name] = name == Self.TCP_NODELAY ? (v != 0 ? 1 : 0) : v }
            return
        }
        if level == Self.IPPROTO_IPV6 && family == C.AF_INET6 && name == Self.IPV6_V6ONLY {
            guard value.count >= 4 else { throw .EINVAL }
            // Linux refuses to change it once the socket has a port.
            try locked { (s: inout State) throws(Errno) in
                if s.address != nil { throw .EINVAL }
                s.v6only = value.withUnsafeBytes { $0.loadUnaligned(as: Int32.self) } != 0
            }
            return
        }
        if level == Self.IPPROTO_IP && isInet {
            guard Self.ipv4Defaults[name] != nil else { throw .ENOPROTOOPT }
            // do_ip_setsockopt reads an int, or a single byte from a shorter value.
            var v: Int32 = value.count >= 4 ? value.withUnsafeBytes { $0.loadUnaligned(as: Int32.self) } : value.first.map(Int32.init) ?? 0
            switch name {
            case Self.IP_TTL:
                guard !value.isEmpty, v == -1 || (1...255).contains(v) else { throw .EINVAL }
            case Self.IP_TOS:
                // A stream keeps its ECN bits (__ip_sock_set_tos); inet->tos is a byte.
                v &= 0xff
                if kind == .stream { v = (v & ~Self.ecnMask) | ((locked { $0.ipv4Options[name] } ?? 0) & Self.ecnMask) }
            case Self.IP_MULTICAST_TTL:
                guard kind != .stream, !value.isEmpty else { throw .EINVAL }
                if v == -1 { v = 1 }
                guard (0...255).contains(v) else { throw .EINVAL }
            default:   // IP_MULTICAST_LOOP
                guard !value.isEmpty else { throw .EINVAL }
                v = v != 0 ? 1 : 0
            }
            locked { s in
                // IP_TOS sets the priority too, when it changes (rt_tos2priority).
                if name == Self.IP_TOS && (s.ipv4Options[name] ?? 0) != v {
                    s.recordedOptions[C.SO_PRIORITY] = Self.tosPriority[Int(v & 0x1e) >> 1]
                }
                s.ipv4Options[name] = v
            }
            return
        }
        if level == Self.IPPROTO_IPV6 && family == C.AF_INET6 && Self.ipv6Defaults[name] != nil {
            guard value.count >= 4 else { throw .EINVAL }
            var v = value.withUnsafeBytes { $0.loadUnaligned(as: Int32.self) }
            switch name {
            case Self.IPV6_UNICAST_HOPS, Self.IPV6_TCLASS:
                guard (-1...255).contains(v) else { throw .EINVAL }
                if name == Self.IPV6_TCLASS && v == -1 { v = 0 }
            default: v = v != 0 ? 1 : 0
            }
            locked { $0.ipv6Options[name] = v }
            return
        }
        guard level == C.SOL_SOCKET else { throw isInet ? .ENOPROTOOPT : .EOPNOTSUPP }
        // The one option without an int: a device name, possibly empty.
        if name == C.SO_BINDTODEVICE { try bindToDevice(named: value, capable: capable); return }
        guard value.count >= 4 else { throw .EINVAL }   // every other SOL_SOCKET option starts with an int
        if try setRecordedOption(name, value: value, capable: capable) { return }
        let v = value.withUnsafeBytes { $0.loadUnaligned(as: Int32.self) }
        try locked { (s: inout State) throws(Errno) in
            switch name {
            case C.SO_SNDBUF, C.SO_SNDBUFFORCE:
                // Linux doubles the request for bookkeeping overhead, within wmem_max. The
                // forced form (CAP_NET_ADMIN) has no such bound on Linux; here it keeps
                // it, since socket buffers are the sentry's own memory.
                if name == C.SO_SNDBUFFORCE && !capable(Credentials.CAP_NET_ADMIN) { throw .EPERM }
                let want = name == C.SO_SNDBUFFORCE ? UInt32(max(v, 0)) : UInt32(bitPattern: v)
                s.sendBuffer = max(Int(min(want, UInt32(Self.maxBuffer))) * 2, Self.minSendBuffer)
                s.sendBufferSet = true
                account.setLimit(s.sendBuffer)
            case C.SO_RCVBUF, C.SO_RCVBUFFORCE:
                if name == C.SO_RCVBUFFORCE && !capable(Credentials.CAP_NET_ADMIN) { throw .EPERM }
                let want = name == C.SO_RCVBUFFORCE ? UInt32(max(v, 0)) : UInt32(bitPattern: v)
                s.receiveBuffer = max(Int(min(want, UInt32(Self.maxBuffer))) * 2, Self.minReceiveBuffer)
                s.receiveBufferSet = true
            case C.SO_PASSCRED: s.passCredentials = v != 0
            case C.SO_RCVTIMEO, C.SO_SNDTIMEO:
                let ns = try Self.timeout(value)
                if name == C.SO_RCVTIMEO { s.receiveTimeout = ns } else { s.sendTimeout = ns }
            case C.SO_LINGER:
                guard value.count >= 8 else { throw .EINVAL }
                s.linger = (v != 0, value.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: 4, as: Int32.self) })
            case C.SO_REUSEADDR, C.SO_KEEPALIVE, C.SO_BROADCAST, C.SO_OOBINLINE, C.SO_DONTROUTE, C.SO_REUSEPORT:
                if v != 0 { s.flagOptions.insert(name) } else { s.flagOptions.remove(name) }
            case C.SO_RCVLOWAT:
                var mark = v < 0 ? Int32.max : v
                if isTCP {
                    // tcp_set_rcvlowat: at most half the buffer it may have, which grows to twice the mark.
                    mark = min(mark, Int32(s.receiveBufferSet ? s.receiveBuffer >> 1 : Self.tcpMaxReceiveBuffer >> 1))
                    if !s.receiveBufferSet && Int(mark) * 2 > s.receiveBuffer { s.receiveBuffer = Int(mark) * 2 }
                }
                s.receiveLowWater = max(mark, 1)
            case C.SO_SNDLOWAT:
                throw .ENOPROTOOPT   // never settable on Linux (sock_setsockopt's default)
            default: throw .ENOPROTOOPT
            }
        }
        queue.notify()   // a bigger send buffer may unblock a writer
    }

    /// A struct timeval for SO_RCVTIMEO / SO_SNDTIMEO, in nanoseconds (0:
    /// forever, -1: never wait), as sock_set_timeout reads it.
    public static func timeout(_ value: [UInt8]) throws(Errno) -> Int64 {
        guard value.count >= 16 else { throw .EINVAL }
        let (sec, usec) = value.withUnsafeBytes { ($0.loadUnaligned(as: Int64.self), $0.loadUnaligned(fromByteOffset: 8, as: Int64.self)) }
        guard usec >= 0, usec < 1_000_000 else { throw .EDOM }
        // A negative time means "don't wait"; a huge one, forever.
        if sec < 0 { return -1 }
        let (m, o) = sec.multipliedReportingOverflow(by: 1_000_000_000)
        let (t, o2) = m.addingReportingOverflow(usec * 1000)
        return o || o2 ? 0 : t   // beyond Int64 nanoseconds: forever, as MAX_SCHEDULE_TIMEOUT
    }

    static let IPPROTO_TCP: Int32 = 6, IPPROTO_IPV6: Int32 = 41, IPV6_V6ONLY: Int32 = 26
    public static let IPPROTO_IPV6_LEVEL: Int32 = 41
    public static let IPV6_UNICAST_HOPS: Int32 = 16, IPV6_RECVHOPLIMIT: Int32 = 51, IPV6_HOPLIMIT: Int32 = 52
    public static let IPV6_RECVTCLASS: Int32 = 66, IPV6_TCLASS: Int32 = 67
    /// RFC 2292's hop-limit report (busybox ping -6 asks for it), after RFC 3542's.
    public static let IPV6_2292HOPLIMIT: Int32 = 8
    /// The IPv6 options of RFC 3542 (and IPV6_2292HOPLIMIT) kept per socket, with Linux's defaults.
    static let ipv6Defaults: [Int32: Int32] = [16: -1, 51: 0, 66: 0, 67: 0, 8: 0]
    /// net.ipv6.conf.lo.hop_limit.
    static let loopbackHopLimit: Int32 = 64

    /// What a UDPv6 datagram sent now carries: the socket's hop limit and
    /// traffic class unless the send's IPV6_HOPLIMIT / IPV6_TCLASS say
    /// otherwise (-1 there means the socket's).
    public func ipv6PacketInfo(hopLimit: Int32?, trafficClass: Int32?) -> IPv6PacketInfo? {
        guard family == C.AF_INET6 else { return nil }
        let (hops, tclass) = locked { ($0.ipv6Options[Self.IPV6_UNICAST_HOPS] ?? -1, $0.ipv6Options[Self.IPV6_TCLASS] ?? 0) }
        var h = hopLimit ?? -1
        if h < 0 { h = hops < 0 ? Self.loopbackHopLimit : hops }
        var c = trafficClass ?? -1
        if c < 0 { c = tclass }
        return IPv6PacketInfo(hopLimit: h, trafficClass: c)
    }

    /// Which of IPV6_HOPLIMIT and IPV6_TCLASS a receive reports (IPV6_RECVHOPLIMIT, IPV6_RECVTCLASS).
    public var ipv6Reports: (hopLimit: Bool, trafficClass: Bool, hopLimit2292: Bool) {
        guard family == C.AF_INET6 && kind == .datagram else { return (false, false, false) }
        return locked { ($0.ipv6Options[Self.IPV6_RECVHOPLIMIT] == 1, $0.ipv6Options[Self.IPV6_RECVTCLASS] == 1,
                         $0.ipv6Options[Self.IPV6_2292HOPLIMIT] == 1) }
    }
    static let IPPROTO_IP: Int32 = 0
    static let IP_TOS: Int32 = 1, IP_TTL: Int32 = 2, IP_MULTICAST_TTL: Int32 = 33, IP_MULTICAST_LOOP: Int32 = 34
    /// The IPv4 options kept per socket, with Linux's defaults (IP_TTL's -1: the route's).
    static let ipv4Defaults: [Int32: Int32] = [IP_TOS: 0, IP_TTL: -1, IP_MULTICAST_TTL: 1, IP_MULTICAST_LOOP: 1]
    /// ip_tos2prio: the priority of each TOS value (its bits 1-4), TC_PRIO_*.
    static let tosPriority: [Int32] = [0, 0, 0, 0, 2, 2, 2, 2, 6, 6, 6, 6, 4, 4, 4, 4]
    /// net.ipv4.ip_default_ttl.
    static let defaultTTL: Int32 = 64
    /// INET_ECN_MASK: the two low bits of the TOS byte.
    static let ecnMask: Int32 = 3
    static let TCP_NODELAY: Int32 = 1
    /// TCP options recorded on loopback connections, with Linux's defaults:
    /// TCP_NODELAY, TCP_KEEPIDLE, TCP_KEEPINTVL, TCP_KEEPCNT.
    static let tcpDefaults: [Int32: Int32] = [1: 0, 4: 7200, 5: 75, 6: 9]

    /// SO_RCVTIMEO / SO_SNDTIMEO in nanoseconds: 0 waits forever, -1 not at all.
    public var receiveTimeout: Int64 { locked { $0.receiveTimeout } }
    /// SO_RCVLOWAT: the bytes a blocking stream read waits for (sock_rcvlowat).
    public var receiveLowWater: Int { Int(locked { $0.receiveLowWater }) }
    /// net.ipv4.tcp_rmem's maximum (Debian 12's default), which caps SO_RCVLOWAT on TCP.
    static let tcpMaxReceiveBuffer = 6_291_456

    /// TCP's readability with SO_RCVLOWAT (tcp_epollin_ready, SOCK_DONE): the
    /// mark's worth arrived, or the end, an error or nothing to wait for.
    public var tcpReadableAtLowWater: Bool {
        locked { s in
            s.receiveLowWater <= 1 || Self.tcpArrived(s.rx.bytes, s) >= Int(s.receiveLowWater)
                || s.shutRead || s.error != nil || s.phase != .connected
        }
    }
    public var sendTimeout: Int64 { locked { $0.sendTimeout } }
}
