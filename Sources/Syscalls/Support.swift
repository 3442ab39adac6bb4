import CSwitch
import Glibc
import Sentry

/// Helpers shared by the handler families.
extension Task {
    /// The path a *at() call names and where its walk starts: the cwd for
    /// AT_FDCWD (-100), else the directory `dirfd` is open on. An empty
    /// path (AT_EMPTY_PATH) names the start itself.
    func pathArgument(_ dirfd: Int32, _ pathAddr: GuestAddress, emptyPathAllowed: Bool = false) throws(Errno) -> (path: String, start: Location) {
        let raw = try mm.readCString(pathAddr, max: Int(PATH_MAX))
        let path = String(rawBytes: raw)
        if path.isEmpty && !emptyPathAllowed { throw .ENOENT }
        if path.startsWithSlash || dirfd == AtFlags.AT_FDCWD { return (path, cwd) }
        let dir = try fds.get(FileDescriptor(dirfd))
        guard let l = dir.location else { throw path.isEmpty ? .EBADF : .ENOTDIR }
        if !path.isEmpty && l.inode.kind != .directory { throw .ENOTDIR }
        return (path, l)
    }

    /// The place an empty path with AT_EMPTY_PATH names: the file `dirfd` is open on.
    func emptyPathLocation(_ dirfd: Int32) throws(Errno) -> Location {
        if dirfd == AtFlags.AT_FDCWD { return cwd }
        guard let l = try fds.get(FileDescriptor(dirfd)).location else { throw .EBADF }
        return l
    }

    /// The buffers a guest iovec array names, as import_iovec reads them
    /// (readv/writev and their positioned forms, process_vm_*'s local side):
    /// lengths are checked for their sign first (EINVAL), then each buffer
    /// must lie in user space (access_ok: EFAULT), and the total is capped at
    /// MAX_RW_COUNT by shortening the buffer that crosses it (not EINVAL).
    /// The pages themselves are looked up when bytes move.
    func iovecRanges(_ addr: GuestAddress, count: Int) throws(Errno) -> [GuestRange] {
        var out: [GuestRange] = []
        var total: UInt64 = 0
        for v in try iovecArray(addr, count: count) {
            guard v.length <= Self.userAddressLimit, v.base <= Self.userAddressLimit - v.length else { throw .EFAULT }
            let n = min(v.length, UInt64(Self.maxRWCount) - total)
            total += n
            if n > 0 { out.append(GuestRange(GuestAddress(v.base), Int(n))) }
        }
        return out
    }

    /// iovec_from_user: at most UIO_MAXIOV (base, length) pairs, each length
    /// below 2^63 (EINVAL); nothing else checked (process_vm_*'s remote side).
    func iovecArray(_ addr: GuestAddress, count: Int) throws(Errno) -> [(base: UInt64, length: UInt64)] {
        guard count >= 0, count <= 1024 else { throw .EINVAL }
        if count == 0 { return [] }
        let raw = try mm.copyIn(addr, count * 16)
        var out: [(base: UInt64, length: UInt64)] = []
        for i in 0..<count {
            let base = raw.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: i * 16, as: UInt64.self) }
            let len = raw.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: i * 16 + 8, as: UInt64.self) }
            guard Int64(bitPattern: len) >= 0 else { throw .EINVAL }
            out.append((base, len))
        }
        return out
    }

    /// Linux caps one read/write at MAX_RW_COUNT (INT_MAX rounded down to a page).
    static let maxRWCount = 0x7fff_f000

    /// TASK_SIZE_MAX on x86-64 (4-level paging): what access_ok() lets a
    /// user range reach.
    static let userAddressLimit = UInt64(SW_TASK_SIZE)
}

extension SyscallArguments {
    /// A count argument as Linux clamps it.
    func count(_ i: Int) -> Int { Int(min(self[i], UInt64(Task.maxRWCount))) }
}
