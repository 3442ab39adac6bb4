import FoundationEssentials
import Glibc

/// A checkpoint image: a directory with `manifest.json` (this, versioned)
/// and `pages.bin` (the page store: the memory file's used pages, zero
/// pages left out, each extent with its CRC32C) and `files.bin` (the
/// contents of tmpfs files and pipe buffers, likewise checksummed).
///
/// Objects that tasks share (an mm, an fd table, an open file description,
/// signal handlers, a working directory) appear once and are named by
/// their index, so a restore shares them the same way.
public struct CheckpointManifest: Codable, Sendable {
    public static let formatName = "sentry-checkpoint"
    /// Bumped for any change a reader of the previous version would misread.
    /// 2: POSIX and CPU-time timers, CPU clocks, seccomp filters, memfds.
    /// 3: sockets (AF_UNIX and the sandbox loopback's TCP and UDP), socket
    /// nodes in tmpfs, oom_score_adj, --overlay roots.
    /// 4: checksums are CRC32C; page runs are extents with a bitmap of the
    /// pages they hold (`StoredRun.present`), zero pages between them left out.
    /// 5: guest ptrace links (`TaskImage.ptrace`), the restart of a call a
    /// freeze cut short (`TaskImage.freezeRestart`), the sandbox's boot; a
    /// version 4 image, which has none of them, is read as it is.
    /// 6: Landlock domains and ruleset descriptors (`landlockDomains`,
    /// `TaskImage.landlockDomain`, `FileImage.landlock`); an image without
    /// either is written as version 5, which it is, since only they would
    /// be lost on a version 5 reader (which would restore the task unconfined).
    public static let currentVersion = 6
    public static let versionWithoutLandlock = 5
    /// The oldest version this reader takes: every field added since is optional.
    public static let oldestReadable = 4

    public var format = formatName
    public var version = currentVersion
    public var sentryVersion = "0.1"
    /// ISO 8601, UTC.
    public var created: String
    public var platform: String
    /// CLOCK_MONOTONIC at the checkpoint, and the host boot it belongs to:
    /// the guest's monotonic clock is the host's, so a restore must not
    /// make it go backwards.
    public var monotonicNs: Int64
    public var bootID: String
    /// The guest's monotonic offset from the host's at the checkpoint (see
    /// GuestClock): a restore in the same boot keeps it; one in another boot
    /// makes a new one so the clock goes on from `monotonicNs` (version 2).
    public var monotonicOffsetNs: Int64?
    public var sandbox: SandboxImage
    public var memory: MemoryImage
    public var mms: [MMImage]
    public var pipes: [PipeImage]
    public var files: [FileImage]
    public var fdTables: [FDTableImage]
    public var fsContexts: [FSContextImage]
    public var handlers: [[SignalActionImage]]
    public var tmpfs: [TmpfsImage]
    public var processes: [ProcessImage]
    public var tasks: [TaskImage]
    /// Every seccomp filter the tasks' chains hold, each after the one it
    /// was attached over (version 2).
    public var seccompFilters: [SeccompFilterImage]?
    /// Their USER_NOTIF listeners, with the notifications pending (optional in version 5).
    public var seccompListeners: [SeccompListenerImage]? = nil
    /// memfd_create's files, held by an fd or a mapping (version 2).
    public var memfds: [MemfdImage]?
    /// System V IPC and POSIX message queues (version 2).
    public var sysv: SysVImage?
    public var mqueues: [PosixMQImage]?
    /// /proc/sys/fs/mqueue's values, when a guest changed them (optional in version 4).
    public var mqueueLimits: PosixMQNamespace.Limits?
    /// The sandbox's own sockets, each once (version 3).
    public var sockets: [SocketImage]?
    /// Pseudo-terminal pairs an fd holds (optional in version 5).
    public var ptys: [PtyImage]? = nil
    public var initPID: Int32
    /// The process group the guest made the terminal's foreground (TIOCSPGRP): where Ctrl-C goes.
    public var foregroundPGID: Int32?
    /// Sizes of the two data files, to spot a truncated one at once.
    public var pagesSize: UInt64
    public var filesSize: UInt64
    /// The sandbox's boot on the guest's CLOCK_MONOTONIC (ns): /proc/uptime,
    /// sysinfo and process start times go on from it (version 5; absent:
    /// the restore is the boot).
    public var bootTimeNs: Int64? = nil
    /// fs.protected_* and ping_group_range, when a guest changed them (optional).
    public var sysctls: SandboxSysctls.Values? = nil
    /// The numbers the sandbox hands out next, which a guest sees (optional:
    /// without them the restored sandbox counts from its own start).
    public var counters: CountersImage? = nil
    /// Tracees that died and whose tracers have not waited for them (absent: none).
    public var deadTracees: [DeadTraceeImage]? = nil
    /// The Landlock domains tasks are confined by, each once (version 6; absent: none).
    public var landlockDomains: [LandlockDomainImage]? = nil
}

