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
