import CSwitch
import Glibc
import Synchronization

/// Open-file flag bits (open(2)), as guests pass them.
public struct OpenFlags: OptionSet, Sendable {
    public let rawValue: Int32
    public init(rawValue: Int32) { self.rawValue = rawValue }
    public static let accessMode: Int32 = 3
    public static let writeOnly = OpenFlags(rawValue: 1)
    public static let readWrite = OpenFlags(rawValue: 2)
    public static let create = OpenFlags(rawValue: 0o100)
    public static let exclusive = OpenFlags(rawValue: 0o200)
    public static let noCTTY = OpenFlags(rawValue: 0o400)
    public static let truncate = OpenFlags(rawValue: 0o1000)
    public static let append = OpenFlags(rawValue: 0o2000)
    public static let nonBlock = OpenFlags(rawValue: 0o4000)
    public static let dsync = OpenFlags(rawValue: 0o10000)
    public static let async = OpenFlags(rawValue: 0o20000)
    public static let direct = OpenFlags(rawValue: 0o40000)
    public static let largeFile = OpenFlags(rawValue: 0o100000)
    public static let directory = OpenFlags(rawValue: 0o200000)
    public static let noFollow = OpenFlags(rawValue: 0o400000)
    public static let noATime = OpenFlags(rawValue: 0o1000000)
    public static let closeOnExec = OpenFlags(rawValue: 0o2000000)
    public static let sync = OpenFlags(rawValue: 0o4010000)
    public static let path = OpenFlags(rawValue: 0o10000000)
    public static let tmpFile = OpenFlags(rawValue: 0o20200000)
    /// Flags F_SETFL may change.
    public static let settable: OpenFlags = [.append, .async, .direct, .noATime, .nonBlock]

    public var readable: Bool { rawValue & Self.accessMode != 1 && !contains(.path) }
    public var writable: Bool { (rawValue & Self.accessMode == 1 || rawValue & Self.accessMode == 2) && !contains(.path) }
}

/// An open file description: what a guest fd points at. Several fds (dup)
/// may share one. The base class answers every operation the way Linux does
/// for a file that doesn't support it.
/// Sendable: flags and location sit behind their own Mutexes; each subclass guards its own state.
open class FileDescription: @unchecked Sendable {
    private let flagsLock: Mutex<OpenFlags>
    public init(flags: OpenFlags) { flagsLock = Mutex(flags) }

    public var flags: OpenFlags {
        get { flagsLock.withLock { $0 } }
        set { flagsLock.withLock { $0 = newValue } }
    }

    private let place = Mutex<Location?>(nil)
    /// Where in the guest's tree it was opened; nil for pipes, eventfds and
    /// the like. *at() calls walk from a directory's location.
    public var location: Location? {
        get { place.withLock { $0 } }
        set { place.withLock { $0 = newValue } }
    }

    /// F_SETSIG's signal (f_owner.signum): what a dnotify event sends, 0 for plain SIGIO.
    public let ownerSignal = Atomic<Int32>(0)

    private let ownerSlot = Mutex<SignalOwner?>(nil)
    /// O_ASYNC's descriptor (fasync_struct's fa_fd) while the flag is on (FileAsync.swift).
    let asyncFD = Mutex<Int32?>(nil)
    /// F_SETOWN's owner (nil: none). A socket keeps it with its endpoint, which signals it.
    open func setSignalOwner(_ o: SignalOwner?) { ownerSlot.withLock { $0 = o } }
    open var signalOwner: SignalOwner? { ownerSlot.withLock { $0 } }
    /// A socket of any kind (sock_ioctl's requests apply).
    public var isSocket: Bool { self is SocketFile || self is HostSocketFile }

    /// Where the last reference going is told (fsnotify_close): set when
    /// the VFS opens a file by its path.
    let closeNotice = Mutex<FSNotify?>(nil)

    deinit {
        if let n = closeNotice.withLock({ $0 }), let loc = location { n.closed(at: loc, wrote: flags.writable) }
    }

    /// Whether F_GETFL shows O_LARGEFILE, which open(2) forces on 64-bit
    /// (force_o_largefile); a file made by anon_inode_getfd has only its own flags.
    open var reportsLargeFile: Bool { true }

    /// Lines /proc/PID/fdinfo/N shows after the common ones (an inotify
    /// instance's watches).
    open var fdinfoDetails: String { "" }

    /// The path /proc/self/fd shows.
    open var displayPath: String { location.map { $0.isDeleted ? $0.path + " (deleted)" : $0.path } ?? "anon_inode:[unknown]" }
    /// The host fd behind it, when there is one.
    open var hostFD: Int32? { nil }
    open var isDirectory: Bool { location?.inode.kind == .directory }

    /// Opening /proc/self/fd/N of a file with no place in the tree (a pipe,
    /// the sentry's stdio): a new description of the same file.
    open func reopen(_ flags: OpenFlags) throws(Errno) -> FileDescription { throw .ENXIO }

    // MARK: Readiness (poll, select, epoll, blocking I/O)

    /// Where the sentry announces changes in this file's readiness; nil for
    /// files whose readiness the host tracks, or that are always ready.
    open var waitQueue: WaitQueue? { nil }
    /// A host descriptor whose readiness is this file's (pipes and terminals
    /// the guest inherited); the sentry polls it.
    open var hostPollFD: Int32? { nil }

    /// A terminal's job control for a read (n_tty_read's job_control),
    /// asked before the read may wait: a background process is stopped.
    open func readJobControl(_ t: Task) throws(Errno) {}
    /// The poll(2) events out of `mask` that hold now (POLLERR and POLLHUP
    /// are reported whatever the mask). Regular files are always ready.
    open func readiness(_ mask: Int16) -> Int16 { mask & Int16(POLLIN | POLLOUT | POLLRDNORM | POLLWRNORM) }

