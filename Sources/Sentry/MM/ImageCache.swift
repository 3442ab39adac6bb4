import Glibc
import Synchronization

/// Read-only file pages already in the memory file, the sentry's page cache:
/// exec'ing the same binary again shares its text and read-only data
/// instead of reading and copying them once more. Entries hold a reference
/// to their chunk; a mapping that later becomes writable gets its own copy
/// (MemoryManager's copy-on-write). Keyed by file identity, size and mtime,
/// so a file changed on the host is read afresh.
///
/// A request inside a run already cached is served from it: the dynamic
/// loader maps a whole library read-only first and then each segment over
/// it, so the segments are pieces of the first copy rather than copies of
/// their own (for libc, 1.9 MB copied instead of 3.7).
public final class ImageCache: Sendable {
    struct FileKey: Hashable {
        let device: UInt64, inode: UInt64, size: Int64, mtimeSec: Int, mtimeNsec: Int
    }
    /// File bytes [fileOffset, fileOffset+length) at `memOffset`.
    struct Entry {
        let fileOffset: UInt64, length: UInt64, memOffset: UInt64
        var lastUse: UInt64
        var fileEnd: UInt64 { fileOffset + length }   // checked when the entry was made
        func holds(_ offset: UInt64, _ end: UInt64) -> Bool {
            fileOffset <= offset && end <= fileEnd && (offset - fileOffset) % GuestAddress.pageSize == 0
        }
    }
    private struct State {
        var files: [FileKey: [Entry]] = [:]
        var bytes: UInt64 = 0
        var clock: UInt64 = 0
    }
    private let state = Mutex(State())
    let memory: MemoryFile
    /// Beyond this many bytes the least recently used entries are dropped.
    let limit: UInt64

    public init(memory: MemoryFile, limit: UInt64 = 256 << 20) {
        self.memory = memory
        self.limit = limit
    }

    static func key(_ f: MappedFile) -> FileKey {
        FileKey(device: f.device, inode: f.inode, size: f.size, mtimeSec: f.mtime.tv_sec, mtimeNsec: f.mtime.tv_nsec)
    }

    /// A chunk holding `length` bytes of `file` from `offset`, owned once
    /// more by the caller (free it like any chunk).
    func chunk(_ file: MappedFile, offset: UInt64, length: UInt64) throws(Errno) -> UInt64 {
        let (end, o) = offset.addingReportingOverflow(length)
        guard !o else { throw .EOVERFLOW }
        let k = Self.key(file)
        if let hit: UInt64 = state.withLock({ s in
            guard let i = s.files[k]?.firstIndex(where: { $0.holds(offset, end) }) else { return nil }
            s.clock += 1
            s.files[k]![i].lastUse = s.clock
            let at = s.files[k]![i].memOffset + (offset - s.files[k]![i].fileOffset)
            memory.retain(at, length)
            return at
        }) { return hit }
        let off = try memory.allocate(length)
        do throws(Errno) { try file.copy(offset: offset, length: length, into: memory, at: off) }
        catch { memory.free(off, length); throw error }
        // The cache keeps the first reference; the caller gets a second.
        memory.retain(off, length)
        let dropped: [(UInt64, UInt64)] = state.withLock { s in
            s.clock += 1
            var out: [(UInt64, UInt64)] = []
            // Runs the new one covers are found in it from now on.
            var runs = s.files[k] ?? []
            runs.removeAll { e in
                guard Entry(fileOffset: offset, length: length, memOffset: off, lastUse: 0).holds(e.fileOffset, e.fileEnd)
                else { return false }
                s.bytes -= e.length
                out.append((e.memOffset, e.length))
                return true
            }
            runs.append(Entry(fileOffset: offset, length: length, memOffset: off, lastUse: s.clock))
            s.files[k] = runs
            s.bytes += length
            while s.bytes > limit, let oldest = s.files.flatMap({ f in f.value.map { (f.key, $0) } })
                    .min(by: { $0.1.lastUse < $1.1.lastUse }) {
                s.files[oldest.0]!.removeAll { $0.memOffset == oldest.1.memOffset }
                if s.files[oldest.0]!.isEmpty { s.files[oldest.0] = nil }
                s.bytes -= oldest.1.length
                out.append((oldest.1.memOffset, oldest.1.length))
            }
            return out
        }
        for (o, l) in dropped { memory.free(o, l) }
        return off
    }
}
