import Glibc

/// A file mmap can map: private mappings copy its pages; a shared mapping
/// maps the file's own pages if it keeps them in the memory file (tmpfs).
public protocol FileMapping: AnyObject, Sendable {
    var path: String { get }
    var device: UInt64 { get }
    var inode: UInt64 { get }
    /// Copies file bytes [offset, offset+length) to memory-file offset `at`,
    /// whose run reads as zeros already (so bytes past end of file stay zeros).
    func copy(offset: UInt64, length: UInt64, into memory: MemoryFile, at: UInt64) throws(Errno)
    /// The memory-file run that holds file bytes [offset, offset+length),
    /// retained for the caller; nil when shared mappings are copies too.
    func sharedPages(offset: UInt64, length: UInt64) throws(Errno) -> UInt64?
    /// A mapping of this file is gone (its pages freed): a System V segment
    /// removed while attached may go now.
    func mappingReleased()
    /// The file's size now, for the pages beyond its end (SIGBUS); nil for
    /// files whose mappings have no such end (System V segments).
    func currentSize() -> UInt64?
    /// Where the mapped file was opened, for /proc/PID/map_files to reopen
    /// it (a memfd or a deleted file has no path that finds it); nil: by path.
    var openedAt: Location? { get }
}

extension FileMapping {
    public func mappingReleased() {}
    public func currentSize() -> UInt64? { nil }
    public var openedAt: Location? { nil }
}

/// A host file whose pages a private mapping copies: its own host descriptor (so
/// the mapping outlives the guest's fd) and its identity for /proc/self/maps.
public final class MappedFile: FileMapping, Equatable {
    public let hostFD: Int32
    public let path: String
    public let device: UInt64
    public let inode: UInt64
    /// Size and modification time: with device and inode, what says two
    /// opens see the same contents (the image cache's key).
    let size: Int64
    let mtime: timespec
    /// Open for writing: a MAP_SHARED mapping's changes can go back through it.
    let writable: Bool

    /// Duplicates `hostFD`; the caller keeps its own.
    public init(duplicating hostFD: Int32, path: String) throws(Errno) {
        let fd = fcntl(hostFD, F_DUPFD_CLOEXEC, 0)
        if fd < 0 { throw Errno(errno) }
        var st = stat()
        fstat(fd, &st)
        self.hostFD = fd
        self.path = path
        self.device = UInt64(st.st_dev)
        self.inode = UInt64(st.st_ino)
        self.size = Int64(st.st_size)
        self.mtime = st.st_mtim
        let mode = fcntl(fd, F_GETFL) & O_ACCMODE
        self.writable = mode == O_RDWR || mode == O_WRONLY
    }

    deinit { close(hostFD) }

    /// The host file has no name left (unlinked while open or mapped):
    /// /proc/PID/maps shows " (deleted)" after its path, as d_path does.
    public var unlinked: Bool {
        var st = stat()
        return fstat(hostFD, &st) == 0 && st.st_nlink == 0
    }

    /// Large runs (a binary's text) are written into the memory file by
    /// sendfile (or, where it cannot, by write(2) from a mapping of the host
    /// file): each fresh page is then allocated by the write, not by a page
    /// fault of the sentry's own copy (half the time for busybox's 2 MB
    /// here). Small ones are a plain pread.
    public func copy(offset: UInt64, length: UInt64, into memory: MemoryFile, at: UInt64) throws(Errno) {
        // The size now, not at open: a page the file grew into since is read
        // (and a host mapping of bytes the file no longer has would fault).
        let size = currentSize().map { Int64(clamping: $0) } ?? self.size
        let inFile = UInt64(max(0, size - Int64(min(offset, UInt64(Int64.max)))))
        let count = Int(min(length, inFile))
        guard count > 0 else { return }
        if count >= 64 << 10 && offset % GuestAddress.pageSize == 0 {
            if try memory.fill(at: at, fromFile: hostFD, offset: offset, count: count) { return }
            let src = mmap(nil, count, PROT_READ, MAP_PRIVATE, hostFD, off_t(offset))
            if let src, src != MAP_FAILED {
                defer { munmap(src, count) }
                try memory.fill(at: at, from: src, count: count)
                return
            }
        }
        var done = 0
        let dst = memory.pointer(at)
        while done < count {
            let n = pread(hostFD, dst + done, count - done, off_t(offset) + off_t(done))
            if n < 0 { if errno == EINTR { continue }; throw Errno(errno) }
            if n == 0 { break }
            done += n
        }
    }

    public func sharedPages(offset: UInt64, length: UInt64) throws(Errno) -> UInt64? { nil }

    public func currentSize() -> UInt64? {
        var st = stat()
        guard fstat(hostFD, &st) == 0 else { return nil }
        return UInt64(max(0, st.st_size))
    }

    public static func == (a: MappedFile, b: MappedFile) -> Bool { a === b }
}
