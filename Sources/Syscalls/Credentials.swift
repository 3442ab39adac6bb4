import Sentry

/// The credential calls (kernel/sys.c, kernel/groups.c, kernel/capability.c):
/// ids, groups and capabilities kept per task by the sentry with Linux's
/// permission rules. glibc makes every thread follow a set*id call itself
/// (its SIGSETXID broadcast), as on Linux.
enum Creds {
    /// (uid_t)-1: "leave unchanged" in the set*id calls.
    static let unchanged = UInt32.max

    static func creds(_ t: Task) -> Credentials { t.attributes.withLock { $0.credentials } }

    /// Computes the new credentials from the old ones and commits them.
    static func change(_ t: Task, _ body: (Credentials, inout Credentials) throws(Errno) -> Void) throws(Errno) {
        try t.attributes.withLock { (a: inout TaskAttributes) throws(Errno) in
            var new = a.credentials
            try body(a.credentials, &new)
            a.credentials = new
        }
    }

    static func getuid(_ t: Task, _ a: SyscallArguments) throws(Errno) -> Int64 { Int64(creds(t).uid) }
    static func geteuid(_ t: Task, _ a: SyscallArguments) throws(Errno) -> Int64 { Int64(creds(t).euid) }
    static func getgid(_ t: Task, _ a: SyscallArguments) throws(Errno) -> Int64 { Int64(creds(t).gid) }
    static func getegid(_ t: Task, _ a: SyscallArguments) throws(Errno) -> Int64 { Int64(creds(t).egid) }

    // MARK: uids

    static func setuid(_ t: Task, _ a: SyscallArguments) throws(Errno) -> Int64 {
        let uid = a.uint32(0)
        guard uid != unchanged else { throw .EINVAL }
        try change(t) { (old, new) throws(Errno) in
            if old.capable(Credentials.CAP_SETUID) {
                new.uid = uid; new.suid = uid
            } else if uid != old.uid && uid != old.suid {
                throw .EPERM
            }
            new.euid = uid; new.fsuid = uid
            new.fixCapabilitiesAfterUIDChange(from: old)
        }
        return 0
    }

    static func setreuid(_ t: Task, _ a: SyscallArguments) throws(Errno) -> Int64 {
        let ruid = a.uint32(0), euid = a.uint32(1)
        try change(t) { (old, new) throws(Errno) in
            let capable = old.capable(Credentials.CAP_SETUID)
            if ruid != unchanged {
                guard capable || ruid == old.uid || ruid == old.euid else { throw .EPERM }
                new.uid = ruid
            }
            if euid != unchanged {
                guard capable || euid == old.uid || euid == old.euid || euid == old.suid else { throw .EPERM }
                new.euid = euid
            }
            if ruid != unchanged || (euid != unchanged && euid != old.uid) { new.suid = new.euid }
            new.fsuid = new.euid
            new.fixCapabilitiesAfterUIDChange(from: old)
        }
        return 0
    }

    static func setresuid(_ t: Task, _ a: SyscallArguments) throws(Errno) -> Int64 {
        let r = a.uint32(0), e = a.uint32(1), s = a.uint32(2)
        try change(t) { (old, new) throws(Errno) in
            if (r == unchanged || r == old.uid) && (e == unchanged || e == old.euid) && (s == unchanged || s == old.suid) { return }
            if !old.capable(Credentials.CAP_SETUID) {
                for id in [r, e, s] where id != unchanged && id != old.uid && id != old.euid && id != old.suid { throw .EPERM }
            }
            if r != unchanged { new.uid = r }
            if e != unchanged { new.euid = e }
            if s != unchanged { new.suid = s }
            new.fsuid = new.euid
            new.fixCapabilitiesAfterUIDChange(from: old)
        }
        return 0
    }

    static func getresuid(_ t: Task, _ a: SyscallArguments) throws(Errno) -> Int64 {
        let c = creds(t)
        try t.mm.write(a.address(0), c.uid)
        try t.mm.write(a.address(1), c.euid)
        try t.mm.write(a.address(2), c.suid)
        return 0
    }