/// A tracee dead and not yet waited for by its tracer: what that wait
/// reports (its tid, its process, the status) and the link it goes with
/// (a process leader's parent hears of its death only after the tracer's wait).
public struct DeadTraceeImage: Codable, Sendable, Equatable {
    public var tid: Int32
    public var pid: Int32
    public var tracer: Int32
    public var seized: Bool
    public var options: UInt32
    public var status: ExitStatusImage
}

/// What the sandbox's counters give next: a restored guest's next ephemeral
/// port, autobind name and inode numbers are those it would have had.
/// (Each tmpfs mount's counter is with its tree, `TmpfsImage.nextInode`.)
public struct CountersImage: Codable, Sendable, Equatable {
    /// The loopback's next ephemeral port (the walk of ip_local_port_range).
    public var nextEphemeralPort: UInt16?
    /// The number of the next AF_UNIX autobind name.
    public var nextAutobind: UInt32?
    /// The next socket inode number.
    public var nextSocketInode: UInt64?
    /// The next inode numbers of the memfd filesystem and of an --overlay root's upper layer.
    public var nextMemfdInode: UInt64?
    public var nextOverlayInode: UInt64?
    /// The next pipe inode number.
    public var nextPipeInode: UInt64? = nil
}

public struct SandboxImage: Codable, Sendable, Equatable {
    public var root: String
    public var binds: [BindImage]
    public var hostname: String
    public var network: String
    /// `--overlay`: the upper layer's tree (whiteouts as character nodes, an
    /// opaque directory's marker as its child named ""), and the lower files
    /// the guest copied up, as they must still be (version 3).
    public var overlay: Bool?
    public var overlayUpper: TmpfsNodeImage?
    public var overlayLower: [HostFileIdentity]?
    public struct BindImage: Codable, Sendable, Equatable { public var host: String; public var guest: String; public var readOnly: Bool }
}

/// A run of bytes in a data file: where it goes, where it is, its checksum.
public struct StoredRun: Codable, Sendable, Equatable {
    /// Memory-file offset (pages.bin) or file offset (files.bin).
    public var offset: UInt64
    public var length: UInt64
    /// Where the bytes are in the data file.
    public var store: UInt64
    /// Of the bytes before any compression.
    public var checksum: UInt64
    /// Compressed (zlib): how many bytes the data file holds for the run (version 2).
    public var compressed: UInt64?
    /// A page run's extent (version 4): which pages from `offset` on it
    /// holds, the others zero pages left out: hex digits, digit k's bit j
    /// for page 4k+j. `length` is the bytes held, those pages back to back.
    /// Absent: `length` bytes from `offset`, every page held.
    public var present: String?
}

public struct MemoryImage: Codable, Sendable, Equatable {
    /// The memory-file runs mappings hold, sorted and disjoint.
    public var allocated: [Range<UInt64>]
    /// Runs with more than one owner, and how many beyond the first.
    public var shares: [ShareImage]
    /// The pages that hold data; the rest of `allocated` reads as zeros.
    public var runs: [StoredRun]
    public var zeroPagesSkipped: UInt64
    public struct ShareImage: Codable, Sendable, Equatable { public var range: Range<UInt64>; public var extra: Int }
    /// The runs of host files mapped MAP_SHARED (the sentry's HostPageCache),
    /// each owned once more by the cache (counted in `shares`); absent: none.
    public var hostFileRuns: [HostFileRunImage]? = nil
}

