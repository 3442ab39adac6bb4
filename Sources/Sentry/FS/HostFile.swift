import CSwitch
import Glibc
import Synchronization

/// A file of the host, reached through a host descriptor the sentry owns.
/// Used for files opened beneath the guest root and for the sentry's own
/// stdin/stdout/stderr, which the guest inherits.
/// Sendable: only `let`s; the host keeps the offset of the shared description.
public final class HostFile: FileDescription, @unchecked Sendable {
    public let fd: Int32
    /// What /proc/self/fd shows for the sentry's own stdio, which has no place in the guest's tree.
    private let stdioName: String?
    /// The access mode of the description the user handed the guest (its
    /// stdio): a reopen through /proc/self/fd/N never gets more. The host
    /// would re-check only the inode's permissions, as Linux does, and the
    /// user gave the guest a descriptor, not the file.
    private let granted: Int32

    /// Takes ownership of `fd`: a file opened in the guest's tree.
    public init(fd: Int32, flags: OpenFlags, location: Location) {
        self.fd = fd
        self.stdioName = nil
        self.granted = flags.rawValue & OpenFlags.accessMode
        self.hostKind = Self.kind(fd)
        self.isTerminal = false
        super.init(flags: flags)
        self.location = location
    }

    /// Which of the sentry's 0, 1, 2 an inherited descriptor is (a restore
    /// reattaches it to the restoring sentry's own).
    public private(set) var stdioNumber: Int32?

    /// Takes ownership of `fd`: one of the sentry's stdin/stdout/stderr, which the guest inherits.
    public init(stdio fd: Int32, flags: OpenFlags, name: String, number: Int32? = nil) {
        self.stdioNumber = number
        self.fd = fd
        self.stdioName = name
        self.granted = flags.rawValue & OpenFlags.accessMode
        self.hostKind = Self.kind(fd)
        self.isTerminal = isatty(fd) == 1
        super.init(flags: flags)
    }

    /// A reopened inherited descriptor keeps the first one's grant.
    private init(stdio fd: Int32, flags: OpenFlags, name: String, granted: Int32) {
        self.fd = fd
        self.stdioName = name
        self.granted = granted
        self.hostKind = Self.kind(fd)
        self.isTerminal = isatty(fd) == 1
        super.init(flags: flags)
    }

    deinit {
        close(fd)
        if let twin = nonBlockingTwin.withLock({ $0 }) { close(twin) }
    }

    /// A pipe's description of the sentry's own, O_NONBLOCK, for reads that
    /// must not sleep on a kernel whose pipes take no RWF_NOWAIT (6.1): the
    /// guest's own keeps the blocking mode it set, which a host process
    /// sharing it (an inherited stdin) sees too. Opened at the first need.
    private let nonBlockingTwin = Mutex<Int32?>(nil)

    /// The sentry's own terminal, inherited as the guest's stdio: the
    /// controlling terminal of init's session.
    private let isTerminal: Bool

    /// __tty_check_change for a read of the sentry's terminal: a process of
    /// init's session outside the foreground group the guest set (TIOCSPGRP)
    /// gets SIGTTIN (or EIO), as at the sandbox's own ptys.
    public override func readJobControl(_ t: Task) throws(Errno) {
        guard isTerminal else { return }
        let (session, foreground) = t.kernel.locked { () -> (Int32, Int32) in
            guard let initGroup = t.kernel.initGroup else { return (0, 0) }
            return (initGroup.sid, t.kernel.hostForegroundLocked(sid: initGroup.sid))
        }
        try t.terminalJobControl(session: session, foreground: foreground, .SIGTTIN)
    }

    /// Pipes, sockets and terminals can block; regular files and directories can't.
    /// Fixed at open (the fd never changes), so every thread reads it unlocked.
    /// The host file's type (S_IFMT bits; 0 if fstat failed).
    private let hostKind: mode_t
    private var blocksOnHost: Bool { hostKind == S_IFIFO || hostKind == S_IFSOCK || hostKind == S_IFCHR }

    private static func kind(_ fd: Int32) -> mode_t {
        var st = Glibc.stat()
        return fstat(fd, &st) == 0 ? st.st_mode & S_IFMT : 0
    }

    /// A regular file or directory: a host read or write of it doesn't wait
    /// for another party, so it may fill or drain guest pages directly while
    /// the memory manager is locked. (A slow disk or network filesystem only
    /// delays the guest's other memory-map changes meanwhile; nothing can
    /// unmap the pages under the host call.) Pipes, sockets and terminals
    /// may sleep: they go through a bounce buffer.
    public override var transfersInPlace: Bool { !blocksOnHost }

    public override var hostPollFD: Int32? { blocksOnHost ? fd : nil }

