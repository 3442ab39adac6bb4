import CSwitch
import FoundationEssentials
import Glibc

/// Writing a sandbox's image: freeze, collect every kernel object into the
/// manifest's values (refusing, by name, what the format cannot hold yet),
/// write the data files and the manifest, then end the sandbox or thaw it.
extension Sandbox {
    public struct CheckpointSummary: Sendable {
        public var processes: Int
        public var tasks: Int
        public var pageBytes: UInt64
        public var zeroPagesSkipped: UInt64
        public var description: String {
            "\(processes) processes, \(tasks) tasks, \(pageBytes) bytes of pages (\(zeroPagesSkipped) zero pages skipped)"
        }
    }

    /// Checkpoints the sandbox into directory `dir` (created if missing; an
    /// existing image there is replaced). Unless `leaveRunning`, every guest
    /// is then killed and the sandbox ends as if init died of SIGKILL.
    /// `written` runs once the image is complete, while the sandbox is
    /// still frozen (a control request replies there, before the end).
    public func checkpoint(to dir: String, leaveRunning: Bool, compress: Bool = false, sync: Bool = false,
                           written: (CheckpointSummary) -> Void = { _ in }) throws(CheckpointError) -> CheckpointSummary {
        // A ptrace link the image cannot hold is refused before the freeze.
        if let why = kernel.locked({ kernel.tasks.values.sorted { $0.tid < $1.tid }.lazy.compactMap(ImageWriter.traced).first }) {
            throw .unsupported(why)
        }
        if mkdir(dir, 0o700) != 0 && errno != EEXIST { throw .io("mkdir \(dir)", Errno(errno)) }
        do { try kernel.freeze() } catch { throw .notQuiescent(error.description) }
        let summary: CheckpointSummary
        do {
            summary = try ImageWriter(self, dir: dir, compress: compress, sync: sync).write()
        } catch {
            kernel.thaw()
            throw error
        }
        written(summary)
        if !leaveRunning { kernel.endAfterCheckpoint() }
        kernel.thaw()
        return summary
    }
}

extension Kernel {
    /// The sandbox was checkpointed and is not to go on: every process dies
    /// of SIGKILL (the tasks leave their park when thawed).
    func endAfterCheckpoint() {
        locked {
            endedByCheckpoint = true
            for g in groups.values where !g.zombie { killGroupLocked(g, .signaled(.SIGKILL, coreDumped: false)) }
        }
    }
}

/// Collects one frozen sandbox into an image.
struct ImageWriter {
    let sandbox: Sandbox
    let kernel: Kernel
    let dir: String
    let compress: Bool
    /// fsync the files and the directory before returning (`--sync`).
    let sync: Bool

    init(_ sandbox: Sandbox, dir: String, compress: Bool = false, sync: Bool = false) {
        self.sandbox = sandbox; self.kernel = sandbox.kernel; self.dir = dir; self.compress = compress; self.sync = sync
    }

    /// Indices of shared objects, by identity.
    private final class Table<Image> {
        var index: [ObjectIdentifier: Int] = [:]
        var images: [Image] = []
        func find(_ o: AnyObject) -> Int? { index[ObjectIdentifier(o)] }
        func add(_ o: AnyObject, _ image: Image) -> Int {
            images.append(image)
            index[ObjectIdentifier(o)] = images.count - 1
            return images.count - 1
        }
    }

