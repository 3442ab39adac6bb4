import Glibc

/// What the host counts of one of its tasks that Linux reports in struct
/// rusage and /proc (fs/proc/array.c): page faults, involuntary context
/// switches and block I/O (task_io_accounting's read_bytes, and
/// write_bytes less cancelled_write_bytes: what ru_inblock and ru_oublock
/// count in 512-byte blocks). Where a guest's code runs in a stub process, the
/// stub's faults and preemptions are the guest task's; the sentry thread
/// serving a task is preempted on its behalf too.
public struct HostTaskCounters: Sendable, Equatable {
    public var minorFaults: Int64 = 0
    public var majorFaults: Int64 = 0
    public var involuntarySwitches: Int64 = 0
    public var readBytes: Int64 = 0
    public var writtenBytes: Int64 = 0

    public init() {}

    mutating func add(_ o: HostTaskCounters) {
        minorFaults &+= o.minorFaults
        majorFaults &+= o.majorFaults
        involuntarySwitches &+= o.involuntarySwitches
        readBytes &+= o.readBytes
        writtenBytes &+= o.writtenBytes
    }

    /// What happened since `base` was read (never negative).
    func since(_ base: HostTaskCounters) -> HostTaskCounters {
        var d = HostTaskCounters()
        d.minorFaults = max(0, minorFaults &- base.minorFaults)
        d.majorFaults = max(0, majorFaults &- base.majorFaults)
        d.involuntarySwitches = max(0, involuntarySwitches &- base.involuntarySwitches)
        d.readBytes = max(0, readBytes &- base.readBytes)
        d.writtenBytes = max(0, writtenBytes &- base.writtenBytes)
        return d
    }

    /// A host process's counts (a stub: one thread); nil once it is gone.
    /// Its two /proc files stay open for the next reading (`ProcCounterFiles`).
    public static func read(process pid: pid_t) -> HostTaskCounters? {
        ProcCounterFiles.shared.read(pid) { parse(stat: $0, status: $1) }
    }

    /// What the last `read(process:)` of `pid` found (a process that has
    /// slept since: its counts have not moved); nil if none.
    static func lastRead(process pid: pid_t) -> HostTaskCounters? {
        ProcCounterFiles.shared.lastRead(pid) { parse(stat: $0, status: $1) }
    }

    /// The process is gone (a stub reaped): its files are closed.
    static func forget(process pid: pid_t) { ProcCounterFiles.shared.forget(pid) }

    /// One of the sentry's own threads' counts (not the whole sentry's);
    /// for the calling thread, `readCallingThread` costs one call.
    public static func read(sentryThread tid: pid_t) -> HostTaskCounters? { read(dir: "/proc/self/task/\(tid)", io: true) }

    /// The calling thread's counts: getrusage(RUSAGE_THREAD) reads the same
    /// task fields as /proc/self/task/TID/stat, status and io (min_flt,
    /// maj_flt, nivcsw, the I/O in 512-byte blocks, which is how the block
    /// layer counts it) in one call, without the two opens and status's formatting
    /// (about 60 µs of every process start here).
    /// RUSAGE_THREAD: Glibc's Swift import lacks the GNU name.
    private static let rusageThread = __rusage_who_t(1)

    public static func readCallingThread() -> HostTaskCounters? {
        var ru = rusage()
        guard getrusage(Self.rusageThread, &ru) == 0 else { return nil }
        var c = HostTaskCounters(faultsAndSwitchesOf: ru)
        c.readBytes = Int64(ru.ru_inblock) &* 512
        c.writtenBytes = Int64(ru.ru_oublock) &* 512
        return c
    }

    /// The faults and involuntary switches of a getrusage answer.
    init(faultsAndSwitchesOf ru: rusage) {
        minorFaults = Int64(ru.ru_minflt)
        majorFaults = Int64(ru.ru_majflt)
        involuntarySwitches = Int64(ru.ru_nivcsw)
    }

