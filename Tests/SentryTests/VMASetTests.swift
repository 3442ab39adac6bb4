import Testing
@testable import Sentry

struct VMASetTests {
    func a(_ pages: UInt64) -> GuestAddress { GuestAddress(0x10_0000 + pages * 4096) }
    func vma(_ s: UInt64, _ e: UInt64, _ prot: Prot = .rw, off: UInt64? = nil) -> VMA {
        VMA(range: a(s)..<a(e), prot: prot, memOffset: (off ?? s) * 4096)
    }

    @Test func adjacentContiguousMappingsMerge() {
        var set = VMASet()
        set.insert(vma(0, 2))
        set.insert(vma(2, 4))
        #expect(set.vmas.count == 1 && set.vmas[0].range == a(0)..<a(4))
        set.insert(vma(4, 5, off: 100))      // not contiguous in the memory file
        #expect(set.vmas.count == 2)
        set.insert(vma(6, 7, .read))
        #expect(set.vmas.count == 3)
    }

    @Test func removeSplitsStraddlingMappings() {
        var set = VMASet()
        set.insert(vma(0, 10))
        let removed = set.remove(a(3)..<a(5))
        #expect(removed.count == 1 && removed[0].range == a(3)..<a(5) && removed[0].memOffset == 3 * 4096)
        #expect(set.vmas.map(\.range) == [a(0)..<a(3), a(5)..<a(10)])
        #expect(set.vmas[1].memOffset == 5 * 4096)
        #expect(set.isFree(a(3)..<a(5)) && !set.isFree(a(2)..<a(4)))
        #expect(!set.isFullyMapped(a(0)..<a(6)) && set.isFullyMapped(a(5)..<a(10)))
    }

    @Test func protectAcrossBoundariesSplitsAndRemerges() {
        var set = VMASet()
        set.insert(vma(0, 4))
        set.insert(vma(4, 8, .read, off: 50))
        set.update(a(2)..<a(6)) { $0.prot = .read }
        #expect(set.vmas.map(\.range) == [a(0)..<a(2), a(2)..<a(4), a(4)..<a(8)])
        #expect(set.vmas.map(\.prot) == [.rw, .read, .read])
        set.update(a(2)..<a(4)) { $0.prot = .rw }
        #expect(set.vmas.count == 2 && set.vmas[0].range == a(0)..<a(4))
    }

    @Test func topDownSearchFindsTheHighestGap() {
        var set = VMASet()
        set.insert(vma(10, 20))
        set.insert(vma(22, 30))
        #expect(set.findFreeTopDown(length: 4096 * 2, below: a(30), above: a(0)) == a(20))
        #expect(set.findFreeTopDown(length: 4096 * 3, below: a(30), above: a(0)) == a(7))
        #expect(set.findFreeTopDown(length: 4096 * 11, below: a(30), above: a(0)) == nil)
        #expect(set.find(a(15))?.range == a(10)..<a(20) && set.find(a(21)) == nil)
    }
}
