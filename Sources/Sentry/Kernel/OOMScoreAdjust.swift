/// /proc/PID/oom_score_adj (fs/proc/base.c, oom_score_adj_write and
/// __set_oom_adj of Linux 6.1): a process's weight for the sandbox's OOM
/// killer (Kernel/OOMKiller.swift), from -1000 (never chosen) to 1000.
extension Task {
    static let OOM_SCORE_ADJ_MIN = -1000, OOM_SCORE_ADJ_MAX = 1000

    public var oomScoreAdj: Int { kernel.locked { Int(group.oomScoreAdj) } }

    /// Lowering it below the floor takes CAP_SYS_RESOURCE (EACCES), and a
    /// writer with that capability sets the floor too.
    public func setOOMScoreAdj(_ value: Int, by writer: ProcessView) throws(Errno) {
        guard (Self.OOM_SCORE_ADJ_MIN...Self.OOM_SCORE_ADJ_MAX).contains(value) else { throw .EINVAL }
        let privileged = (writer as? Task)?.attributes.withLock { $0.credentials.capable(Credentials.CAP_SYS_RESOURCE) } ?? false
        try kernel.locked { () throws(Errno) in
            if value < Int(group.oomScoreAdjMin) && !privileged { throw .EACCES }
            group.oomScoreAdj = Int16(value)
            if privileged { group.oomScoreAdjMin = Int16(value) }
        }
    }

    /// The /proc/PID files belong to the process's euid (task_dump_owner,
    /// for a dumpable process; root's otherwise), mode 0644: its owner may
    /// write them, or a writer with CAP_DAC_OVERRIDE.
    public func procWritable(by writer: ProcessView) -> Bool {
        guard let w = writer as? Task else { return false }
        let (fsuid, override) = w.attributes.withLock { ($0.credentials.fsuid, $0.credentials.capable(Credentials.CAP_DAC_OVERRIDE)) }
        if override { return true }
        let owner = kernel.locked { group.dumpable } ? attributes.withLock { $0.credentials.euid } : 0
        return fsuid == owner
    }
}
