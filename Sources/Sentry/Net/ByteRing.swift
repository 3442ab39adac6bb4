import Glibc

/// The unread bytes of a socket's receive queue, in arrival order, in one
/// ring that grows to what is queued: a sender copies from its guest
/// buffers straight in, a receiver straight out to its own, so a byte is
/// copied twice between the two processes, as on Linux. What it may hold is
/// bounded by the queue's rules (the senders' SO_SNDBUF, a receiver's
/// SO_RCVBUF), never by this type.
/// Sendable: used only under the owning socket endpoint's lock.
final class ByteRing: @unchecked Sendable {
    private var storage: UnsafeMutableRawPointer?
    private var capacity = 0
    private var head = 0
    private(set) var count = 0
    /// An emptied ring larger than this gives its storage back. A stream at
    /// the default buffer sizes (a sender may queue SO_SNDBUF, 212992 bytes)
    /// fits in it, so a busy connection does not regrow (and recopy) its
    /// ring each time its reader catches up.
    static let keptWhenEmpty = 1 << 18

    deinit { storage?.deallocate() }

    /// Copies `n` bytes from `sources` (which hold at least that many) to the end.
    func append(_ n: Int, from sources: [UnsafeRawBufferPointer]) {
        guard n > 0 else { return }
        reserve(n)
        var left = n
        for src in sources where left > 0 {
            var off = 0
            while off < src.count && left > 0 {
                let tail = (head + count) % capacity
                let chunk = min(src.count - off, left, capacity - tail)
                memcpy(storage! + tail, src.baseAddress! + off, chunk)
                count += chunk; off += chunk; left -= chunk
            }
        }
        precondition(left == 0, "ByteRing.append: sources shorter than the count")
    }

    /// Copies `n` unread bytes, from the `skip`th on, into `targets` (which have room for them).
    func copy(_ n: Int, skipping skip: Int = 0, into targets: [UnsafeMutableRawBufferPointer]) {
        var at = 0
        for dst in targets where at < n {
            var off = 0
            while off < dst.count && at < n {
                let from = (head + skip + at) % capacity
                let chunk = min(dst.count - off, n - at, capacity - from)
                memcpy(dst.baseAddress! + off, storage! + from, chunk)
                off += chunk; at += chunk
            }
        }
    }

    /// Forgets the first `n` bytes.
    func drop(_ n: Int) {
        let n = min(n, count)
        guard n > 0 else { return }
        head = (head + n) % capacity
        count -= n
        if count == 0 {
            head = 0
            if capacity > Self.keptWhenEmpty { storage?.deallocate(); storage = nil; capacity = 0 }
        }
    }

    func removeAll() { drop(count) }

    /// The unread byte at `offset` (which is below `count`).
    func byte(at offset: Int) -> UInt8 { storage!.load(fromByteOffset: (head + offset) % capacity, as: UInt8.self) }

    /// Takes out the byte at `offset` (below `count`), closing the gap: the
    /// bytes before it move up one. For an AF_UNIX urgent byte read out of
    /// band; rare, so linear in `offset`.
    func remove(at offset: Int) {
        var i = offset
        while i > 0 {
            storage!.storeBytes(of: byte(at: i - 1), toByteOffset: (head + i) % capacity, as: UInt8.self)
            i -= 1
        }
        drop(1)
    }

    /// Room for `n` more bytes: a power of two at least 4 KiB, the bytes
    /// unwrapped to the start of the new storage.
    private func reserve(_ n: Int) {
        let needed = count + n
        guard needed > capacity else { return }
        var size = max(capacity, 4096)
        while size < needed { size <<= 1 }
        let fresh = UnsafeMutableRawPointer.allocate(byteCount: size, alignment: 16)
        if count > 0, let old = storage {
            let first = min(count, capacity - head)
            memcpy(fresh, old + head, first)
            memcpy(fresh + first, old, count - first)
        }
        storage?.deallocate()
        storage = fresh
        capacity = size
        head = 0
    }
}
