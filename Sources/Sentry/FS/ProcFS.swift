import CSwitch
import Glibc

/// What /proc shows of one thread and its process, read at one moment.
public struct ProcStatus: Sendable {
    public var ppid: Int32 = 0, pgid: Int32 = 0, sid: Int32 = 0
    /// R, S, T, Z as /proc/<pid>/stat says it.
    public var state: Character = "S"
    public var threads = 1
    public var utime: Int64 = 0, stime: Int64 = 0, cutime: Int64 = 0, cstime: Int64 = 0
    /// Clock ticks after boot at which the process started.
    public var startTicks: Int64 = 0
    public var pending: UInt64 = 0, sharedPending: UInt64 = 0, blocked: UInt64 = 0, ignored: UInt64 = 0, caught: UInt64 = 0
    public var foregroundPGID: Int32 = 0
    /// The controlling terminal as stat's tty_nr encodes it (0: none) and its
    /// foreground group (tpgid, -1 without a terminal).
    public var ttyNumber: UInt32 = 0, ttyForeground: Int32 = -1
    /// Times the thread slept in the sentry (voluntary context switches),
    /// and was preempted (its stub's and its sentry thread's, involuntary).
    public var voluntarySwitches: UInt64 = 0
    public var involuntarySwitches: Int64 = 0
    /// Page faults: the process's (its threads', live and gone), its reaped
    /// children's, and this thread's alone (/proc/PID/task/TID/stat).
    public var minorFaults: Int64 = 0, majorFaults: Int64 = 0
    public var childMinorFaults: Int64 = 0, childMajorFaults: Int64 = 0
    public var threadMinorFaults: Int64 = 0, threadMajorFaults: Int64 = 0
    /// This thread's own CPU time, in clock ticks (the task directory's stat).
    public var threadUtime: Int64 = 0, threadStime: Int64 = 0
    /// The tracer's tgid (0: not traced).
    public var tracerPID: Int32 = 0
    public init() {}
}

/// What /proc needs to know about a thread and its process.
public protocol ProcessView: AnyObject {
    var pid: Int32 { get }
    var tid: Int32 { get }
    var executablePath: String { get }
    /// The executable's file as exec found it; nil: walk `executablePath`.
    var executableLocation: Location? { get }
    var commandLine: [String] { get }
    var environment: [String] { get }
    var fds: FDTable { get }
    var mm: MemoryManager { get }
    var cwd: Location { get }
    var rootLocation: Location { get }
    var umask: UInt32 { get }
    var procStatus: ProcStatus { get }
    /// getrlimit's answers, by resource number.
    var resourceLimits: [Int32: (cur: UInt64, max: UInt64)] { get }
    /// Credentials, comm and prctl state of the thread.
    var taskAttributes: TaskAttributes { get }
    /// The process's mlock'ed and still mapped bytes (VmLck).
    var lockedMemoryBytes: UInt64 { get }
    /// The thread's read/write counters, and its whole process's.
    var ioAccounting: IOAccounting { get }
    /// Block I/O in bytes, as /proc/PID/io's read_bytes and write_bytes:
    /// the thread's, or its process's (threads live and gone, and reaped children, as signal->ioac).
    func blockIO(wholeProcess: Bool) -> (read: Int64, written: Int64)
    var processIOAccounting: IOAccounting { get }
    /// /proc/PID/syscall's line.
    func procSyscallText(readBySelf: Bool) -> String
    /// /proc/PID/wchan's name for where the task sleeps, as `reader` may see it.
    func waitChannel(readBy reader: ProcessView?) -> String
    /// /proc/PID/oom_score_adj, and a write of it by `writer`.
    var oomScoreAdj: Int { get }
    func setOOMScoreAdj(_ value: Int, by writer: ProcessView) throws(Errno)
    /// Whether `writer` may open this process's /proc files for writing
    /// (their owner is the process's euid, mode 0644).
    func procWritable(by writer: ProcessView) -> Bool
}

/// The whole sandbox, as /proc lists it (the kernel answers).
public protocol SandboxView: AnyObject {
    var processIDs: [Int32] { get }
    /// A live thread of process `pid` (its leader while it lives).
    func process(_ pid: Int32) -> ProcessView?
    /// Thread `tid`, if it belongs to process `pid`.
    func thread(_ tid: Int32, of pid: Int32) -> ProcessView?
    func threadIDs(of pid: Int32) -> [Int32]
    var bootTime: timespec { get }
    var hostname: String { get }
    /// The sandbox's sockets, for /proc/net.
    var unixNames: UnixNamespace { get }
    /// The sandbox's namespaces, for /proc/PID/ns.
    var namespaces: Namespaces { get }
}

