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
/// Sendable: the state is behind its pthread mutex.
final class TaskThreads: @unchecked Sendable {
    static let shared = TaskThreads()

    /// Enough for a shell's pipeline and a burst of joins; beyond that a
    /// thread ends as before.
    private let maxIdle = 8
    // Allocated: a pthread object must not move.
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let cond = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
    /// Threads waiting for a body, bodies handed to them and not yet
    /// taken, and waiting threads promised to a caller (`reserve`).
    private var idle = 0
    private var queued: [@Sendable () -> Void] = []
    private var reserved = 0

    private init() {
        pthread_mutex_init(mutex, nil)
        pthread_cond_init(cond, nil)
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
            guard queued.count + reserved < idle else { return false }
            reserved += 1
            return true
        }
    }

    /// Runs `body` on the thread `reserve` promised.
    func run(reserved body: @escaping @Sendable () -> Void) {
        locked {
            reserved -= 1
            queued.append(body)
        }
        // After the unlock: a thread woken under the lock wakes only to
        // sleep on the mutex until the caller lets go of it (a futex wait
        // and two more wakes per task, on the clone's path).
        pthread_cond_signal(cond)
    }

    /// Runs `body` on a kept thread if one is free, else on a new one
    /// (kept afterwards if there is room). Throws only when a new thread
    /// cannot be made.
    func run(_ body: @escaping @Sendable () -> Void) throws(Errno) {
        let handed = locked { () -> Bool in
            guard queued.count + reserved < idle else { return false }
            queued.append(body)
            return true
        }
        if handed {
            pthread_cond_signal(cond)   // after the unlock, as in run(reserved:)
            return
        }
        // In a box the thread empties: a closure the thread's own start
        // captured would keep the first task alive while the thread waits.
        let first = First(body)
        try HostThread.spawn { [self] in work(first) }
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
            pthread_mutex_lock(mutex)
            guard idle < maxIdle else { pthread_mutex_unlock(mutex); return }
            idle += 1
            while queued.isEmpty { pthread_cond_wait(cond, mutex) }
            body = queued.removeFirst()
            idle -= 1
            pthread_mutex_unlock(mutex)
        }
    }
}
