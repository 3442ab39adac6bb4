import CSwitch
import Glibc

/// /proc/meminfo and /proc/filesystems in Linux 6.1's formats.
extension ProcFS {
    /// meminfo_proc_show's lines for a distribution x86-64 6.1 kernel, in
    /// order. The memory is the host's: each value is the host's own line
    /// where it has one, else what sysinfo says, else 0.
    static let meminfoKeys = [
        "MemTotal", "MemFree", "MemAvailable", "Buffers", "Cached", "SwapCached", "Active", "Inactive",
        "Active(anon)", "Inactive(anon)", "Active(file)", "Inactive(file)", "Unevictable", "Mlocked",
        "SwapTotal", "SwapFree", "Zswap", "Zswapped", "Dirty", "Writeback", "AnonPages", "Mapped", "Shmem",
        "KReclaimable", "Slab", "SReclaimable", "SUnreclaim", "KernelStack", "PageTables", "SecPageTables",
        "NFS_Unstable", "Bounce", "WritebackTmp", "CommitLimit", "Committed_AS", "VmallocTotal", "VmallocUsed",
        "VmallocChunk", "Percpu", "HardwareCorrupted", "AnonHugePages", "ShmemHugePages", "ShmemPmdMapped",
        "FileHugePages", "FilePmdMapped", "HugePages_Total", "HugePages_Free", "HugePages_Rsvd", "HugePages_Surp",
        "Hugepagesize", "Hugetlb", "DirectMap4k", "DirectMap2M", "DirectMap1G",
    ]

    /// `memory`: the sandbox's, whose limit is its RAM (no swap of its own).
    static func meminfoText(_ memory: MemoryFile? = nil) -> String {
        var host: [String: UInt64] = [:]
        for line in hostFile("/proc/meminfo").split(separator: "\n") {
            guard let colon = line.firstIndex(of: ":") else { continue }
            let value = line[line.index(after: colon)...].split(separator: " ").first.flatMap { UInt64($0) }
            if let value { host[String(line[..<colon])] = value }
        }
        if host["MemTotal"] == nil {
            var si = CSwitch.sysinfo()
            _ = sw_sysinfo(&si)
            let unit = UInt64(si.mem_unit == 0 ? 1 : si.mem_unit)
            host["MemTotal"] = UInt64(si.totalram) * unit / 1024
            host["MemFree"] = UInt64(si.freeram) * unit / 1024
            host["MemAvailable"] = UInt64(si.freeram + si.bufferram) * unit / 1024
            host["SwapTotal"] = UInt64(si.totalswap) * unit / 1024
            host["SwapFree"] = UInt64(si.freeswap) * unit / 1024
        }
        if let memory, memory.hasLimit {
            let total = min(host["MemTotal"] ?? .max, memory.limit / 1024)
            let free = total - min(total, memory.residentBytes / 1024)
            host["MemTotal"] = total
            host["MemFree"] = min(host["MemFree"] ?? free, free)
            host["MemAvailable"] = min(host["MemAvailable"] ?? free, free)
            host["SwapTotal"] = 0; host["SwapFree"] = 0
        }
        var out = ""
        for key in meminfoKeys {
            let v = host[key] ?? 0
            switch key {
            case "HugePages_Total", "HugePages_Free", "HugePages_Rsvd", "HugePages_Surp":
                out += (key + ":").padded(19) + String(v).leftPadded(5) + "\n"
            case "HardwareCorrupted":
                out += "HardwareCorrupted: " + String(v).leftPadded(5) + " kB\n"
            case "Hugepagesize":
                out += "Hugepagesize:   " + String(v).leftPadded(8) + " kB\n"
            default:
                out += (key + ":").padded(16) + String(v).leftPadded(8) + " kB\n"
            }
        }
        return out
    }

    /// The filesystem types the sandbox has: its own (in Linux's registration
    /// order), then the types of the host filesystems it shows.
    static func filesystemsText(_ vfs: VFS) -> String {
        let own = ["tmpfs", "proc", "devtmpfs", "sockfs", "pipefs", "devpts"]
        var out = own.map { "nodev\t\($0)\n" }.joined()
        var seen = Set(own)
        for m in vfs.mounts.all where !seen.contains(m.type) {
            seen.insert(m.type)
            out += "\t\(m.type)\n"
        }
        return out
    }
}
