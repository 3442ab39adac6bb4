import Glibc
import Sentry

/// socket, socketpair, bind, listen, accept, connect, shutdown, the send and
/// receive calls, and socket options: AF_UNIX sockets served by the sentry.
enum Sockets {
    typealias C = SocketConstants

    // MARK: Creating

    static func socket(_ t: Task, _ a: SyscallArguments) throws(Errno) -> Int64 {
        let (kind, flags, proto) = try socketKind(domain: a.int32(0), type: a.int32(1), proto: a.int32(2))
        let raw = try ICMPSockets.kind(domain: a.int32(0), base: a.int32(1) & C.SOCK_TYPE_MASK, proto: proto)
        if let raw { try ICMPSockets.permit(t, raw: raw) }
        if t.kernel.network == .host && (a.int32(0) == C.AF_INET || a.int32(0) == C.AF_INET6) {
            return try HostSockets.socket(t, family: a.int32(0), kind: kind, proto: proto, flags: flags, raw: raw == true)
        }
        let s = SocketFile.make(kind, names: t.kernel.unixNames, flags: flags, family: a.int32(0), proto: proto, raw: raw == true)
        s.endpoint.owner = Creds.creds(t).euid
        if raw != nil { s.endpoint.startICMPSocket() }
        return Int64(try t.fds.install(s, closeOnExec: flags.contains(.closeOnExec)).rawValue)
    }

    static func socketpair(_ t: Task, _ a: SyscallArguments) throws(Errno) -> Int64 {
        let (kind, flags, _) = try socketKind(domain: a.int32(0), type: a.int32(1), proto: a.int32(2))
        guard a.int32(0) == C.AF_UNIX else { throw .EOPNOTSUPP }
        let (x, y) = SocketFile.pair(kind, names: t.kernel.unixNames, flags: flags, credentials: peerCredentials(t))
        x.endpoint.owner = Creds.creds(t).euid; y.endpoint.owner = x.endpoint.owner
        let cloexec = flags.contains(.closeOnExec)
        let fx = try t.fds.install(x, closeOnExec: cloexec)
        let fy: FileDescriptor
        do { fy = try t.fds.install(y, closeOnExec: cloexec) } catch { _ = try? t.fds.remove(fx); throw error }
        do { try t.mm.write(a.address(3), (fx.rawValue, fy.rawValue)) } catch {
            _ = try? t.fds.remove(fx); _ = try? t.fds.remove(fy)
            throw error
        }
        return 0
    }

    static let IPPROTO_TCP: Int32 = 6, IPPROTO_UDP: Int32 = 17, IPPROTO_UDPLITE: Int32 = 136
    static let CAP_NET_BIND_SERVICE = 10

