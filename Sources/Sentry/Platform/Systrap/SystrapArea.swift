import CSwitch
import Glibc
import Synchronization

/// The sentry's view of one task's systrap area: the page it shares with
/// its stub (trap reports, requests, the saved ucontext). Everything read
/// from it is guest-writable memory and is checked before use.
/// Sendable: a view of shared memory whose words are accessed atomically, by the one runner that owns the area.
struct SystrapArea: @unchecked Sendable {
    /// Where the sentry sees it.
    let base: UnsafeMutableRawPointer
    /// Where the stub sees it.
    let address: UInt64
    /// Its chunk of the memory file.
    let fileOffset: UInt64

    static let size = UInt64(SW_AREA_SIZE)

    var stateWord: UnsafeMutablePointer<UInt32> { base.assumingMemoryBound(to: UInt32.self) }
    var state: UInt32 {
        get { sw_atomic_load32(base) }
        nonmutating set { sw_atomic_store32(base, newValue) }
    }

    func load<T: BitwiseCopyable>(_ offset: Int32, as: T.Type) -> T { base.loadUnaligned(fromByteOffset: Int(offset), as: T.self) }
    func store<T: BitwiseCopyable>(_ offset: Int32, _ v: T) { base.storeBytes(of: v, toByteOffset: Int(offset), as: T.self) }

    /// Writes batch entry `index` (SW_AREA_BATCH: nr, six arguments,
    /// result; the stub's SW_BATCH_ENTRY reads it) with `result`
    /// preset, which the stub overwrites when it makes the call.
    func writeBatchEntry(_ call: StubCall, index: Int, result: Int64 = 0) {
        let e = Int32(SW_AREA_BATCH) + Int32(index * 64)
        store(e, call.nr)
        for j in 0..<6 { store(e + Int32(8 + j * 8), j < call.args.count ? call.args[j] : 0) }
        store(e + 56, result)
    }

    /// The usage the stub read of itself (SW_AREA_USAGE: at a trap of
    /// exit(2) or exit_group(2), or by an emptying batch's getrusage).
    var stubUsage: HostTaskCounters {
        var ru = rusage()
        _ = withUnsafeMutableBytes(of: &ru) { memcpy($0.baseAddress!, base + Int(SW_AREA_USAGE), $0.count) }
        return HostTaskCounters(faultsAndSwitchesOf: ru)
    }

    /// The stub's usage as it reported its last trap, if that was a trap
    /// of exit(2) or exit_group(2) and no RUN has come since.
    var usageAtExitTrap: HostTaskCounters? { load(SW_AREA_USAGE_SET, as: UInt32.self) != 0 ? stubUsage : nil }

    /// The result the stub left in batch entry `index`.
    func batchResult(_ index: Int) -> Int64 { load(Int32(SW_AREA_BATCH) + Int32(index * 64 + 56), as: Int64.self) }

    /// A stub address inside the area's signal stack, as a sentry pointer,
    /// if `length` bytes from it stay inside.
    func pointer(_ stubAddress: UInt64, length: UInt64) -> UnsafeMutableRawPointer? {
        guard stubAddress >= address + UInt64(SW_AREA_FRAME), stubAddress <= address + Self.size - length else { return nil }
        return base + Int(stubAddress - address)
    }

