import Glibc

/// A read-only file whose contents the sentry generates when it is opened
/// (the /proc files): reads see one consistent snapshot, as seq_file gives.
public final class SnapshotFile: FileDescription, @unchecked Sendable {
    let contents: [UInt8]
    let path: String
    private var offset: Int64 = 0

    public init(path: String, contents: [UInt8], flags: OpenFlags) {
        self.contents = contents
        self.path = path
        super.init(flags: flags)
    }

    public override var displayPath: String { path }

    public override func read(into bufs: [UnsafeMutableRawBufferPointer]) throws(Errno) -> Int {
        let n = try pread(into: bufs, at: offset)
        offset += Int64(n)
        return n
    }

    public override func pread(into bufs: [UnsafeMutableRawBufferPointer], at offset: Int64) throws(Errno) -> Int {
        guard flags.readable else { throw .EBADF }
        guard offset >= 0 else { throw .EINVAL }
        var at = Int(min(offset, Int64(contents.count))), total = 0
        for b in bufs where at < contents.count {
            let n = min(b.count, contents.count - at)
            contents.withUnsafeBytes { memcpy(b.baseAddress!, $0.baseAddress! + at, n) }
            at += n; total += n
        }
        return total
    }

    public override func write(from bufs: [UnsafeRawBufferPointer]) throws(Errno) -> Int { throw .EBADF }

    public override func seek(_ off: Int64, whence: Int32) throws(Errno) -> Int64 {
        let base: Int64
        switch whence {
        case SEEK_SET: base = 0
        case SEEK_CUR: base = offset
        case SEEK_END: base = Int64(contents.count)
        default: throw .EINVAL
        }
        guard base + off >= 0 else { throw .EINVAL }
        offset = base + off
        return offset
    }

    public override func stat() throws(Errno) -> Glibc.stat {
        var st = Glibc.stat()
        st.st_mode = S_IFREG | 0o444
        st.st_nlink = 1
        st.st_blksize = 4096
        st.st_dev = 5
        return st   // size 0, as procfs reports
    }
}

/// A directory the sentry serves (/proc, /dev, ...): fixed entries, real getdents64.
public final class SyntheticDirectory: FileDescription, @unchecked Sendable {
    public struct Entry: Sendable { public var name: String; public var type: UInt8 }  // DT_*
    let path: String
    let entries: [Entry]
    private var next = 0

    public init(path: String, entries: [Entry], flags: OpenFlags) {
        self.path = path
        self.entries = [Entry(name: ".", type: 4), Entry(name: "..", type: 4)] + entries
        super.init(flags: flags)
    }

    public override var displayPath: String { path }
    public override var isDirectory: Bool { true }
    public override var directoryPath: String? { path }
    public override func read(into bufs: [UnsafeMutableRawBufferPointer]) throws(Errno) -> Int { throw .EISDIR }

    public override func getdents(into buf: UnsafeMutableRawBufferPointer) throws(Errno) -> Int {
        var used = 0
        while next < entries.count {
            let e = entries[next]
            let name = Array(e.name.utf8)
            let reclen = (19 + name.count + 1 + 7) & ~7   // struct linux_dirent64, 8-aligned
            if used + reclen > buf.count { if used == 0 { throw .EINVAL }; break }
            let p = buf.baseAddress! + used
            memset(p, 0, reclen)
            p.storeBytes(of: UInt64(next + 1), toByteOffset: 0, as: UInt64.self)        // d_ino
            p.storeBytes(of: Int64(next + 1), toByteOffset: 8, as: Int64.self)          // d_off
            p.storeBytes(of: UInt16(reclen), toByteOffset: 16, as: UInt16.self)         // d_reclen
            p.storeBytes(of: e.type, toByteOffset: 18, as: UInt8.self)                 // d_type
            name.withUnsafeBytes { _ = memcpy(p + 19, $0.baseAddress!, name.count) }
            used += reclen
            next += 1
        }
        return used
    }

    public override func seek(_ offset: Int64, whence: Int32) throws(Errno) -> Int64 {
        guard whence == SEEK_SET, offset >= 0 else { throw .EINVAL }
        next = Int(min(offset, Int64(entries.count)))
        return offset
    }

    public override func stat() throws(Errno) -> Glibc.stat {
        var st = Glibc.stat()
        st.st_mode = S_IFDIR | 0o555
        st.st_nlink = 2
        st.st_blksize = 4096
        st.st_dev = 5
        return st
    }
}
