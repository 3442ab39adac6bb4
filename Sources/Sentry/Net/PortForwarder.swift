import CSwitch
import Glibc
import Synchronization

/// Carries a published host port into the sandbox loopback (`--publish`),
/// as docker-proxy does for a container: the sentry listens on the host
/// address, and each host connection becomes a sandbox TCP connection from
/// an ephemeral port of 127.0.0.1 to the guest's listener (a reset if none
/// listens); each host UDP peer gets a sandbox UDP socket of its own, whose
/// replies go back to that peer. The guest sees ordinary loopback peers and
/// never a host socket. Bytes move through one 64 KiB buffer per direction,
/// and a guest that does not read stops the forwarder reading from the host
/// (its send buffer is the sandbox socket's), so memory stays bounded.
/// Sendable: immutable after init; each serving thread owns its buffers and connections.
public final class PortForwarder: @unchecked Sendable {
    public let port: PublishedPort
    private let names: UnixNamespace
    private let hostFD: Int32
    /// A UDP peer mapping unused this long is dropped; at most this many at once.
    static let udpIdleNanoseconds: Int64 = 60_000_000_000, udpMaxPeers = 256
    /// TCP connections carried at once (each is a thread and two buffers);
    /// more are reset, so a host flood cannot grow the sentry without end.
    static let maxConnections = 1024
    private let connections = Atomic<Int>(0)