/// The sentry's /proc: the sandbox's processes by their virtual pids,
/// formatted as Linux formats them. Nothing of the host's processes shows.
enum ProcFS {
    static let device: UInt64 = 0x16

    static func root(_ vfs: VFS) -> Inode {
        dir("/proc", list: { ctx in
            var out = [DirEntry("self", .symlink), DirEntry("thread-self", .symlink)]
            out += topFiles.keys.sorted().map { DirEntry($0, .regular) }
            out += [DirEntry("sys", .directory), DirEntry("net", .directory)]
            out += ctx.sandbox.processIDs.sorted().map { DirEntry(String($0), .directory) }
            return out
        }, child: { name, ctx throws(Errno) in
            switch name {
            case "self":
                guard ctx.process != nil else { throw .ENOENT }
                return link("/proc/self") { ctx throws(Errno) in
                    guard let p = ctx.process else { throw .ENOENT }
                    return String(p.pid)
                }
            case "thread-self":
                guard ctx.process != nil else { throw .ENOENT }
                return link("/proc/thread-self") { ctx throws(Errno) in
                    guard let p = ctx.process else { throw .ENOENT }
                    return "\(p.pid)/task/\(p.tid)"
                }
            case "sys": return sysDir(vfs)
            case "net": return netDir()
            default:
                if let make = topFiles[name] { return file("/proc/" + name) { () throws(Errno) in Array(make(ctx, vfs).utf8) } }
                guard let pid = Int32(name), pid > 0, ctx.sandbox.process(pid) != nil else { throw .ENOENT }
                return processDir(pid, tid: nil, vfs, owner: owner(pid, nil, ctx))
            }
        })
    }

    // MARK: Helpers that make nodes

    static func dir(_ path: String, mode: UInt32 = 0o555, owner: FileOwner? = nil, list: @escaping (WalkContext) throws(Errno) -> [DirEntry],
                    child: @escaping (String, WalkContext) throws(Errno) -> Inode) -> Inode {
        SyntheticDirNode(path: path, device: device, mode: mode, owner: owner, list: list, child: child)
    }
    static func file(_ path: String, mode: UInt32 = 0o444, owner: FileOwner? = nil, atFirstRead: Bool = false,
                     _ contents: @escaping () throws(Errno) -> [UInt8]) -> Inode {
        SyntheticFileNode(path: path, device: device, mode: mode, owner: owner, atFirstRead: atFirstRead, contents: contents)
    }
    static func link(_ path: String, _ target: @escaping (WalkContext) throws(Errno) -> String) -> Inode {
        SyntheticLinkNode(path: path, device: device, target: target)
    }

    // MARK: /proc/<pid> and /proc/<pid>/task/<tid>

    /// The thread this directory shows, looked up afresh at each use: a
    /// directory kept open outlives nothing it names.
    static func view(_ pid: Int32, _ tid: Int32?, _ ctx: WalkContext) throws(Errno) -> ProcessView {
        let v = tid.map { ctx.sandbox.thread($0, of: pid) } ?? ctx.sandbox.process(pid)
        guard let v else { throw .ESRCH }
        return v
    }

    static let pidFiles = ["stat", "status", "statm", "maps", "smaps", "smaps_rollup", "cmdline", "environ", "comm", "mounts",
                           "mountinfo", "limits", "wchan", "oom_score_adj", "io", "syscall", "personality"]
    static let pidLinks = ["exe", "cwd", "root"]

    /// Who /proc/PID's files belong to when looked up: the thread's euid
    /// and egid (task_dump_owner, pid_revalidate), judged by DAC like any file.
    static func owner(_ pid: Int32, _ tid: Int32?, _ ctx: WalkContext) -> FileOwner? {
        guard let c = (try? view(pid, tid, ctx))?.taskAttributes.credentials else { return nil }
        return FileOwner(uid: c.euid, gid: c.egid)
    }

