import Glibc

/// What /proc reads of the kernel's processes: one snapshot per file, under the kernel lock.
extension Kernel: SandboxView {
    public var processIDs: [Int32] { locked { groups.values.filter { !$0.tasks.isEmpty }.map(\.pid) } }

    public func process(_ pid: Int32) -> ProcessView? {
        locked {
            guard let g = groups[pid] else { return nil }
            return g.tasks.first { $0.tid == pid } ?? g.tasks.first
        }
    }

    public func thread(_ tid: Int32, of pid: Int32) -> ProcessView? {
        locked {
            guard let t = tasks[tid], t.group.pid == pid, !t.exiting || t.group.tasks.contains(where: { $0 === t }) else { return nil }
            return t
        }
    }

    public func threadIDs(of pid: Int32) -> [Int32] { locked { groups[pid]?.tasks.map(\.tid).sorted() ?? [] } }

    /// The sandbox's own host name (its UTS namespace, in effect).
    public var hostname: String {
        get { locked { utsHostname } }
        set { locked { utsHostname = newValue } }
    }

    /// The sentry's controlling terminal as new_encode_dev numbers it
    /// (stat's tty_nr), nil without one.
    static let hostTerminal: UInt32? = {
        let fd = Glibc.open("/dev/tty", O_RDONLY | O_NOCTTY | O_CLOEXEC | O_NONBLOCK)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var st = Glibc.stat()
        guard fstat(fd, &st) == 0 else { return nil }
        // Linux's /dev/tty is the terminal itself; the name that fd has is the real device.
        var name = [CChar](repeating: 0, count: 256)
        var rdev = st.st_rdev
        if ttyname_r(fd, &name, name.count) == 0 {
            var real = Glibc.stat()
            if lstat(name, &real) == 0 { rdev = real.st_rdev }
        }
        let major = UInt32((rdev >> 8) & 0xfff), minor = UInt32((rdev & 0xff) | ((rdev >> 12) & 0xfff00))
        return (minor & 0xff) | (major << 8) | ((minor & ~0xff) << 12)
    }()

    /// The release uname and /proc report.
    public static let release = "6.1.0-sentry"
}

extension Task {
    public var processIOAccounting: IOAccounting { group.ioAccounting }
    public func blockIO(wholeProcess: Bool) -> (read: Int64, written: Int64) {
        kernel.locked {
            let u = wholeProcess ? kernel.processUsageLocked(group).adding(group.childUsage) : kernel.threadUsageLocked(self)
            return (u.readBytes, u.writtenBytes)
        }
    }
    public var resourceLimits: [Int32: (cur: UInt64, max: UInt64)] { group.limits.withLock { $0 } }
    public var taskAttributes: TaskAttributes { attributes.withLock { $0 } }
    public var lockedMemoryBytes: UInt64 {
        let vmas = mm.vmas
        return kernel.locked { group.memoryLocks.lockedBytes(mapped: vmas) }
    }

    public var procStatus: ProcStatus {
        let start = (group.startTime - (Int64(kernel.bootTime.tv_sec) * 1_000_000_000 + Int64(kernel.bootTime.tv_nsec))) / 10_000_000
        return kernel.locked {
            var s = ProcStatus()
            s.ppid = group.parent?.pid ?? 0
            s.pgid = group.pgid
            s.sid = group.sid
            s.state = group.zombie ? "Z" : ptrace?.stop != nil ? "t" : group.stopped ? "T" : "S"
            s.tracerPID = ptrace.map { $0.exitReport == nil ? $0.tracer.group.pid : 0 } ?? 0
            s.threads = group.tasks.count
            let own = kernel.processUsageLocked(group), children = group.childUsage
            let thread = kernel.threadUsageLocked(self)
            s.utime = own.userTicks; s.stime = own.systemTicks; s.cutime = children.userTicks; s.cstime = children.systemTicks
            s.threadUtime = thread.userTicks; s.threadStime = thread.systemTicks
            (s.minorFaults, s.majorFaults) = (own.minorFaults, own.majorFaults)
            (s.childMinorFaults, s.childMajorFaults) = (children.minorFaults, children.majorFaults)
            (s.threadMinorFaults, s.threadMajorFaults) = (thread.minorFaults, thread.majorFaults)
            s.involuntarySwitches = thread.involuntarySwitches
            s.startTicks = max(0, start)
            s.pending = pending.bits
            s.sharedPending = group.sharedPending.bits
            s.blocked = liveSignalMaskLocked
            for n in 1...64 {
                let h = group.handlers.actions[n].handler
                if h == SignalAction.SIG_IGN { s.ignored |= 1 << UInt64(n - 1) }
                else if h != SignalAction.SIG_DFL { s.caught |= 1 << UInt64(n - 1) }
            }
            s.foregroundPGID = kernel.hostForegroundLocked(sid: group.sid)
            // The sentry's own terminal is the controlling terminal of the
            // session it started the guest in; a new session has none.
            if let tty = Kernel.hostTerminal, group.sid == kernel.initGroup?.sid {
                s.ttyNumber = tty
                s.ttyForeground = s.foregroundPGID
            }
            s.voluntarySwitches = voluntarySwitches.load(ordering: .relaxed)
            return s
        }
    }
}
