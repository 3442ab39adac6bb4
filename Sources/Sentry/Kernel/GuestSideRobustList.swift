/// The robust-list head recorded on the guest's side while the task runs.
///
/// glibc calls `set_robust_list` once in every new thread, in every
/// fork's child and at every program's start: a hand-off each, for a call
/// that only records a pointer (Linux reads the list at the thread's exit,
/// never here). Where the platform can (systrap's stub: at a patched site,
/// and after the SIGSYS of any other), the stub answers `set_robust_list`
/// with a size of 24 itself, recording the head in its area, and the task
/// takes it as the run ends, before anything that reads it (the exit's walk
/// of the list, an exec's clean-up, a checkpoint). Another task asking
/// with `get_robust_list` meanwhile reads `liveRobustListLocked`.
extension Task {
    /// The head the task's guest side recorded in the run that just ended
    /// is the task's. Kernel lock held.
    func takeGuestRobustListLocked() {
        guard let word = guestRobustList else { return }
        guestRobustList = nil
        if let head = word.head { robustList = (GuestAddress(head), robustListHeadSize) }
    }

    /// The task's robust-list head at this moment, wherever it is kept. Kernel lock held.
    public var liveRobustListLocked: (head: GuestAddress, length: UInt64) {
        if let head = guestRobustList?.head { return (GuestAddress(head), robustListHeadSize) }
        return robustList
    }
}
