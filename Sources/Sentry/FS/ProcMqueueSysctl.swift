/// /proc/sys/fs/mqueue (ipc/mq_sysctl.c of 6.1): the sandbox's POSIX
/// message queue limits, which mq_open and /dev/mqueue's O_CREAT obey.
/// Mode 0644 root's: only an effective uid of 0 may write (sysctl_perm
/// tests the mode by euid, not capabilities); a value is one integer as
/// proc_dointvec reads it, and out of its range EINVAL; a write after the
/// file's first bytes is ignored (sysctl_writes_strict).
extension ProcFS {
    static func mqueueSysctlDir(_ ns: PosixMQNamespace) -> Inode {
        dir("/proc/sys/fs/mqueue", list: { _ in PosixMQNamespace.Limits.sysctls.map { DirEntry($0.name, .regular) } }, child: { n, _ throws(Errno) in
            guard let s = PosixMQNamespace.Limits.sysctls.first(where: { $0.name == n }) else { throw .ENOENT }
            return ProcControlNode(path: "/proc/sys/fs/mqueue/" + n, device: device, sysctl: true, mayWrite: { (ctx: WalkContext) throws(Errno) -> Bool in
                ctx.credentials.map { $0.euid == 0 } ?? true
            }, contents: { () throws(Errno) in
                Array("\(ns.locked { ns.limits[keyPath: s.field] })\n".utf8)
            }, store: { (bytes: [UInt8], _: WalkContext) throws(Errno) -> Int? in
                let v = try ProcControlNode.integer(bytes)
                guard s.range.contains(v) else { throw .EINVAL }
                ns.locked { ns.limits[keyPath: s.field] = v }
                return nil
            })
        })
    }
}
