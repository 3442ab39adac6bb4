/// The signal mask kept on the guest's side while the task runs.
///
/// glibc changes the mask around every thread's start and exit, every
/// fork and `posix_spawn`: four of the ten calls of a thread's create and
/// join. Where the platform can (systrap's stub: at a patched site, or
/// after the SIGSYS of a site the sentry cannot patch), the
/// task's mask and the signals pending for it go into the stub's area as
/// the task enters guest code, the stub answers `rt_sigprocmask` from
/// there, and the task takes the mask back as the run ends. Meanwhile:
/// - a sender queues the signal, stores the pending set into the area,
///   then reads the mask there to choose whom to kick (`sendLocked`);
/// - the stub stores a new mask, then reads the pending set, and a signal
///   the new mask lets through sends it back to the sentry at the call's
///   return address, where it is delivered as Linux delivers it on the
///   call's way out.
/// Each side makes its store before its load (both sequentially
/// consistent), so at least one sees the other (stub.c, `.Lmask_try`).
/// Readers of another task's mask take `liveSignalMaskLocked`.
extension Task {
    /// Into guest code (the run loop, or a hand-off resuming the task).
    /// Kernel lock held.
    /// The guest's side keeps the mask if `sideCalls.signalMask`, and
    /// records the robust-list head if `sideCalls.robustList`.
    func enterGuestLocked(_ sideCalls: GuestSideCalls) {
        inGuest = true
        guestEntries &+= 1
        guestSignalWords = context.enterGuestSignalMask(space, allowed: sideCalls.signalMask && savedMask == nil,
                                                        mask: signalMask, pending: pending.bits | group.sharedPending.bits)
        guestRobustList = context.enterGuestRobustList(space, allowed: sideCalls.robustList)
    }

    /// Out of guest code: the mask the guest's side left is the task's.
    /// Kernel lock held.
    func leaveGuestLocked() {
        inGuest = false
        takeGuestRobustListLocked()
        guard let words = guestSignalWords else { return }
        guestSignalWords = nil
        let now = words.mask & ~SignalSets.unblockable
        if now != signalMask {
            let old = signalMask
            signalMask = now
            signalMaskChangedLocked(from: old)
        }
    }

    /// The task's mask at this moment, wherever it is kept. Kernel lock held.
    var liveSignalMaskLocked: UInt64 {
        guard let words = guestSignalWords else { return signalMask }
        return words.mask & ~SignalSets.unblockable
    }

    /// A signal was queued for the task or its process: the guest's side
    /// sees it before it lets it through. Kernel lock held.
    func publishPendingLocked() {
        guestSignalWords?.publish(pending: pending.bits | group.sharedPending.bits)
    }

    /// retarget_shared_pending: process-wide signals this task now blocks
    /// wake a sibling that takes them, if one does. Kernel lock held.
    func signalMaskChangedLocked(from old: UInt64) {
        var moving = signalMask & ~old & group.sharedPending.bits
        guard moving != 0 else { return }
        for t in group.tasks where t !== self && !t.killed {
            let takes = moving & ~t.liveSignalMaskLocked
            guard takes != 0 else { continue }
            t.interruptLocked()
            moving &= ~takes
            if moving == 0 { return }
        }
    }
}
