import CSwitch
import Glibc
import Synchronization

/// A guest address space for vmexec: one stub process that only holds the
/// mm. It is a systrap stub parked in its handler for good; mmap, munmap and
/// mprotect are requests it runs. Every task sharing the mm runs in the
/// same stub's mm, so adding a runner costs nothing.
/// Sendable: stub requests serialised by `lock`, the rest immutable.
final class VmexecAddressSpace: AddressSpace, StubSyscalls, @unchecked Sendable {
    private let host: SystrapAddressSpace
    private let stubRunner: SystrapAddressSpace.Runner
    /// Requests to the one stub, one at a time; and how many runners are in.
    private let lock = Mutex(1)

    var memory: MemoryFile { host.memory }
    var initialRegisters: Registers { host.initialRegisters }
    var hostPID: Int32? { nil }   // guest code runs on the sentry's own threads
    var cpuTimeBase: Int64 { 0 }
    let stubPID: pid_t

    init(memory: MemoryFile, stub: StubRegion, parked: SystrapAddressSpace.Parked, pool: StubPool) {
        host = SystrapAddressSpace(memory: memory, stub: stub, parked: parked, pool: pool, callerRuns: false)
        stubRunner = parked.runner
        stubPID = stubRunner.pid
    }

    func stubSyscall(_ nr: UInt64, _ args: [UInt64]) throws(PlatformError) -> Int64 {
        try lock.withLock { (_: inout Int) throws(PlatformError) -> Int64 in try host.request(on: stubRunner, nr, args) }
    }

    func stubSyscalls(_ calls: [StubCall]) throws(PlatformError) -> [Int64] {
        try lock.withLock { (_: inout Int) throws(PlatformError) -> [Int64] in try host.requestBatch(on: stubRunner, calls) }
    }

    func prepareRunner() throws(PlatformError) -> RunnerTicket {
        lock.withLock { $0 += 1 }
        return RunnerTicket(raw: 0)
    }

    func join(_ ticket: RunnerTicket) throws(PlatformError) {}

    func abandon(_ ticket: RunnerTicket) { leave() }

    func leave(sentryExiting: Bool) {
        let last = lock.withLock { n -> Bool in n -= 1; return n == 0 }
        if last && !sentryExiting { host.retire(stubRunner) }
    }
}