    func write() throws(CheckpointError) -> Sandbox.CheckpointSummary {
        let pages = try DataFileWriter(dir + "/pages.bin", compress: compress)
        let files = try DataFileWriter(dir + "/files.bin", compress: compress)
        let (groups, tasks, initPID, foreground): ([ThreadGroup], [Task], Int32, Int32?) = kernel.locked {
            (kernel.groups.values.sorted { $0.pid < $1.pid }, kernel.tasks.values.sorted { $0.tid < $1.tid },
             kernel.initGroup?.pid ?? 1, kernel.initGroup.flatMap { kernel.hostForeground[$0.sid] })
        }

        // Memory managers first: the page store holds what their VMAs own,
        // and the runs of tmpfs and memfd files mapped shared (the mappings'
        // pages are the file's).
        var allMMs: [MemoryManager] = []
        for t in tasks where !allMMs.contains(where: { $0 === t.mm }) { allMMs.append(t.mm) }
        // Host files mapped shared: written back before their identities are taken.
        let hostRuns = try hostFileRuns(allMMs)
        var sharedFiles: [ObjectIdentifier: Range<UInt64>] = [:]
        var segments: [ShmSegment] = []
        for mm in allMMs {
            for v in mm.vmas where v.shared {
                if case .file(let s as ShmSegment, _) = v.backing, !segments.contains(where: { $0 === s }) { segments.append(s) }
                guard case .file(let m as TmpfsMapping, _) = v.backing, let data = m.node.data else { continue }
                let l = data.layout
                if l.capacity > 0 { sharedFiles[ObjectIdentifier(data)] = l.offset..<(l.offset + l.capacity) }
            }
        }
        // System V segments (their runs are memory the page store keeps) and
        // POSIX message queues, the unlinked ones some fd still holds included.
        let (sysv, segmentIndex) = kernel.ipc.checkpointImage(held: segments)
        var openQueues: [PosixMQ] = []
        for t in tasks { for (_, e) in t.fds.entries { if let f = e.file as? PosixMQFile { openQueues.append(f.queue) } } }
        let (mqueues, queueIndex) = try kernel.vfs.mqueues.checkpointImage(open: openQueues)
        let inMemory: (TmpfsData) -> Bool = { sharedFiles[ObjectIdentifier($0)] != nil }
        let memfds = Table<MemfdImage>()
        // memfds, and tmpfs files unlinked while open or mapped (`orphan`: where
        // the file was), which the image keeps the same way: a node with no name.
        let memfdIndex = { (node: TmpfsNode, name: String, orphan: Location?) throws(CheckpointError) -> Int in
            if let i = memfds.find(node) { return i }
            var m: MemfdImage
            if let orphan, node.linkCount > 0 {
                // Unlinked from this name, linked under another: the tree holds the node; the image says where.
                guard let path = linkedPath(node, on: orphan.mount) else {
                    throw .unsupported("\(orphan.path): a tmpfs file unlinked while open whose other name no path reaches")
                }
                m = MemfdImage(node: TmpfsNodeImage(name: name, mode: S_IFREG, uid: 0, gid: 0, mtime: timespec(), atime: timespec(), xattrs: [:],
                                                    contents: nil, target: nil, children: []), seals: 0)
                m.linkedAt = path
            } else {
                let image = try node.checkpointImage(name: name, path: name, inMemory: inMemory) { (b) throws(CheckpointError) -> StoredRun in
                    try files.append(bytes: b)
                }
                m = MemfdImage(node: image, seals: node.data?.seals ?? 0)
                if orphan != nil { m.linkable = node.linkable }
            }
            if let orphan {
                m.mountPath = orphan.mount.path
                m.parentPath = orphan.parent?.path
            }
            return memfds.add(node, m)
        }
        // Those held by an fd first: their dentry has the name /proc shows.
        for t in tasks {
            for (_, e) in t.fds.entries {
                guard let f = e.file as? TmpfsFile, let loc = f.location else { continue }
                if kernel.vfs.isMemfd(f.node) { _ = try memfdIndex(f.node, loc.name, nil) }
                else if Self.unlinked(loc) { _ = try memfdIndex(f.node, loc.name, loc) }
            }
        }
        let mms = Table<MMImage>()
        var deletedFiles: [HostFileKey: HostFileIdentity] = [:]
        for t in tasks where mms.find(t.mm) == nil {
            _ = mms.add(t.mm, try mmImage(t.mm, pid: t.pid, memfd: memfdIndex, segments: segmentIndex, store: files, deleted: &deletedFiles))
        }
        var memory = try memoryImage(allMMs, extra: Array(sharedFiles.values) + sysv.shm.map(\.memory)
                                         + hostRuns.map { $0.memOffset..<($0.memOffset + $0.length) }, into: pages)
        if !hostRuns.isEmpty { memory.hostFileRuns = hostRuns }

        // Files.
        let pipes = Table<PipeImage>()
        let ptys = Table<PtyImage>()
        let descriptions = Table<FileImage>()
        let fdTables = Table<FDTableImage>()
        let fsContexts = Table<FSContextImage>()
        var epolls: [Int: EpollFile] = [:]
        let sockets = SocketCollector()
        let handlers = Table<[SignalActionImage]>()
        let listeners = SeccompListenerCollector()
        func describe(_ f: FileDescription, fd: Int32, pid: Int32) throws(CheckpointError) -> Int {
            if let index = descriptions.find(f) { return index }
            let index = descriptions.add(f, try fileImage(f, fd: fd, pid: pid, pipes: pipes, ptys: ptys, memfds: memfds, queues: queueIndex,
                                                          sockets: sockets, listeners: listeners, store: files))
            if let ep = f as? EpollFile { epolls[index] = ep }
            return index
        }
        for t in tasks {
            if fdTables.find(t.fds) == nil {
                var entries: [FDTableImage.Entry] = []
                for (fd, e) in t.fds.entries {
                    entries.append(.init(fd: fd, file: try describe(e.file, fd: fd, pid: t.pid), closeOnExec: e.closeOnExec))
                }
                _ = fdTables.add(t.fds, FDTableImage(entries: entries, limit: t.fds.limit))
            }
            if fsContexts.find(t.fs) == nil {
                _ = fsContexts.add(t.fs, FSContextImage(cwd: t.fs.cwd.path, root: t.fs.root.path, umask: t.fs.umask))
            }
        }
        // Sockets, and the descriptions their queued messages carry (SCM_RIGHTS), in no fd table.
        let socketImages = try sockets.images(store: files, names: kernel.unixNames) { (f) throws(CheckpointError) -> Int in
            try describe(f, fd: -1, pid: 0)
        }
        // Interest lists last: they name descriptions by index.
        for (index, f) in descriptions.images.enumerated() where f.kind == .epoll {
            guard let ep = epolls[index] else { continue }
            var list: [EpollInterestImage] = []
            for i in ep.interestList {
                // A file in no fd table is gone (Linux drops it from the set when its last reference goes).
                guard let target = descriptions.find(i.file) else { continue }
                list.append(EpollInterestImage(fd: i.fd, file: target, events: i.events, data: i.data, disabled: i.disabled))
            }
            descriptions.images[index].interests = list
        }
        let tmpfs = try tmpfsImages(files, inMemory: inMemory)
        let (upper, lower) = try overlayImage(files, inMemory: inMemory)

        // Landlock domains, before the kernel lock: their rules' paths are looked up.
        let domains = LandlockCollector(kernel)
        for t in tasks {
            if let d = t.attributes.withLock({ $0.credentials.landlock }) { _ = try domains.hold(d, tid: t.tid) }
        }

        // Processes and tasks, under the kernel lock: their signal and tree state is guarded by it.
        let filters = Table<SeccompFilterImage>()
        let (processes, taskImages, dead): ([ProcessImage], [TaskImage], [DeadTraceeImage]) = try kernel.locked { () throws(CheckpointError) in
            var ps: [ProcessImage] = []
            for g in groups {
                if g.stopped { throw .unsupported("pid \(g.pid): a stopped process (job control)") }
                let h = handlers.find(g.handlers) ?? handlers.add(g.handlers, g.handlers.actions.map {
                    SignalActionImage(handler: $0.handler, flags: $0.flags, restorer: $0.restorer, mask: $0.mask)
                })
                let limits = g.limits.withLock { $0 }.sorted { $0.key < $1.key }.map { ProcessImage.LimitImage(resource: $0.key, cur: $0.value.cur, max: $0.value.max) }
                ps.append(ProcessImage(pid: g.pid, parent: g.parent?.pid, parentThreadID: g.parentThreadID, pgid: g.pgid, sid: g.sid,
                                       exitSignal: g.exitSignal?.rawValue, zombie: g.zombie, exitStatus: g.exitStatus.map(Self.image),
                                       handlers: h, sharedPending: g.sharedPending.all.map(Self.image), limits: limits,
                                       isChildSubreaper: g.isChildSubreaper, dumpable: g.dumpable,
                                       exitedUsage: g.exitedUsage.imageFields, childUsage: g.childUsage.imageFields,
                                       realTimerNs: g.timers.realHandle == nil ? nil : max(1, g.timers.realDeadline - Deadline.now()),
                                       realIntervalNs: g.timers.realHandle == nil ? nil : g.timers.realInterval,
                                       posixTimers: posixTimers(g), cpuTimers: cpuTimers(g),
                                       oomScoreAdj: g.oomScoreAdj, oomScoreAdjMin: g.oomScoreAdjMin,
                                       startTimeNs: g.startTime))
            }
            var ts: [TaskImage] = []
            for t in tasks {
                guard t.parked else { throw .notQuiescent("tid \(t.tid) is not stopped") }
                if let why = Self.traced(t) { throw .unsupported(why) }
                let ptraceImage = t.ptrace.map { Self.image($0, tid: t.tid) }
                // A vfork child's link is kept from its parent's side (one whose parent was killed has none left).
                let vfork = t.vforkWait
                var sleepNs: Int64?, remaining: UInt64?, futex: [UInt64]?
                if t.restartBlock != nil {
                    switch t.restartState {
                    case .sleep(let deadline, let rem)?:
                        sleepNs = deadline.remaining
                        remaining = rem.rawValue
                    case .futexWait(let addr, let value, let bitset, let deadline)?:
                        sleepNs = deadline.remaining
                        futex = [addr.rawValue, UInt64(value), UInt64(bitset), UInt64(UInt32(bitPattern: deadline.clock))]
                    case nil:
                        throw .unsupported("tid \(t.tid): an interrupted poll or select waiting in restart_syscall")
                    }
                }
                let a = t.attributes.withLock { $0 }
                let filter = try seccompFilter(a.seccomp, tid: t.tid, into: filters, listeners: listeners)
                let sud = a.syscallUserDispatch.config
                let cpu = ThreadCPUSample(t)
                ts.append(TaskImage(
                    tid: t.tid, pid: t.pid, mm: mms.find(t.mm)!, fdTable: fdTables.find(t.fds)!, fsContext: fsContexts.find(t.fs)!,
                    registers: Self.words(t.regs.raw), fpu: t.frozenFPU.map { Data($0) },
                    signalMask: t.signalMask, savedMask: t.savedMask, pending: t.pending.all.map(Self.image),
                    altStack: [t.altStack.sp, UInt64(UInt32(bitPattern: t.altStack.flags)), t.altStack.size],
                    clearChildTID: t.clearChildTID.rawValue, robustList: t.robustList.head.rawValue, robustListLength: t.robustList.length,
                    restartSleepNs: sleepNs, restartRemaining: remaining, restartFutex: futex,
                    syscallUserDispatch: SyscallUserDispatchImage(mode: sud.mode, selector: sud.selector, offset: sud.offset, len: sud.length),
                    rseqArea: t.rseq?.area.rawValue, rseqSignature: t.rseq?.signature,
                    cpuNs: [cpu.own, cpu.own &+ cpu.serving],
                    seccompMode: a.seccomp.mode, seccompFilter: filter,
                    credentials: Self.image(a.credentials), comm: Data(a.comm), parentDeathSignal: a.parentDeathSignal,
                    noNewPrivs: a.noNewPrivs, memoryPolicy: a.memoryPolicy.map(MemoryPolicyImage.init),
                    personality: a.personality.rawValue, ioPriority: t.ioContext.priority.load(ordering: .relaxed),
                    executablePath: t.executablePath, commandLine: t.commandLine,
                    environment: t.environment, faultsAndSwitches: Self.image(t.hostCountersLocked()),
                    affinity: a.scheduling.affinity, ptrace: ptraceImage, groupStopPending: t.groupStopPending ? true : nil,
                    freezeRestart: t.freezeRestart.map {
                        [Int64(bitPattern: $0.nr), $0.deadline?.remaining ?? -1, Int64($0.deadline?.clock ?? CLOCK_MONOTONIC), Int64($0.done)]
                    },
                    vforkChild: vfork?.childTID, vforkChildReleased: vfork.flatMap { $0.child?.vforkReleased ?? true ? true : nil },
                    seccompNotification: t.seccompWait.map { [UInt64(listeners.hold($0.listener)), $0.id] },
                    landlockDomain: a.credentials.landlock.flatMap(domains.find)))
            }
            // Dead tracees, in each tracer's order: what its wait still reports.
            var dead: [DeadTraceeImage] = []
            for t in tasks {
                for d in t.tracees {
                    guard let link = d.ptrace, let st = link.exitReport else { continue }
                    dead.append(DeadTraceeImage(tid: d.tid, pid: d.group.pid, tracer: t.tid, seized: link.seized, options: link.options,
                                                status: Self.image(st)))
                }
            }
            return (ps, ts, dead)
        }

        try pages.finish(sync: sync)
        try files.finish(sync: sync)
        let config = sandbox.configuration
        var manifest = CheckpointManifest(
            created: UTCTimestamp.now(nanoseconds: false), platform: kernel.platform.name,
            monotonicNs: Deadline.now(), bootID: Self.bootID(), monotonicOffsetNs: GuestClock.monotonicOffset,
            sandbox: SandboxImage(root: config.root, binds: kernel.vfs.mounts.all.filter { $0.type == "bind" }.map {
                                      .init(host: $0.source, guest: $0.path, readOnly: $0.readOnly) },
                                  hostname: kernel.hostname, network: config.network.rawValue,
                                  overlay: config.overlay ? true : nil, overlayUpper: upper, overlayLower: lower),
            memory: memory, mms: mms.images, pipes: pipes.images, files: descriptions.images, fdTables: fdTables.images,
            fsContexts: fsContexts.images, handlers: handlers.images, tmpfs: tmpfs, processes: processes, tasks: taskImages,
            seccompFilters: filters.images, seccompListeners: listeners.listeners.isEmpty ? nil : listeners.images(), memfds: memfds.images, sysv: sysv, mqueues: mqueues,
            mqueueLimits: kernel.vfs.mqueues.changedLimits, sockets: socketImages, ptys: ptys.images.isEmpty ? nil : ptys.images, initPID: initPID, foregroundPGID: foreground, pagesSize: pages.size, filesSize: files.size,
            bootTimeNs: Int64(kernel.bootTime.tv_sec) * 1_000_000_000 + Int64(kernel.bootTime.tv_nsec),
            sysctls: kernel.vfs.sysctls.changedValues,
            counters: CountersImage(nextEphemeralPort: kernel.unixNames.loopback.nextEphemeralPort, nextAutobind: kernel.unixNames.nextAutobind,
                                    nextSocketInode: SocketEndpoint.nextInode, nextMemfdInode: kernel.vfs.memfdFS.nextInodeNumber,
                                    nextOverlayInode: (kernel.vfs.rootLocation.inode as? OverlayNode)?.fs.upper.nextInodeNumber,
                                    nextPipeInode: Pipe.nextInode),
            deadTracees: dead.isEmpty ? nil : dead, landlockDomains: domains.domains.isEmpty ? nil : domains.domains)
        // A Landlock domain or ruleset makes it a version 6 image: a version 5 reader would restore the task unconfined.
        if manifest.landlockDomains == nil && !descriptions.images.contains(where: { $0.kind == .landlockRuleset }) {
            manifest.version = CheckpointManifest.versionWithoutLandlock
        }
        try CheckpointImage.writeManifest(manifest, to: dir, sync: sync)
        return Sandbox.CheckpointSummary(processes: processes.filter { !$0.zombie }.count, tasks: taskImages.count,
                                         pageBytes: pages.size, zeroPagesSkipped: memory.zeroPagesSkipped)
    }