    /// setfsuid answers the old fsuid whatever happens; a refused change is silent.
    static func setfsuid(_ t: Task, _ a: SyscallArguments) throws(Errno) -> Int64 {
        let uid = a.uint32(0)
        var previous: UInt32 = 0
        try change(t) { (old, new) throws(Errno) in
            previous = old.fsuid
            guard uid != unchanged else { return }
            if [old.uid, old.euid, old.suid, old.fsuid].contains(uid) || old.capable(Credentials.CAP_SETUID), uid != old.fsuid {
                new.fsuid = uid
                new.fixCapabilitiesAfterFSUIDChange(from: old)
            }
        }
        return Int64(previous)
    }

    // MARK: gids

    static func setgid(_ t: Task, _ a: SyscallArguments) throws(Errno) -> Int64 {
        let gid = a.uint32(0)
        guard gid != unchanged else { throw .EINVAL }
        try change(t) { (old, new) throws(Errno) in
            if old.capable(Credentials.CAP_SETGID) {
                new.gid = gid; new.sgid = gid
            } else if gid != old.gid && gid != old.sgid {
                throw .EPERM
            }
            new.egid = gid; new.fsgid = gid
        }
        return 0
    }

    static func setregid(_ t: Task, _ a: SyscallArguments) throws(Errno) -> Int64 {
        let rgid = a.uint32(0), egid = a.uint32(1)
        try change(t) { (old, new) throws(Errno) in
            let capable = old.capable(Credentials.CAP_SETGID)
            if rgid != unchanged {
                guard capable || rgid == old.gid || rgid == old.egid else { throw .EPERM }
                new.gid = rgid
            }
            if egid != unchanged {
                guard capable || egid == old.gid || egid == old.egid || egid == old.sgid else { throw .EPERM }
                new.egid = egid
            }
            if rgid != unchanged || (egid != unchanged && egid != old.gid) { new.sgid = new.egid }
            new.fsgid = new.egid
        }
        return 0
    }

    static func setresgid(_ t: Task, _ a: SyscallArguments) throws(Errno) -> Int64 {
        let r = a.uint32(0), e = a.uint32(1), s = a.uint32(2)
        try change(t) { (old, new) throws(Errno) in
            if (r == unchanged || r == old.gid) && (e == unchanged || e == old.egid) && (s == unchanged || s == old.sgid) { return }
            if !old.capable(Credentials.CAP_SETGID) {
                for id in [r, e, s] where id != unchanged && id != old.gid && id != old.egid && id != old.sgid { throw .EPERM }
            }
            if r != unchanged { new.gid = r }
            if e != unchanged { new.egid = e }
            if s != unchanged { new.sgid = s }
            new.fsgid = new.egid
        }
        return 0
    }

    static func getresgid(_ t: Task, _ a: SyscallArguments) throws(Errno) -> Int64 {
        let c = creds(t)
        try t.mm.write(a.address(0), c.gid)
        try t.mm.write(a.address(1), c.egid)
        try t.mm.write(a.address(2), c.sgid)
        return 0
    }

    static func setfsgid(_ t: Task, _ a: SyscallArguments) throws(Errno) -> Int64 {
        let gid = a.uint32(0)
        var previous: UInt32 = 0
        try change(t) { (old, new) throws(Errno) in
            previous = old.fsgid
            guard gid != unchanged else { return }
            if [old.gid, old.egid, old.sgid, old.fsgid].contains(gid) || old.capable(Credentials.CAP_SETGID), gid != old.fsgid {
                new.fsgid = gid
            }
        }
        return Int64(previous)
    }

    // MARK: supplementary groups

    static func getgroups(_ t: Task, _ a: SyscallArguments) throws(Errno) -> Int64 {
        let size = a.int32(0)
        guard size >= 0 else { throw .EINVAL }
        let groups = creds(t).groups
        if size == 0 { return Int64(groups.count) }
        guard Int(size) >= groups.count else { throw .EINVAL }
        if !groups.isEmpty { try t.mm.copyOut(a.address(1), groups.withUnsafeBytes { Array($0) }) }
        return Int64(groups.count)
    }

