import Glibc
import Synchronization

/// Read-only file pages already in the memory file, the sentry's page cache:
/// exec'ing the same binary again shares its text and read-only data
/// instead of reading and copying them once more. Entries hold a reference
/// to their chunk; a mapping that later becomes writable gets its own copy
/// (MemoryManager's copy-on-write). Keyed by file identity, size and mtime,
/// so a file changed on the host is read afresh.
public final class ImageCache: Sendable {
    struct Key: Hashable {
        let device: UInt64, inode: UInt64, size: Int64, mtimeSec: Int, mtimeNsec: Int
        let offset: UInt64, length: UInt64
    }
    private struct State {
        var entries: [Key: (offset: UInt64, lastUse: UInt64)] = [:]
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

    static func key(_ f: MappedFile, offset: UInt64, length: UInt64) -> Key {
        Key(device: f.device, inode: f.inode, size: f.size, mtimeSec: f.mtime.tv_sec, mtimeNsec: f.mtime.tv_nsec,
            offset: offset, length: length)
    }

    /// A chunk holding `length` bytes of `file` from `offset`, owned once
    /// more by the caller (free it like any chunk).
    func chunk(_ file: MappedFile, offset: UInt64, length: UInt64) throws(Errno) -> UInt64 {
        let k = Self.key(file, offset: offset, length: length)
        if let hit: UInt64 = state.withLock({ s in
            guard let e = s.entries[k] else { return nil }
            s.clock += 1
            s.entries[k] = (e.offset, s.clock)
            memory.retain(e.offset, length)
            return e.offset
        }) { return hit }
        let off = try memory.allocate(length)
        do throws(Errno) { try file.copy(offset: offset, length: length, into: memory, at: off) }
        catch { memory.free(off, length); throw error }
        // The cache keeps the first reference; the caller gets a second.
        memory.retain(off, length)
        let evicted: [(UInt64, UInt64)] = state.withLock { s in
            s.clock += 1
            s.entries[k] = (off, s.clock)
            s.bytes += length
            var out: [(UInt64, UInt64)] = []
            while s.bytes > limit, let oldest = s.entries.min(by: { $0.value.lastUse < $1.value.lastUse }) {
                s.entries[oldest.key] = nil
                s.bytes -= oldest.key.length
                out.append((oldest.value.offset, oldest.key.length))
            }
            return out
        }
        for (o, l) in evicted { memory.free(o, l) }
        return off
    }
}
