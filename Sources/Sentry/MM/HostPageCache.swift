import Glibc
import Synchronization

/// The pages of host files mapped MAP_SHARED (a file in an `:rw` bind, a
/// database's shared-memory file): every mapping of the same file range, in
/// any process of the sandbox, maps the same run of the memory file, so
/// they see each other's stores as on Linux. Pages a guest changed are
/// written back to the host file on msync, munmap and when the last process
/// mapping them goes: a page is known to have changed by its hash, taken
/// when it was read and after each write-back, so a page the guest did not
/// touch never overwrites what others wrote to the file meanwhile. Reads and
/// writes through a descriptor do not go through these pages (the sentry
/// has no page cache): they see a mapping's stores once it is written back.
///
/// One lock guards the table; it is a leaf (nothing else is taken under it
/// but the memory file's allocator).
public final class HostPageCache: Sendable {
    struct FileKey: Hashable { let device: UInt64, inode: UInt64 }
    struct Key: Hashable { let file: FileKey, offset: UInt64, length: UInt64 }
    private struct Segment {
        let memOffset: UInt64
        /// Hash of each page as last read from or written to the file.
        var hashes: [UInt64]
    }
    private struct State {
        var segments: [Key: Segment] = [:]
        /// A descriptor open for writing, per file: what write-back uses.
        var writers: [FileKey: MappedFile] = [:]
    }
    private let state = Mutex(State())
    let memory: MemoryFile

    public init(memory: MemoryFile) { self.memory = memory }

    private static func fileKey(_ f: MappedFile) -> FileKey { FileKey(device: f.device, inode: f.inode) }

    /// The run holding file bytes [offset, offset+length), with one more
    /// owner (the caller's: free it as any chunk). The cache keeps its own.
    func pages(_ file: MappedFile, offset: UInt64, length: UInt64) throws(Errno) -> UInt64 {
        let key = Key(file: Self.fileKey(file), offset: offset, length: length)
        let hit: UInt64? = state.withLock { s in
            if file.writable { s.writers[key.file] = file }
            guard let seg = s.segments[key] else { return nil }
            memory.retain(seg.memOffset, length)
            return seg.memOffset
        }
        if let hit { return hit }
        let off = try memory.allocate(length)
        do throws(Errno) { try file.copy(offset: offset, length: length, into: memory, at: off) } catch {
            memory.free(off, length)
            throw error
        }
        let hashes = (0..<length / GuestAddress.pageSize).map { hashPage(off + $0 * GuestAddress.pageSize) }
        return state.withLock { s in
            // Another mapper may have read the same range meanwhile: use one run.
            if let seg = s.segments[key] {
                memory.free(off, length)
                memory.retain(seg.memOffset, length)
                return seg.memOffset
            }
            s.segments[key] = Segment(memOffset: off, hashes: hashes)
            memory.retain(off, length)
            return off
        }
    }

    /// Writes the changed pages among `length` bytes of the memory file at
    /// `memOffset` (part of a run of `file`) back to the file, never past its
    /// end. With `durable`, fdatasync as msync(MS_SYNC) asks.
    func writeBack(_ file: MappedFile, memOffset: UInt64, length: UInt64, durable: Bool = false) throws(Errno) {
        let fk = Self.fileKey(file)
        try state.withLock { (s: inout State) throws(Errno) in
            guard let writer = s.writers[fk] else { return }   // nobody could write: nothing changed the file
            var st = Glibc.stat()
            guard fstat(writer.hostFD, &st) == 0 else { throw Errno(errno) }
            for (key, seg) in s.segments where key.file == fk {
                let lo = max(memOffset, seg.memOffset), hi = min(memOffset + length, seg.memOffset + key.length)
                guard lo < hi else { continue }
                var updated = seg
                var page = lo
                while page < hi {
                    let i = Int((page - seg.memOffset) / GuestAddress.pageSize)
                    let h = hashPage(page)
                    let filePos = key.offset + (page - seg.memOffset)
                    if h != seg.hashes[i], filePos < UInt64(st.st_size) {
                        let count = Int(min(GuestAddress.pageSize, UInt64(st.st_size) - filePos))
                        var done = 0
                        while done < count {
                            let n = pwrite(writer.hostFD, memory.pointer(page) + done, count - done, off_t(filePos) + off_t(done))
                            if n < 0 { if errno == EINTR { continue }; throw Errno(errno) }
                            done += n
                        }
                        updated.hashes[i] = h
                    }
                    page += GuestAddress.pageSize
                }
                s.segments[key] = updated
            }
            if durable && fdatasync(writer.hostFD) != 0 { throw Errno(errno) }
        }
    }

