/// Per-process state prctl, mlock and the scheduler calls reach through a
/// task, each read or changed under the kernel lock.
extension Task {
    /// PR_SET_DUMPABLE / PR_GET_DUMPABLE.
    public var isDumpable: Bool {
        get { kernel.locked { group.dumpable } }
        set { kernel.locked { group.dumpable = newValue } }
    }

    /// PR_SET_CHILD_SUBREAPER / PR_GET_CHILD_SUBREAPER.
    public var isChildSubreaper: Bool {
        get { kernel.locked { group.isChildSubreaper } }
        set { kernel.locked { group.isChildSubreaper = newValue } }
    }

    /// The process's mlock state.
    public func withMemoryLocks<T>(_ body: (inout MemoryLocks) throws(Errno) -> T) throws(Errno) -> T {
        try kernel.locked { () throws(Errno) -> T in try body(&group.memoryLocks) }
    }

    /// The live tasks of process group `pgid` (PRIO_PGRP).
    public func tasks(inProcessGroup pgid: Int32) -> [Task] {
        kernel.locked { kernel.tasks.values.filter { $0.group.pgid == pgid && !$0.exiting } }
    }

    /// Every live task of the sandbox (PRIO_USER).
    public var sandboxTasks: [Task] { kernel.locked { kernel.tasks.values.filter { !$0.exiting } } }

    /// The process group of this task's process.
    public var processGroupID: Int32 { kernel.locked { group.pgid } }
}

extension Task {
    /// unshare(CLONE_FILES) for close_range(CLOSE_RANGE_UNSHARE): a shared
    /// descriptor table is replaced by this task's own copy.
    public func unshareFileTable() {
        guard fds.isShared else { return }
        let own = fds.copy()
        fds.releaseUser()
        fds = own
    }
}