    /// Why a task's ptrace state cannot be in an image: a stop the tracer
    /// is having work done in, or a dead tracee its tracer has not waited
    /// for whose process is gone (reaped: nothing left to report it with).
    /// PTRACE_EVENT stops are kept: what their caller does after them is
    /// known (`RestoredPtraceStop`). Kernel lock held.
    static func traced(_ t: Task) -> String? {
        if let link = t.ptrace {
            if case .event(let e)? = link.stop, !restorableEvents.contains(e) || (e == PtraceABI.PTRACE_EVENT_EXIT && link.exitAfter == nil) {
                return "tid \(t.tid), traced by tid \(link.tracer.tid), in a PTRACE_EVENT stop (event \(e))"
            }
            if link.work != nil { return "tid \(t.tid), traced by tid \(link.tracer.tid), changed by its tracer at the moment" }
        }
        // A dead tracee is kept by its process (a thread's, or a leader's zombie): one reaped already has none.
        for d in t.tracees where d.ptrace?.exitReport != nil && t.kernel.groups[d.group.pid] !== d.group {
            return "tid \(d.tid), dead and traced by tid \(t.tid), which has not waited for it, its process gone"
        }
        return nil
    }

    /// The PTRACE_EVENT stops an image holds: their caller's next step is
    /// one the restore can take (the call's return, or the exit).
    static let restorableEvents: Set<Int32> = [
        PtraceABI.PTRACE_EVENT_FORK, PtraceABI.PTRACE_EVENT_VFORK, PtraceABI.PTRACE_EVENT_CLONE,
        PtraceABI.PTRACE_EVENT_EXEC, PtraceABI.PTRACE_EVENT_VFORK_DONE, PtraceABI.PTRACE_EVENT_EXIT, PtraceABI.PTRACE_EVENT_SECCOMP,
    ]

