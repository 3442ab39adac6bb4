import Glibc
import Sentry

/// The socket calls on an AF_INET/AF_INET6 socket under `--network=host`
/// (HostSocketFile): each is the host's call on the sentry's host socket,
/// with the guest's bytes copied through sentry buffers at the moment of
/// transfer, and blocking done here (polling the host fd) so that signals,
/// SA_RESTART and SO_RCVTIMEO/SO_SNDTIMEO behave as on the loopback.
enum HostSockets {
    typealias C = SocketConstants

    static func file(_ t: Task, _ fd: FileDescriptor) throws(Errno) -> HostSocketFile? {
        try t.fds.get(fd) as? HostSocketFile
    }

    /// Waits on the host fd for `events` while `attempt` says EAGAIN (see Sockets.waiting).
    static func waiting<T>(_ t: Task, _ h: HostSocketFile, _ events: Int32, nonBlocking: Bool, timeout: Int64,
                           _ attempt: () throws(Errno) -> T) throws(Errno) -> T {
        try Sockets.waiting(t, on: [], hostFDs: [pollfd(fd: h.fd, events: Int16(events), revents: 0)],
                            nonBlocking: nonBlocking, timeout: timeout, attempt)
    }

    static func socket(_ t: Task, family: Int32, kind: SocketEndpoint.Kind, proto: Int32, flags: OpenFlags, raw: Bool = false) throws(Errno) -> Int64 {
        let type = raw ? C.SOCK_RAW : kind == .stream ? C.SOCK_STREAM : C.SOCK_DGRAM
        let h = try HostSocketFile.open(family: family, type: type, proto: proto, flags: flags)
        return Int64(try t.fds.install(h, closeOnExec: flags.contains(.closeOnExec)).rawValue)
    }

    /// The guest's sockaddr, checked as the loopback checks it (length,
    /// family), then handed to the host as given. AF_UNSPEC passes: on a
    /// connect it dissolves the association.
    static func checked(_ bytes: [UInt8], _ h: HostSocketFile) throws(Errno) -> [UInt8] {
        if bytes.count >= 2 && Int32(bytes[0]) | Int32(bytes[1]) << 8 == C.AF_UNSPEC { return bytes }
        _ = try InetAddress.parse(bytes, socketFamily: h.family)
        return bytes
    }

    /// The guest's own privilege decides a port below 1024, as on the
    /// loopback, before the host (with the sentry's) is asked.
    static func bind(_ t: Task, _ h: HostSocketFile, _ a: SyscallArguments) throws(Errno) -> Int64 {
        let bytes = try checked(Sockets.readSockaddr(t, a.address(1), a.int32(2)), h)
        if let port = try? InetAddress.parse(bytes, socketFamily: h.family).port, port != 0, port < 1024,
           !Creds.creds(t).capable(Sockets.CAP_NET_BIND_SERVICE) {
            throw .EACCES
        }
        try h.bind(bytes)
        return 0
    }

    static func listen(_ t: Task, _ h: HostSocketFile, _ a: SyscallArguments) throws(Errno) -> Int64 {
        try h.listen(backlog: a.int32(1))
        return 0
    }

    /// A blocking TCP connect waits for the handshake on the host fd; a
    /// restart after a signal finds it in progress (EALREADY) and waits
    /// again, as Linux's __inet_stream_connect does. SO_SNDTIMEO running
    /// out leaves it in progress: EINPROGRESS.
    static func connect(_ t: Task, _ h: HostSocketFile, _ a: SyscallArguments) throws(Errno) -> Int64 {
        let bytes = try checked(Sockets.readSockaddr(t, a.address(1), a.int32(2)), h)
        do { try h.connect(bytes); return 0 } catch {
            guard error == .EINPROGRESS || error == .EALREADY, h.isStream, !h.flags.contains(.nonBlock) else { throw error }
        }
        do {
            try waiting(t, h, POLLOUT, nonBlocking: false, timeout: h.sendTimeout) { () throws(Errno) in
                if h.readiness(Int16(POLLOUT)) == 0 { throw .EAGAIN }
            }
        } catch {
            throw error == .EAGAIN ? .EINPROGRESS : error
        }
        if let e = h.takeError() { throw e }
        return 0
    }

    static func accept(_ t: Task, _ h: HostSocketFile, _ a: SyscallArguments, flags: Int32) throws(Errno) -> Int64 {
        let (file, peer) = try waiting(t, h, POLLIN, nonBlocking: h.flags.contains(.nonBlock), timeout: h.receiveTimeout) { () throws(Errno) in
            try h.accept(flags: OpenFlags(rawValue: flags & C.SOCK_NONBLOCK))
        }
        if a[1] != 0 { try Sockets.writeSockaddr(t, a.address(1), a.address(2), peer) }
        return Int64(try t.fds.install(file, closeOnExec: flags & C.SOCK_CLOEXEC != 0).rawValue)
    }

