import CSwitch

/// The systrap platform: guest syscalls trap inside the stub (Syscall User
/// Dispatch), and the stub and the sentry hand off through shared memory.
/// Sendable: only `let`s; the pool has its own lock.
public final class SystrapPlatform: Platform, @unchecked Sendable {
    public let name = "systrap"
    let memory: MemoryFile
    let stub: StubRegion
    let pool: StubPool

    /// Where patched syscall sites enter the stub; nil: no patching.
    let patchEntry: UInt64?

    public init(memory: MemoryFile, stub: StubRegion, patchSyscalls: Bool = false) {
        self.memory = memory
        self.stub = stub
        patchEntry = patchSyscalls && SystrapContext.xsaveFits ? stub.base.rawValue + UInt64(sw_systrap_patched_offset()) : nil
        // Two: a shell starting a pipeline forks twice in a row.
        pool = StubPool(target: 2, memory: memory, stub: stub)
    }

    public func makeAddressSpace() throws(PlatformError) -> AddressSpace {
        let parked = try pool.take()
        return SystrapAddressSpace(memory: memory, stub: stub, parked: parked, pool: pool)
    }

    public func makeContext() throws(PlatformError) -> PlatformContext { SystrapContext(patchEntry: patchEntry) }
    public var syscallPatchEntry: UInt64? { patchEntry }
    /// A task's stub is driven through its area from whichever thread is
    /// its runner; a stub a task thread started itself keeps that thread
    /// from being reused (`StubPool.take`).
    public var reusesTaskThreads: Bool { true }

    /// A stub is driven through its area, by whichever thread is its
    /// runner; one from the pool was started by the pool's thread.
    public func makeMovableAddressSpace() throws(PlatformError) -> AddressSpace? {
        guard let parked = pool.takeReady() else { return nil }
        return SystrapAddressSpace(memory: memory, stub: stub, parked: parked, pool: pool)
    }
}
