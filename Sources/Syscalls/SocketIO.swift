import Glibc
import Sentry

/// A guest scatter/gather list, kept as addresses: bytes are copied at the
/// moment of transfer, never held as pointers across a wait. (Or bytes the
/// sentry already holds: what sendfile sends to a socket.)
struct GuestIOV {
    var segments: [(base: GuestAddress, length: Int)] = []
    var total = 0
    private var held: [UInt8]?

    init(holding bytes: [UInt8]) { held = bytes; total = bytes.count }

    init(_ segments: [(GuestAddress, Int)]) {
        for (b, l) in segments where l > 0 {
            let l = min(l, Task.maxRWCount - total)   // Linux truncates the total to MAX_RW_COUNT
            if l <= 0 { break }
            self.segments.append((b, l)); total += l
        }
    }

    /// struct iovec[count] from guest memory, UIO_MAXIOV at most (more is
    /// EMSGSIZE for a msghdr, EINVAL for readv/writev).
    static func read(_ t: Task, _ addr: GuestAddress, count: Int, tooMany: Errno = .EMSGSIZE) throws(Errno) -> GuestIOV {
        guard count >= 0, count <= 1024 else { throw tooMany }
        if count == 0 { return GuestIOV([]) }
        let raw = try t.mm.copyIn(addr, count * 16)
        var segs: [(GuestAddress, Int)] = []
        for i in 0..<count {
            let base = raw.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: i * 16, as: UInt64.self) }
            let len = raw.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: i * 16 + 8, as: UInt64.self) }
            guard Int64(bitPattern: len) >= 0 else { throw .EINVAL }
            segs.append((GuestAddress(base), Int(min(len, UInt64(Task.maxRWCount)))))
        }
        return GuestIOV(segs)
    }

    /// The guest ranges of `count` bytes from `offset` on.
    func ranges(from offset: Int, count: Int) -> [GuestRange] {
        var out: [GuestRange] = []
        var skip = max(0, offset), left = max(0, count)
        for (b, l) in segments where left > 0 {
            if skip >= l { skip -= l; continue }
            let n = min(l - skip, left)
            out.append(GuestRange(b + UInt64(skip), n))
            left -= n
            skip = 0
        }
        return out
    }

    /// Runs `body` on the bytes `[offset, offset+count)` as they are now:
    /// the guest's pages, with its memory manager locked (the accessible
    /// prefix; EFAULT if the first byte faults), or the held bytes. `body`
    /// must not sleep (see MemoryManager.withGuestBuffers).
    func withSource<R>(_ t: Task, from offset: Int, count: Int,
                       _ body: ([UnsafeRawBufferPointer]) throws(Errno) -> R) throws(Errno) -> R {
        if let held {
            let from = min(max(0, offset), held.count)
            let n = min(max(0, count), held.count - from)
            return try Errno.typed { try held.withUnsafeBytes { b in try body([UnsafeRawBufferPointer(rebasing: b[from..<(from + n)])]) } }
        }
        return try t.mm.withGuestBuffers(ranges(from: offset, count: count), write: false) { (bufs) throws(Errno) -> R in
            try body(bufs.map { UnsafeRawBufferPointer($0) })
        }
    }

    /// Runs `body` on the guest's buffers from `offset` on (the accessible
    /// prefix; EFAULT if the first byte faults), its memory manager locked.
    func withTarget<R>(_ t: Task, at offset: Int, _ body: ([UnsafeMutableRawBufferPointer]) throws(Errno) -> R) throws(Errno) -> R {
        try t.mm.withGuestBuffers(ranges(from: offset, count: total - offset), write: true, body)
    }

    /// `count` bytes from `offset` on, copied out of the guest (EFAULT unless all are there).
    func copyIn(_ t: Task, from offset: Int, count: Int) throws(Errno) -> [UInt8] {
        if count <= 0 { return [] }
        return try withSource(t, from: offset, count: count) { (bufs) throws(Errno) -> [UInt8] in
            guard bufs.reduce(0, { $0 + $1.count }) >= count else { throw .EFAULT }
            return [UInt8](unsafeUninitializedCapacity: count) { out, n in
                for b in bufs where n < count {
                    let c = min(b.count, count - n)
                    memcpy(out.baseAddress! + n, b.baseAddress!, c)
                    n += c
                }
            }
        }
    }

    /// Writes `bytes` into the list from `offset` on.
    func copyOut(_ t: Task, _ bytes: [UInt8], at offset: Int) throws(Errno) {
        guard !bytes.isEmpty else { return }
        let done = try withTarget(t, at: offset) { (bufs) throws(Errno) -> Int in
            bytes.withUnsafeBytes { src in
                var at = 0
                for b in bufs where at < src.count {
                    let n = min(b.count, src.count - at)
                    memcpy(b.baseAddress!, src.baseAddress! + at, n)
                    at += n
                }
                return at
            }
        }
        guard done == bytes.count else { throw .EFAULT }
    }
}