    /// The checks __sys_socket, unix_create and inet_create make, in their
    /// order. AF_INET is the sandbox loopback: TCP, UDP and UDP-Lite (UDP's
    /// datagrams in a port space of their own; the loopback never corrupts,
    /// so checksum coverage changes nothing).
    private static func socketKind(domain: Int32, type: Int32, proto: Int32) throws(Errno) -> (SocketEndpoint.Kind, OpenFlags, Int32) {
        let flags = type & ~C.SOCK_TYPE_MASK
        guard flags & ~(C.SOCK_NONBLOCK | C.SOCK_CLOEXEC) == 0 else { throw .EINVAL }
        guard domain >= 0, domain < C.AF_MAX else { throw .EAFNOSUPPORT }
        let base = type & C.SOCK_TYPE_MASK
        guard base < C.SOCK_MAX else { throw .EINVAL }
        if domain == C.AF_INET || domain == C.AF_INET6 {
            switch base {
            case C.SOCK_STREAM:
                guard proto == 0 || proto == IPPROTO_TCP else { throw .EPROTONOSUPPORT }
                return (.stream, OpenFlags(rawValue: flags), IPPROTO_TCP)
            case C.SOCK_DGRAM:
                guard proto == 0 || proto == IPPROTO_UDP || proto == IPPROTO_UDPLITE
                        || proto == (domain == C.AF_INET ? LoopbackICMP.IPPROTO_ICMP : LoopbackICMP.IPPROTO_ICMPV6) else { throw .EPROTONOSUPPORT }
                return (.datagram, OpenFlags(rawValue: flags), proto == 0 ? IPPROTO_UDP : proto)
            case C.SOCK_RAW:
                // Whole packets of one protocol (ICMPSockets checks it and the privilege).
                _ = try ICMPSockets.kind(domain: domain, base: base, proto: proto)
                return (.datagram, OpenFlags(rawValue: flags), proto)
            default: throw .ESOCKTNOSUPPORT
            }
        }
        if domain == C.AF_NETLINK {
            guard base == C.SOCK_RAW || base == C.SOCK_DGRAM else { throw .ESOCKTNOSUPPORT }
            // rtnetlink (the interface) and sock_diag (the sandbox's sockets) are served.
            guard proto == NetlinkRoute.NETLINK_ROUTE || proto == SockDiag.NETLINK_SOCK_DIAG else { throw .EPROTONOSUPPORT }
            return (.datagram, OpenFlags(rawValue: flags), proto)
        }
        guard domain == C.AF_UNIX else { throw .EAFNOSUPPORT }   // packet, bluetooth, ...: not in the sentry
        guard proto == 0 || proto == C.AF_UNIX else { throw .EPROTONOSUPPORT }
        let kind: SocketEndpoint.Kind
        switch base {
        case C.SOCK_STREAM: kind = .stream
        case C.SOCK_DGRAM, C.SOCK_RAW: kind = .datagram   // Linux makes SOCK_RAW a datagram socket
        case C.SOCK_SEQPACKET: kind = .seqpacket
        default: throw .ESOCKTNOSUPPORT
        }
        return (kind, OpenFlags(rawValue: flags), 0)
    }

    static func socketFile(_ t: Task, _ fd: FileDescriptor) throws(Errno) -> SocketFile {
        guard let s = try t.fds.get(fd) as? SocketFile else { throw .ENOTSOCK }
        return s
    }

    /// What a message carries (scm_set_cred: the real ids) and what
    /// SO_PEERCRED reports (init_peercred: the effective ones).
    static func credentials(_ t: Task) -> SocketCredentials {
        let c = Creds.creds(t)
        return SocketCredentials(pid: t.pid, uid: c.uid, gid: c.gid)
    }
    static func peerCredentials(_ t: Task) -> SocketCredentials {
        let c = Creds.creds(t)
        return SocketCredentials(pid: t.pid, uid: c.euid, gid: c.egid)
    }

    // MARK: Addresses

    /// move_addr_to_kernel: at most sizeof(struct sockaddr_storage).
    static func readSockaddr(_ t: Task, _ addr: GuestAddress, _ len: Int32) throws(Errno) -> [UInt8] {
        guard len >= 0, len <= 128 else { throw .EINVAL }
        return len == 0 ? [] : try t.mm.copyIn(addr, Int(len))
    }

    /// move_addr_to_user: copies what fits in the guest's length and
    /// reports the full length.
    static func writeSockaddr(_ t: Task, _ addr: GuestAddress, _ lenp: GuestAddress, _ bytes: [UInt8]) throws(Errno) {
        let len = try t.mm.read(lenp, as: Int32.self)
        guard len >= 0 else { throw .EINVAL }
        let n = min(Int(len), bytes.count)
        if n > 0 { try t.mm.copyOut(addr, Array(bytes[..<n])) }
        try t.mm.write(lenp, Int32(bytes.count))
    }

