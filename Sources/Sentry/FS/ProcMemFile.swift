import CSwitch
import Glibc
import Synchronization

/// /proc/PID/mem (fs/proc/base.c mem_open, mem_rw, mem_lseek): the
/// process's memory at file offsets equal to its addresses. Opening needs
/// ptrace's attach rights over the process (mm_access); the memory map is
/// the one the process had at open. A read or write stops at the first
/// page it cannot reach, and is EIO when that is the first one.
/// Also /proc/PID/pagemap's node (`pagemap`; ProcPagemapFile.swift): 0400,
/// opened with ptrace's read rights (proc_mem_open with PTRACE_MODE_READ).
final class ProcMemNode: Inode, @unchecked Sendable {
    let device: UInt64, ino: UInt64
    let target: (WalkContext) throws(Errno) -> ProcessView
    let owner: FileOwner?
    let pagemap: Bool

    init(path: String, device: UInt64, owner: FileOwner? = nil, pagemap: Bool = false,
         target: @escaping (WalkContext) throws(Errno) -> ProcessView) {
        self.device = device; self.ino = syntheticInode(path); self.target = target; self.owner = owner
        self.pagemap = pagemap
    }

    override func stat() throws(Errno) -> Glibc.stat {
        .synthetic(mode: S_IFREG | (pagemap ? 0o400 : 0o600), inode: ino, device: device, owner: owner)
    }
    override func statfs() throws(Errno) -> sw_statfs { syntheticStatfs(0x9fa0) }
    override func open(_ flags: OpenFlags, at location: Location, _ ctx: WalkContext) throws(Errno) -> FileDescription {
        if flags.contains(.path) { return PathOnlyFile(location: location, flags: flags) }
        let v = try target(ctx)
        guard let task = v as? Task else { throw .ESRCH }
        // mm_access(PTRACE_MODE_ATTACH_FSCREDS, or READ for pagemap): EACCES
        // for a process the opener may not trace (or inspect); its own mm always.
        if let opener = ctx.process as? Task, pagemap ? opener.mm !== task.mm && !opener.mayInspect(task) : !opener.mayAttach(task) {
            throw .EACCES
        }
        let f: FileDescription = pagemap ? ProcPagemapFile(mm: task.mm, task: task, path: location.path, flags: flags)
            : ProcMemFile(mm: task.mm, task: task, path: location.path, flags: flags)
        f.location = location
        return f
    }
}

/// Sendable: the position behind its Mutex; the memory manager locks itself.
class ProcMemFile: FileDescription, @unchecked Sendable {
    let mm: MemoryManager
    /// The process's thread it was opened for: a debugger that traces it
    /// writes its text (FOLL_FORCE) while it is stopped.
    weak var task: Task?
    let path: String
    /// f_pos: an address (FMODE_UNSIGNED_OFFSET: any 64-bit value).
    private let position = Mutex<UInt64>(0)

    init(mm: MemoryManager, task: Task, path: String, flags: OpenFlags) {
        self.mm = mm; self.task = task; self.path = path
        super.init(flags: flags)
    }

    override var displayPath: String { path }

    override func read(into bufs: [UnsafeMutableRawBufferPointer]) throws(Errno) -> Int {
        let at = position.withLock { $0 }
        let n = try pread(into: bufs, at: Int64(bitPattern: at))
        position.withLock { $0 = at &+ UInt64(n) }
        return n
    }

    override func write(from bufs: [UnsafeRawBufferPointer]) throws(Errno) -> Int {
        let at = position.withLock { $0 }
        let n = try pwrite(from: bufs, at: Int64(bitPattern: at))
        position.withLock { $0 = at &+ UInt64(n) }
        return n
    }

    override func pread(into bufs: [UnsafeMutableRawBufferPointer], at offset: Int64) throws(Errno) -> Int {
        guard flags.readable else { throw .EBADF }
        var addr = UInt64(bitPattern: offset), total = 0
        for b in bufs where b.count > 0 {
            let (_, over) = addr.addingReportingOverflow(UInt64(b.count))
            let n = over ? 0 : mm.copyInPrefix([GuestRange(GuestAddress(addr), b.count)], into: b)
            total += n
            addr &+= UInt64(n)
            if n < b.count { break }
        }
        if total == 0 && bufs.contains(where: { $0.count > 0 }) { throw .EIO }
        return total
    }

    override func pwrite(from bufs: [UnsafeRawBufferPointer], at offset: Int64) throws(Errno) -> Int {
        guard flags.writable else { throw .EBADF }
        var addr = UInt64(bitPattern: offset), total = 0
        for b in bufs where b.count > 0 {
            let (_, over) = addr.addingReportingOverflow(UInt64(b.count))
            // The tracer of the stopped process writes on its thread (copy-on-write
            // breaks there, FOLL_FORCE reaches text); anyone else directly.
            if !over, let t = task, t.mm === mm, let writer = Task.current,
               writer.forceWriteStopped(t, GuestAddress(addr), Array(b)) {
                total += b.count
                addr &+= UInt64(b.count)
                continue
            }
            // A writer from another mm stops before pages still shared since a
            // fork: only the mm's own threads may give it its copy.
            let outside = Task.current?.mm !== mm
            let room = over ? 0 : outside ? mm.accessiblePrefix([GuestRange(GuestAddress(addr), b.count)], write: true, fromOutside: true) : b.count
            let n = room == 0 ? 0 : mm.copyOutPrefix([GuestRange(GuestAddress(addr), room)], UnsafeRawBufferPointer(rebasing: b[..<room]))
            total += n
            addr &+= UInt64(n)
            if n < b.count { break }
        }
        if total == 0 && bufs.contains(where: { $0.count > 0 }) { throw .EIO }
        return total
    }

    /// mem_lseek: SEEK_SET and SEEK_CUR, any value (no end to seek from).
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
        return .synthetic(mode: S_IFREG | 0o600, inode: syntheticInode(path), device: ProcFS.device)
    }
}
