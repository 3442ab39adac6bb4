import CSwitch
import Glibc
import Synchronization

/// How a blocked sentry thread is woken.
///
/// A plain waker is an eventfd its owner polls next to other host fds (the
/// timer thread, the port forwarder): a wake before the wait is not lost,
/// the counter stays set, which makes register-then-check waits race free.
///
/// A task's waker (`forTask`) is woken far more often, by every notify of a
/// queue it is on and every signal sent to it, mostly while it is not asleep
/// at all. So it keeps one word: a wake sets `pending` and makes a system
/// call only if the owner sleeps (a private futex wake, or an eventfd write
/// when it sleeps in ppoll on host fds as well); the owner sleeps only if no
/// wake is pending. A lost wake-up would need a wake between the owner's
/// check and its sleep, and that wake leaves `pending` set, which the sleep's
/// compare-and-swap sees.
public final class Waker: @unchecked Sendable {
    // Sendable: `word` is only touched through atomic operations; the
    // eventfd is set once, before anyone can see `inPoll`.
    /// A plain waker's eventfd is made with it; a task's only before its
    /// first sleep in ppoll: most tasks never sleep there, and every fork
    /// and thread paid an `eventfd2` and a `close` for it. The owner stores
    /// it before the compare-and-swap that sets `inPoll`, so a wake that
    /// sees `inPoll` sees the descriptor.
    private let eventFD: Atomic<Int32>
    /// The eventfd a plain waker's owner polls (-1 for a task's not yet made).
    public var fd: Int32 { eventFD.load(ordering: .acquiring) }
    private let forTask: Bool
    private let word: UnsafeMutablePointer<UInt32>
    private static let pending: UInt32 = 1, onFutex: UInt32 = 2, inPoll: UInt32 = 4
    /// A sleep a writer may take over (`sleepForHandoff`): on a shared-key
    /// futex, so that it can be requeued onto the stub's area word; `armed`
    /// while the writer may claim it, `claimed` once one has.
    private static let onSharedFutex: UInt32 = 8, armed: UInt32 = 16, claimed: UInt32 = 32
    /// Sync wake-ups, as Linux's pipes, sockets and exits make them
    /// (WF_SYNC): the waker pulls a sleeping owner's thread onto its own
    /// CPU before the wake, since it is about to sleep itself (for a reply,
    /// a child, a join). Left to itself the host puts the woken thread on an
    /// idle CPU, and on this 2-vCPU VM waking an idle vCPU costs 50-90 µs;
    /// the thread's stub follows it there (StubPlacement). The owner lets go
    /// of the pin as soon as it runs, so the host balances it as before.
    /// A waker with more than a sleep ahead (an exit past its joiner's
    /// wake: `Task.wakesAreSync`) does not pull.
    /// The owner's host tid while it sleeps on the futex and may be pulled
    /// (0: not pullable: its affinity is the guest's).
    private let pullableTID = Atomic<Int32>(0)
    /// The CPU the owner went to sleep on: a waker there needs no pull.
    private let sleptOn = Atomic<UInt32>(0)
    private let pulled = Atomic<Bool>(false)

    init(forTask: Bool = false) {
        self.forTask = forTask
        if forTask {
            eventFD = Atomic(-1)
        } else {
            let fd = sw_eventfd()
            precondition(fd >= 0, "eventfd: \(Errno(-fd))")
            eventFD = Atomic(fd)
        }
        word = .allocate(capacity: 1)
        word.initialize(to: 0)
    }
    deinit {
        let fd = eventFD.load(ordering: .relaxed)
        if fd >= 0 { close(fd) }
        word.deallocate()
    }

    public func wake() {
        guard forTask else { return signalFD() }
        let old = sw_atomic_or32(word, Self.pending)
        // A writer holds the sleeper's read (ReadHandoff): it wakes or resumes it.
        if old & (Self.pending | Self.claimed) != 0 { return }
        if old & Self.onFutex != 0 {
            pullOwner()
            _ = sw_futex_wake_private(word)
        }
        if old & Self.onSharedFutex != 0 { _ = sw_futex_wake(word) }
        if old & Self.inPoll != 0 { signalFD() }
    }