    /// Whether read/write/pread/pwrite never sleep and never call into a
    /// memory manager, so they may move bytes straight between the file and
    /// guest pages while the guest's memory manager is locked (see
    /// Task.read(_:into:at:)). Others read into a bounce buffer first.
    open var transfersInPlace: Bool { false }
    /// A file whose read of any length is served whole, a bounce buffer at
    /// a time, with no side effect but its position (pagemap_read's loop
    /// over its walks): its value is the unit a read's count must be a
    /// multiple of (else EINVAL before anything is read). nil: one bounce
    /// buffer's worth at most, a short count past it.
    open var wholeReadUnit: Int? { nil }
    /// Whether one write(2) is one operation whatever its length (eventfd
    /// takes 8 bytes and returns 8): the count it returns ends the call,
    /// where a pipe's blocking write goes on until every byte is in.
    open var writesOneRecord: Bool { false }

    open func read(into bufs: [UnsafeMutableRawBufferPointer]) throws(Errno) -> Int { throw .EINVAL }
    open func write(from bufs: [UnsafeRawBufferPointer]) throws(Errno) -> Int { throw .EINVAL }
    open func pread(into bufs: [UnsafeMutableRawBufferPointer], at offset: Int64) throws(Errno) -> Int { throw .ESPIPE }
    open func pwrite(from bufs: [UnsafeRawBufferPointer], at offset: Int64) throws(Errno) -> Int { throw .ESPIPE }
    open func seek(_ offset: Int64, whence: Int32) throws(Errno) -> Int64 { throw .ESPIPE }
    open func stat() throws(Errno) -> Glibc.stat { throw .EINVAL }
    open func statx(mask: UInt32) throws(Errno) -> CSwitch.statx { Self.statxFrom(try stat()) }
    open func getdents(into buf: UnsafeMutableRawBufferPointer) throws(Errno) -> Int { throw .ENOTDIR }
    open func ioctl(_ request: UInt64, argument: GuestAddress, mm: MemoryManager) throws(Errno) -> Int64 { throw .ENOTTY }
    /// A file mmap may map; nil means ENODEV.
    open func mappable() throws(Errno) -> FileMapping? { nil }
    /// fsync/fdatasync.
    open func sync(dataOnly: Bool) throws(Errno) {}
    /// sync_file_range, its arguments checked: files in sentry memory have no writeback.
    open func syncRange(offset: Int64, count: Int64, flags: UInt32) throws(Errno) {}
    /// ftruncate; files that can't be truncated say EINVAL.
    open func truncate(_ size: Int64) throws(Errno) {
        guard let l = location, l.inode.kind == .regular else { throw .EINVAL }
        guard flags.writable else { throw .EINVAL }
        if l.mount.readOnly { throw .EROFS }
        var a = InodeAttributes(); a.size = size
        try l.inode.setAttributes(a)
    }
    /// F_SETFL: the host side may need to follow (O_NONBLOCK, O_APPEND).
    open func setStatusFlags(_ f: OpenFlags) throws(Errno) {
        flags = OpenFlags(rawValue: (flags.rawValue & ~OpenFlags.settable.rawValue) | (f.rawValue & OpenFlags.settable.rawValue))
    }

    /// Builds a statx answer from a stat one, for files with no native statx.
    public static func statxFrom(_ st: Glibc.stat) -> CSwitch.statx {
        var x = CSwitch.statx()
        x.stx_mask = 0x7ff  // STATX_BASIC_STATS
        x.stx_blksize = UInt32(st.st_blksize)
        x.stx_nlink = UInt32(st.st_nlink)
        x.stx_uid = st.st_uid
        x.stx_gid = st.st_gid
        x.stx_mode = UInt16(st.st_mode)
        x.stx_ino = UInt64(st.st_ino)
        x.stx_size = UInt64(st.st_size)
        x.stx_blocks = UInt64(st.st_blocks)
        x.stx_atime.tv_sec = Int64(st.st_atim.tv_sec); x.stx_atime.tv_nsec = UInt32(st.st_atim.tv_nsec)
        x.stx_mtime.tv_sec = Int64(st.st_mtim.tv_sec); x.stx_mtime.tv_nsec = UInt32(st.st_mtim.tv_nsec)
        x.stx_ctime.tv_sec = Int64(st.st_ctim.tv_sec); x.stx_ctime.tv_nsec = UInt32(st.st_ctim.tv_nsec)
        x.stx_rdev_major = UInt32((st.st_rdev >> 8) & 0xfff)
        x.stx_rdev_minor = UInt32((st.st_rdev & 0xff) | ((st.st_rdev >> 12) & ~0xff))
        x.stx_dev_major = UInt32((st.st_dev >> 8) & 0xfff)
        x.stx_dev_minor = UInt32((st.st_dev & 0xff) | ((st.st_dev >> 12) & ~0xff))
        return x
    }
}

extension FileDescription {
    /// What fstat shows of a file on an anonymous inode (eventfd, timerfd,
    /// signalfd, pidfd): mode 0600, one link.
    static var anonymousInodeStat: Glibc.stat {
        var st = Glibc.stat()
        st.st_mode = 0o600
        st.st_nlink = 1
        st.st_blksize = 4096
        return st
    }

    /// Copies `src` into `bufs` in order, as far as they reach; returns the bytes copied.
    static func scatter(_ src: UnsafeRawBufferPointer, into bufs: [UnsafeMutableRawBufferPointer]) -> Int {
        var off = 0
        for b in bufs where off < src.count {
            let n = min(b.count, src.count - off)
            memcpy(b.baseAddress!, src.baseAddress! + off, n)
            off += n
        }
        return off
    }
}