/// struct msghdr, as sendmsg/recvmsg read it.
struct GuestMsghdr {
    static let size = 56
    var name: GuestAddress, nameLength: Int32
    var iov: GuestAddress, iovLength: UInt64
    var control: GuestAddress, controlLength: UInt64

    static func read(_ t: Task, _ addr: GuestAddress) throws(Errno) -> GuestMsghdr {
        let b = try t.mm.copyIn(addr, size)
        return b.withUnsafeBytes { r in
            GuestMsghdr(name: GuestAddress(r.loadUnaligned(fromByteOffset: 0, as: UInt64.self)),
                        nameLength: r.loadUnaligned(fromByteOffset: 8, as: Int32.self),
                        iov: GuestAddress(r.loadUnaligned(fromByteOffset: 16, as: UInt64.self)),
                        iovLength: r.loadUnaligned(fromByteOffset: 24, as: UInt64.self),
                        control: GuestAddress(r.loadUnaligned(fromByteOffset: 32, as: UInt64.self)),
                        controlLength: r.loadUnaligned(fromByteOffset: 40, as: UInt64.self))
        }
    }
}

extension Sockets {
    // MARK: Sending

    static func sendto(_ t: Task, _ a: SyscallArguments) throws(Errno) -> Int64 {
        if let h = try HostSockets.file(t, a.fd(0)) { return try HostSockets.sendto(t, h, a) }
        let s = try socketFile(t, a.fd(0))
        let iov = GuestIOV([(a.address(1), a.count(2))])
        var name: [UInt8]? = nil
        if a[4] != 0 { name = try readSockaddr(t, a.address(4), a.int32(5)) }
        if name?.isEmpty == true { name = nil }
        return Int64(try send(t, s, iov, name: name, control: [], flags: a.int32(3)))
    }

    static func sendmsg(_ t: Task, _ a: SyscallArguments) throws(Errno) -> Int64 {
        if let h = try HostSockets.file(t, a.fd(0)) { return Int64(try HostSockets.sendMessage(t, h, GuestMsghdr.read(t, a.address(1)), flags: a.int32(2))) }
        let s = try socketFile(t, a.fd(0))
        let m = try GuestMsghdr.read(t, a.address(1))
        return Int64(try sendMessage(t, s, m, flags: a.int32(2)))
    }

    static func sendMessage(_ t: Task, _ s: SocketFile, _ m: GuestMsghdr, flags: Int32) throws(Errno) -> Int {
        guard m.nameLength >= 0 else { throw .EINVAL }
        var name: [UInt8]? = nil
        if m.name.rawValue != 0 && m.nameLength > 0 { name = try t.mm.copyIn(m.name, Int(min(m.nameLength, 128))) }
        guard m.controlLength <= UInt64(Int32.max) else { throw .ENOBUFS }
        guard m.controlLength <= 20480 else { throw .ENOBUFS }   // net.core.optmem_max
        let control = m.controlLength == 0 ? [] : try t.mm.copyIn(m.control, Int(m.controlLength))
        let iov = try GuestIOV.read(t, m.iov, count: Int(min(m.iovLength, 1 << 20)))
        return try send(t, s, iov, name: name, control: control, flags: flags)
    }

    /// What a send's control messages asked for.
    struct SendControl {
        var rights: [FileDescription] = []
        var credentials: SocketCredentials?
        /// IPV6_HOPLIMIT and IPV6_TCLASS of a UDPv6 send (-1: the socket's).
        var hopLimit: Int32?, trafficClass: Int32?
    }

