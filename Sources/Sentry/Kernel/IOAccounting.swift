import Synchronization

/// struct task_io_accounting's character counters (/proc/PID/io): bytes
/// read and written through read(2)/write(2)-family calls and how many such
/// calls reached a file. Kept per task and per process, as Linux sums a
/// process's threads, the dead ones included.
/// Sendable: atomics only.
public final class IOAccounting: Sendable {
    let rchar = Atomic<UInt64>(0), wchar = Atomic<UInt64>(0)
    let syscr = Atomic<UInt64>(0), syscw = Atomic<UInt64>(0)
    public init() {}

    public var snapshot: (rchar: UInt64, wchar: UInt64, syscr: UInt64, syscw: UInt64) {
        (rchar.load(ordering: .relaxed), wchar.load(ordering: .relaxed), syscr.load(ordering: .relaxed), syscw.load(ordering: .relaxed))
    }
}

extension Task {
    /// A read-family call reached the file (inc_syscr) and moved `bytes` (add_rchar).
    public func accountRead(_ bytes: Int64) {
        for io in [ioAccounting, group.ioAccounting] {
            io.syscr.add(1, ordering: .relaxed)
            if bytes > 0 { io.rchar.add(UInt64(bytes), ordering: .relaxed) }
        }
    }

    /// A write-family call reached the file (inc_syscw) and moved `bytes` (add_wchar).
    public func accountWrite(_ bytes: Int64) {
        for io in [ioAccounting, group.ioAccounting] {
            io.syscw.add(1, ordering: .relaxed)
            if bytes > 0 { io.wchar.add(UInt64(bytes), ordering: .relaxed) }
        }
    }

    /// Runs a read-family transfer and counts it, errors included (vfs_read
    /// counts the call once past its checks).
    public func countingRead(_ body: () throws(Errno) -> Int64) throws(Errno) -> Int64 {
        do {
            let n = try body()
            accountRead(n)
            return n
        } catch {
            accountRead(0)
            throw error
        }
    }

    public func countingWrite(_ body: () throws(Errno) -> Int64) throws(Errno) -> Int64 {
        do {
            let n = try body()
            accountWrite(n)
            return n
        } catch {
            accountWrite(0)
            throw error
        }
    }
}