    /// Waits until the stub moves the state away from `from`: spinning for
    /// up to `spin` ns when a spinning slot is free, then on the futex. nil
    /// if the stub died meanwhile. `untilTaken` (after a RUN): spin on only
    /// once the stub has said it took the RUN. A stub that hasn't within a
    /// few µs is waiting for a CPU, perhaps this one, and a spin would only
    /// keep it off (on 2 CPUs that cost the busybox script about 12%).
    /// `longWait` runs once if a sleep times out with the state unmoved.
    func wait(whileState from: UInt32, pidfd: Int32, spin: Int64 = Spinners.requestBudget, untilTaken: Bool = false,
              longWait: (() -> Void)? = nil) -> UInt32? {
        var longWait = longWait
        // A stub held to this thread's CPU (StubPlacement) runs only once
        // this thread sleeps.
        let spin = load(SW_AREA_SAME_CPU, as: UInt32.self) != 0 ? 0 : spin
        if spin > 0 && Spinners.enter() {
            defer { Spinners.leave() }
            let start = Deadline.now()
            var taken = !untilTaken
            var n = 0
            while true {
                let s = state
                if s != from { return s }
                // PAUSE only after the first few µs: in a VM with pause-loop
                // exiting one PAUSE here costs 0.2-0.4 µs (a VM exit), which
                // is how late an answer that came meanwhile is seen.
                if n >= Spinners.pauseFreeLooks { sw_pause() }
                n += 1
                guard n & 31 == 0 else { continue }
                let now = Deadline.now()
                if now >= start + spin { break }
                if !taken {
                    taken = sw_atomic_load32(base + Int(SW_AREA_RUN_TAKEN)) != 0
                    if !taken && now - start >= Spinners.takeWindow { break }
                }
            }
        }
        while true {
            // Say we sleep (a full barrier), then sleep only if nothing moved.
            sw_atomic_store32(base + Int(SW_AREA_SENTRY_WAITING), 1)
            let s = state
            if s != from { sw_atomic_store32(base + Int(SW_AREA_SENTRY_WAITING), 0); return s }
            let r = sw_futex_wait(stateWord, from, 50_000_000)
            sw_atomic_store32(base + Int(SW_AREA_SENTRY_WAITING), 0)
            if state == from && sw_pidfd_exited(pidfd, 0) != 0 { return nil }
            if r == -Int(ETIMEDOUT), state == from, let f = longWait { longWait = nil; f() }
        }
    }

    /// Hands the area to the stub; a futex wake only if it sleeps.
    ///
    /// A stub held to this thread's CPU (StubPlacement) that does not sleep
    /// was preempted on this CPU, by this thread's wake-up at its last
    /// trap: this thread yields the CPU to it rather than going to sleep
    /// in the wait that follows. Its next trap then finds this thread
    /// runnable, so it needs no wake-up. A sleeping thread's wake-up may
    /// be placed on the other vCPU if it is idle, and the stub, held to
    /// the thread's CPU, follows it there at the next RUN. Round trips
    /// that begin this way stay this way: the trapped getppid (SIGSYS)
    /// took 13.8 µs with its sentry thread woken each time, 6.8 after.
    func post(_ s: UInt32) {
        state = s
        if sw_atomic_load32(base + Int(SW_AREA_STUB_WAITING)) != 0 {
            _ = sw_futex_wake(stateWord)
        } else if load(SW_AREA_SAME_CPU, as: UInt32.self) != 0 {
            sched_yield()
        }
    }
}

/// Sentry threads spinning for their stub. A spin saves a futex sleep and
/// wake-up (tens of µs on a busy 2-CPU VM) but burns a CPU, so at most one
/// fewer threads than CPUs spin at once: a guest always has a CPU left.
enum Spinners {
    static let limit = max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))) - 1)
    private static let count = Atomic<Int>(0)
    /// A stub answers a request (mmap, clone) in a few µs.
    static let requestBudget: Int64 = 20_000
    /// The longest a task's wait for its guest's next trap spins. Under
    /// emulation (the vmexec VM) one round trip alone takes ~50 us.
    static let maxRunBudget: Int64 = 200_000
    /// How long a stub may take to pick up a RUN before the wait stops
    /// spinning: a spinning stub takes it in well under a µs.
    static let takeWindow: Int64 = 5_000
    /// Looks at the state word without PAUSE before the spin pauses between
    /// looks: a few µs, about one round trip of a quick syscall.
    static let pauseFreeLooks = 2048

    static func enter() -> Bool {
        if count.add(1, ordering: .acquiring).newValue <= limit { return true }
        count.subtract(1, ordering: .relaxed)
        return false
    }
    static func leave() { count.subtract(1, ordering: .releasing) }
}
