/// What closing a descriptor does beyond dropping the reference
/// (filp_close's flush): wherever a process lets go of one, by close(2),
/// close_range, a dup2/dup3 onto it, or exec's close-on-exec.
extension Task {
    /// The process's POSIX record locks on the file go (locks_remove_posix:
    /// any descriptor of the file closing drops them all, as POSIX says),
    /// and its mq_notify registration on a queue (mqueue_flush_file).
    public func descriptorClosed(_ f: FileDescription) {
        let locks = kernel.vfs.locks
        if f.location != nil, !locks.isEmpty, let k = try? FileLocks.Key(of: f) { locks.releaseProcess(pid, k) }
        if let q = f as? PosixMQFile { kernel.vfs.mqueues.flushed(q.queue, pid: pid) }
    }
}
