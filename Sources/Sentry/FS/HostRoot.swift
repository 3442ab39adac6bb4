import CSwitch
import Glibc

/// The host directory that is the guest's `/`, read-only.
///
/// Every lookup is done by the host kernel with openat2(RESOLVE_IN_ROOT |
/// RESOLVE_NO_MAGICLINKS) on a descriptor of this directory: `..` stops at
/// it and absolute symlinks resolve against it, as in a chroot, and
/// /proc-style magic links can't be followed. RESOLVE_IN_ROOT is the sibling
/// of RESOLVE_BENEATH with the same containment; BENEATH would refuse
/// absolute symlinks such as /etc/localtime outright.
public final class HostRoot: Sendable {
    public let fd: Int32
    /// The root's host path (as the host names it), for translating paths back.
    public let hostPath: String

    public init(path: String) throws(Errno) {
        let fd = open(path, SW_O_PATH | O_DIRECTORY | O_CLOEXEC)
        if fd < 0 { throw Errno(errno) }
        self.fd = fd
        var buf = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        if realpath(path, &buf) != nil { hostPath = String(cString: buf) } else { hostPath = path }
    }

    deinit { close(fd) }

    /// Filesystems of the host that never show through the guest root: the
    /// sentry serves its own /proc and /dev, and /sys and friends say too
    /// much about the host.
    static let hiddenFilesystems: Set<Int> = [
        0x9fa0,      // proc
        0x62656572,  // sysfs
        0x64626720,  // debugfs
        0x74726163,  // tracefs
        0x73636673,  // securityfs
        0x27e0eb,    // cgroup
        0x63677270,  // cgroup2
        0xcafe4a11,  // bpf
        0x1cd1,      // devpts
        0x6e736673,  // nsfs
        0x42494e4d,  // binfmt_misc
    ]

    /// An SW_O_PATH descriptor for a guest path (absolute, in guest terms) and its stat.
    public func lookup(_ guestPath: String, followLast: Bool = true, directory: Bool = false) throws(Errno) -> (fd: Int32, stat: Glibc.stat) {
        var rel = guestPath
        while rel.hasPrefix("/") { rel.removeFirst() }
        if rel.isEmpty { rel = "." }
        var flags = UInt64(SW_O_PATH | O_CLOEXEC)
        if !followLast { flags |= UInt64(O_NOFOLLOW) }
        if directory { flags |= UInt64(O_DIRECTORY) }
        var r = 0
        for _ in 0..<8 {
            r = sw_openat2(fd, rel, flags, 0, 0x10 /* RESOLVE_IN_ROOT */ | 0x02 /* RESOLVE_NO_MAGICLINKS */)
            if r != -Int(EAGAIN) { break }  // EAGAIN: a concurrent rename; the kernel asks us to retry
        }
        let pfd = Int32(try Errno.check(r))
        var st = Glibc.stat(), sfs = statfs()
        guard fstat(pfd, &st) == 0, fstatfs(pfd, &sfs) == 0 else { let e = errno; close(pfd); throw Errno(e) }
        if Self.hiddenFilesystems.contains(Int(sfs.f_type)) { close(pfd); throw .ENOENT }
        return (pfd, st)
    }

    /// Opens a file found by `lookup` for I/O, without re-resolving its path:
    /// through the sentry's own /proc/self/fd link to the SW_O_PATH descriptor.
    public func reopen(_ pathFD: Int32, flags: Int32) throws(Errno) -> Int32 {
        let r = open("/proc/self/fd/\(pathFD)", flags | O_CLOEXEC | O_NOCTTY)
        if r < 0 { throw Errno(errno) }
        return r
    }

    /// The host's current name for an open descriptor.
    public func hostPath(of fd: Int32) -> String? {
        var buf = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let n = readlink("/proc/self/fd/\(fd)", &buf, Int(PATH_MAX))
        guard n > 0 else { return nil }
        return String(decoding: buf[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// A host path inside the root, as the guest names it; nil if outside.
    public func guestPath(fromHost host: String) -> String? {
        if hostPath == "/" { return host }
        if host == hostPath { return "/" }
        if host.hasPrefix(hostPath + "/") { return String(host.dropFirst(hostPath.count)) }
        return nil
    }
}

/// faccessat2 on an SW_O_PATH descriptor: the kernel checks the guest's access bits.
func sw_faccessat2_bridge(_ fd: Int32, _ mode: Int32) -> Int {
    sw_faccessat2(fd, "", mode, SW_AT_EMPTY_PATH)
}