    static func name(_ t: Task, _ h: HostSocketFile, _ a: SyscallArguments, peer: Bool) throws(Errno) -> Int64 {
        try Sockets.writeSockaddr(t, a.address(1), a.address(2), h.name(peer: peer))
        return 0
    }

    static func shutdown(_ t: Task, _ h: HostSocketFile, _ a: SyscallArguments) throws(Errno) -> Int64 {
        try h.shutdown(a.int32(1))
        return 0
    }

    static func getsockopt(_ t: Task, _ h: HostSocketFile, _ a: SyscallArguments) throws(Errno) -> Int64 {
        let len = try t.mm.read(a.address(4), as: Int32.self)
        guard len >= 0 else { throw .EINVAL }
        let value = try h.getOption(level: a.int32(1), name: a.int32(2), length: Int(len))
        let n = min(Int(len), value.count)
        if n > 0 { try t.mm.copyOut(a.address(3), Array(value[..<n])) }
        try t.mm.write(a.address(4), Int32(n))
        return 0
    }

    static func setsockopt(_ t: Task, _ h: HostSocketFile, _ a: SyscallArguments) throws(Errno) -> Int64 {
        let len = a.int32(4)
        guard len >= 0 else { throw .EINVAL }
        try h.setOption(level: a.int32(1), name: a.int32(2), value: t.mm.copyIn(a.address(3), Int(min(len, 256))))
        return 0
    }

    // MARK: Data

    /// Linux caps a UDP payload below 64 KiB; more is EMSGSIZE before any copy.
    static let maxDatagram = 65535

    /// The ancillary data for the host: SCM_RIGHTS and SCM_CREDENTIALS are
    /// dropped, as Linux's inet sockets ignore them (__sock_cmsg_send), so no
    /// guest fd number ever reaches the host; the rest (IP_PKTINFO, IP_TOS,
    /// ...) the host checks. A malformed header is EINVAL.
    static func hostControl(_ control: [UInt8]) throws(Errno) -> [UInt8] {
        var out: [UInt8] = []
        try Sockets.forEachControlMessage(control) { (level, type, whole) throws(Errno) in
            if !(level == C.SOL_SOCKET && (type == C.SCM_RIGHTS || type == C.SCM_CREDENTIALS)) {
                out += control[whole]
                out += [UInt8](repeating: 0, count: (8 - out.count % 8) % 8)
            }
        }
        return out
    }

    /// sendmsg's core: a datagram whole, a stream until every byte is sent
    /// (blocking) or the buffer is full (non-blocking), stopping early with
    /// the count so far on a signal, a timeout or a fault. EPIPE raises
    /// SIGPIPE in the guest unless MSG_NOSIGNAL.
    static func send(_ t: Task, _ h: HostSocketFile, _ iov: GuestIOV, name: [UInt8]?, control: [UInt8], flags: Int32) throws(Errno) -> Int {
        let nonBlocking = flags & C.MSG_DONTWAIT != 0 || h.flags.contains(.nonBlock)
        do throws(Errno) {
            let control = try hostControl(control)
            if !h.isStream {
                guard iov.total <= Self.maxDatagram else { throw .EMSGSIZE }
                let data = try iov.copyIn(t, from: 0, count: iov.total)
                return try waiting(t, h, POLLOUT, nonBlocking: nonBlocking, timeout: h.sendTimeout) { () throws(Errno) in
                    try h.send(data, name: name, control: control, flags: flags)
                }
            }
            var sent = 0
            do throws(Errno) {
                repeat {
                    let data = try iov.copyIn(t, from: sent, count: min(iov.total - sent, 1 << 16))
                    sent += try waiting(t, h, POLLOUT, nonBlocking: nonBlocking, timeout: h.sendTimeout) { () throws(Errno) in
                        try h.send(data, name: name, control: sent == 0 ? control : [], flags: flags)
                    }
                } while sent < iov.total
            } catch {
                if sent > 0 { return sent }
                throw error
            }
            return sent
        } catch {
            if error == .EPIPE && flags & C.MSG_NOSIGNAL == 0 {
                t.post(t.senderInfo(Signal.SIGPIPE.rawValue, code: SignalInfo.SI_USER))
            }
            throw error
        }
    }

