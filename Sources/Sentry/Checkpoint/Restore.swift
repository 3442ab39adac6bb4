import CSwitch
import Glibc

/// A sandbox rebuilt from an image, every task made and none running yet.
public final class RestoredSandbox {
    public let sandbox: Sandbox
    public let manifest: CheckpointManifest
    let initTask: Task
    /// The tasks of each address space, the one that builds it first
    /// (init first in its own).
    let spaces: [[Task]]
    let fpu: [Int32: [UInt8]]

    init(sandbox: Sandbox, manifest: CheckpointManifest, initTask: Task, spaces: [[Task]], fpu: [Int32: [UInt8]]) {
        self.sandbox = sandbox; self.manifest = manifest; self.initTask = initTask; self.spaces = spaces; self.fpu = fpu
    }

    /// Starts every task where it stopped, each on its own thread (init on
    /// the calling one), and returns init's status once the sandbox ends.
    public func run() -> ExitStatus {
        var initSiblings: [(Task, [UInt8]?)] = []
        for space in spaces {
            let siblings = space.dropFirst().map { ($0, fpu[$0.tid]) }
            let leader = space[0]
            if leader === initTask { initSiblings = siblings; continue }
            let image = fpu[leader.tid]
            do {
                try HostThread.spawn {
                    leader.resumeRestored(fpu: image, siblings: siblings)
                    leader.run()
                }
            } catch {
                leader.kernel.locked { leader.kernel.killGroupLocked(leader.group, .signaled(.SIGKILL, coreDumped: false)) }
                for (s, _) in siblings { Task.leaveUnstarted(s) }
                Task.leaveUnstarted(leader)
            }
        }
        initTask.resumeRestored(fpu: fpu[initTask.tid], siblings: initSiblings)
        return sandbox.kernel.run(initTask)
    }
}

extension Task {
    /// On the task's own thread, before it first runs: its host address
    /// space, the mm mirrored into it, the platform's segment selectors and
    /// its FPU state; then the other tasks of the same mm (threads), each on
    /// a thread of its own, joined to that space as clone does.
    func resumeRestored(fpu: [UInt8]?, siblings: [(Task, [UInt8]?)]) {
        var started = 0
        do throws(PlatformError) {
            let sp = try kernel.platform.makeAddressSpace()
            space = sp
            try mm.attach(sp)
            adoptSelectors(sp)
            if let fpu { try loadFPU(fpu, sp) }
            for (s, image) in siblings {
                let ticket = try sp.prepareRunner()
                do {
                    try HostThread.spawn {
                        s.joinRestored(ticket, sp, fpu: image)
                        s.run()
                    }
                } catch {
                    sp.abandon(ticket)
                    throw .host("a thread for tid \(s.tid)", error)
                }
                started += 1
            }
        } catch {
            platformFailed(error)
            for (s, _) in siblings.dropFirst(started) { Task.leaveUnstarted(s) }
        }
    }

    /// A restored thread joins the address space its mm's first task built.
    private func joinRestored(_ ticket: RunnerTicket, _ sp: AddressSpace, fpu: [UInt8]?) {
        do throws(PlatformError) {
            try sp.join(ticket)
            space = sp
            adoptSelectors(sp)
            if let fpu { try loadFPU(fpu, sp) }
        } catch {
            platformFailed(error)
        }
    }

    /// A task whose host side could not be made: its process is killed, and
    /// it leaves (on a thread of its own, as every task does).
    static func leaveUnstarted(_ t: Task) {
        t.kernel.locked { t.kernel.killGroupLocked(t.group, .signaled(.SIGKILL, coreDumped: false)) }
        try? HostThread.spawn { t.run() }
    }

    /// The platform's segment selectors: the image's may be another platform's.
    private func adoptSelectors(_ sp: AddressSpace) {
        let initial = sp.initialRegisters.raw
        regs.raw.cs = initial.cs; regs.raw.ss = initial.ss; regs.raw.ds = initial.ds
        regs.raw.es = initial.es; regs.raw.fs = initial.fs; regs.raw.gs = initial.gs
    }

    /// systrap keeps a task's FPU image in its stub's signal frame, which
    /// exists only after a first trap: one trapped getpid, from a page
    /// mapped for that moment alone, makes it.
    private func loadFPU(_ image: [UInt8], _ sp: AddressSpace) throws(PlatformError) {
        if (try? context.setFPUState(sp, image)) != nil { return }
        let page = GuestAddress.pageSize
        let addr: GuestAddress
        do { addr = try mm.map(hint: .null, length: page, prot: [.read, .exec], flags: [.private, .anonymous]) }
        catch { throw .host("a page to start the restored task", error) }
        defer { try? mm.unmap(addr, length: page) }
        let syscallInstruction: [UInt8] = [0x0f, 0x05]
        guard let off = try? mm.fileOffset(of: addr, write: false) else { throw .host("the restored task's start page", .EFAULT) }
        syscallInstruction.withUnsafeBytes { mm.memory.write(at: off, $0) }
        var r = regs
        r.ip = addr.rawValue
        r.raw.rax = SyscallNumber.getpid
        let trap = try context.switchTo(sp, &r)
        guard trap == .syscall else { throw .host("starting the restored task (\(trap))", .EIO) }
        try context.setFPUState(sp, image)
    }
}

extension Sandbox {
    /// Rebuilds the sandbox an image describes, through the same
    /// construction as `sentry run` (the image's root, binds, hostname and
    /// network; `platform` and `seccompTrap` chosen anew), then every kernel
    /// object, with the same pids. Everything is checked before the first
    /// task exists: a bad image fails here, whole.
    public static func restore(image dir: String, platform: PlatformKind?, seccompTrap: Bool?, systrapPatch: Bool? = nil, table: SyscallTable,
                               tracer: Tracer? = nil) throws(CheckpointError) -> RestoredSandbox {
        let m = try CheckpointImage.readManifest(dir)
        let changedShared = try verifyHostFiles(m)
        let pages = try DataFileReader(dir + "/pages.bin", expectedSize: m.pagesSize)
        let files = try DataFileReader(dir + "/files.bin", expectedSize: m.filesSize)

        // The guest's monotonic clock: within one host boot the same offset as
        // before (the time stopped counts, as Linux's does across a suspend);
        // from another boot, one that makes it go on from the checkpoint's reading.
        let limit: Int64 = 1 << 62
        guard m.monotonicNs >= 0, m.monotonicNs < limit, abs(m.monotonicOffsetNs ?? 0) < limit else {
            throw .corrupt("the monotonic clock reading \(m.monotonicNs)")
        }
        GuestClock.setMonotonicOffset(m.bootID == ImageWriter.bootID() ? (m.monotonicOffsetNs ?? 0) : m.monotonicNs - GuestClock.hostMonotonic())

        var config = SandboxConfiguration()
        config.platform = platform
        config.seccompTrap = seccompTrap
        config.systrapPatch = systrapPatch
        config.root = m.sandbox.root
        config.binds = m.sandbox.binds.map { .init(host: $0.host, guest: $0.guest, readOnly: $0.readOnly) }
        config.hostname = m.sandbox.hostname
        config.network = NetworkMode(rawValue: m.sandbox.network) ?? .none
        config.overlay = m.sandbox.overlay ?? false
        config.tracer = tracer
        let sandbox: Sandbox
        do { sandbox = try Sandbox(config, table: table) } catch { throw .restoreFailed(error.description) }
        let kernel = sandbox.kernel
        // The boot the guest's uptime counts from, on its (continued) monotonic clock.
        if let b = m.bootTimeNs {
            guard b >= 0, b <= Deadline.now() else { throw .corrupt("the boot time \(b)") }
            kernel.bootTime = timespec(tv_sec: Int(b / 1_000_000_000), tv_nsec: Int(b % 1_000_000_000))
        }
        var reader = ImageReader(kernel: kernel, manifest: m, pages: pages, files: files, changedShared: changedShared)
        try reader.restoreMemory()
        return try reader.restoreObjects(sandbox)
    }

