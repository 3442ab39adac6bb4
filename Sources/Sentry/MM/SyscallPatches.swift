import Glibc

/// systrap's patched syscall sites of one mm (see Arch/SyscallSite.swift for
/// what a patch is). Kept under the memory manager's lock, with the VMAs
/// whose bytes it changes.
///
/// Rules: only a private mapping that is executable and not writable is
/// patched, never a MAP_SHARED one; the page gets its own copy first (an
/// image-cache page or one shared with a fork stays as it was for the
/// others), so each mm has its own patches. Anything that may change the
/// patched bytes' meaning undoes them first: mprotect (a JIT making its code
/// writable sees its own bytes again), mremap, munmap or MAP_FIXED over
/// the site or its trampoline page, MADV_DONTNEED. The trampoline pages are
/// anonymous mappings named `[sentry-patch]` that the sentry places within
/// ±2 GiB of the sites, below them where there is room.
struct SyscallPatchTable: Sendable {
    struct Patch: Sendable {
        let site: SyscallSite
        let entry: UInt64
        let page: UInt64
    }
    /// By site start.
    var sites: [UInt64: Patch] = [:]
    /// Trampoline pages and how many of their entries are handed out.
    var pages: [UInt64: Int] = [:]
    /// Traps seen at syscall addresses not patched yet: a site is patched
    /// on its `threshold`-th trap, so code that runs a few times is left alone.
    var hits: [UInt64: UInt8] = [:]
    /// Syscall addresses that are no patchable site.
    var rejected: Set<UInt64> = []
    /// Addresses written with an int3 step, and where a thread that ran
    /// into one meanwhile (a SIGTRAP just past it) runs again instead.
    var poked: [UInt64: UInt64] = [:]

    /// A patch costs a page copy, a trampoline page, their mirror changes
    /// and one more mapping in every later fork's mirror: about what four
    /// trapped calls cost more than patched ones (a patched call saves
    /// about 10 µs here). A short-lived program's start-up sites, called
    /// once or twice (static glibc's `brk`), then stay as they are.
    static let threshold: UInt8 = 4
    /// Calls whose sites stay as they are: their handling reads the task's
    /// FPU state, which a patched site's trap leaves in the stub's
    /// registers (an XSAVE round trip to the stub to read it, on the path
    /// of every clone, fork and exec), where SIGSYS's frame holds it already.
    static let leftToTrap: Set<UInt64> = [SyscallNumber.clone, SyscallNumber.fork, SyscallNumber.vfork,
                                          SyscallNumber.execve, SyscallNumber.execveat, SyscallNumber.clone3]
    static let vmaName = "[sentry-patch]"
    static let maxTracked = 4096
    /// A jmp rel32 reaches ±2 GiB from the end of the jmp.
    static let reach: UInt64 = 1 << 31

    /// A fork's child: the same patched pages, so the same records.
    var inherited: SyscallPatchTable {
        var t = SyscallPatchTable()
        t.sites = sites
        t.pages = pages
        t.poked = poked
        return t
    }
}

/// The address space's side of patching: makes every thread of the mm see
/// modified code before the next step (Linux's text_poke_sync).
protocol CodePatchSync: AnyObject {
    func syncCores()
}

extension MemoryManager {
    /// A syscall trapped at `syscallAddress` (its `syscall` instruction)
    /// with number `rax`: patch its site into a jump to the stub's `entry`
    /// once it has trapped `threshold` times. Called by a runner of this
    /// mm (the trapping task's thread), as mirror changes must be.
    ///
    /// Returns the rip the guest sees when the syscall is an `after` site's
    /// fallback in its trampoline (GS was not the stub's area): the
    /// original syscall's + 2. `patch` false: only that (a traced task).
    public func considerPatching(syscallAt syscallAddress: UInt64, rax: UInt64, entry: UInt64, patch: Bool = true) -> UInt64? {
        state.withLock { s -> UInt64? in
            if let seen = afterFallbackLocked(&s, syscallAddress) { return seen }
            guard patch, !SyscallPatchTable.leftToTrap.contains(SyscallABI.number(rax)) else { return nil }
            considerLocked(&s, syscallAddress, rax: rax, entry: entry)
            return nil
        }
    }