    /// After a mapping let go of its run: a run only the cache still owns
    /// is dropped (the mapping wrote its changes back first).
    func release(_ file: MappedFile) {
        let fk = Self.fileKey(file)
        let dropped: [(UInt64, UInt64)] = state.withLock { s in
            var out: [(UInt64, UInt64)] = []
            for (key, seg) in s.segments where key.file == fk && !memory.isShared(seg.memOffset, key.length) {
                s.segments[key] = nil
                out.append((seg.memOffset, key.length))
            }
            if !s.segments.keys.contains(where: { $0.file == fk }) { s.writers[fk] = nil }
            return out
        }
        for (o, l) in dropped { memory.free(o, l) }
    }

    /// A 64-bit hash of one page, a word at a time.
    private func hashPage(_ memOffset: UInt64) -> UInt64 {
        let words = memory.pointer(memOffset).assumingMemoryBound(to: UInt64.self)
        var h: UInt64 = 0x9E37_79B9_7F4A_7C15
        for i in 0..<Int(GuestAddress.pageSize / 8) {
            h = (h ^ words[i]) &* 0x1000_0000_01B3
            h ^= h >> 29
        }
        return h
    }
}

// MARK: - Checkpoint

extension HostPageCache {
    /// One run of the cache as a checkpoint keeps it: which file (by device
    /// and inode, which the writer matches with the mappings' files), where
    /// in the file and in the memory file, whether the cache could write the
    /// file back, and the pages that differ from what the file had when last
    /// read or written (beyond its end, which write-back never reaches), each
    /// as its index and the hash the cache keeps for it.
    public struct Snapshot: Sendable {
        public let device: UInt64, inode: UInt64
        public let fileOffset: UInt64, length: UInt64, memOffset: UInt64
        public let writable: Bool
        public let unsynced: [(page: UInt64, hash: UInt64)]
    }

    /// A checkpoint's view of the cache: every run's changed pages written
    /// back first (as a write-back would soon anyway), so the host files the
    /// image names are as the mappings left them and a restore finds them
    /// unchanged; then each run. The sandbox is frozen: nothing writes meanwhile.
    public func checkpointSnapshot() throws(Errno) -> [Snapshot] {
        let files: [MappedFile] = state.withLock { Array($0.writers.values) }
        for f in files {
            for (memOffset, length) in runs(of: f) { try writeBack(f, memOffset: memOffset, length: length) }
        }
        return state.withLock { s in
            s.segments.sorted { $0.value.memOffset < $1.value.memOffset }.map { entry -> Snapshot in
                let (key, seg) = (entry.key, entry.value)
                var unsynced: [(page: UInt64, hash: UInt64)] = []
                for (i, h) in seg.hashes.enumerated() {
                    let page = UInt64(i)
                    if hashPage(seg.memOffset + page * GuestAddress.pageSize) != h { unsynced.append((page, h)) }
                }
                return Snapshot(device: key.file.device, inode: key.file.inode, fileOffset: key.offset, length: key.length,
                                memOffset: seg.memOffset, writable: s.writers[key.file] != nil, unsynced: unsynced)
            }
        }
    }

    private func runs(of f: MappedFile) -> [(UInt64, UInt64)] {
        let fk = Self.fileKey(f)
        return state.withLock { s in s.segments.filter { $0.key.file == fk }.map { ($0.value.memOffset, $0.key.length) } }
    }

    /// A restore's run of `file`: `length` bytes of the memory file at
    /// `memOffset`, restored already with the owner the cache holds counted
    /// (so nothing is retained here). Each page's hash is its bytes' but for
    /// `unsynced` ones, which keep the checkpoint's. False if the cache has
    /// that range of that file already.
    public func adopt(_ file: MappedFile, fileOffset: UInt64, length: UInt64, memOffset: UInt64,
                      unsynced: [(page: UInt64, hash: UInt64)]) -> Bool {
        let key = Key(file: Self.fileKey(file), offset: fileOffset, length: length)
        var hashes = (0..<length / GuestAddress.pageSize).map { hashPage(memOffset + $0 * GuestAddress.pageSize) }
        for u in unsynced where u.page < UInt64(hashes.count) { hashes[Int(u.page)] = u.hash }
        return state.withLock { s in
            guard s.segments[key] == nil else { return false }
            s.segments[key] = Segment(memOffset: memOffset, hashes: hashes)
            if file.writable { s.writers[key.file] = file }
            return true
        }
    }
}
