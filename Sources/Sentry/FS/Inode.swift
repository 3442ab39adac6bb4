import Synchronization
import CSwitch
import Glibc

/// The type bits of a file (S_IFMT), as a type.
public enum FileKind: Sendable, Equatable {
    case regular, directory, symlink, fifo, character, block, socket

    public init(mode: UInt32) {
        switch mode & S_IFMT {
        case S_IFDIR: self = .directory
        case S_IFLNK: self = .symlink
        case S_IFIFO: self = .fifo
        case S_IFCHR: self = .character
        case S_IFBLK: self = .block
        case S_IFSOCK: self = .socket
        default: self = .regular
        }
    }

    /// d_type for getdents64.
    public var direntType: UInt8 {
        switch self {
        case .fifo: 1; case .character: 2; case .directory: 4; case .block: 6
        case .regular: 8; case .symlink: 10; case .socket: 12
        }
    }
}

/// One directory entry as a filesystem lists it.
public struct DirEntry: Sendable {
    public var name: String
    public var kind: FileKind
    public var inode: UInt64
    public init(_ name: String, _ kind: FileKind, inode: UInt64 = 0) { self.name = name; self.kind = kind; self.inode = inode }
}

/// What setattr changes (chmod, chown, utimensat, truncate); nil fields stay.
public struct InodeAttributes: Sendable {
    public var mode: UInt32?
    public var uid: UInt32?
    public var gid: UInt32?
    public var size: Int64?
    /// UTIME_NOW / UTIME_OMIT are resolved before they get here.
    public var atime: timespec?
    public var mtime: timespec?
    public init() {}
    /// utimensat's tv_nsec markers.
    public static let UTIME_NOW = (1 << 30) - 1, UTIME_OMIT = (1 << 30) - 2
}

/// Who is walking: what a /proc or /dev node needs to know to answer
/// (its pid, its fds), and where its root is.
public protocol WalkContext: AnyObject {
    /// nil while the sandbox starts: there is no /proc/self yet.
    var process: ProcessView? { get }
    var rootLocation: Location { get }
    var sandbox: SandboxView { get }
    /// The credentials permission checks judge by: the task's own, or
    /// access(2)'s real ids; nil while the sandbox is built (no checks).
    var credentials: Credentials? { get }
}

extension WalkContext {
    public var credentials: Credentials? { process?.taskAttributes.credentials }
}

/// A file in one of the sentry's filesystems: the host's (through an
/// O_PATH descriptor), tmpfs, /proc, /dev. The base class answers every
/// operation the way Linux does for a file that does not support it;
/// directory operations are called on the directory that holds the name.
/// Read-only mounts are the VFS's business, not the inode's.
/// Sendable: the base class has no state; each subclass says what guards its own.
open class Inode: @unchecked Sendable {
    public init() {}

    /// Open files on it (not O_PATH): while any is, an unlinked inode's
    /// IN_DELETE_SELF waits (Linux sends it when the last dentry reference goes).
    let openFiles = Atomic<Int>(0)

    open var kind: FileKind { .regular }
    open func stat() throws(Errno) -> Glibc.stat { throw .EINVAL }
    open func statx(mask: UInt32) throws(Errno) -> CSwitch.statx { FileDescription.statxFrom(try stat()) }
    open func statfs() throws(Errno) -> sw_statfs { throw .ENOSYS }

    /// The child called `name` (never "." or ".."); ENOENT if there is none.
    open func lookup(_ name: String, _ ctx: WalkContext) throws(Errno) -> Inode { throw .ENOTDIR }
    /// The entries of a directory, without "." and "..".
    open func entries(_ ctx: WalkContext) throws(Errno) -> [DirEntry] { throw .ENOTDIR }
    open func readlink(_ ctx: WalkContext) throws(Errno) -> String { throw .EINVAL }
    /// A /proc "magic" link leads straight to a place, not to a path.
    open func magicTarget(_ ctx: WalkContext) throws(Errno) -> Location? { nil }
    /// Opens this file. `location` is where the walk found it.
    open func open(_ flags: OpenFlags, at location: Location, _ ctx: WalkContext) throws(Errno) -> FileDescription { throw .ENXIO }

