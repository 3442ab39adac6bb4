import CSwitch
import Glibc

/// What /proc needs to know about a process.
public protocol ProcessView: AnyObject {
    var pid: Int32 { get }
    var executablePath: String { get }
    var commandLine: [String] { get }
    var environment: [String] { get }
    var fdTable: FDTable { get }
    var memory: MemoryManager { get }
}

/// The guest's filesystem: the host root (read-only), with the sentry's own
/// /proc and /dev laid over it.
///
/// Paths under /proc and /dev are decided lexically (after `.`/`..`
/// folding); everything else goes to the host kernel beneath the root. A host
/// symlink that leads into the host's /proc or /sys ends in ENOENT rather
/// than in the host's files.
public final class VFS: Sendable {
    public let root: HostRoot

    public init(root: HostRoot) { self.root = root }

    /// `path` made absolute against `base` (a guest directory), unnormalized
    /// so the host still resolves `..` after symlinks as Linux does.
    public static func join(_ base: String, _ path: String) -> String {
        if path.hasPrefix("/") { return path }
        return base.hasSuffix("/") ? base + path : base + "/" + path
    }

    /// Lexical normal form: no `.`, no `..`, no repeated or trailing slashes.
    public static func normalize(_ path: String) -> String {
        var out: [Substring] = []
        for c in path.split(separator: "/", omittingEmptySubsequences: true) {
            if c == "." { continue }
            if c == ".." { _ = out.popLast(); continue }
            out.append(c)
        }
        return "/" + out.joined(separator: "/")
    }

    // MARK: - The sentry's own nodes

    enum Node {
        case device(DeviceFile.Kind)
        case directory([SyntheticDirectory.Entry])
        case snapshot(() -> [UInt8])
        case symlink(String)
        /// /proc/<pid>/fd/N and /proc/<pid>/exe: a link to an open file.
        case fileLink(String, reopen: (OpenFlags) throws(Errno) -> FileDescription)
    }

    /// nil: not a sentry path (ask the host). Throws ENOENT for missing sentry paths.
    func syntheticNode(_ normalized: String, _ proc: ProcessView) throws(Errno) -> Node? {
        let parts = normalized.split(separator: "/").map(String.init)
        guard let top = parts.first, top == "proc" || top == "dev" else { return nil }
        if top == "dev" {
            if parts.count == 1 {
                return .directory(DeviceFile.Kind.allCases.map { .init(name: $0.rawValue, type: 2) }
                    + ["fd", "stdin", "stdout", "stderr"].map { .init(name: $0, type: 10) })
            }
            guard parts.count == 2 else {
                if parts[1] == "fd" { return try syntheticNode("/proc/\(proc.pid)/fd/" + parts[2...].joined(separator: "/"), proc) }
                throw .ENOENT
            }
            if let k = DeviceFile.Kind(rawValue: parts[1]) { return .device(k) }
            switch parts[1] {
            case "fd": return .symlink("/proc/self/fd")
            case "stdin": return .symlink("/proc/self/fd/0")
            case "stdout": return .symlink("/proc/self/fd/1")
            case "stderr": return .symlink("/proc/self/fd/2")
            default: throw .ENOENT
            }
        }
        if parts.count == 1 {
            return .directory([.init(name: "self", type: 10), .init(name: String(proc.pid), type: 4)])
        }
        if parts[1] == "self" {
            if parts.count == 2 { return .symlink(String(proc.pid)) }
            return try syntheticNode("/proc/\(proc.pid)/" + parts[2...].joined(separator: "/"), proc)
        }
        guard parts[1] == String(proc.pid) else { throw .ENOENT }
        if parts.count == 2 {
            return .directory(["exe", "fd"].map { .init(name: $0, type: $0 == "exe" ? 10 : 4) }
                + ["maps", "cmdline", "environ"].map { .init(name: $0, type: 8) })
        }
        switch (parts[2], parts.count) {
        case ("maps", 3): return .snapshot { Array(proc.memory.mapsText().utf8) }
        case ("cmdline", 3): return .snapshot { proc.commandLine.flatMap { Array($0.utf8) + [0] } }
        case ("environ", 3): return .snapshot { proc.environment.flatMap { Array($0.utf8) + [0] } }
        case ("exe", 3):
            let exe = proc.executablePath
            return .fileLink(exe) { [self] (flags: OpenFlags) throws(Errno) -> FileDescription in try self.openHost(exe, flags: flags, mode: 0) }
        case ("fd", 3):
            return .directory(proc.fdTable.descriptors.map { .init(name: String($0.rawValue), type: 10) })
        case ("fd", 4):
            guard let n = Int32(parts[3]), let e = proc.fdTable.entry(FileDescriptor(n)) else { throw .ENOENT }
            let file = e.file
            return .fileLink(file.displayPath) { [self] (flags: OpenFlags) throws(Errno) -> FileDescription in
                if let dev = file as? DeviceFile { return DeviceFile(dev.kind, flags: flags) }
                guard let hfd = file.hostFD else { throw .ENXIO }
                let fd = try self.root.reopen(hfd, flags: flags.rawValue & ~(OpenFlags.create.rawValue | OpenFlags.exclusive.rawValue | OpenFlags.closeOnExec.rawValue))
                return HostFile(fd: fd, flags: flags, root: self.root, path: file.displayPath)
            }
        default: throw .ENOENT
        }
    }