/// One run of a host file's pages that its MAP_SHARED mappings share: the
/// file by the guest path its mappings name (`VMAImage.file`), the range of
/// the file and of the memory file, whether the sentry could write it back
/// (a mapper had it open for writing), and the pages whose bytes differ from
/// what the file had when last read or written (beyond its end), each as
/// [page index, the hash the cache kept]: a checkpoint writes every other
/// changed page back first, so the file holds them.
public struct HostFileRunImage: Codable, Sendable, Equatable {
    public var guestPath: String
    public var fileOffset: UInt64
    public var length: UInt64
    public var memOffset: UInt64
    public var writable: Bool
    public var unsynced: [[UInt64]]?
}

public struct MMImage: Codable, Sendable, Equatable {
    public var vmas: [VMAImage]
    public var brkStart: UInt64
    public var brk: UInt64
}

public struct VMAImage: Codable, Sendable, Equatable {
    public var start: UInt64
    public var end: UInt64
    public var prot: UInt32
    public var maxProt: UInt32
    public var shared: Bool
    public var memOffset: UInt64
    public var name: String?
    /// A mapping of a host file, checked unchanged on restore: a private
    /// one's pages are copies in the memory file (the file is reopened for
    /// its identity); a MAP_SHARED one's are its file's run in
    /// `memory.hostFileRuns`, and the file is reopened through the sandbox's
    /// mounts by its guest path, for writing if `fileWritable`.
    public var file: HostFileIdentity?
    public var fileWritable: Bool?
    public var fileOffset: UInt64?
    /// A mapping of a tmpfs file (by its path, which must still reach it)
    /// or of a memfd (by index in `memfds`); `fileOffset` is where (version 2).
    public var tmpfsPath: String?
    public var memfd: Int?
    /// A System V segment's attachment: by index in `sysv.shm`.
    public var shm: Int?
    /// MADV_DONTFORK / MADV_WIPEONFORK, and mbind's policy (version 2).
    public var dontCopy: Bool?
    public var wipeOnFork: Bool?
    public var policy: MemoryPolicyImage?
    /// Soft-dirty state since a `clear_refs` 4 (VMA.softDirty, VMA.softClean);
    /// absent: a mapping new since then, all of it soft-dirty.
    public var softDirty: Bool?
    public var softClean: Bool?
}

/// A NUMA memory policy as set_mempolicy/mbind took it: mode and flags in
/// one word, the node mask, and the home node; rebuilt through the same
/// checks on restore, so a forged one is refused.
public struct MemoryPolicyImage: Codable, Sendable, Equatable {
    public var mode: Int32
    public var mask: [UInt64]
    public var homeNode: UInt64?

    init(_ p: MemoryPolicy) {
        let userMasks = p.flags & (MemoryPolicy.MPOL_F_STATIC_NODES | MemoryPolicy.MPOL_F_RELATIVE_NODES) != 0
        mode = p.mode | p.flags
        mask = userMasks ? p.userNodes : [p.nodes]
        homeNode = p.homeNode
    }

    func policy() throws(CheckpointError) -> MemoryPolicy {
        do {
            let (m, f) = try MemoryPolicy.split(mode)
            guard var p = try MemoryPolicy.make(mode: m, flags: f, mask: mask) else { throw Errno.EINVAL }
            if let homeNode {
                guard homeNode < 64, MemoryPolicy.onlineNodes & (1 << homeNode) != 0 else { throw Errno.EINVAL }
                p.homeNode = homeNode
            }
            return p
        } catch {
            throw .corrupt("a memory policy (mode \(mode)) that set_mempolicy would refuse")
        }
    }
}

/// A memfd: its node as a tmpfs keeps one (name: the dentry's, "memfd:NAME
/// (deleted)"), and its seals.
public struct MemfdImage: Codable, Sendable, Equatable {
    public var node: TmpfsNodeImage
    public var seals: UInt32
    /// A tmpfs file unlinked while open (an orphan) rather than a memfd:
    /// the tmpfs mount it is on, the directory it was in (when that is
    /// still there), and whether linkat may name it again (O_TMPFILE
    /// without O_EXCL).
    public var mountPath: String?
    public var parentPath: String?
    public var linkable: Bool?
    /// Unlinked from the name it was opened by but linked elsewhere: the
    /// node is the tree's at this guest path (`node` then gives the name alone).
    public var linkedAt: String? = nil
}

