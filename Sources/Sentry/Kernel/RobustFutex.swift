import CSwitch

/// struct robust_list_head's size, the only length set_robust_list takes.
public let robustListHeadSize: UInt64 = 24
/// ROBUST_LIST_LIMIT: how many entries exit walks (a cycle can't hang it).
private let robustListLimit = 2048

extension Task {
    /// futex_exit_release / futex_exec_release: the robust list, then the
    /// PI locks still held, as Linux's futex_cleanup at exit and exec.
    func releaseFutexes(dying: Bool) {
        exitRobustList()
        robustList = (.null, 0)
        kernel.futexes.ownerReleased(self, dead: dying)
    }

    /// exit_robust_list: every lock on the list this thread still holds is
    /// marked FUTEX_OWNER_DIED and, if not PI, one waiter is woken; the
    /// pending entry (a lock being taken or released) last. Bit 0 of an
    /// entry says the lock is PI.
    private func exitRobustList() {
        let head = robustList.head
        guard !head.isNull,
              let first = try? mm.read(head, as: UInt64.self),
              let offset = try? mm.read(head + 8, as: Int64.self),
              let pendingRaw = try? mm.read(head + 16, as: UInt64.self) else { return }
        let pending = pendingRaw & ~1
        var entry = first & ~1, pi = first & 1 != 0
        var limit = robustListLimit
        while entry != head.rawValue {
            let next = try? mm.read(GuestAddress(entry), as: UInt64.self)
            if entry != pending, !futexDied(entry, offset, pi: pi, pendingOp: false) { return }
            guard let next else { return }
            entry = next & ~1
            pi = next & 1 != 0
            limit -= 1
            if limit == 0 { break }
        }
        if pending != 0 { _ = futexDied(pending, offset, pi: pendingRaw & 1 != 0, pendingOp: true) }
    }

    /// handle_futex_death: false stops the walk (a fault, a bad address).
    private func futexDied(_ entry: UInt64, _ offset: Int64, pi: Bool, pendingOp: Bool) -> Bool {
        let addr = GuestAddress(entry &+ UInt64(bitPattern: offset))
        guard addr.rawValue & 3 == 0 else { return false }
        let me = UInt32(bitPattern: tid)
        while true {
            guard let uval = try? mm.read(addr, as: UInt32.self) else { return false }
            let owner = uval & FutexWord.tidMask
            if owner != me {
                // A lock being released with no owner or no waiter flag may
                // have a waiter that needs the wake the unlock would have made.
                if pendingOp && !pi && (owner == 0 || uval & FutexWord.waiters == 0) {
                    _ = try? kernel.futexes.wake(mm, addr, count: 1, bitset: ~0)
                }
                return true
            }
            let mval = (uval & FutexWord.waiters) | FutexWord.ownerDied
            let swapped: Bool
            do {
                swapped = try mm.withWord(addr, write: true) { (_, p) throws(Errno) -> Bool in
                    FutexTable.cmpxchg(p, uval, mval) == uval
                }
            } catch { return false }
            guard swapped else { continue }
            // PI locks go to their waiters in ownerReleased.
            if !pi && uval & FutexWord.waiters != 0 {
                _ = try? kernel.futexes.wake(mm, addr, count: 1, bitset: ~0)
            }
            return true
        }
    }
}