    /// Follows sentry symlinks (all but the last component's, unless `followLast`).
    func resolveSynthetic(_ path: String, _ proc: ProcessView, followLast: Bool) throws(Errno) -> (String, Node?) {
        var p = Self.normalize(path)
        for _ in 0..<40 {
            guard let node = try syntheticNode(p, proc) else { return (p, nil) }
            guard case .symlink(let target) = node, followLast else { return (p, node) }
            let parent = p.deletingLastComponent
            p = Self.normalize(Self.join(parent, target))
        }
        throw .ELOOP
    }

    // MARK: - Operations

    /// The host-backed guest path execve should load for `path`: sentry
    /// links such as /proc/self/exe lead to the file they name; other
    /// sentry nodes are not executable.
    public func executablePath(_ path: String, proc: ProcessView) throws(Errno) -> String {
        var p = path
        for _ in 0..<8 {
            let (resolved, node) = try resolveSynthetic(p, proc, followLast: true)
            guard let node else { return resolved == Self.normalize(p) ? p : resolved }
            guard case .fileLink(let target, _) = node else { throw .EACCES }
            p = target
        }
        throw .ELOOP
    }

    public func open(_ path: String, flags: OpenFlags, mode: UInt32, proc: ProcessView) throws(Errno) -> FileDescription {
        if path.isEmpty { throw .ENOENT }
        let (p, node) = try resolveSynthetic(path, proc, followLast: !flags.contains(.noFollow))
        guard let node else { return try openHost(p == Self.normalize(path) ? path : p, flags: flags, mode: mode) }
        if flags.contains(.create) && flags.contains(.exclusive) { throw .EEXIST }
        switch node {
        case .device(let k):
            if flags.contains(.directory) { throw .ENOTDIR }
            return DeviceFile(k, flags: flags)
        case .directory(let entries):
            if flags.writable { throw .EISDIR }
            return SyntheticDirectory(path: p, entries: entries, flags: flags)
        case .snapshot(let make):
            if flags.contains(.directory) { throw .ENOTDIR }
            if flags.writable { throw .EACCES }
            return SnapshotFile(path: p, contents: make(), flags: flags)
        case .symlink:
            throw .ELOOP   // O_NOFOLLOW on a symlink
        case .fileLink(_, let reopen):
            if flags.contains(.noFollow) { throw .ELOOP }
            return try reopen(flags)
        }
    }

    /// Opens a host file beneath the root: read-only, no devices.
    func openHost(_ path: String, flags: OpenFlags, mode: UInt32) throws(Errno) -> FileDescription {
        let wantsWrite = flags.writable || flags.contains(.truncate)
        let found: (fd: Int32, stat: Glibc.stat)
        do {
            found = try root.lookup(path, followLast: !flags.contains(.noFollow) && !(flags.contains(.create) && flags.contains(.exclusive)),
                                    directory: flags.contains(.directory))
        } catch .ENOENT where flags.contains(.create) && !path.hasSuffix("/") {
            // Creating: if the parent exists, the answer is the read-only root's.
            let parent = path.deletingLastComponent
            let (pfd, pst) = try root.lookup(parent)
            close(pfd)
            throw pst.st_mode & S_IFMT == S_IFDIR ? .EROFS : .ENOTDIR
        }
        defer { close(found.fd) }
        let type = found.stat.st_mode & S_IFMT
        if flags.contains(.create) && flags.contains(.exclusive) { throw .EEXIST }
        if type == S_IFLNK { throw .ELOOP }  // O_NOFOLLOW met a symlink
        if type == S_IFDIR && wantsWrite { throw .EISDIR }
        if wantsWrite { throw .EROFS }
        if flags.contains(.path) {
            let fd = fcntl(found.fd, F_DUPFD_CLOEXEC, 0)
            if fd < 0 { throw Errno(errno) }
            return HostFile(fd: fd, flags: flags, root: root, path: path)
        }
        switch type {
        case S_IFCHR, S_IFBLK: throw .EACCES   // host devices are never the guest's
        case S_IFSOCK: throw .ENXIO
        default: break
        }
        let hostFlags = flags.rawValue & (OpenFlags.accessMode | OpenFlags.nonBlock.rawValue | OpenFlags.directory.rawValue
                                          | OpenFlags.noATime.rawValue | OpenFlags.largeFile.rawValue)
        let fd = try root.reopen(found.fd, flags: hostFlags)
        return HostFile(fd: fd, flags: OpenFlags(rawValue: flags.rawValue & ~OpenFlags.closeOnExec.rawValue), root: root, path: path)
    }