    /// Binds (and for TCP listens on) the host port now, so that a port in
    /// use is an error before the guest starts.
    public init(_ port: PublishedPort, names: UnixNamespace) throws(Errno) {
        guard let sa = PublishedPort.hostSockaddr(port.hostIP, port: port.hostPort) else { throw .EINVAL }
        let family = Int32(sa[0]) | Int32(sa[1]) << 8
        let fd = socket(family, (port.udp ? Int32(SOCK_DGRAM.rawValue) : Int32(SOCK_STREAM.rawValue)) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw Errno(errno) }
        var one: Int32 = 1
        if !port.udp { setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size)) }
        let r = sa.withUnsafeBytes { bind(fd, $0.baseAddress!.assumingMemoryBound(to: sockaddr.self), socklen_t(sa.count)) }
        if r != 0 || (!port.udp && listen(fd, Int32(SocketConstants.somaxconn)) != 0) {
            let e = Errno(errno)
            Glibc.close(fd)
            throw e
        }
        self.port = port
        self.names = names
        hostFD = fd
    }

    /// Starts serving on a thread of its own, for the sentry's lifetime.
    public func start() throws(Errno) {
        if port.udp { try HostThread.spawn { self.serveUDP() } } else { try HostThread.spawn { self.acceptTCP() } }
    }

    /// Where the guest's service is: 127.0.0.1:GUEST, or [::1]:GUEST if only an IPv6 socket listens.
    private var guestTargets: [InetAddress] {
        [InetAddress.loopbackV4.with(port: port.guestPort), InetAddress.loopbackV6.with(port: port.guestPort)]
    }

    // MARK: TCP

    private func acceptTCP() {
        while true {
            var ss = sockaddr_storage()
            var len = socklen_t(MemoryLayout<sockaddr_storage>.size)
            let c = withUnsafeMutablePointer(to: &ss) { p in p.withMemoryRebound(to: sockaddr.self, capacity: 1) { sw_accept4(hostFD, $0, &len) } }
            if c < 0 {
                let e = -c
                if e == EINTR || e == ECONNABORTED || e == EAGAIN { continue }
                // EMFILE and the like: wait a moment rather than spin.
                usleep(10_000)
                continue
            }
            guard connections.add(1, ordering: .relaxed).newValue <= Self.maxConnections, let ep = connectIntoSandbox() else {
                connections.subtract(1, ordering: .relaxed)
                Self.reset(c)
                continue
            }
            do {
                try HostThread.spawn {
                    Self.pump(host: c, ep)
                    self.connections.subtract(1, ordering: .relaxed)
                }
            } catch {
                connections.subtract(1, ordering: .relaxed)
                ep.close(); Self.reset(c)
            }
        }
    }

    /// A sandbox TCP connection to the guest's listener, or nil if none listens.
    private func connectIntoSandbox() -> SocketEndpoint? {
        for dest in guestTargets {
            let family = dest.isV4 ? SocketConstants.AF_INET : SocketConstants.AF_INET6
            let ep = SocketEndpoint(kind: .stream, names: names, family: family, proto: Int32(IPPROTO_TCP))
            guard let listener = try? ep.inetListener(dest.shown(as: family)) else { ep.close(); continue }
            do {
                _ = try ep.autobindInet(ip: dest.shown(as: family))
                let creds = SocketCredentials(pid: 0, uid: geteuid(), gid: getegid())
                // A full backlog: wait (a while) for the guest to accept, as a SYN would be retried.
                let waker = Waker()
                listener.queue.add(waker)
                defer { listener.queue.remove(waker) }
                let deadline = Deadline.after(5_000_000_000)
                while true {
                    do throws(Errno) {
                        try ep.connect(to: listener, credentials: creds, serverAddress: .inet(dest.shown(as: family)))
                        return ep
                    } catch {
                        guard error == .EAGAIN else { throw error }
                        let left = deadline.remaining
                        guard left > 0 else { throw Errno.ETIMEDOUT }
                        var p = pollfd(fd: waker.fd, events: Int16(POLLIN), revents: 0)
                        _ = poll(&p, 1, Int32(min(left / 1_000_000 + 1, 1000)))
                        waker.drain()
                    }
                }
            } catch {
                ep.close()
                return nil
            }
        }
        return nil
    }

    /// Closes a host connection with a reset (SO_LINGER 0), as a refused or broken one.
    private static func reset(_ fd: Int32) {
        var l = linger(l_onoff: 1, l_linger: 0)
        setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, socklen_t(MemoryLayout<linger>.size))
        Glibc.close(fd)
    }

    /// Moves bytes both ways between a host connection and its sandbox
    /// connection until both directions are closed: the host's EOF is a
    /// shutdown(SHUT_WR) in the sandbox and the guest's one on the host; a
    /// reset on either side resets the other.
    static func pump(host fd: Int32, _ ep: SocketEndpoint) {
        let waker = Waker()
        ep.queue.add(waker)
        let chunk = 65536
        let inbound = UnsafeMutableRawBufferPointer.allocate(byteCount: chunk, alignment: 16)
        let outbound = UnsafeMutableRawBufferPointer.allocate(byteCount: chunk, alignment: 16)
        var resetHost = false
        defer {
            ep.queue.remove(waker)
            ep.close()
            if resetHost { reset(fd) } else { Glibc.close(fd) }
            inbound.deallocate(); outbound.deallocate()
        }
        let from = ep.address
        let creds = SocketCredentials(pid: 0, uid: geteuid(), gid: getegid())
        var hostDone = false, guestDone = false
        var outAt = 0, outEnd = 0
        while !(hostDone && guestDone && outAt == outEnd) {
            var room = 0
            var progressed = true
            while progressed {
                progressed = false
                // Guest to host: what the guest sent, then its EOF as ours.
                if !guestDone && outAt == outEnd {
                    do throws(Errno) {
                        let r = try ep.receive(into: [outbound], max: chunk, peek: false)
                        if r.endOfFile { guestDone = true; shutdown(fd, Int32(SHUT_WR)) } else { outAt = 0; outEnd = r.count; progressed = true }
                    } catch .EAGAIN {
                    } catch {
                        resetHost = true
                        return
                    }
                }
                if outAt < outEnd {
                    let n = send(fd, outbound.baseAddress! + outAt, outEnd - outAt, Int32(MSG_NOSIGNAL))
                    if n > 0 { outAt += n; progressed = true } else if errno != EAGAIN && errno != EINTR { return }
                    if outAt == outEnd { outAt = 0; outEnd = 0 }
                }
                // Host to guest, as much as the sandbox socket's send buffer takes.
                if !hostDone {
                    do throws(Errno) { room = try ep.streamSendSpace() } catch { resetHost = true; return }
                    if room > 0 {
                        let n = recv(fd, inbound.baseAddress!, min(room, chunk), 0)
                        if n > 0 {
                            do throws(Errno) {
                                try ep.send(SocketMessage(length: n, rights: [], credentials: creds, from: from, sender: ep.account),
                                            bytes: [UnsafeRawBufferPointer(rebasing: inbound[0..<n])], to: nil)
                            } catch { resetHost = true; return }
                            ep.loopback.count(bytes: n)
                            progressed = true
                        } else if n == 0 {
                            hostDone = true
                            try? ep.shutdown(SocketConstants.SHUT_WR)
                        } else if errno != EAGAIN && errno != EINTR {
                            return   // the host side reset: the guest sees the connection end
                        }
                    }
                }
            }
            if hostDone && guestDone && outAt == outEnd { break }
            var events: Int16 = 0
            if !hostDone && room > 0 { events |= Int16(POLLIN) }
            if outAt < outEnd { events |= Int16(POLLOUT) }
            // Nothing to wait for on the host (it is done and nothing is owed
            // to it): leave it out, or its hang-up would wake the poll at once.
            var fds = [pollfd(fd: waker.fd, events: Int16(POLLIN), revents: 0), pollfd(fd: events == 0 ? -1 : fd, events: events, revents: 0)]
            _ = poll(&fds, 2, -1)
            if fds[0].revents != 0 { waker.drain() }
            // A host error or hang-up with nothing left to read ends the host's side.
            if fds[1].revents & Int16(POLLERR | POLLNVAL) != 0 { return }
        }
    }

    // MARK: UDP

    private struct Peer {
        let endpoint: SocketEndpoint
        var lastUsed: Int64
    }

    /// One thread for every host peer of a UDP port: host datagrams go to
    /// the guest's socket from the peer's own sandbox socket, and what the
    /// guest sends back to that socket goes to the peer.
    private func serveUDP() {
        let waker = Waker()
        let buf = UnsafeMutableRawBufferPointer.allocate(byteCount: 65536, alignment: 16)
        var peers: [[UInt8]: Peer] = [:]
        while true {
            var fds = [pollfd(fd: waker.fd, events: Int16(POLLIN), revents: 0), pollfd(fd: hostFD, events: Int16(POLLIN), revents: 0)]
            _ = poll(&fds, 2, 1000)
            if fds[0].revents != 0 { waker.drain() }
            let now = Deadline.now()
            // From the host.
            while true {
                var ss = sockaddr_storage()
                var len = socklen_t(MemoryLayout<sockaddr_storage>.size)
                let n = withUnsafeMutablePointer(to: &ss) { p in
                    p.withMemoryRebound(to: sockaddr.self, capacity: 1) { recvfrom(hostFD, buf.baseAddress!, buf.count, Int32(MSG_DONTWAIT), $0, &len) }
                }
                if n < 0 { break }
                let key = withUnsafeBytes(of: ss) { Array($0.prefix(Int(len))) }
                if peers[key] == nil {
                    if peers.count >= Self.udpMaxPeers, let oldest = peers.min(by: { $0.value.lastUsed < $1.value.lastUsed }) {
                        oldest.value.endpoint.queue.remove(waker)
                        oldest.value.endpoint.close()
                        peers[oldest.key] = nil
                    }
                    let ep = SocketEndpoint(kind: .datagram, names: names, family: SocketConstants.AF_INET, proto: Int32(IPPROTO_UDP))
                    guard (try? ep.autobindInet(ip: InetAddress.loopbackV4)) != nil else { ep.close(); continue }
                    ep.queue.add(waker)
                    peers[key] = Peer(endpoint: ep, lastUsed: now)
                }
                peers[key]!.lastUsed = now
                let ep = peers[key]!.endpoint
                guard let local = ep.inetAddress else { continue }
                for dest in guestTargets {
                    guard let receiver = try? ep.udpReceiver(dest) else { continue }
                    // A connected UDP socket hears only its peer.
                    if let p = receiver.udpPeer, !p.sameEndpoint(local) { break }
                    try? ep.sendUDP(SocketMessage(length: n, rights: [], credentials: nil, from: .inet(local), sender: nil),
                                    bytes: [UnsafeRawBufferPointer(rebasing: buf[0..<n])], to: receiver)
                    ep.loopback.count(bytes: n)
                    break
                }
            }
            // Back to the host.
            for (key, peer) in peers {
                while let r = try? peer.endpoint.receive(into: [buf], max: buf.count, peek: false), !r.endOfFile {
                    key.withUnsafeBytes { sa in
                        _ = sendto(hostFD, buf.baseAddress!, r.count, Int32(MSG_DONTWAIT),
                                   sa.baseAddress!.assumingMemoryBound(to: sockaddr.self), socklen_t(sa.count))
                    }
                    peers[key]?.lastUsed = now
                }
                if now - peer.lastUsed > Self.udpIdleNanoseconds {
                    peer.endpoint.queue.remove(waker)
                    peer.endpoint.close()
                    peers[key] = nil
                }
            }
        }
    }
}
