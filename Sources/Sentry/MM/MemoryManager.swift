import CSwitch
import Glibc
import Synchronization

/// mmap(2) flag bits the memory manager interprets.
public struct MapFlags: OptionSet, Sendable {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }
    public static let shared = MapFlags(rawValue: 0x01)
    public static let `private` = MapFlags(rawValue: 0x02)
    public static let sharedValidate = MapFlags(rawValue: 0x03)
    public static let fixed = MapFlags(rawValue: 0x10)
    public static let anonymous = MapFlags(rawValue: 0x20)
    public static let growsDown = MapFlags(rawValue: 0x100)
    public static let denyWrite = MapFlags(rawValue: 0x800)
    public static let executable = MapFlags(rawValue: 0x1000)
    public static let locked = MapFlags(rawValue: 0x2000)
    public static let noReserve = MapFlags(rawValue: 0x4000)
    public static let populate = MapFlags(rawValue: 0x8000)
    public static let nonBlock = MapFlags(rawValue: 0x10000)
    public static let stack = MapFlags(rawValue: 0x20000)
    public static let hugeTLB = MapFlags(rawValue: 0x40000)
    public static let sync = MapFlags(rawValue: 0x80000)
    public static let fixedNoReplace = MapFlags(rawValue: 0x100000)
    /// Every flag Linux accepts with MAP_PRIVATE/MAP_SHARED (others are ignored there too).
    public static let typeMask: UInt32 = 0x0f
}

/// Where guest mappings may go.
public struct AddressLayout: Sendable {
    /// Linux's default vm.mmap_min_addr.
    public var minAddress = GuestAddress(0x10000)
    /// One past the highest guest address (the stub region starts here).
    public var top: GuestAddress
    public var stackTop: GuestAddress { top - GuestAddress.pageSize }
    public var stackSize: UInt64 = 8 << 20
    /// Top-down mmap allocations start below the stack and its gap, as in Linux.
    public var mmapBase: GuestAddress { stackTop - stackSize - (128 << 20) }
    public init(top: GuestAddress) { self.top = top }
}

/// The guest's memory map: VMAs, brk, and the host mirror of both.
///
/// All guest memory lives in the memory file; a VMA names the run of it that
/// backs the VMA's addresses. The sentry reads and writes guest memory through
/// its own mapping of that file, checking the VMAs first, so a bad guest
/// pointer is an EFAULT and never a sentry crash.
///
/// Locking: `state` guards the VMAs, brk and the host mirror, and is held
/// while the mirror changes (a stub round trip), so the guest never runs
/// against a map the VMAs don't describe. It is the outermost lock (see
/// Kernel): never taken under the kernel lock. Taken under it: the memory
/// file's allocator, the image cache and host page cache, a file's own
/// shared pages, the futex table's queues (`withWord`), and the address
/// space's own locks. Guest memory is copied in and out under it, so no
/// pointer into guest memory outlives it.
public final class MemoryManager: Sendable {
    public let memory: MemoryFile
    public let layout: AddressLayout

    struct State {
        var vmas = VMASet()
        var brkStart = GuestAddress.null
        var brk = GuestAddress.null
        /// Set when the host mirror failed: the address space is unusable.
        var broken: PlatformError?
        /// Counts changes made to the host mirror: a fault taken before the
        /// last change may be answered by it (see `cowFault`).
        var mirrorChanges: UInt64 = 0
        /// The host mirror; nil until a runner attaches one (a forked mm is
        /// built by the parent's thread, mirrored by the child's).
        var space: AddressSpace?
        /// Ranges the VMAs no longer let the guest touch, for a runner of
        /// this mm to take out of the mirror (another process truncated a
        /// file mapped here; only a runner may change the mirror).
        var pendingUnmaps: [Range<GuestAddress>] = []
        /// systrap's patched syscall sites (SyscallPatches.swift).
        var patches = SyscallPatchTable()
        /// Pages holding an rseq area registered with the host (by how many
        /// registrations): kept writable in the mirror (`pinRseqArea`).
        var rseqPins: [GuestAddress: Int] = [:]
        /// Set by the first `clear_refs` 4: from then on writes are tracked
        /// (MemoryManager+SoftDirty.swift); until then no path pays for it.
        var softDirtyTracked = false
        /// A `clear_refs` 4 by another process: runners write-protect the
        /// soft-dirty clean pages in the mirror before they run the guest.
        var pendingWriteProtect = false
    }
    let state: Mutex<State>
    /// Set with `pendingUnmaps`: the runners' cheap look before each entry into guest code.
    /// Also set with `pendingWriteProtect`.
    let unmapsPending = Atomic<Bool>(false)

    /// Shared read-only file pages (exec of the same binary again).
    public let imageCache: ImageCache?
    /// Host files' pages mapped MAP_SHARED, one run per file range for the sandbox.
    public let hostPages: HostPageCache?
    /// membarrier's registrations for this mm (MEMBARRIER_STATE_* ready
    /// bits); a new mm, at fork or exec, has none.
    public let membarrierState = Atomic<UInt32>(0)

    public init(memory: MemoryFile, space: AddressSpace?, layout: AddressLayout, imageCache: ImageCache? = nil,
                hostPages: HostPageCache? = nil) {
        self.memory = memory
        self.imageCache = imageCache
        self.hostPages = hostPages
        self.layout = layout
        self.state = Mutex(State(space: space))
    }

    deinit {
        // The runners have left the address space by now; only memory is left to return.
        state.withLock { s in for v in s.vmas.vmas { release(v) } }
    }

    public var addressSpace: AddressSpace? { state.withLock { $0.space } }

    /// Gives the mm its host mirror and maps every VMA into it. Called by the
    /// first runner, on its own thread.
    /// `clearing`: what of the space to empty first (an exec reusing it).
    public func attach(_ space: AddressSpace, clearing: Range<GuestAddress>? = nil) throws(PlatformError) {
        try state.withLock { (s: inout State) throws(PlatformError) in
            s.space = space
            try space.map(Self.mirrorMappings(s), clearing: clearing)
        }
    }

    /// attach for a fork's child, whose task inherits `rseq`: the platform
    /// may register its area with the host in the same round trip
    /// (`AddressSpace.map(_:registeringRseq:)`), its page pinned as
    /// `pinRseqArea` pins it, where that needs no copy-on-write break (a
    /// fork copies a pinned area's granule). The outcome, as that map's;
    /// nil if not tried (the task's first run tries). Where the platform
    /// can, the whole mirror is left to the child's first entry into guest
    /// code (`AddressSpace.mapAtFirstRun`), and the registration with it:
    /// no stub round trip at all in the fork.
    public func attach(_ space: AddressSpace, registeringRseq rseq: RseqRegistration?) throws(PlatformError) -> Bool? {
        try state.withLock { (s: inout State) throws(PlatformError) -> Bool? in
            s.space = space
            if space.mapAtFirstRun(Self.mirrorMappings(s)) { return nil }
            guard let rseq, let v = rseqAreaVMALocked(&s, rseq.area), !v.cow || v.shared else {
                try space.map(Self.mirrorMappings(s), clearing: nil)
                return nil
            }
            let page = rseq.area.pageDown
            // Soft-dirty from now on, and writable in the mirror made next.
            if v.softClean { s.vmas.update(page..<(page + GuestAddress.pageSize)) { $0.softClean = false } }
            s.rseqPins[page, default: 0] += 1
            var registered: Bool?
            defer {
                if registered != true, let n = s.rseqPins[page] { s.rseqPins[page] = n > 1 ? n - 1 : nil }
            }
            registered = try space.map(Self.mirrorMappings(s), registeringRseq: rseq)
            return registered
        }
    }

    /// Every VMA's mirror; pages beyond a file's end stay out (see VMA.fileEnd).
    private static func mirrorMappings(_ s: State) -> [(range: Range<GuestAddress>, fileOffset: UInt64, prot: Prot)] {
        s.vmas.vmas.compactMap { v in
            v.accessibleEnd > v.start ? (v.start..<v.accessibleEnd, v.memOffset, v.mirrorProt) : nil
        }
    }

    /// fork(2)'s copy (dup_mmap): shared memory stays shared; private
    /// memory is shared copy-on-write, its run of the memory file owned by
    /// both sides and mirrored without write access in both, until a write
    /// gives the writer its own copy (`breakCOWLocked`). A writable mapping
    /// holding no more than one granule of pages is copied instead: the
    /// child would copy that much at its first write anyway, and each side
    /// is spared a fault round trip (a shell's stack, data and small heap).
    /// The copy has no host mirror yet. Called by a runner of this mm.
    public func fork() throws(Errno) -> MemoryManager {
        let child = MemoryManager(memory: memory, space: nil, layout: layout, imageCache: imageCache, hostPages: hostPages)
        // membarrier registrations belong to the mm and are copied with it.
        child.membarrierState.store(membarrierState.load(ordering: .relaxed), ordering: .relaxed)
        try state.withLock { (s: inout State) throws(Errno) in
            // This side loses write access first: a write by another thread
            // of this mm from now on faults, waits for this lock and copies,
            // so the child sees memory as it was at this moment.
            var small = Set<GuestAddress>()
            // The runs of pages found while counting a larger one's, which
            // its copy then writes without walking the file again.
            var smallRuns: [GuestAddress: [(UInt64, UInt64)]] = [:]
            // (Counting a large mapping's pages would walk all of them: those
            // are shared. One no larger than a granule holds no more than
            // one: its pages are not counted. A larger one is copied when its
            // pages all lie within one granule's span, which two seeks tell.)
            for v in s.vmas.vmas where !v.dontCopy && !v.wipeOnFork && !v.shared && v.prot.contains(.write)
                && v.length <= 256 * Self.cowGranule {
                if v.length <= Self.cowGranule { small.insert(v.start); continue }
                if let runs = memory.dataRuns(v.memOffset, v.length, within: Self.cowGranule) {
                    small.insert(v.start)
                    smallRuns[v.start] = runs
                }
            }
            try writeProtectForForkLocked(&s, except: small, keeping: rseqGranulesLocked(&s, except: small))
            var copied = VMASet()
            defer {
                child.state.withLock {
                    $0.vmas = copied; $0.brkStart = s.brkStart; $0.brk = s.brk; $0.patches = s.patches.inherited
                    $0.softDirtyTracked = s.softDirtyTracked   // the VMAs' marks come with them
                }
            }
            for v in s.vmas.vmas where !v.dontCopy {
                var c = v
                if v.wipeOnFork {
                    c.memOffset = try memory.allocate(v.length)   // handed out zeroed
                    c.cow = false
                } else if !v.shared && !v.cow {
                    // A small mapping, or the granule around a host rseq area.
                    c.memOffset = try memory.allocate(v.length)
                    c.cow = false
                    do throws(Errno) {
                        if let runs = smallRuns[v.start] {
                            try memory.copyRuns(runs, from: v.memOffset, to: c.memOffset)
                        } else {
                            try memory.copyData(from: v.memOffset, to: c.memOffset, length: v.length)
                        }
                    } catch {
                        memory.free(c.memOffset, v.length)
                        throw error
                    }
                } else {
                    memory.retain(v.memOffset, v.length)
                    c.cow = !v.shared
                }
                copied.insert(c)
            }
        }
        return child
    }

