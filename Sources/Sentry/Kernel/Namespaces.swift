import Glibc
import Synchronization

/// The sandbox's namespaces: one of each kind, which every task of the
/// sandbox is in (there is no unshare or clone(CLONE_NEW*) to make more).
/// /proc/PID/ns names them by nsfs inode numbers that are the sandbox's
/// own, as a container's are: allocated past the ones Linux gives its
/// initial namespaces, distinct for each sandbox.
public struct Namespaces: Sendable {
    public struct Kind: Sendable {
        public let name: String
        /// Its CLONE_NEW* flag (ns->ops->type).
        public let type: UInt64
    }
    public static let CLONE_NEWTIME: UInt64 = 0x80, CLONE_NEWNS: UInt64 = 0x2_0000, CLONE_NEWCGROUP: UInt64 = 0x200_0000
    public static let CLONE_NEWUTS: UInt64 = 0x400_0000, CLONE_NEWIPC: UInt64 = 0x800_0000, CLONE_NEWUSER: UInt64 = 0x1000_0000
    public static let CLONE_NEWPID: UInt64 = 0x2000_0000, CLONE_NEWNET: UInt64 = 0x4000_0000
    public static let all: UInt64 = CLONE_NEWTIME | CLONE_NEWNS | CLONE_NEWCGROUP | CLONE_NEWUTS | CLONE_NEWIPC
        | CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNET
    /// In the order /proc/PID/ns lists them (proc_ns_dir_readdir's ns_entries).
    public static let kinds: [Kind] = [
        Kind(name: "net", type: CLONE_NEWNET), Kind(name: "uts", type: CLONE_NEWUTS), Kind(name: "ipc", type: CLONE_NEWIPC),
        Kind(name: "pid", type: CLONE_NEWPID), Kind(name: "user", type: CLONE_NEWUSER), Kind(name: "mnt", type: CLONE_NEWNS),
        Kind(name: "cgroup", type: CLONE_NEWCGROUP), Kind(name: "time", type: CLONE_NEWTIME),
    ]
    /// /proc/PID/ns entries in ns_entries' order, the two *_for_children
    /// links naming the task's own pid and time namespaces here.
    public static let entries: [(entry: String, kind: Kind)] = [
        ("net", kinds[0]), ("uts", kinds[1]), ("ipc", kinds[2]), ("pid", kinds[3]), ("pid_for_children", kinds[3]),
        ("user", kinds[4]), ("mnt", kinds[5]), ("cgroup", kinds[6]), ("time", kinds[7]), ("time_for_children", kinds[7]),
    ]

    /// proc_alloc_inum's first number (PROC_DYNAMIC_FIRST); Linux's initial
    /// namespaces take the few just below and above it.
    static let dynamicFirst: UInt64 = 0xF000_0000
    private static let sandboxes = Atomic<UInt64>(0)

    /// Inode number by CLONE_NEW* type.
    public let inodes: [UInt64: UInt64]

    public init() {
        // Distinct for each sandbox of this sentry and, through the host
        // pid, from other sentries' (an nsfs number is an unsigned int).
        let n = Self.sandboxes.add(1, ordering: .relaxed).oldValue % 16
        let sandbox = UInt64(UInt32(bitPattern: getpid()) & 0xF_FFFF) << 4 | n
        let base = Self.dynamicFirst + 0x100 + sandbox * UInt64(Self.kinds.count)
        var m: [UInt64: UInt64] = [:]
        for (i, k) in Self.kinds.enumerated() { m[k.type] = base + UInt64(i) }
        inodes = m
    }

    private init(inodes: [UInt64: UInt64]) { self.inodes = inodes }
    /// For walks with no sandbox yet (mount set-up), which show no /proc.
    public static let none = Namespaces(inodes: [:])

    public func inode(of k: Kind) -> UInt64 { inodes[k.type] ?? 0 }
}

/// An open /proc/PID/ns/X (nsfs): what setns(2) takes.
/// Sendable: only `let`s.
public final class NamespaceFile: FileDescription, @unchecked Sendable {
    public let kind: Namespaces.Kind
    public let inode: UInt64
    /// nsfs's device (an anonymous superblock's, 0:4 on a booted Linux).
    static let device: UInt64 = 4

    public init(kind: Namespaces.Kind, inode: UInt64, flags: OpenFlags) {
        self.kind = kind
        self.inode = inode
        super.init(flags: flags)
    }

    public override var displayPath: String { "\(kind.name):[\(inode)]" }
    public override func reopen(_ flags: OpenFlags) throws(Errno) -> FileDescription {
        if flags.writable { throw .EPERM }   // nsfs inodes are S_IMMUTABLE: inode_permission's EPERM
        return NamespaceFile(kind: kind, inode: inode, flags: flags)
    }
    public override func stat() throws(Errno) -> Glibc.stat {
        .synthetic(mode: S_IFREG | 0o444, inode: inode, device: Self.device)
    }
}

extension PidFD {
    /// The process has a thread still (validate_nsset's ESRCH otherwise).
    public var hasLiveThread: Bool { kernel.locked { !group.tasks.isEmpty } }
}

extension Task {
    /// Another task shares this one's root, cwd and umask (CLONE_FS): what
    /// Linux sees as `fs->users != 1` (setns of a mount namespace refuses it).
    public var fsShared: Bool { kernel.locked { kernel.tasks.values.contains { $0 !== self && $0.fs === fs } } }
}

extension Task {
    /// current_is_single_threaded: no other task uses this one's memory
    /// (its threads, a CLONE_VM child, a vfork parent).
    public var singleThreaded: Bool { kernel.locked { !kernel.tasks.values.contains { $0 !== self && $0.mm === mm } } }
}