    static func processDir(_ pid: Int32, tid: Int32?, _ vfs: VFS, owner: FileOwner?) -> Inode {
        let base = tid.map { "/proc/\(pid)/task/\($0)" } ?? "/proc/\(pid)"
        return dir(base, owner: owner, list: { _ in
            (pidFiles + ["mem", "pagemap", "clear_refs"]).map { DirEntry($0, .regular) } + pidLinks.map { DirEntry($0, .symlink) }
                + ["fd", "fdinfo", "map_files", "ns"].map { DirEntry($0, .directory) } + (tid == nil ? [DirEntry("task", .directory)] : [])
        }, child: { name, ctx throws(Errno) in
            let path = base + "/" + name
            _ = try view(pid, tid, ctx)
            switch name {
            case "exe":
                return SyntheticLinkNode(path: path, device: device, owner: owner, target: { ctx throws(Errno) in
                                             let v = try view(pid, tid, ctx)
                                             return v.executableLocation?.path(relativeTo: ctx.rootLocation) ?? v.executablePath
                                         },
                                         place: { ctx throws(Errno) in
                                             // mm->exe_file: the file itself, wherever its name went.
                                             let v = try view(pid, tid, ctx)
                                             if let found = v.executableLocation { return found }
                                             return try vfs.resolve(v.executablePath, from: v.rootLocation, followLast: true, ctx)
                                         })
            case "cwd", "root":
                let pick: (ProcessView) -> Location = { name == "cwd" ? $0.cwd : $0.rootLocation }
                return SyntheticLinkNode(path: path, device: device, owner: owner,
                                         target: { ctx throws(Errno) in pick(try view(pid, tid, ctx)).path(relativeTo: ctx.rootLocation) },
                                         place: { ctx throws(Errno) in pick(try view(pid, tid, ctx)) })
            case "fd": return fdDir(pid, tid, path, info: false, owner: owner)
            case "fdinfo": return fdDir(pid, tid, path, info: true, owner: owner)
            case "map_files": return mapFilesDir(pid, tid, path, vfs, owner: owner)
            case "ns": return nsDir(path, owner: owner)
            case "mem": return ProcMemNode(path: path, device: device, owner: owner) { ctx throws(Errno) in try view(pid, tid, ctx) }
            case "pagemap": return ProcMemNode(path: path, device: device, owner: owner, pagemap: true) { ctx throws(Errno) in try view(pid, tid, ctx) }
            case "clear_refs":
                // Write-only, 0200: the owner's DAC is all the check (no ptrace access).
                return ProcControlNode(path: path, device: device, owner: owner, mode: 0o200, mayWrite: { _ in true },
                                       contents: { () throws(Errno) in [] },
                                       store: { (bytes: [UInt8], ctx: WalkContext) throws(Errno) -> Int? in
                    let type = try ClearRefs.type(bytes)
                    guard let task = try view(pid, tid, ctx) as? Task else { throw .ESRCH }
                    task.clearRefs(type, by: ctx.process as? Task)
                    return nil
                })
            case "task" where tid == nil:
                return dir(path, owner: owner, list: { ctx in ctx.sandbox.threadIDs(of: pid).map { DirEntry(String($0), .directory) } },
                           child: { n, ctx throws(Errno) in
                               guard let t = Int32(n), ctx.sandbox.thread(t, of: pid) != nil else { throw .ENOENT }
                               return processDir(pid, tid: t, vfs, owner: ProcFS.owner(pid, t, ctx))
                           })
            default:
                guard pidFiles.contains(name) else { throw .ENOENT }
                if name == "oom_score_adj" {
                    return ProcControlNode(path: path, device: device, owner: owner, mayWrite: { (ctx: WalkContext) throws(Errno) -> Bool in
                        guard let writer = ctx.process else { return false }
                        return try view(pid, tid, ctx).procWritable(by: writer)
                    }, contents: { () throws(Errno) in
                        Array("\(try view(pid, tid, ctx).oomScoreAdj)\n".utf8)
                    }, store: { (bytes: [UInt8], ctx: WalkContext) throws(Errno) -> Int? in
                        guard let writer = ctx.process else { throw .EACCES }
                        try view(pid, tid, ctx).setOOMScoreAdj(try ProcControlNode.integer(bytes), by: writer)
                        return nil
                    })
                }
                return file(path, mode: name == "oom_score_adj" ? 0o644 : ["io", "syscall", "personality"].contains(name) ? 0o400 : 0o444, owner: owner,
                            atFirstRead: name == "syscall" || name == "io") { () throws(Errno) in
                    let v = try view(pid, tid, ctx)
                    switch name {
                    case "stat": return statLine(v, tid: tid, reader: ctx.process).rawBytes
                    case "status": return statusText(v, reader: ctx.process).rawBytes
                    case "statm": return Array(statmLine(v.mm).utf8)
                    case "maps": return v.mm.mapsText().rawBytes
                    case "smaps": return smapsText(v.mm).rawBytes
                    case "smaps_rollup": return smapsRollupText(v.mm).rawBytes
                    case "mountinfo": return mountinfoText(vfs, root: v.rootLocation).rawBytes
                    case "wchan": return Array(v.waitChannel(readBy: ctx.process).utf8)
                    case "io": return Array(ioText(tid == nil ? v.processIOAccounting : v.ioAccounting, blocks: v.blockIO(wholeProcess: tid == nil)).utf8)
                    case "syscall": return Array(v.procSyscallText(readBySelf: v === ctx.process).utf8)
                    case "cmdline": return v.commandLine.flatMap { $0.rawBytes + [0] }
                    case "environ": return v.environment.flatMap { $0.rawBytes + [0] }
                    case "comm": return (comm(v) + "\n").rawBytes
                    case "mounts": return mountsText(vfs, root: v.rootLocation).rawBytes
                    case "personality":
                        let hex = String(v.taskAttributes.personality.rawValue, radix: 16)
                        return Array((String(repeating: "0", count: max(0, 8 - hex.count)) + hex + "\n").utf8)
                    default: return Array(limitsText(v.resourceLimits).utf8)
                    }
                }
            }
        })
    }