    /// Marks this mm's private memory that a fork shares copy-on-write, and
    /// takes write access from its mirror (one mprotect per stretch of
    /// adjacent writable mappings: the host keeps the pages mapped, as
    /// copy_present_pte write-protects the parent's page table entries).
    /// `keeping`: ranges left out (not marked, not write-protected), which
    /// the fork copies for the child instead.
    private func writeProtectForForkLocked(_ s: inout State, except copied: Set<GuestAddress>,
                                           keeping: [Range<GuestAddress>]) throws(Errno) {
        let marked = s.vmas.vmas.filter { !$0.shared && !$0.dontCopy && !$0.wipeOnFork && !$0.cow && !copied.contains($0.start) }
        var stretches: [(range: Range<GuestAddress>, prot: Prot)] = []
        for v in marked where v.prot.contains(.write) && v.accessibleEnd > v.start {
            let p = v.prot.subtracting(.write)
            for r in Self.subtracting(keeping, from: v.start..<v.accessibleEnd) {
                if let last = stretches.last, last.range.upperBound == r.lowerBound, last.prot == p {
                    stretches[stretches.count - 1].range = last.range.lowerBound..<r.upperBound
                } else {
                    stretches.append((r, p))
                }
            }
        }
        for v in marked { for r in Self.subtracting(keeping, from: v.range) { s.vmas.update(r) { $0.cow = true } } }
        // Where the caller's stub is the only one that can run this mm's
        // guest code, the protection rides on its next entry into it: no
        // guest write can come before, the sentry's own break copy-on-write
        // by the VMAs, and any change to the mirror makes them first.
        try mirror(&s) { (sp) throws(PlatformError) in
            for st in stretches { try sp.protect(st.range, prot: st.prot) }
        }
    }
    public var brokenReason: PlatformError? { state.withLock { $0.broken } }
    /// brk's start and current end (a checkpoint).
    var brkBounds: (start: GuestAddress, end: GuestAddress) { state.withLock { ($0.brkStart, $0.brk) } }

    /// A restore's mm: its VMAs (whose memory the restored allocator already
    /// owns) and brk, before any host mirror exists.
    func restore(vmas: [VMA], brkStart: GuestAddress, brk: GuestAddress) {
        state.withLock { s in
            for var v in vmas {
                // Memory two processes shared copy-on-write is one run owned twice in the image.
                v.cow = !v.shared && memory.isShared(v.memOffset, v.length)
                s.vmas.insert(v)
            }
            s.brkStart = brkStart; s.brk = brk
            // Soft-dirty tracking goes on where a clear_refs 4 had started it (the
            // mirror, made at attach, write-protects the clean pages).
            s.softDirtyTracked = vmas.contains { $0.softClean || !$0.softDirty }
        }
    }
    public var vmas: [VMA] { state.withLock { $0.vmas.vmas } }

    /// The pages this mm holds in the memory file that its process can be
    /// blamed for (the OOM killer's badness): writable or anonymous
    /// mappings' pages; executables' and libraries' read-only text is left out.
    public var residentBytes: UInt64 {
        let runs = state.withLock { s in
            s.vmas.vmas.filter { $0.prot.contains(.write) || $0.backing == .anonymous }.map { (offset: $0.memOffset, length: $0.length) }
        }
        return memory.residentBytes(ofRuns: runs)
    }

    // MARK: - Mapping

    /// Maps pages; the core of mmap(2). Returns the start address.
    public func map(hint: GuestAddress, length: UInt64, prot: Prot, flags: MapFlags,
                    file: (any FileMapping)? = nil, fileOffset: UInt64 = 0, name: String? = nil,
                    maxProt: Prot = [.read, .write, .exec], cacheable: Bool = false) throws(Errno) -> GuestAddress {
        guard length > 0, let len = GuestAddress(length).pageUp?.rawValue, len > 0 else {
            throw length == 0 ? .EINVAL : .ENOMEM
        }
        // Linux's default overcommit heuristic (__vm_enough_memory with
        // OVERCOMMIT_GUESS): private writable memory it would have to back,
        // larger than all RAM and swap, is refused at once.
        if !flags.contains(.shared), prot.contains(.write), !flags.contains(.noReserve), exceedsCommitLimit(len) {
            throw .ENOMEM
        }
        return try state.withLock { (s: inout State) throws(Errno) -> GuestAddress in
            let start = try chooseAddress(&s, hint: hint, length: len, flags: flags)
            let range = start..<(start + len)
            let off: UInt64
            if let file = file as? MappedFile, cacheable, let imageCache, !prot.contains(.write), !flags.contains(.shared) {
                off = try imageCache.chunk(file, offset: fileOffset, length: len)
            } else if let file = file as? MappedFile, flags.contains(.shared), let hostPages {
                off = try hostPages.pages(file, offset: fileOffset, length: len)
            } else if let file, flags.contains(.shared), let pages = try file.sharedPages(offset: fileOffset, length: len) {
                off = pages   // the file's own pages: writes through any mapping reach the file
            } else {
                off = try memory.allocate(len)
                if let file {
                    do throws(Errno) { try file.copy(offset: fileOffset, length: len, into: memory, at: off) }
                    catch { memory.free(off, len); throw error }
                }
            }
            if flags.contains(.fixed) { try unmapLocked(&s, range, mirror: false) }
            let backing: VMABacking = file.map { .file($0, offset: fileOffset) } ?? .anonymous
            let v = VMA(range: range, prot: prot, maxProt: maxProt, shared: flags.contains(.shared),
                        memOffset: off, backing: backing, name: name, fileEnd: file.map(Self.fileEnd) ?? .max)
            if s.softDirtyTracked { markMergedNeighboursSoftDirtyLocked(&s, v) }
            s.vmas.insert(v)
            try mirrorVMA(&s, v)
            return start
        }
    }

    /// What one request for private writable memory may not exceed: the
    /// host's RAM and swap, or the sandbox's `--memory` if smaller (the
    /// sandbox's RAM, with no swap of its own). Pages are otherwise charged
    /// when touched, and the OOM killer answers a sandbox over its memory.
    /// The sandbox's default limit is read only for a request past its floor.
    func exceedsCommitLimit(_ length: UInt64) -> Bool { length > Self.overcommitLimit || memory.isOverLimit(length) }

    /// The page-aligned end of `file` now (.max: none, or none a page can reach).
    static func fileEnd(_ file: any FileMapping) -> UInt64 {
        guard let size = file.currentSize(), let end = GuestAddress(size).pageUp else { return .max }
        return end.rawValue
    }

    /// RAM plus swap of the host, in bytes (what OVERCOMMIT_GUESS compares one request with).
    static let overcommitLimit: UInt64 = {
        var si = CSwitch.sysinfo()
        guard sw_sysinfo(&si) == 0 else { return .max }
        let unit = UInt64(max(si.mem_unit, 1))
        let (total, o) = (UInt64(si.totalram) &+ UInt64(si.totalswap)).multipliedReportingOverflow(by: unit)
        return o ? .max : total
    }()

    private func chooseAddress(_ s: inout State, hint: GuestAddress, length: UInt64, flags: MapFlags) throws(Errno) -> GuestAddress {
        let fixed = flags.contains(.fixed) || flags.contains(.fixedNoReplace)
        if fixed {
            guard hint.isPageAligned else { throw .EINVAL }
            let (end, o) = hint.rawValue.addingReportingOverflow(length)
            guard !o, end <= layout.top.rawValue else { throw .ENOMEM }
            guard hint >= layout.minAddress else { throw .EPERM }
            if flags.contains(.fixedNoReplace) && !flags.contains(.fixed) && !s.vmas.isFree(hint..<GuestAddress(end)) {
                throw .EEXIST
            }
            return hint
        }
        if !hint.isNull {
            let h = hint.pageDown
            let (end, o) = h.rawValue.addingReportingOverflow(length)
            if !o, h >= layout.minAddress, end <= layout.top.rawValue, s.vmas.isFree(h..<GuestAddress(end)) { return h }
        }
        guard let a = s.vmas.findFreeTopDown(length: length, below: layout.mmapBase, above: layout.minAddress)
                ?? s.vmas.findFreeTopDown(length: length, below: layout.top, above: layout.minAddress) else {
            throw .ENOMEM
        }
        return a
    }