    private func afterFallbackLocked(_ s: inout State, _ r: UInt64) -> UInt64? {
        let entry = r & ~(SyscallSite.entryStride - 1)
        guard r - entry == UInt64(SyscallSite.fallbackOffset), !s.patches.pages.isEmpty,
              s.patches.pages[r & ~(SyscallSite.pageSize - 1)] != nil,
              let v = s.vmas.find(GuestAddress(entry)), v.name == SyscallPatchTable.vmaName,
              entry + SyscallSite.entryStride <= v.end.rawValue,
              let d = SyscallSite.decode(entry: entry, entryBytes(v, entry)), d.site.kind == .after else { return nil }
        return d.site.start + 2
    }

    private func entryBytes(_ v: VMA, _ entry: UInt64) -> [UInt8] {
        Array(UnsafeRawBufferPointer(start: memory.pointer(v.offset(of: GuestAddress(entry))), count: Int(SyscallSite.entryStride)))
    }

    private func considerLocked(_ s: inout State, _ syscallAddress: UInt64, rax: UInt64, entry: UInt64) {
        if s.patches.rejected.contains(syscallAddress) { return }
        let n = (s.patches.hits[syscallAddress] ?? 0) &+ 1
        if n < SyscallPatchTable.threshold {
            if s.patches.hits.count >= SyscallPatchTable.maxTracked { s.patches.hits.removeAll() }
            s.patches.hits[syscallAddress] = n
            return
        }
        s.patches.hits[syscallAddress] = nil
        if !patchLocked(&s, syscallAddress, rax: rax, entry: entry) {
            if s.patches.rejected.count >= SyscallPatchTable.maxTracked { s.patches.rejected.removeAll() }
            s.patches.rejected.insert(syscallAddress)
        }
    }

    /// Patches the site of the syscall at `r`; false if it is none (or
    /// can't be), true if patched or patched already.
    private func patchLocked(_ s: inout State, _ r: UInt64, rax: UInt64, entry stubEntry: UInt64) -> Bool {
        let page = SyscallSite.pageSize
        guard r >= 7, r % page <= page - 2, let v = s.vmas.find(GuestAddress(r)), !v.shared,
              v.prot.contains(.exec), !v.prot.contains(.write), v.name != SyscallPatchTable.vmaName,
              GuestAddress(r + 2) <= v.accessibleEnd else { return false }
        // The bytes before the syscall, within its page (a site across a
        // page boundary is left alone).
        let pageStart = r & ~(page - 1)
        var before = [UInt8](repeating: 0, count: 7)
        let have = Int(min(7, r - max(pageStart, v.start.rawValue)))
        let p = memory.pointer(v.offset(of: GuestAddress(r)))
        guard p.load(as: UInt8.self) == SyscallSite.syscallInstruction[0],
              (p + 1).load(as: UInt8.self) == SyscallSite.syscallInstruction[1] else { return false }
        for i in 0..<have { before[7 - have + i] = (p - have + i).load(as: UInt8.self) }
        var found = SyscallSite.recognise(before: before, syscallAddress: r, rax: rax)
        if let f = found, f.start < pageStart || f.start < v.start.rawValue { found = nil }
        // Else `syscall; cmp $imm32, %rax`, within the page and the mapping.
        let afterLength = UInt64(SyscallSite.afterLength)
        if found == nil, r % page <= page - afterLength, GuestAddress(r + afterLength) <= v.accessibleEnd {
            found = SyscallSite.recognise(after: (2..<Int(afterLength)).map { (p + $0).load(as: UInt8.self) }, syscallAddress: r)
        }
        guard let site = found else { return false }
        if s.patches.sites[site.start] != nil { return true }
        do throws(Errno) {
            let (entry, tpage) = try trampolineEntryLocked(&s, for: site, stubEntry: stubEntry)
            try pokeLocked(&s, entry, site.trampoline(entry: entry, slot: tpage + SyscallSite.slotOffset), boundaries: [])
            s.patches.pages[tpage, default: 0] += 1
            s.patches.sites[site.start] = .init(site: site, entry: entry, page: tpage)
            try pokeLocked(&s, site.start, site.patchBytes(entry: entry), boundaries: site.boundaries)
            return true
        } catch {
            s.patches.sites[site.start] = nil
            return false
        }
    }

