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
        guard a[1] == 24 else { throw .EINVAL }   // sizeof(struct robust_list_head)
        t.robustList = (a.address(0), a[1])
        return 0
    }

    static func getRobustList(_ t: Task, _ a: SyscallArguments) throws(Errno) -> Int64 {
        let pid = a.int32(0)
        guard let target = pid == 0 ? t : t.kernel.task(pid) else { throw .ESRCH }
        try t.mm.write(a.address(1), target.robustList.head.rawValue)
        try t.mm.write(a.address(2), UInt64(24))
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
        let pid = a.int32(0)
        guard pid == 0 || pid == t.pid else {
            // Another process of the sandbox: same credentials, so allowed, but
            // only the caller's own limits are kept per process here.
            throw t.kernel.task(pid) == nil ? .ESRCH : .EPERM
        }
        return try rlimit(t, resource: a.int32(1), new: a.address(2), old: a.address(3))
    }

    static func getrlimit(_ t: Task, _ a: SyscallArguments) throws(Errno) -> Int64 {
        try rlimit(t, resource: a.int32(0), new: .null, old: a.address(1))
    }

    static func setrlimit(_ t: Task, _ a: SyscallArguments) throws(Errno) -> Int64 {
        guard !a.address(1).isNull else { throw .EFAULT }
        return try rlimit(t, resource: a.int32(0), new: a.address(1), old: .null)
    }

    private static func rlimit(_ t: Task, resource: Int32, new: GuestAddress, old: GuestAddress) throws(Errno) -> Int64 {
        guard (0..<ResourceLimit.count).contains(resource), let current = t.rlimit(resource) else { throw .EINVAL }
        var next = current
        if !new.isNull {
            let r = try t.mm.read(new, as: (UInt64, UInt64).self)
            guard r.0 <= r.1 else { throw .EINVAL }
            // Raising the hard limit needs CAP_SYS_RESOURCE, which only root has.
            if r.1 > current.max && !t.attributes.withLock({ $0.credentials.capable(Credentials.CAP_SYS_RESOURCE) }) { throw .EPERM }
            if resource == ResourceLimit.RLIMIT_NOFILE && r.1 > 1 << 20 { throw .EPERM }  // nr_open
            next = (r.0, r.1)
        }
        if !old.isNull { try t.mm.write(old, (current.cur, current.max)) }
        t.setRlimit(resource, next)
        return 0
    }

    static func uname(_ t: Task, _ a: SyscallArguments) throws(Errno) -> Int64 {
        var u = utsname()
        func set<T>(_ field: inout T, _ s: String) {
            withUnsafeMutableBytes(of: &field) { b in
                let bytes = Array(s.utf8.prefix(b.count - 1))
                b.initializeMemory(as: UInt8.self, repeating: 0)
                b.copyBytes(from: bytes)
            }
        }
        set(&u.sysname, "Linux")
        set(&u.nodename, t.kernel.hostname)
        set(&u.release, Kernel.release)
        set(&u.version, "#1 SMP PREEMPT_DYNAMIC Sentry")
        set(&u.machine, "x86_64")
        set(&u.__domainname, "(none)")
        try t.mm.write(a.address(0), u)
        return 0
    }

    static func sysinfo(_ t: Task, _ a: SyscallArguments) throws(Errno) -> Int64 {
        var host = CSwitch.sysinfo()
        _ = sw_sysinfo(&host)
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        var si = CSwitch.sysinfo()
        si.uptime = now.tv_sec - t.kernel.bootTime.tv_sec
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