    /// munmap(2).
    public func unmap(_ addr: GuestAddress, length: UInt64) throws(Errno) {
        guard addr.isPageAligned, length > 0, let len = GuestAddress(length).pageUp?.rawValue else { throw .EINVAL }
        let (end, o) = addr.rawValue.addingReportingOverflow(len)
        guard !o, end <= layout.top.rawValue else { throw .EINVAL }
        try state.withLock { (s: inout State) throws(Errno) in try unmapLocked(&s, addr..<GuestAddress(end), mirror: true) }
    }

    private func unmapLocked(_ s: inout State, _ range: Range<GuestAddress>, mirror doMirror: Bool) throws(Errno) {
        unpatchLocked(&s, range, contentKept: false)
        let removed = s.vmas.remove(range)
        guard !removed.isEmpty else { return }
        if doMirror { try mirror(&s) { (sp) throws(PlatformError) in try sp.unmap(range) } }
        for v in removed { release(v) }
    }

    /// Drops a removed VMA's hold on its memory; a shared mapping of a host
    /// file writes its changed pages back first (munmap reports no error).
    private func release(_ v: VMA) {
        if v.shared, case .file(let f as MappedFile, _) = v.backing, let hostPages {
            try? hostPages.writeBack(f, memOffset: v.memOffset, length: v.length)
            memory.free(v.memOffset, v.length)
            hostPages.release(f)
        } else {
            memory.free(v.memOffset, v.length)
            if case .file(let f, _) = v.backing { f.mappingReleased() }
        }
    }

    /// shmdt(2)'s unmapping: the mapping that starts at `addr` at its file's
    /// offset 0, and every piece of the same file's mapping within the
    /// file's length from there. `length` names the files that qualify
    /// (System V segments) and their length. EINVAL if there is none.
    public func unmapAttachment(at addr: GuestAddress, length: (any FileMapping) -> UInt64?) throws(Errno) -> any FileMapping {
        guard addr.isPageAligned else { throw .EINVAL }
        return try state.withLock { (s: inout State) throws(Errno) -> any FileMapping in
            guard let v = s.vmas.find(addr), v.start == addr, case .file(let f, 0) = v.backing, let len = length(f) else { throw .EINVAL }
            let (end, o) = addr.rawValue.addingReportingOverflow(len)
            let limit = GuestAddress(o ? layout.top.rawValue : min(end, layout.top.rawValue))
            for piece in s.vmas.overlapping(addr..<limit) {
                if case .file(let g, _) = piece.backing, g === f { try unmapLocked(&s, piece.slice(addr..<limit).range, mirror: true) }
            }
            return f
        }
    }

    /// exit_mm: the last task using this mm is gone; every mapping goes
    /// (shared file pages written back), none mirrored: the stub is going
    /// too, or is emptied before it serves again.
    public func releaseAll() {
        state.withLock { s in
            s.patches = SyscallPatchTable()
            let all = s.vmas.remove(layout.minAddress..<layout.top)
            for v in all { release(v) }
        }
    }

    /// msync(2): MS_ASYNC (1), MS_INVALIDATE (2), MS_SYNC (4). Shared
    /// mappings of host files write their changed pages back (MS_SYNC also
    /// to stable storage); everything else is the file's own pages already.
    public func sync(_ addr: GuestAddress, length: UInt64, flags: Int32) throws(Errno) {
        guard addr.isPageAligned, flags & ~7 == 0, flags & 5 != 5 else { throw .EINVAL }
        guard let len = GuestAddress(length).pageUp?.rawValue else { throw .ENOMEM }
        let (end, o) = addr.rawValue.addingReportingOverflow(len)
        guard !o else { throw .ENOMEM }
        if len == 0 { return }
        let range = addr..<GuestAddress(end)
        try state.withLock { (s: inout State) throws(Errno) in
            guard s.vmas.isFullyMapped(range) else { throw .ENOMEM }
            for v in s.vmas.overlapping(range) where v.shared {
                guard case .file(let f as MappedFile, _) = v.backing, let hostPages else { continue }
                let part = v.slice(range)
                try hostPages.writeBack(f, memOffset: part.memOffset, length: part.length, durable: flags & 4 != 0)
            }
        }
    }

    /// mprotect(2).
    public func protect(_ addr: GuestAddress, length: UInt64, prot: Prot) throws(Errno) {
        guard addr.isPageAligned else { throw .EINVAL }
        guard let len = GuestAddress(length).pageUp?.rawValue else { throw .ENOMEM }
        if len == 0 { return }
        let (end, o) = addr.rawValue.addingReportingOverflow(len)
        guard !o else { throw .ENOMEM }
        let range = addr..<GuestAddress(end)
        try state.withLock { (s: inout State) throws(Errno) in
            guard s.vmas.isFullyMapped(range) else { throw .ENOMEM }
            for v in s.vmas.overlapping(range) where !v.maxProt.isSuperset(of: prot) { throw .EACCES }
            // Patched code the guest may now write (JIT) gets its own bytes back.
            unpatchLocked(&s, range, contentKept: true)
            // Private memory others still own (a fork's other side, the image
            // cache) becomes writable copy-on-write: copied when written, not now.
            for v in s.vmas.overlapping(range) where !v.shared {
                let shared = memory.isShared(v.memOffset, v.length)
                s.vmas.update(v.range) { $0.prot = prot; $0.cow = shared }
            }
            s.vmas.update(range) { $0.prot = prot }
            let pieces = s.vmas.overlapping(range)
            // Pages beyond a file's end are not in the mirror: protect around them.
            var stretches: [(range: Range<GuestAddress>, prot: Prot)] = []
            for p in pieces where p.accessibleEnd > p.start {
                let r = p.start..<p.accessibleEnd
                if let last = stretches.last, last.range.upperBound == r.lowerBound, last.prot == p.mirrorProt {
                    stretches[stretches.count - 1].range = last.range.lowerBound..<r.upperBound
                } else {
                    stretches.append((r, p.mirrorProt))
                }
            }
            try mirror(&s) { (sp) throws(PlatformError) in
                for st in stretches { try sp.protect(st.range, prot: st.prot) }
            }
        }
    }

    /// brk(2): returns the new break, or the old one if the request can't be met.
    public func brk(_ request: GuestAddress) -> GuestAddress {
        state.withLock { s in
            guard request >= s.brkStart, let newEnd = request.pageUp, let oldEnd = s.brk.pageUp else { return s.brk }
            if newEnd > oldEnd {
                let range = oldEnd..<newEnd
                // do_brk_flags asks __vm_enough_memory too.
                guard newEnd <= layout.mmapBase, !exceedsCommitLimit(newEnd - oldEnd), s.vmas.isFree(range), let off = try? memory.allocate(newEnd - oldEnd) else {
                    return s.brk
                }
                // do_brk_flags sets VM_SOFTDIRTY on the heap VMA it grows, old pages included.
                if s.softDirtyTracked {
                    var lo = oldEnd
                    while lo > GuestAddress.null, let heap = s.vmas.find(lo - 1), heap.name == "[heap]" { lo = heap.start }
                    if lo < oldEnd { s.vmas.update(lo..<oldEnd) { $0.softDirty = true } }
                }
                s.vmas.insert(VMA(range: range, prot: .rw, memOffset: off, name: "[heap]"))
                do throws(Errno) { try mirror(&s) { (sp) throws(PlatformError) in try sp.map(range, fileOffset: off, prot: .rw) } } catch { return s.brk }
            } else if newEnd < oldEnd {
                do throws(Errno) { try unmapLocked(&s, newEnd..<oldEnd, mirror: true) } catch { return s.brk }
            }
            s.brk = request
            return request
        }
    }

    /// Sets where the heap starts (the loader calls this after the image).
    public func setBrk(start: GuestAddress) {
        state.withLock { $0.brkStart = start; $0.brk = start }
    }

