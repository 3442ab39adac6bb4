import Glibc

/// One socket of the sandbox's own (AF_UNIX, or TCP/UDP on the sandbox
/// loopback) as an image keeps it: Linux's `unix_sock` fields the sentry
/// models, its receive queue (each message's unread length, descriptors,
/// credentials, sender), its backlog of connections not yet accepted, and
/// its peer, each socket named by its index in `sockets` (version 3).
public struct SocketImage: Codable, Sendable, Equatable {
    /// "stream", "datagram", "seqpacket"; "idle", "listening", "connected", "closed".
    public var kind: String
    public var family: Int32
    public var proto: Int32
    public var phase: String
    public var address: SocketAddressImage?
    /// A path-bound AF_UNIX socket's node, by its guest path at the checkpoint
    /// (nil: the node was unlinked, so no connect can find it again).
    public var boundPath: String?
    public var peer: Int?
    /// A UDP socket's connected destination.
    public var inetPeer: SocketAddressImage?
    public var backlog: [Int]
    public var backlogLimit: Int
    public var shutRead: Bool, shutWrite: Bool
    public var error: Int32?
    public var passCredentials: Bool
    public var sendBuffer: Int, receiveBuffer: Int
    /// pid, uid, gid.
    public var peerCredentials: [UInt32]?
    public var listenCredentials: [UInt32]?
    public var receiveTimeout: Int64, sendTimeout: Int64
    public var linger: [Int32]
    public var ipv6Options: [Int32: Int32]
    /// Absent in images written before the IPv4 options were kept.
    public var ipv4Options: [Int32: Int32]?
    public var flagOptions: [Int32]
    public var tcpOptions: [Int32: Int32]
    public var peerClosed: Bool, connecting: Bool, reset: Bool, v6only: Bool
    /// A connection's server half (it shares its listener's port).
    public var accepted: Bool
    public var owner: UInt32
    public var messages: [SocketMessageImage]
    /// The unread bytes of every message, in order (files.bin).
    public var contents: StoredRun
    /// Its inode number (socket:[N]; absent in older images: a new one).
    public var inode: UInt64? = nil
    /// A stream's out-of-band state; absent when it has none (and in images
    /// written before it was kept, whose urgent bytes come back as data).
    public var urgent: UrgentImage?
    /// A raw socket (SOCK_RAW; absent: not one). A ping socket is a datagram
    /// one of IPPROTO_ICMP or IPPROTO_ICMPV6.
    public var raw: Bool? = nil
    /// An inet socket's raw and ping options and IP_RECVERR with its error
    /// queue; absent when all are as a new socket has them.
    public var icmp: ICMPSocketImage? = nil
    /// SO_RCVLOWAT's mark (absent: 1, as a new socket's, and in older
    /// images), and whether SO_RCVBUF and SO_SNDBUF were set
    /// (SOCK_RCVBUF_LOCK, which keeps the mark from growing a TCP socket's
    /// buffer, and SOCK_SNDBUF_LOCK, as SO_BUF_LOCK reads them; absent: not).
    public var receiveLowWater: Int32? = nil
    public var receiveBufferLocked: Bool? = nil
    public var sendBufferLocked: Bool? = nil
    /// SOL_SOCKET values recorded without an effect (SO_PRIORITY, SO_MARK,
    /// ...), the device it is bound to, its receive timestamps (on,
    /// nanoseconds, new), its drops and its SO_COOKIE; absent: a new socket's.
    public var recordedOptions: [Int32: Int32]? = nil
    public var boundDevice: Int32? = nil
    public var timestamps: [Bool]? = nil
    public var drops: Int? = nil
    public var cookie: UInt64? = nil
}

/// What raw and ping sockets keep beyond a datagram socket's state (the
/// sentry's ICMPSocketOptions): IP_HDRINCL, the ICMP filters, IP_RECVERR and
/// the ICMP errors queued for MSG_ERRQUEUE.
public struct ICMPSocketImage: Codable, Sendable, Equatable {
    public var headerIncluded: Bool
    public var icmpFilter: UInt32
    public var icmp6Filter: [UInt8]
    public var receiveErrors: Bool
    public var errors: [ICMPErrorImage]

