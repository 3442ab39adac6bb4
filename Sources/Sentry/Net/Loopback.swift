import Glibc
import Synchronization

/// The sandbox's own loopback network: AF_INET ports on 127.0.0.0/8 (a
/// socket bound to 0.0.0.0 is reached through any of them), one port table
/// per protocol (TCP, UDP, UDP-Lite). Nothing here touches the host's network.
public final class Loopback: Sendable {
    struct Binding {
        let endpoint: SocketEndpoint
        let ip: InetAddress
        let reuse: Bool
        let v6only: Bool

        /// Whether a packet to `dest` reaches this binding: its own address,
        /// or a wildcard of the right kind (:: takes IPv4 too unless IPV6_V6ONLY).
        func accepts(_ dest: InetAddress) -> Bool {
            if ip.sameIP(dest) { return true }
            guard ip.isAny else { return false }
            return ip.isV4 ? dest.isV4 : (!dest.isV4 || !v6only)
        }
    }
    private struct State {
        /// Protocol number, then port.
        var tables: [Int32: [UInt16: [Binding]]] = [:]
        var nextEphemeral: UInt16 = Loopback.ephemeral.lowerBound
    }
    private let state = Mutex(State())
    static let tcp: Int32 = 6
    /// net.ipv4.ip_local_port_range's default.
    static let ephemeral: ClosedRange<UInt16> = 32768...60999

    /// What crossed `lo` (/proc/net/dev): bytes and sends, every one counted
    /// once, since on a loopback each sent byte is also received.
    private let counters = Mutex((bytes: UInt64(0), packets: UInt64(0)))
    public var traffic: (bytes: UInt64, packets: UInt64) { counters.withLock { $0 } }
    public func count(bytes: Int) {
        counters.withLock { $0.bytes &+= UInt64(bytes); $0.packets &+= 1 }
    }

    /// Raw and ping sockets, and the ICMP the loopback answers (LoopbackICMP.swift).
    public let icmp = LoopbackICMP()

    public init() {}

    /// The port the next ephemeral bind tries first: a checkpoint keeps it,
    /// so a restored guest's next port is the one it would have had.
    var nextEphemeralPort: UInt16 {
        get { state.withLock { $0.nextEphemeral } }
        set { state.withLock { $0.nextEphemeral = Self.ephemeral.contains(newValue) ? newValue : Self.ephemeral.lowerBound } }
    }

    /// Binds `e` to `ip:port` (port 0: an ephemeral one). EADDRNOTAVAIL off
    /// the loopback, EADDRINUSE if another socket of protocol `proto` holds
    /// an overlapping address unless both asked for SO_REUSEADDR and (TCP)
    /// the holder is not listening.
    func bind(_ e: SocketEndpoint, ip: InetAddress, proto: Int32, reuse: Bool, v6only: Bool, privileged: Bool) throws(Errno) -> InetAddress {
        let tcp = proto == Self.tcp
        guard ip.isAny || ip.isLoopback else { throw .EADDRNOTAVAIL }
        // Ports below ip_unprivileged_port_start (1024) need CAP_NET_BIND_SERVICE.
        if ip.port != 0 && ip.port < 1024 && !privileged { throw .EACCES }
        return try state.withLock { (s: inout State) throws(Errno) -> InetAddress in
            var table = s.tables[proto, default: [:]]
            let mine = Binding(endpoint: e, ip: ip, reuse: reuse, v6only: v6only)
            var chosen = ip.port
            if chosen == 0 {
                let span = Int(Self.ephemeral.upperBound - Self.ephemeral.lowerBound) + 1
                for _ in 0..<span {
                    let p = s.nextEphemeral
                    s.nextEphemeral = p >= Self.ephemeral.upperBound ? Self.ephemeral.lowerBound : p + 1
                    if table[p, default: []].isEmpty { chosen = p; break }
                }
                guard chosen != 0 else { throw .EADDRINUSE }
            } else {
                for b in table[chosen, default: []] where b.accepts(ip) || mine.accepts(b.ip) {
                    let shareable = reuse && b.reuse && (!tcp || b.endpoint.phase != .listening)
                    if !shareable { throw .EADDRINUSE }
                }
            }
            table[chosen, default: []].append(mine)
            s.tables[proto] = table
            return ip.with(port: chosen)
        }
    }

    /// A restored socket takes back the exact address it held: no port
    /// check (the image's sockets held them together), no ephemeral choice.
    func restoreBinding(_ e: SocketEndpoint, at a: InetAddress, proto: Int32, reuse: Bool, v6only: Bool) {
        state.withLock { s in
            s.tables[proto, default: [:]][a.port, default: []].append(Binding(endpoint: e, ip: a, reuse: reuse, v6only: v6only))
        }
    }

    func unbind(_ e: SocketEndpoint, port: UInt16, proto: Int32) {
        state.withLock { s in _ = s.tables[proto]?[port]?.removeAll { $0.endpoint === e } }
    }

    /// The sockets bound at `port` for protocol `proto`.
    func bindings(port: UInt16, proto: Int32) -> [Binding] {
        state.withLock { s in s.tables[proto]?[port] ?? [] }
    }

    /// The socket a packet to `dest` reaches: a listener (TCP) or any bound
    /// socket (UDP, UDP-Lite), the exact address before a wildcard.
    func find(_ dest: InetAddress, proto: Int32) -> SocketEndpoint? {
        let tcp = proto == Self.tcp
        let candidates = bindings(port: dest.port, proto: proto)
        let live = candidates.filter { $0.accepts(dest) && (!tcp || $0.endpoint.phase == .listening) && $0.endpoint.hearsLoopback }
        return (live.first { $0.ip.sameIP(dest) } ?? live.first)?.endpoint
    }
}