    static func bind(_ t: Task, _ a: SyscallArguments) throws(Errno) -> Int64 {
        if let h = try HostSockets.file(t, a.fd(0)) { return try HostSockets.bind(t, h, a) }
        let s = try socketFile(t, a.fd(0))
        let bytes = try readSockaddr(t, a.address(1), a.int32(2))
        if s.endpoint.isNetlink {
            let (port, groups) = try netlinkAddress(bytes)
            try s.endpoint.bindNetlink(port: port, groups: groups, pid: t.pid)
            return 0
        }
        if s.endpoint.isICMPSocket { try ICMPSockets.bind(s.endpoint, bytes); return 0 }
        if s.endpoint.isInet {
            try s.endpoint.bindInet(InetAddress.parse(bytes, socketFamily: s.endpoint.family),
                                    privileged: Creds.creds(t).capable(Self.CAP_NET_BIND_SERVICE))
            return 0
        }
        let address = try UnixAddress.parse(bytes)
        try s.bind(address, cwd: t.cwd, umask: t.umask, vfs: t.kernel.vfs, t)
        return 0
    }

    static func listen(_ t: Task, _ a: SyscallArguments) throws(Errno) -> Int64 {
        if let h = try HostSockets.file(t, a.fd(0)) { return try HostSockets.listen(t, h, a) }
        let ep = try socketFile(t, a.fd(0)).endpoint
        if ep.isInet && ep.kind == .stream { _ = try ep.autobindInet() }
        try ep.listen(backlog: a.int32(1), credentials: peerCredentials(t))
        return 0
    }

    static func getsockname(_ t: Task, _ a: SyscallArguments) throws(Errno) -> Int64 {
        if let h = try HostSockets.file(t, a.fd(0)) { return try HostSockets.name(t, h, a, peer: false) }
        let s = try socketFile(t, a.fd(0))
        try writeSockaddr(t, a.address(1), a.address(2), (s.endpoint.present(s.endpoint.address) ?? s.endpoint.unnamedAddress).encoded)
        return 0
    }

    static func getpeername(_ t: Task, _ a: SyscallArguments) throws(Errno) -> Int64 {
        if let h = try HostSockets.file(t, a.fd(0)) { return try HostSockets.name(t, h, a, peer: true) }
        let s = try socketFile(t, a.fd(0))
        if s.endpoint.isInet && s.endpoint.kind == .datagram {
            guard let p = s.endpoint.udpPeer else { throw .ENOTCONN }
            try writeSockaddr(t, a.address(1), a.address(2), p.shown(as: s.endpoint.family).encoded)
            return 0
        }
        guard let p = s.endpoint.peerAddress else { throw .ENOTCONN }
        try writeSockaddr(t, a.address(1), a.address(2), p.encoded)
        return 0
    }

    // MARK: Waiting

    /// Runs `attempt` until it stops saying EAGAIN: at once for a
    /// non-blocking call, else sleeping on `queues` until the timeout
    /// (EAGAIN) or a signal (ERESTARTSYS, or EINTR under a socket timeout,
    /// which Linux never restarts).
    static func waiting<T>(_ t: Task, on queues: [WaitQueue], hostFDs: [pollfd] = [], nonBlocking: Bool, timeout: Int64,
                           interest: WaitQueue.Interest = .all, sleeper: SocketEndpoint? = nil,
                           _ attempt: () throws(Errno) -> T) throws(Errno) -> T {
        do { return try attempt() } catch {
            guard error == .EAGAIN, !nonBlocking, timeout >= 0 else { throw error }
        }
        var result: T?
        // A call a freeze cut short keeps the end its timeout had.
        let deadline: Deadline? = timeout > 0 ? t.timeout(after: timeout) : nil
        // A stream reader asleep on `sleeper` (its SOCKWQ_ASYNC_WAITDATA).
        sleeper?.readerSleeps(true)
        defer { sleeper?.readerSleeps(false) }
        let r = try t.block(on: queues, hostFDs: hostFDs, deadline: deadline, interruptedBy: timeout > 0 ? .EINTR : .ERESTARTSYS,
                            interest: interest) { () throws(Errno) -> Bool in
            do throws(Errno) { result = try attempt(); return true } catch {
                if error == .EAGAIN { return false }
                throw error
            }
        }
        guard r == .ready, let result else { throw .EAGAIN }
        return result
    }

    // MARK: Connections