    /// A free entry of a trampoline page that `site` reaches, in a new page
    /// if none has room.
    private func trampolineEntryLocked(_ s: inout State, for site: SyscallSite, stubEntry: UInt64) throws(Errno) -> (UInt64, UInt64) {
        let stride = SyscallSite.entryStride
        for (p, used) in s.patches.pages where used < SyscallSite.entriesPerPage {
            let e = p + stride * UInt64(used + 1)
            if site.reaches(e) && site.reaches(p + SyscallSite.pageSize), s.vmas.find(GuestAddress(p))?.name == SyscallPatchTable.vmaName {
                return (e, p)
            }
        }
        // Below the site first: above a static binary or a PIE is its heap.
        let page = SyscallSite.pageSize, reach = SyscallPatchTable.reach - 2 * page
        let low = max(layout.minAddress.rawValue, site.start > reach ? site.start - reach : 0)
        let high = min(layout.top.rawValue, site.start &+ reach)
        let below = s.vmas.findFreeTopDown(length: page, below: GuestAddress(site.start & ~(page - 1)), above: GuestAddress(low))
        guard let at = below ?? s.vmas.findFreeTopDown(length: page, below: GuestAddress(high), above: GuestAddress(site.start)),
              site.reaches(at.rawValue), site.reaches(at.rawValue + page) else { throw .ENOMEM }
        let off = try memory.allocate(page)   // handed out zeroed
        let v = VMA(range: at..<(at + page), prot: [.read, .exec], memOffset: off, name: SyscallPatchTable.vmaName)
        s.vmas.insert(v)
        do throws(Errno) { try mirrorVMA(&s, v) } catch {
            _ = s.vmas.remove(v.range)
            memory.free(off, page)
            throw error
        }
        memory.pointer(off).storeBytes(of: stubEntry, toByteOffset: Int(SyscallSite.slotOffset), as: UInt64.self)
        memory.pointer(off).storeBytes(of: SyscallSite.afterStubEntry(stubEntry), toByteOffset: Int(SyscallSite.afterSlotOffset), as: UInt64.self)
        s.patches.pages[at.rawValue] = 0
        return (at.rawValue + stride, at.rawValue)
    }

    /// Writes `bytes` at guest address `a` (within one page) into this mm's
    /// own copy of the page. `boundaries` (offsets where an instruction
    /// begins in the old bytes or the new: an after site's 0 and 2 in both,
    /// 3 in the patch alone; empty: no thread runs these
    /// bytes yet): other threads may be running them, so as text_poke_bp
    /// does: an int3 at each boundary, then the other bytes, then the
    /// boundaries' own (the first byte last), every thread's CPU
    /// synchronised between steps. A thread that meets an int3 meanwhile
    /// runs again from before the site (`poked`), or from the boundary
    /// itself where that is past the syscall (an `after` site's cmp).
    private func pokeLocked(_ s: inout State, _ a: UInt64, _ bytes: [UInt8], boundaries: [Int]) throws(Errno) {
        let p = try ownPageLocked(&s, a & ~(SyscallSite.pageSize - 1)) + Int(a % SyscallSite.pageSize)
        // By class, not `as? CodePatchSync`: see Task.hostRseq.
        let sync: CodePatchSync? = boundaries.isEmpty ? nil : s.space as? SystrapAddressSpace
        if let sync, bytes.count > 1 {
            let after = bytes.count == SyscallSite.afterLength
            let patching = after && bytes[0] == SyscallSite.jmpRel8
            for b in boundaries {
                // An `after` site's cmp (offset 2) is past the call: run from
                // there. So is offset 3 while the patch goes in: in the old
                // bytes it is inside that cmp, met only by a thread whose
                // call is done (going out, it is the jmp to the entry,
                // met by one whose call is not).
                s.patches.poked[a + UInt64(b)] = after && (b == 2 || (b == 3 && patching)) ? a + 2 : a
                (p + b).storeBytes(of: SyscallSite.int3, as: UInt8.self)
            }
            sync.syncCores()
            for i in 1..<bytes.count where !boundaries.contains(i) { (p + i).storeBytes(of: bytes[i], as: UInt8.self) }
            sync.syncCores()
            for b in boundaries.reversed() { (p + b).storeBytes(of: bytes[b], as: UInt8.self) }
            sync.syncCores()
        } else {
            for i in 0..<bytes.count { (p + i).storeBytes(of: bytes[i], as: UInt8.self) }
            sync?.syncCores()
        }
    }

