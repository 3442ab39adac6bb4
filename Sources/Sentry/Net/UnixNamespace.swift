import Glibc
import Synchronization

/// Where AF_UNIX names live in one sandbox: the abstract namespace, and the
/// socket inodes bind(2) made in the guest's tree, keyed by (device, inode)
/// so any path to the node finds its socket. The host never sees a listening
/// socket: a node on a host mount is only a name (mknod S_IFSOCK), the
/// socket behind it is the sentry's.
public final class UnixNamespace: Sendable {
    public struct NodeKey: Hashable, Sendable { let device: UInt64, inode: UInt64 }
    private struct State {
        var abstract: [[UInt8]: SocketEndpoint] = [:]
        var nodes: [NodeKey: SocketEndpoint] = [:]
        var autobindNext: UInt32 = 0
        var netlinkPorts: [UInt32: ObjectIdentifier] = [:]
        var netlinkNext: UInt32 = 0xffff_f000   // -4096, where netlink_autobind starts after the pid
        var lastSocketCookie: UInt64 = 0
    }
    private let state = Mutex(State())
    /// SO_NETNS_COOKIE: the sandbox's one network namespace's (Linux numbers
    /// namespaces from 1 at boot; the host's first is 1, so the sandbox's is 2).
    public let netnsCookie: UInt64 = 2

    /// SO_COOKIE's counter: 1, 2, ... in the order sockets are first asked.
    func nextSocketCookie() -> UInt64 {
        state.withLock { s in s.lastSocketCookie &+= 1; return s.lastSocketCookie }
    }

    /// A restored socket's cookie: later ones are numbered past it.
    func noteSocketCookie(_ c: UInt64) {
        state.withLock { s in s.lastSocketCookie = max(s.lastSocketCookie, c) }
    }

    /// The sandbox's AF_INET ports live next to its AF_UNIX names.
    public let loopback = Loopback()
    /// Descriptors sent with SCM_RIGHTS and not yet received. Linux refuses
    /// more than RLIMIT_NOFILE in flight (too_many_unix_fds); here the
    /// limit holds for every sender, privileged or not, since a socket
    /// queued inside itself is never freed and must not grow the sentry.
    public let rightsInFlight = Atomic<Int>(0)

    /// Every open socket of the sandbox, for /proc/net; weak, so a listing
    /// never keeps one alive.
    /// Sendable: read and written only under `live`'s lock.
    private struct Weak: @unchecked Sendable { weak var endpoint: SocketEndpoint? }
    private struct Live {
        var all: [ObjectIdentifier: Weak] = [:]
        /// When to drop entries of endpoints freed without a close (never
        /// accepted from a listener that went first): amortised, at doublings.
        var pruneAt = 1024
    }
    private let live = Mutex(Live())

    public init() {}

    /// The number of the next autobind name: a checkpoint keeps it.
    var nextAutobind: UInt32 {
        get { state.withLock { $0.autobindNext } }
        set { state.withLock { $0.autobindNext = newValue } }
    }

    func register(_ e: SocketEndpoint) {
        live.withLock { l in
            if l.all.count >= l.pruneAt {
                l.all = l.all.filter { $0.value.endpoint != nil }
                l.pruneAt = max(1024, 2 * l.all.count)
            }
            l.all[ObjectIdentifier(e)] = Weak(endpoint: e)
        }
    }
    func unregister(_ e: SocketEndpoint) { live.withLock { _ = $0.all.removeValue(forKey: ObjectIdentifier(e)) } }

    /// The open sockets, oldest (lowest inode) first.
    public var sockets: [SocketEndpoint] {
        live.withLock { $0.all.values.compactMap(\.endpoint) }.filter { $0.phase != .closed }.sorted { $0.inode < $1.inode }
    }

    /// Binds an abstract name; EADDRINUSE if taken. `.unnamed` autobinds:
    /// five hex digits, as Linux's unix_autobind picks.
    func bindAbstract(_ e: SocketEndpoint, _ name: [UInt8]?) throws(Errno) -> UnixAddress {
        try state.withLock { (s: inout State) throws(Errno) -> UnixAddress in
            var chosen = name
            if chosen == nil {
                for _ in 0..<0x100000 {
                    let hex = String(s.autobindNext & 0xfffff, radix: 16)
                    let candidate = Array((String(repeating: "0", count: 5 - hex.count) + hex).utf8)
                    s.autobindNext &+= 1
                    if s.abstract[candidate] == nil { chosen = candidate; break }
                }
                guard chosen != nil else { throw .ENOSPC }
            }
            guard s.abstract[chosen!] == nil else { throw .EADDRINUSE }
            s.abstract[chosen!] = e
            return .abstract(chosen!)
        }
    }

    func bindNode(_ e: SocketEndpoint, _ key: NodeKey) throws(Errno) {
        try state.withLock { (s: inout State) throws(Errno) in
            guard s.nodes[key] == nil else { throw .EADDRINUSE }
            s.nodes[key] = e
        }
    }

    /// A netlink port id: `port`, or (0) the pid if free, else a negative one.
    func bindNetlink(_ e: SocketEndpoint, port: UInt32, pid: Int32) throws(Errno) -> UInt32 {
        try state.withLock { (s: inout State) throws(Errno) -> UInt32 in
            var chosen = port
            if chosen == 0 {
                chosen = UInt32(bitPattern: pid)
                while s.netlinkPorts[chosen] != nil || chosen == 0 {
                    chosen = s.netlinkNext
                    s.netlinkNext = s.netlinkNext <= 0x8000_0000 ? 0xffff_f000 : s.netlinkNext - 1
                }
            } else if s.netlinkPorts[chosen] != nil {
                throw .EADDRINUSE
            }
            s.netlinkPorts[chosen] = ObjectIdentifier(e)
            return chosen
        }
    }

    func lookupAbstract(_ name: [UInt8]) -> SocketEndpoint? { state.withLock { $0.abstract[name] } }
    func lookupNode(_ key: NodeKey) -> SocketEndpoint? { state.withLock { $0.nodes[key] } }

    func unbind(_ e: SocketEndpoint, address: SocketAddress?, node: NodeKey?) {
        state.withLock { s in
            if case .unix(.abstract(let n))? = address, s.abstract[n] === e { s.abstract[n] = nil }
            if let node, s.nodes[node] === e { s.nodes[node] = nil }
            if case .netlink(let p, _)? = address, s.netlinkPorts[p] == ObjectIdentifier(e) { s.netlinkPorts[p] = nil }
        }
    }
}
