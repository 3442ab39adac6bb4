import CSwitch
import Glibc

/// The sentry's /dev: the memory devices it serves itself, the terminal
/// the user gave the sentry, links into /proc/self/fd, and a mount point for
/// /dev/shm. No host device node is ever reachable.
enum DevFS {
    static let device: UInt64 = 0x6

    static let links: [String: String] = [
        "fd": "/proc/self/fd", "stdin": "/proc/self/fd/0", "stdout": "/proc/self/fd/1", "stderr": "/proc/self/fd/2",
    ]

    static func root(ptys: PtyTable) -> Inode {
        SyntheticDirNode(path: "/dev", device: device, mode: 0o755, list: { _ in
            DeviceFile.Kind.allCases.map { DirEntry($0.rawValue, .character, inode: $0.inode) }
                + [DirEntry("tty", .character, inode: 1005), DirEntry("ptmx", .character, inode: 1002)]
                + links.keys.sorted().map { DirEntry($0, .symlink) }
                + [DirEntry("shm", .directory), DirEntry("pts", .directory), DirEntry("mqueue", .directory)]
        }, child: { name, _ throws(Errno) in
            if let k = DeviceFile.Kind(rawValue: name) { return DeviceNode(kind: k) }
            if name == "tty" { return TerminalNode() }
            if name == "ptmx" { return PtmxNode(table: ptys) }
            if let t = links[name] { return SyntheticLinkNode(path: "/dev/" + name, device: device, target: { _ in t }) }
            if name == "shm" || name == "mqueue" {
                return SyntheticDirNode(path: "/dev/" + name, device: device, mode: 0o755, list: { _ in [] }, child: { _, _ throws(Errno) in throw .ENOENT })
            }
            if name == "pts" {
                // devpts: one node per live pty, by index.
                return SyntheticDirNode(path: "/dev/pts", device: device, mode: 0o755, list: { _ in
                    ptys.indices.map { DirEntry(String($0), .character, inode: 2000 + UInt64($0)) }
                }, child: { n, _ throws(Errno) in
                    guard let i = Int32(n), String(i) == n, let p = ptys.get(i) else { throw .ENOENT }
                    return PtsNode(p, table: ptys)
                })
            }
            throw .ENOENT
        })
    }
}

/// /dev/null, zero, full, random, urandom.
/// Sendable: only `let`s.
final class DeviceNode: Inode, @unchecked Sendable {
    let deviceKind: DeviceFile.Kind
    init(kind: DeviceFile.Kind) { deviceKind = kind }
    override var kind: FileKind { .character }
    override func stat() throws(Errno) -> Glibc.stat { try DeviceFile(deviceKind, flags: []).stat() }
    override func statfs() throws(Errno) -> sw_statfs { syntheticStatfs(TmpFS.magic) }
    override func open(_ flags: OpenFlags, at location: Location, _ ctx: WalkContext) throws(Errno) -> FileDescription {
        if flags.contains(.directory) { throw .ENOTDIR }
        let f = DeviceFile(deviceKind, flags: OpenFlags(rawValue: flags.rawValue & ~OpenFlags.closeOnExec.rawValue))
        f.location = location
        return f
    }
    override func setAttributes(_ a: InodeAttributes) throws(Errno) {
        if a.size != nil { return }   // O_TRUNC and truncate on a device do nothing
        throw .EPERM
    }
}

/// /dev/tty: the controlling terminal of the sentry, which the user already
/// gave the guest as its stdin/stdout; ENXIO when the sentry has none.
/// Sendable: no stored state.
final class TerminalNode: Inode, @unchecked Sendable {
    override var kind: FileKind { .character }
    override func stat() throws(Errno) -> Glibc.stat {
        var st = Glibc.stat.synthetic(mode: S_IFCHR | 0o666, inode: 1005, device: DevFS.device)
        st.st_rdev = 5 << 8   // major 5, minor 0
        return st
    }
    override func open(_ flags: OpenFlags, at location: Location, _ ctx: WalkContext) throws(Errno) -> FileDescription {
        let acc = flags.rawValue & (OpenFlags.accessMode | OpenFlags.nonBlock.rawValue)
        let fd = Glibc.open("/dev/tty", acc | O_NOCTTY | O_CLOEXEC)
        if fd < 0 { throw .ENXIO }
        return HostFile(fd: fd, flags: OpenFlags(rawValue: flags.rawValue & ~OpenFlags.closeOnExec.rawValue), location: location)
    }
}
