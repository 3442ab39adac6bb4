import Glibc
import Synchronization

/// The sandbox's own loopback network: AF_INET ports on 127.0.0.0/8 (a
/// socket bound to 0.0.0.0 is reached through any of them), one port table
/// for TCP and one for UDP. Nothing here touches the host's network.
public final class Loopback: Sendable {
    struct Binding {
        let endpoint: SocketEndpoint
        let ip: UInt32
        let reuse: Bool
    }
    private struct State {
        var tcp: [UInt16: [Binding]] = [:]
        var udp: [UInt16: [Binding]] = [:]
        var nextEphemeral: UInt16 = Loopback.ephemeral.lowerBound
    }
    private let state = Mutex(State())
    /// net.ipv4.ip_local_port_range's default.
    static let ephemeral: ClosedRange<UInt16> = 32768...60999

    public init() {}

    /// Binds `e` to `ip:port` (port 0: an ephemeral one). EADDRNOTAVAIL off
    /// the loopback, EADDRINUSE if another socket holds the port unless both
    /// asked for SO_REUSEADDR and (TCP) the holder is not listening.
    func bind(_ e: SocketEndpoint, ip: UInt32, port: UInt16, tcp: Bool, reuse: Bool) throws(Errno) -> InetAddress {
        guard ip == InetAddress.any || ip >> 24 == 127 else { throw .EADDRNOTAVAIL }
        if port != 0 && port < 1024 && geteuid() != 0 { throw .EACCES }
        return try state.withLock { (s: inout State) throws(Errno) -> InetAddress in
            var table = tcp ? s.tcp : s.udp
            var chosen = port
            if chosen == 0 {
                let span = Int(Self.ephemeral.upperBound - Self.ephemeral.lowerBound) + 1
                for _ in 0..<span {
                    let p = s.nextEphemeral
                    s.nextEphemeral = p >= Self.ephemeral.upperBound ? Self.ephemeral.lowerBound : p + 1
                    if table[p, default: []].isEmpty { chosen = p; break }
                }
                guard chosen != 0 else { throw .EADDRINUSE }
            } else {
                for b in table[chosen, default: []] where b.ip == ip || b.ip == InetAddress.any || ip == InetAddress.any {
                    let shareable = reuse && b.reuse && (!tcp || b.endpoint.phase != .listening)
                    if !shareable { throw .EADDRINUSE }
                }
            }
            table[chosen, default: []].append(Binding(endpoint: e, ip: ip, reuse: reuse))
            if tcp { s.tcp = table } else { s.udp = table }
            return InetAddress(ip: ip, port: chosen)
        }
    }

    func unbind(_ e: SocketEndpoint, port: UInt16, tcp: Bool) {
        state.withLock { s in
            if tcp { s.tcp[port]?.removeAll { $0.endpoint === e } } else { s.udp[port]?.removeAll { $0.endpoint === e } }
        }
    }

    /// The socket a packet to `ip:port` reaches: a listener (TCP) or any
    /// bound socket (UDP), the exact address before the wildcard.
    func find(ip: UInt32, port: UInt16, tcp: Bool) -> SocketEndpoint? {
        let candidates = state.withLock { s in (tcp ? s.tcp[port] : s.udp[port]) ?? [] }
        let live = candidates.filter { !tcp || $0.endpoint.phase == .listening }
        return (live.first { $0.ip == ip } ?? live.first { $0.ip == InetAddress.any })?.endpoint
    }
}