    /// A tracee's link as the image keeps it. Kernel lock held.
    static func image(_ link: PtraceLink, tid: Int32) -> PtraceImage {
        let stop: String? = switch link.stop {
        case nil: nil
        case .syscallEntry?: "syscallEntry"
        case .syscallExit?: "syscallExit"
        case .signalDelivery?: "signalDelivery"
        case .groupStop?: "groupStop"
        case .event?: "event"
        }
        let mode = switch link.syscallMode { case .none: "none"; case .trace: "trace"; case .emulate: "emulate" }
        return PtraceImage(tracer: link.tracer.tid, seized: link.seized, options: link.options, syscallMode: mode, stop: stop,
                           exitCode: link.exitCode, reported: link.reported, eventMessage: link.eventMessage,
                           siginfo: link.siginfo.map(image), fpu: link.fpu.map { Data($0) }, fpuChanged: link.fpuChanged,
                           trapStopPending: link.trapStopPending, listening: link.listening, debugRegisters: link.debugRegisters,
                           forcedTrapFlag: link.forcedTrapFlag, stepping: link.stepping, deliveryFirst: link.deliveryFirst,
                           exitAfter: link.exitAfter.map { image($0.status) }, exitGroup: link.exitAfter?.group)
    }

    // MARK: Timers and seccomp

    /// A process's POSIX timers, time left on their own clocks. Kernel lock held.
    /// A CPU-clock timer's clock is kept with its thread or process named.
    func posixTimers(_ g: ThreadGroup) -> [PosixTimerImage] {
        g.timers.posix.values.sorted { $0.id < $1.id }.map { t in
            let left = kernel.posixTimerRemainingLocked(t)
            return PosixTimerImage(id: t.id, clock: Int32(t.clock), signal: t.signal?.rawValue, value: t.value, thread: t.thread,
                                   remainingNs: left == 0 ? nil : left, intervalNs: t.interval, overrun: t.overrun)
        }
    }

    static func image(_ c: HostTaskCounters) -> [Int64] { [c.minorFaults, c.majorFaults, c.involuntarySwitches] }

    /// ITIMER_VIRTUAL and ITIMER_PROF, time left in the process's CPU time. Kernel lock held.
    func cpuTimers(_ g: ThreadGroup) -> [CPUTimerImage] {
        g.timers.cpu.sorted { $0.key < $1.key }.map { which, t in
            CPUTimerImage(which: which, remainingNs: max(1, t.due &- kernel.processCPUNanosecondsLocked(g, which)), intervalNs: t.interval)
        }
    }

