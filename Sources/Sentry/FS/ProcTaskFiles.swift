import Glibc

/// /proc/<pid>/stat and status: fs/proc/array.c's do_task_stat and
/// proc_pid_status, field for field, from the sentry's own records.
extension ProcFS {
    /// What task_mem sums over a process's mappings, in bytes.
    struct MemoryTotals {
        var size: UInt64 = 0, rssAnon: UInt64 = 0, rssFile: UInt64 = 0, rssShmem: UInt64 = 0
        var data: UInt64 = 0, stack: UInt64 = 0, exe: UInt64 = 0, lib: UInt64 = 0
        var rss: UInt64 { rssAnon + rssFile + rssShmem }

        init(_ vmas: [VMA], executable: String) {
            for v in vmas {
                size += v.length
                var file: String?
                if case .file(let f, _) = v.backing { file = f.path }
                // Every page of an accessible mapping counts as resident (as statm and smaps).
                if !v.prot.isEmpty {
                    if v.shared && file == nil { rssShmem += v.length } else if file != nil && !v.prot.contains(.write) { rssFile += v.length }
                    else { rssAnon += v.length }
                }
                // data_vm, stack_vm, exec_vm as vm_stat_account sorts them.
                if v.name == "[stack]" { stack += v.length }
                else if v.prot.contains(.write) && !v.shared { data += v.length }
                else if v.prot.contains(.exec) && !v.prot.contains(.write) {
                    if file == executable { exe += v.length } else { lib += v.length }
                }
            }
        }

        /// Page tables the mappings would need with every page present: one
        /// 4 KiB table per 2 MiB of address space.
        var pageTables: UInt64 { (size + (2 << 20) - 1) / (2 << 20) * 4096 }
    }

    /// Whether `v` is the thread reading its own file: it is running.
    static func state(_ v: ProcessView, _ st: ProcStatus, reader: ProcessView?) -> Character {
        if let r = reader, r.tid == v.tid, st.state == "S" { return "R" }
        return st.state
    }

    /// task_prio and task_nice: 20+nice for normal policies, -1-rtprio for real time.
    static func priorityAndNice(_ s: Scheduling) -> (Int32, Int32) {
        Scheduling.isRealTime(s.policy) ? (-1 - s.priority, 0) : (20 + s.nice, s.nice)
    }

    /// /proc/<pid>/stat: the 52 fields of do_task_stat.
    static func statLine(_ v: ProcessView, tid: Int32?, reader: ProcessView?) -> String {
        let st = v.procStatus
        let vmas = v.mm.vmas
        let totals = MemoryTotals(vmas, executable: v.executablePath)
        let sched = v.taskAttributes.scheduling
        let (prio, nice) = priorityAndNice(sched)
        let stack = vmas.first { $0.name == "[stack]" }?.end.rawValue ?? 0
        let shown = state(v, st, reader: reader)
        let exeVMAs = vmas.filter { if case .file(let f, _) = $0.backing { return f.path == v.executablePath } else { return false } }
        let startCode = exeVMAs.first { $0.prot.contains(.exec) }?.start.rawValue ?? 0
        let endCode = exeVMAs.last { $0.prot.contains(.exec) }?.end.rawValue ?? 0
        let rsslim = v.resourceLimits[ResourceLimit.RLIMIT_RSS]?.cur ?? UInt64.max
        let legacy: UInt64 = 0x7fff_ffff   // the first 31 signals, as the 32-bit field holds them
        let f: [String] = [
            String(tid ?? v.pid), "(\(comm(v)))", String(shown), String(st.ppid), String(st.pgid), String(st.sid),
            String(st.ttyNumber), String(st.ttyForeground),
            "4194560",                                   // task->flags: PF_RANDOMIZE | PF_SUPERPRIV
            // do_task_stat: a task directory's stat shows that thread's faults
            // and times, the process's stat all threads'; children's are the process's.
            String(tid == nil ? st.minorFaults : st.threadMinorFaults), String(st.childMinorFaults),
            String(tid == nil ? st.majorFaults : st.threadMajorFaults), String(st.childMajorFaults),
            String(tid == nil ? st.utime : st.threadUtime), String(tid == nil ? st.stime : st.threadStime),
            String(st.cutime), String(st.cstime),
            String(prio), String(nice), String(st.threads), "0", String(st.startTicks),
            String(totals.size), String(totals.rss / 4096), String(rsslim),
            String(startCode), String(endCode), String(stack),
            "0", "0",                                    // esp, eip: only for a task dumping core
            String(st.pending & legacy), String(st.blocked & legacy), String(st.ignored & legacy), String(st.caught & legacy),
            shown == "S" ? "1" : "0",                    // wchan: 1 while sleeping (6.1 hides the address)
            "0", "0", "17", "0",                         // nswap, cnswap, exit_signal, processor
            String(sched.priority), String(sched.policy),
            "0", "0", "0",                               // delayacct_blkio_ticks, guest times
            "0", "0", "0", "0", "0", "0", "0", "0",      // data, brk, arg and env bounds (not kept)
        ]
        return f.joined(separator: " ") + "\n"
    }

