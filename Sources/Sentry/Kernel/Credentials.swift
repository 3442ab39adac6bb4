import Glibc

/// A task's credentials, the parts of Linux's `struct cred` the sentry keeps:
/// real, effective, saved and filesystem ids, supplementary groups and the
/// capability sets. They are the guest's own: uid 0 inside is root for the
/// sentry's checks only, never for the host, whose files the sentry opens
/// with its own rights.
public struct Credentials: Sendable, Equatable {
    public var uid, euid, suid, fsuid: UInt32
    public var gid, egid, sgid, fsgid: UInt32
    /// Sorted, as Linux keeps them (groups_sort).
    public var groups: [UInt32]
    public var inheritable, permitted, effective, bounding, ambient: UInt64
    /// SECBIT_* (securebits.h): only KEEP_CAPS is ever set here.
    public var securebits: UInt32 = 0
    /// The Landlock domain the task restricted itself to (landlock_restrict_self);
    /// kept by fork, clone and execve as the rest of the credentials.
    public var landlock: LandlockDomain? = nil

    public static let CAP_CHOWN = 0, CAP_DAC_OVERRIDE = 1, CAP_DAC_READ_SEARCH = 2, CAP_FOWNER = 3, CAP_FSETID = 4
    public static let CAP_KILL = 5, CAP_SETGID = 6, CAP_SETUID = 7, CAP_SETPCAP = 8, CAP_LINUX_IMMUTABLE = 9
    public static let CAP_NET_ADMIN = 12, CAP_NET_RAW = 13, CAP_IPC_LOCK = 14, CAP_IPC_OWNER = 15, CAP_SYS_PTRACE = 19, CAP_SYS_ADMIN = 21, CAP_SYS_NICE = 23, CAP_SYS_RESOURCE = 24
    public static let CAP_SYS_CHROOT = 18, CAP_MKNOD = 27, CAP_MAC_OVERRIDE = 32, CAP_CHECKPOINT_RESTORE = 40
    /// CAP_CHECKPOINT_RESTORE is the last capability Linux 6.1 knows.
    public static let capLast = 40
    public static let fullSet: UInt64 = (1 << UInt64(capLast + 1)) - 1
    /// What fsuid 0 means (CAP_FS_SET): the DAC overrides, chown, mknod, fsetid, immutable, MAC override.
    public static let fsSet: UInt64 = [CAP_CHOWN, CAP_MKNOD, CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH, CAP_FOWNER,
                                       CAP_FSETID, CAP_LINUX_IMMUTABLE, CAP_MAC_OVERRIDE].reduce(0) { $0 | 1 << UInt64($1) }
    public static let SECBIT_KEEP_CAPS: UInt32 = 1 << 4
    public static let ngroupsMax = 65536

    /// The first guest's: the sentry's own ids and groups; if the sentry is
    /// host root the guest starts as root with every capability, as a root
    /// shell's child would.
    public static func sentrys() -> Credentials {
        let r = getuid(), e = geteuid(), rg = getgid(), eg = getegid()
        let n = getgroups(0, nil)
        var groups = [gid_t](repeating: 0, count: Int(max(0, n)))
        if n > 0 { groups = Array(groups.prefix(Int(max(0, getgroups(n, &groups))))) }
        let root = e == 0
        var c = Credentials(uid: r, euid: e, suid: e, fsuid: e, gid: rg, egid: eg, sgid: eg, fsgid: eg,
                            groups: Array(Set(groups)).sorted(),
                            inheritable: 0, permitted: root ? fullSet : 0, effective: root ? fullSet : 0,
                            bounding: fullSet, ambient: 0)
        // The saved ids and capability sets as the host kernel says (a container's root lacks some).
        // Split as bytes: a Character-wise split of its ~60 lines took 1.2
        // million instructions, half of building the sandbox (callgrind);
        // and only the lines wanted are split into fields (splitting every
        // line was 0.2 million more).
        let status = Array(ProcFS.hostFile("/proc/self/status").utf8)
        func text(_ b: ArraySlice<UInt8>) -> String { String(decoding: b, as: UTF8.self) }
        var start = 0
        while start < status.count {
            let end = status[start...].firstIndex(of: UInt8(ascii: "\n")) ?? status.count
            let line = status[start..<end]
            start = end + 1
            guard Self.statusKeys.contains(where: { line.starts(with: $0) }) else { continue }
            let f = line.split(separator: UInt8(ascii: "\t"), omittingEmptySubsequences: true)
            guard let key = f.first.map(text) else { continue }
            if f.count == 5, key == "Uid:" || key == "Gid:", let saved = UInt32(text(f[3])) {
                if key == "Uid:" { c.suid = saved } else { c.sgid = saved }
            }
            guard f.count == 2, let v = UInt64(text(f[1]), radix: 16) else { continue }
            switch key {
            case "CapInh:": c.inheritable = v & fullSet
            case "CapPrm:": c.permitted = v & fullSet
            case "CapEff:": c.effective = v & fullSet
            case "CapBnd:": c.bounding = v & fullSet
            case "CapAmb:": c.ambient = v & fullSet
            default: break
            }
        }
        return c
    }

