import Glibc
import Synchronization

/// The sender's credentials a message carries (struct ucred).
public struct SocketCredentials: Sendable, Equatable {
    public var pid: Int32, uid: UInt32, gid: UInt32
    public init(pid: Int32, uid: UInt32, gid: UInt32) { self.pid = pid; self.uid = uid; self.gid = gid }
}

/// One unit in a receive queue: a datagram, a seqpacket record, or one
/// write's bytes on a stream. Its bytes are in the queue's ring; descriptors
/// and credentials ride along, as Linux's skb control block carries them.
/// Sendable: a value that lives in one endpoint's queue, under that endpoint's lock.
public struct SocketMessage: @unchecked Sendable {
    /// The bytes it brought.
    public var length: Int
    /// How much of them a stream reader already took.
    var offset = 0
    public var rights: [FileDescription]
    public var credentials: SocketCredentials?
    /// The sender's address (recvfrom on a datagram socket).
    public var from: SocketAddress?
    /// Who is charged for the bytes until they are read (SO_SNDBUF back-pressure).
    let sender: SocketAccount?
    /// A UDPv6 datagram's hop limit and traffic class (RFC 3542's IPV6_HOPLIMIT, IPV6_TCLASS).
    public var ipv6: IPv6PacketInfo?
    /// An AF_UNIX stream write's page fragments as Linux's last skb of it
    /// holds them: what a splice may still append to it (UnixSendPage.swift).
    public var pageFrags = 0
    /// A UDP datagram whose checksum fails, queued because Linux checks a
    /// datagram longer than CHECKSUM_BREAK (76 bytes) only when it is read
    /// (RawUDPInput.swift); the read drops it.
    public var badChecksum = false
    /// When it was queued (CLOCK_REALTIME, ns) for a receiver that asked
    /// for timestamps (SO_TIMESTAMP*); 0: not stamped.
    public var arrival: Int64 = 0
    /// The receiver's drops when it was queued, if it asked (SO_RXQ_OVFL:
    /// sock_skb_set_dropcount).
    public var dropCount: UInt32 = 0

    public var remaining: Int { length - offset }
    /// What a queued message costs its sender beyond its bytes, as an skb's
    /// truesize does on Linux: empty datagrams and descriptor-only messages
    /// fill a send buffer too, so a flood stays bounded.
    static let overhead = 512
    var overhead: Int { sender == nil ? 0 : Self.overhead + 8 * rights.count }
    /// The bytes charged to the sender while the message is queued.
    var charge: Int { sender == nil ? 0 : length + overhead }

    public init(length: Int, rights: [FileDescription], credentials: SocketCredentials?, from: SocketAddress?, sender: SocketAccount?) {
        self.length = length; self.rights = rights; self.credentials = credentials; self.from = from; self.sender = sender
    }
}

/// What an IPv6 header says of a datagram that a receiver may ask for.
public struct IPv6PacketInfo: Sendable, Equatable {
    public var hopLimit: Int32, trafficClass: Int32
    public init(hopLimit: Int32, trafficClass: Int32) { self.hopLimit = hopLimit; self.trafficClass = trafficClass }
}

/// The bytes a socket has queued at its peers and not yet read: its send
/// buffer. Senders wait on `queue` for readers to drain them.
public final class SocketAccount: Sendable {
    private let bytes = Atomic<Int>(0)
    /// The owner's SO_SNDBUF (its State.sendBuffer, mirrored here by
    /// whoever sets that), for `release` to read without the owner's lock.
    private let limit = Atomic<Int>(SocketEndpoint.defaultBuffer)
    public let queue: WaitQueue
    /// A send or poll found no room (SOCKWQ_ASYNC_NOSPACE): room coming back signals POLL_OUT (SocketAsync.swift).
    let noSpace = Atomic<Bool>(false)
    init(queue: WaitQueue) { self.queue = queue }

