import CSwitch
import Glibc
import Synchronization

/// The one host file (a memfd) that holds every byte of guest memory.
///
/// The sentry maps all of it once and reaches guest memory by plain copies;
/// stub processes map pieces of it at guest addresses. Space is handed out in
/// page-sized chunks, first fit. A freed chunk is kept with its pages, up to
/// `dirtyLimit` bytes, and zeroed when it is handed out again: cheaper than
/// punching it out (which also zaps every mapping's page tables) and then
/// faulting fresh pages in, the cycle every fork, exec and exit went
/// through. Beyond the limit, freed chunks are punched out.
public final class MemoryFile: Sendable {
    public let fd: Int32
    public let size: UInt64
    /// Where the sentry sees offset 0.
    nonisolated(unsafe) public let base: UnsafeMutableRawPointer
    static let dirtyLimit: UInt64 = 64 << 20
    /// The sandbox's memory (`--memory`): what its pages in this file may
    /// add up to before the OOM killer ends a guest process; `.max` for none.
    /// The default is read from the host when a decision first needs it.
    public let deferredLimit: DeferredLimit
    /// The limit, read if not yet known: for what needs its value (reports,
    /// a victim's score); comparisons go through `isOverLimit`.
    public var limit: UInt64 { deferredLimit.value }
    /// Whether there is a limit at all (known without reading it).
    public var hasLimit: Bool { deferredLimit.floor != .max }
    /// `bytes` above the limit; below the default's floor, without reading it.
    @inline(__always) public func isOverLimit(_ bytes: UInt64) -> Bool { deferredLimit.isExceeded(by: bytes) }

    private struct Allocator {
        var free: [Range<UInt64>]   // holes: sorted, disjoint, coalesced
        var dirty: [Range<UInt64>] = []   // freed with their pages: sorted, disjoint, coalesced
        var dirtyBytes: UInt64 = 0
        /// Chunks with more than one owner (MAP_SHARED memory after fork):
        /// sorted, disjoint runs and how many owners beyond the first.
        var shares: [(range: Range<UInt64>, extra: Int)] = []
    }
    private let allocator: Mutex<Allocator>
    /// A second description of the file, for `fill(at:fromFile:)`: -1 not
    /// opened yet, -2 none to be had. Its lock serialises the copies.
    private let copyFD = Mutex<Int32>(-1)

    /// The smallest reservation taken when the host refuses a larger one.
    static let smallestSize: UInt64 = 16 << 30

    /// `size` is virtual: a sparse file costs only the pages written. 4 TiB
    /// leaves room for the large PROT_NONE reservations runtimes make (a JVM
    /// heap, 64 GiB arenas), which take offsets but no pages.
    public convenience init(size: UInt64 = 4 << 40, limit: UInt64 = .max) throws(PlatformError) {
        try self.init(size: size, deferredLimit: DeferredLimit(limit))
    }

    public init(size: UInt64 = 4 << 40, deferredLimit: DeferredLimit) throws(PlatformError) {
        let fd = sw_memfd("sentry-memory")
        if fd < 0 { throw .host("memfd_create", Errno(-fd)) }
        if ftruncate(fd, off_t(size)) != 0 { let e = errno; close(fd); throw .host("ftruncate memory file", Errno(e)) }
        // A host that refuses the whole reservation (an address-space rlimit,
        // valgrind's 128 GiB of address space) gets the largest half that fits.
        var size = size
        var p = mmap(nil, Int(size), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_NORESERVE, fd, 0)
        while p == MAP_FAILED, errno == EINVAL || errno == ENOMEM, size > Self.smallestSize {
            size /= 2
            p = mmap(nil, Int(size), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_NORESERVE, fd, 0)
        }
        if p == MAP_FAILED || p == nil { let e = errno; close(fd); throw .host("mapping the memory file", Errno(e)) }
        self.fd = fd
        self.size = size
        self.deferredLimit = deferredLimit
        self.base = p!
        self.allocator = Mutex(Allocator(free: [0..<size]))
    }