/// A host file as a restore finds it again: by path, checked by size and mtime.
public struct HostFileIdentity: Codable, Sendable, Equatable {
    public var hostPath: String
    /// The path the guest knows it by (/proc/self/maps).
    public var guestPath: String
    public var size: Int64
    public var mtimeSec: Int64
    public var mtimeNsec: Int64
    /// A host file deleted while mapped shared: its contents at the
    /// checkpoint (in files.bin), which a restore maps from an unlinked copy
    /// (`guestPath` then ends in " (deleted)"; optional in version 5).
    public var deletedContents: StoredRun? = nil
    /// The host file's device and inode number (optional): a file some
    /// mapping shares (MAP_SHARED) is checked by them rather than by size
    /// and mtime, since its writers (the original of a `--leave-running`
    /// snapshot among them) may have changed it since, as other processes
    /// sharing a file may on Linux; the restore then takes what it holds now.
    public var device: UInt64? = nil
    public var inode: UInt64? = nil
    /// Its birth time, where the host's filesystem keeps one (optional):
    /// with device and inode, what tells it from a file that replaced it
    /// and was given its freed inode number.
    public var birthSec: Int64? = nil
    public var birthNsec: Int64? = nil
}

public struct PipeImage: Codable, Sendable, Equatable {
    public var capacity: Int
    /// The buffered bytes (in files.bin; `offset` unused).
    public var contents: StoredRun
    /// Its inode number (`pipe:[N]`; absent: a new one).
    public var inode: UInt64? = nil
}

/// One open file description.
public struct FileImage: Codable, Sendable, Equatable {
    public enum Kind: String, Codable, Sendable { case stdio, pipe, eventfd, path, epoll, memfd, mqueue, socket, timerfd, signalfd, pidfd, pty, inotify, seccompNotify, landlockRuleset }
    public var kind: Kind
    public var flags: Int32
    /// stdio: which of the sentry's 0, 1, 2 it was.
    public var stdio: Int32?
    /// pipe: which pipe, which end.
    public var pipe: Int?
    public var writer: Bool?
    /// eventfd: the counter and EFD_SEMAPHORE.
    public var counter: UInt64?
    public var semaphore: Bool?
    /// path: a file opened by path (a host or tmpfs file or directory, an
    /// O_PATH descriptor, a /proc or /sys file), reopened the same way;
    /// `position` a file's offset or a directory's cursor.
    public var guestPath: String?
    public var position: Int64?
    /// path on a host filesystem: what it must still be.
    public var host: HostFileIdentity?
    /// memfd: which, by index in `memfds` (`position` its offset).
    public var memfd: Int?
    /// mqueue: which, by index in `mqueues`.
    public var mqueue: Int?
    /// socket: which, by index in `sockets`.
    public var socket: Int?
    /// epoll: the interest list, each file by its index in `files`.
    public var interests: [EpollInterestImage]?
    /// timerfd: its clock, the time to its next expiration (nil: disarmed),
    /// its interval, and the expirations not yet read (in `counter`).
    public var clock: Int32?
    public var remainingNs: Int64?
    public var intervalNs: Int64?
    /// signalfd: the signals it reads.
    public var mask: UInt64?
    /// pidfd: the process it refers to (in the image, maybe a zombie; or,
    /// `reaped`, one waited for already, which only its pid names).
    public var pid: Int32?
    public var reaped: Bool?
    /// pty: which pair, by index in `ptys`, and which end.
    public var pty: Int?
    public var master: Bool?
    /// inotify: its watches and unread events.
    public var inotify: InotifyImage?
    /// seccompNotify: the listener, by index in `seccompListeners`.
    public var listener: Int? = nil
    /// landlockRuleset: the ruleset landlock_add_rule built (version 6).
    public var landlock: LandlockRulesetImage? = nil
}

/// An inotify instance: its owner (whose limits it counts against), the
/// next wd tried, its watches by the (device, inode) they are on, and the
/// events not yet read (an IN_Q_OVERFLOW among them, wd -1).
public struct InotifyImage: Codable, Sendable, Equatable {
    public struct Watch: Codable, Sendable, Equatable {
        public var wd: Int32
        public var device: UInt64, inode: UInt64
        public var directory: Bool
        public var mask: UInt32
    }
    public struct Event: Codable, Sendable, Equatable {
        public var wd: Int32, mask: UInt32, cookie: UInt32
        public var name: [UInt8]
    }
    public var owner: UInt32
    public var cursor: Int32
    public var overflowQueued: Bool
    public var watches: [Watch]
    public var events: [Event]
}

