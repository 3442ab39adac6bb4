import Glibc

/// SOL_SOCKET options that every Linux socket keeps but whose effect the
/// sandbox's loopback has no place for: priorities and marks for queueing
/// disciplines and routing rules, busy polling of device queues, transmit
/// hash choices, frame checksums. They are recorded with sk_setsockopt's
/// checks (capabilities, ranges) and read back as sk_getsockopt reads them,
/// so a program that sets one and checks it sees Linux's answers. Options
/// with an effect here are served where the effect is (SocketOptions.swift);
/// SO_SELECT_ERR_QUEUE's is in `readiness`, SO_RXQ_OVFL's in
/// `dropsControl` (its count taken where UDP and raw sockets queue).
extension SocketEndpoint {
    private typealias C = SocketConstants

    /// Boolean options recorded in `flagOptions`.
    static let recordedFlags: Set<Int32> = [C.SO_DEBUG, C.SO_NO_CHECK, C.SO_WIFI_STATUS, C.SO_NOFCS, C.SO_LOCK_FILTER,
                                            C.SO_SELECT_ERR_QUEUE, C.SO_PREFER_BUSY_POLL, C.SO_RXQ_OVFL]

    /// A value option's reading on a fresh socket (sock_init_data, inet_create).
    func recordedDefault(_ name: Int32) -> Int32? {
        switch name {
        case C.SO_PRIORITY, C.SO_MARK, C.SO_BUSY_POLL: return 0   // net.core.busy_read is 0
        case C.SO_INCOMING_CPU: return -1
        // inet_create takes net.core.txrehash (1); other families leave it 0.
        case C.SO_TXREHASH: return isInet ? 1 : 0
        default: return nil
        }
    }

    /// getsockopt of an option served here; nil if it is not one. `length`
    /// is the guest's optlen, which a few options check.
    func recordedOption(_ name: Int32, length: Int, names: UnixNamespace) throws(Errno) -> [UInt8]? {
        func int(_ v: Int32) -> [UInt8] { withUnsafeBytes(of: v) { Array($0) } }
        if let initial = recordedDefault(name) { return int(locked { $0.recordedOptions[name] } ?? initial) }
        switch name {
        case _ where Self.recordedFlags.contains(name):
            return int(locked { $0.flagOptions.contains(name) } ? 1 : 0)
        case _ where ReceiveTimestamps.names.contains(name): return int(timestampOption(name) ? 1 : 0)
        case C.SO_BSDCOMPAT, C.SO_INCOMING_NAPI_ID: return int(0)
        // bpf_tell_extensions: SKF_AD_MAX, what classic BPF knows of.
        case C.SO_BPF_EXTENSIONS: return int(64)
        case C.SO_BUF_LOCK:
            return int(locked { s in (s.sendBufferSet ? 1 : 0) | (s.receiveBufferSet ? 2 : 0) })
        case C.SO_BINDTOIFINDEX: return int(locked { $0.boundDevice })
        case C.SO_BINDTODEVICE:
            // sock_getbindtodevice: nothing when unbound, else the name and its NUL.
            let index = locked { $0.boundDevice }
            if index == 0 { return [] }
            guard length >= Int(IFNAMSIZ) else { throw .EINVAL }
            guard index == LoopbackInterface.index else { throw .ENODEV }
            return Array(LoopbackInterface.name.utf8) + [0]
        // No filter can be attached (SO_ATTACH_FILTER is ENOPROTOOPT): an empty program.
        case C.SO_GET_FILTER: return []
        case C.SO_COOKIE:
            guard length >= 8 else { throw .EINVAL }
            return withUnsafeBytes(of: cookie(names)) { Array($0) }
        case C.SO_NETNS_COOKIE:
            guard length == 8 else { throw .EINVAL }
            return withUnsafeBytes(of: names.netnsCookie) { Array($0) }
        case C.SO_PEERNAME:
            // getname(peer), as getpeername: ENOTCONN without one; a
            // buffer longer than the address is EINVAL (6.1 copies exactly optlen).
            let peer = isInet && kind == .datagram ? udpPeer.map { SocketAddress.inet($0.shown(as: family)) } : peerAddress
            guard let bytes = peer?.encoded else { throw .ENOTCONN }
            guard length <= bytes.count else { throw .EINVAL }
            return bytes
        default: return nil
        }
    }

