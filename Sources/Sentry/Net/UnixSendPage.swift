import Glibc

/// splice and sendfile into an AF_UNIX stream socket as Linux 6.1 moves
/// the bytes (generic_splice_sendpage, pipe_to_sendpage,
/// unix_stream_sendpage): one call per page of the input, which joins the
/// last skb of the peer's receive queue as one more page fragment if that
/// skb carries the same credentials and has fewer than MAX_SKB_FRAGS;
/// only a new skb waits for the send buffer, and only until it is below
/// SO_SNDBUF (sock_alloc_send_pskb), whatever the page's size. A socket
/// whose buffer is full still takes pages onto its last write's skb.
/// (6.5 and later splice through sendmsg, which refuses them: EAGAIN.)
extension SocketEndpoint {
    /// MAX_SKB_FRAGS with 4 KiB pages (65536 / PAGE_SIZE + 1).
    static let maxSkbFrags = 17
    public static let pageSize = 4096
    /// SKB_MAX_HEAD(0) on x86-64 6.1: a page less struct skb_shared_info (320 bytes).
    static let skbMaxHead = 3776
    /// UNIX_SKB_FRAGS_SZ: the paged part of a write's skb, in pages of up to this size.
    static let unixSkbFragsSize = 32768

    /// The page fragments of Linux's last skb for an `n`-byte stream write:
    /// unix_stream_sendmsg cuts writes into skbs of min(SO_SNDBUF / 2 - 64,
    /// SKB_MAX_HEAD(0) + 32 KiB) bytes, the head holding what fits and the
    /// rest in page-aligned fragments that alloc_skb_with_frags takes in
    /// blocks of up to 32 KiB, largest first (each a fragment, when the
    /// host has such blocks free, as it usually does).
    public static func unixStreamFrags(writing n: Int, sendBuffer: Int) -> Int {
        guard n > 0 else { return 0 }
        let per = Swift.max(1, Swift.min(sendBuffer / 2 - 64, skbMaxHead + unixSkbFragsSize))
        let last = (n - 1) % per + 1
        let aligned = (Swift.max(0, last - skbMaxHead) + pageSize - 1) / pageSize * pageSize
        var paged = Swift.min(last, aligned), frags = 0
        while paged > 0 {
            var block = unixSkbFragsSize
            while block > pageSize && (paged + pageSize - 1) / pageSize * pageSize < block { block /= 2 }
            paged -= Swift.min(paged, block)
            frags += 1
        }
        return frags
    }

    /// One page of a splice (`bytes`, a page or less): onto the peer's last
    /// message, or as a new one while the send buffer is below SO_SNDBUF;
    /// EAGAIN when it needs a new one and the buffer is full (the caller
    /// waits unless the socket is O_NONBLOCK). `credentials` are the
    /// sender's, which SO_PASSCRED on either side makes part of the match.
    public func sendPage(_ bytes: UnsafeRawBufferPointer, credentials: SocketCredentials) throws(Errno) {
        _ = try streamSendSpace()   // ENOTCONN, EPIPE as a send meets them
        let (peer, limit, passes, from) = locked { s in (s.peer, s.sendBuffer, s.passCredentials, s.address) }
        guard let peer else { throw .ENOTCONN }
        let charge = try peer.locked { (t: inout State) throws(Errno) -> Int in
            if t.phase == .closed || t.shutRead { throw .EPIPE }
            if let m = t.rx.last, m.sender === account, m.pageFrags < Self.maxSkbFrags,
               !(passes || t.passCredentials) || m.credentials == credentials, !Self.urgentInLastLocked(t) {
                t.rx.extendLast(with: bytes)
                return bytes.count
            }
            guard account.inFlight < limit else { throw .EAGAIN }
            var m = SocketMessage(length: bytes.count, rights: [], credentials: credentials, from: from, sender: account)
            m.pageFrags = 1
            t.rx.append(m, bytes: [bytes])
            return m.charge
        }
        account.charge(charge)
        peer.queue.notify(.readable)
        peer.wakeAsyncReader(.input, now: true)
    }

    /// Whether the last message holds an AF_UNIX urgent byte, or is where a
    /// consumed one stands: the sentry keeps those out of a splice's way.
    private static func urgentInLastLocked(_ t: State) -> Bool {
        guard let m = t.rx.last else { return false }
        let start = t.rx.bytes - m.remaining
        if let u = t.urgent, !u.taken, u.distance >= start { return true }
        return t.consumedOOB.contains { $0 >= start }
    }
}
