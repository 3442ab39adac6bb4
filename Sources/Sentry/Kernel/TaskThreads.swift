import CSwitch
import Glibc

/// Sentry threads kept, parked, after their task has ended, for the next
/// task to run on. A new host thread per task cost every fork and every
/// guest thread a `clone` (after glibc's `clone3`, which the sentry's own
/// filter refuses), the new thread's start (`rseq`, `set_robust_list`,
/// signal masks, the Swift runtime's first `gettid` in each module) and
/// its end (`madvise` of the stack, `exit`): about 15 host syscalls and a
/// thread the host had to create and tear down, on the critical path of
/// fork+exit+wait and thread create+join.
///
/// Only where the platform allows it (`Platform.reusesTaskThreads`): a
/// thread that traces its stub (ptrace) or runs guest code itself
/// (vmexec) has host state tied to its task. And a thread that started a
/// stub itself is not kept (`keepOff`): that stub dies with it
/// (PR_SET_PDEATHSIG), which is how such a stub goes when the sentry
/// leaves it behind at its exit. A kept thread carries no task state: the
/// task clears `Task.current`, and its CPU clock and host counts start
/// from what they read when the next task takes the thread
/// (`Task.makeCurrent`). Every task thread has the same signal mask
/// (blocked before the first task, inherited), so a kept one has the mask
/// a new one would get.
///
/// One pool for the process: at most `maxIdle` threads wait, the rest end.
///
/// Each waiting thread parks on a word of its own (`Parked`), and the last
/// one parked is taken first: its stack and caches are warm. A shared
/// condition variable woke whichever waiter glibc chose: fork+exit+wait
/// and thread create+join were 1.2-1.3x slower with it on an idle machine
/// (images/bench/notes.md, "Idle vCPUs, second round").
/// Pulling the parked thread onto the caller's CPU before its wake, as a
/// sync wake-up does, was measured too and left out: fork 0.93x but thread
/// create 1.03-1.10x, where Linux itself balances a new task at fork.
/// Sendable: the state is behind its pthread mutex.
final class TaskThreads: @unchecked Sendable {
    static let shared = TaskThreads()

    /// Enough for a shell's pipeline and a burst of joins; beyond that a
    /// thread ends as before.
    private let maxIdle = 8
    // Allocated: a pthread object must not move.
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    /// Threads waiting for a body, the last parked last; and how many of
    /// them are promised to a caller (`reserve`).
    private var parked: [Parked] = []
    private var reserved = 0

    /// A waiting thread: its word (0 while it waits, 1 once `body` is
    /// set). Sendable: `body` is written before the word's store and read
    /// after its load.
    private final class Parked: @unchecked Sendable {
        let word = UnsafeMutablePointer<UInt32>.allocate(capacity: 1)
        var body: (@Sendable () -> Void)?
        init() { word.initialize(to: 0) }
        deinit { word.deallocate() }
    }

    private init() {
        pthread_mutex_init(mutex, nil)
    }

    /// The thread-local mark of a thread that must end with its task.
    private static let keepOffKey: pthread_key_t = {
        var k = pthread_key_t()
        pthread_key_create(&k, nil)
        return k
    }()

    /// The calling thread ends after its task instead of being kept (it
    /// is the parent of a host process that must die with it).
    static func keepOff() {
        pthread_setspecific(keepOffKey, UnsafeRawPointer(bitPattern: 1))
    }

    private func locked<T>(_ body: () -> T) -> T {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return body()
    }

    /// Promises the caller a waiting thread for its next `run(reserved:)`,
    /// which then cannot fail; false if none is free.
    func reserve() -> Bool {
        locked {
            guard reserved < parked.count else { return false }
            reserved += 1
            return true
        }
    }

    /// Runs `body` on the thread `reserve` promised.
    func run(reserved body: @escaping @Sendable () -> Void) {
        let p = locked { () -> Parked in
            reserved -= 1
            return parked.removeLast()
        }
        hand(body, to: p)
    }

    /// Runs `body` on a kept thread if one is free, else on a new one
    /// (kept afterwards if there is room). Throws only when a new thread
    /// cannot be made.
    func run(_ body: @escaping @Sendable () -> Void) throws(Errno) {
        if let p = locked({ reserved < parked.count ? parked.removeLast() : nil }) {
            return hand(body, to: p)
        }
        // In a box the thread empties: a closure the thread's own start
        // captured would keep the first task alive while the thread waits.
        let first = First(body)
        try HostThread.spawn { [self] in work(first) }
    }

    /// Wakes a thread taken off the list (no lock held: a thread woken
    /// under it would only sleep on the mutex).
    private func hand(_ body: @escaping @Sendable () -> Void, to p: Parked) {
        p.body = body
        sw_atomic_store32(p.word, 1)
        _ = sw_futex_wake_private(p.word)
    }

    /// Sendable: written before the thread starts, then read and cleared by it only.
    private final class First: @unchecked Sendable {
        var body: (@Sendable () -> Void)?
        init(_ b: @escaping @Sendable () -> Void) { body = b }
    }

    private func work(_ first: First) {
        var body = first.body
        first.body = nil
        while body != nil {
            body!()
            // The body and what it held (the task) go before the wait.
            body = nil
            if pthread_getspecific(Self.keepOffKey) != nil { return }
            let p = Parked()
            guard locked({ () -> Bool in
                guard parked.count < maxIdle else { return false }
                parked.append(p)
                return true
            }) else { return }
            while sw_atomic_load32(p.word) == 0 { _ = sw_futex_wait_private(p.word, 0, -1) }
            body = p.body
        }
    }
}
