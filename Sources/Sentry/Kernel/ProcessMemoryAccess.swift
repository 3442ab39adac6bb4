/// Another process's memory through its pidfd: what process_madvise and
/// process_mrelease (mm/madvise.c, mm/oom_kill.c) look up.
extension Task {
    /// mm_access(PTRACE_MODE_READ_FSCREDS) of the process `p` names:
    /// ESRCH once it has no memory (exited), EACCES when the caller may
    /// not inspect it.
    public func memory(ofProcess p: PidFD) throws(Errno) -> MemoryManager {
        let target: Task = try kernel.locked { () throws(Errno) -> Task in
            guard !p.group.zombie, let t = p.group.tasks.first(where: { !$0.exiting }) else { throw .ESRCH }
            return t
        }
        guard target.group === group || mayInspect(target) else { throw .EACCES }
        return target.mm
    }

    /// process_mrelease(2): the memory of a process that is dying (killed,
    /// or its exit_group under way) is released by its exit, which the
    /// sentry completes without a reaper: 0. A live process is EINVAL, one
    /// already gone ESRCH (find_lock_task_mm finds no thread with an mm).
    /// Linux asks no permission here: the target must be dying already.
    public func releaseMemory(ofProcess p: PidFD) throws(Errno) {
        try kernel.locked { () throws(Errno) in
            let live = p.group.tasks.filter { !$0.exiting }
            guard !p.group.zombie, !p.group.tasks.isEmpty else { throw .ESRCH }
            // task_will_free_mem: the group is exiting (SIGNAL_GROUP_EXIT), or every thread is.
            let dying = p.group.exitStatus != nil || live.isEmpty
            guard dying else { throw .EINVAL }
        }
    }
}