/// A pseudo-terminal pair: its settings, the bytes each way, who owns it.
public struct PtyImage: Codable, Sendable, Equatable {
    /// N of /dev/pts/N.
    public var index: Int32
    /// struct termios (36 bytes) and struct winsize (8).
    public var termios: [UInt8]
    public var winsize: [UInt8]
    /// What the slave can read, where its completed canonical lines end,
    /// the line being edited, and what the master can read (in files.bin).
    public var input: StoredRun
    public var lineEnds: [Int]
    public var editing: StoredRun
    public var output: StoredRun
    public var locked: Bool
    public var masterOpen: Bool
    public var slaveEverOpened: Bool
    public var foregroundPGID: Int32
    public var session: Int32
    public var ownerUID: UInt32
}

public struct EpollInterestImage: Codable, Sendable, Equatable {
    public var fd: Int32
    public var file: Int
    public var events: UInt32
    public var data: UInt64
    public var disabled: Bool
}

public struct FDTableImage: Codable, Sendable, Equatable {
    public var entries: [Entry]
    public var limit: Int32
    public struct Entry: Codable, Sendable, Equatable { public var fd: Int32; public var file: Int; public var closeOnExec: Bool }
}

public struct FSContextImage: Codable, Sendable, Equatable {
    public var cwd: String
    public var root: String
    public var umask: UInt32
}

public struct SignalActionImage: Codable, Sendable, Equatable {
    public var handler: UInt64, flags: UInt64, restorer: UInt64, mask: UInt64
}

public struct SignalInfoImage: Codable, Sendable, Equatable {
    public var signo: Int32, code: Int32, errno: Int32, pid: Int32, uid: UInt32, status: Int32
    public var address: UInt64, value: UInt64, timerID: Int32, overrun: Int32, overridesInit: Bool
}

/// A tmpfs mount's tree.
public struct TmpfsImage: Codable, Sendable, Equatable {
    public var mountPath: String
    public var root: TmpfsNodeImage
    /// The inode number the mount's next file takes (absent in older images).
    public var nextInode: UInt64? = nil
}

public final class TmpfsNodeImage: Codable, Sendable, Equatable {
    public let name: String
    public let mode: UInt32
    public let uid: UInt32
    public let gid: UInt32
    public let mtimeSec: Int64, mtimeNsec: Int64
    public let atimeSec: Int64, atimeNsec: Int64
    public let xattrs: [String: [UInt8]]
    /// Regular files: the bytes, in files.bin.
    public let contents: StoredRun?
    /// A regular file mapped MAP_SHARED: instead of `contents`, its run of
    /// the memory file, which the page store holds with the mappings' pages
    /// (version 2).
    public let memory: MemoryRun?
    public struct MemoryRun: Codable, Sendable, Equatable {
        /// Memory-file offset (the image's), the run's length and the file's size.
        public var offset: UInt64
        public var capacity: UInt64
        public var size: Int64
    }
    /// Symlinks.
    public let target: String?
    public let children: [TmpfsNodeImage]
    /// Its inode number (absent in older images: the restore numbers it anew).
    public let ino: UInt64?
    /// Another name of a regular file: the inode number of the node an
    /// earlier entry of the same tree (in walk order) holds; nothing else here counts.
    public let link: UInt64?

    init(name: String, mode: UInt32, uid: UInt32, gid: UInt32, mtime: timespec, atime: timespec, xattrs: [String: [UInt8]],
         contents: StoredRun?, memory: MemoryRun? = nil, target: String?, children: [TmpfsNodeImage], ino: UInt64? = nil, link: UInt64? = nil) {
        self.ino = ino; self.link = link
        self.name = name; self.mode = mode; self.uid = uid; self.gid = gid
        mtimeSec = Int64(mtime.tv_sec); mtimeNsec = Int64(mtime.tv_nsec)
        atimeSec = Int64(atime.tv_sec); atimeNsec = Int64(atime.tv_nsec)
        self.xattrs = xattrs; self.contents = contents; self.memory = memory; self.target = target; self.children = children
    }

