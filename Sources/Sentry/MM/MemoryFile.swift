import CSwitch
import Glibc
import Synchronization

/// The one host file (a memfd) that holds every byte of guest memory.
///
/// The sentry maps all of it once and reaches guest memory by plain copies;
/// stub processes map pieces of it at guest addresses. Space is handed out in
/// page-sized chunks by a first-fit free list. Freed chunks are punched out so
/// they cost no host memory and read back as zeros.
public final class MemoryFile: Sendable {
    public let fd: Int32
    public let size: UInt64
    /// Where the sentry sees offset 0.
    nonisolated(unsafe) public let base: UnsafeMutableRawPointer

    private struct Allocator {
        var free: [Range<UInt64>]   // sorted, disjoint, coalesced
        /// Chunks with more than one owner (MAP_SHARED memory after fork):
        /// sorted, disjoint runs and how many owners beyond the first.
        var shares: [(range: Range<UInt64>, extra: Int)] = []
    }
    private let allocator: Mutex<Allocator>

    /// `size` is virtual: a sparse file costs only the pages written.
    public init(size: UInt64 = 64 << 30) throws(PlatformError) {
        let fd = sw_memfd("sentry-memory")
        if fd < 0 { throw .host("memfd_create", Errno(-fd)) }
        if ftruncate(fd, off_t(size)) != 0 { let e = errno; close(fd); throw .host("ftruncate memory file", Errno(e)) }
        let p = mmap(nil, Int(size), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_NORESERVE, fd, 0)
        if p == MAP_FAILED || p == nil { let e = errno; close(fd); throw .host("mapping the memory file", Errno(e)) }
        self.fd = fd
        self.size = size
        self.base = p!
        self.allocator = Mutex(Allocator(free: [0..<size]))
    }

    deinit {
        munmap(base, Int(size))
        close(fd)
    }

    /// Allocates `length` bytes (a multiple of the page size). Throws ENOMEM when full.
    public func allocate(_ length: UInt64) throws(Errno) -> UInt64 {
        precondition(length > 0 && length % GuestAddress.pageSize == 0)
        let r: UInt64? = allocator.withLock { a in
            for (i, chunk) in a.free.enumerated() where chunk.count >= length {
                let start = chunk.lowerBound
                if chunk.count == length { a.free.remove(at: i) } else { a.free[i] = (start + length)..<chunk.upperBound }
                return start
            }
            return nil
        }
        guard let r else { throw .ENOMEM }
        return r
    }

    /// Adds an owner to a chunk: it is freed only when every owner frees it.
    public func retain(_ offset: UInt64, _ length: UInt64) {
        guard length > 0 else { return }
        _ = allocator.withLock { Self.addOwners(&$0.shares, offset..<(offset + length), 1) }
    }

    /// Drops one owner of a chunk; the parts nobody else owns are discarded
    /// (they read back as zeros) and returned to the free list.
    public func free(_ offset: UInt64, _ length: UInt64) {
        guard length > 0 else { return }
        let released = allocator.withLock { Self.addOwners(&$0.shares, offset..<(offset + length), -1) }
        for r in released { release(r.lowerBound, UInt64(r.count)) }
    }

    /// Adds `delta` (+1 or -1) to the owner count of every byte of `r` (a
    /// byte outside `shares` has one owner, none extra). Returns the parts
    /// left with no owner at all.
    private static func addOwners(_ shares: inout [(range: Range<UInt64>, extra: Int)], _ r: Range<UInt64>,
                                  _ delta: Int) -> [Range<UInt64>] {
        var out: [(range: Range<UInt64>, extra: Int)] = []
        var ownerless: [Range<UInt64>] = []
        func apply(_ piece: Range<UInt64>, _ extra: Int) {
            let n = extra + delta
            if n < 0 { ownerless.append(piece) } else if n > 0 { out.append((piece, n)) }
        }
        var cursor = r.lowerBound
        for run in shares {
            guard run.range.overlaps(r) else { out.append(run); continue }
            if run.range.lowerBound < r.lowerBound { out.append((run.range.lowerBound..<r.lowerBound, run.extra)) }
            let lo = max(run.range.lowerBound, r.lowerBound), hi = min(run.range.upperBound, r.upperBound)
            if cursor < lo { apply(cursor..<lo, 0) }
            apply(lo..<hi, run.extra)
            cursor = hi
            if run.range.upperBound > r.upperBound { out.append((r.upperBound..<run.range.upperBound, run.extra)) }
        }
        if cursor < r.upperBound { apply(cursor..<r.upperBound, 0) }
        shares = out.sorted { $0.range.lowerBound < $1.range.lowerBound }
        return ownerless
    }

    /// Whether any part of a chunk has another owner.
    public func isShared(_ offset: UInt64, _ length: UInt64) -> Bool {
        allocator.withLock { a in a.shares.contains { $0.range.overlaps(offset..<(offset + length)) } }
    }

    /// Copies a run of the file, skipping holes so untouched pages stay unallocated.
    public func copyData(from src: UInt64, to dst: UInt64, length: UInt64) {
        var at = src
        let end = src + length
        while at < end {
            let data = lseek(fd, off_t(at), 3 /* SEEK_DATA */)
            if data < 0 || UInt64(data) >= end { break }
            var hole = lseek(fd, off_t(data), 4 /* SEEK_HOLE */)
            if hole < 0 || UInt64(hole) > end { hole = off_t(end) }
            memcpy(base + Int(dst + (UInt64(data) - src)), base + Int(data), Int(hole - data))
            at = UInt64(hole)
        }
    }

    private func release(_ offset: UInt64, _ length: UInt64) {
        zero(offset, length)
        allocator.withLock { a in
            var r = offset..<(offset + length)
            var i = a.free.firstIndex { $0.lowerBound >= r.upperBound } ?? a.free.count
            if i > 0, a.free[i - 1].upperBound == r.lowerBound { r = a.free[i - 1].lowerBound..<r.upperBound; a.free.remove(at: i - 1); i -= 1 }
            if i < a.free.count, a.free[i].lowerBound == r.upperBound { r = r.lowerBound..<a.free[i].upperBound; a.free.remove(at: i) }
            a.free.insert(r, at: i)
        }
    }

    /// Discards the pages of a range: they read back as zeros in every mapping.
    public func zero(_ offset: UInt64, _ length: UInt64) {
        if sw_punch_hole(fd, offset, length) != 0 {
            memset(base + Int(offset), 0, Int(length))
        }
    }

    public func pointer(_ offset: UInt64) -> UnsafeMutableRawPointer { base + Int(offset) }

    public func write(at offset: UInt64, _ bytes: UnsafeRawBufferPointer) {
        guard let src = bytes.baseAddress, bytes.count > 0 else { return }
        memcpy(base + Int(offset), src, bytes.count)
    }

    /// Bytes in use by guests (for sysinfo and benchmarks).
    public var freeBytes: UInt64 { allocator.withLock { $0.free.reduce(0) { $0 + UInt64($1.count) } } }
}