    /// A pipe or socket: its read can be made not to sleep (sw_readv_nowait),
    /// so it may fill guest pages in place once poll said it has bytes
    /// (Task.read). A terminal cannot (its VMIN may hold a read of what
    /// FIONREAD counts): it goes through a bounce buffer.
    var readsWithoutWaiting: Bool { hostKind == S_IFIFO || hostKind == S_IFSOCK }

    /// What the host has for `bufs` now: EAGAIN if nothing. At most
    /// IOV_MAX buffers are filled (a read of more pieces comes back short).
    func readWithoutWaiting(into bufs: [UnsafeMutableRawBufferPointer]) throws(Errno) -> Int {
        guard flags.readable else { throw .EBADF }
        let iov = Self.iovecs(Array(bufs.prefix(Self.iovMax)))
        while true {
            var r = iov.withUnsafeBufferPointer { sw_readv_nowait(fd, $0.baseAddress, Int32($0.count), hostKind == S_IFSOCK ? 1 : 0) }
            if r == -Int(EOPNOTSUPP) && hostKind == S_IFIFO {
                let twin = try nonBlockingDescription()
                r = iov.withUnsafeBufferPointer { readv(twin, $0.baseAddress, Int32($0.count)) }
                if r < 0 { r = -Int(errno) }
            }
            if r >= 0 { return r }
            if r != -Int(EINTR) { throw Errno(Int32(-r)) }
        }
    }

    /// UIO_MAXIOV: the most buffers one host readv takes.
    private static let iovMax = 1024

    private func nonBlockingDescription() throws(Errno) -> Int32 {
        try nonBlockingTwin.withLock { (t: inout Int32?) throws(Errno) -> Int32 in
            if let t { return t }
            let r = Glibc.open("/proc/self/fd/\(fd)", O_RDONLY | O_NONBLOCK | O_CLOEXEC)
            guard r >= 0 else { throw .EOPNOTSUPP }   // the caller bounces, as without this
            t = r
            return r
        }
    }

    public override func readiness(_ mask: Int16) -> Int16 {
        guard blocksOnHost else { return super.readiness(mask) }
        var p = pollfd(fd: fd, events: mask, revents: 0)
        return Glibc.poll(&p, 1, 0) > 0 ? p.revents : 0
    }

    public override var hostFD: Int32? { fd }

    public override var displayPath: String { stdioName ?? super.displayPath }

    /// Opening /proc/self/fd/N of an inherited descriptor: at most the
    /// access the user granted (EACCES past it, as a file whose mode denies
    /// the access answers), and truncation only with write access granted.
    /// Files in the guest's tree never come here: their magic link leads to
    /// their place, where the mount's rules hold (EROFS on a read-only one).
    public override func reopen(_ flags: OpenFlags) throws(Errno) -> FileDescription {
        guard location == nil else { throw .ENXIO }
        let want = flags.rawValue & OpenFlags.accessMode
        let canRead = granted != OpenFlags.writeOnly.rawValue, canWrite = granted != 0
        // O_ACCMODE itself (3) asks for both, as Linux's may_open sees it.
        let needsRead = want != OpenFlags.writeOnly.rawValue
        let needsWrite = want != 0 || flags.contains(.truncate)
        if (needsRead && !canRead) || (needsWrite && !canWrite) || (want == 3 && !(canRead && canWrite)) { throw .EACCES }
        if want == 3 { throw .EINVAL }   // not a mode a host file can be reopened with here
        let acc = flags.rawValue & (OpenFlags.accessMode | OpenFlags.nonBlock.rawValue | OpenFlags.append.rawValue | OpenFlags.truncate.rawValue)
        let r = Glibc.open("/proc/self/fd/\(fd)", acc | O_CLOEXEC | O_NOCTTY)
        if r < 0 { throw Errno(errno) }
        let kept = acc & ~OpenFlags.truncate.rawValue
        let f = HostFile(stdio: r, flags: OpenFlags(rawValue: kept), name: displayPath, granted: granted)
        f.stdioNumber = stdioNumber
        return f
    }

    public override func sync(dataOnly: Bool) throws(Errno) {
        if (dataOnly ? fdatasync(fd) : fsync(fd)) != 0 && errno != EINVAL && errno != EROFS { throw Errno(errno) }
    }

    public override func syncRange(offset: Int64, count: Int64, flags: UInt32) throws(Errno) {
        let r = sw_sync_file_range(fd, offset, count, flags)
        if r < 0 && -r != EINVAL && -r != ESPIPE { throw Errno(-r) }
    }

    public override func truncate(_ size: Int64) throws(Errno) {
        guard flags.writable else { throw .EINVAL }
        if location?.mount.readOnly == true { throw .EROFS }
        if ftruncate(fd, off_t(size)) != 0 { throw Errno(errno) }
    }

    private static func iovecs(_ bufs: [UnsafeMutableRawBufferPointer]) -> [iovec] {
        bufs.map { iovec(iov_base: $0.baseAddress, iov_len: $0.count) }
    }

