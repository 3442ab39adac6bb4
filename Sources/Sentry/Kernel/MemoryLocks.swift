/// A process's mlock state: the page ranges locked by mlock/mlock2 and
/// whether mlockall(MCL_FUTURE) locks new mappings too. The sentry's guest
/// memory is never swapped out anyway (it lives in a memfd the host may
/// swap as it likes); what is kept is Linux's accounting: RLIMIT_MEMLOCK,
/// VmLck, and which ranges munlock releases. Guarded by the kernel lock.
public struct MemoryLocks: Sendable {
    /// Sorted, disjoint, page-aligned.
    public private(set) var ranges: [Range<UInt64>] = []
    /// MCL_FUTURE (and MCL_ONFAULT with it): mappings made from now on are locked.
    public var future = false

    public init() {}

    public mutating func add(_ r: Range<UInt64>) {
        guard !r.isEmpty else { return }
        var lo = r.lowerBound, hi = r.upperBound
        var keep: [Range<UInt64>] = []
        for x in ranges {
            if x.upperBound < lo || x.lowerBound > hi { keep.append(x) } else {
                lo = min(lo, x.lowerBound); hi = max(hi, x.upperBound)
            }
        }
        keep.append(lo..<hi)
        ranges = keep.sorted { $0.lowerBound < $1.lowerBound }
    }

    public mutating func remove(_ r: Range<UInt64>) {
        guard !r.isEmpty else { return }
        var keep: [Range<UInt64>] = []
        for x in ranges {
            if x.upperBound <= r.lowerBound || x.lowerBound >= r.upperBound { keep.append(x); continue }
            if x.lowerBound < r.lowerBound { keep.append(x.lowerBound..<r.lowerBound) }
            if x.upperBound > r.upperBound { keep.append(r.upperBound..<x.upperBound) }
        }
        ranges = keep
    }

    public mutating func removeAll() { ranges = []; future = false }

    /// Bytes locked within `r` (count_mm_mlocked_page_nr).
    public func lockedBytes(in r: Range<UInt64>) -> UInt64 {
        ranges.reduce(0) { sum, x in
            let lo = max(x.lowerBound, r.lowerBound), hi = min(x.upperBound, r.upperBound)
            return lo < hi ? sum + (hi - lo) : sum
        }
    }

    /// mm->locked_vm in bytes: what is both locked and still mapped.
    public func lockedBytes(mapped vmas: [VMA]) -> UInt64 {
        vmas.reduce(0) { $0 + lockedBytes(in: $1.start.rawValue..<$1.end.rawValue) }
    }
}