    /// recvmsg's core: one datagram (cut to the guest's buffer, MSG_TRUNC
    /// as the host says), or stream bytes, all of them under MSG_WAITALL.
    /// Bytes are taken from the host before they are copied to the guest:
    /// a fault there loses them (EFAULT), where Linux would leave them queued.
    static func receive(_ t: Task, _ h: HostSocketFile, _ iov: GuestIOV, controlMax: Int, flags: Int32) throws(Errno) -> HostSocketFile.Received {
        // The error queue never waits (sock_recv_errqueue).
        let nonBlocking = flags & (C.MSG_DONTWAIT | HostSocketFile.MSG_ERRQUEUE) != 0 || h.flags.contains(.nonBlock)
        let cap = h.isStream ? 1 << 20 : Self.maxDatagram
        var out = HostSocketFile.Received(data: [], result: 0, from: [], control: [], flags: 0)
        var got = 0
        do throws(Errno) {
            repeat {
                let r = try waiting(t, h, POLLIN, nonBlocking: nonBlocking, timeout: h.receiveTimeout) { () throws(Errno) in
                    try h.receive(max: min(iov.total - got, cap), controlMax: got == 0 ? controlMax : 0, flags: flags)
                }
                try iov.copyOut(t, r.data, at: got)
                if got == 0 { out = r }
                got += r.data.count
                if !h.isStream { return out }
                if r.data.isEmpty || flags & C.MSG_WAITALL == 0 || flags & C.MSG_PEEK != 0 { break }
            } while got < iov.total
        } catch {
            if got == 0 || error == .EFAULT { throw error }
        }
        out.result = got
        return out
    }

    static func sendMessage(_ t: Task, _ h: HostSocketFile, _ m: GuestMsghdr, flags: Int32) throws(Errno) -> Int {
        guard m.nameLength >= 0 else { throw .EINVAL }
        var name: [UInt8]? = nil
        if m.name.rawValue != 0 && m.nameLength > 0 { name = try t.mm.copyIn(m.name, Int(min(m.nameLength, 128))) }
        guard m.controlLength <= 20480 else { throw .ENOBUFS }   // net.core.optmem_max
        let control = m.controlLength == 0 ? [] : try t.mm.copyIn(m.control, Int(m.controlLength))
        let iov = try GuestIOV.read(t, m.iov, count: Int(min(m.iovLength, 1 << 20)))
        return try send(t, h, iov, name: name, control: control, flags: flags)
    }

    /// One recvmsg into the msghdr at `addr`: the name, the host's ancillary
    /// data as far as the guest's buffer holds it, and the host's msg_flags.
    static func receiveMessage(_ t: Task, _ h: HostSocketFile, _ addr: GuestAddress, flags: Int32) throws(Errno) -> Int {
        let m = try GuestMsghdr.read(t, addr)
        guard m.nameLength >= 0 else { throw .EINVAL }
        let iov = try GuestIOV.read(t, m.iov, count: Int(min(m.iovLength, 1 << 20)))
        let r = try receive(t, h, iov, controlMax: Int(min(m.controlLength, 4096)), flags: flags)
        if m.name.rawValue != 0 {
            let n = min(Int(m.nameLength), r.from.count)
            if n > 0 { try t.mm.copyOut(m.name, Array(r.from[..<n])) }
            try t.mm.write(addr + 8, Int32(r.from.count))
        } else {
            try t.mm.write(addr + 8, Int32(0))
        }
        if !r.control.isEmpty { try t.mm.copyOut(m.control, r.control) }
        try t.mm.write(addr + 40, UInt64(r.control.count))
        // The host saw the sentry's flags, not the caller's MSG_CMSG_CLOEXEC, which Linux echoes.
        try t.mm.write(addr + 48, (r.flags & ~C.MSG_DONTWAIT) | (flags & C.MSG_CMSG_CLOEXEC))
        return r.result
    }

    static func recvfrom(_ t: Task, _ h: HostSocketFile, _ a: SyscallArguments) throws(Errno) -> Int64 {
        let r = try receive(t, h, GuestIOV([(a.address(1), a.count(2))]), controlMax: 0, flags: a.int32(3))
        if a[4] != 0 { try Sockets.writeSockaddr(t, a.address(4), a.address(5), r.from) }
        return Int64(r.result)
    }

    static func sendto(_ t: Task, _ h: HostSocketFile, _ a: SyscallArguments) throws(Errno) -> Int64 {
        var name: [UInt8]? = nil
        if a[4] != 0 { name = try Sockets.readSockaddr(t, a.address(4), a.int32(5)) }
        if name?.isEmpty == true { name = nil }
        return Int64(try send(t, h, GuestIOV([(a.address(1), a.count(2))]), name: name, control: [], flags: a.int32(3)))
    }
}
