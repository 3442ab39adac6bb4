/// The *at() calls' directory argument and flag bits (uapi linux/fcntl.h),
/// defined once.
public enum AtFlags {
    /// The dirfd meaning "the working directory".
    public static let AT_FDCWD: Int32 = -100
    public static let AT_SYMLINK_NOFOLLOW: UInt64 = 0x100
    /// faccessat: check with the effective ids. Shares its bit with AT_REMOVEDIR (unlinkat).
    public static let AT_EACCESS: UInt64 = 0x200, AT_REMOVEDIR: UInt64 = 0x200
    public static let AT_SYMLINK_FOLLOW: UInt64 = 0x400, AT_NO_AUTOMOUNT: UInt64 = 0x800, AT_EMPTY_PATH: UInt64 = 0x1000
    /// statx's sync type: AT_STATX_FORCE_SYNC and AT_STATX_DONT_SYNC, not both.
    public static let AT_STATX_FORCE_SYNC: UInt64 = 0x2000, AT_STATX_DONT_SYNC: UInt64 = 0x4000
    public static let AT_STATX_SYNC_TYPE: UInt64 = 0x6000
}
