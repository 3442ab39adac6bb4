import CSwitch
import Glibc
import Synchronization

/// How a blocked task's host thread is woken: an eventfd it polls, next to
/// any host fds it waits on. A wake before the wait is not lost (the counter
/// stays set), which is what makes register-then-check waits race free.
public final class Waker: Sendable {
    public let fd: Int32

    init() {
        let fd = sw_eventfd()
        precondition(fd >= 0, "eventfd: \(Errno(-fd))")
        self.fd = fd
    }
    deinit { close(fd) }

    public func wake() {
        var one: UInt64 = 1
        _ = Glibc.write(fd, &one, 8)
    }

    func drain() {
        var v: UInt64 = 0
        _ = Glibc.read(fd, &v, 8)
    }
}

/// Tasks waiting for something (data in a pipe, a child's exit, a futex).
/// Whoever changes the state calls `notify`, which wakes them all; each
/// re-checks its own condition.
public final class WaitQueue: Sendable {
    private let waiters = Mutex<[ObjectIdentifier: Waker]>([:])
    /// Bumped on every notify: edge-triggered epoll reports a file again only
    /// when this moved.
    public let generation = Atomic<UInt64>(0)

    public init() {}

    func add(_ w: Waker) { waiters.withLock { $0[ObjectIdentifier(w)] = w } }
    func remove(_ w: Waker) { _ = waiters.withLock { $0.removeValue(forKey: ObjectIdentifier(w)) } }

    public func notify() {
        generation.add(1, ordering: .relaxed)
        let ws = waiters.withLock { Array($0.values) }
        for w in ws { w.wake() }
    }
}

/// A point on CLOCK_MONOTONIC (or CLOCK_REALTIME for absolute realtime waits).
public struct Deadline: Sendable {
    public var nanoseconds: Int64
    public var clock: clockid_t = CLOCK_MONOTONIC

    public init(nanoseconds: Int64, clock: clockid_t = CLOCK_MONOTONIC) {
        self.nanoseconds = nanoseconds; self.clock = clock
    }

    public static func now(_ clock: clockid_t = CLOCK_MONOTONIC) -> Int64 {
        var ts = timespec()
        clock_gettime(clock, &ts)
        return Int64(ts.tv_sec) * 1_000_000_000 + Int64(ts.tv_nsec)
    }

    /// `ns` from now on the monotonic clock.
    public static func after(_ ns: Int64) -> Deadline {
        let (r, o) = now().addingReportingOverflow(max(0, ns))
        return Deadline(nanoseconds: o ? .max : r)
    }

    public var remaining: Int64 { max(0, nanoseconds - Deadline.now(clock)) }
}

/// A detached host thread running `body` (one per guest task).
enum HostThread {
    private final class Box { let body: () -> Void; init(_ b: @escaping () -> Void) { body = b } }

    static func spawn(_ body: @escaping @Sendable () -> Void) throws(Errno) {
        var attr = pthread_attr_t()
        pthread_attr_init(&attr)
        defer { pthread_attr_destroy(&attr) }
        pthread_attr_setdetachstate(&attr, Int32(PTHREAD_CREATE_DETACHED))
        pthread_attr_setstacksize(&attr, 1 << 20)
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