    /// The index of a task's newest filter in `table`, its chain added
    /// first; nil without one. A filter's USER_NOTIF listener goes in `listeners`.
    private func seccompFilter(_ s: SeccompState, tid: Int32, into table: Table<SeccompFilterImage>,
                               listeners: SeccompListenerCollector) throws(CheckpointError) -> Int? {
        switch s.mode {
        case Seccomp.SECCOMP_MODE_DISABLED, Seccomp.SECCOMP_MODE_STRICT, Seccomp.SECCOMP_MODE_FILTER: break
        default: throw .unsupported("tid \(tid): a thread being killed by its seccomp filter")
        }
        guard let newest = s.filter else { return nil }
        var chain: [SeccompFilter] = []
        var f: SeccompFilter? = newest
        while let g = f, table.find(g) == nil { chain.append(g); f = g.previous }
        for g in chain.reversed() {
            let words = g.program.instructions.map { i in
                UInt64(i.code) | UInt64(i.jt) << 16 | UInt64(i.jf) << 24 | UInt64(i.k) << 32
            }
            _ = table.add(g, SeccompFilterImage(instructions: words, log: g.log, previous: g.previous.flatMap { table.find($0) },
                                                listener: g.listener.map { listeners.hold($0) }))
        }
        return table.find(newest)
    }

    // MARK: Memory

    private func mmImage(_ mm: MemoryManager, pid: Int32,
                         memfd: (TmpfsNode, String, Location?) throws(CheckpointError) -> Int,
                         segments: [ObjectIdentifier: Int], store: DataFileWriter,
                         deleted: inout [HostFileKey: HostFileIdentity]) throws(CheckpointError) -> MMImage {
        var vmas: [VMAImage] = []
        for v in mm.vmas {
            var image = VMAImage(start: v.start.rawValue, end: v.end.rawValue, prot: UInt32(v.prot.rawValue), maxProt: UInt32(v.maxProt.rawValue),
                                 shared: v.shared, memOffset: v.memOffset, name: v.name)
            if v.dontCopy { image.dontCopy = true }
            if v.wipeOnFork { image.wipeOnFork = true }
            if !v.softDirty { image.softDirty = false }
            if v.softClean { image.softClean = true }
            image.policy = v.policy.map(MemoryPolicyImage.init)
            if case .file(let f, let offset) = v.backing {
                let where_ = "pid \(pid): the mapping at 0x\(String(v.start.rawValue, radix: 16)) of \(f.path)"
                if let tm = f as? TmpfsMapping {
                    if kernel.vfs.isMemfd(tm.node) {
                        // Held by this mapping alone (no fd): its name from the path mmap saw.
                        var name = String(tm.path.split(separator: "/").last ?? "memfd:")
                        if name.hasSuffix(" (deleted) (deleted)") { name.removeLast(" (deleted)".count) }
                        image.memfd = try memfd(tm.node, name, nil)
                    } else if let at = tm.openedAt, Self.unlinked(at) {
                        image.memfd = try memfd(tm.node, at.name, at)
                    } else {
                        // Found again by its path: it must still be there.
                        guard stillAt(tm.path, tm.node) else { throw .unsupported("\(where_) (a tmpfs file no longer at its path)") }
                        image.tmpfsPath = tm.path
                    }
                    image.fileOffset = offset
                    vmas.append(image)
                    continue
                }
                if let seg = f as? ShmSegment, let i = segments[ObjectIdentifier(seg)] {
                    image.shm = i
                    image.fileOffset = offset
                    vmas.append(image)
                    continue
                }
                guard let mf = f as? MappedFile else { throw .unsupported("\(where_) (\(type(of: f)))") }
                if v.shared && mf.unlinked {
                    // Deleted since: its contents go in the image.
                    if mf.writable { image.fileWritable = true }
                    image.file = try deletedHostFile(mf, store: store, stored: &deleted)
                    image.fileOffset = offset
                    vmas.append(image)
                    continue
                }
                var path = mf.path
                if v.shared {
                    // Reopened by its guest path now: at the path mmap saw, or its new name in the same directory.
                    guard let now = currentPath(mf) else {
                        throw .unsupported("\(where_) (MAP_SHARED of a host file moved out of its directory or unlinked from that name since)")
                    }
                    path = now
                    if mf.writable { image.fileWritable = true }
                }
                image.file = try Self.identity(hostFD: mf.hostFD, guestPath: path)
                image.fileOffset = offset
            }
            vmas.append(image)
        }
        let brk = mm.brkBounds
        return MMImage(vmas: vmas, brkStart: brk.start.rawValue, brk: brk.end.rawValue)
    }

    /// Pages an extent of the page store spans at most: one pwritev's
    /// IOV_MAX pieces, a few MiB a write.
    static let extentPages = 1024

    /// The memory-file runs the VMAs own (a byte owned by n VMAs has n
    /// owners: a sweep over every VMA's run), and their non-zero pages.
    private func memoryImage(_ mms: [MemoryManager], extra: [Range<UInt64>], into store: DataFileWriter) throws(CheckpointError) -> MemoryImage {
        var events: [(UInt64, Int)] = []
        for mm in mms { for v in mm.vmas { events.append((v.memOffset, 1)); events.append((v.memOffset + v.length, -1)) } }
        for r in extra { events.append((r.lowerBound, 1)); events.append((r.upperBound, -1)) }
        events.sort { $0.0 < $1.0 || ($0.0 == $1.0 && $0.1 < $1.1) }
        var allocated: [Range<UInt64>] = []
        var shares: [MemoryImage.ShareImage] = []
        var depth = 0
        var at: UInt64 = 0
        for (offset, delta) in events {
            if offset > at && depth > 0 {
                if let last = allocated.last, last.upperBound == at { allocated[allocated.count - 1] = last.lowerBound..<offset }
                else { allocated.append(at..<offset) }
                if depth > 1 {
                    if let last = shares.last, last.range.upperBound == at, last.extra == depth - 1 {
                        shares[shares.count - 1].range = last.range.lowerBound..<offset
                    } else { shares.append(.init(range: at..<offset, extra: depth - 1)) }
                }
            }
            depth += delta
            at = offset
        }
        let memory = kernel.memory
        let page = Int(GuestAddress.pageSize)
        var runs: [StoredRun] = []
        var skipped: UInt64 = 0
        for r in allocated {
            for (start, length) in memory.dataRuns(r.lowerBound, UInt64(r.count)) {
                // The sentry's own mapping has no page tables for what guests
                // wrote through theirs: made in one call, not a fault a page.
                memory.populate(start, length)
                var p = start
                let end = start + length
                var extent: PageExtent.Builder?
                while p < end {
                    let held = sw_all_zero(memory.pointer(p), page) == 0
                    if !held { skipped += 1 }
                    if held && extent == nil { extent = PageExtent.Builder(offset: p) }
                    extent?.add(held ? memory.pointer(p) : nil, size: page)
                    p += UInt64(page)
                    if let e = extent, e.pages == Self.extentPages || p >= end {
                        extent = nil
                        var x = e
                        runs.append(try store.append(x.finish()))
                    }
                }
            }
        }
        return MemoryImage(allocated: allocated, shares: shares, runs: runs, zeroPagesSkipped: skipped)
    }

