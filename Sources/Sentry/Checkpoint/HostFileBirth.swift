import CSwitch
import Glibc

/// A host file's birth time, which tells a file from the one that replaced
/// it: ext4 gives a freed inode number to the next file made, so a file
/// deleted and written anew at its path often has the old device and inode.
/// Absent where the filesystem keeps no birth time (statx without
/// STATX_BTIME in its answer); then device and inode are all there is.
struct HostFileBirth: Equatable {
    static let STATX_BTIME: UInt32 = 0x800
    var sec: Int64
    var nsec: Int64

    init(sec: Int64, nsec: Int64) { self.sec = sec; self.nsec = nsec }

    /// The birth time of the file open at `fd`.
    init?(fd: Int32) { self.init(statxAt: fd, "", flags: SW_AT_EMPTY_PATH) }

    /// The birth time of the file at `path` (following a last symlink, as stat does).
    init?(path: String) { self.init(statxAt: AT_FDCWD, path, flags: 0) }

    private init?(statxAt dirfd: Int32, _ path: String, flags: Int32) {
        var x = statx()
        guard sw_statx(dirfd, path, flags, Self.STATX_BTIME, &x) == 0, x.stx_mask & Self.STATX_BTIME != 0 else { return nil }
        sec = x.stx_btime.tv_sec
        nsec = Int64(x.stx_btime.tv_nsec)
    }
}

extension HostFileIdentity {
    /// The birth time the image recorded, if it did.
    var birth: HostFileBirth? { birthSec.flatMap { s in birthNsec.map { HostFileBirth(sec: s, nsec: $0) } } }

    /// Whether the file `st` describes, born at `now` (nil: its filesystem
    /// keeps no birth time), is the one this identity names: the same
    /// device and inode, and the same birth time where both sides have one.
    /// False where the identity has no device and inode to compare.
    func names(_ st: stat, bornAt now: HostFileBirth?) -> Bool {
        guard let device, let inode, UInt64(st.st_dev) == device, UInt64(st.st_ino) == inode else { return false }
        guard let then = birth, let now else { return true }
        return then == now
    }
}
