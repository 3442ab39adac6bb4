import Glibc

/// An address space whose host side is a stub that runs syscalls for the
/// sentry (ptrace: injected at a gadget; systrap: a request in the area).
/// The mirror of the memory manager's mappings is written once on top.
protocol StubSyscalls: AnyObject {
    var memory: MemoryFile { get }
    /// Runs one syscall in the calling runner's stub; its raw result.
    func stubSyscall(_ nr: UInt64, _ args: [UInt64]) throws(PlatformError) -> Int64
}

extension StubSyscalls {
    /// mmap(MAP_SHARED|MAP_FIXED) of a memory-file chunk at `address`.
    func mapChunk(at address: UInt64, length: UInt64, fileOffset: UInt64, prot: Prot) throws(PlatformError) {
        let r = try stubSyscall(9, [address, length, UInt64(prot.rawValue), UInt64(MAP_SHARED | MAP_FIXED),
                                    UInt64(memory.fd), fileOffset])
        if r != Int64(address) {
            throw .host("stub mmap 0x\(String(address, radix: 16))+\(length)", Errno(Int32(truncatingIfNeeded: -r)))
        }
    }

    func map(_ range: Range<GuestAddress>, fileOffset: UInt64, prot: Prot) throws(PlatformError) {
        try mapChunk(at: range.lowerBound.rawValue, length: range.upperBound - range.lowerBound, fileOffset: fileOffset, prot: prot)
    }

    func unmap(_ range: Range<GuestAddress>) throws(PlatformError) {
        let r = try stubSyscall(11, [range.lowerBound.rawValue, range.upperBound - range.lowerBound])
        if r != 0 { throw .host("stub munmap", Errno(Int32(truncatingIfNeeded: -r))) }
    }

    func protect(_ range: Range<GuestAddress>, prot: Prot) throws(PlatformError) {
        let r = try stubSyscall(10, [range.lowerBound.rawValue, range.upperBound - range.lowerBound, UInt64(prot.rawValue)])
        if r != 0 { throw .host("stub mprotect", Errno(Int32(truncatingIfNeeded: -r))) }
    }
}