    public struct ICMPErrorImage: Codable, Sendable, Equatable {
        public var errno: Int32
        public var type: UInt8, code: UInt8
        public var offender: SocketAddressImage, destination: SocketAddressImage
        public var payload: [UInt8]
        public var v6: Bool
    }

    /// nil for a new socket's options.
    init?(_ o: ICMPSocketOptions) throws(CheckpointError) {
        let fresh = ICMPSocketOptions()
        guard o.headerIncluded != fresh.headerIncluded || o.icmpFilter != fresh.icmpFilter || o.icmp6Filter != fresh.icmp6Filter
                || o.receiveErrors != fresh.receiveErrors || !o.errorQueue.isEmpty else { return nil }
        headerIncluded = o.headerIncluded; icmpFilter = o.icmpFilter; icmp6Filter = o.icmp6Filter; receiveErrors = o.receiveErrors
        errors = []
        for e in o.errorQueue {
            errors.append(ICMPErrorImage(errno: e.errno.rawValue, type: e.type, code: e.code, offender: try SocketAddressImage(.inet(e.offender)),
                                         destination: try SocketAddressImage(.inet(e.destination)), payload: e.payload, v6: e.v6))
        }
    }

    /// The options again, checked as setsockopt and the loopback would have made them.
    func options() throws(CheckpointError) -> ICMPSocketOptions {
        guard icmp6Filter.count == 32, errors.count <= 1 << 16 else { throw .corrupt("a raw or ping socket's options") }
        var o = ICMPSocketOptions()
        o.headerIncluded = headerIncluded; o.icmpFilter = icmpFilter; o.icmp6Filter = icmp6Filter; o.receiveErrors = receiveErrors
        for e in errors {
            guard e.errno > 0, e.payload.count <= 1 << 16, case .inet(let offender) = try e.offender.address(),
                  case .inet(let destination) = try e.destination.address() else { throw .corrupt("a queued ICMP error") }
            o.errorQueue.append(ICMPErrorReport(errno: Errno(rawValue: e.errno), type: e.type, code: e.code, offender: offender,
                                                destination: destination, payload: e.payload, v6: e.v6))
        }
        return o
    }
}

/// Where a stream's urgent mark stands (Net/UrgentData.swift): the urgent
/// byte's distance from the read position, whether TCP's was taken, and
/// the places of AF_UNIX's consumed oob_skbs.
public struct UrgentImage: Codable, Sendable, Equatable {
    public var distance: Int?
    public var taken: Bool
    public var consumed: [Int]
}

public struct SocketMessageImage: Codable, Sendable, Equatable {
    /// Its unread bytes.
    public var length: Int
    /// SCM_RIGHTS descriptors, by index in `files`.
    public var rights: [Int]
    public var credentials: [UInt32]?
    public var from: SocketAddressImage?
    /// The socket charged for it until it is read (SO_SNDBUF), by index.
    public var sender: Int?
    /// A UDPv6 datagram's hop limit and traffic class.
    public var ipv6: [Int32]?
    /// A UDP datagram whose checksum fails, to be dropped at the read; nil: false.
    public var badChecksum: Bool?
    /// An AF_UNIX stream write's page fragments (Linux's last skb of it),
    /// which a splice may still add to (absent: none, and in older images).
    public var pageFrags: Int? = nil
    /// Its arrival stamp (SO_TIMESTAMP) and SO_RXQ_OVFL count; nil: none.
    public var arrival: Int64? = nil
    public var dropCount: UInt32? = nil
}

/// A socket address: an AF_UNIX one as getsockname encodes it, or an inet one.
public struct SocketAddressImage: Codable, Sendable, Equatable {
    public var unix: [UInt8]?
    /// high, low, port, family.
    public var inet: [UInt64]?
    /// A netlink socket's port id and multicast groups.
    public var netlink: [UInt32]? = nil