    // MARK: Files

    private func fileImage(_ f: FileDescription, fd: Int32, pid: Int32, pipes: Table<PipeImage>, ptys: Table<PtyImage>, memfds: Table<MemfdImage>,
                           queues: [ObjectIdentifier: Int], sockets: SocketCollector, listeners: SeccompListenerCollector,
                           store: DataFileWriter) throws(CheckpointError) -> FileImage {
        let flags = f.flags.rawValue
        let what = fd < 0 ? "a descriptor queued in a socket (\(f.displayPath))" : "pid \(pid): fd \(fd) (\(f.displayPath))"
        switch f {
        case let s as SocketFile:
            var image = FileImage(kind: .socket, flags: flags)
            image.socket = sockets.hold(s.endpoint)
            return image
        case is HostSocketFile:
            throw .immovable("\(what), a host socket of --network=host", why: "its port and connection are the host's, outside the sandbox")
        case let h as HostFile where h.stdioNumber != nil:
            return FileImage(kind: .stdio, flags: flags, stdio: h.stdioNumber)
        case let p as PipeEnd:
            var index = pipes.find(p.pipe)
            if index == nil {
                let run = try store.append(bytes: p.pipe.contents)
                index = pipes.add(p.pipe, PipeImage(capacity: p.pipe.capacity, contents: run, inode: p.pipe.inode))
            }
            return FileImage(kind: .pipe, flags: flags, pipe: index, writer: p.writer)
        case is EpollFile:
            return FileImage(kind: .epoll, flags: flags, interests: [])
        case let e as EventFD:
            let s = e.state
            return FileImage(kind: .eventfd, flags: flags, counter: s.counter, semaphore: s.semaphore)
        case let h as HostFile:
            // A regular file or a directory (its position the host's getdents cookie, good for the same directory).
            guard let loc = h.location, loc.inode.kind == .regular || loc.inode.kind == .directory else {
                throw .unsupported("\(what): a host file that is not a regular file or a directory")
            }
            let pos = lseek(h.fd, 0, SEEK_CUR)
            return FileImage(kind: .path, flags: flags, guestPath: loc.path, position: Int64(max(0, pos)),
                             host: try Self.identity(hostFD: h.fd, guestPath: loc.path))
        case let q as PosixMQFile:
            guard let index = queues[ObjectIdentifier(q.queue)] else { throw .unsupported("\(what): a message queue") }
            var image = FileImage(kind: .mqueue, flags: flags)
            image.mqueue = index
            return image
        case let t as TmpfsFile where kernel.vfs.isMemfd(t.node):
            guard let index = memfds.find(t.node) else { throw .unsupported("\(what): a memfd") }
            var image = FileImage(kind: .memfd, flags: flags, position: (try? t.seek(0, whence: SEEK_CUR)) ?? 0)
            image.memfd = index
            return image
        case let t as TmpfsFile where memfds.find(t.node) != nil:
            // Unlinked while open: kept with its contents, as a memfd is.
            let index = memfds.find(t.node)!
            var image = FileImage(kind: .memfd, flags: flags, position: (try? t.seek(0, whence: SEEK_CUR)) ?? 0)
            image.memfd = index
            // Opened by another name than the one the image keeps the node under (both unlinked): its own.
            let kept = memfds.images[index]
            if let loc = t.location, loc.name != kept.node.name || loc.parent?.path != kept.parentPath { image.guestPath = loc.path }
            return image
        case let t as TmpfsFile:
            guard let loc = t.location, loc.mount.id >= 0 else { throw .unsupported("\(what): a file of an unnamed tmpfs") }
            // Reopened by path: it must still be there.
            guard stillAt(loc) else { throw .unsupported("\(what): a tmpfs file no longer at its path (unlinked or renamed)") }
            return FileImage(kind: .path, flags: flags, guestPath: loc.path, position: (try? t.seek(0, whence: SEEK_CUR)) ?? 0)
        case let d as DeviceFile:
            guard let loc = d.location else { throw .unsupported(what) }
            return FileImage(kind: .path, flags: flags, guestPath: loc.path, position: 0)
        case let d as SyntheticDirectory:
            // A tmpfs, /proc or /dev directory: reopened, its cursor an index
            // into a listing made the same way (tmpfs sorts by name).
            guard let loc = d.location, loc.mount.id >= 0 else { throw .unsupported("\(what): a directory of an unnamed mount") }
            guard stillAt(loc) || Self.madeAtLookup(loc) else { throw .unsupported("\(what): a directory no longer at its path (removed or renamed)") }
            return FileImage(kind: .path, flags: flags, guestPath: loc.path, position: (try? d.seek(0, whence: SEEK_CUR)) ?? 0)
        case let o as PathOnlyFile:
            guard let loc = o.location, loc.mount.id >= 0, stillAt(loc) || Self.madeAtLookup(loc) else {
                throw .unsupported("\(what): an O_PATH descriptor of a file no longer at its path")
            }
            return FileImage(kind: .path, flags: flags, guestPath: loc.path, position: 0)
        case let p as SnapshotFile:
            // A /proc or /sys file: its text is made again at the reopen (pids are the image's).
            guard let loc = p.location else { throw .unsupported("\(what), \(Self.kind(of: f))") }
            return FileImage(kind: .path, flags: flags, guestPath: loc.path, position: (try? p.seek(0, whence: SEEK_CUR)) ?? 0)
        case let p as PtyEnd:
            var index = ptys.find(p.pty)
            if index == nil {
                index = ptys.add(p.pty, try p.pty.checkpointImage { (b) throws(CheckpointError) -> StoredRun in try store.append(bytes: b) })
            }
            var image = FileImage(kind: .pty, flags: flags)
            image.pty = index
            image.master = p.master
            return image
        case let i as InotifyFile:
            var image = FileImage(kind: .inotify, flags: flags)
            image.inotify = i.checkpointImage()
            return image
        case let tf as TimerFD:
            let now = tf.current
            var image = FileImage(kind: .timerfd, flags: flags, counter: tf.pendingExpirations)
            image.clock = Int32(tf.clock)
            image.remainingNs = now.value == 0 ? nil : now.value
            image.intervalNs = now.interval
            return image
        case let sf as SignalFD:
            var image = FileImage(kind: .signalfd, flags: flags)
            image.mask = sf.mask
            return image
        case let n as SeccompNotifyFile:
            var image = FileImage(kind: .seccompNotify, flags: flags)
            image.listener = listeners.hold(n.listener)
            return image
        case let l as LandlockRulesetFile:
            var image = FileImage(kind: .landlockRuleset, flags: flags)
            image.landlock = try LandlockCollector.image(l.ruleset, kernel: kernel, what: what)
            return image
        case let p as PidFD:
            var image = FileImage(kind: .pidfd, flags: flags)
            image.pid = p.pid
            // A reaped process is in no image: its pidfd keeps the pid alone, and answers as one of a process gone.
            if !kernel.locked({ kernel.groups[p.pid] === p.group }) { image.reaped = true }
            return image
        default:
            throw .unsupported("\(what), \(Self.kind(of: f))")
        }
    }