    /// mremap(2) with MREMAP_MAYMOVE (1) and MREMAP_FIXED (2).
    public func remap(_ old: GuestAddress, oldLength: UInt64, newLength: UInt64, flags: UInt32,
                      newAddress: GuestAddress) throws(Errno) -> GuestAddress {
        typealias M = MemoryAdvice
        let mayMove = flags & M.MREMAP_MAYMOVE != 0, fixed = flags & M.MREMAP_FIXED != 0
        let dontUnmap = flags & M.MREMAP_DONTUNMAP != 0
        // MREMAP_DONTUNMAP is always a move, and never a resize (the lengths as given).
        guard flags & ~(M.MREMAP_MAYMOVE | M.MREMAP_FIXED | M.MREMAP_DONTUNMAP) == 0,
              !(fixed && !mayMove), !dontUnmap || (mayMove && oldLength == newLength), old.isPageAligned else { throw .EINVAL }
        guard let oldLen = GuestAddress(oldLength).pageUp?.rawValue, let newLen = GuestAddress(newLength).pageUp?.rawValue,
              newLen > 0 else { throw .EINVAL }
        guard oldLen > 0 else { throw .EINVAL } // duplicating a shared mapping is not supported
        // A range past the top of the address space: shrinking unmaps it
        // (munmap's EINVAL), growing finds no VMA to cover it (EFAULT).
        let (oldEnd, oldWraps) = old.rawValue.addingReportingOverflow(oldLen)
        guard !oldWraps, oldEnd <= layout.top.rawValue else { throw newLen < oldLen ? .EINVAL : .EFAULT }
        if fixed || dontUnmap {
            // mremap_to: the new address (a hint without MREMAP_FIXED) is
            // page-aligned, inside user space, and apart from the old range.
            let (destEnd, destWraps) = newAddress.rawValue.addingReportingOverflow(newLen)
            guard newAddress.isPageAligned, !destWraps, destEnd <= layout.top.rawValue,
                  !(oldEnd > newAddress.rawValue && destEnd > old.rawValue) else { throw .EINVAL }
        }
        let (growEnd, growWraps) = old.rawValue.addingReportingOverflow(newLen)
        return try state.withLock { (s: inout State) throws(Errno) -> GuestAddress in
            let oldRange = old..<(old + oldLen)
            guard let vma = s.vmas.find(old), vma.end >= oldRange.upperBound else { throw .EFAULT }
            // vma_to_resize: growing private writable memory is a new commitment.
            if newLen > oldLen, !vma.shared, vma.prot.contains(.write), exceedsCommitLimit(newLen - oldLen) { throw .ENOMEM }
            if dontUnmap { return try moveKeepingOld(&s, vma.slice(oldRange), hint: newAddress, fixed: fixed) }
            if !fixed {
                if newLen <= oldLen {
                    if newLen < oldLen { try unmapLocked(&s, (old + newLen)..<oldRange.upperBound, mirror: true) }
                    return old
                }
                if !growWraps, growEnd <= layout.top.rawValue, vma.end == oldRange.upperBound,
                   s.vmas.isFree(oldRange.upperBound..<GuestAddress(growEnd)) {
                    // Grow in place: a fresh run of the memory file behind the
                    // old contents, so the VMA stays one contiguous chunk.
                    try move(&s, vma.slice(oldRange), to: old, newLength: newLen)
                    return old
                }
                guard mayMove else { throw .ENOMEM }
            }
            var dest: GuestAddress
            if fixed {
                guard newAddress.isPageAligned else { throw .EINVAL }
                let destRange = newAddress..<(newAddress + newLen)
                guard newAddress + newLen <= layout.top, !destRange.overlaps(oldRange) else { throw .EINVAL }
                try unmapLocked(&s, destRange, mirror: true)
                dest = newAddress
            } else {
                guard let a = s.vmas.findFreeTopDown(length: newLen, below: layout.mmapBase, above: layout.minAddress) else { throw .ENOMEM }
                dest = a
            }
            try move(&s, vma.slice(old..<(old + min(oldLen, newLen))), to: dest, newLength: newLen)
            if newLen < oldLen { try unmapLocked(&s, (old + newLen)..<oldRange.upperBound, mirror: true) }
            return dest
        }
    }

    /// MREMAP_DONTUNMAP: the pages move to the new place and the old range
    /// stays mapped, empty (a private anonymous mapping reads zeros there).
    private func moveKeepingOld(_ s: inout State, _ src: VMA, hint: GuestAddress, fixed: Bool) throws(Errno) -> GuestAddress {
        // The sentry moves private anonymous memory only: file and shared
        // mappings would need their old range to map the same pages again.
        guard case .anonymous = src.backing, !src.shared else { throw .EINVAL }
        let dest: GuestAddress
        if fixed {
            try unmapLocked(&s, hint..<(hint + src.length), mirror: true)
            dest = hint
        } else if !hint.isNull, hint >= layout.minAddress, s.vmas.isFree(hint..<(hint + src.length)) {
            dest = hint
        } else {
            guard let a = s.vmas.findFreeTopDown(length: src.length, below: layout.mmapBase, above: layout.minAddress) else { throw .ENOMEM }
            dest = a
        }
        let fresh = try memory.allocate(src.length)
        try move(&s, src, to: dest, newLength: src.length)
        var emptied = src
        emptied.memOffset = fresh
        emptied.cow = false
        s.vmas.insert(emptied)
        try mirror(&s) { (sp) throws(PlatformError) in try sp.map(emptied.range, fileOffset: fresh, prot: emptied.mirrorProt) }
        return dest
    }

    /// Copies `src` into a new chunk of `newLength` at `dest`, dropping `src`.
    private func move(_ s: inout State, _ src: VMA, to dest: GuestAddress, newLength: UInt64) throws(Errno) {
        unpatchLocked(&s, src.range, contentKept: true)   // a jmp's rel32 would not move with it
        let off = try memory.allocate(newLength)
        memcpy(memory.pointer(off), memory.pointer(src.memOffset), Int(min(src.length, newLength)))
        var moved = src
        moved.range = dest..<(dest + newLength)
        moved.memOffset = off
        moved.cow = false   // its own copy now
        moved.softClean = false   // move_soft_dirty_pte: the pages moved are soft-dirty
        try unmapLocked(&s, src.range, mirror: dest != src.start)
        if dest != src.start { try unmapLocked(&s, moved.range, mirror: false) }
        s.vmas.insert(moved)
        try mirrorVMA(&s, moved)
    }

    /// mbind(2)'s range work (do_mbind after its checks): `policy` on every
    /// VMA of `range`. A hole at either end or between VMAs is EFAULT, unless
    /// the policy is the default (MPOL_MF_DISCONTIG_OK); a range wholly in a
    /// hole is EFAULT either way.
    public func setPolicy(_ policy: MemoryPolicy?, on range: Range<GuestAddress>) throws(Errno) {
        try state.withLock { (s: inout State) throws(Errno) in
            let vs = s.vmas.overlapping(range)
            guard !vs.isEmpty else { throw .EFAULT }
            if policy != nil && !s.vmas.isFullyMapped(range) { throw .EFAULT }
            s.vmas.update(range) { $0.policy = policy }
        }
    }

    /// set_mempolicy_home_node over `range`: VMAs without a policy are left
    /// alone; one whose policy is neither BIND nor PREFERRED_MANY stops the
    /// walk with EOPNOTSUPP (those before it keep their new home); ENOENT if
    /// no VMA had a policy.
    public func setHomeNode(_ node: UInt64, on range: Range<GuestAddress>) throws(Errno) {
        try state.withLock { (s: inout State) throws(Errno) in
            var result: Errno? = .ENOENT
            for v in s.vmas.overlapping(range) {
                guard var p = v.policy else { continue }
                guard p.mode == MemoryPolicy.MPOL_BIND || p.mode == MemoryPolicy.MPOL_PREFERRED_MANY else {
                    result = .EOPNOTSUPP
                    break
                }
                p.homeNode = node
                s.vmas.update(v.range) { $0.policy = p }
                result = nil
            }
            if let result { throw result }
        }
    }

    /// The VMA holding `addr` (vma_lookup), found by binary search.
    public func vma(at addr: GuestAddress) -> VMA? {
        state.withLock { $0.vmas.find(addr) }
    }

    /// madvise(2).
    public func advise(_ addr: GuestAddress, length: UInt64, advice: Int32) throws(Errno) {
        guard addr.isPageAligned, let len = GuestAddress(length).pageUp?.rawValue else { throw .EINVAL }
        let (end, wraps) = addr.rawValue.addingReportingOverflow(len)
        guard !wraps else { throw .EINVAL }
        guard MemoryAdvice.known.contains(advice) else { throw .EINVAL }
        if len == 0 { return }
        let range = addr..<GuestAddress(end)
        typealias A = MemoryAdvice
        try state.withLock { (s: inout State) throws(Errno) in
            // The advice that changes a VMA's flags (madvise_vma_behavior), VMA by VMA.
            if [A.MADV_DONTFORK, A.MADV_DOFORK, A.MADV_WIPEONFORK, A.MADV_KEEPONFORK].contains(advice) {
                if advice == A.MADV_WIPEONFORK {
                    // Only private anonymous memory can be wiped for a child.
                    for v in s.vmas.overlapping(range) {
                        if case .file = v.backing { throw .EINVAL }
                        if v.shared { throw .EINVAL }
                    }
                }
                s.vmas.update(range) { v in
                    switch advice {
                    case A.MADV_DONTFORK: v.dontCopy = true
                    case A.MADV_DOFORK: v.dontCopy = false
                    case A.MADV_WIPEONFORK: v.wipeOnFork = true
                    default: v.wipeOnFork = false
                    }
                }
                if !s.vmas.isFullyMapped(range) { throw .ENOMEM }
                return
            }
            // MADV_POPULATE_*: every page is there already; what faulting
            // them in would refuse is refused (check_vma_flags: EINVAL), a
            // hole is ENOMEM.
            if advice == A.MADV_POPULATE_READ || advice == A.MADV_POPULATE_WRITE {
                var cursor = range.lowerBound
                for v in s.vmas.overlapping(range) {
                    guard v.start == cursor else { throw .ENOMEM }
                    let needed: Prot = advice == A.MADV_POPULATE_WRITE ? .write : .read
                    guard v.prot.contains(needed) else { throw .EINVAL }
                    cursor = v.end
                }
                if cursor < range.upperBound { throw .ENOMEM }
                return
            }
            let discards = advice == MemoryAdvice.MADV_DONTNEED || advice == MemoryAdvice.MADV_FREE
            if discards { unpatchLocked(&s, range, contentKept: false); try replaceSharedLocked(&s, range) }
            let pieces = s.vmas.overlapping(range)
            // Anonymous pieces whose runs follow each other in the memory
            // file are punched in one call (a thread's stack at its exit is
            // two mappings, its guard page and the rest): each punch also
            // walks every host mapping of its run.
            var zeroing: Range<UInt64>?
            func flush() {
                if let z = zeroing { memory.zero(z.lowerBound, UInt64(z.count)) }
                zeroing = nil
            }
            for v in pieces {
                switch advice {
                case MemoryAdvice.MADV_DONTNEED where !v.shared, MemoryAdvice.MADV_FREE where !v.shared:  // private pages revert
                    let run = v.memOffset..<(v.memOffset + v.length)
                    if case .file(let f, let o) = v.backing {
                        flush()
                        memory.zero(v.memOffset, v.length)
                        try f.copy(offset: o, length: v.length, into: memory, at: v.memOffset)
                    } else if let z = zeroing, z.upperBound == run.lowerBound {
                        zeroing = z.lowerBound..<run.upperBound
                    } else {
                        flush()
                        zeroing = run
                    }
                case MemoryAdvice.MADV_REMOVE:  // shared memory only
                    guard v.shared else { throw .EINVAL }
                    memory.zero(v.memOffset, v.length)
                default: break  // hints: Linux may ignore them too
                }
            }
            flush()
            if !s.vmas.isFullyMapped(range) { throw .ENOMEM }
        }
    }

