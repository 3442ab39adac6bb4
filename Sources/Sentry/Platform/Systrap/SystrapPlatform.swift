import CSwitch

/// The systrap platform: guest syscalls trap inside the stub (Syscall User
/// Dispatch), and the stub and the sentry hand off through shared memory.
/// Sendable: only `let`s; the pool has its own lock.
public final class SystrapPlatform: Platform, @unchecked Sendable {
    public let name = "systrap"
    let memory: MemoryFile
    let stub: StubRegion
    let pool: StubPool

    public init(memory: MemoryFile, stub: StubRegion) {
        self.memory = memory
        self.stub = stub
        // Two: a shell starting a pipeline forks twice in a row.
        pool = StubPool(target: 2, memory: memory, stub: stub)
    }

    public func makeAddressSpace() throws(PlatformError) -> AddressSpace {
        let parked = try pool.take()
        return SystrapAddressSpace(memory: memory, stub: stub, parked: parked, pool: pool)
    }

    public func makeContext() throws(PlatformError) -> PlatformContext { SystrapContext() }
}
