import CSwitch

/// The systrap platform: guest syscalls trap inside the stub (Syscall User
/// Dispatch), and the stub and the sentry hand off through shared memory.
public final class SystrapPlatform: Platform, @unchecked Sendable {
    public let name = "systrap"
    let memory: MemoryFile
    let stub: StubRegion

    public init(memory: MemoryFile, stub: StubRegion) {
        self.memory = memory
        self.stub = stub
    }

    public func makeAddressSpace() throws(PlatformError) -> AddressSpace {
        try SystrapAddressSpace(memory: memory, stub: stub)
    }

    public func makeContext() throws(PlatformError) -> PlatformContext { SystrapContext() }
}
