/// /proc/sys/fs/mqueue (ipc/mq_sysctl.c of 6.1): the sandbox's POSIX
/// message queue limits, which mq_open and /dev/mqueue's O_CREAT obey.
/// Mode 0644 root's: only an effective uid of 0 may write (sysctl_perm
/// tests the mode by euid, not capabilities); a value is one integer as
/// proc_dointvec reads it, and out of its range EINVAL; a write after the
/// file's first bytes is ignored (sysctl_writes_strict).
extension ProcFS {
    /// Each file: the limit it sets and its bounds (MIN_MSGMAX..HARD_MSGMAX,
    /// MIN_MSGSIZEMAX..HARD_MSGSIZEMAX; queues_max is any int).
    static let mqueueSysctls: [(name: String, limit: WritableKeyPath<PosixMQNamespace.Limits, Int> & Sendable, range: ClosedRange<Int>)] = [
        ("msg_default", \.msgDefault, 1...PosixMQNamespace.hardMsgMax),
        ("msg_max", \.msgMax, 1...PosixMQNamespace.hardMsgMax),
        ("msgsize_default", \.msgsizeDefault, 128...PosixMQNamespace.hardMsgsizeMax),
        ("msgsize_max", \.msgsizeMax, 128...PosixMQNamespace.hardMsgsizeMax),
        ("queues_max", \.queuesMax, Int(Int32.min)...Int(Int32.max)),
    ]

    static func mqueueSysctlDir(_ ns: PosixMQNamespace) -> Inode {
        dir("/proc/sys/fs/mqueue", list: { _ in mqueueSysctls.map { DirEntry($0.name, .regular) } }, child: { n, _ throws(Errno) in
            guard let s = mqueueSysctls.first(where: { $0.name == n }) else { throw .ENOENT }
            return ProcControlNode(path: "/proc/sys/fs/mqueue/" + n, device: device, sysctl: true, mayWrite: { (ctx: WalkContext) throws(Errno) -> Bool in
                ctx.credentials.map { $0.euid == 0 } ?? true
            }, contents: { () throws(Errno) in
                Array("\(ns.locked { ns.limits[keyPath: s.limit] })\n".utf8)
            }, store: { (bytes: [UInt8], _: WalkContext) throws(Errno) in
                let v = try ProcControlNode.integer(bytes)
                guard s.range.contains(v) else { throw .EINVAL }
                ns.locked { ns.limits[keyPath: s.limit] = v }
            })
        })
    }
}