    /// The memory behind the page at `page`, this mm's alone: a page still
    /// shared (the image cache's, or a fork's) is copied, its VMA split
    /// around it, and the copy mirrored.
    private func ownPageLocked(_ s: inout State, _ page: UInt64) throws(Errno) -> UnsafeMutableRawPointer {
        let size = SyscallSite.pageSize
        guard let v = s.vmas.find(GuestAddress(page)), !v.shared else { throw .EFAULT }
        let off = v.offset(of: GuestAddress(page))
        guard memory.isShared(off, size) else { return memory.pointer(off) }
        let fresh = try memory.allocate(size)
        do throws(Errno) { try memory.copyData(from: off, to: fresh, length: size) } catch {
            memory.free(fresh, size)
            throw error
        }
        let range = GuestAddress(page)..<GuestAddress(page + size)
        guard var own = s.vmas.remove(range).first else { memory.free(fresh, size); throw .EFAULT }
        memory.free(off, size)
        own.memOffset = fresh
        own.cow = false   // its own copy now
        s.vmas.insert(own)
        try mirrorVMA(&s, own)
        return memory.pointer(fresh)
    }

    /// Undoes the patches that `range` is about to change: sites in it, and
    /// sites whose trampoline page is in it. `contentKept`: the bytes in
    /// `range` stay the guest's (mprotect, mremap), so its sites get their
    /// original bytes back; otherwise they are going (munmap, DONTNEED) and
    /// are only forgotten.
    func unpatchLocked(_ s: inout State, _ range: Range<GuestAddress>, contentKept: Bool) {
        guard !s.patches.sites.isEmpty || !s.patches.pages.isEmpty else { return }
        let lo = range.lowerBound.rawValue, hi = range.upperBound.rawValue
        let pagesHit = s.patches.pages.keys.filter { $0 < hi && $0 + SyscallSite.pageSize > lo }
        let hit = s.patches.sites.values.filter { p in
            pagesHit.contains(p.page) || (p.site.start < hi && p.site.end > lo)
        }
        for p in hit {
            let inRange = p.site.start < hi && p.site.end > lo
            if contentKept || !inRange { restoreLocked(&s, p) }
            s.patches.sites[p.site.start] = nil
        }
        for p in pagesHit { s.patches.pages[p] = nil }
    }

    /// Every site gets its original bytes back (a guest single-steps the
    /// mm's code); the trampoline pages stay, unused. Called by a runner of
    /// this mm, as mirror changes must be.
    public func undoSyscallPatches() {
        state.withLock { s in
            guard !s.patches.sites.isEmpty else { return }
            // The trampoline pages stay mapped, so they stay known: patches
            // made again take their free entries rather than new pages.
            let pages = s.patches.pages
            unpatchLocked(&s, GuestAddress(0)..<layout.top, contentKept: true)
            s.patches.pages = pages
        }
    }

    /// Puts a site's original bytes back, if it still holds the patch.
    private func restoreLocked(_ s: inout State, _ p: SyscallPatchTable.Patch) {
        guard let v = s.vmas.find(GuestAddress(p.site.start)), GuestAddress(p.site.end) <= v.accessibleEnd else { return }
        let want = p.site.patchBytes(entry: p.entry)
        let at = memory.pointer(v.offset(of: GuestAddress(p.site.start)))
        for i in 0..<want.count where (at + i).load(as: UInt8.self) != want[i] { return }
        try? pokeLocked(&s, p.site.start, p.site.original, boundaries: p.site.boundaries)
    }

