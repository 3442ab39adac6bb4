import CSwitch

/// Where a running task's guest side records the robust-list head that a
/// `set_robust_list` gives it (a systrap stub's area: SW_AREA_ROBUST_HEAD,
/// then SW_AREA_ROBUST_SET, stored in that order; read here in the other).
/// Valid while the run it was handed out for lasts, as GuestSignalWords.
public struct GuestRobustListWord: @unchecked Sendable {
    let headWord: UnsafeMutableRawPointer
    let setWord: UnsafeMutableRawPointer

    /// The head the guest set during this run, if it set one.
    var head: UInt64? {
        sw_atomic_load32(setWord) != 0 ? sw_atomic_load64(headWord) : nil
    }
}