    private func tmpfsImages(_ store: DataFileWriter, inMemory: (TmpfsData) -> Bool) throws(CheckpointError) -> [TmpfsImage] {
        var out: [TmpfsImage] = []
        for m in kernel.vfs.mounts.all where m.type == "tmpfs" && m.id >= 0 {
            guard let root = m.rootInode as? TmpfsNode else { continue }
            let image = try root.checkpointImage(name: "", path: m.path, inMemory: inMemory) { (b) throws(CheckpointError) -> StoredRun in
                try store.append(bytes: b)
            }
            out.append(TmpfsImage(mountPath: m.path, root: image, nextInode: root.fs.nextInodeNumber))
        }
        return out
    }

    /// An --overlay root's upper layer, and the lower files behind what the
    /// guest copied up (which a restore checks, as host files the guest has open).
    private func overlayImage(_ store: DataFileWriter, inMemory: (TmpfsData) -> Bool) throws(CheckpointError) -> (TmpfsNodeImage?, [HostFileIdentity]?) {
        guard sandbox.configuration.overlay, let root = kernel.vfs.rootLocation.inode as? OverlayNode else { return (nil, nil) }
        let upper = try root.fs.upper.rootNode.checkpointImage(name: "", path: "/", inMemory: inMemory, overlayUpper: true) {
            (b) throws(CheckpointError) -> StoredRun in try store.append(bytes: b)
        }
        let lowerRoot = sandbox.configuration.root
        var lower: [HostFileIdentity] = []
        func walk(_ n: TmpfsNodeImage, _ path: String) throws(CheckpointError) {
            for c in n.children where !c.name.isEmpty {
                let p = path == "/" ? "/" + c.name : path + "/" + c.name
                if c.mode & S_IFMT == S_IFDIR { try walk(c, p); continue }
                guard c.mode & S_IFMT == S_IFREG else { continue }
                let host = (lowerRoot == "/" ? "" : lowerRoot) + p
                let fd = open(host, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK)
                guard fd >= 0 else { continue }   // made by the guest: nothing below
                defer { close(fd) }
                var st = stat()
                guard fstat(fd, &st) == 0, st.st_mode & S_IFMT == S_IFREG else { continue }
                lower.append(HostFileIdentity(hostPath: host, guestPath: p, size: Int64(st.st_size),
                                              mtimeSec: Int64(st.st_mtim.tv_sec), mtimeNsec: Int64(st.st_mtim.tv_nsec)))
            }
        }
        try walk(upper, "/")
        return (upper, lower)
    }

    // MARK: Values

    /// What a file the image cannot hold is, in a user's words.
    /// Whether a path still leads to `inode` (a reopen by path finds the same file).
    private func stillAt(_ path: String, _ inode: Inode) -> Bool {
        guard let found = try? kernel.vfs.resolve(path, from: kernel.vfs.rootLocation, followLast: false, BootContext(kernel)) else { return false }
        return found.inode === inode
    }
    private func stillAt(_ loc: Location) -> Bool { stillAt(loc.path, loc.inode) }

    /// A regular tmpfs file unlinked while open (or made by O_TMPFILE and
    /// never linked): the path it was opened by no longer finds it, so the
    /// image keeps its node (or, linked elsewhere still, where that is).
    static func unlinked(_ loc: Location) -> Bool {
        guard loc.isDeleted, loc.mount.type == "tmpfs", loc.mount.id >= 0, let node = loc.inode as? TmpfsNode else { return false }
        return node.kind == .regular
    }

    /// A guest path of a tmpfs file linked on `mount` that finds it.
    private func linkedPath(_ node: TmpfsNode, on mount: Mount) -> String? {
        guard let root = mount.rootInode as? TmpfsNode, let names = root.names(to: node) else { return nil }
        let path = (mount.path == "/" ? "" : mount.path) + "/" + names.joined(separator: "/")
        return stillAt(path, node) ? path : nil
    }

    /// /proc and /sys make their inodes at each lookup: the path is what names them.
    static func madeAtLookup(_ loc: Location) -> Bool { loc.mount.type == "proc" || loc.mount.type == "sysfs" }