    /// The control messages of a send (__scm_send): SCM_RIGHTS descriptors
    /// and SCM_CREDENTIALS, which must be the sender's own; and on a UDPv6
    /// socket (`ipv6`) the IPPROTO_IPV6 ones ip6_datagram_send_ctl reads,
    /// IPV6_HOPLIMIT and IPV6_TCLASS (an int from -1 to 255, else EINVAL).
    static func parseControl(_ t: Task, _ control: [UInt8], ipv6: Bool = false) throws(Errno) -> SendControl {
        var rights: [FileDescription] = []
        var creds: SocketCredentials?
        var out = SendControl()
        try forEachControlMessage(control) { (level, type, whole) throws(Errno) in
            let body = Array(control[(whole.lowerBound + 16)..<whole.upperBound])
            if level == C.SOL_SOCKET {
                switch type {
                case C.SCM_RIGHTS:
                    let n = body.count / 4
                    guard rights.count + n <= C.maxRights else { throw .EINVAL }
                    if n > 0 && t.kernel.unixNames.rightsInFlight.load(ordering: .relaxed) > Int(t.fds.limit) { throw .ETOOMANYREFS }
                    for i in 0..<n {
                        let fd = body.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: i * 4, as: Int32.self) }
                        rights.append(try t.fds.get(FileDescriptor(fd)))
                    }
                case C.SCM_CREDENTIALS:
                    guard body.count == 12 else { throw .EINVAL }
                    let c = body.withUnsafeBytes { r in
                        SocketCredentials(pid: r.loadUnaligned(as: Int32.self), uid: r.loadUnaligned(fromByteOffset: 4, as: UInt32.self),
                                          gid: r.loadUnaligned(fromByteOffset: 8, as: UInt32.self))
                    }
                    // scm_check_creds: only a privileged sender may speak for another.
                    let me = Creds.creds(t)
                    guard c.pid == t.pid || me.capable(Credentials.CAP_SYS_ADMIN) else { throw .EPERM }
                    guard [me.uid, me.euid, me.suid].contains(c.uid) || me.capable(Credentials.CAP_SETUID) else { throw .EPERM }
                    guard [me.gid, me.egid, me.sgid].contains(c.gid) || me.capable(Credentials.CAP_SETGID) else { throw .EPERM }
                    creds = c
                default: throw .EINVAL
                }
            } else if ipv6 && level == SocketEndpoint.IPPROTO_IPV6_LEVEL
                        && (type == SocketEndpoint.IPV6_HOPLIMIT || type == SocketEndpoint.IPV6_TCLASS) {
                guard body.count == 4 else { throw .EINVAL }
                let v = body.withUnsafeBytes { $0.loadUnaligned(as: Int32.self) }
                guard (-1...255).contains(v) else { throw .EINVAL }
                if type == SocketEndpoint.IPV6_HOPLIMIT { out.hopLimit = v } else { out.trafficClass = v }
            }
        }
        out.rights = rights
        out.credentials = creds
        return out
    }

    /// Walks a msghdr's control buffer, as CMSG_FIRSTHDR/CMSG_NXTHDR do:
    /// each message's level, type and byte range (its 16-byte header
    /// included); EINVAL for a header whose length is short or overruns.
    static func forEachControlMessage(_ control: [UInt8], _ body: (Int32, Int32, Range<Int>) throws(Errno) -> Void) throws(Errno) {
        var at = 0
        while control.count - at >= 16 {
            let len = control.load(UInt64.self, at: at)
            guard len >= 16, len <= UInt64(control.count - at) else { throw .EINVAL }
            try body(control.load(Int32.self, at: at + 8), control.load(Int32.self, at: at + 12), at..<(at + Int(len)))
            at += (Int(len) + 7) & ~7   // len is at most the buffer's size here
        }
    }

    /// sendmsg's core for every socket kind; SIGPIPE on a stream's EPIPE
    /// unless MSG_NOSIGNAL.
    static func send(_ t: Task, _ s: SocketFile, _ iov: GuestIOV, name: [UInt8]?, control: [UInt8], flags: Int32) throws(Errno) -> Int {
        let ep = s.endpoint
        let parsed = try parseControl(t, control, ipv6: ep.isInet && ep.kind == .datagram && ep.family == C.AF_INET6)
        let (rights, explicitCreds) = (parsed.rights, parsed.credentials)
        let oob = flags & C.MSG_OOB != 0
        // Out-of-band data is a stream's (TCP's, AF_UNIX's); AF_UNIX needs a byte to send as it.
        if oob && (ep.kind != .stream || ep.isNetlink || (!ep.isInet && iov.total == 0)) { throw .EOPNOTSUPP }
        let creds = explicitCreds ?? credentials(t)
        let nonBlocking = flags & C.MSG_DONTWAIT != 0 || s.flags.contains(.nonBlock)
        let timeout = ep.sendTimeout
        let from = ep.address

        if ep.isICMPSocket { return try ICMPSockets.send(t, ep, iov, name: name, flags: flags) }
        if ep.isInet && ep.kind == .datagram {
            return try sendUDP(t, ep, iov, name: name, ipv6: ep.ipv6PacketInfo(hopLimit: parsed.hopLimit, trafficClass: parsed.trafficClass))
        }
        if ep.isNetlink {
            if let name { guard try netlinkAddress(name).0 == 0 else { throw .ECONNREFUSED } }
            guard iov.total <= ep.sendBufferSize - 32 else { throw .EMSGSIZE }
            try ep.netlinkRequest(iov.copyIn(t, from: 0, count: iov.total), pid: t.pid)
            return iov.total
        }
        if ep.kind == .stream {
            // TCP ignores a destination; AF_UNIX refuses one.
            if name != nil && !ep.isInet { throw ep.phase == .connected ? .EISCONN : .EOPNOTSUPP }
            // A send a freeze cut short goes on after what it had queued.
            var sent = t.takeRestartDone(max: iov.total)
            if iov.total > 0, sent == 0, let n = ep.absorbWriteAfterPeerClosed(iov.total) { return n }
            if iov.total == 0 && ep.takesEmptySend { return 0 }
            if ep.isInet { ep.account.sendStarts() }
            // AF_UNIX sends an urgent byte as a message of its own, after the rest.
            let inBand = oob && !ep.isInet ? iov.total - 1 : iov.total
            let sendBuffer = ep.isInet ? 0 : ep.sendBufferSize
            do {
                // A lone urgent byte meets a dead peer in queue_oob, which sends no SIGPIPE.
                if inBand > 0 || ep.sendShut { _ = try ep.streamSendSpace() }
                while sent < inBand {
                    let n = try waiting(t, on: [ep.queue], nonBlocking: nonBlocking, timeout: timeout) { () throws(Errno) -> Int in
                        let room = try ep.streamSendSpace()
                        guard room > 0 else {
                            ep.account.sendFoundNoSpace(nonBlocking: nonBlocking)
                            throw .EAGAIN
                        }
                        // Straight from the guest's pages into the peer's queue; a
                        // fault part-way sends what came before it.
                        let asked = min(inBand - sent, room, 1 << 16)
                        let chunk = try iov.withSource(t, from: sent, count: asked) { (bytes) throws(Errno) -> Int in
                            let n = bytes.reduce(0) { $0 + $1.count }
                            // TCP marks the urgent pointer wherever the send pushes: at its
                            // end, and where it stops short (a full buffer, a fault), as tcp_push does.
                            let urgent = oob && ep.isInet && (sent + n == inBand || n < min(inBand - sent, 1 << 16))
                            var m = SocketMessage(length: n, rights: sent == 0 ? rights : [], credentials: creds, from: from, sender: ep.account)
                            // What a splice may append to it (UnixSendPage.swift), as Linux's skbs for this write so far.
                            if !ep.isInet { m.pageFrags = SocketEndpoint.unixStreamFrags(writing: sent + n, sendBuffer: sendBuffer) }
                            try ep.send(m, bytes: bytes, to: nil, urgent: urgent)
                            return n
                        }
                        if ep.isInet { t.kernel.unixNames.loopback.count(bytes: chunk) }
                        return chunk
                    }
                    sent += n
                }
            } catch {
                if let restart = t.freezeCut(after: sent, error) { throw restart }
                if sent > 0 { return sent }
                // TCP that never connected says EPIPE where AF_UNIX says ENOTCONN.
                let error = error == .ENOTCONN && ep.isInet ? Errno.EPIPE : error
                if error == .EPIPE && flags & C.MSG_NOSIGNAL == 0 {
                    t.post(t.senderInfo(Signal.SIGPIPE.rawValue, code: SignalInfo.SI_USER))
                }
                throw error
            }
            if oob && !ep.isInet { return sent + (try sendUrgentByte(t, ep, iov, at: sent, rights: sent == 0 ? rights : [], credentials: creds, nonBlocking: nonBlocking, sentBefore: sent)) }
            return sent
        }

        // Datagrams and records: one message, all or nothing.
        if ep.kind == .seqpacket && ep.phase != .connected { throw .ENOTCONN }
        var target: SocketEndpoint? = nil
        if ep.kind == .datagram, let name {
            target = try s.find(UnixAddress.parse(name), cwd: t.cwd, vfs: t.kernel.vfs, t)
        }
        if ep.kind == .datagram { try s.autobindForCredentials() }
        guard iov.total <= ep.sendBufferSize - 32 else { throw .EMSGSIZE }
        let message = SocketMessage(length: iov.total, rights: rights, credentials: creds, from: from, sender: ep.account)
        var queues = [ep.queue]
        if let q = target?.queue ?? ep.peerQueue { queues.append(q) }
        do {
            // Copied at each attempt, with the pages of that moment: all of it or EFAULT.
            try waiting(t, on: queues, nonBlocking: nonBlocking, timeout: timeout) { () throws(Errno) in
                try iov.withSource(t, from: 0, count: iov.total) { (bytes) throws(Errno) in
                    guard bytes.reduce(0, { $0 + $1.count }) >= iov.total else { throw .EFAULT }
                    try ep.send(message, bytes: bytes, to: target)
                }
            }
        } catch {
            if error == .ECONNREFUSED, target == nil { ep.forgetDeadPeer() }
            // The send buffer full, not the receiver's queue (sock_alloc_send_pskb's mark).
            if error == .EAGAIN, ep.account.inFlight >= ep.sendBufferSize { ep.account.sendFoundNoSpace(nonBlocking: true) }
            throw error
        }
        return iov.total
    }

    /// queue_oob: an AF_UNIX stream's urgent byte, the send's last, as a
    /// message of its own that becomes the peer's mark. Its errors are
    /// the send's only if nothing went before, and bring no SIGPIPE.
    static func sendUrgentByte(_ t: Task, _ ep: SocketEndpoint, _ iov: GuestIOV, at offset: Int, rights: [FileDescription],
                               credentials: SocketCredentials, nonBlocking: Bool, sentBefore: Int) throws(Errno) -> Int {
        do {
            try waiting(t, on: [ep.queue], nonBlocking: nonBlocking, timeout: ep.sendTimeout) { () throws(Errno) in
                guard try ep.streamSendSpace() > 0 else {
                    ep.account.sendFoundNoSpace(nonBlocking: nonBlocking)
                    throw .EAGAIN
                }
                try iov.withSource(t, from: offset, count: 1) { (bytes) throws(Errno) in
                    guard bytes.reduce(0, { $0 + $1.count }) >= 1 else { throw .EFAULT }
                    try ep.send(SocketMessage(length: 1, rights: rights, credentials: credentials, from: ep.address, sender: ep.account),
                                bytes: bytes, to: nil, urgent: true)
                }
            }
        } catch {
            if sentBefore > 0 { return 0 }
            throw error
        }
        return 1
    }

    /// A UDP datagram on the loopback: to the named or connected address,
    /// from this socket's (autobound) port; dropped if no one listens.
    static func sendUDP(_ t: Task, _ ep: SocketEndpoint, _ iov: GuestIOV, name: [UInt8]?, ipv6: IPv6PacketInfo? = nil) throws(Errno) -> Int {
        let dest: InetAddress
        if let name { dest = try InetAddress.parse(name, socketFamily: ep.family) } else {
            guard let p = ep.udpPeer else { throw .EDESTADDRREQ }
            dest = p
        }
        guard iov.total <= 65507 else { throw .EMSGSIZE }
        let routed = try SocketEndpoint.route(dest)
        let local = try ep.autobindInet()
        // A wildcard-bound sender's datagram leaves from the route's preferred source (127.0.0.1, ::1).
        let from = local.isAny ? SocketEndpoint.sourceAddress(for: routed).with(port: local.port) : local
        let receiver = try ep.udpReceiver(routed)
        // An ICMP error that came since (ICMPSockets.udpPortUnreachable) fails this send, as sock_alloc_send_skb does.
        if let e = ep.takeError() { throw e }
        // A connected UDP socket hears only its peer.
        let heard = receiver.map { r in r.udpPeer.map { $0.sameEndpoint(from) } ?? true } ?? false
        try iov.withSource(t, from: 0, count: iov.total) { (bytes) throws(Errno) in
            guard bytes.reduce(0, { $0 + $1.count }) >= iov.total else { throw .EFAULT }
            if let receiver, heard {
                var m = SocketMessage(length: iov.total, rights: [], credentials: nil, from: .inet(from), sender: nil)
                m.ipv6 = ipv6
                try ep.sendUDP(m, bytes: bytes, to: receiver)
            }
        }
        t.kernel.unixNames.loopback.count(bytes: iov.total)
        if !heard { ICMPSockets.udpPortUnreachable(t, ep, iov, from: from, to: routed) }
        return iov.total
    }

    // MARK: Receiving

    static func recvfrom(_ t: Task, _ a: SyscallArguments) throws(Errno) -> Int64 {
        if let h = try HostSockets.file(t, a.fd(0)) { return try HostSockets.recvfrom(t, h, a) }
        let s = try socketFile(t, a.fd(0))
        let iov = GuestIOV([(a.address(1), a.count(2))])
        if a.int32(3) & ICMPSockets.MSG_ERRQUEUE != 0 && s.endpoint.isInet {
            return Int64(try ICMPSockets.receiveErrorMessage(t, s.endpoint, iov, flags: a.int32(3), name: (a.address(4), a.address(5)), msghdr: nil))
        }
        let r = try receive(t, s, iov, flags: a.int32(3))
        if a[4] != 0 {
            try writeSockaddr(t, a.address(4), a.address(5), s.endpoint.present(r.from)?.encoded ?? [])
        }
        dropRights(r)
        return Int64(r.result)
    }

    static func recvmsg(_ t: Task, _ a: SyscallArguments) throws(Errno) -> Int64 {
        if let h = try HostSockets.file(t, a.fd(0)) { return Int64(try HostSockets.receiveMessage(t, h, a.address(1), flags: a.int32(2))) }
        let s = try socketFile(t, a.fd(0))
        return Int64(try receiveMessage(t, s, a.address(1), flags: a.int32(2)))
    }

    /// One recvmsg into the msghdr at `addr`, whose name length, control
    /// length and flags are written back.
    static func receiveMessage(_ t: Task, _ s: SocketFile, _ addr: GuestAddress, flags: Int32) throws(Errno) -> Int {
        let m = try GuestMsghdr.read(t, addr)
        guard m.nameLength >= 0 else { throw .EINVAL }
        let iov = try GuestIOV.read(t, m.iov, count: Int(min(m.iovLength, 1 << 20)))
        if flags & ICMPSockets.MSG_ERRQUEUE != 0 && s.endpoint.isInet {
            return try ICMPSockets.receiveErrorMessage(t, s.endpoint, iov, flags: flags, name: nil, msghdr: (addr, m))
        }
        let r = try receive(t, s, iov, flags: flags)
        if m.name.rawValue != 0 {
            let bytes = s.endpoint.present(r.from)?.encoded ?? []
            let n = min(Int(m.nameLength), bytes.count)
            if n > 0 { try t.mm.copyOut(m.name, Array(bytes[..<n])) }
            try t.mm.write(addr + 8, Int32(bytes.count))
        } else {
            try t.mm.write(addr + 8, Int32(0))
        }
        // ___sys_recvmsg starts msg_flags from the caller's MSG_CMSG_CLOEXEC.
        var msgFlags = (flags & C.MSG_CMSG_CLOEXEC) | (r.truncated ? C.MSG_TRUNC : 0) | (r.outOfBand ? C.MSG_OOB : 0)
        let used = try writeControl(t, r, m, cloexec: flags & C.MSG_CMSG_CLOEXEC != 0, passCredentials: s.endpoint.passesCredentials,
                                    timestamp: s.endpoint.timestampControl(arrival: r.arrival), drops: s.endpoint.dropsControl(r.dropCount),
                                    ipv6Reports: s.endpoint.ipv6Reports, flags: &msgFlags)
        try t.mm.write(addr + 40, UInt64(used))
        try t.mm.write(addr + 48, msgFlags)
        return r.result
    }

    static let MSG_WAITFORONE: Int32 = 0x10000

    /// sendmmsg: sendmsg over a vector of struct mmsghdr (a msghdr and the
    /// byte count sent); an error after the first message ends the batch.
    static func sendmmsg(_ t: Task, _ a: SyscallArguments) throws(Errno) -> Int64 {
        let h = try HostSockets.file(t, a.fd(0))
        let s = h == nil ? try socketFile(t, a.fd(0)) : nil
        let count = Int(min(a.uint32(2), 1024))   // UIO_MAXIOV
        var done = 0
        while done < count {
            let entry = a.address(1) + UInt64(done * 64)
            do throws(Errno) {
                let m = try GuestMsghdr.read(t, entry)
                let n = if let h { try HostSockets.sendMessage(t, h, m, flags: a.int32(3)) } else { try sendMessage(t, s!, m, flags: a.int32(3)) }
                try t.mm.write(entry + 56, UInt32(truncatingIfNeeded: n))
            } catch {
                if done == 0 { throw error }
                break
            }
            done += 1
        }
        return Int64(done)
    }

    /// recvmmsg: recvmsg into a vector; MSG_WAITFORONE waits only for the
    /// first, and the timeout is looked at between datagrams, as Linux does.
    static func recvmmsg(_ t: Task, _ a: SyscallArguments) throws(Errno) -> Int64 {
        let h = try HostSockets.file(t, a.fd(0))
        let s = h == nil ? try socketFile(t, a.fd(0)) : nil
        let count = Int(min(a.uint32(2), 1024))
        var flags = a.int32(3)
        var deadline: Deadline?
        if a[4] != 0 {
            let ts = try t.mm.read(a.address(4), as: timespec.self)
            guard ts.tv_sec >= 0, ts.tv_nsec >= 0, ts.tv_nsec < 1_000_000_000 else { throw .EINVAL }
            let (ns, o) = Int64(ts.tv_sec).multipliedReportingOverflow(by: 1_000_000_000)
            deadline = Deadline.after(o ? .max : ns &+ Int64(ts.tv_nsec))
        }
        var done = 0
        while done < count {
            let entry = a.address(1) + UInt64(done * 64)
            do throws(Errno) {
                let f = flags & ~Self.MSG_WAITFORONE
                let n = if let h { try HostSockets.receiveMessage(t, h, entry, flags: f) } else { try receiveMessage(t, s!, entry, flags: f) }
                try t.mm.write(entry + 56, UInt32(truncatingIfNeeded: n))
            } catch {
                if done == 0 { throw error }
                break
            }
            done += 1
            if flags & Self.MSG_WAITFORONE != 0 { flags |= C.MSG_DONTWAIT }
            if let deadline, deadline.remaining == 0 { break }
        }
        return Int64(done)
    }

    struct Reception {
        var result = 0
        var from: SocketAddress?
        var rights: [FileDescription] = []
        var credentials: SocketCredentials?
        var ipv6: IPv6PacketInfo?
        /// The arrival stamp a timestamp control message reports (SocketTimestamps.swift).
        var arrival: Int64 = 0
        var dropCount: UInt32 = 0
        var truncated = false
        /// recv(MSG_OOB) read the urgent byte (msg_flags says MSG_OOB).
        var outOfBand = false
    }

    /// recvmsg's core: waits for data (or EOF), copies it to the guest.
    /// Streams honour MSG_WAITALL; datagrams MSG_TRUNC.
    static func receive(_ t: Task, _ s: SocketFile, _ iov: GuestIOV, flags: Int32) throws(Errno) -> Reception {
        let ep = s.endpoint
        let flags = ep.isPing ? flags & ~C.MSG_TRUNC : flags   // ping_recvmsg returns what it copied
        let peek = flags & C.MSG_PEEK != 0
        if flags & C.MSG_OOB != 0 {
            guard ep.kind == .stream else { throw .EOPNOTSUPP }
            return try receiveUrgent(t, ep, iov, peek: peek, truncate: flags & C.MSG_TRUNC != 0)
        }
        let nonBlocking = flags & C.MSG_DONTWAIT != 0 || s.flags.contains(.nonBlock)
        let timeout = ep.receiveTimeout
        var out = Reception()
        var got = 0
        var first = true
        // What a stream read waits for: the whole buffer under MSG_WAITALL, else
        // SO_RCVLOWAT's mark or the buffer if shorter (sock_rcvlowat). A peek takes what is there.
        let waitAll = flags & C.MSG_WAITALL != 0 && !peek
        let target = waitAll ? iov.total : peek ? 1 : min(ep.receiveLowWater, iov.total)
        do {
            while true {
                // Only what can be read wakes it, not room freed at the peer.
                var slept = false
                let r = try waiting(t, on: [ep.queue], nonBlocking: nonBlocking, timeout: timeout, interest: .readable,
                                    sleeper: ep.kind == .stream ? ep : nil) { () throws(Errno) in
                    // A TCP reader asleep is woken only once SO_RCVLOWAT's worth has come
                    // (tcp_data_ready), not counting what it already took; what is there
                    // before it sleeps it takes at once.
                    defer { slept = true }
                    if slept && ep.isTCP && !ep.tcpReadableAtLowWater { throw .EAGAIN }
                    return try receiveAttempt(t, ep, iov, at: got, peek: peek, dontWait: nonBlocking)
                }
                if r.endOfFile { break }
                got += r.count
                if r.arrival != 0 { out.arrival = r.arrival }
                if first {
                    out.from = r.from; out.credentials = r.credentials; out.rights = r.rights; out.ipv6 = r.ipv6
                    out.dropCount = r.dropCount
                    first = false
                }
                if ep.kind != .stream {
                    out.truncated = r.truncated
                    out.result = flags & C.MSG_TRUNC != 0 ? r.fullLength : r.count
                    return out
                }
                if got >= target || !r.rights.isEmpty || r.atMark { break }
            }
        } catch {
            if got == 0 || error == .EFAULT { throw error }
        }
        out.result = got
        return out
    }

    /// recv(MSG_OOB) on a stream: the urgent byte, never waiting. TCP with
    /// an empty buffer takes it and says MSG_TRUNC; with MSG_TRUNC it is
    /// taken, not copied (tcp_recv_urg); AF_UNIX copies it or says EFAULT
    /// (unix_stream_recv_urg).
    static func receiveUrgent(_ t: Task, _ ep: SocketEndpoint, _ iov: GuestIOV, peek: Bool, truncate: Bool) throws(Errno) -> Reception {
        let u = try ep.takeUrgent(peek: peek, wanted: iov.total)
        var out = Reception()
        out.outOfBand = true
        if let b = u.byte {
            // An empty buffer takes the byte without a copy (a short copy into nothing is no fault).
            if !(ep.isInet && truncate) && iov.total > 0 { try iov.copyOut(t, [b], at: 0) }
            out.result = 1
        } else {
            out.truncated = u.truncated
        }
        return out
    }

    /// One receive straight into the guest's buffers from `offset` on, with
    /// its memory manager locked while the bytes move. A buffer whose first
    /// byte faults is EFAULT only if there is something to copy: an empty
    /// queue still says EAGAIN, and a closed one end-of-file.
    static func receiveAttempt(_ t: Task, _ ep: SocketEndpoint, _ iov: GuestIOV, at offset: Int, peek: Bool, dontWait: Bool = false) throws(Errno) -> SocketEndpoint.Received {
        let want = iov.total - offset
        let r: SocketEndpoint.Received
        do {
            r = try iov.withTarget(t, at: offset) { (bufs) throws(Errno) in try ep.receive(into: bufs, max: want, peek: peek, dontWait: dontWait) }
        } catch .EFAULT {
            let probe = try ep.receive(into: [], max: 0, peek: true)
            if probe.endOfFile { return probe }
            if ep.kind != .stream {
                // Linux dequeues a datagram before it copies: it is lost to the
                // fault (unless peeking), and an empty one is read as 0.
                let taken = try ep.receive(into: [], max: 0, peek: peek)
                if probe.fullLength == 0 { return taken }
            }
            throw .EFAULT
        }
        // A datagram taken but not fitting the accessible part of the buffer is lost.
        if r.faulted { throw .EFAULT }
        return r
    }

    /// Writes SCM_CREDENTIALS (if the socket asked) and SCM_RIGHTS into the
    /// guest's control buffer as put_cmsg and scm_detach_fds do: what does
    /// not fit is cut (MSG_CTRUNC) and the descriptors left out are closed.
    static func writeControl(_ t: Task, _ r: Reception, _ m: GuestMsghdr, cloexec: Bool, passCredentials: Bool,
                             timestamp: (type: Int32, body: [UInt8])? = nil, drops: (type: Int32, body: [UInt8])? = nil,
                             ipv6Reports: (hopLimit: Bool, trafficClass: Bool, hopLimit2292: Bool) = (false, false, false),
                             flags: inout Int32) throws(Errno) -> Int {
        let room = Int(min(m.controlLength, UInt64(Int32.max)))
        var used = 0
        func put(_ type: Int32, _ body: [UInt8], level: Int32 = C.SOL_SOCKET) throws(Errno) {
            let left = room - used
            if left < 16 { flags |= C.MSG_CTRUNC; return }
            let full = 16 + body.count
            var bytes = withUnsafeBytes(of: (UInt64(full), level, type)) { Array($0) } + body
            if full > left { flags |= C.MSG_CTRUNC; bytes = Array(bytes[..<left]) }
            try t.mm.copyOut(m.control + UInt64(used), bytes)
            used += min((full + 7) & ~7, left)
        }
        // sock_recv_cmsgs comes first: the timestamp.
        if let timestamp { try put(timestamp.type, timestamp.body) }
        if let drops { try put(drops.type, drops.body) }
        // ip6_datagram_recv_specific_ctl's order: the hop limit, the traffic class, then RFC 2292's hop limit.
        if let info = r.ipv6 {
            if ipv6Reports.hopLimit {
                try put(SocketEndpoint.IPV6_HOPLIMIT, withUnsafeBytes(of: info.hopLimit) { Array($0) }, level: SocketEndpoint.IPPROTO_IPV6_LEVEL)
            }
            if ipv6Reports.trafficClass {
                try put(SocketEndpoint.IPV6_TCLASS, withUnsafeBytes(of: info.trafficClass) { Array($0) }, level: SocketEndpoint.IPPROTO_IPV6_LEVEL)
            }
            if ipv6Reports.hopLimit2292 {
                try put(SocketEndpoint.IPV6_2292HOPLIMIT, withUnsafeBytes(of: info.hopLimit) { Array($0) }, level: SocketEndpoint.IPPROTO_IPV6_LEVEL)
            }
        }
        if passCredentials, let c = r.credentials {
            try put(C.SCM_CREDENTIALS, withUnsafeBytes(of: (c.pid, c.uid, c.gid)) { Array($0) })
        }
        if !r.rights.isEmpty {
            let left = room - used
            let fit = left > 16 ? min((left - 16) / 4, r.rights.count) : 0
            var fds: [Int32] = []
            for f in r.rights.prefix(fit) {
                guard let fd = try? t.fds.install(f, closeOnExec: cloexec) else { break }
                fds.append(fd.rawValue)
            }
            if fds.count < r.rights.count { flags |= C.MSG_CTRUNC }
            if !fds.isEmpty {
                do { try put(C.SCM_RIGHTS, fds.withUnsafeBytes { Array($0) }) } catch {
                    for fd in fds { _ = try? t.fds.remove(FileDescriptor(fd)) }
                    throw error
                }
            }
        }
        return used
    }

    /// recvfrom and read have no control buffer: descriptors that came are closed.
    static func dropRights(_ r: Reception) { _ = r.rights }

    // MARK: read/write on sockets

    static func read(_ t: Task, _ s: SocketFile, _ iov: GuestIOV) throws(Errno) -> Int64 {
        if iov.total == 0 && s.endpoint.kind == .stream { return 0 }
        return Int64(try receive(t, s, iov, flags: 0).result)
    }

    static func write(_ t: Task, _ s: SocketFile, _ iov: GuestIOV) throws(Errno) -> Int64 {
        Int64(try send(t, s, iov, name: nil, control: [], flags: 0))
    }

    /// splice or sendfile into an AF_UNIX socket: page by page, as 6.1's
    /// pipe_to_sendpage hands them to the socket (the first page `firstPage`
    /// bytes or less, the input's page boundary): a stream's to
    /// unix_stream_sendpage, a datagram or seqpacket socket's to
    /// sock_no_sendpage, which sends each as a message of its own. Only the
    /// socket's O_NONBLOCK keeps a page that needs room from waiting
    /// (sock_sendpage); an error after some pages ends the call with their
    /// count, and a stream's EPIPE raises SIGPIPE.
    static func sendPages(_ t: Task, _ s: SocketFile, _ bytes: UnsafeRawBufferPointer, firstPage: Int) throws(Errno) -> Int {
        let ep = s.endpoint
        let nonBlocking = s.flags.contains(.nonBlock)
        let creds = credentials(t)
        var sent = 0
        do throws(Errno) {
            while sent < bytes.count {
                let page = Swift.min(bytes.count - sent, sent == 0 ? Swift.max(1, firstPage) : SocketEndpoint.pageSize)
                let chunk = UnsafeRawBufferPointer(rebasing: bytes[sent..<(sent + page)])
                if ep.kind != .stream {
                    sent += try send(t, s, GuestIOV(holding: Array(chunk)), name: nil, control: [], flags: 0)
                    continue
                }
                try waiting(t, on: [ep.queue], nonBlocking: nonBlocking, timeout: ep.sendTimeout) { () throws(Errno) in
                    do throws(Errno) { try ep.sendPage(chunk, credentials: creds) } catch {
                        if error == .EAGAIN { ep.account.sendFoundNoSpace(nonBlocking: nonBlocking) }
                        throw error
                    }
                }
                sent += page
            }
        } catch {
            if sent > 0 { return sent }
            if error == .EPIPE && ep.kind == .stream { t.post(t.senderInfo(Signal.SIGPIPE.rawValue, code: SignalInfo.SI_USER)) }
            throw error
        }
        return sent
    }
}
