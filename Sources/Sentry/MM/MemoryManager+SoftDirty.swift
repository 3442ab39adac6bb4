/// Soft-dirty tracking (Documentation/admin-guide/mm/soft-dirty.rst):
/// `clear_refs` 4 takes VM_SOFTDIRTY from every mapping and the soft-dirty
/// mark from every page, and write-protects the pages so the next write to
/// each is seen; /proc/PID/pagemap's bit 55 then shows the pages written
/// since, and mappings made since.
///
/// The marks live in the VMAs (`VMA.softDirty`, `VMA.softClean`): a page
/// written is split off its clean mapping, as a copy-on-write break splits
/// one, and merges back with its written neighbours. A clean page's mirror
/// has no write access; the guest's first write faults into
/// `softDirtyFaultLocked`, which marks the page and gives the access back.
/// The sentry's own writes into guest memory mark what they write
/// (`markSoftDirtyLocked`, from prepareWriteLocked) and leave the mirror as
/// it is: the writer may not be a runner of this mm, and the guest's next
/// write to the page only faults once more to have its access back.
/// Nothing of this runs before the first `clear_refs` 4 of the mm
/// (`State.softDirtyTracked`).
extension MemoryManager {
    /// clear_refs 4 (clear_refs_write with CLEAR_REFS_SOFT_DIRTY). The mirror
    /// changes now if the caller is a runner of this mm (`runner`), else at
    /// its runners' next entry into guest code: true if some wait for that,
    /// and the caller must kick them out of guest code.
    public func clearSoftDirty(runner: Bool) -> Bool {
        state.withLock { s in
            s.softDirtyTracked = true
            s.vmas.update(GuestAddress.null..<layout.top) { $0.softDirty = false; $0.softClean = true }
            // A page holding an rseq area registered with the host stays
            // writable (the host writes cpu_id there at each return to the
            // guest, as Linux's rseq_update_cpu_id marks it dirty at once).
            for page in s.rseqPins.keys {
                s.vmas.update(page..<(page + GuestAddress.pageSize)) { $0.softClean = false }
            }
            if runner {
                protectSoftCleanLocked(&s)
                return false
            }
            guard s.space != nil else { return false }
            s.pendingWriteProtect = true
            unmapsPending.store(true, ordering: .releasing)
            return true
        }
    }

    /// Takes write access from the mirror of every soft-dirty clean page
    /// (one mprotect per stretch of adjacent writable mappings).
    func protectSoftCleanLocked(_ s: inout State) {
        var stretches: [(range: Range<GuestAddress>, prot: Prot)] = []
        for v in s.vmas.vmas where v.softClean && v.prot.contains(.write) && v.accessibleEnd > v.start {
            let r = v.start..<v.accessibleEnd, p = v.mirrorProt
            if let last = stretches.last, last.range.upperBound == r.lowerBound, last.prot == p {
                stretches[stretches.count - 1].range = last.range.lowerBound..<r.upperBound
            } else {
                stretches.append((r, p))
            }
        }
        try? mirror(&s) { (sp) throws(PlatformError) in
            for st in stretches { try sp.protect(st.range, prot: st.prot) }
        }
    }

    /// The page at `page` is to stay writable in the mirror (a host rseq
    /// area about to be registered): soft-dirty from now on, as the host's
    /// first write would make it.
    func unprotectSoftCleanLocked(_ s: inout State, _ page: GuestAddress) throws(Errno) {
        s.vmas.update(page..<(page + GuestAddress.pageSize)) { $0.softClean = false }
        guard let v = s.vmas.find(page), page < v.accessibleEnd else { return }
        let prot = v.mirrorProt
        try mirror(&s) { (sp) throws(PlatformError) in try sp.protect(page..<(page + GuestAddress.pageSize), prot: prot) }
    }

    /// The sentry is about to write `range`: its pages are soft-dirty from
    /// now on. The VMAs only (see the type's comment on the mirror).
    func markSoftDirtyLocked(_ s: inout State, _ range: Range<GuestAddress>) {
        guard s.softDirtyTracked, !range.isEmpty else { return }
        let pages = range.lowerBound.pageDown..<(range.upperBound.pageUp ?? layout.top)
        guard s.vmas.overlapping(pages).contains(where: \.softClean) else { return }
        s.vmas.update(pages) { $0.softClean = false }
    }

    /// A guest write to a soft-dirty clean page (`v` holds `addr`): the page
    /// is marked and writable again; a copy-on-write still pending on it is
    /// broken in the same fault, as do_wp_page's copy is made dirty.
    func softDirtyFaultLocked(_ s: inout State, _ v: VMA, at addr: GuestAddress) -> CopyOnWriteFault? {
        let page = Self.pageRange(of: addr, in: v)
        s.vmas.update(page) { $0.softClean = false }
        do throws(Errno) {
            if v.cow && !v.shared {
                try breakCOWLocked(&s, page)
            } else {
                try mirror(&s) { (sp) throws(PlatformError) in try sp.protect(page, prot: v.prot) }
            }
        } catch {
            return nil
        }
        return .copied
    }

    /// mmap_region merges a new anonymous private mapping with like
    /// neighbours and sets VM_SOFTDIRTY on the merged VMA: the neighbours'
    /// old pages report soft-dirty too. `v` is the new mapping, not yet
    /// inserted; the neighbours are the runs of VMAs Linux would hold as one
    /// with it (same protection, fork and NUMA flags; anonymous, unnamed or
    /// the heap).
    func markMergedNeighboursSoftDirtyLocked(_ s: inout State, _ v: VMA) {
        guard case .anonymous = v.backing, !v.shared else { return }
        func joins(_ n: VMA) -> Bool {
            n.backing == .anonymous && !n.shared && n.prot == v.prot && n.maxProt == v.maxProt && n.dontCopy == v.dontCopy
                && n.wipeOnFork == v.wipeOnFork && n.policy == v.policy && (n.name == nil || n.name == "[heap]")
        }
        var lo = v.start
        while lo > GuestAddress.null, let p = s.vmas.find(lo - 1), joins(p) { lo = p.start }
        var hi = v.end
        while let n = s.vmas.find(hi), n.start == hi, joins(n) { hi = n.end }
        if lo < v.start { s.vmas.update(lo..<v.start) { $0.softDirty = true } }
        if hi > v.end { s.vmas.update(v.end..<hi) { $0.softDirty = true } }
    }
}