    /// Every host file the image names must be as it was: same size, same
    /// mtime. A file some mapping shares (MAP_SHARED) need only be the same
    /// file (device, inode and birth time, where the image has them): its writers may
    /// have changed it since, as Linux lets processes sharing a file do, and
    /// the restore takes its contents as they are now. Returns the host
    /// paths of those that changed.
    static func verifyHostFiles(_ m: CheckpointManifest) throws(CheckpointError) -> Set<String> {
        var ids = m.mms.flatMap { $0.vmas.compactMap(\.file) } + m.files.compactMap(\.host) + (m.sandbox.overlayLower ?? [])
        ids.sort { $0.hostPath < $1.hostPath }
        let shared = Set(m.mms.flatMap { $0.vmas.filter(\.shared).compactMap(\.file) }.filter { $0.inode != nil }.map(\.hostPath))
        var seen = Set<String>(), changed = Set<String>()
        // (A deleted file's copy is in the image: nothing on the host to check.)
        for id in ids where id.deletedContents == nil && seen.insert(id.hostPath).inserted {
            var st = stat()
            guard stat(id.hostPath, &st) == 0 else { throw .hostFileChanged("\(id.hostPath) (\(id.guestPath) in the guest) is gone") }
            if Int64(st.st_size) != id.size || Int64(st.st_mtim.tv_sec) != id.mtimeSec || Int64(st.st_mtim.tv_nsec) != id.mtimeNsec {
                if shared.contains(id.hostPath), id.device != nil, id.inode != nil {
                    guard id.names(st, bornAt: id.birth == nil ? nil : HostFileBirth(path: id.hostPath)) else {
                        throw .hostFileChanged("\(id.hostPath) (\(id.guestPath) in the guest, mapped shared) is another file now")
                    }
                    changed.insert(id.hostPath)
                    continue
                }
                throw .hostFileChanged("\(id.hostPath) (\(id.guestPath) in the guest): size or modification time differ")
            }
        }
        return changed
    }
}

/// Rebuilds kernel objects from a manifest.
struct ImageReader {
    let kernel: Kernel
    let manifest: CheckpointManifest
    let pages: DataFileReader
    let files: DataFileReader
    /// Each image run of the memory file and where it is in this one: the
    /// new sandbox has allocations of its own already (systrap's stub areas).
    var placed: [(from: Range<UInt64>, to: UInt64)] = []
    /// Host files mapped shared, each reopened once.
    let hostFiles: RestoredHostFiles

    init(kernel: Kernel, manifest: CheckpointManifest, pages: DataFileReader, files: DataFileReader, changedShared: Set<String> = []) {
        self.kernel = kernel; self.manifest = manifest; self.pages = pages; self.files = files
        hostFiles = RestoredHostFiles(manifest, changed: changedShared)
    }

    /// Where image memory offset `offset` (with `length` bytes after it, all
    /// in one image run) is now; nil if the image holds no such run.
    func translate(_ offset: UInt64, _ length: UInt64) -> UInt64? { Self.translate(offset, length, placed) }