    init(_ a: SocketAddress) throws(CheckpointError) {
        switch a {
        case .unix(let u): unix = u.encoded
        case .inet(let i): inet = [i.high, i.low, UInt64(i.port), UInt64(UInt32(bitPattern: i.family))]
        case .netlink(let port, let groups): netlink = [port, groups]
        }
    }

    func address() throws(CheckpointError) -> SocketAddress {
        if let netlink {
            guard netlink.count == 2 else { throw .corrupt("a netlink socket address") }
            return .netlink(port: netlink[0], groups: netlink[1])
        }
        if let unix {
            do { return .unix(try UnixAddress.parse(unix)) } catch { throw .corrupt("a unix socket address") }
        }
        guard let inet, inet.count == 4, inet[2] <= UInt64(UInt16.max),
              [SocketConstants.AF_INET, SocketConstants.AF_INET6].contains(Int32(truncatingIfNeeded: inet[3])) else {
            throw .corrupt("a socket address")
        }
        return .inet(InetAddress(high: inet[0], low: inet[1], port: UInt16(inet[2]), family: Int32(truncatingIfNeeded: inet[3])))
    }
}

/// Gathers the sockets a frozen sandbox holds: those its descriptions
/// name, and every one reachable from them (peers, backlogs, the
/// descriptors queued in messages, whose descriptions it has `describe` add).
final class SocketCollector {
    private var index: [ObjectIdentifier: Int] = [:]
    private(set) var endpoints: [SocketEndpoint] = []
    /// Held by a description or a listener's backlog: a socket reached only
    /// as a peer and not closed is someone else's (a --publish forwarder's).
    private var held = Set<ObjectIdentifier>()

    /// The socket's index, added if new.
    func find(_ e: SocketEndpoint) -> Int {
        if let i = index[ObjectIdentifier(e)] { return i }
        endpoints.append(e)
        index[ObjectIdentifier(e)] = endpoints.count - 1
        return endpoints.count - 1
    }

    func hold(_ e: SocketEndpoint) -> Int {
        held.insert(ObjectIdentifier(e))
        return find(e)
    }