    /// After a sleep (owner only): lets go of a sync wake-up's pin, back to
    /// the sentry's whole set; true if there was one.
    func releasePull() -> Bool {
        guard pulled.exchange(false, ordering: .acquiring) else { return false }
        _ = sw_set_affinity(0, 0, 1)
        return true
    }

    /// A read hand-off's claimer moved the owner's stub to `cpu` and pulls
    /// the owner's thread (asleep, its sleep moved onto the stub's word,
    /// which the stub's next trap wakes) after it; the owner lets go after
    /// its sleep as after any pull.
    func pullClaimed(tid: Int32, to cpu: Int32) {
        guard tid > 0, cpu >= 0, cpu < 64, sw_set_affinity(tid, 1 << UInt64(cpu), 0) == 0 else { return }
        pulled.store(true, ordering: .releasing)
    }

    /// The sync wake-up's pull (see `pullableTID`).
    private func pullOwner() {
        let tid = pullableTID.load(ordering: .acquiring)
        guard tid != 0 else { return }
        let here = sw_current_cpu()
        guard here < 64, here != sleptOn.load(ordering: .relaxed), Task.current?.wakesAreSync ?? true,
              sw_set_affinity(tid, 1 << UInt64(here), 0) == 0 else { return }
        pulled.store(true, ordering: .releasing)
    }

    private func signalFD() {
        var one: UInt64 = 1
        _ = Glibc.write(fd, &one, 8)
    }

    func drain() {
        var v: UInt64 = 0
        _ = Glibc.read(fd, &v, 8)
    }

    /// A task's sleep (owner only): until a wake, `timeout` ns (-1: none)
    /// or, with `hostFDs`, one of them ready. Returns at once if a wake is
    /// pending; every return consumes the pending wake, and the caller
    /// re-checks what it waits for.
    /// `pull`: the owner's host tid if a waker may pull it onto its CPU, 0 if not.
    func sleep(timeout: Int64, hostFDs: inout [pollfd], pull: Int32 = 0) throws(Errno) {
        precondition(forTask)
        let mode = hostFDs.isEmpty ? Self.onFutex : Self.inPoll
        // Published before the compare-and-swap a waker's or follows.
        if mode == Self.onFutex {
            if pull != 0 { sleptOn.store(sw_current_cpu(), ordering: .relaxed) }
            pullableTID.store(pull, ordering: .releasing)
        }
        defer { if mode == Self.onFutex { pullableTID.store(0, ordering: .relaxed) } }
        if mode == Self.inPoll, eventFD.load(ordering: .relaxed) < 0 {
            let made = sw_eventfd()
            if made < 0 { throw Errno(-made) }
            eventFD.store(made, ordering: .releasing)
        }
        guard sw_atomic_cas32(word, 0, mode) != 0 else {
            _ = sw_atomic_xchg32(word, 0)
            return
        }
        defer { _ = sw_atomic_xchg32(word, 0) }
        if mode == Self.onFutex {
            let r = sw_futex_wait_private(word, mode, timeout)
            if r < 0 && r != -Int(EAGAIN) && r != -Int(EINTR) && r != -Int(ETIMEDOUT) { throw Errno(Int32(-r)) }
            return
        }
        hostFDs.append(pollfd(fd: fd, events: Int16(POLLIN), revents: 0))
        defer { hostFDs.removeLast() }
        let r = hostFDs.withUnsafeMutableBufferPointer { sw_ppoll($0.baseAddress!, UInt($0.count), timeout) }
        if r < 0 && r != -EINTR { throw Errno(-r) }
        if hostFDs[hostFDs.count - 1].revents != 0 { drain() }
    }
}