    static func fdDir(_ pid: Int32, _ tid: Int32?, _ base: String, info: Bool, owner: FileOwner?) -> Inode {
        dir(base, mode: info ? 0o555 : 0o500, owner: owner, list: { ctx throws(Errno) in
            try view(pid, tid, ctx).fds.descriptors.map { DirEntry(String($0.rawValue), info ? .regular : .symlink) }
        }, child: { name, ctx throws(Errno) in
            let table = try view(pid, tid, ctx).fds
            guard let n = Int32(name), let entry = table.entry(FileDescriptor(n)) else { throw .ENOENT }
            let file = entry.file, path = base + "/" + name
            if info {
                return ProcFS.file(path, owner: owner) {
                    let pos = (try? file.seek(0, whence: SEEK_CUR)) ?? 0
                    let flags = file.flags.rawValue | (entry.closeOnExec ? OpenFlags.closeOnExec.rawValue : 0)
                    return Array("pos:\t\(pos)\nflags:\t0\(String(flags, radix: 8))\nmnt_id:\t\(file.location?.mount.id ?? 0)\nino:\t\((try? file.stat().st_ino) ?? 0)\n\(file.fdinfoDetails)".utf8)
                }
            }
            return SyntheticLinkNode(path: path, device: device, owner: owner, target: { ctx in
                guard let l = file.location else { return file.displayPath }
                return l.path(relativeTo: ctx.rootLocation)
            }, place: { _ in file.location }, described: file)
        })
    }

    // MARK: Formats

    static func comm(_ v: ProcessView) -> String {
        String(rawBytes: v.taskAttributes.comm)
    }

    static func statmLine(_ mm: MemoryManager) -> String {
        let vmas = mm.vmas
        let pages = vmas.reduce(UInt64(0)) { $0 + $1.length } / 4096
        let text = vmas.filter { $0.prot.contains(.exec) }.reduce(UInt64(0)) { $0 + $1.length } / 4096
        let shared = vmas.filter(\.shared).reduce(UInt64(0)) { $0 + $1.length } / 4096
        let data = vmas.filter { !$0.shared && $0.prot.contains(.write) }.reduce(UInt64(0)) { $0 + $1.length } / 4096
        return "\(pages) \(pages) \(shared) \(text) 0 \(data) 0\n"
    }

    static func mountsText(_ vfs: VFS, root: Location) -> String {
        vfs.mounts.all.compactMap { m -> String? in
            let p = Location.relative(m.path, to: root.path)
            guard let p else { return nil }
            return "\(m.source) \(p) \(m.type) \(m.readOnly ? "ro" : "rw"),relatime 0 0\n"
        }.joined()
    }

