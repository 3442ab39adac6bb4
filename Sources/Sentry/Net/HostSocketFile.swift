import CSwitch
import Glibc
import Synchronization

/// An AF_INET or AF_INET6 socket under `--network=host`: a host socket the
/// sentry opened for the guest, which sees only its own fd number. The host
/// socket is always non-blocking and close-on-exec; the guest's O_NONBLOCK
/// lives in the description's flags, and a blocking call waits by polling
/// the host fd (Sockets.waiting), so signals interrupt it. Every byte goes
/// through a sentry buffer: no guest pointer reaches the host.
/// Sendable: `let`s, and the timeouts behind their own Mutex.
public final class HostSocketFile: FileDescription, @unchecked Sendable {
    public let fd: Int32
    public let family: Int32
    public let isStream: Bool
    private let inode: UInt64
    /// SO_RCVTIMEO / SO_SNDTIMEO in nanoseconds (0: forever, -1: never wait):
    /// kept here, since the host fd never blocks.
    private let timeouts = Mutex<(receive: Int64, send: Int64)>((0, 0))

    private init(fd: Int32, family: Int32, isStream: Bool, flags: OpenFlags) {
        self.fd = fd; self.family = family; self.isStream = isStream
        var st = Glibc.stat()
        inode = fstat(fd, &st) == 0 ? UInt64(st.st_ino) : 0
        super.init(flags: OpenFlags.readWrite.union(OpenFlags(rawValue: flags.rawValue & OpenFlags.nonBlock.rawValue)))
    }
    deinit { Glibc.close(fd) }

    /// socket(2) on the host: `type` is SOCK_STREAM or SOCK_DGRAM, already checked.
    public static func open(family: Int32, type: Int32, proto: Int32, flags: OpenFlags) throws(Errno) -> HostSocketFile {
        let fd = Glibc.socket(family, type | SocketConstants.SOCK_NONBLOCK | SocketConstants.SOCK_CLOEXEC, proto)
        if fd < 0 { throw Errno(errno) }
        return HostSocketFile(fd: fd, family: family, isStream: type == SocketConstants.SOCK_STREAM, flags: flags)
    }

    public override var displayPath: String { "socket:[\(inode)]" }
    public override var hostPollFD: Int32? { fd }
    public override func readiness(_ mask: Int16) -> Int16 {
        var p = pollfd(fd: fd, events: mask, revents: 0)
        return Glibc.poll(&p, 1, 0) > 0 ? p.revents : 0
    }

    /// read/write without the socket layer (sendfile and splice from or to
    /// the socket): one non-blocking host call on sentry memory.
    public override func read(into bufs: [UnsafeMutableRawBufferPointer]) throws(Errno) -> Int {
        var iov = bufs.map { iovec(iov_base: $0.baseAddress, iov_len: $0.count) }
        return try host { iov.withUnsafeMutableBufferPointer { v in
            var m = msghdr(msg_name: nil, msg_namelen: 0, msg_iov: v.baseAddress, msg_iovlen: v.count, msg_control: nil, msg_controllen: 0, msg_flags: 0)
            return Glibc.recvmsg(self.fd, &m, SocketConstants.MSG_DONTWAIT)
        } }
    }
    public override func write(from bufs: [UnsafeRawBufferPointer]) throws(Errno) -> Int {
        var iov = bufs.map { iovec(iov_base: UnsafeMutableRawPointer(mutating: $0.baseAddress), iov_len: $0.count) }
        return try host { iov.withUnsafeMutableBufferPointer { v in
            var m = msghdr(msg_name: nil, msg_namelen: 0, msg_iov: v.baseAddress, msg_iovlen: v.count, msg_control: nil, msg_controllen: 0, msg_flags: 0)
            return Glibc.sendmsg(self.fd, &m, SocketConstants.MSG_DONTWAIT | SocketConstants.MSG_NOSIGNAL)
        } }
    }

    public override func stat() throws(Errno) -> Glibc.stat { SocketFile.stat(inode: inode) }

