import Synchronization
import Testing
@testable import Sentry

/// The sandbox's default memory limit is read from the host only when a
/// decision needs it: comparisons below its floor read nothing.
struct DeferredLimitTests {
    final class Reads: Sendable {
        let count = Atomic<Int>(0)
        func limit(_ bytes: UInt64) -> @Sendable () -> UInt64 {
            { self.count.add(1, ordering: .relaxed); return bytes }
        }
        var n: Int { count.load(ordering: .relaxed) }
    }

    @Test func readOnlyPastTheFloor() {
        let reads = Reads()
        let l = DeferredLimit(floor: 16 << 20, reads.limit(100 << 20))
        #expect(!l.isExceeded(by: 1 << 20) && !l.isExceeded(by: 16 << 20))
        #expect(reads.n == 0 && !l.isKnown)
        #expect(!l.isExceeded(by: (16 << 20) + 1))
        #expect(reads.n == 1 && l.isKnown)
        #expect(l.isExceeded(by: (100 << 20) + 1) && !l.isExceeded(by: 100 << 20))
        #expect(l.value == 100 << 20 && reads.n == 1)
        // A value found below the floor counts as the floor.
        #expect(DeferredLimit(floor: 16 << 20, reads.limit(1 << 20)).value == 16 << 20)
    }

    @Test func givenLimitsAreExact() {
        #expect(DeferredLimit(0).isExceeded(by: 1) && !DeferredLimit(0).isExceeded(by: 0))
        let l = DeferredLimit(64 << 20)
        #expect(l.isKnown && l.value == 64 << 20 && l.isExceeded(by: (64 << 20) + 1))
        let m = try? MemoryFile(size: 1 << 20, limit: .max)
        #expect(m?.hasLimit == false)
    }

    /// A tmpfs's default size (half the memory) stays unread while its
    /// files stay within half the floor, and is the half once read.
    @Test func tmpfsDefaultSizeIsReadWhenNeeded() throws {
        let reads = Reads()
        let m = try MemoryFile(size: 1 << 30, deferredLimit: DeferredLimit(floor: 16 << 20, reads.limit(64 << 20)))
        #expect(m.hasLimit && !m.isOverLimit(1 << 20) && reads.n == 0)
        let blocks = TmpfsBlocks(size: TmpFS.defaultSize(m))
        #expect(blocks.charge(1024) == 1024 && reads.n == 0)         // 4 MiB of the 8 MiB floor
        #expect(blocks.charge(1 << 20, partial: true) == (32 << 20) / 4096 - 1024)
        #expect(reads.n == 1 && blocks.limit == (32 << 20) / 4096 && m.limit == 64 << 20)
    }
}