    /// Gives the private VMAs in `range` pages of their own, zeroed, in
    /// place of any still shared with another owner, for a caller about to
    /// refill them (MADV_DONTNEED's zeros or file contents, a file grown
    /// back): nothing is copied, and the other owners keep theirs.
    private func replaceSharedLocked(_ s: inout State, _ range: Range<GuestAddress>) throws(Errno) {
        for v in s.vmas.overlapping(range) where !v.shared && (v.cow || memory.isShared(v.memOffset, v.length)) {
            var own = v
            own.cow = false
            if memory.isShared(v.memOffset, v.length) {
                own.memOffset = try memory.allocate(v.length)
                _ = s.vmas.remove(v.range)
                memory.free(v.memOffset, v.length)
                s.vmas.insert(own)
            } else {
                s.vmas.update(v.range) { $0.cow = false }
            }
            try mirrorVMA(&s, own)
        }
    }

    /// How much a copy-on-write break copies at once: the 64 KiB around the
    /// page written (clipped to its mapping). Linux copies one page per
    /// fault; here a fault is a round trip through the sentry and the stub
    /// (several microseconds, more than copying 64 KiB, whose untouched
    /// pages copyData skips), and each copy splits the mapping in the host
    /// mirror too, so fewer, larger copies cost less.
    static let cowGranule: UInt64 = 16 * GuestAddress.pageSize

    // MARK: - rseq areas registered with the host

    /// A host rseq registration of `area` (32 bytes, aligned) is about to
    /// be made: the host writes `cpu_id` there at every return of the stub
    /// to user mode and kills the stub if it cannot (kernel/rseq.c), so the
    /// page must be readable and writable in the mirror now, copy-on-write
    /// broken, and stay so: a fork copies the granule around it for the
    /// child rather than write-protecting it (`rseqGranulesLocked`). False
    /// if the page is not such (then the sentry emulates, and its own
    /// write fails as Linux's would).
    public func pinRseqArea(_ area: GuestAddress) -> Bool {
        state.withLock { s in
            guard let v = rseqAreaVMALocked(&s, area) else { return false }
            if v.cow && !v.shared {
                do throws(Errno) { try breakCOWLocked(&s, area..<(area + UInt64(RseqABI.size))) } catch { return false }
            }
            if v.softClean {
                do throws(Errno) { try unprotectSoftCleanLocked(&s, area.pageDown) } catch { return false }
            }
            s.rseqPins[area.pageDown, default: 0] += 1
            return true
        }
    }

    /// The mapping an rseq area lies in, if the host may be given it: all
    /// of it readable, writable and mirrored.
    private func rseqAreaVMALocked(_ s: inout State, _ area: GuestAddress) -> VMA? {
        let (end, o) = area.rawValue.addingReportingOverflow(UInt64(RseqABI.size))
        guard !o, s.space != nil, let v = s.vmas.find(area), v.prot.isSuperset(of: [.read, .write]),
              GuestAddress(end) <= v.accessibleEnd else { return nil }
        return v
    }

    /// Keeps the memory-file page behind `addr`, in a private mapping, from
    /// reuse after the mm lets it go (an exiting process's rseq area, which
    /// its stub's host registration names until the stub is emptied): its
    /// offset, for `memory.free(offset, pageSize)` then; nil if none.
    public func holdPrivatePage(_ addr: GuestAddress) -> UInt64? {
        state.withLock { s in
            guard let v = s.vmas.find(addr), !v.shared else { return nil }
            let offset = v.memOffset + (addr.pageDown - v.start)
            memory.retain(offset, GuestAddress.pageSize)
            return offset
        }
    }

    /// The registration of `area` with the host is gone.
    public func unpinRseqArea(_ area: GuestAddress) {
        state.withLock { s in
            let page = area.pageDown
            if let n = s.rseqPins[page] { s.rseqPins[page] = n > 1 ? n - 1 : nil }
        }
    }

    /// For a fork: the copy-on-write granule around each pinned page that
    /// the fork would otherwise write-protect (a private writable mapping
    /// not copied whole), clipped to its mapping.
    private func rseqGranulesLocked(_ s: inout State, except copied: Set<GuestAddress>) -> [Range<GuestAddress>] {
        var out: [Range<GuestAddress>] = []
        for page in s.rseqPins.keys.sorted() {
            guard let v = s.vmas.find(page), !v.shared, !v.dontCopy, !v.wipeOnFork, !v.cow, v.prot.contains(.write),
                  !copied.contains(v.start) else { continue }
            let g = Self.cowGranule, aligned = page.rawValue - page.rawValue % g
            let r = max(v.start, GuestAddress(aligned))..<min(v.end, GuestAddress(aligned + g))
            if out.last != r { out.append(r) }
        }
        return out
    }

    /// `range` without the (sorted, disjoint) `holes`.
    static func subtracting(_ holes: [Range<GuestAddress>], from range: Range<GuestAddress>) -> [Range<GuestAddress>] {
        var out: [Range<GuestAddress>] = [], cursor = range.lowerBound
        for h in holes where h.overlaps(range) {
            if h.lowerBound > cursor { out.append(cursor..<h.lowerBound) }
            cursor = max(cursor, h.upperBound)
        }
        if cursor < range.upperBound { out.append(cursor..<range.upperBound) }
        return out
    }

    /// A write to `range` is about to happen: every page of it in a private
    /// mapping still shared copy-on-write gets this mm's own copy first
    /// (do_wp_page). A mapping whose run has no other owner any more (the
    /// other side exited or exec'd) only gets its write access back, all of
    /// it at once (wp_page_reuse); otherwise the granules covering `range`
    /// are copied (wp_page_copy), each into the memory file next to its
    /// neighbour's copy if there is room, so the VMAs merge back.
    /// Called by a runner of this mm, or before the mm has a mirror.
    func breakCOWLocked(_ s: inout State, _ range: Range<GuestAddress>) throws(Errno) {
        var cursor = range.lowerBound
        while cursor < range.upperBound {
            guard let v = s.vmas.find(cursor) else {
                guard let next = s.vmas.overlapping(cursor..<range.upperBound).first else { return }
                cursor = next.start
                continue
            }
            guard v.cow, !v.shared else { cursor = v.end; continue }
            if !memory.isShared(v.memOffset, v.length) {
                try reuseLocked(&s, v)
                cursor = v.end
                continue
            }
            let g = Self.cowGranule
            let gStart = max(v.start, GuestAddress(cursor.rawValue - cursor.rawValue % g))
            let (gEndRaw, o) = gStart.rawValue.addingReportingOverflow(g)
            let gEnd = o ? v.end : min(v.end, GuestAddress(gEndRaw - gEndRaw % g))
            let piece = v.slice(gStart..<gEnd)
            cursor = gEnd
            if !memory.isShared(piece.memOffset, piece.length) { try reuseLocked(&s, piece); continue }
            var preferred: UInt64?
            if gStart > GuestAddress.null, let prev = s.vmas.find(gStart - 1), !prev.cow, !prev.shared {
                preferred = prev.memOffset + prev.length
            } else if let next = s.vmas.find(gEnd), !next.cow, !next.shared, next.memOffset >= piece.length {
                preferred = next.memOffset - piece.length
            }
            var own = piece
            own.cow = false
            own.memOffset = try memory.allocate(piece.length, preferring: preferred)
            do throws(Errno) { try memory.copyData(from: piece.memOffset, to: own.memOffset, length: piece.length) } catch {
                memory.free(own.memOffset, piece.length)
                throw error
            }
            _ = s.vmas.remove(piece.range)
            memory.free(piece.memOffset, piece.length)
            s.vmas.insert(own)
            try mirrorVMA(&s, own)
        }
    }

    /// `v`'s pages have no other owner: they are written in place from now on.
    private func reuseLocked(_ s: inout State, _ v: VMA) throws(Errno) {
        s.vmas.update(v.range) { $0.cow = false }
        guard v.accessibleEnd > v.start else { return }
        let prot = v.softClean ? v.prot.subtracting(.write) : v.prot
        try mirror(&s) { (sp) throws(PlatformError) in try sp.protect(v.start..<v.accessibleEnd, prot: prot) }
    }

    /// Breaks copy-on-write in the accessible prefix of `ranges` before the
    /// sentry writes there. A break that fails (the memory file full) leaves
    /// those pages shared, and prefixLocked ends the write before them.
    /// `marking`: the pages are marked soft-dirty here (else by the caller,
    /// once it knows how much it wrote).
    private func prepareWriteLocked(_ s: inout State, _ ranges: [GuestRange], marking: Bool = true) {
        let n = prefixLocked(&s, ranges, write: true, stopAtCOW: false).1
        for r in GuestRange.prefix(n, of: ranges) where r.count > 0 {
            let range = r.address..<(r.address + UInt64(r.count))
            if marking { markSoftDirtyLocked(&s, range) }
            do throws(Errno) { try breakCOWLocked(&s, range) } catch { return }
        }
    }