    public static func == (a: TmpfsNodeImage, b: TmpfsNodeImage) -> Bool {
        a.name == b.name && a.mode == b.mode && a.uid == b.uid && a.gid == b.gid && a.mtimeSec == b.mtimeSec
            && a.mtimeNsec == b.mtimeNsec && a.xattrs == b.xattrs && a.contents == b.contents && a.memory == b.memory && a.target == b.target
            && a.children == b.children && a.ino == b.ino && a.link == b.link
    }
}

public struct CredentialsImage: Codable, Sendable, Equatable {
    public var uid, euid, suid, fsuid, gid, egid, sgid, fsgid: UInt32
    public var groups: [UInt32]
    public var inheritable, permitted, effective, bounding, ambient: UInt64
    public var securebits: UInt32
}

public struct ProcessImage: Codable, Sendable, Equatable {
    public var pid: Int32
    public var parent: Int32?
    public var parentThreadID: Int32
    public var pgid: Int32
    public var sid: Int32
    public var exitSignal: Int32?
    /// A zombie: its status, not yet waited for.
    public var zombie: Bool
    public var exitStatus: ExitStatusImage?
    public var handlers: Int
    public var sharedPending: [SignalInfoImage]
    public var limits: [LimitImage]
    public var isChildSubreaper: Bool
    public var dumpable: Bool
    /// rusage of exited threads and of reaped children (version 3): user
    /// ns, system ns, max RSS (KiB), voluntary switches.
    public var exitedUsage: [Int64]
    public var childUsage: [Int64]
    /// ITIMER_REAL (and alarm): time left and interval, ns; nil when disarmed.
    public var realTimerNs: Int64?
    public var realIntervalNs: Int64?
    /// timer_create's timers (version 2).
    public var posixTimers: [PosixTimerImage]?
    /// ITIMER_VIRTUAL and ITIMER_PROF: time left in the process's CPU time (version 2).
    public var cpuTimers: [CPUTimerImage]?
    /// /proc/PID/oom_score_adj and the floor an unprivileged writer may not
    /// go below (oom_score_adj_min) (version 3).
    public var oomScoreAdj: Int16?
    public var oomScoreAdjMin: Int16?
    /// When the process started, on the guest's CLOCK_MONOTONIC (ns) as
    /// the image's boot is: /proc/PID/stat's starttime (absent: the restore's).
    public var startTimeNs: Int64? = nil
    public struct LimitImage: Codable, Sendable, Equatable { public var resource: Int32; public var cur: UInt64; public var max: UInt64 }
}

/// One POSIX timer: how it notifies, and its time left (ns) on its clock.
public struct PosixTimerImage: Codable, Sendable, Equatable {
    public var id: Int32
    public var clock: Int32
    /// nil: SIGEV_NONE.
    public var signal: Int32?
    public var value: UInt64
    /// SIGEV_THREAD_ID's thread.
    public var thread: Int32?
    /// nil: disarmed.
    public var remainingNs: Int64?
    public var intervalNs: Int64
    /// timer_getoverrun's answer (the overrun of the last signal taken).
    public var overrun: Int32
}

public struct CPUTimerImage: Codable, Sendable, Equatable {
    /// ITIMER_VIRTUAL (1) or ITIMER_PROF (2).
    public var which: Int32
    public var remainingNs: Int64
    public var intervalNs: Int64
}

/// One seccomp filter: its verified program (struct sock_filter, each
/// instruction as code | jt << 16 | jf << 24 | k << 32), FLAG_LOG, and the
/// filter it was attached over.
public struct SeccompFilterImage: Codable, Sendable, Equatable {
    public var instructions: [UInt64]
    public var log: Bool
    public var previous: Int?
    /// SECCOMP_FILTER_FLAG_NEW_LISTENER's listener, by index in `seccompListeners`.
    public var listener: Int? = nil
}

public struct ExitStatusImage: Codable, Sendable, Equatable {
    public var exited: Int32?
    public var signal: Int32?
    public var coreDumped: Bool?
}

/// Syscall User Dispatch as PTRACE_GET_SYSCALL_USER_DISPATCH_CONFIG
/// (struct ptrace_sud_config) exposes it: mode, the allowed range and the
/// selector's address.
public struct SyscallUserDispatchImage: Codable, Sendable, Equatable {
    public var mode: UInt64
    public var selector: UInt64
    public var offset: UInt64
    public var len: UInt64
    public init(mode: UInt64, selector: UInt64, offset: UInt64, len: UInt64) {
        self.mode = mode; self.selector = selector; self.offset = offset; self.len = len
    }
}