    static func hex16(_ v: UInt64) -> String { String(v, radix: 16).leftPadded(16, "0") }

    /// %*pb: a bitmap of `bits` bits in hex, 32 bits per comma-separated group.
    static func bitmap(_ words: [UInt64], bits: Int) -> String {
        let groups = (bits + 31) / 32
        var out: [String] = []
        for g in (0..<groups).reversed() {
            let word = g / 2 < words.count ? words[g / 2] : 0
            let v = (word >> UInt64((g % 2) * 32)) & 0xffff_ffff
            let width = g == groups - 1 && bits % 32 != 0 ? (bits % 32 + 3) / 4 : 8
            out.append(String(v, radix: 16).leftPadded(width, "0"))
        }
        return out.joined(separator: ",")
    }

    /// %*pbl: the set bits as ranges ("0-3,6").
    static func bitList(_ mask: UInt64, bits: Int) -> String {
        var out: [String] = [], i = 0
        while i < min(bits, 64) {
            if mask & (1 << UInt64(i)) != 0 {
                var j = i
                while j + 1 < min(bits, 64) && mask & (1 << UInt64(j + 1)) != 0 { j += 1 }
                out.append(i == j ? "\(i)" : "\(i)-\(j)")
                i = j + 1
            } else { i += 1 }
        }
        return out.joined(separator: ",")
    }

    /// The host's speculation-mitigation lines, which describe the machine the guest runs on.
    static let speculationLines: String = {
        hostFile("/proc/self/status").split(separator: "\n").filter { $0.hasPrefix("Speculation") }.map { $0 + "\n" }.joined()
    }()

    /// MAX_NUMNODES on distribution kernels (CONFIG_NODES_SHIFT=10).
    static let maxNumaNodes = 1024

