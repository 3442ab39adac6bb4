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
}
