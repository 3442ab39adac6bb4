import CSwitch
import Glibc
import Sentry

/// Identity, limits, exit, and the per-thread registrations glibc makes at start.
enum Process {
    static func getpid(_ t: Task, _ a: SyscallArguments) throws(Errno) -> Int64 { Int64(t.pid) }
    static func getppid(_ t: Task, _ a: SyscallArguments) throws(Errno) -> Int64 { Int64(t.ppid) }
    static func gettid(_ t: Task, _ a: SyscallArguments) throws(Errno) -> Int64 { Int64(t.tid) }

    static func getpgid(_ t: Task, _ a: SyscallArguments) throws(Errno) -> Int64 { Int64(try t.getpgid(a.int32(0))) }
    static func getpgrp(_ t: Task, _ a: SyscallArguments) throws(Errno) -> Int64 { Int64(try t.getpgid(0)) }
    static func getsid(_ t: Task, _ a: SyscallArguments) throws(Errno) -> Int64 { Int64(try t.getsid(a.int32(0))) }
    static func setsid(_ t: Task, _ a: SyscallArguments) throws(Errno) -> Int64 { Int64(try t.setsid()) }
    static func setpgid(_ t: Task, _ a: SyscallArguments) throws(Errno) -> Int64 {
        try t.setpgid(a.int32(0), a.int32(1))
        return 0
    }

    static func setTidAddress(_ t: Task, _ a: SyscallArguments) throws(Errno) -> Int64 {
        t.clearChildTID = a.address(0)
        return Int64(t.tid)
    }

    static func setRobustList(_ t: Task, _ a: SyscallArguments) throws(Errno) -> Int64 {
        guard a[1] == robustListHeadSize else { throw .EINVAL }
        t.robustList = (a.address(0), a[1])
        return 0
    }

    static func getRobustList(_ t: Task, _ a: SyscallArguments) throws(Errno) -> Int64 {
        let pid = a.int32(0)
        guard let target = pid == 0 ? t : t.kernel.task(pid) else { throw .ESRCH }
        // The head the target's guest side may have recorded in the run it is in.
        let head = t.kernel.locked { target.liveRobustListLocked.head }
        try t.mm.write(a.address(1), head.rawValue)
        try t.mm.write(a.address(2), robustListHeadSize)
        return 0
    }

    static func archPrctl(_ t: Task, _ a: SyscallArguments) throws(Errno) -> Int64 {
        switch a[0] {
        case ArchPrctl.ARCH_SET_FS:
            guard a[1] < t.kernel.layout.top.rawValue else { throw .EPERM }
            t.regs.fsBase = a[1]
        case ArchPrctl.ARCH_SET_GS:
            guard a[1] < t.kernel.layout.top.rawValue else { throw .EPERM }
            t.regs.gsBase = a[1]
        case ArchPrctl.ARCH_GET_FS: try t.mm.write(a.address(1), t.regs.fsBase)
        case ArchPrctl.ARCH_GET_GS: try t.mm.write(a.address(1), t.regs.gsBase)
        case ArchPrctl.ARCH_GET_CPUID: return 1   // cpuid is not faulting
        case ArchPrctl.ARCH_SET_CPUID: throw .ENODEV   // no CPUID faulting for guests
        default: throw .EINVAL
        }
        return 0
    }

    static func prlimit64(_ t: Task, _ a: SyscallArguments) throws(Errno) -> Int64 {
        // sys_prlimit64's order: the new value is read first, then the target
        // (any thread id names its process) and the permission, then do_prlimit.
        let newValue: (UInt64, UInt64)? = a.address(2).isNull ? nil : try t.mm.read(a.address(2), as: (UInt64, UInt64).self)
        let pid = a.int32(0)
        guard let target = pid == 0 ? t : t.kernel.task(pid) else { throw .ESRCH }
        if target.group !== t.group {
            // check_prlimit_permission: the caller's real ids must be all of the
            // target's real, effective and saved ids, or it needs CAP_SYS_RESOURCE.
            let mine = t.attributes.withLock { $0.credentials }
            let theirs = target.attributes.withLock { $0.credentials }
            let match = [theirs.uid, theirs.euid, theirs.suid].allSatisfy { $0 == mine.uid }
                && [theirs.gid, theirs.egid, theirs.sgid].allSatisfy { $0 == mine.gid }
            if !match && !mine.capable(Credentials.CAP_SYS_RESOURCE) { throw .EPERM }
        }
        return try rlimit(t, of: target, resource: a.uint32(1), new: newValue, old: a.address(3))
    }

    /// kcmp(pid1, pid2, type, idx1, idx2).
    static func kcmp(_ t: Task, _ a: SyscallArguments) throws(Errno) -> Int64 {
        let p1 = a.int32(0), p2 = a.int32(1)
        guard p1 > 0, p2 > 0, let t1 = t.kernel.task(p1), let t2 = t.kernel.task(p2) else { throw .ESRCH }
        return try t.kcmp(t1, t2, type: a.int32(2), a[3], a[4])
    }

    static func getrlimit(_ t: Task, _ a: SyscallArguments) throws(Errno) -> Int64 {
        try rlimit(t, of: t, resource: a.uint32(0), new: nil, old: a.address(1))
    }