extension Waker {
    /// A task's sleep that a writer may take over (owner only; no host fds):
    /// until a wake, `timeout` ns, or a writer's claim (`claimHandoff`),
    /// which it returns. One compare-and-swap on the word decides between
    /// a wake (`pending`) and a claim. After a claim the sleep may have been
    /// moved onto the stub's area word (ReadHandoff), and ends at the
    /// guest's next trap; the timeout still bounds it.
    func sleepForHandoff(timeout: Int64) -> HandoffSleepEnd {
        precondition(forTask)
        guard sw_atomic_cas32(word, 0, Self.onSharedFutex | Self.armed) != 0 else {
            _ = sw_atomic_xchg32(word, 0)
            return .woken
        }
        // A sentry-side sleep: once moved onto the stub's area word, the
        // stub's trap wakes it, a RUN posted to the stub does not.
        let r = sw_futex_wait_sentry(word, Self.onSharedFutex | Self.armed, timeout)
        let old = sw_atomic_xchg32(word, 0)
        if old & Self.claimed != 0 { return .claimed }
        return r == -Int(ETIMEDOUT) && old & Self.pending == 0 ? .timedOut : .woken
    }
    enum HandoffSleepEnd { case woken, claimed, timedOut }

    /// A writer's claim of the owner's armed sleep: true if no wake came
    /// first; from then on wakes make no call, and the claimer settles.
    func claimHandoff() -> Bool {
        sw_atomic_cas32(word, Self.onSharedFutex | Self.armed, Self.onSharedFutex | Self.claimed) != 0
    }

    /// After a claim: wakes the owner if it still sleeps on its word.
    func wakeClaimed() {
        if sw_atomic_load32(word) & Self.onSharedFutex != 0 { _ = sw_futex_wake(word) }
    }

    /// After a claim: moves the owner's sleep, if it still sleeps on its
    /// word, onto `target` (a shared-key futex word); true if it moved.
    func requeueClaimed(onto target: UnsafeMutablePointer<UInt32>) -> Bool {
        while true {
            // Wakes since the claim may have set `pending` (they make no call).
            let v = sw_atomic_load32(word)
            guard v & Self.claimed != 0, v & Self.onSharedFutex != 0 else { return false }
            let r = sw_futex_requeue_one(word, target, v)
            if r == -Int(EAGAIN) { continue }
            return r > 0
        }
    }
}

/// Tasks waiting for something (data in a pipe, a child's exit, a futex).
/// Whoever changes the state calls `notify`, which wakes them all; each
/// re-checks its own condition.
///
/// A notify may say what changed (`Interest`) and a waiter what it waits
/// for, as Linux's keyed wake-ups do (wake_up_poll's key, which epoll's
/// callback tests): a socket's freed send buffer (writable) need not wake
/// its own owner blocked in a receive (readable), which would only look,
/// find nothing and sleep again, two host context switches for nothing.
/// Waiters that do not say wait for everything.
public final class WaitQueue: Sendable {
    public struct Interest: OptionSet, Sendable {
        public let rawValue: UInt8
        public init(rawValue: UInt8) { self.rawValue = rawValue }
        /// Data, end of file, an error or a shutdown to read.
        public static let readable = Interest(rawValue: 1)
        /// Room to write.
        public static let writable = Interest(rawValue: 2)
        public static let all = Interest(rawValue: .max)
    }
    private let waiters = Mutex<[ObjectIdentifier: (waker: Waker, interest: Interest)]>([:])
    /// Files with O_ASYNC on this queue (FileAsync.swift), and how many: a
    /// notify looks at the table only when there are some.
    private let asyncFiles = Mutex<[ObjectIdentifier: WeakFile]>([:])
    private let asyncCount = Atomic<Int>(0)
    /// Whether every notify is an O_ASYNC event (a pipe's, a pty's), or
    /// only `kill` signals (a socket's: sk_wake_async's points).
    private let signalsOnNotify: Bool
    final class WeakFile: @unchecked Sendable { weak var file: FileDescription?; init(_ f: FileDescription) { file = f } }
    /// Bumped on every notify: edge-triggered epoll reports a file again only
    /// when this moved.
    public let generation = Atomic<UInt64>(0)

    public init(signalsOnNotify: Bool = true) { self.signalsOnNotify = signalsOnNotify }

