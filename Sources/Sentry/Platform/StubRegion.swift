import CSwitch
import Glibc

/// The pages of stub code and data that every stub process maps, kept at
/// offset 0 of the memory file, and the host address they live at.
///
/// The address is reserved in the sentry itself (PROT_NONE) so that a stub
/// forked from the sentry can map over its inherited copy of the reservation
/// without colliding with anything else. Guest mappings must stay below it.
public struct StubRegion: Sendable {
    public let base: GuestAddress
    public var end: GuestAddress { base + UInt64(SW_STUB_PAGES) * GuestAddress.pageSize }
    /// Address of the `syscall; int3` gadget used to inject syscalls.
    public let syscallGadget: GuestAddress
    /// Address of the clone gadget: a sibling stub sharing the address space.
    public let cloneGadget: GuestAddress
    public static let fileBytes = UInt64(SW_STUB_PAGES) * GuestAddress.pageSize

    /// Syscalls the stub may execute itself, once its filter is on.
    static let allowedSyscalls: [Int32] = [9 /* mmap */, 10 /* mprotect */, 11 /* munmap */, 34 /* pause */]
    /// The only clone the filter lets through: a sibling sharing the mm, no
    /// exit signal (the stub ignores SIGCHLD, so siblings are reaped by the kernel).
    static let siblingCloneFlags: UInt64 = 0x100 /* CLONE_VM */

    /// Reserves the region in the sentry and writes the stub code and its
    /// seccomp program into the memory file.
    public static func install(in memory: MemoryFile) throws(PlatformError) -> StubRegion {
        // Far below the host stack and above where the sentry's heap grows;
        // step down if a candidate is taken.
        var candidate: UInt64 = 0x7e00_0000_0000
        var base: UInt64 = 0
        for _ in 0..<64 {
            let p = mmap(UnsafeMutableRawPointer(bitPattern: UInt(candidate)), Int(fileBytes), PROT_NONE,
                         MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | 0x100000 /* MAP_FIXED_NOREPLACE */, -1, 0)
            if p != MAP_FAILED, UInt64(UInt(bitPattern: p)) == candidate { base = candidate; break }
            if p != MAP_FAILED { munmap(p, Int(fileBytes)) }
            candidate -= 0x10_0000_0000
        }
        if base == 0 { throw .unavailable("no free host address range for the stub") }

        var codeLen = 0, gadget = 0, cloneGadget = 0
        guard let code = sw_stub_code(&codeLen, &gadget, &cloneGadget), codeLen <= 4096 else {
            throw .unavailable("stub code missing or larger than a page")
        }
        memory.write(at: 0, UnsafeRawBufferPointer(start: code, count: codeLen))
        var filter = [UInt8](repeating: 0, count: 4096)
        let n = allowedSyscalls.withUnsafeBufferPointer { allowed in
            filter.withUnsafeMutableBytes { out in
                sw_build_stub_filter(allowed.baseAddress, Int32(allowed.count), siblingCloneFlags,
                                     out.baseAddress, out.count, base + UInt64(SW_STUB_DATA_OFFSET))
            }
        }
        if n < 0 { throw .host("building the stub seccomp filter", Errno(Int32(-n))) }
        filter.withUnsafeBytes { memory.write(at: UInt64(SW_STUB_DATA_OFFSET), UnsafeRawBufferPointer(rebasing: $0[0..<Int(n)])) }
        return StubRegion(base: GuestAddress(base), syscallGadget: GuestAddress(base + UInt64(gadget)),
                          cloneGadget: GuestAddress(base + UInt64(cloneGadget)))
    }
}