    static func limitsText(_ limits: [Int32: (cur: UInt64, max: UInt64)]) -> String {
        let names = ["Max cpu time", "Max file size", "Max data size", "Max stack size", "Max core file size",
                     "Max resident set", "Max processes", "Max open files", "Max locked memory", "Max address space",
                     "Max file locks", "Max pending signals", "Max msgqueue size", "Max nice priority",
                     "Max realtime priority", "Max realtime timeout"]
        let units = ["seconds", "bytes", "bytes", "bytes", "bytes", "bytes", "processes", "files", "bytes", "bytes",
                     "locks", "signals", "bytes", "", "", "us"]
        var out = "Limit".padded(26) + "Soft Limit".padded(21) + "Hard Limit".padded(21) + "Units     \n"
        for r in 0..<Int(ResourceLimit.count) {
            let l = limits[Int32(r)] ?? (UInt64.max, UInt64.max)
            func show(_ v: UInt64) -> String { v == UInt64.max ? "unlimited" : String(v) }
            // A limit without a unit ends after the hard limit's padding, as proc_pid_limits prints it.
            out += names[r].padded(26) + show(l.cur).padded(21) + show(l.max).padded(21) + (units[r].isEmpty ? "" : units[r].padded(10)) + "\n"
        }
        return out
    }