    func add(_ w: Waker, interest: Interest = .all) { waiters.withLock { $0[ObjectIdentifier(w)] = (w, interest) } }
    func remove(_ w: Waker) { _ = waiters.withLock { $0.removeValue(forKey: ObjectIdentifier(w)) } }

    /// Wakes the waiters whose interest meets `changed`, and tells the O_ASYNC files.
    public func notify(_ changed: Interest = .all) {
        generation.add(1, ordering: .relaxed)
        let ws = waiters.withLock { w in w.values.compactMap { $0.interest.isDisjoint(with: changed) ? nil : $0.waker } }
        for w in ws { w.wake() }
        if signalsOnNotify && asyncCount.load(ordering: .relaxed) > 0 {
            for f in asyncFiles.withLock({ $0.values.compactMap(\.file) }) { f.asyncEvent(changed) }
        }
    }

    /// kill_fasync: `event` to the O_ASYNC files on this queue (those
    /// `include` picks); `now` from a caller that may take the kernel's lock.
    func kill(_ event: AsyncEvent, now: Bool = false, to include: (FileDescription) -> Bool = { _ in true }) {
        guard asyncCount.load(ordering: .relaxed) > 0 else { return }
        for f in asyncFiles.withLock({ $0.values.compactMap(\.file) }) where include(f) { f.sendAsync([event], now: now) }
    }

    func addAsync(_ f: FileDescription) {
        asyncFiles.withLock { t in
            t = t.filter { $0.value.file != nil }
            t[ObjectIdentifier(f)] = WeakFile(f)
            asyncCount.store(t.count, ordering: .relaxed)
        }
    }

    func removeAsync(_ f: FileDescription) {
        asyncFiles.withLock { t in
            t[ObjectIdentifier(f)] = nil
            t = t.filter { $0.value.file != nil }
            asyncCount.store(t.count, ordering: .relaxed)
        }
    }
}

/// A point on CLOCK_MONOTONIC (or CLOCK_REALTIME for absolute realtime waits).
public struct Deadline: Sendable {
    public var nanoseconds: Int64
    public var clock: clockid_t = CLOCK_MONOTONIC

    public init(nanoseconds: Int64, clock: clockid_t = CLOCK_MONOTONIC) {
        self.nanoseconds = nanoseconds; self.clock = clock
    }

    /// The guest's reading of `clock` (see GuestClock: the monotonic clocks may be offset).
    public static func now(_ clock: clockid_t = CLOCK_MONOTONIC) -> Int64 {
        var ts = timespec()
        clock_gettime(clock, &ts)
        return GuestClock.guest(Int64(ts.tv_sec) * 1_000_000_000 + Int64(ts.tv_nsec), clock)
    }

    /// `ns` from now on the monotonic clock.
    public static func after(_ ns: Int64) -> Deadline {
        let (r, o) = now().addingReportingOverflow(max(0, ns))
        return Deadline(nanoseconds: o ? .max : r)
    }

    public var remaining: Int64 { max(0, nanoseconds - Deadline.now(clock)) }
}

/// A detached host thread running `body` (one per guest task).
public enum HostThread {
    private final class Box { let body: () -> Void; init(_ b: @escaping () -> Void) { body = b } }

    public static func spawn(stack: Int = 1 << 20, _ body: @escaping @Sendable () -> Void) throws(Errno) {
        var attr = pthread_attr_t()
        pthread_attr_init(&attr)
        defer { pthread_attr_destroy(&attr) }
        pthread_attr_setdetachstate(&attr, Int32(PTHREAD_CREATE_DETACHED))
        pthread_attr_setstacksize(&attr, stack)
        let box = Unmanaged.passRetained(Box(body)).toOpaque()
        var tid = pthread_t()
        let r = pthread_create(&tid, &attr, { arg in
            let b = Unmanaged<Box>.fromOpaque(arg!).takeRetainedValue()
            b.body()
            return nil
        }, box)
        if r != 0 { Unmanaged<Box>.fromOpaque(box).release(); throw Errno(r) }
    }
}