public struct TaskImage: Codable, Sendable, Equatable {
    public var tid: Int32
    public var pid: Int32
    public var mm: Int
    public var fdTable: Int
    public var fsContext: Int
    /// user_regs_struct, 27 words.
    public var registers: [UInt64]
    /// The XSAVE image (FPU, SSE, AVX).
    public var fpu: Data?
    public var signalMask: UInt64
    public var savedMask: UInt64?
    public var pending: [SignalInfoImage]
    public var altStack: [UInt64]   // sp, flags, size
    public var clearChildTID: UInt64
    public var robustList: UInt64
    public var robustListLength: UInt64
    /// restart_syscall of an interrupted sleep: time left (ns) and where the remainder goes.
    public var restartSleepNs: Int64?
    public var restartRemaining: UInt64?
    /// restart_syscall of a timed futex wait: the word, value, bitset and
    /// clock (the time left is restartSleepNs).
    public var restartFutex: [UInt64]?
    public var syscallUserDispatch: SyscallUserDispatchImage?
    /// rseq(2)'s registration: the area's address and the abort signature.
    public var rseqArea: UInt64?
    public var rseqSignature: UInt32?
    /// The thread's CPU time so far (ns): its guest code's, and with the
    /// sentry's share serving it; its CPU clocks go on from there (version 2).
    public var cpuNs: [Int64]?
    /// seccomp: the mode and the newest filter of the chain, by index in
    /// `seccompFilters` (version 2).
    public var seccompMode: Int32?
    public var seccompFilter: Int?
    public var credentials: CredentialsImage
    public var comm: Data
    public var parentDeathSignal: Int32
    public var noNewPrivs: Bool
    /// set_mempolicy's policy (version 2).
    public var memoryPolicy: MemoryPolicyImage?
    /// personality(2) and the I/O priority (absent: PER_LINUX, IOPRIO_DEFAULT).
    /// A CLONE_IO sharing of the priority is not kept: each task gets its own.
    public var personality: UInt32?
    public var ioPriority: Int32?
    public var executablePath: String
    public var commandLine: [String]
    public var environment: [String]
    /// The thread's minor and major faults and involuntary switches so far
    /// (absent in older images: 0); its counts go on from there.
    public var faultsAndSwitches: [Int64]? = nil
    /// sched_setaffinity's mask (the first 64 CPUs); absent: never set.
    public var affinity: UInt64? = nil
    /// The task's tracer and the stop it is in (version 5); absent: untraced.
    public var ptrace: PtraceImage? = nil
    /// JOBCTL_STOP_PENDING of a tracee: its part in a group-stop not yet reported (version 5).
    public var groupStopPending: Bool? = nil
    /// A call the freeze cut short, which restarts with its own arguments:
    /// its number, the time its wait had left (ns, -1 without a timeout),
    /// the deadline's clock and the bytes a blocking pipe write had written;
    /// the restarted call ends where it would have and writes the rest (version 5).
    public var freezeRestart: [Int64]? = nil
    /// A vfork parent whose clone has not returned (waiting for the child,
    /// or in its PTRACE_EVENT_VFORK stop before that): the child's tid, which
    /// shares its mm, and whether the child had exec'd or exited already
    /// (then the wait ends at once). Absent: none (version 5).
    public var vforkChild: Int32? = nil
    public var vforkChildReleased: Bool? = nil
    /// A call waiting for the answer to its seccomp USER_NOTIF notification:
    /// the listener's index in `seccompListeners` and the notification's id.
    public var seccompNotification: [UInt64]? = nil
    /// Its Landlock domain, by index in `landlockDomains` (version 6; absent: unconfined).
    public var landlockDomain: Int? = nil
}

