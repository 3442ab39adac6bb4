import CSwitch
import Glibc
import Synchronization

/// /proc/PID/pagemap (fs/proc/task_mmu.c pagemap_open, pagemap_read): one
/// 64-bit entry per virtual page, at offset address / 4096 * 8
/// (MemoryManager.pagemapEntries says what each holds). Opening needs
/// ptrace's read access to the process (proc_mem_open with
/// PTRACE_MODE_READ_FSCREDS: EACCES); the memory map is the one the
/// process had at open. Offsets and counts not a multiple of 8 are EINVAL;
/// reads end at TASK_SIZE.
final class ProcPagemapNode: Inode, @unchecked Sendable {
    let device: UInt64, ino: UInt64
    let target: (WalkContext) throws(Errno) -> ProcessView
    let owner: FileOwner?

    init(path: String, device: UInt64, owner: FileOwner? = nil, target: @escaping (WalkContext) throws(Errno) -> ProcessView) {
        self.device = device; self.ino = syntheticInode(path); self.target = target; self.owner = owner
    }

    override func stat() throws(Errno) -> Glibc.stat { .synthetic(mode: S_IFREG | 0o400, inode: ino, device: device, owner: owner) }
    override func statfs() throws(Errno) -> sw_statfs { syntheticStatfs(0x9fa0) }
    override func open(_ flags: OpenFlags, at location: Location, _ ctx: WalkContext) throws(Errno) -> FileDescription {
        if flags.contains(.path) { return PathOnlyFile(location: location, flags: flags) }
        guard let task = try target(ctx) as? Task else { throw .ESRCH }
        // mm_access: the opener's own mm, or one it may inspect.
        if let opener = ctx.process as? Task, opener.mm !== task.mm, !opener.mayInspect(task) { throw .EACCES }
        let f = ProcPagemapFile(mm: task.mm, path: location.path, flags: flags)
        f.location = location
        return f
    }
}

/// Sendable: the position behind its Mutex; the memory manager locks itself.
final class ProcPagemapFile: FileDescription, @unchecked Sendable {
    let mm: MemoryManager
    let path: String
    /// f_pos (mem_lseek's: any 64-bit value).
    private let position = Mutex<UInt64>(0)
    /// PM_ENTRY_BYTES.
    static let entryBytes = 8
    /// Entries made at a time: PAGEMAP_WALK_SIZE (a PMD's 512 pages).
    static let walkPages: UInt64 = 512

    init(mm: MemoryManager, path: String, flags: OpenFlags) {
        self.mm = mm; self.path = path
        super.init(flags: flags)
    }

    override var displayPath: String { path }

    override func read(into bufs: [UnsafeMutableRawBufferPointer]) throws(Errno) -> Int {
        let at = position.withLock { $0 }
        let n = try pread(into: bufs, at: Int64(bitPattern: at))
        position.withLock { $0 = at &+ UInt64(n) }
        return n
    }

    override func pread(into bufs: [UnsafeMutableRawBufferPointer], at offset: Int64) throws(Errno) -> Int {
        guard flags.readable else { throw .EBADF }
        let pos = UInt64(bitPattern: offset), count = bufs.reduce(0) { $0 + $1.count }
        guard pos % UInt64(Self.entryBytes) == 0, count % Self.entryBytes == 0 else { throw .EINVAL }
        // An mm whose process has exited holds no mappings: nothing to read (mmget_not_zero).
        guard count > 0, !mm.vmas.isEmpty else { return 0 }
        let end = UInt64(SW_TASK_SIZE), page = GuestAddress.pageSize
        let vpn = pos / UInt64(Self.entryBytes)
        var addr = vpn <= UInt64.max / page ? vpn * page : end
        if addr > end { addr = end }
        // The entries, a walk at a time, into the buffers in order.
        var out = bufs.makeIterator(), current = out.next(), used = 0, total = 0
        while total < count, addr < end {
            let stop = min(end, (addr / (Self.walkPages * page) + 1) * Self.walkPages * page)
            let wanted = min(UInt64(count - total) / UInt64(Self.entryBytes), (stop - addr) / page)
            let entries = mm.pagemapEntries(GuestAddress(addr)..<GuestAddress(addr + wanted * page))
            entries.withUnsafeBytes { src in
                var from = 0
                while from < src.count, let b = current {
                    let n = min(b.count - used, src.count - from)
                    memcpy(b.baseAddress! + used, src.baseAddress! + from, n)
                    from += n; used += n
                    if used == b.count { current = out.next(); used = 0 }
                }
            }
            total += entries.count * Self.entryBytes
            addr += wanted * page
        }
        return total
    }

    /// mem_lseek: SEEK_SET and SEEK_CUR, any value.
    override func seek(_ off: Int64, whence: Int32) throws(Errno) -> Int64 {
        try position.withLock { (p: inout UInt64) throws(Errno) -> Int64 in
            switch whence {
            case SEEK_SET: p = UInt64(bitPattern: off)
            case SEEK_CUR: p = p &+ UInt64(bitPattern: off)
            default: throw .EINVAL
            }
            return Int64(bitPattern: p)
        }
    }

    override func stat() throws(Errno) -> Glibc.stat {
        if let l = location { return try l.inode.stat() }
        return .synthetic(mode: S_IFREG | 0o400, inode: syntheticInode(path), device: ProcFS.device)
    }
}
