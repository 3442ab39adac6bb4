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
    }
    private let allocator: Mutex<Allocator>

    /// `size` is virtual: a sparse file costs only the pages written.
    public init(size: UInt64 = 64 << 30, reserved: UInt64 = StubRegion.fileBytes) throws(PlatformError) {
        let fd = sw_memfd("sentry-memory")
        if fd < 0 { throw .host("memfd_create", Errno(-fd)) }
        if ftruncate(fd, off_t(size)) != 0 { let e = errno; close(fd); throw .host("ftruncate memory file", Errno(e)) }
        let p = mmap(nil, Int(size), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_NORESERVE, fd, 0)
        if p == MAP_FAILED || p == nil { let e = errno; close(fd); throw .host("mapping the memory file", Errno(e)) }
        self.fd = fd
        self.size = size
        self.base = p!
        self.allocator = Mutex(Allocator(free: [reserved..<size]))
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

    /// Returns a chunk: its contents are discarded (reads back as zeros).
    public func free(_ offset: UInt64, _ length: UInt64) {
        guard length > 0 else { return }
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
