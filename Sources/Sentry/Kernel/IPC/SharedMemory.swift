import Glibc

/// A System V shared memory segment: one run of the memory file that every
/// shmat maps (MAP_SHARED), so attachments in any process share its pages.
/// Attachments are counted as Linux counts them, one per mapping: the
/// segment's own hold on the run plus one per VMA are the run's owners.
final class ShmSegment: IPCObject, FileMapping, @unchecked Sendable {   // mutable state guarded by IPCNamespace.lock
    let memory: MemoryFile
    let size: UInt64
    /// The run: `size` rounded up to pages.
    let memOffset: UInt64
    let length: UInt64
    var attachTime = 0, detachTime = 0
    let creatorPID: Int32
    var lastPID: Int32

    /// Where to report that a mapping went (a removed segment then goes too).
    weak var namespace: IPCNamespace?

    init(perm: IPCPerm, size: UInt64, memory: MemoryFile, creator pid: Int32) throws(Errno) {
        guard let len = GuestAddress(size).pageUp?.rawValue else { throw .EINVAL }
        self.memory = memory
        self.size = size
        self.length = len
        self.memOffset = try memory.allocate(len)
        self.creatorPID = pid
        self.lastPID = 0
        super.init(perm: perm)
    }

    /// A segment read back from a checkpoint: its run restored already
    /// (one reference of it handed over), its times and pids as they were.
    init(restoring perm: IPCPerm, size: UInt64, memory: MemoryFile, memOffset: UInt64, creator pid: Int32) throws(Errno) {
        guard let len = GuestAddress(size).pageUp?.rawValue, len > 0 else { throw .EINVAL }
        self.memory = memory
        self.size = size
        self.length = len
        self.memOffset = memOffset
        self.creatorPID = pid
        self.lastPID = 0
        super.init(perm: perm)
    }

    /// Frees the run once the segment is gone and nothing maps it.
    func destroy() { memory.free(memOffset, length) }

    /// shm_nattch: the mappings holding the run.
    var attachments: Int { max(0, memory.owners(memOffset, length) - 1) }

    // FileMapping: what /proc/PID/maps shows, and the pages shmat maps.
    var path: String {
        let hex = String(UInt32(bitPattern: perm.key), radix: 16)
        return "/SYSV" + String(repeating: "0", count: max(0, 8 - hex.count)) + hex + " (deleted)"
    }
    var device: UInt64 { 1 }
    var inode: UInt64 { UInt64(UInt32(bitPattern: id)) }
    func copy(offset: UInt64, length: UInt64, into memory: MemoryFile, at: UInt64) throws(Errno) { throw .EINVAL }
    func mappingReleased() {
        guard let namespace else { return }
        namespace.locked { if perm.mode & IPC.SHM_DEST != 0 { namespace.reapSegments() } }
    }
    func sharedPages(offset: UInt64, length: UInt64) throws(Errno) -> UInt64? {
        guard offset <= self.length, length <= self.length - offset else { throw .EINVAL }
        memory.retain(memOffset + offset, length)
        return memOffset + offset
    }
}

extension IPCNamespace {
    /// shmget(2).
    public func shmget(key: Int32, size: UInt64, flags: Int32, _ c: IPCCredentials, pid: Int32) throws(Errno) -> Int32 {
        try locked { () throws(Errno) -> Int32 in
            reapSegments()
            return try shm.get(key: key, flags: flags, c, check: { (s) throws(Errno) in
                if s.size < size { throw .EINVAL }
            }, make: { (perm) throws(Errno) -> ShmSegment in
                if flags & IPC.SHM_HUGETLB != 0 { throw .EPERM }   // no hugetlbfs: as Linux without CAP_IPC_LOCK
                guard size >= IPC.SHMMIN, size <= IPC.SHMMAX else { throw .EINVAL }
                let s = try ShmSegment(perm: perm, size: size, memory: memory, creator: pid)
                s.namespace = self
                return s
            })
        }
    }

    /// shmat(2): the segment and the protection to map it with.
    public func shmatPrepare(id: Int32, flags: Int32, _ c: IPCCredentials, pid: Int32) throws(Errno) -> (FileMapping, UInt64, Prot) {
        try locked { () throws(Errno) -> (FileMapping, UInt64, Prot) in
            guard id >= 0, let s = shm.byIndex[id % IPC.seqMultiplier], s.id == id else { throw .EINVAL }
            var prot: Prot = [.read]
            var access: Int32 = 0o444
            if flags & IPC.SHM_RDONLY == 0 { prot.insert(.write); access |= 0o222 }
            if flags & IPC.SHM_EXEC != 0 { prot.insert(.exec); access |= 0o111 }
            guard s.perm.allows(access, c) else { throw .EACCES }
            s.attachTime = IPCObject.now()
            s.lastPID = pid
            return (s, s.length, prot)
        }
    }