    static func connect(_ t: Task, _ a: SyscallArguments) throws(Errno) -> Int64 {
        if let h = try HostSockets.file(t, a.fd(0)) { return try HostSockets.connect(t, h, a) }
        let s = try socketFile(t, a.fd(0))
        let bytes = try readSockaddr(t, a.address(1), a.int32(2))
        let ep = s.endpoint
        if ep.isICMPSocket { try ICMPSockets.connect(ep, bytes); return 0 }
        if ep.isInet { return try connectInet(t, s, bytes) }
        if ep.isNetlink {
            // Only the kernel (port 0) answers here; connecting just names it.
            let (port, _) = try netlinkAddress(bytes)
            guard port == 0 else { throw .ECONNREFUSED }
            if ep.netlinkPort == 0 { try ep.bindNetlink(port: 0, groups: 0, pid: t.pid) }
            return 0
        }
        if ep.kind == .datagram {
            guard bytes.count >= 2 else { throw .EINVAL }
            if Int32(bytes[0]) | Int32(bytes[1]) << 8 == C.AF_UNSPEC { try ep.connectDatagram(to: nil); return 0 }
            let target = try s.find(UnixAddress.parse(bytes), cwd: t.cwd, vfs: t.kernel.vfs, t)
            try s.autobindForCredentials()
            try ep.connectDatagram(to: target)
            return 0
        }
        let target = try s.find(UnixAddress.parse(bytes), cwd: t.cwd, vfs: t.kernel.vfs, t)
        try s.autobindForCredentials()
        let creds = peerCredentials(t)
        try waiting(t, on: [target.queue, ep.queue], nonBlocking: s.flags.contains(.nonBlock), timeout: ep.sendTimeout) { () throws(Errno) in
            try ep.connect(to: target, credentials: creds)
        }
        return 0
    }

    /// TCP and UDP connect on the loopback. A non-blocking TCP connect says
    /// EINPROGRESS, as Linux's does, and a refusal then shows in SO_ERROR.
    private static func connectInet(_ t: Task, _ s: SocketFile, _ bytes: [UInt8]) throws(Errno) -> Int64 {
        let ep = s.endpoint
        guard bytes.count >= 2 else { throw .EINVAL }
        let unspec = Int32(bytes[0]) | Int32(bytes[1]) << 8 == C.AF_UNSPEC
        if ep.kind == .datagram {
            try ep.connectUDP(unspec ? nil : InetAddress.parse(bytes, socketFamily: ep.family))
            return 0
        }
        let a = try InetAddress.parse(bytes, socketFamily: ep.family)
        if let outcome = ep.finishConnecting() {
            if let refused = outcome { throw refused }
            return 0
        }
        if ep.phase == .connected { throw .EISCONN }
        if ep.phase == .listening { throw .EISCONN }
        let nonBlocking = s.flags.contains(.nonBlock)
        let listener: SocketEndpoint
        do { listener = try ep.inetListener(a) } catch {
            guard nonBlocking, error == .ECONNREFUSED else { throw error }
            ep.setPendingError(.ECONNREFUSED)
            ep.markConnecting()
            throw .EINPROGRESS
        }
        let dest = try SocketEndpoint.route(a)
        _ = try ep.autobindInet(ip: SocketEndpoint.sourceAddress(for: dest))   // the route's preferred source: 127.0.0.1, ::1
        let creds = peerCredentials(t)
        do {
            try waiting(t, on: [listener.queue, ep.queue], nonBlocking: nonBlocking, timeout: ep.sendTimeout) { () throws(Errno) in
                try ep.connect(to: listener, credentials: creds, serverAddress: .inet(dest))
            }
        } catch .EAGAIN where nonBlocking {
            // A full backlog drops the SYN; the connect goes on in the background (TCPSynRetry.swift).
            ep.waitForRoom(at: listener, credentials: creds, serverAddress: .inet(dest))
            throw .EINPROGRESS
        }
        if nonBlocking { ep.markConnecting(); throw .EINPROGRESS }
        return 0
    }

