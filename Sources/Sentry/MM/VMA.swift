/// What backs a mapping, for /proc/self/maps and for re-reading file pages.
public enum VMABacking: Sendable, Equatable {
    case anonymous
    /// A file's pages (a private copy, or a tmpfs file's own), from `offset` in the file.
    case file(any FileMapping, offset: UInt64)

    public static func == (a: VMABacking, b: VMABacking) -> Bool {
        switch (a, b) {
        case (.anonymous, .anonymous): return true
        case let (.file(f1, o1), .file(f2, o2)): return f1 === f2 && o1 == o2
        default: return false
        }
    }
}

/// One guest mapping: a page-aligned range backed by a contiguous run of the
/// memory file starting at `memOffset`.
public struct VMA: Sendable, Equatable {
    public var range: Range<GuestAddress>
    public var prot: Prot
    /// Protections mprotect may grant (a read-only shared file map can't become writable).
    public var maxProt: Prot
    public var shared: Bool
    public var memOffset: UInt64
    public var backing: VMABacking
    /// "[heap]", "[stack]" or nil.
    public var name: String?
    /// MADV_DONTFORK (VM_DONTCOPY): a fork's child does not get it.
    public var dontCopy = false
    /// MADV_WIPEONFORK (VM_WIPEONFORK): a fork's child gets it empty.
    public var wipeOnFork = false
    /// Copy-on-write pending: a private mapping whose run of the memory file
    /// may have other owners (a fork's other side, the image cache). While
    /// set, the host mirror has it without write access, and a write (the
    /// guest's fault or the sentry's own copy out) first gives this mm its
    /// own copy of the pages written (MemoryManager.breakCOWLocked).
    public var cow = false
    /// VM_SOFTDIRTY: the mapping is new since the last `clear_refs` 4 (or
    /// none was ever written), so /proc/PID/pagemap reports every page of it
    /// soft-dirty, present or not.
    public var softDirty = true
    /// Soft-dirty tracking: no page of it written since the last
    /// `clear_refs` 4. While set, the host mirror has it without write
    /// access, and the first write (the guest's fault or the sentry's own
    /// copy out) marks the pages written (MemoryManager+SoftDirty.swift).
    public var softClean = false
    /// File mappings: the page-aligned file offset from which the file had
    /// no bytes when last looked at (mmap, a fault, a truncation). Pages at
    /// or past it are beyond end of file: not mirrored, so a touch faults
    /// and is SIGBUS, as filemap_fault and shmem_fault answer. `.max`: no limit.
    public var fileEnd: UInt64 = .max
    /// mbind(2)'s policy for this range; nil: the task's own applies.
    public var policy: MemoryPolicy?

    public init(range: Range<GuestAddress>, prot: Prot, maxProt: Prot = [.read, .write, .exec], shared: Bool = false,
                memOffset: UInt64, backing: VMABacking = .anonymous, name: String? = nil, fileEnd: UInt64 = .max) {
        self.range = range; self.prot = prot; self.maxProt = maxProt; self.shared = shared
        self.memOffset = memOffset; self.backing = backing; self.name = name; self.fileEnd = fileEnd
    }

    public var start: GuestAddress { range.lowerBound }
    public var end: GuestAddress { range.upperBound }
    public var length: UInt64 { end - start }

    /// The protection the host mirror gets: write held back while copy-on-write is pending.
    /// Soft-dirty clean pages are held back from writes too, to see the first.
    public var mirrorProt: Prot { (cow && !shared) || softClean ? prot.subtracting(.write) : prot }

    /// The memory-file offset of an address inside this VMA.
    public func offset(of a: GuestAddress) -> UInt64 { memOffset + (a - start) }

    /// Where the pages backed by the file end: `end`, or the first page
    /// beyond the file's end (see `fileEnd`).
    public var accessibleEnd: GuestAddress {
        guard fileEnd != .max, case .file(_, let o) = backing else { return end }
        if fileEnd <= o { return start }
        let n = fileEnd - o
        return n >= length ? end : start + n
    }

    /// The part of this VMA within `r` (which must overlap it).
    func slice(_ r: Range<GuestAddress>) -> VMA {
        var v = self
        let s = max(start, r.lowerBound), e = min(end, r.upperBound)
        v.range = s..<e
        v.memOffset = offset(of: s)
        if case .file(let f, let o) = backing { v.backing = .file(f, offset: o + (s - start)) }
        return v
    }

    /// Whether `next`, starting where this ends, continues it seamlessly.
    func canMerge(with next: VMA) -> Bool {
        guard end == next.start, prot == next.prot, maxProt == next.maxProt, shared == next.shared,
              name == next.name, fileEnd == next.fileEnd, next.memOffset == memOffset + length,
              dontCopy == next.dontCopy, wipeOnFork == next.wipeOnFork, cow == next.cow, policy == next.policy,
              softDirty == next.softDirty, softClean == next.softClean else { return false }
        switch (backing, next.backing) {
        case (.anonymous, .anonymous): return true
        case let (.file(f1, o1), .file(f2, o2)):
            return f1 === f2 && o2 == o1 + length
        default: return false
        }
    }
}