    static func setgroups(_ t: Task, _ a: SyscallArguments) throws(Errno) -> Int64 {
        guard creds(t).capable(Credentials.CAP_SETGID) else { throw .EPERM }
        let size = a.uint32(0)
        guard size <= UInt32(Credentials.ngroupsMax) else { throw .EINVAL }
        let raw = size == 0 ? [] : try t.mm.copyIn(a.address(1), Int(size) * 4)
        var groups = [UInt32](repeating: 0, count: Int(size))
        groups.withUnsafeMutableBytes { $0.copyBytes(from: raw) }
        try change(t) { (_, new) throws(Errno) in new.groups = groups.sorted() }
        return 0
    }

    // MARK: capabilities

    static let version1: UInt32 = 0x1998_0330, version2: UInt32 = 0x2007_1026, version3: UInt32 = 0x2008_0522

    /// cap_validate_magic: how many 32-bit words each set has; an unknown
    /// version is answered with the one the kernel prefers, and EINVAL.
    private static func words(_ t: Task, _ header: GuestAddress) throws(Errno) -> Int {
        switch try t.mm.read(header, as: UInt32.self) {
        case version1: return 1
        case version2, version3: return 2
        default:
            try t.mm.write(header, version3)
            throw .EINVAL
        }
    }

    /// capget(header, data): the sets of the caller or of any task in the sandbox.
    static func capget(_ t: Task, _ a: SyscallArguments) throws(Errno) -> Int64 {
        let header = a.address(0), data = a.address(1)
        let n: Int
        do { n = try words(t, header) } catch { if error == .EINVAL && data.isNull { return 0 }; throw error }
        if data.isNull { return 0 }
        let pid = try t.mm.read(header + 4, as: Int32.self)
        guard pid >= 0 else { throw .EINVAL }
        let c: Credentials
        if pid == 0 || pid == t.tid { c = creds(t) } else {
            guard let target = t.kernel.task(pid) else { throw .ESRCH }
            c = creds(target)
        }
        var out: [UInt32] = []
        for i in 0..<n {
            let shift = UInt64(32 * i)
            out += [UInt32(truncatingIfNeeded: c.effective >> shift), UInt32(truncatingIfNeeded: c.permitted >> shift),
                    UInt32(truncatingIfNeeded: c.inheritable >> shift)]
        }
        try t.mm.copyOut(data, out.withUnsafeBytes { Array($0) })
        return 0
    }

    /// capset(header, data): only the caller's own sets, within cap_capset's rules.
    static func capset(_ t: Task, _ a: SyscallArguments) throws(Errno) -> Int64 {
        let header = a.address(0)
        let n = try words(t, header)
        let pid = try t.mm.read(header + 4, as: Int32.self)
        guard pid == 0 || pid == t.tid else { throw .EPERM }
        let raw = try t.mm.copyIn(a.address(1), n * 12)
        var e: UInt64 = 0, p: UInt64 = 0, i: UInt64 = 0
        raw.withUnsafeBytes { b in
            for w in 0..<n {
                let shift = UInt64(32 * w)
                e |= UInt64(b.loadUnaligned(fromByteOffset: w * 12, as: UInt32.self)) << shift
                p |= UInt64(b.loadUnaligned(fromByteOffset: w * 12 + 4, as: UInt32.self)) << shift
                i |= UInt64(b.loadUnaligned(fromByteOffset: w * 12 + 8, as: UInt32.self)) << shift
            }
        }
        e &= Credentials.fullSet; p &= Credentials.fullSet; i &= Credentials.fullSet
        try change(t) { (old, new) throws(Errno) in
            // Without CAP_SETPCAP the inheritable set may only take what is permitted or already inheritable.
            if !old.capable(Credentials.CAP_SETPCAP) && i & ~(old.inheritable | old.permitted) != 0 { throw .EPERM }
            if i & ~(old.inheritable | old.bounding) != 0 { throw .EPERM }
            if p & ~old.permitted != 0 { throw .EPERM }
            if e & ~p != 0 { throw .EPERM }
            new.effective = e; new.permitted = p; new.inheritable = i
            new.ambient &= p & i
        }
        return 0
    }
}