    /// stat/lstat of a path.
    public func stat(_ path: String, followLast: Bool, proc: ProcessView) throws(Errno) -> Glibc.stat {
        if path.isEmpty { throw .ENOENT }
        let (p, node) = try resolveSynthetic(path, proc, followLast: followLast)
        if let node {
            switch node {
            case .device(let k): return try DeviceFile(k, flags: []).stat()
            case .directory: return try SyntheticDirectory(path: p, entries: [], flags: []).stat()
            case .snapshot: return try SnapshotFile(path: p, contents: [], flags: []).stat()
            case .symlink, .fileLink:
                if followLast, case .fileLink(_, let reopen) = node { return try reopen(OpenFlags(rawValue: 0)).stat() }
                var st = Glibc.stat()
                st.st_mode = S_IFLNK | 0o777
                st.st_nlink = 1
                st.st_dev = 5
                return st
            }
        }
        let (fd, st) = try root.lookup(path, followLast: followLast)
        close(fd)
        return st
    }

    /// statx of a path (the host fills everything it knows).
    public func statx(_ path: String, followLast: Bool, mask: UInt32, proc: ProcessView) throws(Errno) -> CSwitch.statx {
        if path.isEmpty { throw .ENOENT }
        let (_, node) = try resolveSynthetic(path, proc, followLast: followLast)
        if node != nil { return FileDescription.statxFrom(try stat(path, followLast: followLast, proc: proc)) }
        let (fd, _) = try root.lookup(path, followLast: followLast)
        defer { close(fd) }
        var x = CSwitch.statx()
        let r = sw_statx(fd, "", SW_AT_EMPTY_PATH | SW_AT_SYMLINK_NOFOLLOW, mask, &x)
        if r < 0 { throw Errno(Int32(-r)) }
        return x
    }

    public func readlink(_ path: String, proc: ProcessView) throws(Errno) -> String {
        if path.isEmpty { throw .ENOENT }
        let (_, node) = try resolveSynthetic(path, proc, followLast: false)
        if let node {
            switch node {
            case .symlink(let t): return t
            case .fileLink(let t, _): return t
            default: throw .EINVAL
            }
        }
        let (fd, st) = try root.lookup(path, followLast: false)
        defer { close(fd) }
        guard st.st_mode & S_IFMT == S_IFLNK else { throw .EINVAL }
        var buf = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let n = readlinkat(fd, "", &buf, Int(PATH_MAX))
        if n < 0 { throw Errno(errno) }
        return String(decoding: buf[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// access/faccessat: F_OK/R_OK/W_OK/X_OK against the guest's view.
    public func access(_ path: String, mode: Int32, followLast: Bool, proc: ProcessView) throws(Errno) {
        if path.isEmpty { throw .ENOENT }
        let (_, node) = try resolveSynthetic(path, proc, followLast: followLast)
        if let node {
            if case .device = node { if mode & 1 != 0 { throw .EACCES }; return }
            if case .snapshot = node { if mode & 3 != 0 { throw .EACCES } }
            if case .directory = node { if mode & 2 != 0 { throw .EACCES } }
            return
        }
        let (fd, st) = try root.lookup(path, followLast: followLast)
        defer { close(fd) }
        if mode & 2 != 0 { throw .EROFS }
        if mode & 5 != 0 {
            let r = sw_faccessat2_bridge(fd, mode & 5)
            if r < 0 { throw Errno(Int32(-r)) }
        }
        _ = st
    }

    /// The guest path of a directory (chdir's answer; getcwd reports it).
    public func directory(_ path: String, proc: ProcessView) throws(Errno) -> String {
        if path.isEmpty { throw .ENOENT }
        let (p, node) = try resolveSynthetic(path, proc, followLast: true)
        if let node {
            guard case .directory = node else { throw .ENOTDIR }
            return p
        }
        let (fd, _) = try root.lookup(path, directory: true)
        defer { close(fd) }
        guard let host = root.hostPath(of: fd), let g = root.guestPath(fromHost: host) else { return Self.normalize(path) }
        return g
    }
}

/// Path helpers without Foundation.
extension String {
    var deletingLastComponent: String {
        let n = VFS.normalize(self)
        guard let i = n.lastIndex(of: "/"), i != n.startIndex else { return "/" }
        return String(n[..<i])
    }
}
