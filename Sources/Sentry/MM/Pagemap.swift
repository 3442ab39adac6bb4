import Glibc

/// What the sentry knows of each page of a mapping, for mincore(2) and
/// /proc/PID/pagemap: a page is present when the memory file holds data
/// behind it (touched, filled from a file, or a recycled chunk's zeroed
/// page), found with SEEK_DATA/SEEK_HOLE; the host's own residency
/// (swapped or not) is not known.
extension MemoryManager {
    /// pagemap's entry bits (fs/proc/task_mmu.c).
    public enum PagemapBit {
        public static let softDirty: UInt64 = 1 << 55
        public static let exclusive: UInt64 = 1 << 56
        public static let file: UInt64 = 1 << 61
        public static let swapped: UInt64 = 1 << 62
        public static let present: UInt64 = 1 << 63
    }

    /// One byte per page of `r` (page-aligned): 1 where a mapping's page
    /// holds data in the memory file, 0 elsewhere (holes included).
    public func residency(_ r: Range<GuestAddress>) -> [UInt8] {
        let pieces = state.withLock { s in s.vmas.overlapping(r) }
        var vec = [UInt8](repeating: 0, count: Int((r.upperBound - r.lowerBound) / GuestAddress.pageSize))
        for v in pieces { markResident(v, in: r) { vec[$0] = 1 } }
        return vec
    }

    /// Calls `mark` with the index in `r` of each page of `v` (a VMA clipped
    /// to `r`) that holds data.
    private func markResident(_ v: VMA, in r: Range<GuestAddress>, _ mark: (Int) -> Void) {
        let page = GuestAddress.pageSize, first = Int((v.start - r.lowerBound) / page)
        for (data, length) in memory.dataRuns(v.memOffset, v.length) {
            let from = (data - v.memOffset) / page, to = (data - v.memOffset + length + page - 1) / page
            for i in from..<to { mark(first + Int(i)) }
        }
    }

    /// /proc/PID/pagemap's entries for the pages of `r` (page-aligned),
    /// pagemap_pte_hole and pte_to_pagemap_entry's answers: 0 outside any
    /// mapping; in one, soft-dirty if the mapping is new since the last
    /// `clear_refs` 4 or the page is present and was written since (a page
    /// dropped by MADV_DONTNEED has no data: its mark went with it, as
    /// with Linux's page table entry); present as above,
    /// then `file` for a shared mapping's or a file's page, `exclusive`
    /// unless another mapping owns the page too (MAP_SHARED memory or
    /// copy-on-write since a fork). Never swapped; page frame numbers are
    /// 0, as Linux shows them to a reader without CAP_SYS_ADMIN (the sentry
    /// has none to give).
    public func pagemapEntries(_ r: Range<GuestAddress>) -> [UInt64] {
        let pieces = state.withLock { s in s.vmas.overlapping(r) }
        let page = GuestAddress.pageSize
        var entries = [UInt64](repeating: 0, count: Int((r.upperBound - r.lowerBound) / page))
        for v in pieces {
            let first = Int((v.start - r.lowerBound) / page), count = Int(v.length / page)
            // A page not present is soft-dirty by its mapping's VM_SOFTDIRTY
            // alone (pagemap_pte_hole); a present one also by its own mark.
            if v.softDirty { for i in first..<(first + count) { entries[i] = PagemapBit.softDirty } }
            let written: UInt64 = !v.softClean ? PagemapBit.softDirty : 0
            var kind: UInt64 = 0
            if case .file = v.backing { kind = PagemapBit.file }
            if v.shared { kind = PagemapBit.file }
            let accessible = Int((v.accessibleEnd - v.start) / page)
            markResident(v, in: r) { i in
                guard i - first < accessible else { return }
                let off = v.memOffset + UInt64(i - first) * page
                entries[i] |= PagemapBit.present | kind | written | (memory.isShared(off, page) ? 0 : PagemapBit.exclusive)
            }
        }
        return entries
    }
}
