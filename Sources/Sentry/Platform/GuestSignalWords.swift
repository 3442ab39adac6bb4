import CSwitch

/// A running task's signal mask and pending set where its guest's side
/// keeps them (a systrap stub's area: SW_AREA_SIGMASK, SW_AREA_SIGPENDING),
/// shared with code that changes the mask without the sentry. While the run
/// lasts every access is sequentially consistent: a sender stores the
/// pending set before it loads the mask, the stub stores the mask before it
/// loads the pending set, so at least one of them sees a signal the new mask
/// lets through. (The words are first written before the run, with plain
/// stores its RUN orders: SystrapContext.enterGuestSignalMask.)
/// Valid while the run it was handed out for lasts: the stub's area stays
/// mapped in the sentry until the task's thread has seen the run's end.
public struct GuestSignalWords: @unchecked Sendable {
    let maskWord: UnsafeMutableRawPointer
    let pendingWord: UnsafeMutableRawPointer

    /// The mask as the guest's side has it now (the unblockable bits cleared there).
    var mask: UInt64 { sw_atomic_load64(maskWord) }

    func publish(pending: UInt64) { sw_atomic_store64(pendingWord, pending) }
}