    /// Every socket's image; `describe` gives a queued descriptor's index in
    /// the image's files (and may hold more sockets). Endpoint locks are
    /// taken one at a time, as everywhere.
    func images(store: DataFileWriter, names: UnixNamespace, describe: (FileDescription) throws(CheckpointError) -> Int) throws(CheckpointError) -> [SocketImage] {
        var owners: [ObjectIdentifier: SocketEndpoint] = [:]
        for e in names.sockets { owners[ObjectIdentifier(e.account)] = e }
        var out: [SocketImage] = []
        var i = 0
        while i < endpoints.count {
            let e = endpoints[i]
            i += 1
            // The state (its queue's ring is a reference: read here, under the lock) and the queued bytes.
            let (s, bytes, pending) = e.locked { st -> (SocketEndpoint.State, [UInt8], [SocketMessage]) in
                let n = st.rx.bytes
                var bytes = [UInt8](repeating: 0, count: n)
                if n > 0 { bytes.withUnsafeMutableBytes { st.rx.copy(n, into: [$0]) } }
                return (st, bytes, Array(st.rx.pending))
            }
            if s.phase != .closed && !held.contains(ObjectIdentifier(e)) {
                throw .immovable("a loopback connection from a published port", why: "its other end is the sentry's forwarder of a host connection")
            }
            var messages: [SocketMessageImage] = []
            for m in pending {
                var rights: [Int] = []
                for f in m.rights { rights.append(try describe(f)) }
                // A sender that closed since is charged no more (its account is nobody's).
                let sender = m.sender.flatMap { owners[ObjectIdentifier($0)] }.map { find($0) }
                messages.append(SocketMessageImage(length: m.remaining, rights: rights, credentials: m.credentials.map(Self.words),
                                                   from: try m.from.map { (a) throws(CheckpointError) in try SocketAddressImage(a) },
                                                   sender: sender, ipv6: m.ipv6.map { [$0.hopLimit, $0.trafficClass] },
                                                   badChecksum: m.badChecksum ? true : nil, pageFrags: m.pageFrags == 0 ? nil : m.pageFrags,
                                                   arrival: m.arrival == 0 ? nil : m.arrival, dropCount: m.dropCount == 0 ? nil : m.dropCount))
            }
            var boundPath: String?
            if let loc = s.boundLocation, !loc.isDeleted { boundPath = loc.path }
            let icmp: ICMPSocketImage? = try e.isInet ? ICMPSocketImage(s.icmp) : nil
            out.append(SocketImage(
                kind: Self.name(e.kind), family: e.family, proto: e.proto, phase: Self.name(s.phase),
                address: try s.address.map { (a) throws(CheckpointError) in try SocketAddressImage(a) }, boundPath: boundPath,
                peer: s.peer.map { find($0) }, inetPeer: try s.inetPeer.map { (a) throws(CheckpointError) in try SocketAddressImage(.inet(a)) },
                backlog: s.backlog.map { hold($0) }, backlogLimit: s.backlogLimit, shutRead: s.shutRead, shutWrite: s.shutWrite,
                error: s.error?.rawValue, passCredentials: s.passCredentials, sendBuffer: s.sendBuffer, receiveBuffer: s.receiveBuffer,
                peerCredentials: s.peerCredentials.map(Self.words), listenCredentials: s.listenCredentials.map(Self.words),
                receiveTimeout: s.receiveTimeout, sendTimeout: s.sendTimeout, linger: [s.linger.on ? 1 : 0, s.linger.seconds],
                ipv6Options: s.ipv6Options, ipv4Options: s.ipv4Options, flagOptions: s.flagOptions.sorted(), tcpOptions: s.tcpOptions,
                peerClosed: s.peerClosed, connecting: s.connecting, reset: s.reset, v6only: s.v6only,
                accepted: e.isAccepted, owner: e.owner, messages: messages, contents: try store.append(bytes: bytes), inode: e.inode,
                urgent: s.urgent == nil && s.consumedOOB.isEmpty ? nil
                    : UrgentImage(distance: s.urgent?.distance, taken: s.urgent?.taken ?? false, consumed: s.consumedOOB),
                raw: e.isRaw ? true : nil, icmp: icmp,
                receiveLowWater: s.receiveLowWater == 1 ? nil : s.receiveLowWater, receiveBufferLocked: s.receiveBufferSet ? true : nil,
                sendBufferLocked: s.sendBufferSet ? true : nil,
                recordedOptions: s.recordedOptions.isEmpty ? nil : s.recordedOptions,
                boundDevice: s.boundDevice == 0 ? nil : s.boundDevice,
                timestamps: s.timestamps.on || s.timestamps.nanoseconds ? [s.timestamps.on, s.timestamps.nanoseconds, s.timestamps.new] : nil,
                drops: s.drops == 0 ? nil : s.drops, cookie: s.cookie == 0 ? nil : s.cookie))
        }
        return out
    }

    static func words(_ c: SocketCredentials) -> [UInt32] { [UInt32(bitPattern: c.pid), c.uid, c.gid] }
    static func name(_ k: SocketEndpoint.Kind) -> String {
        switch k { case .stream: "stream"; case .datagram: "datagram"; case .seqpacket: "seqpacket" }
    }
    static func name(_ p: SocketEndpoint.Phase) -> String {
        switch p { case .idle: "idle"; case .listening: "listening"; case .connected: "connected"; case .closed: "closed" }
    }
}

/// Rebuilds the image's sockets in a new sandbox: first the endpoints
/// (descriptions are made over them), then, once every description exists,
/// their state, queues (with their descriptors), names and links.
struct SocketRestorer {
    let images: [SocketImage]
    let names: UnixNamespace
    var endpoints: [SocketEndpoint] = []

