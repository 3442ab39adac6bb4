import CSwitch
import Glibc

/// The sandbox's memory (`--memory`) when the user gives none, and the
/// sizes the command line takes.
public enum MemoryLimit {
    /// Where the default comes from, for `sentry run --help` and errors.
    public enum Source: Sendable, Equatable {
        case cgroup(UInt64)   // the memory limit of the cgroup the sentry runs in
        case hostRAM(UInt64)  // the host's RAM
    }

    /// The default: 7/8 of the memory limit of the cgroup the sentry runs
    /// under (cgroup v2 `memory.max`, v1 `memory.limit_in_bytes`, the
    /// tightest along the path), leaving the sentry's own memory room below
    /// it so the host's OOM killer never has to choose the sentry; without
    /// one, 3/4 of the host's RAM.
    public static func defaultLimit() -> (bytes: UInt64, source: Source) {
        let ram = hostRAM()
        if let c = cgroupLimit(), c < ram {
            return (max(c / 8 * 7, defaultFloor), .cgroup(c))
        }
        return (max(ram / 4 * 3, defaultFloor), .hostRAM(ram))
    }

    /// The least the default is, whatever the host: a sandbox smaller than
    /// this could not start a shell.
    static let defaultFloor: UInt64 = 16 << 20

    /// The default, read from the host only when a decision first needs it
    /// (a use of memory past the floor, /proc/meminfo, sysinfo).
    public static func deferredDefault() -> DeferredLimit {
        DeferredLimit(floor: defaultFloor) { defaultLimit().bytes }
    }

    /// "here: 12 GiB, 3/4 of the host's 16 GiB of RAM", for --help.
    public static func describeDefault() -> String {
        func gib(_ b: UInt64) -> String {
            let tenths = b / (1 << 30 / 10)
            return tenths >= 10 ? "\(tenths / 10).\(tenths % 10) GiB" : "\(b >> 20) MiB"
        }
        let (bytes, source) = defaultLimit()
        switch source {
        case .cgroup(let c): return "here: \(gib(bytes)), 7/8 of the cgroup's \(gib(c))"
        case .hostRAM(let r): return "here: \(gib(bytes)), 3/4 of the host's \(gib(r)) of RAM (no cgroup limit)"
        }
    }

    static func hostRAM() -> UInt64 {
        var si = CSwitch.sysinfo()
        guard sw_sysinfo(&si) == 0 else { return .max }
        let (r, o) = UInt64(si.totalram).multipliedReportingOverflow(by: UInt64(max(si.mem_unit, 1)))
        return o ? .max : r
    }

    /// The tightest memory limit on the path of the sentry's cgroup, v2 or v1.
    static func cgroupLimit() -> UInt64? {
        let text = ProcFS.hostFile("/proc/self/cgroup")
        var best: UInt64?
        for line in text.split(separator: "\n") {
            // "0::/path" (v2) or "4:memory:/path", "4:cpu,memory:/path" (v1).
            let f = line.split(separator: ":", maxSplits: 2, omittingEmptySubsequences: false)
            guard f.count == 3 else { continue }
            let path = String(f[2])
            let (dir, file): (String, String)
            if f[0] == "0" && f[1].isEmpty {
                (dir, file) = ("/sys/fs/cgroup", "memory.max")
            } else if f[1].split(separator: ",").contains("memory") {
                (dir, file) = ("/sys/fs/cgroup/memory", "memory.limit_in_bytes")
            } else { continue }
            var p = path
            while true {
                if let v = readLimit(dir + (p == "/" ? "" : p) + "/" + file) { best = min(best ?? .max, v) }
                if p == "/" || p.isEmpty { break }
                p = p.lastIndex(of: "/").map { String(p[..<$0]) } ?? "/"
                if p.isEmpty { p = "/" }
            }
        }
        return best
    }

    /// A limit file's value; nil for "max" or v1's page-rounded LONG_MAX.
    private static func readLimit(_ path: String) -> UInt64? {
        let s = ProcFS.hostFile(path).filter { !$0.isWhitespace }
        guard let v = UInt64(s), v < 1 << 62 else { return nil }
        return v
    }

    /// "64M", "1g", "512k", "1048576", "2GiB": bytes, or nil if malformed or zero.
    public static func parseSize(_ text: String) -> UInt64? {
        var s = text.lowercased()
        if s.hasSuffix("ib") { s.removeLast(2) } else if s.hasSuffix("b") { s.removeLast() }
        var shift: UInt64 = 0
        switch s.last {
        case "k": shift = 10
        case "m": shift = 20
        case "g": shift = 30
        case "t": shift = 40
        default: break
        }
        if shift != 0 { s.removeLast() }
        guard let n = UInt64(s), n > 0 else { return nil }
        let (r, o) = n.multipliedReportingOverflow(by: 1 << shift)
        return o ? nil : r
    }
}

extension MemoryFile {
    /// sysinfo(2) as the sandbox has it: its memory is its RAM, and what
    /// the guests hold in the memory file is what is not free; no swap.
    public func sandboxSysinfo(_ host: CSwitch.sysinfo) -> CSwitch.sysinfo {
        guard hasLimit else { return host }
        var si = host
        let unit = UInt64(max(host.mem_unit, 1))
        let total = min(UInt64(host.totalram), limit / unit)
        let used = min(total, residentBytes / unit)
        si.totalram = UInt(total)
        si.freeram = UInt(min(UInt64(host.freeram), total - used))
        si.bufferram = 0
        si.totalswap = 0; si.freeswap = 0
        return si
    }
}
