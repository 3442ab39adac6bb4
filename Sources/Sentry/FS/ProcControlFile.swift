import CSwitch
import Glibc

/// A /proc file a process may also write (oom_score_adj): mode 0644, reads
/// a snapshot made at open as the read-only ones, and each write(2) handed
/// whole to `store`, as proc's write handlers take one user buffer. A
/// write-only one (clear_refs, 0200) has no read handler: reads are EINVAL.
/// Sendable: only `let`s; the closures take kernel state under its locks.
final class ProcControlNode: Inode, @unchecked Sendable {
    let device: UInt64
    let ino: UInt64
    let mayWrite: (WalkContext) throws(Errno) -> Bool
    let contents: () throws(Errno) -> [UInt8]
    /// Returns the bytes it took, nil for all of them.
    let store: ([UInt8], WalkContext) throws(Errno) -> Int?
    let owner: FileOwner?
    /// A sysctl (sysctl_writes_strict = 1): a write not at position 0 is
    /// taken and ignored, and one that is moves the position on.
    let sysctl: Bool
    /// The permission bits.
    let mode: UInt32

    init(path: String, device: UInt64, owner: FileOwner? = nil, sysctl: Bool = false, mode: UInt32 = 0o644, mayWrite: @escaping (WalkContext) throws(Errno) -> Bool,
         contents: @escaping () throws(Errno) -> [UInt8], store: @escaping ([UInt8], WalkContext) throws(Errno) -> Int?) {
        self.device = device; self.ino = syntheticInode(path); self.mayWrite = mayWrite
        self.contents = contents; self.store = store; self.owner = owner; self.sysctl = sysctl
        self.mode = mode
    }

    override func stat() throws(Errno) -> Glibc.stat { .synthetic(mode: S_IFREG | mode, inode: ino, device: device, owner: owner) }
    override func statfs() throws(Errno) -> sw_statfs { syntheticStatfs(0x9fa0) }
    override func open(_ flags: OpenFlags, at location: Location, _ ctx: WalkContext) throws(Errno) -> FileDescription {
        if flags.contains(.path) { return PathOnlyFile(location: location, flags: flags) }
        // The inode permission check: the process's owner (or CAP_DAC_OVERRIDE).
        if flags.writable, !(try mayWrite(ctx)) { throw .EACCES }
        let readable = mode & 0o444 != 0
        let f = ProcControlFile(path: location.path, contents: flags.readable && readable ? try contents() : [], flags: flags, sysctl: sysctl,
                                unreadable: !readable) { [store] b throws(Errno) in
            try store(b, ctx)
        }
        f.location = location
        return f
    }

    /// kstrtoint(strstrip(buf), 0) of at most PROC_NUMBUF - 1 bytes, as
    /// oom_score_adj_write reads its number: decimal, 0x hex or 0 octal,
    /// with a sign; EINVAL for anything else or out of int's range.
    static func integer(_ bytes: [UInt8]) throws(Errno) -> Int {
        // strstrip: isspace() at either end.
        let space: Set<UInt8> = [0x20, 0x09, 0x0a, 0x0b, 0x0c, 0x0d]
        var b = bytes.prefix(numberBufferSize - 1)
        while let f = b.first, space.contains(f) { b = b.dropFirst() }
        while let l = b.last, space.contains(l) { b = b.dropLast() }
        var digits = Substring(String(decoding: b, as: UTF8.self)), negative = false
        if digits.first == "-" || digits.first == "+" { negative = digits.first == "-"; digits = digits.dropFirst() }
        var radix = 10
        if digits.hasPrefix("0x") || digits.hasPrefix("0X") { radix = 16; digits = digits.dropFirst(2) }
        else if digits.count > 1 && digits.hasPrefix("0") { radix = 8; digits = digits.dropFirst() }
        guard !digits.isEmpty, let magnitude = Int64(digits, radix: radix) else { throw .EINVAL }
        let value = negative ? -magnitude : magnitude
        guard let v = Int32(exactly: value) else { throw .EINVAL }
        return Int(v)
    }
    /// PROC_NUMBUF.
    static let numberBufferSize = 13
}

/// An open ProcControlNode: reads from the snapshot, writes to the store.
/// Sendable: its parts are; the snapshot has its own locking.
final class ProcControlFile: FileDescription, @unchecked Sendable {
    private let snapshot: SnapshotFile
    private let store: ([UInt8]) throws(Errno) -> Int?
    private let sysctl: Bool
    /// No read handler (vfs_read's EINVAL without FMODE_CAN_READ).
    private let unreadable: Bool

    init(path: String, contents: [UInt8], flags: OpenFlags, sysctl: Bool = false, unreadable: Bool = false,
         store: @escaping ([UInt8]) throws(Errno) -> Int?) {
        snapshot = SnapshotFile(path: path, contents: contents, flags: flags)
        self.store = store
        self.sysctl = sysctl
        self.unreadable = unreadable
        super.init(flags: flags)
    }

    override var displayPath: String { snapshot.displayPath }
    override func read(into bufs: [UnsafeMutableRawBufferPointer]) throws(Errno) -> Int {
        if unreadable && flags.readable { throw .EINVAL }
        return try snapshot.read(into: bufs)
    }
    override func pread(into bufs: [UnsafeMutableRawBufferPointer], at offset: Int64) throws(Errno) -> Int {
        if unreadable && flags.readable { throw .EINVAL }
        return try snapshot.pread(into: bufs, at: offset)
    }
    override func seek(_ off: Int64, whence: Int32) throws(Errno) -> Int64 { try snapshot.seek(off, whence: whence) }
    override func stat() throws(Errno) -> Glibc.stat { try location!.inode.stat() }

    /// One buffer, cut to PROC_NUMBUF - 1 bytes; the count written is what
    /// was taken, as oom_score_adj_write returns.
    override func write(from bufs: [UnsafeRawBufferPointer]) throws(Errno) -> Int {
        guard flags.writable else { throw .EBADF }
        if sysctl {
            // One position for reads and writes, as f_pos: a write after
            // anything was read or written is ignored (proc_first_pos_non_zero_ignore).
            let total = bufs.reduce(0) { $0 + $1.count }
            let at = try snapshot.seek(0, whence: SEEK_CUR)
            if at != 0 { return total }
            let taken = try store(bufs.reduce(into: []) { $0 += $1 }) ?? total
            _ = try snapshot.seek(Int64(taken), whence: SEEK_SET)
            return taken
        }
        var bytes: [UInt8] = []
        for b in bufs { bytes += b.prefix(ProcControlNode.numberBufferSize - 1 - bytes.count) }
        return try store(bytes) ?? bytes.count
    }

    /// pwrite: the handler sees the offset as its position; a sysctl's not
    /// at 0 is ignored, another file's handler does not look at it.
    override func pwrite(from bufs: [UnsafeRawBufferPointer], at offset: Int64) throws(Errno) -> Int {
        guard flags.writable else { throw .EBADF }
        guard sysctl else { return try write(from: bufs) }
        let total = bufs.reduce(0) { $0 + $1.count }
        if offset != 0 { return total }
        return try store(bufs.reduce(into: []) { $0 += $1 }) ?? total
    }
}
