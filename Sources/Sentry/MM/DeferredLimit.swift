import Synchronization

/// A limit given, or found out (from the host) only when a decision first
/// needs it. The sandbox's default memory limit reads the cgroup files on
/// the sentry's path, about 0.15 ms of every start, while a small program
/// never comes near any limit: below `floor`, which the value found never
/// is, nothing is read.
public final class DeferredLimit: Sendable {
    /// The least the value can be: comparisons below it need no value.
    public let floor: UInt64
    private let find: (@Sendable () -> UInt64)?
    /// A found value once known; 0 before (`find`'s are never below the
    /// floor, which is not 0).
    private let found = Atomic<UInt64>(0)

    public init(_ value: UInt64) {
        floor = value; find = nil
    }

    /// `find` runs at the first use (or once in each thread racing to it:
    /// what it reads must not change meanwhile); below `floor`, floor counts.
    public init(floor: UInt64, _ find: @escaping @Sendable () -> UInt64) {
        precondition(floor > 0)
        self.floor = floor; self.find = find
    }

    /// Whether a value is known without reading anything (given, or found).
    public var isKnown: Bool { find == nil || found.load(ordering: .acquiring) != 0 }

    public var value: UInt64 {
        guard let find else { return floor }
        let v = found.load(ordering: .acquiring)
        if v != 0 { return v }
        let got = max(find(), floor)
        found.store(got, ordering: .releasing)
        return got
    }

    /// `bytes > value`, reading the value only for `bytes` above the floor.
    @inline(__always) public func isExceeded(by bytes: UInt64) -> Bool {
        bytes > floor && bytes > value
    }

    /// A limit derived from this one (`f` must keep the order: a tmpfs's
    /// half of the memory), as deferred as this one.
    public func map(_ f: @escaping @Sendable (UInt64) -> UInt64) -> DeferredLimit {
        isKnown ? DeferredLimit(f(value)) : DeferredLimit(floor: max(f(floor), 1)) { [self] in f(value) }
    }
}