    /// A guest fault at `addr`: a write (or, where the platform cannot tell
    /// the access, any access) to a page whose copy-on-write is pending is
    /// served by breaking it; true if so, and the guest runs again.
    public func cowFault(at addr: GuestAddress, access: Prot?, lastRetry: (GuestAddress, UInt64)?) -> CopyOnWriteFault? {
        state.withLock { s -> CopyOnWriteFault? in
            guard let v = s.vmas.find(addr), v.prot.contains(.write), addr < v.accessibleEnd,
                  access.map({ $0.contains(.write) }) ?? true else { return nil }
            if v.softClean { return softDirtyFaultLocked(&s, v, at: addr) }
            // Shared pages fault only where soft-dirty tracking left the mirror stale.
            guard !v.shared || s.softDirtyTracked else { return nil }
            guard v.cow else {
                // Another thread of this mm wrote the page first and broke it
                // (both faulted before either was served): it is writable now.
                // Its mirror is made again and the guest runs the write again;
                // but a fault at the place of the task's last such retry, with
                // nothing changed in the mirror since (`lastRetry`: the place
                // and `mirrorChanges` then), is one of its own (ptrace cannot
                // tell a write from a read, nor a page fault from another).
                if let (at, changes) = lastRetry, at == addr, changes == s.mirrorChanges { return nil }
                do throws(Errno) { try mirrorVMA(&s, v.slice(Self.pageRange(of: addr, in: v))) } catch { return nil }
                return .alreadyCopied(mirrorChanges: s.mirrorChanges)
            }
            do throws(Errno) { try breakCOWLocked(&s, addr..<(addr + 1)) } catch { return nil }
            return .copied
        }
    }

    /// What `cowFault` did.
    public enum CopyOnWriteFault: Sendable {
        /// The page was shared: this mm has its own copy now.
        case copied
        /// Another thread's fault had copied it already: run the write
        /// again; the mirror's change count once remapped.
        case alreadyCopied(mirrorChanges: UInt64)
    }

    /// The page holding `addr`, within `v`.
    static func pageRange(of addr: GuestAddress, in v: VMA) -> Range<GuestAddress> {
        let start = GuestAddress(addr.rawValue & ~UInt64(4095))
        return max(v.start, start)..<min(v.end, start + 4096)
    }

    /// Mirrors `v`: its pages within the file mapped, those beyond the
    /// file's end left out, so that touching them faults (see `fileFault`).
    func mirrorVMA(_ s: inout State, _ v: VMA) throws(Errno) {
        let a = v.accessibleEnd
        try mirror(&s) { (sp) throws(PlatformError) in
            if a > v.start { try sp.map(v.start..<a, fileOffset: v.memOffset, prot: v.mirrorProt) }
            if a < v.end { try sp.unmap(a..<v.end) }
        }
    }

    // MARK: - Pages beyond a file's end

    /// What a fault in guest code at an address of a file mapping means.
    public enum FileFault: Sendable, Equatable {
        /// Not a page beyond a file's end: the fault stands as the host reported it.
        case none
        /// Such a page, touched with an access its protection refuses: SIGSEGV, SEGV_ACCERR.
        case refused
        /// A page wholly beyond the file's end: SIGBUS, BUS_ADRERR.
        case beyondEnd
        /// The file has grown over the page since: now mapped, run the guest
        /// again; `readFile` when a private mapping's pages were read from
        /// the file for it (a major fault, as filemap_fault reading the page).
        case resolved(readFile: Bool)
    }

    /// A guest fault at `addr`: in a page beyond its file's end as last seen,
    /// the file is looked at again (filemap_fault and shmem_fault check
    /// i_size at each fault). A page the file now reaches is filled (a
    /// private mapping reads it from the file) and mirrored. An access the
    /// mapping's protection refuses is no such fault: SIGSEGV comes first,
    /// as access_error decides before the fault is handled; where the
    /// platform cannot tell the access (ptrace), any protection but none
    /// counts as allowing it.
    public func fileFault(at addr: GuestAddress, access: Prot?) -> FileFault {
        state.withLock { s in
            guard let v = s.vmas.find(addr), addr >= v.accessibleEnd, case .file(let f, let o) = v.backing else { return .none }
            guard !v.prot.isEmpty, access.map({ v.prot.isSuperset(of: $0) }) ?? true else { return .refused }
            let newEnd = Self.fileEnd(f)
            let (pageOffset, o1) = o.addingReportingOverflow(addr.pageDown - v.start)
            guard !o1, newEnd > pageOffset else { return .beyondEnd }
            do throws(Errno) { try extendLocked(&s, v, to: newEnd) } catch { return .beyondEnd }
            return .resolved(readFile: !v.shared)
        }
    }

    /// `v`'s file now ends at `newEnd` (page-aligned), past where `v` saw it
    /// end: the pages in between become accessible. Private ones are read
    /// from the file afresh (what they held before a truncation is gone, as
    /// truncate_pagecache drops private copies too); a shared mapping's are
    /// the file's own pages already.
    private func extendLocked(_ s: inout State, _ v: VMA, to newEnd: UInt64) throws(Errno) {
        var grown = v
        grown.fileEnd = newEnd
        let range = v.accessibleEnd..<grown.accessibleEnd
        guard !range.isEmpty else { return }
        if !v.shared {
            try replaceSharedLocked(&s, range)
            for p in s.vmas.overlapping(range) {
                guard case .file(let f, let o) = p.backing else { continue }
                memory.zero(p.memOffset, p.length)
                try f.copy(offset: o, length: p.length, into: memory, at: p.memOffset)
            }
        }
        s.vmas.update(v.range) { $0.fileEnd = newEnd }
        let pieces = s.vmas.overlapping(range)
        try mirror(&s) { (sp) throws(PlatformError) in
            for p in pieces { try sp.map(p.range, fileOffset: p.memOffset, prot: p.mirrorProt) }
        }
    }

    /// The file (`device`, `inode`) may have been truncated: the pages of
    /// this mm's mappings of it now wholly beyond its end leave the mirror,
    /// private copies included, as truncate_pagecache's unmap_mapping_range
    /// (with even_cows) does; touching them is SIGBUS from now on. The VMAs
    /// change at once (the sentry's own accesses fault from now on); the
    /// mirror changes now if the caller is a runner of this mm (`runner`),
    /// else at its runners' next entry into guest code (`applyPendingUnmaps`):
    /// true if some wait for that, and the caller must kick them.
    @discardableResult
    public func fileShrank(device: UInt64, inode: UInt64, runner: Bool) -> Bool {
        state.withLock { s in
            var queued = false
            for v in s.vmas.vmas {
                guard case .file(let f, _) = v.backing, f.device == device, f.inode == inode else { continue }
                let newEnd = Self.fileEnd(f)
                guard newEnd < v.fileEnd else { continue }
                var cut = v
                cut.fileEnd = newEnd
                let dropped = cut.accessibleEnd..<v.accessibleEnd
                s.vmas.update(v.range) { $0.fileEnd = newEnd }
                guard !dropped.isEmpty else { continue }
                if runner {
                    try? mirror(&s) { (sp) throws(PlatformError) in try sp.unmap(dropped) }
                } else if s.space != nil {
                    s.pendingUnmaps.append(dropped)
                    unmapsPending.store(true, ordering: .releasing)
                    queued = true
                }
            }
            return queued
        }
    }

    /// Called by a runner before it enters guest code: the mirror loses what
    /// another process's truncation took from the VMAs. Only what is still
    /// beyond a file's end goes (the file may have grown back, and a page
    /// may have been mapped anew, since).
    public func applyPendingUnmaps() {
        guard unmapsPending.load(ordering: .acquiring) else { return }
        state.withLock { s in
            unmapsPending.store(false, ordering: .relaxed)
            let ranges = s.pendingUnmaps
            s.pendingUnmaps = []
            for r in ranges {
                for v in s.vmas.overlapping(r) where v.accessibleEnd < v.end {
                    let hole = v.accessibleEnd..<v.end
                    try? mirror(&s) { (sp) throws(PlatformError) in try sp.unmap(hole) }
                }
            }
            if s.pendingWriteProtect {
                s.pendingWriteProtect = false
                protectSoftCleanLocked(&s)
            }
        }
    }

    func mirror(_ s: inout State, _ body: (any MirrorEditing) throws(PlatformError) -> Void) throws(Errno) {
        guard let sp = s.space else { return }
        s.mirrorChanges &+= 1
        // Recorded, then made: by the runner's next entry into guest code
        // where the space allows it (the calling task's own mmap, brk or
        // mprotect then costs no hand-off of its own), else now, in one batch.
        let log = MirrorEditLog()
        do throws(PlatformError) {
            try body(log)
            if log.edits.isEmpty || sp.editAtNextRun(log.edits) { return }
            try sp.edit(log.edits)
        } catch {
            s.broken = error
            throw .EFAULT
        }
    }

    // MARK: - Guest memory access

    /// The sentry-side buffers behind `[addr, addr+count)`, or EFAULT if any
    /// byte is unmapped or lacks the access. Only valid while the state lock
    /// is held: a buffer of a VMA another thread unmaps goes back to the
    /// memory file and may back another mapping at once.
    private func buffersLocked(_ s: inout State, _ addr: GuestAddress, _ count: Int, write: Bool) throws(Errno) -> [UnsafeMutableRawBufferPointer] {
        if count == 0 { return [] }
        if write { prepareWriteLocked(&s, [GuestRange(addr, count)]) }
        let (bufs, n) = prefixLocked(&s, [GuestRange(addr, count)], write: write)
        guard n == count else { throw .EFAULT }
        return bufs
    }