    // Directory operations.
    /// O_CREAT of a name that does not exist: a new regular file, opened.
    open func create(_ name: String, mode: UInt32, flags: OpenFlags, in dir: Location, _ ctx: WalkContext) throws(Errno) -> FileDescription { throw .ENOTDIR }
    /// O_TMPFILE: a new regular file with no name in this directory, opened
    /// (i_op->tmpfile); EOPNOTSUPP where the filesystem has none.
    open func tmpfile(mode: UInt32, flags: OpenFlags, in dir: Location, _ ctx: WalkContext) throws(Errno) -> FileDescription { throw .EOPNOTSUPP }
    open func mkdir(_ name: String, mode: UInt32) throws(Errno) { throw .ENOTDIR }
    /// mknod: FIFOs and regular files only; device nodes are refused before this.
    open func mknod(_ name: String, mode: UInt32) throws(Errno) { throw .ENOTDIR }
    open func symlink(_ name: String, target: String) throws(Errno) { throw .ENOTDIR }
    /// A hard link `name` to `target`, which is on the same mount.
    open func link(_ name: String, to target: Inode) throws(Errno) { throw .ENOTDIR }
    open func unlink(_ name: String, directory: Bool) throws(Errno) { throw .ENOTDIR }
    /// renameat2 within one filesystem; `flags` RENAME_NOREPLACE / RENAME_EXCHANGE.
    open func rename(_ name: String, to newDir: Inode, _ newName: String, flags: UInt32) throws(Errno) { throw .ENOTDIR }

    open func setAttributes(_ a: InodeAttributes) throws(Errno) { throw .EPERM }

    // Extended attributes: a filesystem with no xattr handlers answers as Linux's VFS does.
    /// The value of `name`; ENODATA if it has none.
    open func getxattr(_ name: String) throws(Errno) -> [UInt8] { throw .EOPNOTSUPP }
    /// The names it has; trusted.* only for a caller with CAP_SYS_ADMIN.
    open func listxattr(trusted: Bool) throws(Errno) -> [String] { [] }
    /// XATTR_CREATE (1) / XATTR_REPLACE (2) in `flags`.
    open func setxattr(_ name: String, _ value: [UInt8], flags: Int32) throws(Errno) { throw .EOPNOTSUPP }
    open func removexattr(_ name: String) throws(Errno) { throw .EOPNOTSUPP }

    // POSIX ACLs (IS_POSIXACL, get_acl, set_acl): a filesystem without them answers EOPNOTSUPP.
    open var posixACLs: Bool { false }
    /// The ACL of that kind, nil if it has none.
    open func posixACL(_ kind: PosixACL.Kind) -> PosixACL? { nil }
    /// Sets (nil: removes) an ACL and, with `mode`, the permission bits that
    /// go with it, together; the caller checked and validated.
    open func setPosixACL(_ kind: PosixACL.Kind, _ acl: PosixACL?, mode: UInt32?) throws(Errno) { throw .EOPNOTSUPP }
    /// The filesystem itself applies a directory's default ACL to what is
    /// made in it (a host's kernel): the VFS passes the mode unmasked and sets nothing after.
    open var inheritsPosixACLs: Bool { false }
}

/// Who a sentry-made file belongs to: /proc/PID's files are their
/// process's (its euid and egid, as task_dump_owner says for a dumpable one).
public struct FileOwner: Sendable, Equatable {
    public var uid: UInt32, gid: UInt32
    public init(uid: UInt32, gid: UInt32) { self.uid = uid; self.gid = gid }
}

extension Glibc.stat {
    /// A stat for a sentry-made node.
    /// `owner`: nil for the sentry's own (root's, as the kernel's are).
    static func synthetic(mode: UInt32, inode: UInt64, device: UInt64, size: Int64 = 0, links: UInt64 = 1,
                          owner: FileOwner? = nil) -> Glibc.stat {
        var st = Glibc.stat()
        st.st_mode = mode
        st.st_ino = UInt(inode)
        st.st_dev = UInt(device)
        st.st_nlink = UInt(links)
        st.st_size = Int(size)
        st.st_blksize = 4096
        st.st_blocks = Int((size + 511) / 512)
        st.st_uid = owner?.uid ?? getuid()
        st.st_gid = owner?.gid ?? getgid()
        return st
    }
}