    static func setrlimit(_ t: Task, _ a: SyscallArguments) throws(Errno) -> Int64 {
        guard !a.address(1).isNull else { throw .EFAULT }
        return try rlimit(t, of: t, resource: a.uint32(0), new: try t.mm.read(a.address(1), as: (UInt64, UInt64).self), old: .null)
    }

    /// do_prlimit: `caller` changes or reads the limits of `target`'s process.
    private static func rlimit(_ caller: Task, of target: Task, resource: UInt32, new: (UInt64, UInt64)?,
                               old: GuestAddress) throws(Errno) -> Int64 {
        guard resource < UInt32(ResourceLimit.count), let current = target.rlimit(Int32(resource)) else { throw .EINVAL }
        var next = current
        if let r = new {
            guard r.0 <= r.1 else { throw .EINVAL }
            if Int32(resource) == ResourceLimit.RLIMIT_NOFILE && r.1 > 1 << 20 { throw .EPERM }  // nr_open
            // Raising the hard limit needs the caller's CAP_SYS_RESOURCE.
            if r.1 > current.max && !caller.attributes.withLock({ $0.credentials.capable(Credentials.CAP_SYS_RESOURCE) }) { throw .EPERM }
            next = (r.0, r.1)
        }
        // The old value is copied out after the change, as sys_prlimit64 does.
        if new != nil { target.setRlimit(Int32(resource), next) }
        if !old.isNull { try caller.mm.write(old, (current.cur, current.max)) }
        return 0
    }

    static func uname(_ t: Task, _ a: SyscallArguments) throws(Errno) -> Int64 {
        var u = utsname()
        func set<T>(_ field: inout T, _ s: String) {
            withUnsafeMutableBytes(of: &field) { b in
                let bytes = Array(s.rawBytes.prefix(b.count - 1))
                b.initializeMemory(as: UInt8.self, repeating: 0)
                b.copyBytes(from: bytes)
            }
        }
        set(&u.sysname, "Linux")
        set(&u.nodename, t.kernel.hostname)
        let persona = PersonalityCalls.of(t)
        set(&u.release, persona.release(Kernel.release))
        set(&u.version, "#1 SMP PREEMPT_DYNAMIC Sentry")
        set(&u.machine, persona.machine("x86_64"))
        set(&u.__domainname, "(none)")
        try t.mm.write(a.address(0), u)
        return 0
    }

    /// __NEW_UTS_LEN: the longest host name.
    static let utsNameLength = 64

    /// sethostname(2): the sandbox's own name (its UTS namespace), which
    /// uname and /proc/sys/kernel/hostname report; the host's is never
    /// touched. CAP_SYS_ADMIN first, then the length, as kernel/sys.c checks.
    static func sethostname(_ t: Task, _ a: SyscallArguments) throws(Errno) -> Int64 {
        guard Creds.creds(t).capable(Credentials.CAP_SYS_ADMIN) else { throw .EPERM }
        let len = a.int32(1)
        guard len >= 0, len <= utsNameLength else { throw .EINVAL }
        let name = try t.mm.copyIn(a.address(0), Int(len))
        t.kernel.hostname = String(rawBytes: name)
        return 0
    }

    static func sysinfo(_ t: Task, _ a: SyscallArguments) throws(Errno) -> Int64 {
        var raw = CSwitch.sysinfo()
        _ = sw_sysinfo(&raw)
        let host = t.kernel.memory.sandboxSysinfo(raw)
        let now = Deadline.now()
        var si = CSwitch.sysinfo()
        si.uptime = Int(now / 1_000_000_000) - t.kernel.bootTime.tv_sec
        si.totalram = host.totalram; si.freeram = host.freeram; si.sharedram = host.sharedram
        si.bufferram = host.bufferram; si.totalswap = host.totalswap; si.freeswap = host.freeswap
        si.loads = host.loads
        si.procs = UInt16(clamping: t.kernel.processCount)
        si.mem_unit = host.mem_unit
        try t.mm.write(a.address(0), si)
        return 0
    }

    static func schedYield(_ t: Task, _ a: SyscallArguments) throws(Errno) -> Int64 {
        sched_yield()
        return 0
    }

    static func getrandom(_ t: Task, _ a: SyscallArguments) throws(Errno) -> Int64 {
        let flags = a.uint32(2)
        guard flags & ~7 == 0, flags & 6 != 6 else { throw .EINVAL }
        let n = min(a.count(1), 32 << 20)
        if n == 0 { return 0 }
        // Straight into the guest's pages, with its memory manager locked
        // (the host's getrandom doesn't sleep once its pool is ready).
        return try t.mm.withGuestBuffers([GuestRange(a.address(0), n)], write: true) { (bufs) throws(Errno) -> Int64 in
            var total = 0
            for b in bufs {
                var done = 0
                while done < b.count {
                    let r = CSwitch.getrandom(b.baseAddress! + done, b.count - done, flags & 3)
                    if r < 0 { if errno == EINTR && total + done > 0 { return Int64(total + done) }; throw Errno(errno) }
                    done += r
                }
                total += done
            }
            return Int64(total)
        }
    }
}
