import Glibc
import Testing
@testable import Sentry

/// Chunks of the memory file shared after fork: freed only when their last
/// owner lets go, part by part.
struct MemoryFileTests {
    @Test func sharedChunksAreFreedByTheirLastOwner() throws {
        let m = try MemoryFile(size: 1 << 20)
        let total = m.freeBytes
        let page: UInt64 = 4096
        let c = try m.allocate(4 * page)
        m.retain(c + page, 2 * page)               // pages 1-2 get a second owner
        #expect(m.isShared(c + page, page) && !m.isShared(c, page))
        m.free(c, 4 * page)                        // pages 0 and 3 go; 1-2 stay
        #expect(m.freeBytes == total - 2 * page)
        #expect(!m.isShared(c + page, 2 * page))   // one owner left
        m.retain(c + page, page)
        m.free(c + page, 2 * page)                 // page 2 goes, page 1 keeps an owner
        #expect(m.freeBytes == total - page)
        m.free(c + page, page)
        #expect(m.freeBytes == total)
    }

    /// A copy-on-write break asks for the run next to its neighbour's copy:
    /// given when free (a fresh hole or a freed chunk, which reads as zeros),
    /// anywhere else when taken.
    @Test func preferredRunsAreGivenWhenFree() throws {
        let m = try MemoryFile(size: 1 << 20)
        let total = m.freeBytes
        let page: UInt64 = 4096
        let a = try m.allocate(page)
        #expect(try m.allocate(page, preferring: a + 4 * page) == a + 4 * page)
        let b = try m.allocate(2 * page, preferring: a)          // taken: elsewhere
        #expect(b != a && b != a + 4 * page)
        [UInt8](repeating: 7, count: 16).withUnsafeBytes { m.write(at: a, $0) }
        m.free(a, page)                                           // kept with its pages
        #expect(try m.allocate(page, preferring: a) == a)
        #expect(m.pointer(a).load(as: UInt8.self) == 0)
        #expect(try m.allocate(page, preferring: (1 << 20) - page) == (1 << 20) - page)   // the last page
        m.free(a, page); m.free(a + 4 * page, page); m.free(b, 2 * page); m.free((1 << 20) - page, page)
        #expect(m.freeBytes == total)
    }

    /// A freed chunk keeps its pages for reuse, but whoever gets it next
    /// sees zeros: no guest's bytes reach another guest.
    @Test func reusedChunksReadAsZeros() throws {
        let m = try MemoryFile(size: 1 << 20)
        let page: UInt64 = 4096
        let a = try m.allocate(8 * page)
        memset(m.pointer(a + page), 0xa5, Int(page))         // one page with data, the rest holes
        memset(m.pointer(a + 5 * page), 0x5a, Int(2 * page))
        m.free(a, 8 * page)
        let b = try m.allocate(3 * page), c = try m.allocate(5 * page)
        #expect(Set([b, c]) == Set([a, a + 3 * page]), "the freed chunk is handed out again")
        for off in stride(from: a, to: a + 8 * page, by: 8) {
            #expect(m.pointer(off).load(as: UInt64.self) == 0)
        }
    }
}

/// The image cache: a mapping inside a run already copied shares that copy;
/// a larger one that covers earlier runs takes their place.
struct ImageCacheTests {
    @Test func pieceOfACachedRunSharesItsPages() throws {
        let page: UInt64 = 4096
        let path = "/tmp/sentry-imagecache-\(getpid())"
        let fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0o600)
        #expect(fd >= 0)
        defer { close(fd); unlink(path) }
        // Page i holds byte i+1; the last page is half past the end of file.
        for i in 0..<5 {
            let bytes = [UInt8](repeating: UInt8(i + 1), count: Int(i == 4 ? page / 2 : page))
            #expect(bytes.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, off_t(UInt64(i) * page)) } == bytes.count)
        }
        let file = try MappedFile(duplicating: fd, path: path)
        let m = try MemoryFile(size: 1 << 20)
        let cache = ImageCache(memory: m)
        let total = m.freeBytes

        let small = try cache.chunk(file, offset: page, length: page)         // page 1 alone
        let whole = try cache.chunk(file, offset: 0, length: 5 * page)        // covers it: a copy of its own
        #expect(whole != small && m.pointer(whole + page).load(as: UInt8.self) == 2)
        let text = try cache.chunk(file, offset: 2 * page, length: 2 * page)  // inside: no copy
        #expect(text == whole + 2 * page)
        #expect(m.pointer(text).load(as: UInt8.self) == 3 && m.pointer(text + page).load(as: UInt8.self) == 4)
        let again = try cache.chunk(file, offset: page, length: page)         // the covering run now
        #expect(again == whole + page)
        #expect(m.pointer(whole + 4 * page + page / 2).load(as: UInt8.self) == 0)   // past the end: zeros
        #expect(m.freeBytes == total - 6 * page)   // the whole run, and `small` its caller still holds

        // Callers free their pieces; the cache still holds the whole run.
        for (o, l) in [(small, page), (whole, 5 * page), (text, 2 * page), (again, page)] { m.free(o, l) }
        #expect(m.freeBytes == total - 5 * page)
        #expect(m.pointer(text).load(as: UInt8.self) == 3)
        #expect(throws: Errno.EOVERFLOW) { try cache.chunk(file, offset: UInt64.max - page + 1, length: 2 * page) }
    }
}
