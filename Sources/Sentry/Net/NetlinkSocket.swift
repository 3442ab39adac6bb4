import Glibc

/// AF_NETLINK sockets (NETLINK_ROUTE, NETLINK_SOCK_DIAG): datagram endpoints whose requests the
/// sentry answers at once, into the socket's own receive queue, as the
/// kernel side of rtnetlink would.
extension SocketEndpoint {
    /// bind(2), or the autobind of a first send: port 0 picks one, the
    /// process's pid first, as netlink_autobind does.
    public func bindNetlink(port: UInt32, groups: UInt32, pid: Int32) throws(Errno) {
        if case .netlink(let p, _)? = address, p != 0 {
            guard port == 0 || port == p else { throw .EINVAL }
            locked { $0.address = .netlink(port: p, groups: groups) }
            return
        }
        let chosen = try names.bindNetlink(self, port: port, pid: pid)
        locked { $0.address = .netlink(port: chosen, groups: groups) }
    }

    public var netlinkPort: UInt32 {
        if case .netlink(let p, _)? = address { return p }
        return 0
    }

    /// A request to the kernel: the replies queue up for this socket's next
    /// receive, from port 0.
    public func netlinkRequest(_ request: [UInt8], pid: Int32) throws(Errno) {
        if netlinkPort == 0 { try bindNetlink(port: 0, groups: 0, pid: pid) }
        let reply = proto == SockDiag.NETLINK_SOCK_DIAG
            ? SockDiag.respond(to: request, port: netlinkPort, names: names)
            : NetlinkRoute.respond(to: request, port: netlinkPort)
        guard !reply.isEmpty else { return }
        let queued = locked { s -> Bool in
            guard s.rx.bytes + reply.count <= s.receiveBuffer else { return false }
            reply.withUnsafeBytes { s.rx.append(SocketMessage(length: reply.count, rights: [], credentials: nil, from: .netlink(port: 0, groups: 0), sender: nil), bytes: [$0]) }
            return true
        }
        // A reply that does not fit is lost and the reader told so (ENOBUFS), as netlink_overrun does.
        // netlink_overrun reports the loss (sk_error_report); a delivery is sk_data_ready.
        if !queued { locked { $0.error = .ENOBUFS } }
        queue.notify()
        if queued { wakeAsyncReader(.input) } else { wakeAsync(.error) }
    }

    /// A datagram from the kernel (port 0) that no request asked for:
    /// mq_notify's SIGEV_THREAD cookie (netlink_sendskb). Lost if the
    /// receive buffer is full, as there.
    func netlinkDeliverFromKernel(_ data: [UInt8]) {
        let queued = locked { s -> Bool in
            guard s.rx.bytes + data.count <= s.receiveBuffer else { return false }
            data.withUnsafeBytes { s.rx.append(SocketMessage(length: data.count, rights: [], credentials: nil, from: .netlink(port: 0, groups: 0), sender: nil), bytes: [$0]) }
            return true
        }
        // netlink_overrun reports the loss (sk_error_report); a delivery is sk_data_ready.
        if !queued { locked { $0.error = .ENOBUFS } }
        queue.notify()
        if queued { wakeAsyncReader(.input) } else { wakeAsync(.error) }
    }
}