    static func statusText(_ v: ProcessView, reader: ProcessView?) -> String {
        let st = v.procStatus
        let s = state(v, st, reader: reader)
        let stateName: String = ["R": "R (running)", "S": "S (sleeping)", "T": "T (stopped)", "t": "t (tracing stop)", "Z": "Z (zombie)"][s] ?? "S (sleeping)"
        let attrs = v.taskAttributes, c = attrs.credentials
        let um = String(v.umask, radix: 8).leftPadded(4, "0")
        let fdSize = v.fds.capacity
        var out = """
        Name:\t\(comm(v))
        Umask:\t\(um)
        State:\t\(stateName)
        Tgid:\t\(v.pid)
        Ngid:\t0
        Pid:\t\(v.tid)
        PPid:\t\(st.ppid)
        TracerPid:\t\(st.tracerPID)
        Uid:\t\(c.uid)\t\(c.euid)\t\(c.suid)\t\(c.fsuid)
        Gid:\t\(c.gid)\t\(c.egid)\t\(c.sgid)\t\(c.fsgid)
        FDSize:\t\(fdSize)
        Groups:\t\(c.groups.map { String($0) }.joined(separator: " ") + " ")
        NStgid:\t\(v.pid)
        NSpid:\t\(v.tid)
        NSpgid:\t\(st.pgid)
        NSsid:\t\(st.sid)

        """
        if st.state != "Z" {
            let t = MemoryTotals(v.mm.vmas, executable: v.executablePath)
            func kb(_ name: String, _ bytes: UInt64) -> String { name + ":\t" + String(bytes >> 10).leftPadded(8) + " kB\n" }
            out += kb("VmPeak", t.size) + kb("VmSize", t.size) + kb("VmLck", v.lockedMemoryBytes) + kb("VmPin", 0)
                + kb("VmHWM", t.rss) + kb("VmRSS", t.rss) + kb("RssAnon", t.rssAnon) + kb("RssFile", t.rssFile)
                + kb("RssShmem", t.rssShmem) + kb("VmData", t.data) + kb("VmStk", t.stack) + kb("VmExe", t.exe)
                + kb("VmLib", t.lib) + kb("VmPTE", t.pageTables) + kb("VmSwap", 0) + kb("HugetlbPages", 0)
                + "CoreDumping:\t0\nTHP_enabled:\t1\n"
        }
        let queued = (st.pending | st.sharedPending).nonzeroBitCount
        let sigLimit = v.resourceLimits[ResourceLimit.RLIMIT_SIGPENDING]?.cur ?? 0
        out += """
        Threads:\t\(st.threads)
        SigQ:\t\(queued)/\(sigLimit)
        SigPnd:\t\(hex16(st.pending))
        ShdPnd:\t\(hex16(st.sharedPending))
        SigBlk:\t\(hex16(st.blocked))
        SigIgn:\t\(hex16(st.ignored))
        SigCgt:\t\(hex16(st.caught))
        CapInh:\t\(hex16(c.inheritable))
        CapPrm:\t\(hex16(c.permitted))
        CapEff:\t\(hex16(c.effective))
        CapBnd:\t\(hex16(c.bounding))
        CapAmb:\t\(hex16(c.ambient))
        NoNewPrivs:\t\(attrs.noNewPrivs ? 1 : 0)
        Seccomp:\t\(attrs.seccomp.mode)
        Seccomp_filters:\t\(attrs.seccomp.filterCount)

        """
        out += speculationLines
        let cpus = max(1, min(64, Int(sysconf(Int32(_SC_NPROCESSORS_CONF)))))
        let all: UInt64 = cpus == 64 ? UInt64.max : (1 << UInt64(cpus)) - 1
        let mask = (attrs.scheduling.affinity ?? all) & all
        out += "Cpus_allowed:\t\(bitmap([mask], bits: cpus))\nCpus_allowed_list:\t\(bitList(mask, bits: cpus))\n"
        out += "Mems_allowed:\t\(bitmap([1], bits: maxNumaNodes))\nMems_allowed_list:\t0\n"
        out += "voluntary_ctxt_switches:\t\(st.voluntarySwitches)\nnonvoluntary_ctxt_switches:\t\(st.involuntarySwitches)\n"
        return out
    }

    /// /proc/<pid>/io (do_io_accounting). The storage counters are what the
    /// host counted for the serving sentry threads; a cancelled write is
    /// already taken off write_bytes (cancelled_write_bytes reads 0).
    static func ioText(_ io: IOAccounting, blocks: (read: Int64, written: Int64)) -> String {
        let c = io.snapshot
        return "rchar: \(c.rchar)\nwchar: \(c.wchar)\nsyscr: \(c.syscr)\nsyscw: \(c.syscw)\n"
            + "read_bytes: \(blocks.read)\nwrite_bytes: \(blocks.written)\ncancelled_write_bytes: 0\n"
    }
}