    deinit {
        munmap(base, Int(size))
        close(fd)
        copyFD.withLock { if $0 >= 0 { close($0) } }
    }

    /// Allocates `length` bytes (a multiple of the page size), reading as
    /// zeros. Throws ENOMEM when full.
    public func allocate(_ length: UInt64) throws(Errno) -> UInt64 {
        precondition(length > 0 && length % GuestAddress.pageSize == 0)
        let r: (offset: UInt64, dirty: Bool)? = allocator.withLock { a in
            if let start = Self.take(&a.dirty, length) {
                a.dirtyBytes -= length
                return (start, true)
            }
            return Self.take(&a.free, length).map { ($0, false) }
        }
        guard let r else { throw .ENOMEM }
        if r.dirty { clearData(r.offset, length) }
        return r.offset
    }

    /// allocate, at `preferred` if that run is free: a copy-on-write break
    /// asks for the place right after (or before) its neighbour's own copy,
    /// so the two stay one contiguous run and their VMAs merge again.
    public func allocate(_ length: UInt64, preferring preferred: UInt64?) throws(Errno) -> UInt64 {
        guard let preferred else { return try allocate(length) }
        precondition(length > 0 && length % GuestAddress.pageSize == 0)
        let (end, o) = preferred.addingReportingOverflow(length)
        guard !o, end <= size else { return try allocate(length) }
        let r = preferred..<end
        let got: (fresh: Bool, ok: Bool) = allocator.withLock { a in
            if Self.takeExactly(&a.free, r) { return (true, true) }
            if Self.takeExactly(&a.dirty, r) { a.dirtyBytes -= length; return (false, true) }
            return (false, false)
        }
        guard got.ok else { return try allocate(length) }
        if !got.fresh { clearData(preferred, length) }
        return preferred
    }