    public override func ioctl(_ request: UInt64, argument: GuestAddress, mm: MemoryManager) throws(Errno) -> Int64 {
        switch request {
        case Ioctl.SIOCINQ, Ioctl.SIOCOUTQ, Ioctl.SIOCATMARK:   // an int the host fills
            var v: Int32 = 0
            if Glibc.ioctl(fd, UInt(request), &v) != 0 { throw Errno(errno) }
            try mm.write(argument, v)
            return 0
        case let r where LoopbackInterface.requests.contains(r):
            // The interface ioctls describe the sandbox's lo in every mode (see README, Known gaps).
            return try LoopbackInterface.ioctl(r, argument: argument, family: family, mm: mm)
        default: throw .ENOTTY
        }
    }

    /// Runs a host call, retrying EINTR (a host signal to the sentry thread,
    /// not the guest's); a failure is the host's errno.
    private func host(_ body: () -> Int) throws(Errno) -> Int {
        while true {
            let r = body()
            if r >= 0 { return r }
            if errno != EINTR { throw Errno(errno) }
        }
    }

    private func withSockaddr<T>(_ bytes: [UInt8], _ body: (UnsafePointer<sockaddr>, socklen_t) -> T) -> T {
        var storage = sockaddr_storage()
        return withUnsafeMutableBytes(of: &storage) { raw in
            let n = min(bytes.count, raw.count)
            raw.copyBytes(from: bytes[..<n])
            return body(raw.baseAddress!.assumingMemoryBound(to: sockaddr.self), socklen_t(n))
        }
    }

    /// Calls `body` with room for a sockaddr; returns the bytes the host
    /// filled and the length it reported.
    private func receivingSockaddr(_ body: (UnsafeMutablePointer<sockaddr>, UnsafeMutablePointer<socklen_t>) -> Int) throws(Errno) -> (Int, [UInt8]) {
        var storage = sockaddr_storage()
        var len = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let r = try host {
            withUnsafeMutableBytes(of: &storage) { raw in body(raw.baseAddress!.assumingMemoryBound(to: sockaddr.self), &len) }
        }
        let bytes = withUnsafeBytes(of: &storage) { Array($0.prefix(Int(min(len, socklen_t(MemoryLayout<sockaddr_storage>.size))))) }
        return (r, bytes)
    }

    // MARK: Calls the guest makes, on the host socket

    public func bind(_ address: [UInt8]) throws(Errno) {
        _ = try host { withSockaddr(address) { Int(Glibc.bind(fd, $0, $1)) } }
    }

    public func listen(backlog: Int32) throws(Errno) {
        _ = try host { Int(Glibc.listen(fd, backlog)) }
    }

    /// One connect attempt: EINPROGRESS or EALREADY while the handshake runs.
    public func connect(_ address: [UInt8]) throws(Errno) {
        _ = try host { withSockaddr(address) { Int(Glibc.connect(fd, $0, $1)) } }
    }