    /// struct sockaddr_nl: at least 12 bytes, AF_NETLINK.
    static func netlinkAddress(_ bytes: [UInt8]) throws(Errno) -> (UInt32, UInt32) {
        guard bytes.count >= 12, Int32(bytes[0]) | Int32(bytes[1]) << 8 == C.AF_NETLINK else { throw .EINVAL }
        return bytes.withUnsafeBytes { ($0.loadUnaligned(fromByteOffset: 4, as: UInt32.self), $0.loadUnaligned(fromByteOffset: 8, as: UInt32.self)) }
    }

    static func accept(_ t: Task, _ a: SyscallArguments) throws(Errno) -> Int64 {
        try acceptCore(t, a, flags: 0)
    }

    static func accept4(_ t: Task, _ a: SyscallArguments) throws(Errno) -> Int64 {
        try acceptCore(t, a, flags: a.int32(3))
    }

    private static func acceptCore(_ t: Task, _ a: SyscallArguments, flags: Int32) throws(Errno) -> Int64 {
        guard flags & ~(C.SOCK_NONBLOCK | C.SOCK_CLOEXEC) == 0 else { throw .EINVAL }
        if let h = try HostSockets.file(t, a.fd(0)) { return try HostSockets.accept(t, h, a, flags: flags) }
        let s = try socketFile(t, a.fd(0))
        let ep = s.endpoint
        let server = try waiting(t, on: [ep.queue], nonBlocking: s.flags.contains(.nonBlock), timeout: ep.receiveTimeout) { () throws(Errno) in
            try ep.accept()
        }
        let file = SocketFile(server, flags: OpenFlags(rawValue: flags & C.SOCK_NONBLOCK))
        if a[1] != 0 {
            try writeSockaddr(t, a.address(1), a.address(2), (server.peerAddress ?? server.unnamedAddress).encoded)
        }
        return Int64(try t.fds.install(file, closeOnExec: flags & C.SOCK_CLOEXEC != 0).rawValue)
    }

    static func shutdown(_ t: Task, _ a: SyscallArguments) throws(Errno) -> Int64 {
        if let h = try HostSockets.file(t, a.fd(0)) { return try HostSockets.shutdown(t, h, a) }
        let ep = try socketFile(t, a.fd(0)).endpoint
        // TCP says ENOTCONN before anything is connected; AF_UNIX does not check.
        if ep.isInet && (0...2).contains(a.int32(1)) && ep.phase != .connected { throw .ENOTCONN }
        try ep.shutdown(a.int32(1))
        return 0
    }

    // MARK: Options

    static func getsockopt(_ t: Task, _ a: SyscallArguments) throws(Errno) -> Int64 {
        if let h = try HostSockets.file(t, a.fd(0)) { return try HostSockets.getsockopt(t, h, a) }
        let s = try socketFile(t, a.fd(0))
        let len = try t.mm.read(a.address(4), as: Int32.self)
        guard len >= 0 else { throw .EINVAL }
        var value = try s.endpoint.icmpOption(level: a.int32(1), name: a.int32(2)) ?? []
        if value.isEmpty { value = try s.endpoint.getOption(level: a.int32(1), name: a.int32(2), length: Int(len)) }
        let n = min(Int(len), value.count)
        if n > 0 { try t.mm.copyOut(a.address(3), Array(value[..<n])) }
        try t.mm.write(a.address(4), Int32(n))
        return 0
    }

    static func setsockopt(_ t: Task, _ a: SyscallArguments) throws(Errno) -> Int64 {
        if let h = try HostSockets.file(t, a.fd(0)) { return try HostSockets.setsockopt(t, h, a) }
        let s = try socketFile(t, a.fd(0))
        let len = a.int32(4)
        guard len >= 0 else { throw .EINVAL }
        let value = try t.mm.copyIn(a.address(3), Int(min(len, 64)))
        if try s.endpoint.setICMPOption(level: a.int32(1), name: a.int32(2), value: value) { return 0 }
        let credentials = Creds.creds(t)
        try s.endpoint.setOption(level: a.int32(1), name: a.int32(2), value: value, capable: { credentials.capable($0) })
        return 0
    }
}