/// One tracee's side of a guest ptrace link, as the tracer sees it: who
/// traces it and how (attach kind, PTRACE_O_* options, the syscall mode the
/// last resume asked for), and the stop it is in with what wait and
/// PTRACE_GETSIGINFO / GETEVENTMSG / GETFPREGS answer of it.
public struct PtraceImage: Codable, Sendable, Equatable {
    /// The tracing thread's tid.
    public var tracer: Int32
    /// PTRACE_SEIZE (else PTRACE_ATTACH or PTRACE_TRACEME: the same link).
    public var seized: Bool
    public var options: UInt32
    /// "none", "trace" (PTRACE_SYSCALL), "emulate" (PTRACE_SYSEMU).
    public var syscallMode: String
    /// "syscallEntry", "syscallExit", "signalDelivery", "groupStop",
    /// "event" (PTRACE_EVENT_FORK, VFORK, CLONE, EXEC, VFORK_DONE or EXIT,
    /// the event in `exitCode`'s bits 8-15; a fork's child tid in
    /// `eventMessage`); absent: running.
    public var stop: String?
    /// The stop's exit_code (signal, event in bits 8-15) and whether wait has reported it.
    public var exitCode: Int32
    public var reported: Bool
    public var eventMessage: UInt64
    /// last_siginfo (absent in a legacy group-stop).
    public var siginfo: SignalInfoImage?
    /// The FPU state at the stop's entry as the tracer last wrote it, and whether it did.
    public var fpu: Data?
    public var fpuChanged: Bool
    public var trapStopPending: Bool
    public var listening: Bool
    public var debugRegisters: [UInt64]
    public var forcedTrapFlag: Bool
    public var stepping: Bool
    /// A signal-delivery-stop that came first in its round of get_signal.
    public var deliveryFirst: Bool
    /// A PTRACE_EVENT_EXIT stop: the status the task exits with once
    /// resumed, and whether its whole process exits (exit_group, a fatal
    /// signal) rather than the thread alone. Absent in any other stop.
    public var exitAfter: ExitStatusImage? = nil
    public var exitGroup: Bool? = nil
}

/// The System V IPC namespace: every object with its id, and the sequence
/// numbers the next ids take.
public struct SysVImage: Codable, Sendable, Equatable {
    public var shm: [ShmImage]
    public var sem: [SemImage]
    public var msg: [MsgQueueImage]
    /// The next sequence number of shm, sem and msg ids.
    public var nextSeq: [Int32]
    /// SEM_UNDO adjustments: by process, then set id.
    public var undo: [SemUndoImage]
}

public struct IPCPermImage: Codable, Sendable, Equatable {
    public var key: Int32
    public var uid: UInt32, gid: UInt32, cuid: UInt32, cgid: UInt32
    public var mode: UInt32
    public var seq: UInt16
}

/// A shared memory segment; its pages are in the page store (`memory`: its
/// run of the image's memory file), shared with its attachments.
public struct ShmImage: Codable, Sendable, Equatable {
    public var id: Int32
    public var perm: IPCPermImage
    public var size: UInt64
    public var memory: Range<UInt64>
    public var attachTime: Int, detachTime: Int, changeTime: Int
    public var creatorPID: Int32, lastPID: Int32
    /// IPC_RMID'd and still attached: gone from the id table.
    public var removed: Bool
}

public struct SemImage: Codable, Sendable, Equatable {
    public var id: Int32
    public var perm: IPCPermImage
    public var values: [Int32]
    public var lastPIDs: [Int32]
    public var operationTime: Int, changeTime: Int
}

public struct MsgQueueImage: Codable, Sendable, Equatable {
    public var id: Int32
    public var perm: IPCPermImage
    public var types: [Int64]
    public var texts: [Data]
    public var maxBytes: Int
    public var sendTime: Int, receiveTime: Int, changeTime: Int
    public var lastSender: Int32, lastReceiver: Int32
}

public struct SemUndoImage: Codable, Sendable, Equatable {
    public var pid: Int32
    public var set: Int32
    public var adjustments: [Int32]
}

/// A POSIX message queue, named (`linked`) or unlinked and still open.
public struct PosixMQImage: Codable, Sendable, Equatable {
    public var name: String
    public var linked: Bool
    public var maxMessages: Int, messageSize: Int
    public var mode: UInt32, uid: UInt32, gid: UInt32
    /// RLIMIT_MSGQUEUE's charge: whose, how many bytes.
    public var chargeUID: UInt32, chargeBytes: UInt64
    /// Highest priority first, oldest first within one.
    public var priorities: [UInt32]
    public var messages: [Data]
    /// mq_notify's registration (SIGEV_SIGNAL or SIGEV_NONE).
    public var notifyPID: Int32?, notifyKind: Int32?, notifySigno: Int32?, notifyValue: UInt64?
    public var times: [Int64]   // atime, mtime, ctime: sec, nsec each
}
