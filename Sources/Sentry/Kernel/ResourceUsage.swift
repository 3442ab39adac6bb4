import Glibc

/// What `struct rusage` reports of a thread, a process, or a process's
/// reaped children (kernel/sys.c getrusage, wait_task_zombie). The CPU time
/// splits as the sentry can split it: user time is the guest's own code
/// (the CPU clock of the host process running it), system time the sentry
/// thread's while it serves the task's calls, as Linux's is the kernel's.
/// The resident high-water mark is sampled from the memory file when the
/// process asks and when it exits or execs; voluntary switches are the
/// times a task slept in the sentry. Page faults and involuntary switches
/// are the host's counts of the stub running the guest's code (its faults
/// are the guest's own touches of its memory), with the faults the sentry
/// resolved itself, and the serving sentry thread's preemptions
/// (`Task.hostCountersLocked`). Block I/O is what the host's task I/O
/// accounting counted for the serving sentry thread: the reads and writes
/// of host files that reached a disk.
public struct ResourceUsage: Sendable, Equatable {
    public var userNs: Int64 = 0
    public var systemNs: Int64 = 0
    public var maxRSSKiB: Int64 = 0
    public var voluntarySwitches: Int64 = 0
    public var minorFaults: Int64 = 0
    public var majorFaults: Int64 = 0
    public var involuntarySwitches: Int64 = 0
    /// Block I/O in bytes (ru_inblock and ru_oublock are these / 512).
    public var readBytes: Int64 = 0
    public var writtenBytes: Int64 = 0

    public init() {}

    /// Accumulates `o` as Linux sums threads and children: times and
    /// counts add, the resident high-water mark is the larger.
    mutating func add(_ o: ResourceUsage) {
        userNs &+= o.userNs
        systemNs &+= o.systemNs
        voluntarySwitches &+= o.voluntarySwitches
        minorFaults &+= o.minorFaults
        majorFaults &+= o.majorFaults
        involuntarySwitches &+= o.involuntarySwitches
        readBytes &+= o.readBytes
        writtenBytes &+= o.writtenBytes
        maxRSSKiB = max(maxRSSKiB, o.maxRSSKiB)
    }

    func adding(_ o: ResourceUsage) -> ResourceUsage {
        var r = self
        r.add(o)
        return r
    }

    static let userHz: Int64 = 100   // USER_HZ: times(2) and /proc/PID/stat count in these

    var userTicks: Int64 { userNs / (1_000_000_000 / Self.userHz) }
    var systemTicks: Int64 { systemNs / (1_000_000_000 / Self.userHz) }

    /// struct rusage (x86-64, 144 bytes): ru_utime and ru_stime as timevals,
    /// then fourteen longs from ru_maxrss (KiB) to ru_nivcsw.
    public var rusageBytes: [UInt8] {
        func timeval(_ ns: Int64) -> (Int64, Int64) { (ns / 1_000_000_000, ns % 1_000_000_000 / 1_000) }
        var longs = [Int64](repeating: 0, count: 18)
        (longs[0], longs[1]) = timeval(userNs)
        (longs[2], longs[3]) = timeval(systemNs)
        longs[4] = maxRSSKiB
        longs[8] = minorFaults          // ru_minflt
        longs[9] = majorFaults          // ru_majflt
        longs[11] = readBytes / 512     // ru_inblock
        longs[12] = writtenBytes / 512  // ru_oublock
        longs[16] = voluntarySwitches   // ru_nvcsw
        longs[17] = involuntarySwitches // ru_nivcsw
        return longs.withUnsafeBytes { Array($0) }
    }
}

extension ResourceUsage {
    /// The checkpoint image's form: user ns, system ns, max RSS (KiB),
    /// voluntary switches, then minor and major faults and involuntary
    /// switches, then block I/O read and written (images written before
    /// those were counted have only the first four, or seven).
    var imageFields: [Int64] {
        [userNs, systemNs, maxRSSKiB, voluntarySwitches, minorFaults, majorFaults, involuntarySwitches, readBytes, writtenBytes]
    }

    /// From an image's fields; nil if there are not four, seven or nine, or a count is negative.
    init?(imageFields f: [Int64]) {
        guard [4, 7, 9].contains(f.count), f.allSatisfy({ $0 >= 0 }) else { return nil }
        self.init()
        (userNs, systemNs, maxRSSKiB, voluntarySwitches) = (f[0], f[1], f[2], f[3])
        if f.count >= 7 { (minorFaults, majorFaults, involuntarySwitches) = (f[4], f[5], f[6]) }
        if f.count == 9 { (readBytes, writtenBytes) = (f[7], f[8]) }
    }
}

extension Kernel {
    /// One thread's usage so far; `counters`, if given, its host counts
    /// read before the lock was taken. Kernel lock held.
    func threadUsageLocked(_ t: Task, counters: HostTaskCounters? = nil) -> ResourceUsage {
        var u = ResourceUsage()
        // The guest's own code is user time; the sentry serving its calls, system time.
        let cpu = ThreadCPUSample(t)
        (u.userNs, u.systemNs) = (cpu.own, cpu.serving)
        u.voluntarySwitches = Int64(truncatingIfNeeded: t.voluntarySwitches.load(ordering: .relaxed))
        let c = counters ?? t.hostCountersLocked()
        (u.minorFaults, u.majorFaults, u.involuntarySwitches) = (c.minorFaults, c.majorFaults, c.involuntarySwitches)
        (u.readBytes, u.writtenBytes) = (c.readBytes, c.writtenBytes)
        return u
    }

    /// A process's usage: its live threads', those gone, and its resident
    /// high-water mark. Kernel lock held.
    func processUsageLocked(_ g: ThreadGroup) -> ResourceUsage {
        var u = g.exitedUsage
        for t in g.tasks { u.add(threadUsageLocked(t)) }
        return u
    }
}

extension Task {
    public enum UsageOf: Int32 { case selfProcess = 0, children = -1, thread = 1, both = -2 }

    /// getrusage(2)'s answer for `who`; wait4 asks for a child's with `.both`.
    public func resourceUsage(_ who: UsageOf) -> ResourceUsage {
        if who != .children { noteResidentSetSize() }
        return kernel.locked {
            switch who {
            case .thread:
                var u = kernel.threadUsageLocked(self)
                u.maxRSSKiB = group.exitedUsage.maxRSSKiB
                return u
            case .selfProcess: return kernel.processUsageLocked(group)
            case .children: return group.childUsage
            case .both: return kernel.processUsageLocked(group).adding(group.childUsage)
            }
        }
    }

    /// Raises the process's resident high-water mark to what its mm holds
    /// now (the mm lock is taken before the kernel lock, as the order says).
    func noteResidentSetSize() {
        let kib = Int64(clamping: mm.residentBytes / 1024)
        kernel.locked { group.exitedUsage.maxRSSKiB = max(group.exitedUsage.maxRSSKiB, kib) }
    }
}