    /// The buffers behind the longest accessible prefix of `ranges`, and its
    /// length: the first unmapped byte, or one lacking the access, ends it.
    /// A write's prefix also ends at a page still shared copy-on-write
    /// (`stopAtCOW`): writers break it first (prepareWriteLocked), and never
    /// write into memory another process still sees.
    private func prefixLocked(_ s: inout State, _ ranges: [GuestRange], write: Bool,
                              stopAtCOW: Bool = true) -> ([UnsafeMutableRawBufferPointer], Int) {
        var out: [UnsafeMutableRawBufferPointer] = []
        var total = 0
        for r in ranges where r.count > 0 {
            let (wanted, o) = r.address.rawValue.addingReportingOverflow(UInt64(r.count))
            let end = o ? layout.top.rawValue : min(wanted, layout.top.rawValue)
            guard r.address.rawValue < end else { return (out, total) }
            var cursor = r.address
            for v in s.vmas.overlapping(r.address..<GuestAddress(end)) {
                guard v.start == cursor, write ? v.prot.contains(.write) : !v.prot.isEmpty else { return (out, total) }
                if write && stopAtCOW && v.cow && !v.shared { return (out, total) }
                // Pages beyond a file's end fault for the sentry too (EFAULT, as copy_to_user's fault).
                let usable = v.accessibleEnd - v.start
                if usable > 0 {
                    out.append(UnsafeMutableRawBufferPointer(start: memory.pointer(v.memOffset), count: Int(usable)))
                    total += Int(usable)
                }
                guard usable == v.length else { return (out, total) }
                cursor = v.end
            }
            guard cursor.rawValue == wanted, !o else { return (out, total) }
        }
        return (out, total)
    }

    /// Runs `body` on the sentry-side buffers behind `ranges` with this
    /// memory manager locked, so that no thread can unmap or remap them
    /// meanwhile: the bytes move at the moment of transfer, against the
    /// mappings of that moment, as Linux's copy_to_user/copy_from_user do.
    /// The buffers are the longest accessible prefix of the ranges (a fault
    /// further on shortens the transfer, as in Linux); EFAULT if even the
    /// first byte faults. `body` must not sleep nor call into any memory
    /// manager (FileDescription.transfersInPlace says which files qualify).
    public func withGuestBuffers<R>(_ ranges: [GuestRange], write: Bool,
                                    _ body: ([UnsafeMutableRawBufferPointer]) throws(Errno) -> R) throws(Errno) -> R {
        try state.withLock { (s: inout State) throws(Errno) -> R in try body(guestBuffersLocked(&s, ranges, write: write, marking: true)) }
    }

    /// withGuestBuffers for a transfer whose `body` returns how many bytes
    /// it moved (a read into the buffers): only the pages of those bytes
    /// become soft-dirty, as only they are written (3 bytes read into a
    /// 64 KiB buffer mark one page).
    public func withGuestBuffers(_ ranges: [GuestRange], write: Bool,
                                 _ body: ([UnsafeMutableRawBufferPointer]) throws(Errno) -> Int) throws(Errno) -> Int {
        try state.withLock { (s: inout State) throws(Errno) -> Int in
            let moved = try body(guestBuffersLocked(&s, ranges, write: write, marking: false))
            if write && s.softDirtyTracked {
                for r in GuestRange.prefix(moved, of: ranges) where r.count > 0 { markSoftDirtyLocked(&s, r.address..<(r.address + UInt64(r.count))) }
            }
            return moved
        }
    }

    /// A read's copy into `ranges` made by a thread that does not run this
    /// mm (a writer completing a blocked reader's read, ReadHandoff): only
    /// when all of them can be written as they are, with no copy-on-write
    /// to break and no soft-dirty tracking to update (only a runner changes
    /// the host mirror); nil otherwise, and `body` is not run (the reader
    /// then reads itself, faults and all). The lock is held across `body`.
    public func withWholeGuestBuffersAsMapped(_ ranges: [GuestRange],
                                              _ body: ([UnsafeMutableRawBufferPointer]) throws(Errno) -> Int) throws(Errno) -> Int? {
        try state.withLock { (s: inout State) throws(Errno) -> Int? in
            guard !s.softDirtyTracked, !unmapsPending.load(ordering: .acquiring) else { return nil }
            let (bufs, n) = prefixLocked(&s, ranges, write: true, stopAtCOW: true)
            guard n > 0, n == ranges.reduce(0, { $0 + $1.count }) else { return nil }
            return try body(bufs)
        }
    }

    /// Truncations of shared files have left unmaps for this mm's runners to apply before they run.
    public var hasPendingUnmaps: Bool { unmapsPending.load(ordering: .acquiring) }

    /// withGuestBuffers' buffers, copy-on-write broken for a write.
    private func guestBuffersLocked(_ s: inout State, _ ranges: [GuestRange], write: Bool,
                                    marking: Bool) throws(Errno) -> [UnsafeMutableRawBufferPointer] {
        if write { prepareWriteLocked(&s, ranges, marking: marking) }
        let (bufs, n) = prefixLocked(&s, ranges, write: write)
        if n == 0 && ranges.contains(where: { $0.count > 0 }) { throw .EFAULT }
        return bufs
    }

    /// How many leading bytes of `ranges` are accessible now: a bound for a
    /// bounce buffer, checked again when the bytes move.
    /// `fromOutside`: the writer is not one of this mm's runners (another
    /// process's process_vm_writev), and cannot give it a copy of a page it
    /// still shares copy-on-write since a fork, since only a runner may change
    /// the mm's host mirror: the prefix ends before such a page.
    public func accessiblePrefix(_ ranges: [GuestRange], write: Bool, fromOutside: Bool = false) -> Int {
        state.withLock { s in prefixLocked(&s, ranges, write: write, stopAtCOW: fromOutside).1 }
    }

    /// Copies `bytes` into the ranges up to the first fault; the count copied.
    public func copyOutPrefix(_ ranges: [GuestRange], _ bytes: UnsafeRawBufferPointer) -> Int {
        state.withLock { s in
            prepareWriteLocked(&s, GuestRange.prefix(bytes.count, of: ranges))
            var at = 0
            for b in prefixLocked(&s, ranges, write: true).0 where at < bytes.count {
                let n = min(b.count, bytes.count - at)
                memcpy(b.baseAddress!, bytes.baseAddress! + at, n)
                at += n
            }
            return at
        }
    }

    /// Copies from the ranges into `buf` up to the first fault (or `buf`'s
    /// end); the count copied.
    public func copyInPrefix(_ ranges: [GuestRange], into buf: UnsafeMutableRawBufferPointer) -> Int {
        state.withLock { s in
            var at = 0
            for b in prefixLocked(&s, ranges, write: false).0 where at < buf.count {
                let n = min(b.count, buf.count - at)
                memcpy(buf.baseAddress! + at, b.baseAddress!, n)
                at += n
            }
            return at
        }
    }

    /// The sentry-side buffers behind `[addr, addr+count)`, or EFAULT. The
    /// pointers stay valid only while no other thread can unmap: for a
    /// memory manager that only the caller uses (the loader building a new
    /// image). Anything else moves bytes with withGuestBuffers or copyIn/copyOut.
    public func buffers(_ addr: GuestAddress, _ count: Int, write: Bool) throws(Errno) -> [UnsafeMutableRawBufferPointer] {
        try state.withLock { (s: inout State) throws(Errno) in try buffersLocked(&s, addr, count, write: write) }
    }

    /// Runs `body` on the guest word at `addr` (its futex key, and a pointer
    /// to it) with the memory manager locked, so the word can't be unmapped
    /// and its page reused while `body` reads or changes it. A write breaks
    /// copy-on-write first.
    public func withWord<R>(_ addr: GuestAddress, write: Bool,
                            _ body: (FutexKey, UnsafeMutableRawPointer) throws(Errno) -> R) throws(Errno) -> R {
        try state.withLock { (s: inout State) throws(Errno) -> R in
            let (k, off) = try wordLocked(&s, addr, write: write)
            return try body(k, memory.pointer(off))
        }
    }

    /// The futex key and memory-file offset of the word at `addr`, or
    /// EFAULT; a write's page is this mm's own (copy-on-write broken).
    private func wordLocked(_ s: inout State, _ addr: GuestAddress, write: Bool) throws(Errno) -> (FutexKey, UInt64) {
        if write { prepareWriteLocked(&s, [GuestRange(addr, 4)]) }
        guard let v = s.vmas.find(addr), addr < v.accessibleEnd, write ? v.prot.contains(.write) : !v.prot.isEmpty,
              !(write && v.cow && !v.shared) else { throw .EFAULT }
        return (futexKey(v, addr), v.offset(of: addr))
    }

    private func futexKey(_ v: VMA, _ addr: GuestAddress) -> FutexKey {
        v.shared ? .shared(offset: v.offset(of: addr)) : .private(mm: ObjectIdentifier(self), address: addr)
    }

    /// withWord for two words at once (requeue to a PI futex reads the first
    /// and changes the second in one step).
    public func withWords<R>(_ a1: GuestAddress, write1: Bool, _ a2: GuestAddress, write2: Bool,
                             _ body: ((FutexKey, UnsafeMutableRawPointer), (FutexKey, UnsafeMutableRawPointer)) throws(Errno) -> R) throws(Errno) -> R {
        try state.withLock { (s: inout State) throws(Errno) -> R in
            // Both breaks first: the second may move the first's page if they share one.
            if write1 { prepareWriteLocked(&s, [GuestRange(a1, 4)]) }
            let (k2, o2) = try wordLocked(&s, a2, write: write2)
            let (k1, o1) = try wordLocked(&s, a1, write: write1)
            return try body((k1, memory.pointer(o1)), (k2, memory.pointer(o2)))
        }
    }

    /// The futex key of the guest word at `addr`, or EFAULT.
    public func futexKey(of addr: GuestAddress, write: Bool) throws(Errno) -> FutexKey {
        try state.withLock { (s: inout State) throws(Errno) -> FutexKey in
            guard let v = s.vmas.find(addr), addr < v.accessibleEnd, write ? v.prot.contains(.write) : !v.prot.isEmpty else { throw .EFAULT }
            return futexKey(v, addr)
        }
    }