    static func translate(_ offset: UInt64, _ length: UInt64, _ placed: [(from: Range<UInt64>, to: UInt64)]) -> UInt64? {
        let (end, o) = offset.addingReportingOverflow(length)
        guard !o else { return nil }
        var lo = 0, hi = placed.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if placed[mid].from.upperBound <= offset { lo = mid + 1 } else { hi = mid }
        }
        guard lo < placed.count, placed[lo].from.lowerBound <= offset, end <= placed[lo].from.upperBound else { return nil }
        return placed[lo].to + (offset - placed[lo].from.lowerBound)
    }

    /// The memory mappings own: fresh runs of this memory file, the image's
    /// pages copied in (checked), and their extra owners.
    mutating func restoreMemory() throws(CheckpointError) {
        let memory = kernel.memory
        var last: UInt64 = 0
        for r in manifest.memory.allocated {
            // Sizes as differences: a Range<UInt64>'s count is an Int, which a corrupt run past 2^63 bytes would trap.
            let size = r.upperBound - r.lowerBound
            guard r.lowerBound >= last, size > 0, r.lowerBound % GuestAddress.pageSize == 0,
                  r.upperBound % GuestAddress.pageSize == 0 else { throw .corrupt("the memory runs are not sorted page runs") }
            // A run backs mappings of one address space at most: no larger than one.
            guard size <= kernel.layout.top.rawValue else { throw .corrupt("a memory run of \(size) bytes") }
            last = r.upperBound
            let to: UInt64
            do { to = try memory.allocate(size) } catch { throw .restoreFailed("memory for the image (\(size) bytes): \(error.message)") }
            placed.append((r, to))
        }
        try restorePages()
        for s in manifest.memory.shares {
            let size = s.range.upperBound - s.range.lowerBound
            guard s.extra > 0, s.extra < 1 << 20, let to = translate(s.range.lowerBound, size) else {
                throw .corrupt("shared memory run at \(s.range.lowerBound)")
            }
            for _ in 0..<s.extra { memory.retain(to, size) }
        }
    }

    /// The page store into the memory file, written (pwrite), not copied
    /// through the sentry's mapping: a page is allocated by the write instead
    /// of by a fault that zeroes it first, and the zero pages left out stay
    /// holes. One buffer, made once, not zeroed (each extent is read over it).
    /// Not shared out among threads: on this 2-vCPU VM two workers each ran
    /// slower (the page allocations and the crc32 unit shared), and under
    /// load the restore waited for whichever was descheduled.
    func restorePages() throws(CheckpointError) {
        let runs = manifest.memory.runs
        guard !runs.isEmpty else { return }
        let page = Int(GuestAddress.pageSize)
        let work = RestorePagesWork(runs: runs, placed: placed, pages: pages, memory: kernel.memory)
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: DataFileReader.maxPageRun(page), alignment: page)
        defer { buffer.deallocate() }
        for run in runs { try work.restore(run, pageSize: page, buffer: buffer) }
    }

    func restoreObjects(_ sandbox: Sandbox) throws(CheckpointError) -> RestoredSandbox {
        let m = manifest
        let vfs = kernel.vfs
        let boot = BootContext(kernel)

        // Inode numbers given again: each once in its filesystem.
        // (A tmpfs file unlinked while open is kept as a memfd is, on its mount.)
        let memfdImages = m.memfds ?? []
        for t in m.tmpfs {
            try Self.checkInodes(t.root.children + memfdImages.filter { $0.mountPath == t.mountPath }.map(\.node), "the tmpfs at \(t.mountPath)")
        }
        try Self.checkInodes(m.sandbox.overlayUpper?.children ?? [], "the overlay's upper layer")
        try Self.checkInodes(memfdImages.filter { $0.mountPath == nil }.map(\.node), "memfds")

        // The overlay's upper layer first: files reopened by path may be there.
        if let upper = m.sandbox.overlayUpper {
            guard m.sandbox.overlay == true, let root = vfs.rootLocation.inode as? OverlayNode else {
                throw .corrupt("an overlay's upper layer for a sandbox without --overlay")
            }
            try root.fs.upper.rootNode.restore(upper, read: readContents, place: place, overlayUpper: true)
            if let n = m.counters?.nextOverlayInode { root.fs.upper.continueInodes(from: n) }
        }
        for t in m.tmpfs {
            guard let mount = vfs.mounts.mount(at: t.mountPath), mount.type == "tmpfs", let root = mount.rootInode as? TmpfsNode else {
                throw .restoreFailed("no tmpfs at \(t.mountPath) in the restored sandbox")
            }
            try root.restore(t.root, read: readContents, place: place)
            if let n = t.nextInode { root.fs.continueInodes(from: n) }
        }
        // The counters a guest sees the next values of.
        if let c = m.counters {
            if let p = c.nextEphemeralPort { kernel.unixNames.loopback.nextEphemeralPort = p }
            if let a = c.nextAutobind { kernel.unixNames.nextAutobind = a }
            if let n = c.nextSocketInode { SocketEndpoint.continueInodes(from: n) }
            if let n = c.nextMemfdInode { vfs.memfdFS.continueInodes(from: n) }
            if let n = c.nextPipeInode { Pipe.continueInodes(from: n) }
        }

        // memfds, before the files and mappings that name them.
        var memfds: [(node: TmpfsNode, location: Location)] = []
        for (i, image) in (m.memfds ?? []).enumerated() {
            let n = image.node
            guard n.mode & S_IFMT == S_IFREG, n.children.isEmpty, n.target == nil, image.mountPath != nil || n.name.hasPrefix("memfd:"),
                  !n.name.isEmpty, n.name.utf8.count <= 255, !n.name.contains("/") else { throw .corrupt("memfd \(i)") }
            let node: TmpfsNode, location: Location
            if let linked = image.linkedAt {
                // Unlinked from its name, linked elsewhere: the restored tree's node, under the name it was opened by.
                guard let mountPath = image.mountPath, let mount = vfs.mounts.mount(at: mountPath), mount.type == "tmpfs",
                      let at = try? vfs.resolve(linked, from: vfs.rootLocation, followLast: false, boot), at.mount === mount,
                      let found = at.inode as? TmpfsNode, found.kind == .regular, found.linkCount > 0 else {
                    throw .restoreFailed("no tmpfs file at \(linked) for the unlinked name \(n.name)")
                }
                var parent = Location(root: mount)
                if let p = image.parentPath, let dir = try? vfs.directory(p, from: vfs.rootLocation, boot), dir.mount === mount { parent = dir }
                memfds.append((found, Location(mount: mount, dentry: parent.dentry.detachedChild(n.name, found, deleted: true))))
                continue
            }
            if let mountPath = image.mountPath {
                // A tmpfs file unlinked while open: a node on its mount with no
                // name, its dentry under the directory it was in if that is there.
                guard let mount = vfs.mounts.mount(at: mountPath), mount.type == "tmpfs", let root = mount.rootInode as? TmpfsNode else {
                    throw .restoreFailed("no tmpfs at \(mountPath) for the unlinked file \(n.name)")
                }
                node = TmpfsNode(fs: root.fs, ino: n.ino ?? root.fs.nextInode(), mode: n.mode)
                if let i = n.ino { root.fs.continueInodes(from: i + 1) }
                var parent = Location(root: mount)
                if let p = image.parentPath, let dir = try? vfs.directory(p, from: vfs.rootLocation, boot), dir.mount === mount { parent = dir }
                location = Location(mount: mount, dentry: parent.dentry.detachedChild(n.name, node, deleted: true))
            } else {
                (node, location) = vfs.memfdNode(dentryName: n.name, mode: n.mode, ino: n.ino)
            }
            try node.restoreContents(n, read: readContents, place: place)
            try node.restore(n, read: readContents, place: place)
            if image.mountPath != nil { node.makeOrphan(linkable: image.linkable ?? false) }
            else { node.data?.restoreSeals(image.seals) }
            memfds.append((node, location))
        }

        // Pseudo-terminal pairs, each at its own /dev/pts index.
        var ptys: [Pty] = []
        for p in m.ptys ?? [] {
            let input = try files.read(p.input, what: "pty input"), editing = try files.read(p.editing, what: "pty input")
            let output = try files.read(p.output, what: "pty output")
            guard p.index >= 0, p.index < 1 << 20, p.termios.count == 36, p.winsize.count == 8,
                  input.count + editing.count <= 2 * Pty.bufferLimit, output.count <= 2 * Pty.bufferLimit,
                  zip(p.lineEnds, p.lineEnds.dropFirst()).allSatisfy({ $0 <= $1 }), p.lineEnds.allSatisfy({ (0...input.count).contains($0) }) else {
                throw .corrupt("pty \(p.index)")
            }
            let pty = Pty(restoring: p, input: input, editing: editing, output: output, kernel: kernel)
            if p.masterOpen { guard vfs.ptys.adopt(pty) else { throw .corrupt("pty \(p.index) twice") } }
            ptys.append(pty)
        }

        var pipes: [Pipe] = []
        var pipeInodes = Set<UInt64>()
        for p in m.pipes {
            guard p.capacity > 0, p.capacity <= 1 << 30, p.capacity % 4096 == 0 else { throw .corrupt("a pipe of capacity \(p.capacity)") }
            // Each number once, and one a counter can go past.
            if let i = p.inode { guard i < UInt64(Int64.max), pipeInodes.insert(i).inserted else { throw .corrupt("pipe inode \(i)") } }
            let bytes = try files.read(p.contents, what: "pipe contents")
            guard bytes.count <= p.capacity else { throw .corrupt("a pipe holding more than its capacity") }
            pipes.append(Pipe.restored(capacity: p.capacity, contents: bytes, inode: p.inode))
        }

        // POSIX message queues, each open as many times as descriptions name it.
        let queueImages = m.mqueues ?? []
        var opened = [Int](repeating: 0, count: queueImages.count)
        for f in m.files where f.kind == .mqueue {
            guard let i = f.mqueue, opened.indices.contains(i) else { throw .corrupt("a message queue file") }
            opened[i] += 1
        }
        let queues = try vfs.mqueues.restore(queueImages, opened: opened)
        if let l = m.mqueueLimits {
            guard l.valid else { throw .corrupt("/proc/sys/fs/mqueue limits out of their bounds") }
            vfs.mqueues.locked { vfs.mqueues.limits = l }
        }
        if let v = m.sysctls {
            guard v.valid else { throw .corrupt("fs.protected_* or ping_group_range out of their bounds") }
            vfs.sysctls.update { $0 = v }
        }
        // System V objects; segments before the mappings that attach them.
        let segments = try m.sysv.map { (image) throws(CheckpointError) -> [ShmSegment] in
            try kernel.ipc.restore(image) { (r) throws(CheckpointError) -> UInt64 in
                guard let at = translate(r.lowerBound, r.upperBound - r.lowerBound) else { throw .corrupt("a System V segment's memory") }
                return at
            }
        } ?? []

        var handlers: [SignalHandlers] = []
        for h in m.handlers {
            guard h.count == 65 else { throw .corrupt("a signal table of \(h.count) entries") }
            let s = SignalHandlers()
            s.actions = h.map { var a = SignalAction(); a.handler = $0.handler; a.flags = $0.flags; a.restorer = $0.restorer; a.mask = $0.mask; return a }
            handlers.append(s)
        }

        // Processes, then the tree (before the descriptions: a pidfd names its process).
        var groups: [Int32: ThreadGroup] = [:]
        for p in m.processes {
            guard handlers.indices.contains(p.handlers), groups[p.pid] == nil, p.pid > 0, p.pid <= 4_194_304,
                  p.exitSignal.map({ (1...64).contains($0) }) ?? true,
                  p.exitStatus?.signal.map({ (1...64).contains($0) }) ?? true else { throw .corrupt("process \(p.pid)") }
            var limits: [Int32: (cur: UInt64, max: UInt64)] = [:]
            for l in p.limits { limits[l.resource] = (l.cur, l.max) }
            let g = ThreadGroup(pid: p.pid, parent: nil, pgid: p.pgid, sid: p.sid, handlers: handlers[p.handlers], limits: limits,
                                exitSignal: p.exitSignal.map { Signal($0) })
            g.parentThreadID = p.parentThreadID
            g.zombie = p.zombie
            g.exitStatus = p.exitStatus.map(Self.status)
            for i in p.sharedPending { g.sharedPending.enqueue(try Self.info(i)) }
            g.isChildSubreaper = p.isChildSubreaper
            g.dumpable = p.dumpable
            guard let exited = ResourceUsage(imageFields: p.exitedUsage), let children = ResourceUsage(imageFields: p.childUsage) else {
                throw .corrupt("process \(p.pid): resource usage of \(p.exitedUsage.count) and \(p.childUsage.count) fields")
            }
            g.exitedUsage = exited
            g.childUsage = children
            let adj = p.oomScoreAdj ?? 0, adjMin = p.oomScoreAdjMin ?? 0
            guard (Task.OOM_SCORE_ADJ_MIN...Task.OOM_SCORE_ADJ_MAX).contains(Int(adj)), (Task.OOM_SCORE_ADJ_MIN...Task.OOM_SCORE_ADJ_MAX).contains(Int(adjMin)) else {
                throw .corrupt("process \(p.pid): oom_score_adj \(adj) (floor \(adjMin))")
            }
            g.oomScoreAdj = adj
            g.oomScoreAdjMin = adjMin
            if let start = p.startTimeNs {
                guard start >= (m.bootTimeNs ?? .min), start <= m.monotonicNs else { throw .corrupt("process \(p.pid): start time \(start)") }
                g.startTime = start
            }
            groups[p.pid] = g
        }
        for p in m.processes {
            guard let parent = p.parent else { continue }
            guard let pg = groups[parent] else { throw .corrupt("process \(p.pid)'s parent \(parent) is not in the image") }
            groups[p.pid]!.parent = pg
            pg.children.append(groups[p.pid]!)
        }
        // seccomp USER_NOTIF listeners, before the listener fds and filters over them.
        let listeners = try (m.seccompListeners ?? []).map { (l) throws(CheckpointError) in
            try SeccompListener.restored(l, tids: Set(m.tasks.map(\.tid)))
        }
        // Sockets: their endpoints before the descriptions over them, their
        // queues (which carry descriptions) after.
        let sockets = try SocketRestorer(m.sockets ?? [], names: kernel.unixNames)
        var socketFiles = Set<Int>(), listenerFiles = Set<Int>()
        var descriptions: [FileDescription] = []
        // /proc paths name pids: reopened once the image's processes are the kernel's.
        var reopenLater: [Int] = []
        for (i, f) in m.files.enumerated() {
            if f.kind == .path, let path = f.guestPath, path == "/proc" || path.hasPrefix("/proc/") {
                descriptions.append(PendingReopen(flags: OpenFlags(rawValue: f.flags)))
                reopenLater.append(i)
                continue
            }
            if f.kind == .seccompNotify {
                // Each listener's fd once (its last close answers every waiting call).
                guard let i = f.listener, listeners.indices.contains(i), listenerFiles.insert(i).inserted else {
                    throw .corrupt("a seccomp listener file")
                }
                descriptions.append(SeccompNotifyFile(listeners[i], kernel: kernel))
                continue
            }
            if f.kind == .socket {
                guard let i = f.socket, sockets.endpoints.indices.contains(i), socketFiles.insert(i).inserted else {
                    throw .corrupt("a socket file")
                }
                descriptions.append(SocketFile(sockets.endpoints[i], flags: OpenFlags(rawValue: f.flags)))
                continue
            }
            descriptions.append(try file(f, pipes: pipes, ptys: ptys, memfds: memfds, queues: queues, groups: groups, boot))
        }
        try sockets.finish(files: descriptions, read: { (r) throws(CheckpointError) -> [UInt8] in try files.read(r, what: "socket queues") },
                           vfs: vfs, boot)
        for (i, f) in m.files.enumerated() where f.kind == .epoll {
            let ep = descriptions[i] as! EpollFile
            for interest in f.interests ?? [] {
                guard descriptions.indices.contains(interest.file), descriptions[interest.file] !== ep else {
                    throw .corrupt("an epoll interest in file \(interest.file)")
                }
                if descriptions[interest.file] is PendingReopen { throw .restoreFailed("an epoll interest in a /proc file") }
                ep.restoreInterest(fd: interest.fd, file: descriptions[interest.file], events: interest.events,
                                   data: interest.data, disabled: interest.disabled)
            }
        }

        var tables: [FDTable] = []
        for t in m.fdTables {
            let table = FDTable()
            table.limit = t.limit
            for e in t.entries {
                guard descriptions.indices.contains(e.file) else { throw .corrupt("fd \(e.fd) names file \(e.file)") }
                do { try table.install(descriptions[e.file], at: FileDescriptor(e.fd), closeOnExec: e.closeOnExec) }
                catch { throw .corrupt("fd \(e.fd): \(error.message)") }
            }
            tables.append(table)
        }

        var contexts: [FSContext] = []
        for c in m.fsContexts {
            do {
                let root = try vfs.directory(c.root, from: vfs.rootLocation, boot)
                let cwd = try vfs.directory(c.cwd, from: vfs.rootLocation, boot)
                contexts.append(FSContext(cwd: cwd, root: root, umask: c.umask & 0o777))
            } catch { throw .restoreFailed("working directory \(c.cwd) or root \(c.root): \(error.message)") }
        }

        var mms: [MemoryManager] = []
        for image in m.mms { mms.append(try mm(image, memfds: memfds, segments: segments, boot)) }
        try restoreHostFileRuns()

        // seccomp filters, each over one restored before it, each program verified again.
        var filters: [(filter: SeccompFilter, count: Int)] = []
        for (i, f) in (m.seccompFilters ?? []).enumerated() {
            guard f.previous.map({ (0..<i).contains($0) }) ?? true, f.instructions.count <= ClassicBPF.maxInstructions,
                  f.listener.map({ listeners.indices.contains($0) }) ?? true else {
                throw .corrupt("seccomp filter \(i)")
            }
            let program: ClassicBPF
            do {
                program = try ClassicBPF(verifying: f.instructions.map {
                    ClassicBPF.Instruction(code: UInt16(truncatingIfNeeded: $0), jt: UInt8(truncatingIfNeeded: $0 >> 16),
                                           jf: UInt8(truncatingIfNeeded: $0 >> 24), k: UInt32(truncatingIfNeeded: $0 >> 32))
                })
            } catch { throw .corrupt("seccomp filter \(i): the program does not verify (\(error.message))") }
            let previous = f.previous.map { filters[$0] }
            filters.append((SeccompFilter(program: program, previous: previous?.filter, log: f.log, listener: f.listener.map { listeners[$0] }),
                            (previous?.count ?? 0) + 1))
        }

        guard let initGroup = groups[m.initPID], !initGroup.zombie else { throw .corrupt("no live init (pid \(m.initPID))") }
        let domains = try LandlockRestorer.domains(m.landlockDomains ?? [], kernel: kernel, boot)

        var tasks: [Int32: Task] = [:]
        var fpu: [Int32: [UInt8]] = [:]
        var tableUsers: [Int: Int] = [:]
        for ti in m.tasks {
            guard let g = groups[ti.pid], !g.zombie, tasks[ti.tid] == nil, ti.tid > 0, ti.tid <= 4_194_304, mms.indices.contains(ti.mm), tables.indices.contains(ti.fdTable),
                  contexts.indices.contains(ti.fsContext), ti.registers.count * 8 == MemoryLayout<sw_regs>.size else {
                throw .corrupt("task \(ti.tid)")
            }
            let context: PlatformContext
            do { context = try kernel.platform.makeContext() } catch { throw .restoreFailed(error.description) }
            var credentials = Self.credentials(ti.credentials)
            if let i = ti.landlockDomain {
                guard domains.indices.contains(i) else { throw .corrupt("tid \(ti.tid): Landlock domain \(i)") }
                credentials.landlock = domains[i]
            }
            var attributes = TaskAttributes(credentials: credentials, executablePath: ti.executablePath)
            attributes.comm = Array(ti.comm.prefix(TaskAttributes.commLength - 1))
            attributes.parentDeathSignal = ti.parentDeathSignal
            attributes.noNewPrivs = ti.noNewPrivs
            attributes.memoryPolicy = try ti.memoryPolicy?.policy()
            attributes.personality = Personality(rawValue: ti.personality ?? Personality.PER_LINUX)
            if let m = ti.affinity {
                // Another host's CPUs may differ: cut to the sentry's (none left: all of them).
                var own: UInt64 = 0
                _ = sw_affinity_mask(&own)
                attributes.scheduling.affinity = m & own == 0 ? nil : m & own
            }
            if let mode = ti.seccompMode, mode != Seccomp.SECCOMP_MODE_DISABLED {
                guard mode == Seccomp.SECCOMP_MODE_STRICT || mode == Seccomp.SECCOMP_MODE_FILTER,
                      (mode == Seccomp.SECCOMP_MODE_FILTER) == (ti.seccompFilter != nil),
                      ti.seccompFilter.map({ filters.indices.contains($0) }) ?? true else { throw .corrupt("tid \(ti.tid): seccomp state") }
                attributes.seccomp.mode = mode
                if let i = ti.seccompFilter { attributes.seccomp.filter = filters[i].filter; attributes.seccomp.filterCount = filters[i].count }
            }
            tableUsers[ti.fdTable, default: 0] += 1
            let fds = tableUsers[ti.fdTable]! > 1 ? tables[ti.fdTable].retainUser() : tables[ti.fdTable]
            let t = Task(kernel: kernel, tid: ti.tid, group: g, mm: mms[ti.mm], space: nil, fds: fds, fs: contexts[ti.fsContext],
                         context: context, regs: Registers(raw: Self.registers(ti.registers)), executablePath: ti.executablePath,
                         argv: ti.commandLine, envp: ti.environment, attributes: attributes)
            t.signalMask = ti.signalMask & ~SignalSets.unblockable
            t.savedMask = ti.savedMask
            if let p = ti.ioPriority { t.ioContext = IOContext(priority: p) }
            for i in ti.pending { t.pending.enqueue(try Self.info(i)) }
            if ti.altStack.count == 3 {
                t.altStack = AltStack(sp: ti.altStack[0], flags: Int32(truncatingIfNeeded: ti.altStack[1]), size: ti.altStack[2])
            }
            t.clearChildTID = GuestAddress(ti.clearChildTID)
            t.robustList = (GuestAddress(ti.robustList), ti.robustListLength)
            if let left = ti.restartSleepNs, let f = ti.restartFutex {
                guard f.count == 4, f[1] <= UInt64(UInt32.max), f[2] <= UInt64(UInt32.max), [0, 1].contains(f[3]) else {
                    throw .corrupt("tid \(ti.tid): a futex wait's restart")
                }
                let clock = clockid_t(Int32(f[3]))
                let (at, o) = Deadline.now(clock).addingReportingOverflow(max(0, left))
                let deadline = Deadline(nanoseconds: o ? .max : at, clock: clock)
                let addr = GuestAddress(f[0]), value = UInt32(f[1]), bitset = UInt32(f[2])
                t.restartState = .futexWait(address: addr, value: value, bitset: bitset, deadline: deadline)
                t.restartBlock = { (t: Task) throws(Errno) -> Int64 in try t.restartableFutexWait(addr, value, bitset: bitset, deadline: deadline) }
            } else if let left = ti.restartSleepNs {
                let deadline = Deadline.after(max(0, left))
                let remaining = GuestAddress(ti.restartRemaining ?? 0)
                t.restartState = .sleep(deadline: deadline, remaining: remaining)
                t.restartBlock = { (t: Task) throws(Errno) -> Int64 in try t.restartableSleep(until: deadline, remaining: remaining) }
            }
            if let f = ti.freezeRestart {
                guard f.count == 4, f[1] >= -1, [0, 1].contains(f[2]), f[3] >= 0, f[3] <= Int64(Int32.max) else {
                    throw .corrupt("tid \(ti.tid): a call's restart after the freeze")
                }
                let clock = clockid_t(Int32(f[2]))
                let (at, o) = Deadline.now(clock).addingReportingOverflow(f[1])
                t.freezeRestart = (UInt64(bitPattern: f[0]), f[1] < 0 ? nil : Deadline(nanoseconds: o ? .max : at, clock: clock), Int(f[3]))
            }
            if let f = ti.fpu { fpu[ti.tid] = Array(f) }
            if let c = ti.cpuNs {
                guard c.count == 2, c[0] >= 0, c[1] >= c[0] else { throw .corrupt("tid \(ti.tid): CPU time") }
                t.carriedCPU = (c[0], c[1] - c[0])
            }
            if let f = ti.faultsAndSwitches {
                guard f.count == 3, f.allSatisfy({ $0 >= 0 }) else { throw .corrupt("tid \(ti.tid): faults and switches") }
                (t.carriedCounters.minorFaults, t.carriedCounters.majorFaults, t.carriedCounters.involuntarySwitches) = (f[0], f[1], f[2])
            }
            if let s = ti.syscallUserDispatch {
                do { try t.restoreSyscallUserDispatch(.init(mode: s.mode, offset: s.offset, length: s.len, selector: s.selector)) }
                catch { throw .corrupt("tid \(ti.tid): Syscall User Dispatch state (\(error.message))") }
            }
            if let area = ti.rseqArea {
                // cpu_id is written again before the task first runs (rseqCPU unset).
                t.rseq = RseqRegistration(area: GuestAddress(area), signature: ti.rseqSignature ?? 0)
            }
            g.tasks.append(t)
            tasks[ti.tid] = t
        }
        for (pid, g) in groups where !g.zombie && g.tasks.isEmpty { throw .corrupt("process \(pid) has no tasks") }
        for ti in m.tasks {
            if let p = ti.ptrace { try Self.restorePtrace(p, tracee: tasks[ti.tid]!, tasks: tasks, kernel: kernel) }
            if ti.groupStopPending == true { tasks[ti.tid]!.groupStopPending = true }
        }
        for ti in m.tasks {
            let t = tasks[ti.tid]!
            if let c = ti.vforkChild { try Self.restoreVforkWait(parent: t, child: c, released: ti.vforkChildReleased == true, tasks: tasks) }
            if let n = ti.seccompNotification {
                // The call waits on a notification of its own that a listener keeps, from the top of its run loop.
                guard n.count == 2, let i = Int(exactly: n[0]), listeners.indices.contains(i), t.restoredPtraceStop == nil, !t.restoredInVfork,
                      listeners[i].state.withLock({ $0.pending.contains { $0.id == n[1] && $0.tid == t.tid } }) else {
                    throw .corrupt("tid \(t.tid): its seccomp notification")
                }
                kernel.locked { t.seccompWait = (listeners[i], n[1]) }
                t.restoredInSeccompWait = true
            }
        }
        try restoreDeadTracees(m.deadTracees ?? [], tasks: tasks, groups: groups)
        guard let initTask = initGroup.tasks.first else { throw .corrupt("init has no task") }
        kernel.locked {
            kernel.tasks = tasks
            kernel.groups = groups
            kernel.initGroup = initGroup
            // The sentry's terminal's foreground group, as the guest set it (init's session's).
            if let fg = m.foregroundPGID { kernel.hostForeground[initGroup.sid] = fg }
            kernel.restoreNextIDLocked()
        }
        for i in reopenLater {
            let placeholder = descriptions[i]
            let real = try file(m.files[i], pipes: pipes, ptys: ptys, memfds: memfds, queues: queues, groups: groups, boot)
            descriptions[i] = real
            for table in tables {
                for (fd, e) in table.entries where e.file === placeholder {
                    do { _ = try table.install(real, at: FileDescriptor(fd), closeOnExec: e.closeOnExec) }
                    catch { throw .restoreFailed("reopening \(m.files[i].guestPath ?? "?") at fd \(fd): \(error.message)") }
                }
            }
        }
        // Interval timers go on with the time they had left.
        for p in m.processes where !p.zombie {
            if let left = p.realTimerNs, left > 0, let g = groups[p.pid] {
                _ = kernel.setRealTimer(g, value: left, interval: max(0, p.realIntervalNs ?? 0))
            }
        }
        try restoreTimers(groups)
        if tasks.count > 1 { kernel.tracer?.showPIDs.store(true, ordering: .relaxed) }
        // Tasks by address space, in tid order; init leads its own.
        var spaces: [[Task]] = []
        for (i, _) in mms.enumerated() {
            var members = m.tasks.filter { $0.mm == i }.compactMap { tasks[$0.tid] }.sorted { $0.tid < $1.tid }
            if let at = members.firstIndex(where: { $0 === initTask }) { members.insert(members.remove(at: at), at: 0) }
            if !members.isEmpty { spaces.append(members) }
        }
        return RestoredSandbox(sandbox: sandbox, manifest: m, initTask: initTask, spaces: spaces, fpu: fpu)
    }

    // MARK: Pieces

    /// A tracee's link to its tracer, and the stop it takes up before it
    /// first runs: the tracer's next wait and requests see what they would
    /// have seen without the checkpoint.
    static func restorePtrace(_ p: PtraceImage, tracee t: Task, tasks: [Int32: Task], kernel: Kernel) throws(CheckpointError) {
        guard let tracer = tasks[p.tracer], tracer.group !== t.group, p.debugRegisters.count == 8 else {
            throw .corrupt("tid \(t.tid): its tracer \(p.tracer)")
        }
        let mode: PtraceLink.SyscallMode
        switch p.syscallMode {
        case "none": mode = .none
        case "trace": mode = .trace
        case "emulate": mode = .emulate
        default: throw .corrupt("tid \(t.tid): ptrace syscall mode \(p.syscallMode)")
        }
        let stop: PtraceLink.Stop?, site: RestoredPtraceStop?
        switch p.stop {
        case nil: (stop, site) = (nil, nil)
        case "syscallEntry": (stop, site) = (.syscallEntry, .syscallEntry)
        case "syscallExit": (stop, site) = (.syscallExit, .syscallExit)
        case "signalDelivery": (stop, site) = (.signalDelivery, .signalDelivery(first: p.deliveryFirst))
        case "groupStop": (stop, site) = (.groupStop, .groupStop)
        case "event":
            // The event as ptrace_event's exit_code has it, and what its caller does next.
            let event = p.exitCode >> 8
            guard p.exitCode == Signal.SIGTRAP.rawValue | (event << 8), ImageWriter.restorableEvents.contains(event) else {
                throw .corrupt("tid \(t.tid): a PTRACE_EVENT stop with exit code \(p.exitCode)")
            }
            switch event {
            case PtraceABI.PTRACE_EVENT_EXEC:
                site = .execed
            case PtraceABI.PTRACE_EVENT_SECCOMP:
                site = .seccompTraced
            case PtraceABI.PTRACE_EVENT_EXIT:
                guard let after = p.exitAfter, p.exitGroup != nil, after.signal.map({ (1...64).contains($0) }) ?? (after.exited != nil) else {
                    throw .corrupt("tid \(t.tid): a PTRACE_EVENT_EXIT stop without its exit status")
                }
                site = .exiting(Self.status(after), group: p.exitGroup ?? false)
            default:
                // The child's tid, which the call returns (it may be gone by now: reaped, or its thread exited).
                guard p.eventMessage > 0, p.eventMessage <= 4_194_304 else {
                    throw .corrupt("tid \(t.tid): a PTRACE_EVENT stop naming child \(p.eventMessage)")
                }
                site = .forked(child: Int32(p.eventMessage), vfork: event == PtraceABI.PTRACE_EVENT_VFORK)
            }
            stop = .event(event)
        default: throw .corrupt("tid \(t.tid): ptrace stop \(p.stop ?? "")")
        }
        // A signal-delivery-stop delivers its siginfo's signal: one there is a must.
        if case .signalDelivery? = stop, p.siginfo == nil || !(1...64).contains(p.exitCode) {
            throw .corrupt("tid \(t.tid): a signal-delivery-stop without its signal")
        }
        let siginfo = try p.siginfo.map { (i) throws(CheckpointError) in try info(i) }
        if let f = p.fpu, f.count < XSave.legacySize { throw .corrupt("tid \(t.tid): the FPU state of its ptrace stop") }
        kernel.locked {
            let link = t.linkTracerLocked(tracer, seized: p.seized, options: p.options)
            link.syscallMode = mode
            link.stop = stop
            link.exitCode = p.exitCode
            link.reported = p.reported
            link.eventMessage = p.eventMessage
            link.siginfo = siginfo
            link.fpu = p.fpu.map { Array($0) }
            link.fpuChanged = p.fpuChanged
            link.trapStopPending = p.trapStopPending
            link.listening = p.listening
            link.debugRegisters = p.debugRegisters
            link.forcedTrapFlag = p.forcedTrapFlag
            link.stepping = p.stepping
            link.deliveryFirst = p.deliveryFirst
            if case .exiting(let status, let whole)? = site { link.exitAfter = (status, whole) }
        }
        t.restoredPtraceStop = site
    }

    /// A vfork parent's clone, not yet returned: it waits on a completion
    /// its child's exec or exit signals (none left if that happened before
    /// the checkpoint), from its PTRACE_EVENT_VFORK stop or from the top of
    /// its run loop.
    static func restoreVforkWait(parent t: Task, child tid: Int32, released: Bool, tasks: [Int32: Task]) throws(CheckpointError) {
        let child = released ? nil : tasks[tid]
        if !released {
            guard let child, child !== t, child.mm === t.mm, child.vforkDone == nil else { throw .corrupt("tid \(t.tid): its vfork child \(tid)") }
        }
        switch t.restoredPtraceStop {
        case nil: t.restoredInVfork = true
        case .forked(let c, true)? where c == tid: break
        default: throw .corrupt("tid \(t.tid): a vfork parent in another ptrace stop")
        }
        let w = VforkWait(childTID: tid, child: child, done: WaitQueue())
        t.kernel.locked {
            child?.vforkDone = w.done
            t.vforkWait = w
        }
    }

    /// Dead tracees their tracers have not waited for: each a task that
    /// never runs (in no process's thread list and not in the task table),
    /// linked to its tracer with the status its wait reports; a process
    /// leader's death reaches its parent after that wait, as before.
    private func restoreDeadTracees(_ images: [DeadTraceeImage], tasks: [Int32: Task], groups: [Int32: ThreadGroup]) throws(CheckpointError) {
        var seen = Set<Int32>()
        for d in images {
            guard d.tid > 0, d.tid <= 4_194_304, tasks[d.tid] == nil, seen.insert(d.tid).inserted, let tracer = tasks[d.tracer],
                  let g = groups[d.pid], tracer.group !== g,
                  d.status.signal.map({ (1...64).contains($0) }) ?? (d.status.exited != nil) else {
                throw .corrupt("dead tracee \(d.tid) of tid \(d.tracer)")
            }
            // It never runs: its tracer's address space, tables and context stand in for its own.
            let t = Task(kernel: kernel, tid: d.tid, group: g, mm: tracer.mm, space: nil, fds: tracer.fds, fs: tracer.fs,
                         context: tracer.context, regs: Registers(raw: sw_regs()), executablePath: "", argv: [], envp: [],
                         attributes: TaskAttributes(credentials: tracer.attributes.withLock { $0.credentials }, executablePath: ""))
            kernel.locked {
                let link = t.linkTracerLocked(tracer, seized: d.seized, options: d.options)
                link.exitReport = Self.status(d.status)
                t.traced.store(false, ordering: .releasing)
                if d.tid == d.pid { g.parentNotifyDeferred = true }
            }
        }
    }

    /// POSIX timers with their ids, overruns and time left; ITIMER_VIRTUAL
    /// and ITIMER_PROF with the CPU time they had left. After the tasks
    /// exist: a SIGEV_THREAD_ID timer names one.
    private func restoreTimers(_ groups: [Int32: ThreadGroup]) throws(CheckpointError) {
        for p in manifest.processes where !p.zombie {
            guard let g = groups[p.pid] else { continue }
            for ti in p.posixTimers ?? [] {
                // A CPU clock names its thread or process, which exist again by now.
                var cpu: (CPUClockRef, Int32)? = nil
                if ti.clock < 0, let anyTask = g.tasks.first {
                    cpu = try? kernel.locked { () throws(Errno) in try kernel.cpuTimerClockLocked(ti.clock, caller: anyTask) }
                }
                guard ti.id >= 0, g.timers.posix[ti.id] == nil, g.timers.posix.count < 4096,
                      Kernel.posixTimerClocks.contains(ti.clock) || (ti.clock < 0 && cpu != nil),
                      ti.signal.map({ (1...64).contains($0) }) ?? (ti.thread == nil), ti.intervalNs >= 0,
                      ti.thread.map({ tid in g.tasks.contains { $0.tid == tid } }) ?? true else {
                    throw .corrupt("pid \(p.pid): POSIX timer \(ti.id)")
                }
                let timer = ProcessTimers.PosixTimer(id: ti.id, clock: clockid_t(ti.clock), signal: ti.signal.map { Signal($0) },
                                                     value: ti.value, thread: ti.thread, cpu: cpu?.0)
                timer.overrun = ti.overrun
                kernel.locked { g.timers.posix[ti.id] = timer }
                if let left = ti.remainingNs, left > 0 {
                    _ = kernel.armPosixTimer(g, timer, value: left, interval: ti.intervalNs, absolute: false)
                } else {
                    kernel.locked { timer.interval = ti.intervalNs }
                }
            }
            for c in p.cpuTimers ?? [] {
                guard c.which == Kernel.ITIMER_VIRTUAL || c.which == Kernel.ITIMER_PROF, c.remainingNs > 0, c.intervalNs >= 0 else {
                    throw .corrupt("pid \(p.pid): CPU timer \(c.which)")
                }
                _ = kernel.setCPUTimer(g, which: c.which, value: c.remainingNs, interval: c.intervalNs)
            }
        }
    }

    /// A tmpfs file's bytes from files.bin.
    private func readContents(_ run: StoredRun) throws(CheckpointError) -> [UInt8] {
        try files.read(run, what: "tmpfs file contents")
    }

    /// Where a shared-mapped tmpfs file's run of image memory is now.
    private func place(_ r: TmpfsNodeImage.MemoryRun) throws(CheckpointError) -> UInt64 {
        guard r.capacity > 0, r.offset % GuestAddress.pageSize == 0, r.capacity % GuestAddress.pageSize == 0,
              r.size >= 0, UInt64(r.size) <= r.capacity, let at = translate(r.offset, r.capacity) else {
            throw .corrupt("a shared tmpfs file's memory at offset \(r.offset)")
        }
        return at
    }

    private func mm(_ image: MMImage, memfds: [(node: TmpfsNode, location: Location)], segments: [ShmSegment],
                    _ boot: BootContext) throws(CheckpointError) -> MemoryManager {
        let mm = MemoryManager(memory: kernel.memory, space: nil, layout: kernel.layout, imageCache: kernel.imageCache,
                               hostPages: kernel.hostPages)
        var vmas: [VMA] = []
        var previousEnd: UInt64 = 0
        for v in image.vmas {
            guard v.start < v.end, v.start >= previousEnd, v.start % GuestAddress.pageSize == 0, v.end % GuestAddress.pageSize == 0,
                  v.end <= kernel.layout.top.rawValue else {
                throw .corrupt("a mapping at 0x\(String(v.start, radix: 16))-0x\(String(v.end, radix: 16)) (the address space ends at 0x\(String(kernel.layout.top.rawValue, radix: 16)))")
            }
            previousEnd = v.end
            // A file mapping's offset as mmap takes it: page-aligned, its end within off_t (file_mmap_ok).
            if let offset = v.fileOffset {
                let (fileEnd, o) = offset.addingReportingOverflow(v.end - v.start)
                guard offset % GuestAddress.pageSize == 0, !o, fileEnd <= UInt64(Int64.max) else {
                    throw .corrupt("the mapping at 0x\(String(v.start, radix: 16)) has file offset \(offset)")
                }
            }
            guard let memOffset = translate(v.memOffset, v.end - v.start) else {
                throw .corrupt("the mapping at 0x\(String(v.start, radix: 16)) names memory the image does not hold")
            }
            var backing = VMABacking.anonymous
            if let i = v.shm {
                guard segments.indices.contains(i) else { throw .corrupt("the mapping at 0x\(String(v.start, radix: 16)) names segment \(i)") }
                backing = .file(segments[i], offset: v.fileOffset ?? 0)
            } else if let i = v.memfd {
                guard memfds.indices.contains(i) else { throw .corrupt("the mapping at 0x\(String(v.start, radix: 16)) names memfd \(i)") }
                // The path mmap saw: the file's, as /proc shows it.
                let loc = memfds[i].location
                backing = .file(TmpfsMapping(node: memfds[i].node, path: loc.isDeleted ? loc.path + " (deleted)" : loc.path, openedAt: loc), offset: v.fileOffset ?? 0)
            } else if let path = v.tmpfsPath {
                guard let loc = try? kernel.vfs.resolve(path, from: kernel.vfs.rootLocation, followLast: false, boot),
                      let node = loc.inode as? TmpfsNode, node.data != nil else {
                    throw .restoreFailed("the mapping at 0x\(String(v.start, radix: 16)): no tmpfs file at \(path)")
                }
                backing = .file(TmpfsMapping(node: node, path: path), offset: v.fileOffset ?? 0)
            } else if let id = v.file, v.shared {
                backing = .file(try sharedHostFile(id, boot), offset: v.fileOffset ?? 0)
            } else if let id = v.file {
                let fd = open(id.hostPath, O_RDONLY | O_CLOEXEC)
                guard fd >= 0 else { throw .hostFileChanged("\(id.hostPath): \(Errno(errno).message)") }
                defer { close(fd) }
                do { backing = .file(try MappedFile(duplicating: fd, path: id.guestPath), offset: v.fileOffset ?? 0) }
                catch { throw .hostFileChanged("\(id.hostPath): \(error.message)") }
            }
            // Where the file's pages end, as mmap finds it (a touch past it is SIGBUS).
            var fileEnd = UInt64.max
            if case .file(let f, _) = backing { fileEnd = MemoryManager.fileEnd(f) }
            var vma = VMA(range: GuestAddress(v.start)..<GuestAddress(v.end), prot: Prot(rawValue: v.prot), maxProt: Prot(rawValue: v.maxProt),
                          shared: v.shared, memOffset: memOffset, backing: backing, name: v.name, fileEnd: fileEnd)
            vma.dontCopy = v.dontCopy ?? false
            vma.wipeOnFork = v.wipeOnFork ?? false
            vma.softDirty = v.softDirty ?? true
            vma.softClean = v.softClean ?? false
            vma.policy = try v.policy?.policy()
            vmas.append(vma)
        }
        guard image.brkStart <= image.brk, image.brk <= kernel.layout.top.rawValue else {
            throw .corrupt("a program break at 0x\(String(image.brk, radix: 16)) from 0x\(String(image.brkStart, radix: 16))")
        }
        mm.restore(vmas: vmas, brkStart: GuestAddress(image.brkStart), brk: GuestAddress(image.brk))
        // systrap's patched syscall sites: kept where this platform patches, undone elsewhere.
        mm.adoptRestoredPatches(entry: kernel.platform.syscallPatchEntry)
        return mm
    }

    private func file(_ f: FileImage, pipes: [Pipe], ptys: [Pty], memfds: [(node: TmpfsNode, location: Location)], queues: [PosixMQ],
                      groups: [Int32: ThreadGroup], _ boot: BootContext) throws(CheckpointError) -> FileDescription {
        let flags = OpenFlags(rawValue: f.flags)
        switch f.kind {
        case .mqueue:
            guard let i = f.mqueue, queues.indices.contains(i) else { throw .corrupt("a message queue file") }
            return PosixMQFile(queues[i], flags: OpenFlags(rawValue: f.flags & (O_ACCMODE | O_NONBLOCK)))
        case .memfd:
            guard let i = f.memfd, memfds.indices.contains(i) else { throw .corrupt("a memfd file") }
            var location = memfds[i].location
            if let path = f.guestPath {
                // A tmpfs file unlinked while open, by another of its names than the one the image keeps it under.
                let mount = location.mount
                guard path.hasPrefix("/"), location.isDeleted, mount.type == "tmpfs", let slash = path.lastIndex(of: "/") else {
                    throw .corrupt("a memfd file at \(path)")
                }
                let name = String(path[path.index(after: slash)...]), dir = slash == path.startIndex ? "/" : String(path[..<slash])
                guard !name.isEmpty, name.utf8.count <= 255 else { throw .corrupt("a memfd file at \(path)") }
                var parent = Location(root: mount)
                if let d = try? kernel.vfs.directory(dir, from: kernel.vfs.rootLocation, boot), d.mount === mount { parent = d }
                location = Location(mount: mount, dentry: parent.dentry.detachedChild(name, memfds[i].node, deleted: true))
            }
            let d = TmpfsFile(node: memfds[i].node, location: location, flags: flags)
            if let pos = f.position, pos > 0 { _ = try? d.seek(pos, whence: SEEK_SET) }
            return d
        case .stdio:
            guard let n = f.stdio, (0...2).contains(n) else { throw .corrupt("a stdio file that is not 0, 1 or 2") }
            // The restoring sentry's own: the guest's output continues on this terminal.
            var fd = fcntl(n, F_DUPFD_CLOEXEC, 3)
            if fd < 0 { fd = open("/dev/null", O_RDWR | O_CLOEXEC) }
            let acc = fcntl(fd, F_GETFL) & (O_ACCMODE | O_APPEND | O_NONBLOCK)
            return HostFile(stdio: fd, flags: OpenFlags(rawValue: acc), name: Kernel.stdioName(n), number: n)
        case .pipe:
            // A pipe's read end is O_RDONLY, its write end O_WRONLY, as pipe2 made them.
            guard let i = f.pipe, pipes.indices.contains(i), let w = f.writer,
                  f.flags & O_ACCMODE == (w ? O_WRONLY : O_RDONLY) else { throw .corrupt("a pipe end") }
            return PipeEnd(pipes[i], writer: w, flags: flags)
        case .socket, .seccompNotify:
            throw .corrupt("a \(f.kind) file")
        case .landlockRuleset:
            guard let image = f.landlock else { throw .corrupt("a Landlock ruleset file without its ruleset") }
            let d = LandlockRulesetFile(try LandlockRestorer.ruleset(image, kernel: kernel, boot, what: "a Landlock ruleset descriptor"))
            // Only the status flags fcntl could have set: its access mode stays O_RDWR.
            d.flags = OpenFlags(rawValue: (f.flags & ~OpenFlags.accessMode) | O_RDWR)
            return d
        case .epoll:
            return EpollFile(flags: OpenFlags(rawValue: f.flags & ~OpenFlags.accessMode))
        case .eventfd:
            return EventFD(initial: min(f.counter ?? 0, 0xffff_ffff_ffff_fffe), semaphore: f.semaphore ?? false,
                           flags: OpenFlags(rawValue: f.flags & ~OpenFlags.accessMode))
        case .timerfd:
            // timerfd_create's clocks: REALTIME, MONOTONIC, BOOTTIME and their _ALARM forms.
            guard let clock = f.clock, [CLOCK_REALTIME, CLOCK_MONOTONIC, CLOCK_BOOTTIME, CLOCK_REALTIME_ALARM, CLOCK_BOOTTIME_ALARM].contains(clock),
                  (f.remainingNs ?? 1) > 0, (f.intervalNs ?? 0) >= 0 else { throw .corrupt("a timerfd") }
            let t = kernel.makeTimerFD(clock: clock, flags: OpenFlags(rawValue: f.flags & ~OpenFlags.accessMode))
            t.restore(remaining: f.remainingNs, interval: f.intervalNs ?? 0, expirations: f.counter ?? 0)
            return t
        case .signalfd:
            guard let mask = f.mask else { throw .corrupt("a signalfd with no mask") }
            return SignalFD(mask: mask, flags: OpenFlags(rawValue: f.flags & ~OpenFlags.accessMode))
        case .inotify:
            guard let image = f.inotify, image.cursor >= 1, image.events.count <= InotifyRegistry.maxQueuedEvents + 1,
                  Set(image.watches.map(\.wd)).count == image.watches.count, image.watches.allSatisfy({ $0.wd >= 1 }),
                  Set(image.watches.map { DirNotify.Key(device: $0.device, inode: $0.inode) }).count == image.watches.count,
                  image.events.allSatisfy({ $0.name.count <= 255 }) else { throw .corrupt("an inotify instance") }
            do { return try InotifyFile.restored(kernel.vfs.notify, image: image, flags: OpenFlags(rawValue: f.flags & ~OpenFlags.accessMode)) }
            catch { throw .restoreFailed("an inotify instance: \(error.message)") }
        case .pty:
            guard let i = f.pty, ptys.indices.contains(i), let master = f.master else { throw .corrupt("a pty file") }
            return PtyEnd(ptys[i], master: master, table: kernel.vfs.ptys, flags: flags)
        case .pidfd:
            let pidfdFlags = OpenFlags(rawValue: f.flags & ~OpenFlags.accessMode)
            if f.reaped == true {
                guard let pid = f.pid, pid > 0, pid <= 4_194_304 else { throw .corrupt("a pidfd of pid \(f.pid ?? 0)") }
                return PidFD(Self.reapedProcess(pid), kernel: kernel, flags: pidfdFlags)
            }
            guard let pid = f.pid, let g = groups[pid] else { throw .corrupt("a pidfd of a process not in the image") }
            return PidFD(g, kernel: kernel, flags: pidfdFlags)
        case .path:
            guard let path = f.guestPath else { throw .corrupt("a file with no path") }
            let reopen = OpenFlags(rawValue: f.flags & ~(OpenFlags.create.rawValue | OpenFlags.truncate.rawValue | OpenFlags.exclusive.rawValue))
            let d: FileDescription
            do { d = try kernel.vfs.open(path, from: kernel.vfs.rootLocation, flags: reopen, mode: 0, boot) }
            catch { throw .restoreFailed("reopening \(path): \(error.message)") }
            if let id = f.host, !hostFiles.changed.contains(id.hostPath) {
                guard let st = try? d.stat(), Int64(st.st_size) == id.size else { throw .hostFileChanged("\(path) changed size") }
            }
            if let pos = f.position, pos > 0 { _ = try? d.seek(pos, whence: SEEK_SET) }
            return d
        }
    }

    /// A process that exited and was waited for, as its pidfd still holds
    /// it: no thread, dead, in no table (its pid may be another's now), so
    /// the pidfd polls readable and pidfd_send_signal, pidfd_getfd and
    /// process_madvise answer ESRCH, waitid ECHILD.
    static func reapedProcess(_ pid: Int32) -> ThreadGroup {
        let g = ThreadGroup(pid: pid, parent: nil, pgid: pid, sid: pid, handlers: SignalHandlers(), limits: [:], exitSignal: nil)
        g.zombie = true
        g.exitStatus = .exited(0)
        return g
    }

    static func registers(_ words: [UInt64]) -> sw_regs {
        var r = sw_regs()
        withUnsafeMutableBytes(of: &r) { b in
            for (i, w) in words.enumerated() { b.storeBytes(of: w, toByteOffset: i * 8, as: UInt64.self) }
        }
        return r
    }

    static func info(_ i: SignalInfoImage) throws(CheckpointError) -> SignalInfo {
        guard (1...64).contains(i.signo) else { throw .corrupt("a pending signal \(i.signo)") }
        var s = SignalInfo(Signal(i.signo), code: i.code)
        s.errno = i.errno; s.pid = i.pid; s.uid = i.uid; s.status = i.status; s.address = i.address
        s.value = i.value; s.timerID = i.timerID; s.overrun = i.overrun; s.overridesInit = i.overridesInit
        return s
    }

    /// The inode numbers of nodes (and their trees) restored into one
    /// filesystem: each at least 2 (1 is its root) and given once.
    static func checkInodes(_ nodes: [TmpfsNodeImage], _ what: String) throws(CheckpointError) {
        var seen = Set<UInt64>()
        var stack = nodes
        while let n = stack.popLast() {
            if let i = n.ino { guard i >= 2, i < UInt64(Int64.max), seen.insert(i).inserted else { throw .corrupt("\(what): inode \(i)") } }
            stack += n.children
        }
    }

    static func status(_ s: ExitStatusImage) -> ExitStatus {
        if let sig = s.signal { return .signaled(Signal(sig), coreDumped: s.coreDumped ?? false) }
        return .exited(s.exited ?? 0)
    }

    static func credentials(_ c: CredentialsImage) -> Credentials {
        var x = Credentials.sentrys()
        x.uid = c.uid; x.euid = c.euid; x.suid = c.suid; x.fsuid = c.fsuid
        x.gid = c.gid; x.egid = c.egid; x.sgid = c.sgid; x.fsgid = c.fsgid
        x.groups = c.groups
        x.inheritable = c.inheritable; x.permitted = c.permitted; x.effective = c.effective
        x.bounding = c.bounding; x.ambient = c.ambient; x.securebits = c.securebits
        return x
    }
}

/// One restore's page store work: each run read, checked and written.
private struct RestorePagesWork {
    let runs: [StoredRun]
    let placed: [(from: Range<UInt64>, to: UInt64)]
    let pages: DataFileReader
    let memory: MemoryFile

    func restore(_ run: StoredRun, pageSize: Int, buffer: UnsafeMutableRawPointer) throws(CheckpointError) {
        let what = "pages at memory offset \(run.offset)"
        try pages.readPages(run, pageSize: pageSize, what: what, buffer: buffer) { (at, src, count) throws(CheckpointError) in
            let (from, o) = run.offset.addingReportingOverflow(at)
            guard !o, let to = ImageReader.translate(from, UInt64(count), placed) else {
                throw .corrupt("a page run at memory offset \(run.offset) outside the memory mappings own")
            }
            do throws(Errno) { try memory.fill(at: to, from: src, count: count) } catch {
                throw .restoreFailed("\(what): \(error.message)")
            }
        }
    }
}

/// Where a /proc file will be until the restore can reopen it: every
/// operation fails, and nothing reaches it before the guest runs.
private final class PendingReopen: FileDescription, @unchecked Sendable {}