    /// shmdt(2)'s bookkeeping once the mapping is gone; and a segment
    /// removed while attached goes with its last mapping.
    public func shmDetached(_ mapping: FileMapping, pid: Int32) {
        locked {
            if let s = mapping as? ShmSegment { s.detachTime = IPCObject.now(); s.lastPID = pid }
            reapSegments()
        }
    }

    /// Segments IPC_RMID'd while attached, freed once no mapping holds them.
    func reapSegments() {
        for s in shm.byIndex.values where s.perm.mode & IPC.SHM_DEST != 0 && s.attachments == 0 {
            shm.remove(s)
            s.destroy()
        }
    }

    /// shmctl(2). Returns the syscall's value; `out` is what to copy to the guest buffer.
    public func shmctl(id: Int32, cmd: Int32, input: [UInt8]?, _ c: IPCCredentials) throws(Errno) -> (Int64, [UInt8]?) {
        try locked { () throws(Errno) -> (Int64, [UInt8]?) in
            reapSegments()
            switch cmd {
            case IPC.IPC_INFO:
                // struct shminfo64: shmmax, shmmin, shmmni, shmseg, shmall, 4 unused longs.
                var b = [UInt8](repeating: 0, count: 72)
                b.store(IPC.SHMMAX, at: 0); b.store(IPC.SHMMIN, at: 8); b.store(UInt64(IPC.SHMMNI), at: 16)
                b.store(UInt64(IPC.SHMMNI), at: 24); b.store(IPC.SHMALL, at: 32)
                return (Int64(shm.highestIndex), b)
            case IPC.SHM_INFO:
                // struct shm_info: used_ids (int), then shm_tot, shm_rss, shm_swp, swap_attempts, swap_successes.
                var b = [UInt8](repeating: 0, count: 48)
                let pages = shm.byIndex.values.reduce(UInt64(0)) { $0 + $1.length / GuestAddress.pageSize }
                b.store(Int32(shm.count), at: 0); b.store(pages, at: 8); b.store(pages, at: 16)
                return (Int64(shm.highestIndex), b)
            case IPC.IPC_STAT, IPC.SHM_STAT, IPC.SHM_STAT_ANY:
                let s = cmd == IPC.IPC_STAT ? try shmByID(id) : try shm.at(index: id)
                if cmd != IPC.SHM_STAT_ANY { guard s.perm.allows(0o444, c) else { throw .EACCES } }
                return (cmd == IPC.IPC_STAT ? 0 : Int64(s.id), encode(s))
            case IPC.IPC_SET:
                try shmByID(id).set(from: input, c)
                return (0, nil)
            case IPC.IPC_RMID:
                let s = try shmByID(id)
                guard s.perm.ownedBy(c) else { throw .EPERM }
                s.perm.mode |= IPC.SHM_DEST
                s.perm.key = IPC.IPC_PRIVATE   // no longer found by its key
                reapSegments()
                return (0, nil)
            case IPC.SHM_LOCK, IPC.SHM_UNLOCK:
                let s = try shmByID(id)
                guard c.ipcLock || s.perm.ownedBy(c) else { throw .EPERM }
                if cmd == IPC.SHM_LOCK { s.perm.mode |= IPC.SHM_LOCKED } else { s.perm.mode &= ~IPC.SHM_LOCKED }
                return (0, nil)
            default:
                throw .EINVAL
            }
        }
    }

    /// The length of a System V segment's mapping, nil for any other file (shmdt's test).
    public func segmentLength(_ f: any FileMapping) -> UInt64? { (f as? ShmSegment)?.length }

    /// A segment by id, including one IPC_RMID'd but still attached (shmctl and shmat reach it).
    private func shmByID(_ id: Int32) throws(Errno) -> ShmSegment {
        guard id >= 0, let s = shm.byIndex[id % IPC.seqMultiplier], s.id == id else { throw .EINVAL }
        return s
    }

    /// struct shmid64_ds (112 bytes).
    private func encode(_ s: ShmSegment) -> [UInt8] {
        var b = [UInt8](repeating: 0, count: 112)
        s.perm.encode(into: &b, at: 0)
        b.store(s.size, at: 48)
        b.store(Int64(s.attachTime), at: 56); b.store(Int64(s.detachTime), at: 64); b.store(Int64(s.changeTime), at: 72)
        b.store(s.creatorPID, at: 80); b.store(s.lastPID, at: 84)
        b.store(UInt64(s.attachments), at: 88)
        return b
    }
}