    /// setsockopt of an option served here; false if it is not one.
    /// `value` holds at least an int (the caller checked).
    func setRecordedOption(_ name: Int32, value: [UInt8], capable: (Int) -> Bool) throws(Errno) -> Bool {
        let v = value.withUnsafeBytes { $0.loadUnaligned(as: Int32.self) }
        let netAdmin = Credentials.CAP_NET_ADMIN, netRaw = Credentials.CAP_NET_RAW
        switch name {
        case C.SO_DEBUG where v != 0 && !capable(netAdmin): throw .EACCES
        case C.SO_PREFER_BUSY_POLL where v != 0 && !capable(netAdmin): throw .EPERM
        case C.SO_LOCK_FILTER where v == 0 && locked({ $0.flagOptions.contains(name) }): throw .EPERM
        case _ where Self.recordedFlags.contains(name):
            locked { s in if v != 0 { s.flagOptions.insert(name) } else { s.flagOptions.remove(name) } }
            if name == C.SO_SELECT_ERR_QUEUE { queue.notify() }
        case C.SO_BSDCOMPAT: break
        case _ where ReceiveTimestamps.names.contains(name): setTimestampOption(name, v != 0)
        case C.SO_PRIORITY:
            guard (0...6).contains(v) || capable(netRaw) || capable(netAdmin) else { throw .EPERM }
            locked { $0.recordedOptions[name] = v }
        case C.SO_MARK:
            guard capable(netRaw) || capable(netAdmin) else { throw .EPERM }
            locked { $0.recordedOptions[name] = v }
        case C.SO_BUSY_POLL, C.SO_BUSY_POLL_BUDGET:
            // Anyone may lower them; raising takes CAP_NET_ADMIN. The budget
            // is a u16, only set (sk_getsockopt has no case for it).
            let now = locked { $0.recordedOptions[name] } ?? 0
            if v > now && !capable(netAdmin) { throw .EPERM }
            guard v >= 0, name == C.SO_BUSY_POLL || v <= Int32(UInt16.max) else { throw .EINVAL }
            locked { $0.recordedOptions[name] = v }
        case C.SO_INCOMING_CPU: locked { $0.recordedOptions[name] = v }
        case C.SO_TXREHASH:
            guard (-1...1).contains(v) else { throw .EINVAL }
            // -1 is SOCK_TXREHASH_DEFAULT as a u8: net.core.txrehash's 1.
            locked { $0.recordedOptions[name] = v == -1 ? 1 : v }
        case C.SO_BUF_LOCK:
            guard v & ~3 == 0 else { throw .EINVAL }
            locked { s in s.sendBufferSet = v & 1 != 0; s.receiveBufferSet = v & 2 != 0 }
        case C.SO_BINDTOIFINDEX: try bindToDevice(v, capable: capable(netRaw))
        default: return false
        }
        return true
    }

    /// SO_BINDTODEVICE: a NUL-padded name, at most IFNAMSIZ - 1 bytes of
    /// it read; empty unbinds. The sandbox has one device, `lo`.
    func bindToDevice(named value: [UInt8], capable: (Int) -> Bool) throws(Errno) {
        let name = value.prefix(Int(IFNAMSIZ) - 1).prefix { $0 != 0 }
        var index: Int32 = 0
        if !name.isEmpty {
            guard String(decoding: name, as: UTF8.self) == LoopbackInterface.name else { throw .ENODEV }
            index = LoopbackInterface.index
        }
        try bindToDevice(index, capable: capable(Credentials.CAP_NET_RAW))
    }

    /// sock_bindtoindex_locked: rebinding a bound socket takes CAP_NET_RAW.
    /// An index no device has is taken, as Linux takes it; such a socket
    /// then hears nothing on the loopback (Loopback.find).
    private func bindToDevice(_ index: Int32, capable netRaw: Bool) throws(Errno) {
        try locked { (s: inout State) throws(Errno) in
            if s.boundDevice != 0 && !netRaw { throw .EPERM }
            guard index >= 0 else { throw .EINVAL }
            s.boundDevice = index
        }
    }

    /// Whether packets on the loopback reach this socket (inet_sk_bound_dev_eq).
    var hearsLoopback: Bool {
        let d = locked { $0.boundDevice }
        return d == 0 || d == LoopbackInterface.index
    }

    /// sock_gen_cookie: a number unique to the socket in the sandbox,
    /// taken from a counter at the first ask.
    private func cookie(_ names: UnixNamespace) -> UInt64 {
        locked { s in
            if s.cookie == 0 { s.cookie = names.nextSocketCookie() }
            return s.cookie
        }
    }

    /// SO_RXQ_OVFL's control message for a datagram queued when its
    /// receiver had dropped `count` (sock_recv_drops: UDP and raw sockets,
    /// through sock_recv_cmsgs; ping sockets have none); nil if none is due.
    public func dropsControl(_ count: UInt32) -> (type: Int32, body: [UInt8])? {
        guard count != 0, !isPing, kind == .datagram, isInet, locked({ $0.flagOptions.contains(C.SO_RXQ_OVFL) }) else { return nil }
        return (C.SO_RXQ_OVFL, withUnsafeBytes(of: count) { Array($0) })
    }

    /// The drop count a datagram queued now carries (0 unless asked).
    static func dropCountLocked(_ s: State) -> UInt32 {
        s.flagOptions.contains(SocketConstants.SO_RXQ_OVFL) ? UInt32(truncatingIfNeeded: s.drops) : 0
    }
}
