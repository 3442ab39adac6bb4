import CSwitch
import Glibc

/// The character devices the sentry serves itself under /dev.
/// Sendable: only `let`s (the device kind).
public final class DeviceFile: FileDescription, @unchecked Sendable {
    public enum Kind: String, Sendable, CaseIterable {
        case null, zero, full, random, urandom
        /// Linux's device numbers (major 1, memory devices).
        var minor: UInt64 {
            switch self { case .null: 3; case .zero: 5; case .full: 7; case .random: 8; case .urandom: 9 }
        }
        var inode: UInt64 { 1000 + minor }
    }
    public let kind: Kind

    public init(_ kind: Kind, flags: OpenFlags) {
        self.kind = kind
        super.init(flags: flags)
    }

    public override var displayPath: String { "/dev/" + kind.rawValue }
    /// memset and getrandom (which doesn't block once the host booted).
    public override var transfersInPlace: Bool { true }
    public override func reopen(_ flags: OpenFlags) throws(Errno) -> FileDescription {
        let f = DeviceFile(kind, flags: flags)
        f.location = location
        return f
    }

    public override func read(into bufs: [UnsafeMutableRawBufferPointer]) throws(Errno) -> Int {
        guard flags.readable else { throw .EBADF }
        switch kind {
        case .null: return 0
        case .zero, .full:
            for b in bufs { memset(b.baseAddress!, 0, b.count) }
            return bufs.reduce(0) { $0 + $1.count }
        case .random, .urandom:
            var total = 0
            for b in bufs {
                var done = 0
                while done < b.count {
                    let n = getrandom(b.baseAddress! + done, b.count - done, 0)
                    if n < 0 { if errno == EINTR { continue }; throw Errno(errno) }
                    done += n
                }
                total += done
            }
            return total
        }
    }

    public override func write(from bufs: [UnsafeRawBufferPointer]) throws(Errno) -> Int {
        guard flags.writable else { throw .EBADF }
        if kind == .full { throw .ENOSPC }
        return bufs.reduce(0) { $0 + $1.count }
    }

    public override func pread(into bufs: [UnsafeMutableRawBufferPointer], at offset: Int64) throws(Errno) -> Int {
        try read(into: bufs)
    }
    public override func pwrite(from bufs: [UnsafeRawBufferPointer], at offset: Int64) throws(Errno) -> Int {
        try write(from: bufs)
    }
    public override func seek(_ offset: Int64, whence: Int32) throws(Errno) -> Int64 { 0 }

    public override func stat() throws(Errno) -> Glibc.stat {
        var st = Glibc.stat()
        st.st_mode = S_IFCHR | 0o666
        st.st_rdev = UInt((1 << 8) | kind.minor)
        st.st_nlink = 1
        st.st_blksize = 4096
        st.st_ino = UInt(kind.inode)
        st.st_dev = 6
        return st
    }

    public override func mappable() throws(Errno) -> FileMapping? { nil }
}