    init(_ images: [SocketImage], names: UnixNamespace) throws(CheckpointError) {
        self.images = images
        self.names = names
        guard images.count <= 1 << 20 else { throw .corrupt("\(images.count) sockets") }
        var inodes = Set<UInt64>()
        for (i, s) in images.enumerated() {
            let kind: SocketEndpoint.Kind
            switch s.kind {
            case "stream": kind = .stream
            case "datagram": kind = .datagram
            case "seqpacket": kind = .seqpacket
            default: throw .corrupt("socket \(i): kind \(s.kind)")
            }
            let inet = s.family == SocketConstants.AF_INET || s.family == SocketConstants.AF_INET6
            let netlink = s.family == SocketConstants.AF_NETLINK
            let raw = s.raw ?? false
            let ping = [LoopbackICMP.IPPROTO_ICMP, LoopbackICMP.IPPROTO_ICMPV6].contains(s.proto)
            guard s.family == SocketConstants.AF_UNIX || inet || netlink, !raw || inet,
                  // Raw: a datagram socket of any IP protocol (inet_create's SOCK_RAW); ping: a datagram one of ICMP.
                  raw ? kind == .datagram && (0...255).contains(s.proto)
                    : inet ? (kind == .stream ? s.proto == Loopback.tcp : ([17, 136].contains(s.proto) || ping) && kind == .datagram)
                    : netlink ? kind == .datagram && [NetlinkRoute.NETLINK_ROUTE, SockDiag.NETLINK_SOCK_DIAG].contains(s.proto)
                    : s.proto == 0 else {
                throw .corrupt("socket \(i): family \(s.family), protocol \(s.proto)")
            }
            // Its number again, unique among the image's.
            if let n = s.inode {
                guard n > 0, inodes.insert(n).inserted else { throw .corrupt("socket \(i): inode \(n)") }
                SocketEndpoint.continueInodes(from: n + 1)
            }
            endpoints.append(SocketEndpoint(kind: kind, names: names, family: s.family, proto: s.proto, raw: raw, inode: s.inode))
        }
    }

    func endpoint(_ i: Int?, _ what: String) throws(CheckpointError) -> SocketEndpoint {
        guard let i, endpoints.indices.contains(i) else { throw .corrupt("\(what) names socket \(i.map(String.init) ?? "none")") }
        return endpoints[i]
    }