    /// Takes exactly `r` out of a sorted run list, if one run holds all of it.
    private static func takeExactly(_ list: inout [Range<UInt64>], _ r: Range<UInt64>) -> Bool {
        var lo = 0, hi = list.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if list[mid].upperBound <= r.lowerBound { lo = mid + 1 } else { hi = mid }
        }
        guard lo < list.count, list[lo].lowerBound <= r.lowerBound, list[lo].upperBound >= r.upperBound else { return false }
        let run = list[lo]
        var pieces: [Range<UInt64>] = []
        if run.lowerBound < r.lowerBound { pieces.append(run.lowerBound..<r.lowerBound) }
        if r.upperBound < run.upperBound { pieces.append(r.upperBound..<run.upperBound) }
        list.replaceSubrange(lo...lo, with: pieces)
        return true
    }

    /// First fit from a sorted run list.
    private static func take(_ list: inout [Range<UInt64>], _ length: UInt64) -> UInt64? {
        for (i, chunk) in list.enumerated() where chunk.count >= length {
            let start = chunk.lowerBound
            if chunk.count == length { list.remove(at: i) } else { list[i] = (start + length)..<chunk.upperBound }
            return start
        }
        return nil
    }

    /// Inserts a run into a sorted, coalesced run list.
    private static func put(_ list: inout [Range<UInt64>], _ run: Range<UInt64>) {
        var r = run
        var i = list.firstIndex { $0.lowerBound >= r.upperBound } ?? list.count
        if i > 0, list[i - 1].upperBound == r.lowerBound { r = list[i - 1].lowerBound..<r.upperBound; list.remove(at: i - 1); i -= 1 }
        if i < list.count, list[i].lowerBound == r.upperBound { r = r.lowerBound..<list[i].upperBound; list.remove(at: i) }
        list.insert(r, at: i)
    }

    /// Zeros the pages of a run that hold anything, leaving its holes alone.
    private func clearData(_ offset: UInt64, _ length: UInt64) {
        forEachData(offset, length) { memset(base + Int($0), 0, Int($1)) }
    }

    /// The runs of `[offset, offset+length)` that have pages (SEEK_DATA/SEEK_HOLE).
    private func forEachData<E: Error>(_ offset: UInt64, _ length: UInt64,
                                       _ body: (UInt64, UInt64) throws(E) -> Void) throws(E) {
        var at = offset
        let end = offset + length
        while at < end {
            let data = lseek(fd, off_t(at), 3 /* SEEK_DATA */)
            if data < 0 || UInt64(data) >= end { break }
            var hole = lseek(fd, off_t(data), 4 /* SEEK_HOLE */)
            if hole < 0 || UInt64(hole) > end { hole = off_t(end) }
            try body(UInt64(data), UInt64(hole - data))
            at = UInt64(hole)
        }
    }

    /// Adds an owner to a chunk: it is freed only when every owner frees it.
    public func retain(_ offset: UInt64, _ length: UInt64) {
        guard length > 0 else { return }
        _ = allocator.withLock { Self.addOwners(&$0.shares, offset..<(offset + length), 1) }
    }

    /// Drops one owner of a chunk; the parts nobody else owns are released:
    /// kept with their pages (zeroed when handed out again) or punched out.
    public func free(_ offset: UInt64, _ length: UInt64) {
        guard length > 0 else { return }
        let released = allocator.withLock { Self.addOwners(&$0.shares, offset..<(offset + length), -1) }
        for r in released { release(r.lowerBound, UInt64(r.count)) }
    }

    /// Adds `delta` (+1 or -1) to the owner count of every byte of `r` (a
    /// byte outside `shares` has one owner, none extra). Returns the parts
    /// left with no owner at all.
    private static func addOwners(_ shares: inout [(range: Range<UInt64>, extra: Int)], _ r: Range<UInt64>,
                                  _ delta: Int) -> [Range<UInt64>] {
        var out: [(range: Range<UInt64>, extra: Int)] = []
        var ownerless: [Range<UInt64>] = []
        func apply(_ piece: Range<UInt64>, _ extra: Int) {
            let n = extra + delta
            if n < 0 { ownerless.append(piece) } else if n > 0 { out.append((piece, n)) }
        }
        var cursor = r.lowerBound
        for run in shares {
            guard run.range.overlaps(r) else { out.append(run); continue }
            if run.range.lowerBound < r.lowerBound { out.append((run.range.lowerBound..<r.lowerBound, run.extra)) }
            let lo = max(run.range.lowerBound, r.lowerBound), hi = min(run.range.upperBound, r.upperBound)
            if cursor < lo { apply(cursor..<lo, 0) }
            apply(lo..<hi, run.extra)
            cursor = hi
            if run.range.upperBound > r.upperBound { out.append((r.upperBound..<run.range.upperBound, run.extra)) }
        }
        if cursor < r.upperBound { apply(cursor..<r.upperBound, 0) }
        shares = out.sorted { $0.range.lowerBound < $1.range.lowerBound }
        return ownerless
    }

    /// The most owners any byte of a chunk has.
    public func owners(_ offset: UInt64, _ length: UInt64) -> Int {
        allocator.withLock { a in
            1 + a.shares.filter { $0.range.overlaps(offset..<(offset + length)) }.map(\.extra).reduce(0, Swift.max)
        }
    }

    /// Whether any part of a chunk has another owner.
    public func isShared(_ offset: UInt64, _ length: UInt64) -> Bool {
        allocator.withLock { a in a.shares.contains { $0.range.overlaps(offset..<(offset + length)) } }
    }

    /// Copies a run of the file, skipping holes so untouched pages stay
    /// unallocated. The destination reads as zeros (a fresh allocation).
    /// A failed write (the host out of memory) is the caller's ENOMEM, not
    /// a silently partial copy.
    public func copyData(from src: UInt64, to dst: UInt64, length: UInt64) throws(Errno) {
        do throws(Errno) {
            try forEachData(src, length) { (at, count) throws(Errno) in
                try fill(at: dst + (at - src), from: base + Int(at), count: Int(count))
            }
        } catch {
            throw error == .ENOSPC ? .ENOMEM : error
        }
    }

    /// copyData with the source's runs of pages already known (`dataRuns`
    /// of the run at `src`, taken under the same lock).
    func copyRuns(_ runs: [(UInt64, UInt64)], from src: UInt64, to dst: UInt64) throws(Errno) {
        do throws(Errno) {
            for (at, count) in runs { try fill(at: dst + (at - src), from: base + Int(at), count: Int(count)) }
        } catch {
            throw error == .ENOSPC ? .ENOMEM : error
        }
    }

    private func release(_ offset: UInt64, _ length: UInt64) {
        let keep = allocator.withLock { a in
            guard a.dirtyBytes + length <= Self.dirtyLimit else { return false }
            a.dirtyBytes += length
            Self.put(&a.dirty, offset..<(offset + length))
            return true
        }
        if keep { return }
        zero(offset, length)
        allocator.withLock { Self.put(&$0.free, offset..<(offset + length)) }
    }

    /// Discards the pages of a range: they read back as zeros in every mapping.
    public func zero(_ offset: UInt64, _ length: UInt64) {
        if sw_punch_hole(fd, offset, length) != 0 {
            memset(base + Int(offset), 0, Int(length))
        }
    }

    public func pointer(_ offset: UInt64) -> UnsafeMutableRawPointer { base + Int(offset) }

    /// Makes the sentry's page tables for a run that has pages
    /// (MADV_POPULATE_READ, Linux 5.14): reading it through `pointer` then
    /// takes no fault a page. Best effort: an older host faults as before.
    public func populate(_ offset: UInt64, _ length: UInt64) {
        guard length > 0 else { return }
        _ = madvise(base + Int(offset), Int(length), 22 /* MADV_POPULATE_READ */)
    }

    /// Copies into the file with write(2) instead of through the sentry's
    /// mapping: pages the run does not have yet are allocated by the write,
    /// not one page fault each (about twice as fast for fresh runs here).
    public func fill(at offset: UInt64, from src: UnsafeRawPointer, count: Int) throws(Errno) {
        var done = 0
        while done < count {
            let n = pwrite(fd, src + done, count - done, off_t(offset) + off_t(done))
            if n < 0 { if errno == EINTR { continue }; throw Errno(errno) }
            if n == 0 { throw .EIO }
            done += n
        }
    }

    /// Copies `count` bytes of host file `src` from `offset` into the file
    /// at `at` with sendfile(2): the kernel copies the source's page-cache
    /// pages into the fresh pages it allocates here, with no mapping of the
    /// source in the sentry (its mmap, munmap and page faults): 0.8x the
    /// time of a write from such a mapping for hello's 650 KB and busybox's
    /// 2 MB here. sendfile writes at its output description's own position,
    /// so it writes through a second description of the file (not `fd`,
    /// whose position SEEK_DATA walks move), one copy at a time. Bytes past
    /// the source's end stay zeros. False when there is no such description
    /// or the source cannot be spliced: the caller copies the run another way.
    public func fill(at offset: UInt64, fromFile src: Int32, offset from: UInt64, count: Int) throws(Errno) -> Bool {
        try copyFD.withLock { (out: inout Int32) throws(Errno) -> Bool in
            if out == -1 {
                out = open("/proc/self/fd/\(fd)", O_RDWR | O_CLOEXEC)
                if out < 0 { out = -2 }
            }
            guard out >= 0 else { return false }
            guard lseek(out, off_t(offset), SEEK_SET) == off_t(offset) else { return false }
            var pos = off_t(from)
            var done = 0
            while done < count {
                let n = Glibc.sendfile(out, src, &pos, count - done)
                if n < 0 {
                    if errno == EINTR { continue }
                    // A source sendfile cannot read from: copied another way
                    // (all of it again: the bytes already moved are the same).
                    if errno == EINVAL || errno == ENOSYS { return false }
                    throw errno == ENOSPC ? .ENOMEM : Errno(errno)
                }
                if n == 0 { break }   // the file ended early: the rest reads as zeros
                done += n
            }
            return true
        }
    }

    public func write(at offset: UInt64, _ bytes: UnsafeRawBufferPointer) {
        guard let src = bytes.baseAddress, bytes.count > 0 else { return }
        memcpy(base + Int(offset), src, bytes.count)
    }

    /// Bytes of the file that hold pages: the sandbox's memory use, freed
    /// chunks kept with their pages included (shmem counts a memfd's
    /// pages, resident or swapped, in its inode's blocks).
    public var residentBytes: UInt64 {
        var st = stat()
        guard fstat(fd, &st) == 0 else { return 0 }
        return UInt64(max(st.st_blocks, 0)) &* 512
    }

    /// Bytes of `[offset, offset+length)` that hold pages.
    public func residentBytes(_ offset: UInt64, _ length: UInt64) -> UInt64 {
        var n: UInt64 = 0
        forEachData(offset, length) { n += $1 }
        return n
    }

    /// The pages several runs hold, each counted as often as it is named.
    /// Runs that touch in the file are walked as one: each walk costs two
    /// `lseek`s per stretch of pages and one past its end, and a process's
    /// mappings usually sit side by side (an exit samples them all).
    public func residentBytes(ofRuns runs: [(offset: UInt64, length: UInt64)]) -> UInt64 {
        var merged: [Range<UInt64>] = []
        for r in runs.sorted(by: { $0.offset < $1.offset }) where r.length > 0 {
            let next = r.offset..<(r.offset + r.length)
            if let last = merged.last, last.upperBound == next.lowerBound {
                merged[merged.count - 1] = last.lowerBound..<next.upperBound
            } else {
                merged.append(next)
            }
        }
        return merged.reduce(0) { $0 &+ residentBytes($1.lowerBound, UInt64($1.count)) }
    }

    /// Punches out the freed chunks kept with their pages: the first thing
    /// given back when the sandbox is over its memory, before anyone is killed.
    public func dropFreedPages() {
        let runs = allocator.withLock { a in
            defer { a.dirty = []; a.dirtyBytes = 0 }
            return a.dirty
        }
        for r in runs {
            zero(r.lowerBound, UInt64(r.count))
            allocator.withLock { Self.put(&$0.free, r) }
        }
    }

    /// The runs of `[offset, offset+length)` that hold pages (a checkpoint skips the holes).
    func dataRuns(_ offset: UInt64, _ length: UInt64) -> [(UInt64, UInt64)] {
        var out: [(UInt64, UInt64)] = []
        forEachData(offset, length) { out.append(($0, $1)) }
        return out
    }

    /// `dataRuns` if all the pages of `[offset, offset+length)` lie within
    /// `span` bytes from its first, else nil, found without walking the
    /// rest: a SEEK_HOLE walks every page of a stretch (about 6 µs a MiB
    /// here), and a fork asked this of every writable mapping up to 16 MiB
    /// to find the nearly empty ones, walking a full heap to learn it was not.
    func dataRuns(_ offset: UInt64, _ length: UInt64, within span: UInt64) -> [(UInt64, UInt64)]? {
        let end = offset + length
        let at = lseek(fd, off_t(offset), 3 /* SEEK_DATA */)
        if at < 0 { return errno == ENXIO ? [] : nil }
        if UInt64(at) >= end { return [] }
        let (limit, o) = UInt64(at).addingReportingOverflow(span)
        let window = o ? end : min(limit, end)
        // Pages past the window: not within the span.
        if window < end {
            let beyond = lseek(fd, off_t(window), 3 /* SEEK_DATA */)
            if beyond >= 0 ? UInt64(beyond) < end : errno != ENXIO { return nil }
        }
        return dataRuns(UInt64(at), window - UInt64(at))
    }

    /// Bytes not in use by guests (for sysinfo and benchmarks).
    public var freeBytes: UInt64 { allocator.withLock { $0.free.reduce($0.dirtyBytes) { $0 + UInt64($1.count) } } }
}