    static func kind(of f: FileDescription) -> String {
        switch f {
        case is SocketFile, is HostSocketFile: return "a socket"
        case is TimerFD: return "a timerfd"
        case is SignalFD: return "a signalfd"
        case is InotifyFile: return "an inotify instance"
        case is PidFD: return "a pidfd"
        case is PtyEnd: return "a pseudo-terminal"
        case is SnapshotFile, is SyntheticDirectory: return "a /proc or /sys file"
        case is PathOnlyFile: return "an O_PATH descriptor"
        default: return "a \(String(describing: type(of: f)))"
        }
    }

    static func identity(hostFD: Int32, guestPath: String) throws(CheckpointError) -> HostFileIdentity {
        var st = stat()
        guard fstat(hostFD, &st) == 0 else { throw .io("fstat \(guestPath)", Errno(errno)) }
        var buf = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let n = readlink("/proc/self/fd/\(hostFD)", &buf, Int(PATH_MAX))
        guard n > 0 else { throw .io("readlink of \(guestPath)'s host descriptor", Errno(errno)) }
        let host = String(decoding: buf[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
        if host.hasSuffix(" (deleted)") { throw .unsupported("\(guestPath): a host file deleted while open") }
        let birth = HostFileBirth(fd: hostFD)
        return HostFileIdentity(hostPath: host, guestPath: guestPath, size: Int64(st.st_size),
                                mtimeSec: Int64(st.st_mtim.tv_sec), mtimeNsec: Int64(st.st_mtim.tv_nsec),
                                device: UInt64(st.st_dev), inode: UInt64(st.st_ino), birthSec: birth?.sec, birthNsec: birth?.nsec)
    }

    static func words(_ r: sw_regs) -> [UInt64] {
        withUnsafeBytes(of: r) { Array($0.bindMemory(to: UInt64.self)) }
    }

    static func image(_ i: SignalInfo) -> SignalInfoImage {
        SignalInfoImage(signo: i.signo, code: i.code, errno: i.errno, pid: i.pid, uid: i.uid, status: i.status, address: i.address,
                        value: i.value, timerID: i.timerID, overrun: i.overrun, overridesInit: i.overridesInit)
    }

    static func image(_ s: ExitStatus) -> ExitStatusImage {
        switch s {
        case .exited(let c): return ExitStatusImage(exited: c)
        case .signaled(let sig, let core): return ExitStatusImage(signal: sig.rawValue, coreDumped: core)
        }
    }

    static func image(_ c: Credentials) -> CredentialsImage {
        CredentialsImage(uid: c.uid, euid: c.euid, suid: c.suid, fsuid: c.fsuid, gid: c.gid, egid: c.egid, sgid: c.sgid, fsgid: c.fsgid,
                         groups: c.groups, inheritable: c.inheritable, permitted: c.permitted, effective: c.effective,
                         bounding: c.bounding, ambient: c.ambient, securebits: c.securebits)
    }

    static func bootID() -> String {
        let fd = open("/proc/sys/kernel/random/boot_id", O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return "" }
        defer { close(fd) }
        var buf = [UInt8](repeating: 0, count: 64)
        let n = buf.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, 64) }
        return n > 0 ? String(decoding: buf[0..<n], as: UTF8.self).trimmingWhitespace() : ""
    }
}

/// The image directory's files.
public enum CheckpointImage {
    /// Written aside and renamed: a reader sees the whole manifest or none.
    /// `sync`: the data files (already synced), the manifest and then the
    /// directory entry on disk before returning.
    public static func writeManifest(_ m: CheckpointManifest, to dir: String, sync: Bool = false) throws(CheckpointError) {
        let e = JSONEncoder()
        e.outputFormatting = [.prettyPrinted, .sortedKeys]
        guard let data = try? e.encode(m) else { throw .io("encoding the manifest", .EINVAL) }
        // Written aside and renamed: a crash mid-write leaves no half manifest.
        let tmp = dir + "/manifest.json.tmp"
        let fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw .io("create \(tmp)", Errno(errno)) }
        let ok = data.withUnsafeBytes { b -> Bool in
            var done = 0
            while done < b.count {
                let n = Glibc.write(fd, b.baseAddress! + done, b.count - done)
                if n < 0 { if errno == EINTR { continue }; return false }
                done += n
            }
            return !sync || fsync(fd) == 0
        }
        close(fd)
        guard ok, rename(tmp, dir + "/manifest.json") == 0 else { throw .io("write \(dir)/manifest.json", Errno(errno)) }
        if sync {
            let d = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
            guard d >= 0 else { throw .io("open \(dir)", Errno(errno)) }
            defer { close(d) }
            if fsync(d) != 0 { throw .io("fsync \(dir)", Errno(errno)) }
        }
    }

    /// Reads and checks the manifest: format, version, parse.
    public static func readManifest(_ dir: String) throws(CheckpointError) -> CheckpointManifest {
        let path = dir + "/manifest.json"
        guard let data = FileManager.default.contents(atPath: path) else {
            var st = stat()
            if stat(dir, &st) != 0 { throw .io(dir, Errno(errno)) }
            throw .truncated("\(path) is missing or unreadable")
        }
        // The format and version first, so a newer image says so rather than failing to parse.
        struct Header: Decodable { var format: String?; var version: Int? }
        guard let header = try? JSONDecoder().decode(Header.self, from: data) else {
            throw .truncated("\(path) is not a complete JSON document")
        }
        guard header.format == CheckpointManifest.formatName else {
            throw .incompatible("\(path) is not a sentry checkpoint (format \(header.format ?? "missing"))")
        }
        // A newer version is refused, and one older than version 4: it lacks what this reader takes for granted.
        guard let v = header.version, (CheckpointManifest.oldestReadable...CheckpointManifest.currentVersion).contains(v) else {
            throw .incompatible("image version \(header.version.map(String.init) ?? "missing"); this sentry reads versions \(CheckpointManifest.oldestReadable) to \(CheckpointManifest.currentVersion)")
        }
        do { return try JSONDecoder().decode(CheckpointManifest.self, from: data) } catch {
            throw .truncated("\(path): \(error)")
        }
    }
}