    /// The pending error (SO_ERROR), cleared as the host reads it.
    public func takeError() -> Errno? {
        var e: Int32 = 0
        var len = socklen_t(4)
        guard getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &len) == 0, e != 0 else { return nil }
        return Errno(e)
    }

    /// One accept attempt (EAGAIN if none waits): the new socket and its peer's address.
    public func accept(flags: OpenFlags) throws(Errno) -> (HostSocketFile, [UInt8]) {
        let (nfd, peer) = try receivingSockaddr { sa, len in
            let r = sw_accept4(fd, sa, len)
            if r < 0 { errno = -r; return -1 }
            return Int(r)
        }
        let file = HostSocketFile(fd: Int32(nfd), family: family, isStream: isStream, flags: flags)
        // The new socket is a clone of the listener's, timeouts too (sk_clone_lock).
        let t = timeouts.withLock { $0 }
        file.timeouts.withLock { $0 = t }
        return (file, peer)
    }

    /// getsockname or getpeername, as the host answers.
    public func name(peer: Bool) throws(Errno) -> [UInt8] {
        try receivingSockaddr { peer ? Int(getpeername(fd, $0, $1)) : Int(getsockname(fd, $0, $1)) }.1
    }

    public func shutdown(_ how: Int32) throws(Errno) {
        _ = try host { Int(Glibc.shutdown(fd, how)) }
    }

    /// One non-blocking send of `data` (to `name` if given) with the ancillary
    /// `control` the host checks; never raises SIGPIPE in the sentry.
    public func send(_ data: [UInt8], name: [UInt8]?, control: [UInt8], flags: Int32) throws(Errno) -> Int {
        let f = (flags & Self.passedSendFlags) | SocketConstants.MSG_DONTWAIT | SocketConstants.MSG_NOSIGNAL
        var data = data, control = control
        return try host {
            data.withUnsafeMutableBytes { d in
                control.withUnsafeMutableBytes { c in
                    var iov = iovec(iov_base: d.baseAddress, iov_len: d.count)
                    return withUnsafeMutablePointer(to: &iov) { iovp in
                        let call = { (sa: UnsafePointer<sockaddr>?, len: socklen_t) -> Int in
                            var m = msghdr(msg_name: UnsafeMutableRawPointer(mutating: sa), msg_namelen: len, msg_iov: iovp, msg_iovlen: 1,
                                           msg_control: c.count > 0 ? c.baseAddress : nil, msg_controllen: c.count, msg_flags: 0)
                            return Glibc.sendmsg(self.fd, &m, f)
                        }
                        if let name { return withSockaddr(name) { call($0, $1) } }
                        return call(nil, 0)
                    }
                }
            }
        }
    }

    public struct Received {
        public var data: [UInt8]
        /// What recv returns: the bytes read, or a datagram's full length under MSG_TRUNC.
        public var result: Int
        public var from: [UInt8]
        public var control: [UInt8]
        public var flags: Int32
        public init(data: [UInt8], result: Int, from: [UInt8], control: [UInt8], flags: Int32) {
            self.data = data; self.result = result; self.from = from; self.control = control; self.flags = flags
        }
    }

    /// One non-blocking receive of at most `max` bytes and `controlMax` bytes
    /// of ancillary data (EAGAIN if nothing is there).
    public func receive(max: Int, controlMax: Int, flags: Int32) throws(Errno) -> Received {
        let f = (flags & Self.passedReceiveFlags) | SocketConstants.MSG_DONTWAIT
        var data = [UInt8](repeating: 0, count: max)
        var control = [UInt8](repeating: 0, count: controlMax)
        var outFlags: Int32 = 0, controlLength = 0
        let (n, from) = try receivingSockaddr { sa, salen in
            data.withUnsafeMutableBytes { d in
                control.withUnsafeMutableBytes { c in
                    var iov = iovec(iov_base: d.baseAddress, iov_len: d.count)
                    return withUnsafeMutablePointer(to: &iov) { iovp in
                        var m = msghdr(msg_name: sa, msg_namelen: salen.pointee, msg_iov: iovp, msg_iovlen: 1,
                                       msg_control: c.count > 0 ? c.baseAddress : nil, msg_controllen: c.count, msg_flags: 0)
                        let r = Glibc.recvmsg(fd, &m, f)
                        salen.pointee = m.msg_namelen
                        outFlags = m.msg_flags; controlLength = m.msg_controllen
                        return r
                    }
                }
            }
        }
        let got = Swift.min(n, max)
        return Received(data: Array(data[..<got]), result: n, from: from,
                        control: Array(control[..<Swift.min(controlLength, controlMax)]), flags: outFlags)
    }

    static let passedSendFlags = SocketConstants.MSG_OOB | SocketConstants.MSG_DONTROUTE | SocketConstants.MSG_EOR | SocketConstants.MSG_MORE
    static let passedReceiveFlags = SocketConstants.MSG_OOB | SocketConstants.MSG_PEEK | SocketConstants.MSG_TRUNC | MSG_ERRQUEUE
    public static let MSG_ERRQUEUE: Int32 = 0x2000

    // MARK: Options

    public var receiveTimeout: Int64 { timeouts.withLock { $0.receive } }
    public var sendTimeout: Int64 { timeouts.withLock { $0.send } }

    static let SOL_IP: Int32 = 0, SOL_TCP: Int32 = 6, SOL_UDP: Int32 = 17, SOL_IPV6: Int32 = 41
    /// The options a guest may read and set on its host socket: ones that
    /// change only this socket's own behaviour. Anything reaching past it
    /// (SO_BINDTODEVICE, SO_MARK, SO_PRIORITY, filters, multicast, raw
    /// headers) is ENOPROTOOPT.
    static let passed: [Int32: Set<Int32>] = [
        SocketConstants.SOL_SOCKET: [SocketConstants.SO_REUSEADDR, SocketConstants.SO_TYPE, SocketConstants.SO_ERROR,
                                     SocketConstants.SO_BROADCAST, SocketConstants.SO_SNDBUF, SocketConstants.SO_RCVBUF,
                                     SocketConstants.SO_KEEPALIVE, SocketConstants.SO_OOBINLINE, SocketConstants.SO_LINGER,
                                     SocketConstants.SO_REUSEPORT, SocketConstants.SO_PEERCRED, SocketConstants.SO_RCVLOWAT,
                                     SocketConstants.SO_SNDLOWAT, SocketConstants.SO_ACCEPTCONN, SocketConstants.SO_PROTOCOL,
                                     SocketConstants.SO_DOMAIN],
        // TCP_NODELAY, TCP_MAXSEG, TCP_KEEPIDLE, TCP_KEEPINTVL, TCP_KEEPCNT, TCP_INFO, TCP_QUICKACK, TCP_USER_TIMEOUT
        SOL_TCP: [1, 2, 4, 5, 6, 11, 12, 18],
        // IP_TOS, IP_TTL, IP_PKTINFO, IP_RECVERR, IP_RECVTOS
        SOL_IP: [1, 2, 8, 11, 13],
        // IPV6_UNICAST_HOPS, IPV6_RECVERR, IPV6_V6ONLY, IPV6_RECVPKTINFO, IPV6_TCLASS
        SOL_IPV6: [16, 25, 26, 49, 67],
    ]
    /// Options only getsockopt may pass (setting them is the host's business or meaningless).
    static let readOnly: Set<Int32> = [SocketConstants.SO_TYPE, SocketConstants.SO_ERROR, SocketConstants.SO_PEERCRED,
                                       SocketConstants.SO_ACCEPTCONN, SocketConstants.SO_PROTOCOL, SocketConstants.SO_DOMAIN]

    private func allowed(level: Int32, name: Int32) throws(Errno) {
        if level == Self.SOL_TCP && !isStream { throw .ENOPROTOOPT }   // as udp_setsockopt answers
        if level == Self.SOL_IPV6 && family != SocketConstants.AF_INET6 { throw .ENOPROTOOPT }
        guard Self.passed[level]?.contains(name) == true else { throw .ENOPROTOOPT }
    }

    /// getsockopt: the host's answer, at most `length` bytes.
    public func getOption(level: Int32, name: Int32, length: Int) throws(Errno) -> [UInt8] {
        if level == SocketConstants.SOL_SOCKET && (name == SocketConstants.SO_RCVTIMEO || name == SocketConstants.SO_SNDTIMEO) {
            let ns = name == SocketConstants.SO_RCVTIMEO ? receiveTimeout : sendTimeout
            let tv = ns <= 0 ? (Int64(0), Int64(0)) : (ns / 1_000_000_000, ns % 1_000_000_000 / 1000)
            return withUnsafeBytes(of: tv) { Array($0) }
        }
        try allowed(level: level, name: name)
        var buf = [UInt8](repeating: 0, count: min(max(length, 0), 512))
        var len = socklen_t(buf.count)
        _ = try host { buf.withUnsafeMutableBytes { Int(getsockopt(fd, level, name, $0.baseAddress, &len)) } }
        return Array(buf[..<min(Int(len), buf.count)])
    }

    public func setOption(level: Int32, name: Int32, value: [UInt8]) throws(Errno) {
        if level == SocketConstants.SOL_SOCKET && (name == SocketConstants.SO_RCVTIMEO || name == SocketConstants.SO_SNDTIMEO) {
            let ns = try SocketEndpoint.timeout(value)
            timeouts.withLock { if name == SocketConstants.SO_RCVTIMEO { $0.receive = ns } else { $0.send = ns } }
            return
        }
        try allowed(level: level, name: name)
        if level == SocketConstants.SOL_SOCKET && Self.readOnly.contains(name) { throw .ENOPROTOOPT }
        var v = value
        _ = try host { v.withUnsafeMutableBytes { Int(setsockopt(fd, level, name, $0.baseAddress, socklen_t($0.count))) } }
    }
}
