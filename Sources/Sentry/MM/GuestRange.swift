/// One guest buffer of an I/O call: a read's destination, a write's source,
/// one element of an iovec array. Only its address and length: whether it
/// is mapped is decided when bytes move (MemoryManager.withGuestBuffers).
public struct GuestRange: Sendable, Equatable {
    public var address: GuestAddress
    public var count: Int

    public init(_ address: GuestAddress, _ count: Int) {
        self.address = address
        self.count = count
    }

    /// `ranges` without their first `n` bytes.
    public static func dropping(_ n: Int, from ranges: [GuestRange]) -> [GuestRange] {
        var n = n
        var out: [GuestRange] = []
        for r in ranges {
            if n >= r.count { n -= r.count; continue }
            out.append(GuestRange(r.address + UInt64(n), r.count - n))
            n = 0
        }
        return out
    }

    /// The first `n` bytes of `ranges`.
    public static func prefix(_ n: Int, of ranges: [GuestRange]) -> [GuestRange] {
        var n = n
        var out: [GuestRange] = []
        for r in ranges where n > 0 {
            out.append(GuestRange(r.address, min(r.count, n)))
            n -= min(r.count, n)
        }
        return out
    }
}