    /// The files directly in /proc.
    nonisolated(unsafe) static let topFiles: [String: (WalkContext, VFS) -> String] = [
        "cpuinfo": { _, _ in hostFile("/proc/cpuinfo") },
        "meminfo": { _, vfs in meminfoText(vfs.memory) },
        "uptime": { ctx, _ in
            let up = Deadline.now() - Int64(ctx.sandbox.bootTime.tv_sec) * 1_000_000_000 - Int64(ctx.sandbox.bootTime.tv_nsec)
            let cs = up / 10_000_000
            return "\(cs / 100).\(String(cs % 100).leftPadded(2, "0")) 0.00\n"
        },
        "loadavg": { ctx, _ in
            let pids = ctx.sandbox.processIDs
            let threads = pids.reduce(0) { $0 + ctx.sandbox.threadIDs(of: $1).count }
            return "0.00 0.00 0.00 1/\(threads) \(pids.max() ?? 1)\n"
        },
        "stat": { ctx, _ in
            var user: Int64 = 0, system: Int64 = 0
            for p in ctx.sandbox.processIDs { if let s = ctx.sandbox.process(p)?.procStatus { user += s.utime; system += s.stime } }
            var now = timespec(); clock_gettime(CLOCK_REALTIME, &now)
            let mono = Deadline.now() / 1_000_000_000
            let btime = Int64(now.tv_sec) - (mono - Int64(ctx.sandbox.bootTime.tv_sec))
            let cpus = max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))
            var out = "cpu  \(user) 0 \(system) 0 0 0 0 0 0 0\n"
            for c in 0..<cpus { out += "cpu\(c) \(user / Int64(cpus)) 0 \(system / Int64(cpus)) 0 0 0 0 0 0 0\n" }
            out += "intr 0\nctxt 0\nbtime \(btime)\nprocesses \(ctx.sandbox.processIDs.max() ?? 1)\nprocs_running 1\nprocs_blocked 0\nsoftirq 0\n"
            return out
        },
        "mounts": { ctx, vfs in mountsText(vfs, root: ctx.rootLocation) },
        "filesystems": { _, vfs in filesystemsText(vfs) },
        "version": { _, _ in
            return "Linux version \(Kernel.release) (sentry) #1 SMP\n"
        },
    ]

    static func hostFile(_ path: String) -> String {
        let fd = sw_open_rdonly(path)
        guard fd >= 0 else { return "" }
        defer { close(fd) }
        // A page at a time into an uninitialised buffer: most files read here
        // are a line or two (cgroup limits at every start), and zeroing a
        // 64 KiB buffer per call cost more than reading them.
        var out: [UInt8] = []
        withUnsafeTemporaryAllocation(byteCount: 4096, alignment: 16) { buf in
            while true {
                let n = Glibc.read(fd, buf.baseAddress, buf.count)
                if n <= 0 { break }
                out.append(contentsOf: UnsafeRawBufferPointer(rebasing: buf[0..<n]))
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// /proc/net: the sandbox's sockets (ProcNet).
    static func netDir() -> Inode {
        dir("/proc/net", list: { _ in ProcNet.files.map { DirEntry($0, .regular) } }, child: { n, ctx throws(Errno) in
            guard ProcNet.files.contains(n) else { throw .ENOENT }
            let names = ctx.sandbox.unixNames
            return file("/proc/net/" + n) { Array(ProcNet.text(n, names).utf8) }
        })
    }

    /// /proc/sys: the kernel values programs read (read-only but for fs/mqueue,
    /// fs/protected_* and net/ipv4/ping_group_range).
    static func sysDir(_ vfs: VFS) -> Inode {
        let kernelFiles: [String: (WalkContext) -> String] = [
            "hostname": { $0.sandbox.hostname },
            "domainname": { _ in "(none)" },
            "osrelease": { _ in Kernel.release },
            "ostype": { _ in "Linux" },
            "version": { _ in "#1 SMP" },
            "pid_max": { _ in String(Kernel.pidMax) },
            "threads-max": { _ in String(Kernel.pidMax) },
            "ngroups_max": { _ in "65536" },
            "cap_last_cap": { _ in String(Credentials.capLast) },
            "overflowuid": { _ in "65534" },
            "overflowgid": { _ in "65534" },
            // The System V limits the sandbox's IPC namespace enforces.
            "shmmax": { _ in String(IPC.SHMMAX) },
            "shmall": { _ in String(IPC.SHMALL) },
            "shmmni": { _ in String(IPC.SHMMNI) },
            "msgmax": { _ in String(IPC.MSGMAX) },
            "msgmnb": { _ in String(IPC.MSGMNB) },
            "msgmni": { _ in String(IPC.MSGMNI) },
            "sem": { _ in "\(IPC.SEMMSL)\t\(IPC.SEMMSL * IPC.SEMMNI)\t\(IPC.SEMOPM)\t\(IPC.SEMMNI)" },
            "randomize_va_space": { _ in "2" },
        ]
        let vmFiles: [String: (WalkContext) -> String] = [
            "overcommit_memory": { _ in "0" },
            "overcommit_ratio": { _ in "50" },
            "max_map_count": { _ in "65530" },
            "mmap_min_addr": { _ in "65536" },
            "swappiness": { _ in "60" },
        ]
        let fsFiles: [String: (WalkContext) -> String] = [
            "nr_open": { _ in "1048576" },
            "file-max": { _ in "9223372036854775807" },
            "pipe-max-size": { _ in "1048576" },
        ]
        let inotifyFiles: [String: (WalkContext) -> String] = [
            "max_queued_events": { _ in String(InotifyRegistry.maxQueuedEvents) },
            "max_user_instances": { _ in String(InotifyRegistry.maxUserInstances) },
            "max_user_watches": { _ in String(InotifyRegistry.maxUserWatches) },
        ]
        func table(_ name: String, _ files: [String: (WalkContext) -> String], subdirectories: [String: Inode] = [:],
                   writable: [String: Inode] = [:]) -> Inode {
            dir("/proc/sys/" + name, list: { _ in
                (files.keys.map { DirEntry($0, .regular) } + writable.keys.map { DirEntry($0, .regular) }
                    + subdirectories.keys.map { DirEntry($0, .directory) }).sorted { $0.name < $1.name }
            }, child: { n, ctx throws(Errno) in
                if let d = subdirectories[n] ?? writable[n] { return d }
                guard let f = files[n] else { throw .ENOENT }
                return file("/proc/sys/\(name)/" + n) { Array((f(ctx) + "\n").utf8) }
            })
        }
        // The sandbox's own values, root in it may change (SandboxSysctls).
        let ipv4Writable = ["ping_group_range": pingGroupRangeSysctl(vfs.sysctls)]
        let fsWritable = Dictionary(uniqueKeysWithValues: SandboxSysctls.protected.map { ($0.name, protectedSysctl($0, vfs.sysctls)) })
        let dirs = ["kernel": table("kernel", kernelFiles), "vm": table("vm", vmFiles),
                    "net": table("net", [:], subdirectories: ["ipv4": table("net/ipv4", [:], writable: ipv4Writable)]),
                    "fs": table("fs", fsFiles, subdirectories: ["inotify": table("fs/inotify", inotifyFiles),
                                                                "mqueue": mqueueSysctlDir(vfs.mqueues)], writable: fsWritable)]
        return dir("/proc/sys", list: { _ in dirs.keys.sorted().map { DirEntry($0, .directory) } }, child: { n, _ throws(Errno) in
            guard let d = dirs[n] else { throw .ENOENT }
            return d
        })
    }
}

extension Location {
    /// `path` as seen by a process whose root is `root`; nil if outside it.
    static func relative(_ path: String, to root: String) -> String? {
        if root == "/" { return path }
        if path == root { return "/" }
        if path.hasPrefix(root + "/") { return String(path.dropFirst(root.count)) }
        return nil
    }
}

extension String {
    func leftPadded(_ n: Int, _ c: Character = " ") -> String { count >= n ? self : String(repeating: c, count: n - count) + self }
    func padded(_ n: Int) -> String { count >= n ? self + " " : self + String(repeating: " ", count: n - count) }
}
