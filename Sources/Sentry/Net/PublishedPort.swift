import Glibc

/// `sentry run --publish [HOSTIP:]HOSTPORT:GUESTPORT[/tcp|/udp]`, as
/// docker's `-p`: a host port, on the host's loopback unless an address is
/// given, whose traffic the sentry carries to the guest's port on the
/// sandbox loopback (`PortForwarder`).
public struct PublishedPort: Sendable, Equatable {
    /// The host address, as inet_pton reads it (IPv6 without brackets).
    public var hostIP: String
    public var hostPort: UInt16
    public var guestPort: UInt16
    public var udp: Bool

    public init(hostIP: String = "127.0.0.1", hostPort: UInt16, guestPort: UInt16, udp: Bool = false) {
        self.hostIP = hostIP; self.hostPort = hostPort; self.guestPort = guestPort; self.udp = udp
    }

    /// Parses a `--publish` value; nil if it is not one. An IPv6 host
    /// address goes in brackets: `[::1]:8080:80`.
    public static func parse(_ spec: String) -> PublishedPort? {
        var rest = Substring(spec)
        var udp = false
        if let slash = rest.lastIndex(of: "/") {
            switch rest[rest.index(after: slash)...] {
            case "tcp": break
            case "udp": udp = true
            default: return nil
            }
            rest = rest[..<slash]
        }
        var ip = "127.0.0.1"
        if rest.hasPrefix("[") {
            guard let close = rest.firstIndex(of: "]"), rest[rest.index(after: close)...].hasPrefix(":") else { return nil }
            ip = String(rest[rest.index(after: rest.startIndex)..<close])
            rest = rest[rest.index(close, offsetBy: 2)...]
        }
        let parts = rest.split(separator: ":", omittingEmptySubsequences: false)
        if parts.count == 3 {
            guard !rest.hasPrefix("[") else { return nil }
            ip = String(parts[0])
        } else if parts.count != 2 { return nil }
        guard let host = UInt16(parts[parts.count - 2]), let guest = UInt16(parts[parts.count - 1]), host != 0, guest != 0,
              hostSockaddr(ip, port: host) != nil else { return nil }
        return PublishedPort(hostIP: ip, hostPort: host, guestPort: guest, udp: udp)
    }

    /// The host's sockaddr_in or sockaddr_in6 for `ip:port`, or nil if `ip` is not an address.
    static func hostSockaddr(_ ip: String, port: UInt16) -> [UInt8]? {
        var a4 = in_addr()
        if inet_pton(AF_INET, ip, &a4) == 1 {
            var sa = sockaddr_in()
            sa.sin_family = sa_family_t(AF_INET); sa.sin_port = port.bigEndian; sa.sin_addr = a4
            return withUnsafeBytes(of: sa) { Array($0) }
        }
        var a6 = in6_addr()
        if inet_pton(AF_INET6, ip, &a6) == 1 {
            var sa = sockaddr_in6()
            sa.sin6_family = sa_family_t(AF_INET6); sa.sin6_port = port.bigEndian; sa.sin6_addr = a6
            return withUnsafeBytes(of: sa) { Array($0) }
        }
        return nil
    }

    /// `[ip]:port` or `ip:port`, for messages.
    public var hostDescription: String { (hostIP.contains(":") ? "[\(hostIP)]" : hostIP) + ":\(hostPort)" }
}