    /// Everything else, once `files` holds every description.
    func finish(files: [FileDescription], read: (StoredRun) throws(CheckpointError) -> [UInt8],
                vfs: VFS, _ boot: BootContext) throws(CheckpointError) {
        var rights = 0
        for (i, s) in images.enumerated() {
            let e = endpoints[i]
            let what = "socket \(i)"
            let phase: SocketEndpoint.Phase
            switch s.phase {
            case "idle": phase = .idle
            case "listening": phase = .listening
            case "connected": phase = .connected
            case "closed": phase = .closed
            default: throw .corrupt("\(what): phase \(s.phase)")
            }
            let bufferRange = min(SocketEndpoint.minSendBuffer, SocketEndpoint.minReceiveBuffer)...(2 * SocketEndpoint.maxBuffer)
            guard bufferRange.contains(s.sendBuffer), bufferRange.contains(s.receiveBuffer), s.linger.count == 2,
                  (0...SocketConstants.somaxconn).contains(s.backlogLimit), s.backlog.count <= s.backlogLimit + 1,
                  phase == .listening || s.backlog.isEmpty, s.receiveTimeout >= -1, s.sendTimeout >= -1,
                  s.peerCredentials.map({ $0.count == 3 }) ?? true, s.listenCredentials.map({ $0.count == 3 }) ?? true,
                  (s.receiveLowWater ?? 1) >= 1, (s.boundDevice ?? 0) >= 0, (0...Int(Int32.max)).contains(s.drops ?? 0),
                  (s.cookie ?? 0) < 1 << 62,
                  s.timestamps.map({ $0.count == 3 }) ?? true else {
                throw .corrupt(what)
            }
            let address = try s.address?.address()
            let peer = try s.peer.map { (p) throws(CheckpointError) in try endpoint(p, what) }
            let backlog = try s.backlog.map { (b) throws(CheckpointError) in try endpoint(b, what) }
            let inetPeer: InetAddress?
            if case .inet(let a)? = try s.inetPeer?.address() { inetPeer = a } else { inetPeer = nil }
            let bytes = try read(s.contents)
            var queued: [(SocketMessage, Range<Int>)] = []
            var at = 0
            for m in s.messages {
                guard m.length >= 0, m.length <= bytes.count - at, m.rights.count <= SocketConstants.maxRights,
                      m.credentials.map({ $0.count == 3 }) ?? true, m.ipv6.map({ $0.count == 2 }) ?? true,
                      // Fragments only on an AF_UNIX stream's write, at most MAX_SKB_FRAGS of them.
                      m.pageFrags.map({ (0...SocketEndpoint.maxSkbFrags).contains($0) && e.kind == .stream && !e.isInet }) ?? true,
                      // A late checksum drop only on a UDP socket's datagram, which no sender is charged for.
                      !(m.badChecksum ?? false) || (e.isInet && e.kind == .datagram && !e.isRaw && m.sender == nil && m.rights.isEmpty) else {
                    throw .corrupt("\(what): a queued message")
                }
                var carried: [FileDescription] = []
                for r in m.rights {
                    guard files.indices.contains(r) else { throw .corrupt("\(what): a queued descriptor names file \(r)") }
                    carried.append(files[r])
                }
                let sender = try m.sender.map { (x) throws(CheckpointError) in try endpoint(x, what).account }
                var message = SocketMessage(length: m.length, rights: carried, credentials: m.credentials.map(Self.credentials),
                                            from: try m.from?.address(), sender: sender)
                message.ipv6 = m.ipv6.map { IPv6PacketInfo(hopLimit: $0[0], trafficClass: $0[1]) }
                message.badChecksum = m.badChecksum ?? false
                message.pageFrags = m.pageFrags ?? 0
                message.arrival = m.arrival ?? 0
                message.dropCount = m.dropCount ?? 0
                queued.append((message, at..<(at + m.length)))
                at += m.length
                rights += carried.count
            }
            guard at == bytes.count else { throw .corrupt("\(what): \(bytes.count) queued bytes for messages of \(at)") }
            guard s.icmp == nil || e.isInet else { throw .corrupt("\(what): ICMP options on a socket that is not inet") }
            let icmp = try s.icmp?.options() ?? ICMPSocketOptions()
            if let u = s.urgent {
                // An unread urgent byte is a queued one; consumed places are in order within the queue.
                guard s.kind == "stream", u.distance.map({ u.taken ? (0...bytes.count).contains($0) : (0..<bytes.count).contains($0) }) ?? !u.taken,
                      u.consumed.allSatisfy({ (0...bytes.count).contains($0) }), u.consumed == u.consumed.sorted(),
                      e.isInet ? u.consumed.isEmpty : !u.taken else {
                    throw .corrupt("\(what): the urgent mark")
                }
            }

            e.isAccepted = s.accepted
            e.owner = s.owner
            e.locked { st in
                st.phase = phase
                st.address = address
                st.peer = peer
                st.backlog = backlog
                st.backlogLimit = s.backlogLimit
                st.shutRead = s.shutRead; st.shutWrite = s.shutWrite
                st.error = s.error.map { Errno(rawValue: $0) }
                st.passCredentials = s.passCredentials
                st.sendBuffer = s.sendBuffer; st.receiveBuffer = s.receiveBuffer
                e.account.setLimit(s.sendBuffer)
                st.peerCredentials = s.peerCredentials.map(Self.credentials)
                st.listenCredentials = s.listenCredentials.map(Self.credentials)
                st.receiveTimeout = s.receiveTimeout; st.sendTimeout = s.sendTimeout
                st.linger = (s.linger[0] != 0, s.linger[1])
                st.ipv6Options = s.ipv6Options
                st.ipv4Options = s.ipv4Options ?? [:]
                st.flagOptions = Set(s.flagOptions)
                st.tcpOptions = s.tcpOptions
                st.inetPeer = inetPeer
                st.peerClosed = s.peerClosed; st.connecting = s.connecting; st.reset = s.reset; st.v6only = s.v6only
                bytes.withUnsafeBytes { b in
                    for (m, r) in queued { st.rx.append(m, bytes: [UnsafeRawBufferPointer(rebasing: b[r])]) }
                }
                st.urgent = s.urgent?.distance.map { UrgentMark(distance: $0, taken: s.urgent!.taken) }
                st.consumedOOB = s.urgent?.consumed ?? []
                st.icmp = icmp
                st.receiveLowWater = s.receiveLowWater ?? 1
                st.receiveBufferSet = s.receiveBufferLocked ?? false
                st.sendBufferSet = s.sendBufferLocked ?? false
                st.recordedOptions = s.recordedOptions ?? [:]
                st.boundDevice = s.boundDevice ?? 0
                if let t = s.timestamps { st.timestamps = ReceiveTimestamps(on: t[0], nanoseconds: t[1], new: t[2]) }
                st.rx.stampArrivals = st.timestamps.on
                st.drops = s.drops ?? 0
                st.cookie = s.cookie ?? 0
            }
            if let c = s.cookie { names.noteSocketCookie(c) }
            // Each message charges its sender until read, as its send did.
            for (m, _) in queued where m.charge > 0 { m.sender?.charge(m.charge) }
            // A datagram socket connected to this one is told when its queue shortens.
            if e.kind == .datagram, phase != .closed, let peer, peer !== e {
                let me = ObjectIdentifier(e), q = e.queue
                peer.locked { $0.connectedSenders[me] = q }
            }
            if phase == .closed { names.unregister(e); continue }

            // Names: abstract ones in the sandbox's namespace, path ones on their node, ports on the loopback.
            switch address {
            case .unix(.abstract(let n))?:
                do { _ = try names.bindAbstract(e, n) } catch { throw .corrupt("\(what): the abstract name is bound twice") }
            case .unix(.path)?:
                guard let path = s.boundPath else { break }
                let loc: Location
                do { loc = try vfs.resolve(path, from: vfs.rootLocation, followLast: false, boot) }
                catch { throw .restoreFailed("\(what): its socket node \(path): \(error.message)") }
                guard loc.inode.kind == .socket, let st = try? loc.inode.stat() else {
                    throw .restoreFailed("\(what): \(path) is not a socket node")
                }
                let key = UnixNamespace.NodeKey(device: UInt64(st.st_dev), inode: UInt64(st.st_ino))
                do { try names.bindNode(e, key) } catch { throw .corrupt("\(what): \(path) is bound twice") }
                e.locked { $0.boundNode = key; $0.boundLocation = loc }
            case .inet(let a)? where e.isICMPSocket:
                // A raw socket is on the loopback's list; a ping one holds its identifier (the port) again.
                if e.isRaw { names.loopback.icmp.addRaw(e) }
                else if a.port != 0 {
                    do { _ = try names.loopback.icmp.bindPing(e, ident: a.port, reuse: s.flagOptions.contains(SocketConstants.SO_REUSEADDR)) }
                    catch { throw .corrupt("\(what): ping identifier \(a.port) is bound twice") }
                }
            case .inet(let a)? where !s.accepted:
                names.loopback.restoreBinding(e, at: a, proto: s.proto, reuse: s.flagOptions.contains(SocketConstants.SO_REUSEADDR),
                                              v6only: s.v6only)
            case .netlink(let port, _)? where port != 0:
                // Its port id, taken again (a request's replies come back to it).
                do { _ = try names.bindNetlink(e, port: port, pid: 0) } catch { throw .corrupt("\(what): netlink port \(port) is bound twice") }
            default: break
            }
        }
        if rights > 0 { names.rightsInFlight.add(rights, ordering: .relaxed) }
    }

    static func credentials(_ w: [UInt32]) -> SocketCredentials {
        SocketCredentials(pid: Int32(bitPattern: w[0]), uid: w[1], gid: w[2])
    }
}