    /// `io`: also the block I/O, from the io file (a sentry thread's; a
    /// stub's is not read, one more file at every process start).
    private static func read(dir: String, io: Bool = false) -> HostTaskCounters? {
        guard let stat = contents(dir + "/stat"), let status = contents(dir + "/status"),
              var c = parse(stat: stat, status: status) else { return nil }
        if io, let text = contents(dir + "/io") { c.addIO(text) }
        return c
    }

    fileprivate static func parse(stat: [UInt8], status: [UInt8]) -> HostTaskCounters? {
        // stat: "pid (comm) state ..."; comm may hold spaces and ')', so
        // fields count from the last ')': state is field 3, minflt 10, majflt 12.
        // Read in place: these are parsed at every task's start and exit,
        // and splitting them into arrays of fields and lines was a few
        // percent of a fork's time in the sentry.
        guard let close = stat.lastIndex(of: UInt8(ascii: ")")) else { return nil }
        let rest = stat[(close + 1)...]
        guard let minflt = field(7, of: rest).flatMap(number), let majflt = field(9, of: rest).flatMap(number) else { return nil }
        var c = HostTaskCounters()
        c.minorFaults = minflt
        c.majorFaults = majflt
        var start = status.startIndex
        while start < status.endIndex {
            let end = status[start...].firstIndex(of: UInt8(ascii: "\n")) ?? status.endIndex
            let line = status[start..<end]
            if line.starts(with: involuntaryKey) {
                let value = line.dropFirst(involuntaryKey.count).drop { $0 == UInt8(ascii: "\t") || $0 == UInt8(ascii: " ") }
                c.involuntarySwitches = number(value) ?? 0
            }
            start = end == status.endIndex ? end : end + 1
        }
        return c
    }

    private static let involuntaryKey = Array("nonvoluntary_ctxt_switches:".utf8)

    /// Field `index` (from 0) of `text`'s space-separated fields, runs of
    /// spaces counting as one.
    private static func field(_ index: Int, of text: ArraySlice<UInt8>) -> ArraySlice<UInt8>? {
        let space = UInt8(ascii: " ")
        var i = text.startIndex, n = 0
        while true {
            while i < text.endIndex && text[i] == space { i += 1 }
            guard i < text.endIndex else { return nil }
            var j = i
            while j < text.endIndex && text[j] != space { j += 1 }
            if n == index { return text[i..<j] }
            n += 1
            i = j
        }
    }

    /// An io file's block I/O: read_bytes, and write_bytes less cancelled_write_bytes.
    private mutating func addIO(_ text: [UInt8]) {
        var cancelled: Int64 = 0
        for line in text.split(separator: UInt8(ascii: "\n")) {
            guard let colon = line.firstIndex(of: UInt8(ascii: ":")) else { continue }
            let value = Self.number(line[(colon + 1)...].drop { $0 == UInt8(ascii: " ") }) ?? 0
            switch String(decoding: line[..<colon], as: UTF8.self) {
            case "read_bytes": readBytes = value
            case "write_bytes": writtenBytes = value
            case "cancelled_write_bytes": cancelled = value
            default: break
            }
        }
        writtenBytes = max(0, writtenBytes &- cancelled)
    }

    private static func number(_ s: ArraySlice<UInt8>) -> Int64? {
        guard !s.isEmpty else { return nil }
        var n: Int64 = 0
        for b in s {
            guard b >= UInt8(ascii: "0"), b <= UInt8(ascii: "9") else { return nil }
            let (m, o1) = n.multipliedReportingOverflow(by: 10)
            let (a, o2) = m.addingReportingOverflow(Int64(b - UInt8(ascii: "0")))
            if o1 || o2 { return nil }
            n = a
        }
        return n
    }

    /// A small /proc file's bytes (one read: these are generated whole).
    private static func contents(_ path: String) -> [UInt8]? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var buf = [UInt8](repeating: 0, count: 4096)
        let n = buf.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
        guard n > 0 else { return nil }
        return Array(buf[0..<n])
    }
}
