import CSwitch
import Glibc

/// process_vm_exec (a kernel patched by images/kernel): each task's own
/// sentry thread runs its guest code, lending itself to the stub's address
/// space until the guest makes a syscall or a signal arrives. No stub
/// thread runs guest code and nothing waits on another thread: one trap is
/// one system call of the sentry.
/// Sendable: only `let`s; the pool has its own lock.
final class VmexecPlatform: Platform, @unchecked Sendable {
    let name = "vmexec"
    let memory: MemoryFile
    let stub: StubRegion
    /// The syscall's number on this kernel (the patch gives 1000).
    static let number: Int = 1000

    let pool: StubPool

    init(memory: MemoryFile, stub: StubRegion) throws(PlatformError) {
        self.memory = memory
        self.stub = stub
        VmexecContext.installKickHandler()
        // Two: a shell starting a pipeline forks twice in a row.
        pool = StubPool(target: 2, memory: memory, stub: stub)
    }

    func makeAddressSpace() throws(PlatformError) -> AddressSpace {
        let parked = try pool.take()
        return VmexecAddressSpace(memory: memory, stub: stub, parked: parked, pool: pool)
    }

    func makeContext() throws(PlatformError) -> PlatformContext { VmexecContext() }
}
