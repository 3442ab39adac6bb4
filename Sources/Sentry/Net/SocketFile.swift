import Glibc
import Synchronization

/// An AF_UNIX socket as the guest's fds see it: an open file description
/// over a `SocketEndpoint`. The endpoint closes when the last fd referring to
/// this description goes (its deinit), as Linux's sock_close does.
/// Sendable: only `let`s; the endpoint guards its state.
public final class SocketFile: FileDescription, @unchecked Sendable {
    public let endpoint: SocketEndpoint
    public var inode: UInt64 { endpoint.inode }

    public init(_ endpoint: SocketEndpoint, flags: OpenFlags) {
        self.endpoint = endpoint
        super.init(flags: OpenFlags.readWrite.union(OpenFlags(rawValue: flags.rawValue & OpenFlags.nonBlock.rawValue)))
    }
    deinit { endpoint.close() }

    /// A new unconnected socket of `kind` in the sandbox `names` serves.
    public static func make(_ kind: SocketEndpoint.Kind, names: UnixNamespace, flags: OpenFlags,
                            family: Int32 = SocketConstants.AF_UNIX, proto: Int32 = 0, raw: Bool = false) -> SocketFile {
        SocketFile(SocketEndpoint(kind: kind, names: names, family: family, proto: proto, raw: raw), flags: flags)
    }

    /// socketpair(2): two connected sockets, each crediting the caller.
    public static func pair(_ kind: SocketEndpoint.Kind, names: UnixNamespace, flags: OpenFlags,
                            credentials: SocketCredentials) -> (SocketFile, SocketFile) {
        let a = SocketEndpoint(kind: kind, names: names), b = SocketEndpoint(kind: kind, names: names)
        SocketEndpoint.pair(a, b, credentials: credentials, credentials)
        return (SocketFile(a, flags: flags), SocketFile(b, flags: flags))
    }

    public override var displayPath: String { "socket:[\(inode)]" }
    public override var waitQueue: WaitQueue? { endpoint.queue }
    public override func readiness(_ mask: Int16) -> Int16 { endpoint.readiness(mask, nonBlocking: flags.contains(.nonBlock)) }

    public override func stat() throws(Errno) -> Glibc.stat { Self.stat(inode: inode) }

    /// What fstat shows of a socket of the sentry's, its own or a host one (sockfs: device 8).
    static func stat(inode: UInt64) -> Glibc.stat {
        var st = Glibc.stat.synthetic(mode: S_IFSOCK | 0o777, inode: inode, device: 0x8)
        st.st_blksize = 4096
        return st
    }

    public override func setSignalOwner(_ o: SignalOwner?) { endpoint.fileOwner.withLock { $0 = o } }
    public override var signalOwner: SignalOwner? { endpoint.fileOwner.withLock { $0 } }

    public override func ioctl(_ request: UInt64, argument: GuestAddress, mm: MemoryManager) throws(Errno) -> Int64 {
        switch request {
        case Ioctl.SIOCATMARK:
            guard let at = try endpoint.atMark() else { throw .ENOTTY }
            try mm.write(argument, Int32(at ? 1 : 0))
        case Ioctl.SIOCINQ:
            if endpoint.phase == .listening { throw .EINVAL }
            try mm.write(argument, Int32(clamping: endpoint.unreadBytes))
        case Ioctl.SIOCOUTQ where endpoint.isTCP, Ioctl.SIOCOUTQNSD where endpoint.isTCP:
            // tcp_ioctl: a listener has no send queue.
            if endpoint.phase == .listening { throw .EINVAL }
            try mm.write(argument, Int32(clamping: endpoint.tcpUnacknowledged))
        case Ioctl.SIOCOUTQ:   // the send buffer in use: every unread message's charge (sk_wmem_alloc)
            try mm.write(argument, Int32(clamping: endpoint.account.inFlight))
        case let r where LoopbackInterface.requests.contains(r):
            return try LoopbackInterface.ioctl(r, argument: argument, family: endpoint.family, mm: mm)
        default: throw .ENOTTY
        }
        return 0
    }
}