    /// Where a guest word lives in the memory file.
    public func fileOffset(of addr: GuestAddress, write: Bool) throws(Errno) -> UInt64 {
        try state.withLock { (s: inout State) throws(Errno) -> UInt64 in
            guard let v = s.vmas.find(addr), addr < v.accessibleEnd, write ? v.prot.contains(.write) : !v.prot.isEmpty else { throw .EFAULT }
            return v.offset(of: addr)
        }
    }

    /// Copies are made under the lock: see buffersLocked.
    public func copyIn(_ addr: GuestAddress, _ count: Int) throws(Errno) -> [UInt8] {
        // The range is checked before the sentry allocates for it (and again
        // as the bytes move): a negative or unmapped count is EFAULT.
        guard count >= 0, accessiblePrefix([GuestRange(addr, count)], write: false) == count else { throw .EFAULT }
        var out = [UInt8](repeating: 0, count: count)
        try state.withLock { (s: inout State) throws(Errno) in
            var at = 0
            for b in try buffersLocked(&s, addr, count, write: false) {
                out.withUnsafeMutableBytes { _ = memcpy($0.baseAddress! + at, b.baseAddress!, b.count) }
                at += b.count
            }
        }
        return out
    }

    public func copyOut(_ addr: GuestAddress, _ bytes: UnsafeRawBufferPointer) throws(Errno) {
        try state.withLock { (s: inout State) throws(Errno) in
            var at = 0
            for b in try buffersLocked(&s, addr, bytes.count, write: true) {
                memcpy(b.baseAddress!, bytes.baseAddress! + at, b.count)
                at += b.count
            }
        }
    }

    /// FOLL_FORCE's write (ptrace's POKETEXT, /proc/PID/mem): also into a
    /// private mapping the guest may not write now but could (VM_MAYWRITE:
    /// a debugger's breakpoint in text), whose sharing is broken first as a
    /// write fault would; the guest's own protection stays as it was.
    public func forceWrite(_ addr: GuestAddress, _ bytes: [UInt8]) throws(Errno) {
        if bytes.isEmpty { return }
        let (end, o) = addr.rawValue.addingReportingOverflow(UInt64(bytes.count))
        guard !o, end <= layout.top.rawValue else { throw .EFAULT }
        try state.withLock { (s: inout State) throws(Errno) in
            let range = addr..<GuestAddress(end)
            guard s.vmas.isFullyMapped(range) else { throw .EFAULT }
            for v in s.vmas.overlapping(range) {
                guard min(v.end.rawValue, end) <= v.accessibleEnd.rawValue else { throw .EFAULT }   // past a file's end
                guard v.shared ? v.prot.contains(.write) : v.maxProt.contains(.write) else { throw .EFAULT }
            }
            // Whole pages get this mm's own copy, as a forced write fault's
            // copy-on-write would: marked so, then broken (pages no one else
            // owns are only unmarked).
            guard let pageEnd = GuestAddress(end).pageUp else { throw .EFAULT }
            let pages = addr.pageDown..<pageEnd
            for v in s.vmas.overlapping(pages) where !v.shared { s.vmas.update(v.range) { $0.cow = true } }
            markSoftDirtyLocked(&s, pages)
            try breakCOWLocked(&s, pages)
            var at = 0
            for v in s.vmas.overlapping(range) {
                let from = max(v.start, addr), to = min(v.end, GuestAddress(end))
                let n = Int(to - from)
                bytes.withUnsafeBytes { _ = memcpy(memory.pointer(v.offset(of: from)), $0.baseAddress! + at, n) }
                at += n
            }
        }
    }

    public func copyOut(_ addr: GuestAddress, _ bytes: [UInt8]) throws(Errno) {
        try Errno.typed { try bytes.withUnsafeBytes { b in try copyOut(addr, b) } }
    }

    /// Reads a plain C struct.
    public func read<T: BitwiseCopyable>(_ addr: GuestAddress, as: T.Type) throws(Errno) -> T {
        // The common case, a value inside one mapping, in one look-up under
        // the lock and no allocation (a syscall's return reads rseq's word
        // this way every time); anything else by copyIn.
        if let v = state.withLock({ s -> T? in
            guard let p = smallLocked(&s, addr, MemoryLayout<T>.size, write: false) else { return nil }
            return p.loadUnaligned(as: T.self)
        }) { return v }
        let bytes = try copyIn(addr, MemoryLayout<T>.size)
        return bytes.withUnsafeBytes { $0.loadUnaligned(as: T.self) }
    }

    public func write<T: BitwiseCopyable>(_ addr: GuestAddress, _ value: T) throws(Errno) {
        let done = state.withLock { s -> Bool in
            guard let p = smallLocked(&s, addr, MemoryLayout<T>.size, write: true) else { return false }
            p.storeBytes(of: value, as: T.self)
            return true
        }
        if done { return }
        var v = value
        try Errno.typed { try withUnsafeBytes(of: &v) { b in try copyOut(addr, b) } }
    }

    /// Where `count` bytes at `addr` are, if they lie in one mapping that
    /// allows the access (for a write, one with no copy-on-write pending:
    /// those go the long way, which breaks it); nil for the long way,
    /// which also gives the errors.
    private func smallLocked(_ s: inout State, _ addr: GuestAddress, _ count: Int, write: Bool) -> UnsafeMutableRawPointer? {
        let (end, o) = addr.rawValue.addingReportingOverflow(UInt64(count))
        guard !o, let i = s.vmas.index(of: addr) else { return nil }
        let prot = s.vmas.vmas[i].prot
        guard end <= s.vmas.vmas[i].accessibleEnd.rawValue,
              write ? prot.contains(.write) && !s.vmas.vmas[i].cow && !s.vmas.vmas[i].softClean : !prot.isEmpty else { return nil }
        return memory.pointer(s.vmas.vmas[i].offset(of: addr))
    }

    /// A NUL-terminated string of at most `max` bytes (ENAMETOOLONG past that).
    public func readCString(_ addr: GuestAddress, max: Int = 4096) throws(Errno) -> [UInt8] {
        var out: [UInt8] = []
        var a = addr
        while out.count < max {
            // A page at a time, so a string ending before an unmapped page
            // is still readable; scanned where it lies, under the lock, and
            // only the string copied (an execve's environment strings each
            // copied the rest of their page).
            let chunk = Int(min(UInt64(max - out.count), GuestAddress.pageSize - (a.rawValue % GuestAddress.pageSize)))
            let (ended, scanned) = state.withLock { s -> (Bool, Int) in
                var scanned = 0
                for b in prefixLocked(&s, [GuestRange(a, chunk)], write: false).0 {
                    if let z = memchr(b.baseAddress!, 0, b.count) {
                        out.append(contentsOf: UnsafeRawBufferPointer(start: b.baseAddress!, count: b.baseAddress!.distance(to: z)))
                        return (true, scanned)
                    }
                    out.append(contentsOf: UnsafeRawBufferPointer(b))
                    scanned += b.count
                }
                return (false, scanned)
            }
            if ended { return out }
            if scanned < chunk { throw .EFAULT }
            a = a + UInt64(chunk)
        }
        throw .ENAMETOOLONG
    }

    // MARK: - /proc/self/maps

    /// The maps file, formatted as Linux's show_map_vma does. Adjacent VMAs
    /// that differ only in their memory-file run print as one line, as they
    /// are one VMA in Linux.
    public func mapsText() -> String {
        var lines: [String] = []
        var merged: [VMA] = []
        for v in vmas {
            if var last = merged.last, last.end == v.start, last.prot == v.prot, last.shared == v.shared,
               last.name == v.name, Self.continues(last.backing, at: last.length, with: v.backing) {
                last.range = last.start..<v.end
                merged[merged.count - 1] = last
            } else {
                merged.append(v)
            }
        }
        for v in merged {
            let perms = (v.prot.contains(.read) ? "r" : "-") + (v.prot.contains(.write) ? "w" : "-")
                + (v.prot.contains(.exec) ? "x" : "-") + (v.shared ? "s" : "p")
            var offset: UInt64 = 0, dev: UInt64 = 0, ino: UInt64 = 0
            var name = v.name ?? ""
            if case .file(let f, let o) = v.backing {
                offset = o; dev = f.device; ino = f.inode; name = f.path
                if let m = f as? MappedFile, m.unlinked { name += " (deleted)" }
            }
            let major = (dev >> 8) & 0xfff | (dev >> 32) & ~0xfff, minor = dev & 0xff | (dev >> 12) & ~0xff
            var line = hex8(v.start.rawValue) + "-" + hex8(v.end.rawValue) + " " + perms + " " + hex8(offset)
                + " " + hex2(major) + ":" + hex2(minor) + " " + String(ino) + " "
            if !name.isEmpty {
                if line.count < 73 { line += String(repeating: " ", count: 73 - line.count) }
                line += name
            }
            lines.append(line)
        }
        // The gate VMA follows the mm's own (m_next's get_gate_vma).
        return lines.map { $0 + "\n" }.joined() + VsyscallPage.mapsLine
    }

    /// Whether `next` carries on from `b` after `length` bytes: both
    /// anonymous, or the same file at the following offset (one VMA split
    /// in the sentry only, e.g. a page of text patched, is one VMA in Linux).
    private static func continues(_ b: VMABacking, at length: UInt64, with next: VMABacking) -> Bool {
        switch (b, next) {
        case (.anonymous, .anonymous): return true
        case let (.file(f1, o1), .file(f2, o2)): return f1 === f2 && o1 &+ length == o2
        default: return false
        }
    }

    private func hex8(_ v: UInt64) -> String { let s = String(v, radix: 16); return String(repeating: "0", count: max(0, 8 - s.count)) + s }
    private func hex2(_ v: UInt64) -> String { let s = String(v, radix: 16); return s.count < 2 ? "0" + s : s }
}