    public var inFlight: Int { bytes.load(ordering: .relaxed) }
    func charge(_ n: Int) { bytes.add(n, ordering: .relaxed) }
    func setLimit(_ n: Int) { limit.store(n, ordering: .relaxed) }
    /// A reader took `n` charged bytes. The senders (and POLLOUT waiters)
    /// are woken only if the buffer is writable after it, a quarter or less
    /// in use, as unix_write_space does (sock_wfree calls it on every
    /// free): a stream's writer then wakes once per few reads, with room
    /// for a large write, not after every read for whatever it freed.
    /// Nothing waits for less: a blocked sender has its buffer over the
    /// quarter, so unread bytes remain whose reading (or the peer's close,
    /// which releases them all) crosses it. The owner's own blocked
    /// receives are not woken (they wait for `.readable`).
    func release(_ n: Int) {
        let left = bytes.subtract(n, ordering: .relaxed).newValue
        // readiness's POLLOUT test, inFlight * 4 <= SO_SNDBUF, with no product to overflow
        if left <= limit.load(ordering: .relaxed) / 4 {
            queue.notify(.writable)
            roomCameBack()
        }
    }
}

/// A receive queue: messages in arrival order, bounded by the senders'
/// send buffers (streams, seqpackets) and by a message count (datagrams),
/// their unread bytes in one ring. Callers hold the owning socket's lock.
struct SocketBuffer {
    private(set) var messages: [SocketMessage] = []
    private var head = 0
    /// The unread bytes of every message, in order (the first message's from its offset on).
    let ring = ByteRing()
    /// Unread bytes (FIONREAD on a stream).
    var bytes: Int { ring.count }

    var isEmpty: Bool { head == messages.count }
    var count: Int { messages.count - head }
    var first: SocketMessage? { isEmpty ? nil : messages[head] }
    /// Messages from the first on, for peeking and stream reads.
    var pending: ArraySlice<SocketMessage> { messages[head...] }

    /// The owner asked for receive timestamps: what is queued is stamped.
    var stampArrivals = false

    /// Queues `m`, its `m.length` bytes copied from `bytes`.
    mutating func append(_ m: SocketMessage, bytes: [UnsafeRawBufferPointer]) {
        ring.append(m.length, from: bytes)
        var m = m
        if stampArrivals && m.arrival == 0 { m.arrival = ReceiveTimestamps.now() }
        messages.append(m)
    }

    /// Copies `n` unread bytes (across messages), from the `skip`th on, into `targets`.
    func copy(_ n: Int, skipping skip: Int = 0, into targets: [UnsafeMutableRawBufferPointer]) { ring.copy(n, skipping: skip, into: targets) }

    /// The last message, for a splice that appends to it (unix_stream_sendpage).
    var last: SocketMessage? { isEmpty ? nil : messages[messages.count - 1] }

    /// Adds `bytes` to the last message as one more page fragment.
    mutating func extendLast(with bytes: UnsafeRawBufferPointer) {
        ring.append(bytes.count, from: [bytes])
        messages[messages.count - 1].length += bytes.count
        messages[messages.count - 1].pageFrags += 1
    }

    /// Takes out the unread message that starts `offset` bytes from the
    /// front (an AF_UNIX urgent byte, one whole message), wherever it is.
    mutating func remove(messageAt offset: Int) -> SocketMessage? {
        var at = 0, i = head
        while i < messages.count && at < offset { at += messages[i].remaining; i += 1 }
        guard i < messages.count, at == offset else { return nil }
        let m = messages.remove(at: i)
        for _ in 0..<m.remaining { ring.remove(at: offset) }
        return m
    }

    /// Takes `n` bytes of the first message, or all of it (`whole`); a
    /// message read to its end is dropped, one read in part gives up its
    /// descriptors to this read. Returns the account to credit once the
    /// lock is released, the bytes taken and the credit owed (the bytes, and
    /// the overhead once the message is gone).
    mutating func consume(_ n: Int, whole: Bool) -> (SocketAccount?, Int, Int) {
        var m = messages[head]
        let overhead = m.overhead
        let take = whole ? m.remaining : min(n, m.remaining)
        m.offset += take
        ring.drop(take)
        if whole || m.remaining == 0 {
            messages[head] = SocketMessage(length: 0, rights: [], credentials: nil, from: nil, sender: nil)
            head += 1
            if head > 64 && head * 2 > messages.count { messages.removeFirst(head); head = 0 }
            return (m.sender, take, take + overhead)
        }
        // Descriptors go with the first read; the overhead is still owed.
        m.rights = []
        messages[head] = m
        return (m.sender, take, take + overhead - m.overhead)
    }

    /// Everything, for a socket that closes.
    mutating func drain() -> [SocketMessage] {
        let out = Array(messages[head...])
        messages = []; head = 0
        ring.removeAll()
        return out
    }
}