    /// After a restore (the mm's VMAs in place, no task running yet): the
    /// image's patched sites, re-derived from its trampoline pages, which
    /// hold every site's original mov and its syscall's address. `entry`
    /// is this platform's stub entry for patched sites: the sites are kept
    /// (each page's slot pointed at it, as another sentry binary may have
    /// its stub elsewhere) and an mprotect or munmap undoes them as before;
    /// nil (ptrace, or patching off): each site gets its original bytes
    /// back, so it traps as it did before it was patched. A site counts
    /// only if it still holds the jump to its entry; the pages stay mapped,
    /// as the guest saw them. Returns how many sites were found patched.
    @discardableResult
    func adoptRestoredPatches(entry stubEntry: UInt64?) -> Int {
        state.withLock { s in
            let page = SyscallSite.pageSize, stride = SyscallSite.entryStride
            var table = SyscallPatchTable()
            for v in s.vmas.vmas where v.name == SyscallPatchTable.vmaName && !v.shared && v.prot == [.read, .exec] {
                var p = v.start.rawValue
                while p < v.end.rawValue {
                    defer { p += page }
                    let base = memory.pointer(v.offset(of: GuestAddress(p)))
                    var used = 0
                    for i in 1...SyscallSite.entriesPerPage {
                        let e = p + stride * UInt64(i)
                        let bytes = Array(UnsafeRawBufferPointer(start: base + Int(stride) * i, count: Int(stride)))
                        guard let d = SyscallSite.decode(entry: e, bytes) else { break }
                        used = i
                        // The site must be code this mm may patch (as patchLocked
                        // checks), holding the jump to this entry: the bytes are
                        // guest memory, so each address is checked before use.
                        let site = d.site
                        // Decoded with wrapping arithmetic: checked below the top before any sum.
                        guard site.start < layout.top.rawValue, site.syscallAddress < layout.top.rawValue else { continue }
                        let last = max(site.end, site.syscallAddress + 2)
                        guard last < layout.top.rawValue, site.start / page == (last - 1) / page,
                              let sv = s.vmas.find(GuestAddress(site.start)), !sv.shared, sv.prot.contains(.exec), !sv.prot.contains(.write),
                              sv.name != SyscallPatchTable.vmaName, GuestAddress(last) <= sv.accessibleEnd else { continue }
                        let want = site.patchBytes(entry: e)
                        let at = memory.pointer(sv.offset(of: GuestAddress(site.start)))
                        guard want.indices.allSatisfy({ (at + $0).load(as: UInt8.self) == want[$0] }) else { continue }
                        table.sites[site.start] = .init(site: site, entry: e, page: p)
                    }
                    table.pages[p] = used
                    if let stubEntry, used > 0, base.load(fromByteOffset: Int(SyscallSite.slotOffset), as: UInt64.self) != stubEntry {
                        // Read-only to the guest, written by the sentry alone; before any task runs.
                        base.storeBytes(of: stubEntry, toByteOffset: Int(SyscallSite.slotOffset), as: UInt64.self)
                    }
                    if let stubEntry, used > 0 {
                        base.storeBytes(of: SyscallSite.afterStubEntry(stubEntry), toByteOffset: Int(SyscallSite.afterSlotOffset), as: UInt64.self)
                    }
                }
            }
            let found = table.sites.count
            if stubEntry != nil {
                s.patches = table
            } else {
                s.patches = SyscallPatchTable()
                for p in table.sites.values { restoreLocked(&s, p) }
            }
            return found
        }
    }

    /// The guest stopped at `rip` for a reason the patching explains: an
    /// int3 of a patch being written (SIGTRAP just after a site's start), or
    /// a stop inside a trampoline (a kick, or a fault reading %gs where the
    /// stub's area is not, e.g. after a restore on another platform). Returns
    /// where it goes on, in terms of the original code, and the number the
    /// site's mov would have set when it goes straight to the syscall.
    public enum PatchStop: Sendable, Equatable {
        case none
        /// Run from here again (the site's start: the mov or its jmp).
        case rerun(UInt64)
        /// Run the original syscall at this address with this rax.
        case syscall(UInt64, rax: UInt64)
    }

    public func patchStop(rip: UInt64, trap: Bool, fault: Bool) -> PatchStop {
        state.withLock { s in
            if trap, rip > 2 {
                // An `after` site's int3 where its cmp was: a jump there, or
                // a return with the rip the guest saw; its replay runs it.
                if let p = s.patches.sites[rip - 3], p.site.kind == .after, byte(&s, rip - 1) == SyscallSite.int3 {
                    return .rerun(p.entry + UInt64(SyscallSite.replayOffset))
                }
                if let at = s.patches.poked[rip - 1] {
                    return byte(&s, rip - 1) == SyscallSite.int3 ? .none : .rerun(at)
                }
            }
            guard let v = s.vmas.find(GuestAddress(rip)), v.name == SyscallPatchTable.vmaName else { return .none }
            let entry = rip & ~(SyscallSite.entryStride - 1)
            guard entry + SyscallSite.entryStride <= v.end.rawValue, entry > v.start.rawValue,
                  let d = SyscallSite.decode(entry: entry, entryBytes(v, entry)) else { return .none }
            let offset = Int(rip - entry)
            guard fault else { return .rerun(d.site.resumeAfterStop(atEntryOffset: offset)) }
            // A fault reading %gs (not the stub's area): the original syscall.
            guard let rax = d.rax else {
                return offset < SyscallSite.fallbackOffset ? .rerun(entry + UInt64(SyscallSite.fallbackOffset)) : .none
            }
            return .syscall(d.site.syscallAddress, rax: rax)
        }
    }

    private func byte(_ s: inout State, _ a: UInt64) -> UInt8? {
        guard let v = s.vmas.find(GuestAddress(a)) else { return nil }
        return memory.pointer(v.offset(of: GuestAddress(a))).load(as: UInt8.self)
    }

    /// How many sites are patched (tests, --strace notes).
    public var patchedSiteCount: Int { state.withLock { $0.patches.sites.count } }
}