/// The guest's mappings, sorted and non-overlapping, with Linux's set
/// operations: insert, remove a range (splitting at its ends), change the
/// protection of a range (splitting and re-merging).
public struct VMASet: Sendable, Equatable {
    public private(set) var vmas: [VMA] = []
    public init() {}

    /// Index of the first VMA ending after `a`.
    private func firstIndex(endingAfter a: GuestAddress) -> Int {
        var lo = 0, hi = vmas.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if vmas[mid].end <= a { lo = mid + 1 } else { hi = mid }
        }
        return lo
    }

    /// The index in `vmas` of the one holding `a`: a look-up that copies
    /// no VMA (their file references and names), for the hot paths.
    public func index(of a: GuestAddress) -> Int? {
        let i = firstIndex(endingAfter: a)
        return i < vmas.count && vmas[i].start <= a ? i : nil
    }

    public func find(_ a: GuestAddress) -> VMA? {
        let i = firstIndex(endingAfter: a)
        return i < vmas.count && vmas[i].start <= a ? vmas[i] : nil
    }

    /// The VMAs overlapping `r`, clipped to it.
    public func overlapping(_ r: Range<GuestAddress>) -> [VMA] {
        var out: [VMA] = []
        var i = firstIndex(endingAfter: r.lowerBound)
        while i < vmas.count, vmas[i].start < r.upperBound { out.append(vmas[i].slice(r)); i += 1 }
        return out
    }

    public func isFree(_ r: Range<GuestAddress>) -> Bool {
        let i = firstIndex(endingAfter: r.lowerBound)
        return i == vmas.count || vmas[i].start >= r.upperBound
    }

    /// Whether every byte of `r` is mapped.
    public func isFullyMapped(_ r: Range<GuestAddress>) -> Bool {
        var cursor = r.lowerBound
        for v in overlapping(r) { if v.start != cursor { return false }; cursor = v.end }
        return cursor >= r.upperBound
    }

    /// Inserts a VMA into free space (the caller removes what was there).
    public mutating func insert(_ v: VMA) {
        precondition(isFree(v.range), "VMA insert over a mapped range")
        let i = firstIndex(endingAfter: v.start)
        vmas.insert(v, at: i)
        mergeAround(i)
    }

    /// Removes `r`, splitting VMAs that straddle its ends. Returns the removed pieces.
    @discardableResult
    public mutating func remove(_ r: Range<GuestAddress>) -> [VMA] {
        var i = firstIndex(endingAfter: r.lowerBound)
        var removed: [VMA] = []
        var keep: [VMA] = []
        let first = i
        while i < vmas.count, vmas[i].start < r.upperBound {
            let v = vmas[i]
            removed.append(v.slice(r))
            if v.start < r.lowerBound { keep.append(v.slice(v.start..<r.lowerBound)) }
            if v.end > r.upperBound { keep.append(v.slice(r.upperBound..<v.end)) }
            i += 1
        }
        vmas.replaceSubrange(first..<i, with: keep)
        return removed
    }

    /// Applies `change` to the parts of VMAs inside `r`, splitting at its ends.
    public mutating func update(_ r: Range<GuestAddress>, _ change: (inout VMA) -> Void) {
        let pieces = remove(r)
        for var p in pieces {
            change(&p)
            let i = firstIndex(endingAfter: p.start)
            vmas.insert(p, at: i)
        }
        // Re-merge across the whole touched stretch, neighbours included.
        var i = max(0, firstIndex(endingAfter: r.lowerBound) - 1)
        while i < vmas.count - 1, vmas[i].start <= r.upperBound {
            if vmas[i].canMerge(with: vmas[i + 1]) { merge(i) } else { i += 1 }
        }
    }

    private mutating func merge(_ i: Int) {
        vmas[i].range = vmas[i].start..<vmas[i + 1].end
        vmas.remove(at: i + 1)
    }

    private mutating func mergeAround(_ i: Int) {
        var i = i
        if i + 1 < vmas.count, vmas[i].canMerge(with: vmas[i + 1]) { merge(i) }
        if i > 0, vmas[i - 1].canMerge(with: vmas[i]) { i -= 1; merge(i) }
    }

    /// Highest free gap of `length` bytes ending at or below `top` and above `bottom`.
    public func findFreeTopDown(length: UInt64, below top: GuestAddress, above bottom: GuestAddress) -> GuestAddress? {
        var ceiling = top
        var i = firstIndex(endingAfter: top) - 1
        if i + 1 < vmas.count, vmas[i + 1].start < top { ceiling = min(ceiling, vmas[i + 1].start) }
        while true {
            let floor = i >= 0 ? max(vmas[i].end, bottom) : bottom
            if ceiling >= floor, ceiling - floor >= length { return ceiling - length }
            if i < 0 { return nil }
            ceiling = min(ceiling, vmas[i].start)
            i -= 1
        }
    }
}