    private func retrying(_ body: () -> Int) throws(Errno) -> Int {
        while true {
            let r = body()
            if r >= 0 { return r }
            if errno != EINTR { throw Errno(errno) }
        }
    }

    public override func read(into bufs: [UnsafeMutableRawBufferPointer]) throws(Errno) -> Int {
        guard flags.readable else { throw .EBADF }
        let iov = Self.iovecs(bufs)
        return try retrying { iov.withUnsafeBufferPointer { readv(fd, $0.baseAddress, Int32($0.count)) } }
    }

    public override func write(from bufs: [UnsafeRawBufferPointer]) throws(Errno) -> Int {
        guard flags.writable else { throw .EBADF }
        let iov = bufs.map { iovec(iov_base: UnsafeMutableRawPointer(mutating: $0.baseAddress), iov_len: $0.count) }
        return try retrying { iov.withUnsafeBufferPointer { writev(fd, $0.baseAddress, Int32($0.count)) } }
    }

    public override func pread(into bufs: [UnsafeMutableRawBufferPointer], at offset: Int64) throws(Errno) -> Int {
        guard flags.readable else { throw .EBADF }
        let iov = Self.iovecs(bufs)
        return try retrying { iov.withUnsafeBufferPointer { preadv(fd, $0.baseAddress, Int32($0.count), off_t(offset)) } }
    }

    public override func pwrite(from bufs: [UnsafeRawBufferPointer], at offset: Int64) throws(Errno) -> Int {
        guard flags.writable else { throw .EBADF }
        let iov = bufs.map { iovec(iov_base: UnsafeMutableRawPointer(mutating: $0.baseAddress), iov_len: $0.count) }
        return try retrying { iov.withUnsafeBufferPointer { pwritev(fd, $0.baseAddress, Int32($0.count), off_t(offset)) } }
    }

    public override func seek(_ offset: Int64, whence: Int32) throws(Errno) -> Int64 {
        let r = lseek(fd, off_t(offset), whence)
        if r < 0 { throw Errno(errno) }
        return Int64(r)
    }

    public override func stat() throws(Errno) -> Glibc.stat {
        var st = Glibc.stat()
        if fstat(fd, &st) != 0 { throw Errno(errno) }
        return st
    }

    public override func statx(mask: UInt32) throws(Errno) -> CSwitch.statx {
        var x = CSwitch.statx()
        let r = sw_statx(fd, "", SW_AT_EMPTY_PATH, mask, &x)
        if r < 0 { throw Errno(Int32(-r)) }
        return x
    }

    public override func getdents(into buf: UnsafeMutableRawBufferPointer) throws(Errno) -> Int {
        try Errno.check(sw_getdents64(fd, buf.baseAddress, buf.count))
    }

    public override func ioctl(_ request: UInt64, argument: GuestAddress, mm: MemoryManager) throws(Errno) -> Int64 {
        switch request {
        case Ioctl.TCGETS, Ioctl.TIOCGWINSZ:  // the terminal the user gave the guest
            guard isatty(fd) == 1 else { throw .ENOTTY }
            var buf = [UInt8](repeating: 0, count: 64)
            _ = try Errno.check(Int(buf.withUnsafeMutableBytes { sw_ioctl_ptr(fd, UInt(request), $0.baseAddress) }))
            try mm.copyOut(argument, Array(buf[0..<(request == Ioctl.TCGETS ? 36 : 8)]))
            return 0
        case Ioctl.TCSETS, Ioctl.TCSETSW, Ioctl.TCSETSF, Ioctl.TIOCSWINSZ:
            guard isatty(fd) == 1 else { throw .ENOTTY }
            var buf = try mm.copyIn(argument, request == Ioctl.TIOCSWINSZ ? 8 : 36)
            _ = try Errno.check(Int(buf.withUnsafeMutableBytes { sw_ioctl_ptr(fd, UInt(request), $0.baseAddress) }))
            return 0
        case Ioctl.FIONREAD:  // of what the guest inherited (a pipe, a terminal): the host counts
            var n: Int32 = 0
            _ = try Errno.check(Int(withUnsafeMutableBytes(of: &n) { sw_ioctl_ptr(fd, UInt(request), $0.baseAddress) }))
            try mm.write(argument, n)
            return 0
        default:
            throw .ENOTTY
        }
    }

    public override func setStatusFlags(_ f: OpenFlags) throws(Errno) {
        let host = fcntl(fd, F_GETFL)
        let want = (host & ~OpenFlags.settable.rawValue) | (f.rawValue & OpenFlags.settable.rawValue)
        if fcntl(fd, F_SETFL, want) != 0 { throw Errno(errno) }
        try super.setStatusFlags(f)
    }

    public override func mappable() throws(Errno) -> FileMapping? {
        var st = Glibc.stat()
        guard fstat(fd, &st) == 0, st.st_mode & S_IFMT == S_IFREG else { return nil }
        return try MappedFile(duplicating: fd, path: displayPath)
    }
}