extension SocketFile {
    /// bind(2): an abstract name, an autobound one, or a socket node made at
    /// `path` (EADDRINUSE if the name exists, EROFS on a read-only mount).
    public func bind(_ address: UnixAddress, cwd: Location?, umask: UInt32, vfs: VFS?, _ ctx: WalkContext?) throws(Errno) {
        let names = endpoint.names
        switch address {
        case .unnamed, .abstract:
            if endpoint.address != nil { throw .EINVAL }
            var name: [UInt8]? = nil
            if case .abstract(let n) = address { name = n }
            let bound = try names.bindAbstract(endpoint, name)
            let lost = endpoint.locked { s -> Bool in
                if s.address != nil { return true }
                s.address = .unix(bound)
                return false
            }
            if lost { names.unbind(endpoint, address: .unix(bound), node: nil); throw .EINVAL }
        case .path(let p):
            guard let cwd, let vfs, let ctx else { throw .EINVAL }
            // Linux makes the node first: a taken name is EADDRINUSE even for a bound socket.
            let path = String(rawBytes: p)
            do { try vfs.mknod(path, from: cwd, mode: S_IFSOCK | (0o777 & ~umask), ctx) } catch .EEXIST { throw .EADDRINUSE }
            let key: UnixNamespace.NodeKey
            let at: Location
            do throws(Errno) {
                let loc = try vfs.resolve(path, from: cwd, followLast: false, ctx)
                at = loc
                let st = try loc.inode.stat()
                key = UnixNamespace.NodeKey(device: UInt64(st.st_dev), inode: UInt64(st.st_ino))
                if endpoint.address != nil { throw .EINVAL }
                try names.bindNode(endpoint, key)
            } catch {
                try? vfs.unlink(path, from: cwd, directory: false, ctx)
                throw error
            }
            let lost = endpoint.locked { s -> Bool in
                if s.address != nil { return true }
                s.address = .unix(address); s.boundNode = key; s.boundLocation = at
                return false
            }
            if lost {
                names.unbind(endpoint, address: nil, node: key)
                try? vfs.unlink(path, from: cwd, directory: false, ctx)
                throw .EINVAL
            }
        }
    }

    /// An unbound AF_UNIX socket with SO_PASSCRED takes an abstract name
    /// before it connects or sends, so receivers can tell who wrote (unix_autobind).
    public func autobindForCredentials() throws(Errno) {
        guard !endpoint.isInet, endpoint.passesCredentials, endpoint.address == nil else { return }
        do { try bind(.unnamed, cwd: nil, umask: 0, vfs: nil, nil) } catch .EINVAL { /* raced: bound meanwhile */ }
    }

    /// The socket an address names, as unix_find_other finds it: ENOENT for
    /// a missing path, ECONNREFUSED for a node with no socket or an unknown
    /// abstract name (or one of another type), EPROTOTYPE for a path
    /// socket of another type.
    public func find(_ address: UnixAddress, cwd: Location, vfs: VFS, _ ctx: WalkContext) throws(Errno) -> SocketEndpoint {
        let names = endpoint.names
        let found: SocketEndpoint?
        switch address {
        case .unnamed: throw .EINVAL
        case .abstract(let n):
            // unix_find_abstract refuses another type's name as if it were missing.
            guard let e = names.lookupAbstract(n), e.phase != .closed, e.kind == endpoint.kind else { throw .ECONNREFUSED }
            return e
        case .path(let p):
            let loc = try vfs.resolve(String(rawBytes: p), from: cwd, followLast: true, ctx)
            guard loc.inode.kind == .socket else { throw .ECONNREFUSED }
            let st = try loc.inode.stat()
            found = names.lookupNode(UnixNamespace.NodeKey(device: UInt64(st.st_dev), inode: UInt64(st.st_ino)))
        }
        guard let found, found.phase != .closed else { throw .ECONNREFUSED }
        guard found.kind == endpoint.kind else { throw .EPROTOTYPE }
        return found
    }
}