    /// The lines of /proc/self/status `sentrys` reads.
    private static let statusKeys: [[UInt8]] = ["Uid:\t", "Gid:\t", "CapInh:\t", "CapPrm:\t", "CapEff:\t", "CapBnd:\t", "CapAmb:\t"].map { Array($0.utf8) }

    /// `--user UID:GID`: every id set to these, no supplementary groups; root
    /// keeps every capability, anyone else has none (as a process that
    /// changed all its uids away from 0 without PR_SET_KEEPCAPS).
    public static func user(uid: UInt32, gid: UInt32) -> Credentials {
        Credentials(uid: uid, euid: uid, suid: uid, fsuid: uid, gid: gid, egid: gid, sgid: gid, fsgid: gid, groups: [],
                    inheritable: 0, permitted: uid == 0 ? fullSet : 0, effective: uid == 0 ? fullSet : 0,
                    bounding: fullSet, ambient: 0)
    }

    public func capable(_ cap: Int) -> Bool { effective & (1 << UInt64(cap)) != 0 }

    /// in_group_p: the fsgid or a supplementary group.
    public func inGroup(_ gid: UInt32) -> Bool { gid == fsgid || groups.contains(gid) }

    /// cap_emulate_setxuid (security/commoncap.c): how a uid change moves the
    /// capability sets, after any of setuid/setreuid/setresuid.
    public mutating func fixCapabilitiesAfterUIDChange(from old: Credentials) {
        let oldHadRoot = old.uid == 0 || old.euid == 0 || old.suid == 0
        let newHasRoot = uid == 0 || euid == 0 || suid == 0
        if oldHadRoot && !newHasRoot {
            if securebits & Self.SECBIT_KEEP_CAPS == 0 { permitted = 0; effective = 0 }
            ambient = 0
        }
        if old.euid == 0 && euid != 0 { effective = 0 }
        if old.euid != 0 && euid == 0 { effective = permitted }
        fixCapabilitiesAfterFSUIDChange(from: old)
    }

    /// LSM_SETID_FS: fsuid leaving 0 drops the filesystem capabilities from
    /// the effective set; coming back to 0 raises those still permitted.
    public mutating func fixCapabilitiesAfterFSUIDChange(from old: Credentials) {
        if old.fsuid == 0 && fsuid != 0 { effective &= ~Self.fsSet }
        if old.fsuid != 0 && fsuid == 0 { effective |= Self.fsSet & permitted }
    }

    /// What execve of a file without set-id bits or file capabilities makes
    /// of them (cap_bprm_creds_from_file): root gets its bounding set back,
    /// others keep only the ambient set (no set-id exec, so it survives); saved and fs ids follow the effective
    /// ones; KEEP_CAPS is cleared.
    public mutating func applyExec() {
        if euid == 0 || uid == 0 {
            permitted = inheritable | bounding | ambient
            effective = euid == 0 ? permitted : ambient
        } else {
            permitted = ambient
            effective = ambient
        }
        suid = euid; fsuid = euid
        sgid = egid; fsgid = egid
        securebits &= ~Self.SECBIT_KEEP_CAPS
    }
}
