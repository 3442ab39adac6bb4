/// CLONE_VFORK's completion as the parent sees it: the parent's clone does
/// not return until the child execs or exits (Linux's vfork_done), and a
/// checkpoint can keep that wait (the parent parks inside it).
struct VforkWait: Sendable {
    /// What the clone returns.
    let childTID: Int32
    /// The child while it may still release the parent; nil for a restored
    /// wait whose child had exec'd or exited by the checkpoint.
    let child: Task?
    /// The child's `vforkDone`, which its exec or exit notifies.
    let done: WaitQueue
}

extension Task {
    /// The vfork parent sleeps until its child releases the mm (killable
    /// only, as wait_for_vfork_done). A freeze parks it here: its call has
    /// not returned, and a checkpoint keeps the wait (`vforkWait`).
    func waitForVforkChild(_ w: VforkWait) {
        kernel.locked { vforkWait = w }
        defer { kernel.locked { vforkWait = nil } }
        while true {
            do {
                _ = try block(on: [w.done], interruptible: false) { () throws(Errno) in
                    kernel.locked { (w.child?.vforkReleased ?? true) || kernel.freezing }
                }
            } catch { return }   // killed
            if kernel.locked({ w.child?.vforkReleased ?? true }) || !parkInCall() { return }
        }
    }
}

extension Kernel {
    /// A restored vfork parent, its clone not yet returned: it waits for the
    /// child as before, then the call ends as clone's does (the
    /// PTRACE_EVENT_VFORK_DONE stop, the child's tid, the syscall-exit stop).
    func resumeRestoredVforkWait(_ task: Task) -> SyscallOutcome {
        guard let w = locked({ task.vforkWait }) else { return .replacedRegisters }
        task.waitForVforkChild(w)
        if locked({ task.killed || task.group.exitStatus != nil }) { return .replacedRegisters }
        task.ptraceEvent(PtraceABI.PTRACE_EVENT_VFORK_DONE, message: UInt64(UInt32(bitPattern: w.childTID)))
        return syscallExitStop(task, .value(Int64(w.childTID)), traced: task.traced.load(ordering: .acquiring))
    }
}
